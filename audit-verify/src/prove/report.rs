//! The report three ways: a table for people, JSON (serde, in the CLI), and JUnit XML for CI, one
//! testcase per rule: proven passes, unprovable is skipped with its reason, every other state fails.

use std::fmt::Write as _;

use super::{ProveReport, RuleProof, State};

const STATES: [State; 6] =
    [State::Proven, State::Failed, State::NotWritten, State::NotLoaded, State::Shadowed, State::Unprovable];

/// `STATE  SOURCE  KEY`, then the rule, then the evidence or the reason, indented.
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
    let counts: Vec<String> = STATES
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
    if let Some(changed) = &r.changed {
        text.push_str(&format!(" [changed: {changed}]"));
    }
    text
}

/// JUnit XML: `<testsuite>` with one `<testcase>` per rule.
pub fn junit(report: &ProveReport) -> String {
    let failures = report.rules.iter().filter(|r| r.state.is_gap()).count();
    let skipped = report.count(State::Unprovable);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"audit-verify prove\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        report.rules.len(),
        report.elapsed_ms as f64 / 1000.0
    );
    for r in &report.rules {
        let name = format!("{} {}", r.source.as_deref().unwrap_or("(no rules file)"), r.rule);
        let class = r.key.as_deref().map_or("audit-rules".to_owned(), |k| k.replace('\u{1}', ","));
        let _ = write!(out, "  <testcase classname=\"{}\" name=\"{}\"", escape(&class), escape(&name));
        let body = detail(r);
        match r.state {
            State::Proven => {
                let _ = writeln!(out, ">\n    <system-out>{}</system-out>\n  </testcase>", escape(&body));
            }
            State::Unprovable => {
                let _ = writeln!(out, ">\n    <skipped message=\"{}\"/>\n  </testcase>", escape(&body));
            }
            state => {
                let _ = writeln!(
                    out,
                    ">\n    <failure type=\"{}\" message=\"{}\">{}</failure>\n  </testcase>",
                    state.name(),
                    escape(&body),
                    escape(r.action.as_deref().unwrap_or(""))
                );
            }
        }
    }
    out.push_str("</testsuite>\n");
    out
}

/// XML text and attribute escaping; control characters XML 1.0 cannot hold (a key separator \x01)
/// become `U+FFFD`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
        assert_eq!(escape("k1\u{1}k2"), "k1\u{fffd}k2");
    }
}
