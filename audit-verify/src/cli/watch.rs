//! `audit-verify watch`: continuous loss accounting, served to Prometheus.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;

use super::{Outcome, seconds};

/// What `watch --help` adds to the exit codes every command states: a daemon stopped on request
/// exits 0, so that systemd records a clean stop.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    stopped by SIGTERM or SIGINT (within a second): a requested stop of a daemon is a clean exit
  1    not used: watch reports loss in its metrics, not in its exit code
  2    the tool could not run or went on failing (not root, no audit in the kernel, the address taken,
       the kernel's counters unreadable)
  130  not used by watch (it exits 0 on SIGINT); the other commands exit 130 on SIGINT
A second signal exits at once. --json-log lines follow docs/schema/watch-log.schema.json.";

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Serve /metrics (Prometheus text format) on this address, e.g. 127.0.0.1:9851.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Also write the metrics to this file (`node_exporter` textfile), replaced atomically each interval.
    #[arg(long, value_name = "FILE")]
    pub textfile: Option<PathBuf>,
    /// How often the kernel's counters and drops are folded into the metrics, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub interval: Duration,
    /// How often a canary (a marker message) is sent through the kernel and auditd to the log, in seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = seconds)]
    pub canary_interval: Duration,
    /// How long after a later canary is written an event still not in the log is judged lost, in seconds:
    /// records re-queued by the kernel reach auditd after later ones.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub grace: Duration,
    /// Diagnostics on stderr as JSON lines (one object per line: ts, level, message).
    #[arg(long)]
    pub json_log: bool,
    /// auditd's configuration, for its log file.
    #[arg(long, value_name = "FILE", default_value = audit_verify::auditd_conf::DEFAULT_PATH)]
    pub auditd_conf: PathBuf,
}

pub fn run(args: &WatchArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(args.listen.is_some() || args.textfile.is_some(), "watch needs --listen ADDR or --textfile FILE");
    anyhow::ensure!(!args.interval.is_zero() && !args.canary_interval.is_zero(), "intervals must be above 0 s");
    audit_verify::watch::run(&audit_verify::watch::Config {
        listen: args.listen,
        textfile: args.textfile.clone(),
        interval: args.interval,
        canary_interval: args.canary_interval,
        grace: args.grace,
        auditd_conf: args.auditd_conf.clone(),
    })?;
    Ok(Outcome::Clean)
}

/// One `--json-log` line (docs/schema/watch-log.schema.json): journald and log shippers parse it whole.
pub fn log_line(buf: &mut env_logger::fmt::Formatter, record: &::log::Record<'_>) -> std::io::Result<()> {
    use std::io::Write as _;
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let line = serde_json::json!({
        "ts": ts,
        "level": record.level().as_str().to_ascii_lowercase(),
        "message": record.args().to_string(),
    });
    writeln!(buf, "{line}")
}
