//! Profiles: what a standard requires audit to record, as data (`audit-verify/profiles/*.toml`, embedded
//! in the binary). Each cites its source document and version; each requirement carries the source's
//! own ID, a title, and either the events it needs as *probe rules* in audit rule syntax (read by the
//! project's rules parser) with the actors who must be seen doing them, or the reason no harmless action
//! can show it.
//!
//! A probe rule is never loaded: it says which event to cause (the planner picks a harmless action that
//! satisfies it), and any record of that action, whatever rule or key produced it, covers it.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use toml::Spanned;

use crate::{
    finding::Severity,
    rules::{
        Action as RuleAction, FilterList, Rule,
        parse::{Command, parse_line},
    },
};

/// The profiles shipped with audit-verify: (name, the file it was read from, its text).
pub const BUILTIN: [(&str, &str, &str); 5] = [
    ("stig", "audit-verify/profiles/stig.toml", include_str!("../../profiles/stig.toml")),
    ("cis", "audit-verify/profiles/cis.toml", include_str!("../../profiles/cis.toml")),
    ("pci-dss", "audit-verify/profiles/pci-dss.toml", include_str!("../../profiles/pci-dss.toml")),
    ("ospp", "audit-verify/profiles/ospp.toml", include_str!("../../profiles/ospp.toml")),
    ("attack", "audit-verify/profiles/attack.toml", include_str!("../../profiles/attack.toml")),
];

/// A profile that cannot be used, at its file and line.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct ProfileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Who must be seen doing the action: the loginuid (and, where the action allows, the uid) the child has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// Logged in as root: loginuid 0, root's credentials.
    Root,
    /// A user who logged in: loginuid 1000 (the first `UID_MIN` account); uid 1000 where the action needs
    /// no privilege, euid 0 where it does (the user after sudo).
    User,
    /// A process with no loginuid: daemons, cron jobs, containers started by a daemon.
    Service,
}

impl Actor {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Actor::Root => "root",
            Actor::User => "user",
            Actor::Service => "service",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The document's title.
    pub document: String,
    pub version: String,
    pub url: String,
    /// What the probes were taken from, where the document itself gives no rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// The severity a gap of one kind gets; `medium` unless the profile says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Info,
    Medium,
    High,
}

