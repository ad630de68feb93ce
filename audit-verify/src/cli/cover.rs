//! `audit-verify cover`.

use std::{io::IsTerminal as _, path::PathBuf, time::Duration};

use anyhow::Context as _;
use audit_verify::{
    auditd_conf,
    cover::{self, Options, profile, report},
    netlink::AuditSocket,
    snapshot::{Inputs, Snapshot},
    textfile,
};
use clap::Args;

use super::{
    Outcome,
    lint::FailOn,
    output::{self, err, errln, out, outln},
};

#[derive(Debug, Args)]
pub struct CoverArgs {
    /// The standard whose required events to act out (profiles shipped in audit-verify/profiles/).
    #[arg(long, value_name = "NAME", value_parser = ["stig", "cis", "pci-dss", "ospp", "attack"], required_unless_present = "profile_file")]
    profile: Option<String>,
    /// A profile of your own, in the shipped profiles' TOML form (instead of --profile).
    #[arg(long, value_name = "FILE", conflicts_with = "profile")]
    profile_file: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity: `not_covered` is high, `partial` and `blind`
    /// medium unless the profile says otherwise, `unprovable` info.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    fail_on: FailOn,
    /// The audit log; default: `log_file` from auditd.conf.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// auditd's configuration, for its log file.
    #[arg(long, value_name = "FILE", default_value = auditd_conf::DEFAULT_PATH)]
    auditd_conf: PathBuf,
    /// How long to wait for auditd to write the last records (the write barrier), in seconds.
    #[arg(long = "barrier-timeout", value_name = "SECS", default_value = "5", value_parser = super::seconds)]
    timeout: Duration,
    /// Print the report as JSON (docs/schema/cover.schema.json) instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report (one testcase per requirement) to this file (replaced atomically).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

/// The profile the arguments name, read and checked before anything runs.
fn load_profile(args: &CoverArgs) -> anyhow::Result<profile::Profile> {
    Ok(match (&args.profile_file, &args.profile) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            profile::parse(&file.display().to_string(), &text)?
        }
        (None, Some(name)) => profile::builtin(name)?,
        (None, None) => anyhow::bail!("--profile or --profile-file is required"),
    })
}

pub fn run(args: &CoverArgs) -> anyhow::Result<Outcome> {
    let profile = load_profile(args)?;
    let inputs = Inputs { log: args.log.clone(), auditd_conf: args.auditd_conf.clone(), ..Inputs::default() };
    let snapshot = Snapshot::gather(inputs).context("reading the kernel's audit state")?;
    let log = snapshot.log.clone()?;
    let mut socket = AuditSocket::open()?;
    let tty = std::io::stderr().is_terminal();
    let mut progress = |done: usize, total: usize| {
        if tty {
            err!("\rcover: action {done}/{total}");
            if done == total {
                errln!(", waiting for auditd to write the barrier");
            }
        } else if done == 0 || done == total {
            errln!("cover: action {done}/{total}");
        }
    };
    let options = Options { log, timeout: args.timeout, progress: &mut progress };
    let loaded = &snapshot.loaded;
    let report = cover::cover(&profile, &loaded.rules, loaded.undecodable.len(), &mut socket, options)
        .context("acting out the profile's requirements")?;
    if args.json {
        outln!("{}", output::json(&report)?);
    } else {
        out!("{}", report::table(&report));
        if let Some(line) = output::partial_line("the probes whose actions did not run are unprovable") {
            outln!("{line}");
        }
    }
    if let Some(path) = &args.junit {
        textfile::write(path, report::junit(&report).as_bytes())?;
    }
    Ok(if report.fails(args.fail_on.severity()) { Outcome::Findings } else { Outcome::Clean })
}
