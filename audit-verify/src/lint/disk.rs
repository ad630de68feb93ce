//! Footgun 3: what auditd does when the log's disk fills or fails. `ignore` goes on without writing;
//! `syslog` only says so; `suspend` and `rotate` keep the host running unaudited or delete evidence.
//! Compliance regimes (PCI DSS 10.7, FedRAMP AU-5, CIS 4.1.2.x) want an alert and a stop (`single`,
//! `halt`) or at least a page, not a line in syslog.

//!
//! A key the file leaves out is judged at auditd's built-in value ([`builtin_default`]: IGNORE for the
//! three space actions, SYSLOG for disk errors), not at the shipped file's.

use super::{
    Facts, Sink, Skipped, auditd,
    logstats::{LogStats, human_bytes},
};
use crate::{
    auditd_conf::builtin_default,
    finding::{Finding, Severity},
};

const N: u8 = 3;

const ACTIONS: &[&str] = &["disk_full_action", "disk_error_action", "admin_space_left_action"];

/// The value auditd uses for `key` (the file's, else its built-in default).
fn conf(facts: &Facts, key: &str) -> String {
    facts.conf(key, builtin_default(key).unwrap_or("")).0
}

pub fn check(facts: &Facts, sink: &mut Sink) {
    if auditd::absent(facts, sink, N, "disk full and disk error actions") {
        return;
    }
    // auditd_event.c checks space only around its own writes: with no local log these never run.
    if let Some(off) = facts.auditd_conf.log_writing_off() {
        sink.skip(Skipped::new(
            N,
            "disk full and disk error actions",
            format!(
                "not applicable: {} = {} at {}:{}: auditd writes no local log, so its disk actions never run",
                off.key,
                off.value,
                facts.auditd_conf.path.display(),
                off.line
            ),
        ));
        return;
    }
    for key in ACTIONS {
        let value = conf(facts, key);
        let action = value.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        let (severity, why) = match action.as_str() {
            "ignore" => (Severity::High, "auditd goes on as if nothing happened: records are lost without a trace"),
            "syslog" => (
                Severity::Medium,
                "records are lost with only a syslog line; PCI DSS 10.7 / FedRAMP AU-5 want failure alerting and a stop",
            ),
            "suspend" => (
                Severity::Medium,
                "auditd stops writing and the host keeps running unaudited; compliance wants it stopped (single/halt)",
            ),
            "rotate" => (Severity::Medium, "old logs are deleted to make room: evidence not yet shipped is destroyed"),
            _ => continue, // email, exec, single, halt, keep_logs: an operator is told or the host stops
        };
        let message = match auditd::default_note(facts, key) {
            Some(note) => format!("{key} = {value} ({note})"),
            None => format!("{key} = {value}"),
        };
        sink.add(
            N,
            Finding::new("disk_action_unsafe", severity, message)
                .at(facts.conf_location(key))
                .why(why)
                .fix(format!("{key} = single (or halt), with email/exec alerting on space_left_action")),
        );
    }
    thresholds(facts, sink);
}

/// `space_left` must come before `admin_space_left`, with time between them to act.
fn thresholds(facts: &Facts, sink: &mut Sink) {
    let space_action = conf(facts, "space_left_action");
    if space_action.eq_ignore_ascii_case("ignore") {
        sink.add(
            N,
            Finding::new("space_left_ignored", Severity::Medium, "space_left_action = ignore: no warning before full")
                .at(facts.conf_location("space_left_action"))
                .why("nobody is told the audit disk is filling up until it is too late")
                .fix("space_left_action = email (or exec a pager script)"),
        );
    }
    let fs = facts.log_fs_bytes;
    let (space_value, admin_value) = (conf(facts, "space_left"), conf(facts, "admin_space_left"));
    let (Some(space), Some(admin)) = (megabytes(&space_value, fs), megabytes(&admin_value, fs)) else {
        sink.skip(Skipped::new(
            N,
            "warning time between space_left and admin_space_left",
            format!(
                "skipped: space_left = {space_value}, admin_space_left = {admin_value}: a percentage needs the size of \
                 the log's file system, known live only"
            ),
        ));
        return;
    };
    let margin = space - admin;
    let mut problem = None;
    if margin <= 0.0 {
        problem =
            Some(format!("space_left ({space:.0} MB) is not above admin_space_left ({admin:.0} MB): no warning time"));
    } else if let Some(rate) = facts.log.as_ref().and_then(LogStats::bytes_per_hour) {
        let hours = margin * 1024.0 * 1024.0 / rate;
        if hours < 1.0 {
            problem = Some(format!(
                "{margin:.0} MB between space_left and admin_space_left lasts {:.0} min at the observed {}/h",
                hours * 60.0,
                human_bytes(rate)
            ));
        }
    }
    if let Some(message) = problem {
        sink.add(
            N,
            Finding::new("space_left_no_warning_time", Severity::Medium, message)
                .at(facts.conf_location("space_left"))
                .why("the warning comes too late for anyone to act before the admin action (or loss) hits")
                .fix("raise space_left well above admin_space_left (hours of logging at the observed rate)"),
        );
    }
}

/// `75` (MB) or `25%` (of the file system, known live only).
#[expect(
    clippy::cast_precision_loss,
    reason = "a file system's size in bytes: past 2^52 (4 PiB) the rounding is far below the megabytes shown"
)]
fn megabytes(value: &str, fs_bytes: Option<u64>) -> Option<f64> {
    match value.strip_suffix('%') {
        Some(pct) => Some(pct.trim().parse::<f64>().ok()? / 100.0 * fs_bytes? as f64 / 1024.0 / 1024.0),
        None => value.trim().parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_mb_or_percent() {
        assert_eq!(megabytes("75", None), Some(75.0));
        assert_eq!(megabytes("10%", Some(1000 * 1024 * 1024)), Some(100.0));
        assert_eq!(megabytes("10%", None), None);
    }
}
