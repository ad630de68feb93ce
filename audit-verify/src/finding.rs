//! What every check reports: a stable id, a severity, where it shows, and what it means.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Medium,
    High,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Stable, `snake_case`: what CI pipelines match on.
    pub id: &'static str,
    pub severity: Severity,
    /// `file:line`, or the live value that shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The rule concerned, as `auditctl -l` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub message: String,
    /// For `lint`: which of the ten footguns (1-10) this finding is an instance of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footgun: Option<u8>,
    /// Why it matters, in one sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// What to change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(id: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Self { id, severity, location: None, rule: None, message: message.into(), footgun: None, why: None, fix: None }
    }

    #[must_use]
    #[expect(clippy::needless_pass_by_value, reason = "callers pass temporaries (a `display()`, a line number)")]
    pub fn at(mut self, location: impl ToString) -> Self {
        self.location = Some(location.to_string());
        self
    }

    #[must_use]
    #[expect(clippy::needless_pass_by_value, reason = "callers pass temporaries (a `display()`, a line number)")]
    pub fn rule(mut self, rule: impl ToString) -> Self {
        self.rule = Some(rule.to_string());
        self
    }

    #[must_use]
    pub fn footgun(mut self, number: u8) -> Self {
        self.footgun = Some(number);
        self
    }

    #[must_use]
    pub fn why(mut self, why: impl Into<String>) -> Self {
        self.why = Some(why.into());
        self
    }

    #[must_use]
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}
