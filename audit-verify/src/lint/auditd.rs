//! auditd.conf as auditd itself reads it: whether auditd starts with it at all ([`startup`]), and what a
//! tree without it leaves unjudged.
//!
//! A refused file is reported under footgun 10: with no auditd reading the kernel's queue, the backlog
//! fills and every record after it is printed to the kernel log or lost.
//!
//! A missing auditd.conf means different things live and offline. On a host, auditd logs "Config file …
//! doesn't exist, skipping" and runs on its built-in defaults, which the other checks then judge. In a
//! tree (a Kubernetes control-plane snapshot, a rules-only tree) it only means the file is not part of
//! the tree: the checks that judge it say so under `skipped` instead of judging defaults nobody runs.

use super::{Facts, Sink, Skipped};
use crate::{
    auditd_conf::{
        self,
        startup::{self, Host},
    },
    finding::{Finding, Severity},
};

const N: u8 = 10;

pub fn check(facts: &Facts, sink: &mut Sink) {
    let conf = &facts.auditd_conf;
    let path = conf.path.display();
    let Some(text) = &conf.text else {
        if facts.is_live() {
            sink.add(
                N,
                Finding::new(
                    "auditd_conf_missing",
                    Severity::Info,
                    format!("{path} does not exist: auditd runs on its built-in defaults"),
                )
                .at(&path)
                .why("the built-in defaults are not the shipped file's: IGNORE on a full disk, no rotation, RAW")
                .fix("install the distribution's auditd.conf and set the actions explicitly"),
            );
        } else {
            absent(facts, sink, N, "auditd starts with auditd.conf");
        }
        return;
    };
    let host = if facts.is_live() { Host::Live } else { Host::Offline };
    let outcome = startup::check(text, host);
    let version = installed(facts);
    if let Some(refusal) = &outcome.refusal {
        let at = match refusal.line {
            Some(line) => format!("{path}:{line}"),
            None => path.to_string(),
        };
        sink.add(
            N,
            Finding::new(
                "auditd_refuses_config",
                Severity::High,
                format!("auditd will not start with this file: {}", refusal.message),
            )
            .fix(format!(
                "fix the line (auditd's own message above; judged as auditd 3.0.x parses, {version}); test with a \
                 restart of auditd before relying on it"
            ))
            .at(at)
            .why("auditd exits while reading its configuration: nothing is written, and once the kernel's backlog is full every record is lost"),
        );
    }
    for (line, warning) in &outcome.warnings {
        sink.add(
            N,
            Finding::new("auditd_conf_line_ignored", Severity::Info, format!("auditd: {warning}"))
                .at(format!("{path}:{line}"))
                .why("auditd goes on without this line: the setting it holds does not apply")
                .fix("keep lines under 159 characters, end the file with a newline, drop deprecated keywords"),
        );
    }
    if !outcome.unchecked.is_empty() {
        let what: Vec<String> = outcome.unchecked.iter().map(|(line, what)| format!("line {line}: {what}")).collect();
        sink.skip(Skipped::new(
            N,
            "auditd.conf values auditd checks on its host",
            format!("skipped: offline (--root), needs the host the file configures: {}", what.join("; ")),
        ));
    }
}

/// For a check of auditd.conf: when the tree has none, records the skip and returns true. Live, a
/// missing file is auditd running on defaults, so the check goes on.
pub fn absent(facts: &Facts, sink: &mut Sink, footgun: u8, check: &'static str) -> bool {
    if facts.auditd_conf.exists() || facts.is_live() {
        return false;
    }
    sink.skip(Skipped::new(
        footgun,
        check,
        format!(
            "absent from the tree: {} (nothing to judge; a host without it runs on auditd's defaults)",
            facts.auditd_conf.path.display()
        ),
    ));
    true
}

/// The installed auditd, as dpkg under the root records it, for citing which defaults and parser apply.
#[must_use]
pub fn installed(facts: &Facts) -> String {
    match auditd_conf::installed_version(&facts.resolve(auditd_conf::DPKG_STATUS)) {
        Some(v) => format!("installed: auditd {v}"),
        None => "installed version unknown (no dpkg record): audit 3.x assumed".into(),
    }
}

/// For a key the file leaves out: the value auditd uses and where it comes from.
#[must_use]
pub fn default_note(facts: &Facts, key: &str) -> Option<String> {
    if facts.auditd_conf.get(key).is_some() {
        return None;
    }
    Some(format!(
        "{key} not set: auditd's built-in {} (clear_config() in auditd-config.c, the same in 2.8 to 4.0; {})",
        auditd_conf::builtin_default(key).unwrap_or("?"),
        installed(facts)
    ))
}
