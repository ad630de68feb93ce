//! `JUnit` XML, as CI systems read it: `<testsuites>` of `<testsuite>`s of `<testcase>`s that pass, fail or
//! are skipped. Written by hand: the format is small and a writer crate would add more than it saves.

use std::fmt::Write as _;

pub enum Outcome {
    Passed { output: Option<String> },
    Skipped { message: String },
    Failed { kind: String, message: String, body: String },
}

pub struct TestCase {
    pub classname: String,
    pub name: String,
    pub outcome: Outcome,
}

pub struct TestSuite {
    pub name: String,
    pub seconds: f64,
    pub cases: Vec<TestCase>,
}

impl TestSuite {
    fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| pred(&c.outcome)).count()
    }

    fn write(&self, out: &mut String) {
        let failures = self.count(|o| matches!(o, Outcome::Failed { .. }));
        let skipped = self.count(|o| matches!(o, Outcome::Skipped { .. }));
        let _ = writeln!(
            out,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
            escape(&self.name),
            self.cases.len(),
            self.seconds
        );
        for case in &self.cases {
            let _ =
                write!(out, "  <testcase classname=\"{}\" name=\"{}\"", escape(&case.classname), escape(&case.name));
            match &case.outcome {
                Outcome::Passed { output: None } => out.push_str("/>\n"),
                Outcome::Passed { output: Some(text) } => {
                    let _ = writeln!(out, ">\n    <system-out>{}</system-out>\n  </testcase>", escape(text));
                }
                Outcome::Skipped { message } => {
                    let _ = writeln!(out, ">\n    <skipped message=\"{}\"/>\n  </testcase>", escape(message));
                }
                Outcome::Failed { kind, message, body } => {
                    let _ = writeln!(
                        out,
                        ">\n    <failure type=\"{}\" message=\"{}\">{}</failure>\n  </testcase>",
                        escape(kind),
                        escape(message),
                        escape(body)
                    );
                }
            }
        }
        out.push_str("</testsuite>\n");
    }
}

/// One suite as the document's root, several under `<testsuites>`.
#[must_use]
pub fn document(name: &str, suites: &[TestSuite]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if let [suite] = suites {
        suite.write(&mut out);
        return out;
    }
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(|s| s.count(|o| matches!(o, Outcome::Failed { .. }))).sum();
    let _ = writeln!(out, "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\">", escape(name));
    for suite in suites {
        suite.write(&mut out);
    }
    out.push_str("</testsuites>\n");
    out
}

/// XML text and attribute escaping; control characters XML 1.0 cannot hold (a key separator \x01)
/// become `U+FFFD`.
#[must_use]
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

    #[test]
    fn suites_count_their_outcomes() {
        let suite = |name: &str| TestSuite {
            name: name.into(),
            seconds: 0.5,
            cases: vec![
                TestCase { classname: "c".into(), name: "ok".into(), outcome: Outcome::Passed { output: None } },
                TestCase {
                    classname: "c".into(),
                    name: "skip".into(),
                    outcome: Outcome::Skipped { message: "why".into() },
                },
                TestCase {
                    classname: "c".into(),
                    name: "bad".into(),
                    outcome: Outcome::Failed { kind: "k".into(), message: "m".into(), body: "<b>".into() },
                },
            ],
        };
        let one = document("x", &[suite("a")]);
        assert!(one.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
        assert!(!one.contains("<testsuites"));
        let two = document("x", &[suite("a"), suite("b")]);
        assert!(two.contains("<testsuites name=\"x\" tests=\"6\" failures=\"2\">"));
        assert!(two.contains("&lt;b&gt;"));
    }
}
