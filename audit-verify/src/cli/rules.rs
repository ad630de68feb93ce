//! `audit-verify rules`.

use std::path::Path;

use anyhow::Context as _;
use audit_verify::{
    finding::Severity,
    netlink::AuditSocket,
    rules::{self, augenrules, diff},
};

use super::{Outcome, output::outln};

pub fn run(rules_dir: &Path, rules_file: Option<&Path>, json: bool) -> anyhow::Result<Outcome> {
    let source = match rules_file {
        Some(file) => augenrules::from_file(file)?,
        None => augenrules::from_dir(rules_dir)?,
    };
    let mut socket = AuditSocket::open()?;
    let (loaded, mut undecodable) = rules::loaded(&mut socket).context("reading the loaded rules")?;
    let mut report = diff::compare(&source, &loaded);
    report.findings.append(&mut undecodable);
    report.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("sources: {}", report.sources.join(", "));
        outln!("rules in the files: {}, loaded: {}, in both: {}", report.expected, report.loaded, report.matched);
        for f in &report.findings {
            let at = f.location.as_deref().unwrap_or("-");
            outln!("[{:?}] {} {at}: {}", f.severity, f.id, f.message);
            if let Some(rule) = &f.rule {
                outln!("        {rule}");
            }
        }
        if report.findings.is_empty() {
            outln!("no findings: the kernel holds exactly what the files say");
        }
    }
    let high = report.findings.iter().any(|f| f.severity >= Severity::High);
    Ok(if high { Outcome::Findings } else { Outcome::Clean })
}
