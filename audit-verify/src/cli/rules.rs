//! `audit-verify rules`.

use std::path::Path;

use anyhow::Context as _;
use audit_verify::{
    finding::Severity,
    rules::augenrules::RulesInput,
    snapshot::{Inputs, Snapshot},
};

use super::{Outcome, output::outln};

pub fn run(rules_dir: &Path, rules_file: Option<&Path>, json: bool) -> anyhow::Result<Outcome> {
    let rules = match rules_file {
        Some(file) => RulesInput::File(file.to_owned()),
        None => RulesInput::Dir(rules_dir.to_owned()),
    };
    let snapshot = Snapshot::gather(Inputs { rules, ..Inputs::default() }).context("reading the loaded rules")?;
    let report = snapshot.rules_diff()?;
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
