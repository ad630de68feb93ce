//! `audit-verify check`: the one-pass verdict for post-deploy smoke tests and CI.

use std::{io::IsTerminal as _, path::PathBuf, time::Duration};

use anyhow::Context as _;
use audit_verify::{
    check::{self, CheckReport, Section},
    rules::augenrules::RulesInput,
    snapshot::Inputs,
};

use super::{
    Outcome,
    lint::{FailOn, FrameworkArg},
};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report (a case per rule proven, per footgun, per finding).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the measurement in node_exporter textfile format.
    #[arg(long, value_name = "FILE")]
    prometheus: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    fail_on: FailOn,
    /// Judge retention against this framework's requirement.
    #[arg(long, value_enum)]
    framework: Option<FrameworkArg>,
    #[arg(long, default_value = "/etc/audit/rules.d")]
    rules_dir: PathBuf,
    #[arg(long, default_value = audit_verify::auditd_conf::DEFAULT_PATH)]
    auditd_conf: PathBuf,
    /// Length of the measurement window in seconds; 0 skips it.
    #[arg(long, default_value_t = 5)]
    measure_seconds: u64,
    /// How long prove waits for auditd to write its records, in seconds.
    #[arg(long, default_value_t = 5)]
    prove_timeout: u64,
}

pub fn run(args: CheckArgs) -> anyhow::Result<Outcome> {
    let total = if args.measure_seconds == 0 { 4 } else { 5 };
    let mut progress = |section: Section| {
        let n = Section::ALL.iter().position(|s| *s == section).unwrap_or(0) + 1;
        let extra = if section == Section::Measure { format!(" ({} s)", args.measure_seconds) } else { String::new() };
        eprintln!("check: [{n}/{total}] {}{extra}", section.name());
    };
    let report = check::run(check::Options {
        inputs: Inputs {
            rules: RulesInput::Dir(args.rules_dir.clone()),
            auditd_conf: args.auditd_conf.clone(),
            log: None,
        },
        framework: args.framework.map(FrameworkArg::framework),
        measure: Duration::from_secs(args.measure_seconds),
        prove_timeout: Duration::from_secs(args.prove_timeout),
        fail_on: args.fail_on.severity(),
        progress: &mut progress,
    });
    if let Some(path) = &args.junit {
        std::fs::write(path, report.junit()).with_context(|| format!("writing {}", path.display()))?;
    }
    if let (Some(path), Some(measure)) = (&args.prometheus, &report.measure) {
        let text = format!("{}{}", measure.prometheus(), summary_metrics(&report));
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report, std::io::stdout().is_terminal());
    }
    Ok(match report.verdict {
        "pass" => Outcome::Clean,
        "fail" => Outcome::Findings,
        _ => Outcome::ToolFailed,
    })
}

fn summary_metrics(r: &CheckReport) -> String {
    let mut s = String::from("# HELP audit_verify_findings Findings of the last check, by severity.\n");
    s.push_str("# TYPE audit_verify_findings gauge\n");
    for (severity, n) in [("high", r.summary.high), ("medium", r.summary.medium), ("info", r.summary.info)] {
        s.push_str(&format!("audit_verify_findings{{severity=\"{severity}\"}} {n}\n"));
    }
    s.push_str("# HELP audit_verify_check_pass 1 when the last check passed.\n# TYPE audit_verify_check_pass gauge\n");
    s.push_str(&format!("audit_verify_check_pass {}\n", u8::from(r.verdict == "pass")));
    s
}

fn print_human(r: &CheckReport, _tty: bool) {
    println!("audit-verify check on {}: {} ({:.1} s)", r.host, r.verdict.to_uppercase(), r.seconds);
    if let Some(s) = &r.status {
        println!(
            "  status   audit {}, auditd pid {}{}, lost {}, backlog limit {}, backend {}",
            s.enabled_state,
            s.auditd.pid,
            if s.auditd.alive { "" } else { " (not running)" },
            s.kernel.lost,
            s.kernel.backlog_limit,
            s.capabilities.backend
        );
    }
    if let Some(rules) = &r.rules {
        println!("  rules    {} in the files, {} loaded, {} in both", rules.expected, rules.loaded, rules.matched);
    }
    if let Some(p) = &r.prove {
        use audit_verify::prove::State;
        let gaps = p.rules.iter().filter(|x| x.state.is_gap()).count();
        println!(
            "  prove    {} rules: {} proven, {} unprovable, {gaps} with a gap",
            p.rules.len(),
            p.count(State::Proven),
            p.count(State::Unprovable)
        );
    }
    if let Some(l) = &r.lint {
        println!("  lint     {} findings, {} checks skipped", l.findings.len(), l.skipped.len());
    }
    if let Some(m) = &r.measure {
        println!(
            "  measure  {:.0} s: {} events generated, {} written, {} kernel drops, {} lost after the kernel",
            m.seconds, m.generated.events, m.written.events, m.kernel_drops.total, m.after_kernel_drops.records
        );
    }
    for e in &r.errors {
        println!("  ERROR in {}: {}", e.section.name(), e.error);
    }
    println!(
        "Findings: {} high, {} medium, {} info (failing at {:?} and above)",
        r.summary.high, r.summary.medium, r.summary.info, r.fail_on
    );
    for f in &r.findings {
        let at = f.finding.location.as_deref().unwrap_or("-");
        println!("  [{:?}] {:<8} {} {at}: {}", f.finding.severity, f.section.name(), f.finding.id, f.finding.message);
    }
}
