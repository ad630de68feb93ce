//! `lint`: the ten ways an audit set-up looks fine and is not, checked against a live host or a
//! configuration tree (`--root`).
//!
//! Gathering ([`facts`]) is apart from judging: every check is a pure function of [`Facts`], so the unit
//! tests build facts from text and the integration tests from fixture trees. A check that needs the live
//! kernel or the process table says "skipped: offline" in [`LintReport::skipped`] instead of guessing.
//!
//! | footgun | module |
//! | --- | --- |
//! | 1 no off-host shipping | [`shipping`], [`syslog_forward`], [`audisp_remote`], [`prove_shipping`] |
//! | 2 rules flooding the log | [`flood`] |
//! | 3 disk full handling | [`disk`] |
//! | 4 rules not immutable, 7 rules never tested | [`rules_state`] |
//! | 5 API server without audit, 6 secrets in the Kubernetes audit log | [`k8s`] |
//! | 8 retention too short | [`retention`] |
//! | 9 no correlation across sources | [`correlation`] |
//! | 10 ignoring the backlog | [`backlog`], [`auditd`] (a file auditd refuses: no auditd at all) |

pub mod audisp_remote;
pub mod auditd;
pub mod backlog;
pub mod correlation;
pub mod disk;
pub mod facts;
pub mod flood;
pub mod k8s;
pub mod logstats;
pub mod procs;
pub mod prove_shipping;
pub mod retention;
pub mod rules_state;
pub mod shipping;
pub mod syslog_forward;

use std::{fmt, path::PathBuf, sync::Arc};

use serde::Serialize;
use thiserror::Error;

pub use facts::{Facts, Mode, ProveResult};

use crate::{
    auditd_conf::ConfError,
    finding::{Finding, Severity},
    netlink::NetlinkError,
    rules::augenrules::SourceError,
};

/// Why lint could not run at all (exit 2). Findings are not errors.
#[derive(Debug, Error)]
pub enum LintError {
    /// Shared: a live run takes it from the host's snapshot, which keeps it too.
    #[error(transparent)]
    Conf(Arc<ConfError>),
    #[error(transparent)]
    Rules(Arc<SourceError>),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error(transparent)]
    Kubernetes(#[from] k8s::K8sError),
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
}

impl From<ConfError> for LintError {
    fn from(e: ConfError) -> Self {
        Self::Conf(Arc::new(e))
    }
}

impl From<SourceError> for LintError {
    fn from(e: SourceError) -> Self {
        Self::Rules(Arc::new(e))
    }
}

/// Retention requirements, as the frameworks state them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    PciDss,
    Hipaa,
    Soc2,
    Fedramp,
}

impl Framework {
    /// (days immediately available, days retained in total, where the numbers come from).
    #[must_use]
    pub fn retention(self) -> (u32, u32, &'static str) {
        match self {
            // PCI DSS v4.0 req. 10.5.1.
            Framework::PciDss => (90, 365, "PCI DSS 10.5.1: 12 months, the last 3 immediately available"),
            // 45 CFR 164.316(b)(2): documentation kept 6 years; auditors apply it to audit trails. No online
            // part is stated, so all of it counts as "at hand" unless shipped.
            Framework::Hipaa => (2190, 2190, "HIPAA 164.316(b)(2): 6 years"),
            // SOC 2 states no number; 1 year is what auditors expect for a Type II period.
            Framework::Soc2 => (365, 365, "SOC 2 (common practice for a Type II period): 1 year"),
            // FedRAMP AU-11 (and OMB M-21-31): 90 days online, 1 year in total.
            Framework::Fedramp => (90, 365, "FedRAMP AU-11: 90 days online, 1 year archived"),
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Framework::PciDss => "pci-dss",
            Framework::Hipaa => "hipaa",
            Framework::Soc2 => "soc2",
            Framework::Fedramp => "fedramp",
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The footguns' names, by number, as the table above gives them.
pub const FOOTGUNS: [&str; 10] = [
    "no off-host shipping",
    "rules flooding the log",
    "disk full handling",
    "rules not immutable",
    "Kubernetes API server without audit",
    "secrets in the Kubernetes audit log",
    "rules never tested",
    "retention too short",
    "no correlation across sources",
    "ignoring the backlog",
];

#[must_use]
pub fn footgun_title(number: u8) -> &'static str {
    FOOTGUNS.get(usize::from(number).wrapping_sub(1)).copied().unwrap_or("unknown")
}

/// A check that did not run, and why. Visible in JSON so that "no finding" is never mistaken for "fine".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub footgun: u8,
    pub check: &'static str,
    pub reason: String,
}

impl Skipped {
    pub fn new(footgun: u8, check: &'static str, reason: impl Into<String>) -> Self {
        Self { footgun, check, reason: reason.into() }
    }

    #[must_use]
    pub fn offline(footgun: u8, check: &'static str) -> Self {
        Self::new(footgun, check, "skipped: offline (--root): needs the live kernel or process table")
    }
}

/// What `lint` found.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    /// `live` or the root linted.
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework: Option<Framework>,
    /// Most severe first, then by footgun.
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
}

impl LintReport {
    #[must_use]
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Collects findings and skips for one footgun; every finding gets the footgun's number.
#[derive(Debug, Default)]
pub struct Sink {
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
}

impl Sink {
    pub fn add(&mut self, footgun: u8, finding: Finding) {
        self.findings.push(finding.footgun(footgun));
    }

    pub fn skip(&mut self, skipped: Skipped) {
        self.skipped.push(skipped);
    }
}

/// Runs every check on gathered facts.
#[must_use]
pub fn check(facts: &Facts) -> LintReport {
    let mut sink = Sink::default();
    auditd::check(facts, &mut sink);
    let shipping = shipping::detect(facts);
    shipping::check(facts, &shipping, &mut sink);
    flood::check(facts, &mut sink);
    disk::check(facts, &mut sink);
    rules_state::check_immutable(facts, &mut sink);
    k8s::check(&facts.k8s, facts.is_live(), facts.framework, &mut sink);
    rules_state::check_tested(facts, &mut sink);
    retention::check(facts, &shipping, &mut sink);
    correlation::check(facts, &mut sink);
    backlog::check(facts, &shipping, &mut sink);
    let Sink { mut findings, skipped } = sink;
    findings.sort_by_key(|f| (std::cmp::Reverse(f.severity), f.footgun));
    LintReport { mode: facts.mode.to_string(), framework: facts.framework, findings, skipped }
}
