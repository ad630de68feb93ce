//! Prometheus text exposition (what `node_exporter`'s textfile collector reads): every metric we publish
//! is a gauge named `audit_verify_*`, written here so that escaping and number formatting live in one
//! place. Write the result with [`crate::textfile::write`].

use std::fmt::Write as _;

/// Gauges in exposition format, each family with its `# HELP` and `# TYPE`.
#[derive(Debug, Default)]
pub struct Gauges {
    text: String,
}

impl Gauges {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A gauge without labels.
    pub fn one(&mut self, name: &str, help: &str, value: f64) {
        self.header(name, help);
        let _ = writeln!(self.text, "audit_verify_{name} {}", number(value));
    }

    /// A family split by one label. Its series must not overlap: a catch-all series (`reason="all"`)
    /// beside the parts would make every `sum()` count twice, so totals get their own gauge.
    pub fn by_label<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        series: impl IntoIterator<Item = (&'a str, f64)>,
    ) {
        self.header(name, help);
        for (value_of_label, value) in series {
            let _ =
                writeln!(self.text, "audit_verify_{name}{{{label}=\"{}\"}} {}", escape(value_of_label), number(value));
        }
    }

    #[must_use]
    pub fn finish(self) -> String {
        self.text
    }

    fn header(&mut self, name: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP audit_verify_{name} {help}\n# TYPE audit_verify_{name} gauge");
    }
}

/// Label values: backslash, double quote and newline are the three characters the format escapes.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Rust prints infinities as `inf`; the format spells them `+Inf` and `-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_numbers_are_escaped_as_the_format_says() {
        let mut g = Gauges::new();
        g.one("retention_days", "Days.", f64::INFINITY);
        g.by_label("key_events_per_second", "By key.", "key", [("a\"b\\c\nd", 0.5)]);
        assert_eq!(
            g.finish(),
            "# HELP audit_verify_retention_days Days.\n# TYPE audit_verify_retention_days gauge\n\
             audit_verify_retention_days +Inf\n\
             # HELP audit_verify_key_events_per_second By key.\n# TYPE audit_verify_key_events_per_second gauge\n\
             audit_verify_key_events_per_second{key=\"a\\\"b\\\\c\\nd\"} 0.5\n"
        );
    }
}
