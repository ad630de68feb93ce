//! Footgun 4 (rules not immutable) and 7 (rules never tested), both read through [`rules::diff`](crate::rules::diff): the
//! same simulation of `auditctl -R` as `audit-verify rules`, compared with the kernel when live.
//!
//! Footgun 7's third part, rules that `prove` could not prove, takes [`Facts::prove`]: `prove` is not
//! built yet, so until `check` feeds its results there, lint reports the check as skipped.

use super::{Facts, Sink, Skipped, auditd};
use crate::{
    finding::{Finding, Severity},
    rules::diff::{self, RulesReport},
};

/// Findings of `rules::diff` that need the kernel's side (offline they would call every rule unloaded).
const NEEDS_KERNEL: &[&str] = &["not_loaded", "loaded_not_in_files", "order_changed"];

fn report(facts: &Facts) -> Option<RulesReport> {
    let source = facts.rules.as_ref()?;
    let loaded: &[_] = facts.loaded.as_ref().map_or(&[], |(rules, _)| rules.as_slice());
    let mut report = diff::compare(source, loaded);
    if facts.loaded.is_none() {
        report.findings.retain(|f| !NEEDS_KERNEL.contains(&f.id));
    }
    Some(report)
}

pub fn check_immutable(facts: &Facts, sink: &mut Sink) {
    const N: u8 = 4;
    let why = "mutable rules can be deleted by anyone with CAP_AUDIT_CONTROL (`auditctl -D`) before they act, and \
               the deletion is the last thing recorded";
    match &facts.kernel {
        Some(k) if k.enabled != 2 => sink.add(
            N,
            Finding::new(
                "kernel_rules_mutable",
                Severity::Medium,
                format!("kernel audit enabled {} (not 2)", k.enabled),
            )
            .at(format!("live: enabled {}", k.enabled))
            .why(why)
            .fix("end the rules with -e 2 (rules.d/99-finalize.rules) and reboot or reload with augenrules --load"),
        ),
        Some(_) => {}
        None => sink.skip(Skipped::offline(N, "kernel enabled 2")),
    }
    let Some(report) = report(facts) else {
        // A tree with neither rules nor auditd.conf holds no audit configuration to judge.
        if auditd::absent(facts, sink, N, "rules files with -e 2") {
            return;
        }
        sink.add(
            N,
            Finding::new("no_rules_files", Severity::Medium, "no rules files (rules.d/*.rules or audit.rules)")
                .at(facts.rules_path().display())
                .why("without rules files nothing is loaded at boot, and there is no -e 2")
                .fix("write the rules in /etc/audit/rules.d and load them with augenrules --load"),
        );
        return;
    };
    for f in report.findings.into_iter().filter(|f| matches!(f.id, "immutable_missing" | "immutable_not_last")) {
        let fix = if f.id == "immutable_missing" {
            "add -e 2 as the last line (rules.d/99-finalize.rules)"
        } else {
            "move -e 2 to the end: with augenrules, keep it in the last file only"
        };
        let at = f.location.clone().unwrap_or_else(|| facts.rules_path().display().to_string());
        sink.add(N, f.at(at).why(why).fix(fix));
    }
}

pub fn check_tested(facts: &Facts, sink: &mut Sink) {
    const N: u8 = 7;
    if let Some(report) = report(facts) {
        for f in report.findings.into_iter().filter(|f| !matches!(f.id, "immutable_missing" | "immutable_not_last")) {
            let (why, fix) = match f.id {
                "errors_hidden" => (
                    "with -i/-c a rule the kernel refuses is skipped and the load still succeeds: nobody notices",
                    "drop -i/-c and fix what fails; run `audit-verify rules` after each change",
                ),
                "not_loaded" | "loaded_not_in_files" | "order_changed" => (
                    "the kernel enforces what is loaded, not what the files say",
                    "reload with augenrules --load and check `audit-verify rules` reports nothing",
                ),
                _ => (
                    "a mistake in the files means a rule that is not what it looks like, or a load that stops early",
                    "fix the line; run `audit-verify rules` after each change",
                ),
            };
            sink.add(N, f.why(why).fix(fix));
        }
    }
    if let Some((_, undecodable)) = &facts.loaded {
        for f in undecodable {
            sink.add(N, f.clone());
        }
    }
    if facts.loaded.is_none() {
        sink.skip(Skipped::offline(N, "loaded rules against the files"));
    }
    match &facts.prove {
        None => sink.skip(Skipped::new(
            N,
            "rules proven by a real event",
            "not run: `audit-verify check` proves the loaded rules and feeds the results here",
        )),
        Some(results) => {
            for r in results.iter().filter(|r| !r.proven) {
                let mut f = Finding::new("rule_unproven", Severity::High, format!("prove saw no record: {}", r.detail))
                    .rule(&r.rule)
                    .why("a rule that never produced its record in a test may never produce it at all")
                    .fix("fix the rule (syscall, arch, filters, key) until prove sees its record");
                if let Some(at) = &r.location {
                    f = f.at(at);
                }
                sink.add(N, f);
            }
        }
    }
}
