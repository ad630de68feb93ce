//! Footgun 8: how many days of records the local logs hold at the observed rate, against what the
//! framework asks for.
//!
//! `max_log_file_action` decides what "full" means: ROTATE keeps `num_logs` files of `max_log_file` MB
//! and deletes the oldest; `KEEP_LOGS` and IGNORE never delete (retention is bounded by the disk, and the
//! disk actions of footgun 3 take over); SUSPEND stops writing at `max_log_file` (the newest records are
//! the ones lost); SYSLOG only warns and goes on writing (as IGNORE). ROTATE with `num_logs` below 2 does
//! not rotate at all (auditd logs "Log rotation disabled (`num_logs` < 2), skipping").
//!
//! Absent keys take auditd's built-in values ([`builtin_default`]): `max_log_file_action` IGNORE and
//! `max_log_file` 0, so a file that leaves them out never rotates, whatever the shipped file says. With
//! `write_logs = no` (or `log_format = NOLOG`) there is no local log at all.

use super::{
    Facts, Sink, Skipped, auditd,
    logstats::{LogStats, human_bytes},
    shipping::Shipping,
};
use crate::{
    auditd_conf::builtin_default,
    finding::{Finding, Severity},
};

const N: u8 = 8;

fn conf(facts: &Facts, key: &str) -> String {
    facts.conf(key, builtin_default(key).unwrap_or("")).0
}

