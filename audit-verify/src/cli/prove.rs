//! `audit-verify prove`.

use std::{io::IsTerminal as _, path::PathBuf, time::Duration};

use anyhow::Context as _;
use audit_verify::{
    auditd_conf,
    netlink::AuditSocket,
    prove::{self, Options, report},
    rules::augenrules::RulesInput,
    snapshot::{Inputs, Snapshot},
};
use clap::Args;

use super::Outcome;

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// A rules directory, read as augenrules reads it; /etc/audit/audit.rules is read too when it exists.
    #[arg(long, default_value = "/etc/audit/rules.d", conflicts_with = "rules_file")]
    rules_dir: PathBuf,
    /// One rules file, read as `auditctl -R` reads it (instead of --rules-dir).
    #[arg(long)]
    rules_file: Option<PathBuf>,
    /// The audit log; default: log_file from auditd.conf.
    #[arg(long)]
    log: Option<PathBuf>,
    #[arg(long, default_value = auditd_conf::DEFAULT_PATH)]
    auditd_conf: PathBuf,
    /// Seconds to wait for auditd to write the barrier after the last action.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Where only a mutating call fires a rule, make it: on scratch files, or on the real target only when
    /// the call leaves it as it was (chmod to its own mode). The report says what changed.
    #[arg(long)]
    allow_mutation: bool,
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report (one testcase per rule) to this file.
    #[arg(long)]
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
            eprint!("\rprove: action {done}/{total}");
            if done == total {
                eprintln!(", waiting for auditd to write the barrier");
            }
        } else if done == 0 || done == total {
            eprintln!("prove: action {done}/{total}");
        }
    };
    let options = Options {
        log,
        timeout: Duration::try_from_secs_f64(args.timeout.max(0.0))
            .with_context(|| format!("--timeout {}: not a number of seconds", args.timeout))?,
        allow_mutation: args.allow_mutation,
        progress: &mut progress,
    };
    let report = prove::prove(input, &mut socket, options).context("proving the loaded rules")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::table(&report));
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(&report)).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.has_gaps() { Outcome::Findings } else { Outcome::Clean })
}
