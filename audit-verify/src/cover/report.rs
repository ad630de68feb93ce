//! The report three ways: a table for people, JSON (serde, in the CLI), and JUnit XML for CI, one
//! testcase per requirement: covered passes, unprovable is skipped with its reason, every other verdict
//! fails. And the finding each requirement that is not covered gives.

use std::fmt::Write as _;

use super::{CoverReport, Outcome, RequirementResult, Verdict, profile::Profile};
use crate::{
    finding::{Finding, Severity},
    junit,
};

/// The finding for a requirement: `not_covered` high, `partial` and `blind` at the profile's severity
/// (medium by default), `unprovable` info; none when covered.
#[must_use]
pub fn finding(profile: &Profile, r: &RequirementResult) -> Option<Finding> {
    let (id, severity) = match r.verdict {
        Verdict::Covered => return None,
        Verdict::NotCovered => ("requirement_not_covered", Severity::High),
        Verdict::Partial => ("requirement_partial", profile.partial_severity),
        Verdict::Blind => ("requirement_blind", profile.blind_severity),
        Verdict::Unprovable => ("requirement_unprovable", Severity::Info),
    };
    let message = format!("{} {}: {}: {}", r.id, r.title, r.verdict.name(), r.reason.as_deref().unwrap_or(""));
    let why = match r.verdict {
        Verdict::NotCovered => "the standard requires this event recorded, and doing it left no record on this host",
        Verdict::Partial => "some of the ways this event happens are recorded and others are not",
        Verdict::Blind => "the event is recorded one way and not another an attacker can choose",
        _ => "no harmless action shows whether it is recorded: check it another way",
    };
    Some(Finding::new(id, severity, message).at(format!("{}:{}", profile.name, r.id)).why(why))
}

/// `VERDICT  ID  TITLE`, then the evidence or the reason, indented; a summary line last.
#[must_use]
pub fn table(report: &CoverReport) -> String {
    let mut out = String::new();
    let p = &report.profile;
    let _ = writeln!(out, "{} ({}, {})", p.title, p.source.document, p.source.version);
    let width = report.requirements.iter().map(|r| r.id.len()).max().unwrap_or(1);
    for r in &report.requirements {
        let _ = writeln!(out, "{:<11} {:<width$}  {}", r.verdict.name(), r.id, r.title);
        let _ = writeln!(out, "            {}", detail(r));
    }
    let c = &report.counts;
    let _ = writeln!(
        out,
        "\n{} requirements: {} covered, {} not covered, {} partial, {} blind, {} unprovable ({} rules loaded, {} ms)",
        report.requirements.len(),
        c.covered,
        c.not_covered,
        c.partial,
        c.blind,
        c.unprovable,
        report.loaded,
        report.elapsed_ms
    );
    for f in report.findings.iter().filter(|f| f.id == "no_audit_rules") {
        let _ = writeln!(out, "[high] {}", f.message);
    }
    out
}

/// The record for a covered requirement; the reason otherwise (with the record where there is one).
fn detail(r: &RequirementResult) -> String {
    let record = r.evidence.as_ref().map(|e| {
        format!(
            "record serial {} ({}) key={} at {}:{} offset {}",
            e.serial,
            e.event,
            e.key.as_deref().map_or("(none)".to_owned(), |k| k.replace('\u{1}', ",")),
            e.file.as_deref().unwrap_or("?"),
            e.line.unwrap_or(0),
            e.offset.unwrap_or(0)
        )
    });
    match (r.verdict, record, &r.reason) {
        (Verdict::Covered, Some(record), None) => record,
        (_, Some(record), Some(reason)) => format!("{reason} [{record}]"),
        (_, _, Some(reason)) => reason.clone(),
        (_, record, None) => record.unwrap_or_default(),
    }
}

/// JUnit XML: one `<testsuite>` with a `<testcase>` per requirement.
#[must_use]
pub fn junit(report: &CoverReport) -> String {
    junit::document("audit-verify cover", &[suite(report)])
}

#[must_use]
#[expect(clippy::cast_precision_loss, reason = "milliseconds are exact in an f64 below 2^53 (285,000 years)")]
pub fn suite(report: &CoverReport) -> junit::TestSuite {
    let cases = report
        .requirements
        .iter()
        .map(|r| {
            let body = detail(r);
            let outcome = match r.verdict {
                Verdict::Covered => junit::Outcome::Passed { output: Some(body) },
                Verdict::Unprovable => junit::Outcome::Skipped { message: body },
                v => junit::Outcome::Failed {
                    kind: v.name().into(),
                    message: body,
                    body: r
                        .probes
                        .iter()
                        .flat_map(|p| &p.attempts)
                        .filter(|a| a.outcome != Outcome::Recorded)
                        .map(|a| a.action.clone())
                        .collect::<Vec<_>>()
                        .join("\n"),
                },
            };
            junit::TestCase {
                classname: format!("audit-verify.cover.{}", report.profile.name),
                name: format!("{} {}", r.id, r.title),
                outcome,
            }
        })
        .collect();
    junit::TestSuite {
        name: format!("audit-verify cover: {}", report.profile.name),
        seconds: report.elapsed_ms as f64 / 1000.0,
        cases,
    }
}