#[expect(clippy::too_many_lines, reason = "a list of independent checks, each a few lines, sharing the same inputs")]
#[expect(
    clippy::cast_precision_loss,
    reason = "a file system's size in bytes: past 2^52 (4 PiB) the rounding is far below what the days figure shows"
)]
pub fn check(facts: &Facts, shipping: &Shipping, sink: &mut Sink) {
    if auditd::absent(facts, sink, N, "local retention") {
        return;
    }
    if no_local_log(facts, shipping, sink) {
        return;
    }
    let action = conf(facts, "max_log_file_action").to_ascii_uppercase();
    let max_mb: f64 = conf(facts, "max_log_file").parse().unwrap_or(0.0);
    let num_logs: f64 = conf(facts, "num_logs").parse().unwrap_or(0.0);
    // rotate_logs() in auditd-event.c: "Log rotation disabled (num_logs < 2), skipping": the one file
    // grows on, as with KEEP_LOGS.
    let action = if action == "ROTATE" && num_logs < 2.0 { "ROTATE with num_logs < 2".to_owned() } else { action };
    let capacity = match action.as_str() {
        "ROTATE" if max_mb == 0.0 => {
            sink.skip(Skipped::new(
                N,
                "local retention",
                format!("skipped: max_log_file = 0 ({}): no size to rotate at", facts.conf_location("max_log_file")),
            ));
            return;
        }
        "ROTATE" => max_mb * num_logs * 1024.0 * 1024.0,
        "SUSPEND" => {
            sink.add(
                N,
                Finding::new(
                    "log_suspends_when_full",
                    Severity::High,
                    format!("max_log_file_action = SUSPEND: auditd stops writing at {max_mb} MB"),
                )
                .at(facts.conf_location("max_log_file_action"))
                .why("once the file is full the newest records, the ones an investigation needs, are not written")
                .fix("max_log_file_action = ROTATE with enough num_logs, or KEEP_LOGS with shipping and disk alerts"),
            );
            return;
        }
        // KEEP_LOGS, IGNORE, SYSLOG, ROTATE below 2 logs: nothing is deleted, the file system bounds what is kept (and the
        // disk actions of footgun 3 decide what happens then).
        _ => {
            if let Some(bytes) = facts.log_fs_bytes {
                bytes as f64
            } else {
                sink.skip(Skipped::new(
                    N,
                    "local retention",
                    format!(
                        "skipped: max_log_file_action = {action} ({}) never deletes a log: retention is bounded by \
                     the log's file system, whose size is known live only",
                        facts.conf_location("max_log_file_action")
                    ),
                ));
                return;
            }
        }
    };
    let Some(framework) = facts.framework else {
        if let Some(rate) = facts.log.as_ref().and_then(LogStats::bytes_per_hour) {
            sink.add(
                N,
                Finding::new(
                    "retention_estimate",
                    Severity::Info,
                    format!(
                        "local logs hold {:.1} days at the observed {}/h",
                        capacity / rate / 24.0,
                        human_bytes(rate)
                    ),
                )
                .at(facts.conf_location("num_logs"))
                .why("retention is only as long as the rotation allows at today's rate")
                .fix("pass --framework to judge it against a requirement"),
            );
        }
        return;
    };
    let (online, total, source) = framework.retention();
    let Some(rate) = facts.log.as_ref().and_then(LogStats::bytes_per_hour) else {
        sink.add(
            N,
            Finding::new(
                "retention_unknown",
                Severity::Info,
                format!(
                    "no audit log history to measure a rate from; {} MB hold an unknown number of days",
                    capacity / 1_048_576.0
                ),
            )
            .at(facts.conf_location("max_log_file"))
            .why("retention cannot be judged without a rate")
            .fix("run lint again once the log has hours of history"),
        );
        return;
    };
    let days = capacity / rate / 24.0;
    let held = if action == "ROTATE" {
        format!("max_log_file {max_mb} MB × num_logs {num_logs} = {}", human_bytes(capacity))
    } else {
        format!("max_log_file_action = {action}: the log's file system, {}", human_bytes(capacity))
    };
    let shipped = shipping.off_host();
    let (severity, need) = if shipped {
        // Shipping carries the archive; what is at hand locally still has to cover the online part.
        if days >= f64::from(online) { (None, online) } else { (Some(Severity::Medium), online) }
    } else if days >= f64::from(total) {
        (None, total)
    } else {
        (Some(Severity::High), total)
    };
    let Some(severity) = severity else { return };
    let needed_mb = rate * 24.0 * f64::from(need) / 1_048_576.0;
    sink.add(
        N,
        Finding::new(
            "retention_too_short",
            severity,
            format!(
                "{held} hold {days:.1} days at the observed {}/h; {framework} needs {need} days {} ({source})",
                human_bytes(rate),
                if shipped { "at hand (the rest is shipped)" } else { "and nothing is shipped" },
            ),
        )
        .at(facts.conf_location("num_logs"))
        .why("records rotated away before the retention period ends are evidence destroyed on schedule")
        .fix(format!(
            "keep ~{needed_mb:.0} MB locally (max_log_file × num_logs), or ship off-host and keep {online} days at hand"
        )),
    );
}

/// `write_logs = no` or `log_format = NOLOG`: no day is kept on this host. Returns true when so.
fn no_local_log(facts: &Facts, shipping: &Shipping, sink: &mut Sink) -> bool {
    let Some(off) = facts.auditd_conf.log_writing_off() else { return false };
    let shipped = shipping.off_host();
    let severity = match (shipped, facts.framework) {
        (false, _) => Severity::High,
        (true, Some(_)) => Severity::Medium,
        (true, None) => Severity::Info,
    };
    let need = facts.framework.map_or(String::new(), |f| {
        let (online, _, source) = f.retention();
        format!("; {f} needs {online} days at hand ({source})")
    });
    sink.add(
        N,
        Finding::new(
            "no_local_log",
            severity,
            format!(
                "{} = {}: auditd writes no local log, 0 days are kept on this host{}{need}",
                off.key,
                off.value,
                if shipped {
                    " (records are only shipped)"
                } else {
                    " and nothing is shipped: records are kept nowhere"
                },
            ),
        )
        .at(format!("{}:{}", facts.auditd_conf.path.display(), off.line))
        .why("retention is what some disk keeps; with no local log and no shipping, no disk keeps anything")
        .fix("write_logs = yes with log_format = ENRICHED, and size max_log_file × num_logs for the period"),
    );
    true
}
