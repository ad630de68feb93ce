//! `audit-verify check`: the one-pass verdict for post-deploy smoke tests and CI.

use std::{io::IsTerminal as _, path::PathBuf, time::Duration};

use audit_verify::{
    check::{self, CheckReport, Section},
    measure::MeasureReport,
    prometheus::Gauges,
    prove::State,
    rules::augenrules::RulesInput,
    snapshot::Inputs,
    textfile,
};

use super::{
    Outcome,
    lint::{FailOn, FrameworkArg},
    output::{errln, outln},
};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Print the report as JSON (docs/schema/check.schema.json) instead of a summary.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report (a case per rule proven, per footgun, per finding; replaced atomically).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the measurement and the verdict in `node_exporter` textfile format (replaced atomically).
    #[arg(long, value_name = "FILE")]
    prometheus: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    fail_on: FailOn,
    /// Judge retention against this framework's requirement.
    #[arg(long, value_enum)]
    framework: Option<FrameworkArg>,
    /// Also act out this profile's requirements (as `audit-verify cover --profile`): a coverage section.
    #[arg(long, value_name = "NAME", value_parser = ["stig", "cis", "pci-dss", "ospp", "attack"])]
    profile: Option<String>,
    /// The rules directory, read as augenrules reads it.
    #[arg(long, value_name = "DIR", default_value = "/etc/audit/rules.d")]
    rules_dir: PathBuf,
    /// auditd's configuration, for its log file and retention settings.
    #[arg(long, value_name = "FILE", default_value = audit_verify::auditd_conf::DEFAULT_PATH)]
    auditd_conf: PathBuf,
    /// Length of the measurement window, in seconds; 0 skips it.
    #[arg(long = "duration", value_name = "SECS", default_value_t = 5, alias = "measure-seconds")]
    measure_seconds: u64,
    /// How long to wait for auditd to write the last records (the write barrier), in seconds.
    #[arg(long = "barrier-timeout", value_name = "SECS", default_value = "5", value_parser = super::seconds, alias = "prove-timeout")]
    prove_timeout: Duration,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    // Read before anything runs: a profile that does not parse is bad input (exit 2).
    let profile = args.profile.as_deref().map(audit_verify::cover::profile::builtin).transpose()?;
    let total = 4 + usize::from(args.measure_seconds != 0) + usize::from(profile.is_some());
    let mut started = 0;
    let mut progress = |section: Section| {
        started += 1;
        let n = started;
        let extra = if section == Section::Measure { format!(" ({} s)", args.measure_seconds) } else { String::new() };
        errln!("check: [{n}/{total}] {}{extra}", section.name());
    };
    let report = check::run(check::Options {
        inputs: Inputs {
            rules: RulesInput::Dir(args.rules_dir.clone()),
            auditd_conf: args.auditd_conf.clone(),
            log: None,
        },
        framework: args.framework.map(FrameworkArg::framework),
        profile,
        measure: Duration::from_secs(args.measure_seconds),
        prove_timeout: args.prove_timeout,
        fail_on: args.fail_on.severity(),
        progress: &mut progress,
    });
    if let Some(path) = &args.junit {
        textfile::write(path, report.junit().as_bytes())?;
    }
    if let Some(path) = &args.prometheus {
        // The verdict is worth publishing even when the measurement was skipped or failed.
        let measured = report.measure.as_ref().map(MeasureReport::prometheus).unwrap_or_default();
        let text = format!("{measured}{}", summary_metrics(&report));
        textfile::write(path, text.as_bytes())?;
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report, std::io::stdout().is_terminal());
    }
    Ok(match report.verdict {
        "pass" => Outcome::Clean,
        "fail" => Outcome::Findings,
        _ => Outcome::ToolFailed,
    })
}

#[expect(clippy::cast_precision_loss, reason = "finding counts, far below 2^52")]
fn summary_metrics(r: &CheckReport) -> String {
    let mut g = Gauges::new();
    g.by_label(
        "findings",
        "Findings of the last check, by severity.",
        "severity",
        [("high", r.summary.high), ("medium", r.summary.medium), ("info", r.summary.info)]
            .map(|(severity, n)| (severity, n as f64)),
    );
    g.one("check_pass", "1 when the last check passed.", f64::from(u8::from(r.verdict == "pass")));
    if let Some(p) = &r.prove {
        prove_rules(&mut g, p.rules.iter().map(|rule| rule.state));
    }
    g.finish()
}

