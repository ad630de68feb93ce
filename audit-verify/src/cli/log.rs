//! `audit-verify log [FILE…]`: what audit logs on disk hold, read as auparse reads them.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use audit_verify::{
    auditd_conf::DEFAULT_LOG_FILE,
    auditlog::{LogSummary, rotated_files},
    lint::logstats::human_bytes,
};

use super::{Outcome, output::outln};

/// Each FILE with its rotated predecessors (`FILE.N` … `FILE.1`, `FILE`), in the order given; auditd's
/// default log when none is given.
pub fn run(files: &[PathBuf], json: bool) -> anyhow::Result<Outcome> {
    let given = if files.is_empty() { vec![PathBuf::from(DEFAULT_LOG_FILE)] } else { files.to_vec() };
    let mut all = Vec::new();
    for file in &given {
        let set = rotated_files(file).with_context(|| format!("listing the rotation set of {}", file.display()))?;
        if set.is_empty() {
            bail!("{}: no such file", file.display());
        }
        all.extend(set);
    }
    let summary = LogSummary::read(all)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_human(&summary);
    }
    // A summary is not a verdict: lines that are not records are reported, not failed on.
    Ok(Outcome::Clean)
}

#[expect(
    clippy::cast_precision_loss,
    reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
)]
fn print_human(s: &LogSummary) {
    outln!("files: {}", s.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    outln!("{} in {} events, {} records", human_bytes(s.bytes as f64), s.events, s.records);
    match (s.first, s.last) {
        (Some(first), Some(last)) => outln!("time span: {first:.3} to {last:.3} ({:.0} s)", last - first),
        _ => outln!("time span: no records"),
    }
    outln!("record types:");
    let mut types: Vec<_> = s.types.iter().collect();
    types.sort_by_key(|(name, n)| (std::cmp::Reverse(**n), *name));
    for (name, n) in types {
        outln!("  {n:>10}  {name}");
    }
    if !s.keys.is_empty() {
        outln!("rule keys:{}", if s.span_secs().is_none() { " (less than a minute of history: no rates)" } else { "" });
        outln!("  {:>10}  {:>12}  {:>12}  {:>12}  key", "events", "bytes", "events/h", "bytes/h");
        let rate = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or_else(|| "-".to_owned(), f);
        for (key, k) in &s.keys {
            outln!(
                "  {:>10}  {:>12}  {:>12}  {:>12}  {key}",
                k.events,
                human_bytes(k.bytes as f64),
                rate(k.events_per_hour, &|v| format!("{v:.1}")),
                rate(k.bytes_per_hour, &human_bytes),
            );
        }
    }
    for (node, n) in &s.nodes {
        let name = if node.is_empty() { "(no node=)" } else { node };
        outln!("node {name}: {} events, {} serials never written", n.events, n.missing);
        for (a, b) in &n.gaps {
            if a == b {
                outln!("  missing serial {a}");
            } else {
                outln!("  missing serials {a}-{b}");
            }
        }
    }
    if s.warnings > 0 {
        outln!("{} lines not read as they are (first {} listed):", s.warnings, s.warning_list.len());
        for w in &s.warning_list {
            outln!("  {w}");
        }
    }
}
