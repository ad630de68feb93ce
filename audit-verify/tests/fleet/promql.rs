//! The metric names a `PromQL` expression selects, for tests/fleet.rs's check of the rules and the
//! dashboard against the metric contract.

use std::collections::BTreeSet;

/// The metric names a `PromQL` expression selects: identifiers outside strings, label matchers, ranges and
/// the label lists of `by`/`on`/`without`/`ignoring`, that are not functions (followed by `(`),
/// aggregations or keywords.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "offset",
        "bool",
        // Aggregations, which `by (…)` may separate from their `(`.
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let (mut i, mut depth_braces, mut after_grouping) = (0, 0usize, false);
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
        } else if c == '{' {
            depth_braces += 1;
        } else if c == '}' {
            depth_braces = depth_braces.saturating_sub(1);
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        } else if c == '$' {
            // A Grafana variable: `$__rate_interval`, `$instance`.
            while i + 1 < chars.len() && (chars[i + 1].is_alphanumeric() || chars[i + 1] == '_') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i + 1 < chars.len()
                && (chars[i + 1].is_ascii_alphanumeric() || chars[i + 1] == '_' || chars[i + 1] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..=i].iter().collect();
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if KEYWORDS.contains(&word.as_str()) {
                after_grouping =
                    matches!(word.as_str(), "by" | "without" | "on" | "ignoring" | "group_left" | "group_right");
            } else if depth_braces == 0 && next != Some(&'(') {
                names.insert(word);
            }
        } else if c == '(' && after_grouping {
            // `by (a, b)`: label names, not metrics.
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
            after_grouping = false;
        } else if !c.is_whitespace() {
            after_grouping = false;
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_found_in_promql() {
    assert_eq!(
        metric_names(r#"sum by (reason) (rate(audit_verify_kernel_dropped_records_total{instance=~"a|b"}[5m])) > 0"#),
        BTreeSet::from(["audit_verify_kernel_dropped_records_total".to_owned()])
    );
    assert_eq!(
        metric_names(
            r#"time() - node_textfile_mtime_seconds{file=~".*audit-verify.prom"} > 10800 and on (instance) up == 0"#
        ),
        BTreeSet::from(["node_textfile_mtime_seconds".to_owned(), "up".to_owned()])
    );
}
