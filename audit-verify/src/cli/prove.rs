//! `audit-verify prove`.

use std::{io::IsTerminal as _, path::PathBuf, time::Duration};

use anyhow::Context as _;
use audit_verify::{
    auditd_conf,
    netlink::AuditSocket,
    prove::{self, Options, report},
    rules::augenrules::RulesInput,
    snapshot::{Inputs, Snapshot},
    textfile,
};
use clap::Args;

use super::{
    Outcome,
    output::{self, err, errln, out, outln},
};

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// A rules directory, read as augenrules reads it; /etc/audit/audit.rules is read too when it exists.
    #[arg(long, value_name = "DIR", default_value = "/etc/audit/rules.d", conflicts_with = "rules_file")]
    rules_dir: PathBuf,
    /// One rules file, read as `auditctl -R` reads it (instead of --rules-dir).
    #[arg(long, value_name = "FILE")]
    rules_file: Option<PathBuf>,
    /// The audit log; default: log_file from auditd.conf.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// auditd's configuration, for its log file.
    #[arg(long, value_name = "FILE", default_value = auditd_conf::DEFAULT_PATH)]
    auditd_conf: PathBuf,
    /// How long to wait for auditd to write the last records (the write barrier), in seconds.
    #[arg(long = "barrier-timeout", value_name = "SECS", default_value = "5", value_parser = super::seconds, alias = "timeout")]
    timeout: Duration,
    /// Where only a mutating call fires a rule, make it: on scratch files, or on the real target only when
    /// the call leaves it as it was (chmod to its own mode). The report says what changed.
    #[arg(long)]
    allow_mutation: bool,
    /// Exit 1 unless every loaded rule that records events (an always rule on the exit or io_uring list) is
    /// proven, and at least one is: for CI and smoke tests, where `unprovable` (exit 0 by default) must not
    /// pass. Never, exclude and filesystem rules record nothing of their own and are not counted.
    #[arg(long)]
    require_proven: bool,
    /// Print the report as JSON (docs/schema/prove.schema.json) instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report (one testcase per rule) to this file (replaced atomically).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

pub fn run(args: ProveArgs) -> anyhow::Result<Outcome> {
    let rules = match &args.rules_file {
        Some(file) => RulesInput::File(file.clone()),
        None => RulesInput::Dir(args.rules_dir.clone()),
    };
    let inputs = Inputs { rules, auditd_conf: args.auditd_conf.clone(), log: args.log.clone() };
    let snapshot = Snapshot::gather(inputs).context("reading the kernel's audit state")?;
    let diff = snapshot.rules_diff()?;
    let input = snapshot.prove_input(&diff)?;
    let log = snapshot.log.clone()?;
    let mut socket = AuditSocket::open()?;
    let tty = std::io::stderr().is_terminal();
    let mut progress = |done: usize, total: usize| {
        if tty {
            err!("\rprove: action {done}/{total}");
            if done == total {
                errln!(", waiting for auditd to write the barrier");
            }
        } else if done == 0 || done == total {
            errln!("prove: action {done}/{total}");
        }
    };
    let options = Options { log, timeout: args.timeout, allow_mutation: args.allow_mutation, progress: &mut progress };
    let report = prove::prove(input, &mut socket, options).context("proving the loaded rules")?;
    if args.json {
        outln!("{}", output::json(&report)?);
    } else {
        out!("{}", report::table(&report));
        let not_run = report.count(prove::State::NotRun);
        if let Some(line) = output::partial_line(&format!("{not_run} rules not run")) {
            outln!("{line}");
        }
    }
    if let Some(path) = &args.junit {
        textfile::write(path, report::junit(&report).as_bytes())?;
    }
    if args.require_proven && !report.all_proven() {
        errln!(
            "prove: --require-proven: {} of the loaded rules that record events not proven{}",
            report.unproven(),
            if report.count(prove::State::Proven) == 0 { ", none proven" } else { "" }
        );
    }
    let unmet = args.require_proven && !report.all_proven();
    Ok(if report.has_gaps() || unmet { Outcome::Findings } else { Outcome::Clean })
}