/// `prove_rules{state}`: rules per prove state, every state written (0 included), so that
/// `audit_verify_prove_rules{state="failed"} > 0` is an alert that resolves rather than a series that
/// disappears. Absent when prove did not run: no series is better than a row of zeros that looks proven.
#[expect(clippy::cast_precision_loss, reason = "rule counts, far below 2^52")]
fn prove_rules(g: &mut Gauges, states: impl Iterator<Item = State>) {
    let states: Vec<State> = states.collect();
    g.by_label(
        "prove_rules",
        "Rules of the last check's prove, by state.",
        "state",
        State::ALL.map(|state| (state.name(), states.iter().filter(|s| **s == state).count() as f64)),
    );
}

fn print_human(r: &CheckReport, _tty: bool) {
    outln!("audit-verify check on {}: {} ({:.1} s)", r.host, r.verdict.to_uppercase(), r.seconds);
    if let Some(s) = &r.status {
        outln!(
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
        outln!("  rules    {} in the files, {} loaded, {} in both", rules.expected, rules.loaded, rules.matched);
    }
    if let Some(p) = &r.prove {
        let gaps = p.rules.iter().filter(|x| x.state.is_gap()).count();
        outln!(
            "  prove    {} rules: {} proven, {} unprovable, {gaps} with a gap",
            p.rules.len(),
            p.count(State::Proven),
            p.count(State::Unprovable)
        );
    }
    if let Some(c) = &r.cover {
        let n = c.counts;
        outln!(
            "  cover    {}: {} requirements, {} covered, {} not covered, {} partial, {} blind, {} unprovable",
            c.profile.name,
            c.requirements.len(),
            n.covered,
            n.not_covered,
            n.partial,
            n.blind,
            n.unprovable
        );
    }
    if let Some(l) = &r.lint {
        outln!("  lint     {} findings, {} checks skipped", l.findings.len(), l.skipped.len());
    }
    if let Some(m) = &r.measure {
        outln!(
            "  measure  {:.0} s: {} events generated, {} written, {} kernel drops, {} lost after the kernel",
            m.seconds,
            m.generated.events,
            m.written.events,
            m.kernel_drops.total,
            m.after_kernel_drops.records
        );
    }
    for e in &r.errors {
        outln!("  ERROR in {}: {}", e.section.name(), e.error);
    }
    outln!(
        "Findings: {} high, {} medium, {} info (failing at {:?} and above)",
        r.summary.high,
        r.summary.medium,
        r.summary.info,
        r.fail_on
    );
    for f in &r.findings {
        let at = f.finding.location.as_deref().unwrap_or("-");
        outln!("  [{:?}] {:<8} {} {at}: {}", f.finding.severity, f.section.name(), f.finding.id, f.finding.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prove_rules_counts_every_state_and_writes_the_absent_ones_as_zero() {
        let mut g = Gauges::new();
        prove_rules(&mut g, [State::Proven, State::Failed, State::Proven, State::NotRun].into_iter());
        let text = g.finish();
        let series: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(series.len(), State::ALL.len(), "{text}");
        for (state, n) in [("proven", 2), ("failed", 1), ("not_run", 1), ("shadowed", 0), ("symlink", 0)] {
            let line = format!("audit_verify_prove_rules{{state=\"{state}\"}} {n}");
            assert!(series.contains(&line.as_str()), "no `{line}` in:\n{text}");
        }
    }

    /// A new state must join `State::ALL`, or its rules would be missing from the textfile: this match
    /// stops compiling when one is added, as a reminder to add it to `State::ALL` too.
    #[test]
    fn state_all_lists_every_state() {
        let listed = |state: State| match state {
            State::Proven
            | State::Failed
            | State::NotWritten
            | State::NotLoaded
            | State::Shadowed
            | State::Unprovable
            | State::Dead
            | State::Symlink
            | State::NotRun => State::ALL.contains(&state),
        };
        // Every slot of ALL holds a distinct state: one listed twice means another is missing.
        let mut seen = [false; State::ALL.len()];
        for state in State::ALL {
            assert!(listed(state), "{state:?}");
            seen[State::ALL.iter().position(|s| *s == state).unwrap()] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
