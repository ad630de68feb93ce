//! Footgun 8: how many days of records the local logs hold at the observed rate, against what the
//! framework asks for.
//!
//! `max_log_file_action` decides what "full" means: ROTATE keeps `num_logs` files of `max_log_file` MB
//! and deletes the oldest; KEEP_LOGS and IGNORE never delete (retention is bounded by the disk, and the
//! disk actions of footgun 3 take over); SUSPEND stops writing at `max_log_file` (the newest records are
//! the ones lost); SYSLOG only warns and goes on writing (as IGNORE).

use super::{Facts, Sink, logstats::human_bytes, shipping::Shipping};
use crate::finding::{Finding, Severity};

const N: u8 = 8;

pub fn check(facts: &Facts, shipping: &Shipping, sink: &mut Sink) {
    let (action, _) = facts.conf("max_log_file_action", "ROTATE");
    let action = action.to_ascii_uppercase();
    let max_mb: f64 = facts.conf("max_log_file", "8").0.parse().unwrap_or(8.0);
    let num_logs: f64 = facts.conf("num_logs", "5").0.parse().unwrap_or(5.0);
    let capacity = match action.as_str() {
        // auditd does not rotate with num_logs below 2: one file, rewritten.
        "ROTATE" => max_mb * num_logs.max(1.0) * 1024.0 * 1024.0,
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
        _ => return, // KEEP_LOGS, IGNORE, SYSLOG, EXEC: bounded by the disk, see footgun 3
    };
    let Some(framework) = facts.framework else {
        if let Some(rate) = facts.log.as_ref().and_then(|l| l.bytes_per_hour()) {
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
    let Some(rate) = facts.log.as_ref().and_then(|l| l.bytes_per_hour()) else {
        sink.add(
            N,
            Finding::new(
                "retention_unknown",
                Severity::Info,
                format!(
                    "no audit log history to measure a rate from; {} MB hold an unknown number of days",
                    capacity / 1048576.0
                ),
            )
            .at(facts.conf_location("max_log_file"))
            .why("retention cannot be judged without a rate")
            .fix("run lint again once the log has hours of history"),
        );
        return;
    };
    let days = capacity / rate / 24.0;
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
    let needed_mb = rate * 24.0 * f64::from(need) / 1048576.0;
    sink.add(
        N,
        Finding::new(
            "retention_too_short",
            severity,
            format!(
                "max_log_file {max_mb} MB × num_logs {num_logs} = {} hold {days:.1} days at the observed {}/h; \
                 {framework} needs {need} days {} ({source})",
                human_bytes(capacity),
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