impl From<Level> for Severity {
    fn from(l: Level) -> Self {
        match l {
            Level::Info => Severity::Info,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    title: String,
    source: Source,
    partial_severity: Option<Level>,
    blind_severity: Option<Level>,
    #[serde(rename = "requirement")]
    requirements: Vec<RequirementFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementFile {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    probes: Vec<Spanned<String>>,
    actors: Option<Vec<Actor>>,
    unprovable: Option<String>,
}

/// One requirement, checked: its probes parsed, its actors known.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The ID its source uses (STIG V-, CIS number, PCI DSS 10.2.x, OSPP `FAU_GEN`, ATT&CK T-ID).
    pub id: String,
    pub title: String,
    /// The probe rules, as written and parsed.
    pub probes: Vec<(String, Rule)>,
    /// Who must be seen doing it; the first is the one the ABI and `io_uring` twins run as.
    pub actors: Vec<Actor>,
    /// Why no harmless action shows it (then there are no probes).
    pub unprovable: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub title: String,
    pub source: Source,
    /// The file it was read from.
    pub file: String,
    pub partial_severity: Severity,
    pub blind_severity: Severity,
    pub requirements: Vec<Requirement>,
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// Reads and checks a profile: every requirement has probe rules that parse as always-exit rules (or a
/// stated reason instead, never both), IDs are unique, and at least one actor is named.
///
/// # Errors
///
/// A [`ProfileError`] at the line of the first problem.
pub fn parse(file: &str, text: &str) -> Result<Profile, ProfileError> {
    let error = |line: usize, message: String| ProfileError { file: file.to_owned(), line, message };
    let raw: ProfileFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        error(line, e.message().trim().to_owned())
    })?;
    let mut requirements: Vec<Requirement> = Vec::new();
    for r in raw.requirements {
        let line = line_of(text, r.id.span().start);
        let id = r.id.into_inner();
        if requirements.iter().any(|seen| seen.id == id) {
            return Err(error(line, format!("requirement {id} is listed twice")));
        }
        match (&r.unprovable, r.probes.is_empty()) {
            (None, true) => {
                return Err(error(line, format!("requirement {id} has neither probes nor an `unprovable` reason")));
            }
            (Some(_), false) => {
                return Err(error(
                    line,
                    format!("requirement {id} has probes and an `unprovable` reason: one or the other"),
                ));
            }
            (Some(why), true) if why.trim().len() < 20 => {
                return Err(error(line, format!("requirement {id}: the `unprovable` reason must say why")));
            }
            _ => {}
        }
        let mut probes = Vec::new();
        for probe in r.probes {
            let at = line_of(text, probe.span().start);
            let text = probe.into_inner();
            let rule = match parse_line(&text) {
                Ok(Command::Add { rule, .. }) => rule,
                Ok(_) => return Err(error(at, format!("probe `{text}` is not a rule (-a, -w)"))),
                Err(why) => return Err(error(at, format!("probe `{text}`: {why}"))),
            };
            if rule.list != FilterList::Exit || rule.action != RuleAction::Always {
                return Err(error(at, format!("probe `{text}` must be an always,exit rule or a watch")));
            }
            probes.push((text, rule));
        }
        let actors = r.actors.unwrap_or_else(|| vec![Actor::User]);
        if actors.is_empty() {
            return Err(error(line, format!("requirement {id}: `actors` is empty")));
        }
        requirements.push(Requirement { id, title: r.title, probes, actors, unprovable: r.unprovable });
    }
    if requirements.is_empty() {
        return Err(error(1, "the profile has no [[requirement]]".into()));
    }
    Ok(Profile {
        name: raw.name,
        title: raw.title,
        source: raw.source,
        file: file.to_owned(),
        partial_severity: raw.partial_severity.map_or(Severity::Medium, Severity::from),
        blind_severity: raw.blind_severity.map_or(Severity::Medium, Severity::from),
        requirements,
    })
}

/// A shipped profile by name.
///
/// # Errors
///
/// When the name is not one of [`BUILTIN`], or (a build that would fail its unit tests) it does not parse.
pub fn builtin(name: &str) -> Result<Profile, ProfileError> {
    let (_, file, text) = BUILTIN.iter().find(|(n, _, _)| *n == name).ok_or_else(|| ProfileError {
        file: "(built in)".into(),
        line: 0,
        message: format!(
            "no profile named {name:?}; there are {}",
            BUILTIN.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
        ),
    })?;
    parse(file, text)
}

/// A profile of these `[[requirement]]`s under a minimal header, for the unit tests.
#[cfg(test)]
pub(crate) fn for_test(requirements: &str) -> Profile {
    let head = "name = \"t\"\ntitle = \"t\"\n[source]\ndocument = \"d\"\nversion = \"1\"\nurl = \"https://x\"\n";
    parse("t.toml", &format!("{head}{requirements}")).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped profile parses, cites its source, and every requirement has probes with actors or a
    /// stated reason: none is left without an action or an explanation.
    #[test]
    fn every_requirement_of_every_profile_has_an_action_or_a_reason() {
        for (name, file, text) in BUILTIN {
            let profile = parse(file, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(profile.name, name, "{file}");
            assert!(!profile.source.document.is_empty() && !profile.source.version.is_empty(), "{file}");
            assert!(profile.source.url.starts_with("https://"), "{file}: {}", profile.source.url);
            assert!(profile.requirements.len() >= 8, "{file}: only {} requirements", profile.requirements.len());
            for r in &profile.requirements {
                assert!(!r.id.is_empty() && !r.title.is_empty(), "{file}: {r:?}");
                match &r.unprovable {
                    Some(why) => assert!(r.probes.is_empty() && why.len() >= 20, "{file}: {}", r.id),
                    None => assert!(!r.probes.is_empty() && !r.actors.is_empty(), "{file}: {}", r.id),
                }
            }
        }
    }

    /// IDs look like the source's own: `V-`/`SRG-OS-` for STIG, dotted numbers for CIS and PCI DSS,
    /// `FAU_`/`FMT_`/`FIA_`/`FPT_` for OSPP, `T` numbers for ATT&CK.
    #[test]
    fn requirement_ids_are_the_sources_own() {
        let shape = |name: &str, id: &str| match name {
            // GEN: the STIG's own group IDs, cited where the requirement names no V- rule.
            "stig" => id.starts_with("V-") || id.starts_with("SRG-OS-") || id.starts_with("GEN"),
            "cis" => id.split('.').all(|p| p.parse::<u32>().is_ok()),
            "pci-dss" => id.starts_with("10."),
            "ospp" => ["FAU_", "FMT_", "FIA_", "FPT_"].iter().any(|p| id.starts_with(p)),
            "attack" => id.starts_with('T') && id[1..5].parse::<u32>().is_ok(),
            _ => false,
        };
        for (name, file, text) in BUILTIN {
            for r in parse(file, text).unwrap().requirements {
                assert!(shape(name, &r.id), "{file}: {} is not a {name} ID", r.id);
            }
        }
    }

    #[test]
    fn a_bad_profile_is_an_error_at_its_line() {
        let head = "name = \"x\"\ntitle = \"t\"\n[source]\ndocument = \"d\"\nversion = \"1\"\nurl = \"https://x\"\n";
        let cases = [
            ("[[requirement]]\nid = \"A\"\ntitle = \"t\"\n", 8, "neither probes nor"),
            (
                "[[requirement]]\nid = \"A\"\ntitle = \"t\"\nprobes = [\n  \"-w /etc/passwd -p wa\",\n  \"-a always,exit -S nosuchcall\",\n]\n",
                12,
                "nosuchcall",
            ),
            ("[[requirement]]\nid = \"A\"\ntitle = \"t\"\nprobes = [\"-a never,exit -S openat\"]\n", 10, "always,exit"),
            ("[[requirement]]\nid = \"A\"\ntitle = \"t\"\nactors = [\"robot\"]\n", 10, "robot"),
            ("[[requirement]]\nid = \"A\"\ntitle = \"t\"\ncolour = 1\n", 10, "colour"),
            (
                "[[requirement]]\nid = \"A\"\ntitle = \"t\"\nunprovable = \"pam writes it, not the kernel\"\n[[requirement]]\nid = \"A\"\ntitle = \"u\"\nunprovable = \"pam writes it, not the kernel\"\n",
                12,
                "twice",
            ),
        ];
        for (body, line, says) in cases {
            let e = parse("p.toml", &format!("{head}{body}")).unwrap_err();
            assert_eq!((e.file.as_str(), e.line), ("p.toml", line), "{e}");
            assert!(e.to_string().contains(says), "{e}");
        }
        assert!(builtin("nist").unwrap_err().to_string().contains("stig, cis"));
    }

    /// Gaps are medium unless the profile says otherwise: ATT&CK counts a blind path as high (an evasion).
    #[test]
    fn gap_severities_default_to_medium() {
        let stig = builtin("stig").unwrap();
        assert_eq!((stig.partial_severity, stig.blind_severity), (Severity::Medium, Severity::Medium));
        let attack = builtin("attack").unwrap();
        assert_eq!((attack.partial_severity, attack.blind_severity), (Severity::Medium, Severity::High));
    }
}
