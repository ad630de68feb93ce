//! The report three ways: a table for people, JSON (serde, in the CLI), and JUnit XML for CI, one
//! testcase per rule: proven passes, unprovable is skipped with its reason, every other state fails.

use std::fmt::Write as _;

use super::{ProveReport, RuleProof, State};
use crate::junit;

/// `STATE  SOURCE  KEY`, then the rule, then the evidence or the reason, indented.
#[must_use]
pub fn table(report: &ProveReport) -> String {
    let mut out = String::new();
    let width = report.rules.iter().map(|r| r.source.as_deref().unwrap_or("-").len()).max().unwrap_or(1);
    for r in &report.rules {
        let source = r.source.as_deref().unwrap_or("(loaded, in no rules file)");
        let key = r.key.as_deref().map_or("-".to_owned(), |k| k.replace('\u{1}', ","));
        let _ = writeln!(out, "{:<11} {source:<width$}  key={key}", r.state.name());
        let _ = writeln!(out, "            {}", r.rule);
        let _ = writeln!(out, "            {}", detail(r));
    }
    let counts: Vec<String> = State::ALL
        .iter()
        .map(|s| (s, report.count(*s)))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect();
    let _ = writeln!(
        out,
        "\n{} rules loaded; {} ({} ms, sources: {})",
        report.loaded,
        counts.join(", "),
        report.elapsed_ms,
        report.sources.join(", ")
    );
    // A run that proved nothing looks clean by its exit status: say so where it is read.
    if report.count(State::Proven) == 0 && report.loaded > 0 {
        let _ = writeln!(
            out,
            "nothing was proven: no loaded rule has a record to show for it (--require-proven makes this exit 1)"
        );
    }
    out
}

/// Evidence for proven rules, the reason otherwise.
fn detail(r: &RuleProof) -> String {
    let mut text = match (&r.evidence, r.state) {
        (Some(e), State::Proven) => format!(
            "record serial {} ({}) at {}:{} offset {}",
            e.serial,
            e.event,
            e.file.as_deref().unwrap_or("?"),
            e.line.unwrap_or(0),
            e.offset.unwrap_or(0)
        ),
        _ => r.reason.clone().unwrap_or_default(),
    };
    if let Some(note) = &r.note {
        let _ = write!(text, "; {note}");
    }
    if let Some(changed) = &r.changed {
        let _ = write!(text, " [changed: {changed}]");
    }
    text
}

/// JUnit XML: `<testsuite>` with one `<testcase>` per rule.
#[must_use]
pub fn junit(report: &ProveReport) -> String {
    junit::document("audit-verify prove", &[suite(report)])
}

/// A testcase per rule: proven passes, unprovable is skipped, every gap fails.
#[must_use]
#[expect(clippy::cast_precision_loss, reason = "milliseconds are exact in an f64 below 2^53 (285,000 years)")]
pub fn suite(report: &ProveReport) -> junit::TestSuite {
    let cases = report
        .rules
        .iter()
        .map(|r| {
            let body = detail(r);
            let outcome = match r.state {
                State::Proven => junit::Outcome::Passed { output: Some(body) },
                State::Unprovable | State::NotRun => junit::Outcome::Skipped { message: body },
                state => junit::Outcome::Failed {
                    kind: state.name().into(),
                    message: body,
                    body: r.action.clone().unwrap_or_default(),
                },
            };
            junit::TestCase {
                classname: r.key.as_deref().map_or("audit-rules".to_owned(), |k| k.replace('\u{1}', ",")),
                name: format!("{} {}", r.source.as_deref().unwrap_or("(no rules file)"), r.rule),
                outcome,
            }
        })
        .collect();
    junit::TestSuite { name: "audit-verify prove".into(), seconds: report.elapsed_ms as f64 / 1000.0, cases }
}
