//! `audit-verify predict`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use audit_verify::{
    finding::Severity,
    predict::{self, Config},
    rules::augenrules::RulesInput,
};

use super::{
    Outcome,
    output::{self, errln, out, outln},
};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("candidate").required(true).args(["rules_dir", "rules_file"])))]
pub struct PredictArgs {
    /// The candidate rules: a rules directory, read as augenrules reads it.
    #[arg(long, value_name = "DIR")]
    rules_dir: Option<PathBuf>,
    /// The candidate rules: one file, read as `auditctl -R` reads it.
    #[arg(long, value_name = "FILE")]
    rules_file: Option<PathBuf>,
    /// Length of the prediction window, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = super::seconds)]
    duration: Duration,
    /// Print the report as JSON (docs/schema/predict.schema.json) instead of a table.
    #[arg(long)]
    json: bool,
    /// auditd's configuration, for its log format and retention settings.
    #[arg(long, value_name = "FILE", default_value = audit_verify::auditd_conf::DEFAULT_PATH)]
    auditd_conf: PathBuf,
    /// Do not measure auditd's write rate (a one-second burst of user messages into the log after the
    /// window); the backlog projection then has no rate to compare with.
    #[arg(long)]
    no_write_rate: bool,
}

impl PredictArgs {
    /// The candidate rules named (clap requires exactly one of the two).
    pub fn input(&self) -> RulesInput {
        match (&self.rules_file, &self.rules_dir) {
            (Some(file), _) => RulesInput::File(file.clone()),
            (None, dir) => RulesInput::Dir(dir.clone().unwrap_or_default()),
        }
    }
}

pub fn run(args: &PredictArgs) -> anyhow::Result<Outcome> {
    let input = args.input();
    let source = input.load().with_context(|| format!("reading the candidate rules {}", input.path().display()))?;
    if let Some(e) = source.errors.first() {
        anyhow::bail!("{e}");
    }
    let rules = predict::candidates(&source);
    let config = Config {
        duration: args.duration,
        auditd_conf: args.auditd_conf.clone(),
        write_rate_with: if args.no_write_rate {
            None
        } else {
            Some(std::env::current_exe().context("locating our own binary for the write-rate burst")?)
        },
    };
    errln!(
        "predict: {} candidate rules, observing for {:.1} s without loading them",
        rules.len(),
        args.duration.as_secs_f64()
    );
    let report = predict::run(&rules, &config)?;
    if args.json {
        outln!("{}", output::json(&report)?);
    } else {
        if let Some(line) = output::partial_line(&format!("the window ran {:.1} s", report.seconds)) {
            outln!("{line}");
        }
        out!("{}", report.human());
    }
    let high = report.findings.iter().any(|f| f.severity >= Severity::High);
    Ok(if high { Outcome::Findings } else { Outcome::Clean })
}
