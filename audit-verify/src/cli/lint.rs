//! `audit-verify lint`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use audit_verify::{
    finding::Severity,
    lint::{self, Facts, Framework, LintReport, facts::Options, prove_shipping},
    netlink::AuditSocket,
    predict,
    rules::augenrules::RulesInput,
};
use clap::ValueEnum;

use super::{Outcome, output::outln};

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Lint a configuration tree (DIR/etc/audit/…, DIR/etc/kubernetes/…) instead of this host; checks that
    /// need the live kernel or processes are reported as skipped.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Judge retention against this framework's requirement.
    #[arg(long, value_enum)]
    framework: Option<FrameworkArg>,
    /// The kube-apiserver static pod manifest (default: /etc/kubernetes/manifests/kube-apiserver.yaml when present).
    #[arg(long, value_name = "PATH")]
    k8s_manifest: Option<PathBuf>,
    /// The Kubernetes audit policy (default: the manifest's --audit-policy-file).
    #[arg(long, value_name = "PATH")]
    k8s_policy: Option<PathBuf>,
    /// Send a marker event and confirm it reaches the audisp-remote collector (live only).
    #[arg(long, conflicts_with = "root")]
    prove_shipping: bool,
    /// The rules files as a rules directory, read as augenrules reads it (default: rules.d under the root).
    #[arg(long, value_name = "DIR", conflicts_with = "rules_file")]
    rules_dir: Option<PathBuf>,
    /// One rules file, read as `auditctl -R` reads it (instead of --rules-dir).
    #[arg(long, value_name = "FILE")]
    rules_file: Option<PathBuf>,
    /// auditd.conf (default: /etc/audit/auditd.conf under the root).
    #[arg(long, value_name = "FILE")]
    auditd_conf: Option<PathBuf>,
    /// How long --prove-shipping waits for the marker to reach the collector, in seconds.
    #[arg(long = "shipping-timeout", value_name = "SECS", default_value = "10", value_parser = super::seconds, alias = "prove-timeout")]
    prove_timeout: Duration,
    /// Predict the rules files on this host's workload for SECS seconds (as `predict`, nothing loaded), so
    /// that the flooding check uses measured rates instead of a heuristic.
    #[arg(long, value_name = "SECS", value_parser = super::seconds, conflicts_with = "root")]
    pub(super) predict: Option<Duration>,
    /// Print the report as JSON (docs/schema/lint.schema.json) instead of a table.
    #[arg(long)]
    json: bool,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum FrameworkArg {
    PciDss,
    Hipaa,
    Soc2,
    Fedramp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum FailOn {
    Info,
    Medium,
    High,
}

impl FrameworkArg {
    pub(super) fn framework(self) -> Framework {
        match self {
            FrameworkArg::PciDss => Framework::PciDss,
            FrameworkArg::Hipaa => Framework::Hipaa,
            FrameworkArg::Soc2 => Framework::Soc2,
            FrameworkArg::Fedramp => Framework::Fedramp,
        }
    }
}

impl FailOn {
    pub(super) fn severity(self) -> Severity {
        match self {
            FailOn::Info => Severity::Info,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
        }
    }
}

pub fn run(args: LintArgs) -> anyhow::Result<Outcome> {
    let framework = args.framework.map(FrameworkArg::framework);
    let rules = match (args.rules_file, args.rules_dir) {
        (Some(file), _) => Some(RulesInput::File(file)),
        (None, Some(dir)) => Some(RulesInput::Dir(dir)),
        (None, None) => None,
    };
    let options = Options {
        root: args.root,
        framework,
        k8s_manifest: args.k8s_manifest,
        k8s_policy: args.k8s_policy,
        rules,
        auditd_conf: args.auditd_conf,
    };
    let mut facts = Facts::gather(&options)?;
    if let (Some(duration), Some(source)) = (args.predict, &facts.rules) {
        let config = predict::Config { duration, auditd_conf: options.inputs().auditd_conf, write_rate_with: None };
        facts.prediction = Some(predict::run(&predict::candidates(source), &config).context("predicting the rules")?);
    }
    let mut report = lint::check(&facts);
    if args.prove_shipping {
        let mut socket = AuditSocket::open()?;
        let proof =
            prove_shipping::prove(&facts, &mut socket, args.prove_timeout).context("sending the shipping marker")?;
        report.findings.insert(0, proof);
        report.findings.sort_by_key(|f| (std::cmp::Reverse(f.severity), f.footgun));
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    let threshold = args.fail_on.severity();
    Ok(if report.worst().is_some_and(|w| w >= threshold) { Outcome::Findings } else { Outcome::Clean })
}

fn print_human(report: &LintReport) {
    outln!("lint ({}{})", report.mode, report.framework.map(|f| format!(", {f}")).unwrap_or_default());
    if report.findings.is_empty() {
        outln!("no findings");
    } else {
        outln!("{:<3} {:<7} {:<30} where / what", "#", "sev", "id");
    }
    for f in &report.findings {
        let n = f.footgun.map_or("-".to_owned(), |n| n.to_string());
        let severity = format!("{:?}", f.severity).to_lowercase();
        outln!("{n:<3} {severity:<7} {:<30} {}", f.id, f.location.as_deref().unwrap_or("-"));
        outln!("{:42}{}", "", f.message);
        if let Some(rule) = &f.rule {
            outln!("{:42}rule: {rule}", "");
        }
        if let Some(why) = &f.why {
            outln!("{:42}why:  {why}", "");
        }
        if let Some(fix) = &f.fix {
            outln!("{:42}fix:  {fix}", "");
        }
    }
    if !report.skipped.is_empty() {
        outln!("skipped");
        for s in &report.skipped {
            outln!("{:<3} {}: {}", s.footgun, s.check, s.reason);
        }
    }
}
