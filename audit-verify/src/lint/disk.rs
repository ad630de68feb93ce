//! Footgun 3: what auditd does when the log's disk fills or fails. `ignore` goes on without writing;
//! `syslog` only says so; `suspend` and `rotate` keep the host running unaudited or delete evidence.
//! Compliance regimes (PCI DSS 10.7, FedRAMP AU-5, CIS 4.1.2.x) want an alert and a stop (`single`,
//! `halt`) or at least a page, not a line in syslog.

use super::{Facts, Sink, logstats::human_bytes};
use crate::finding::{Finding, Severity};

const N: u8 = 3;

/// auditd.conf(5) defaults in audit 3.x.
const ACTIONS: &[(&str, &str)] =
    &[("disk_full_action", "SUSPEND"), ("disk_error_action", "SUSPEND"), ("admin_space_left_action", "SUSPEND")];

pub fn check(facts: &Facts, sink: &mut Sink) {
    for (key, default) in ACTIONS {
        let (value, _) = facts.conf(key, default);
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
        sink.add(
            N,
            Finding::new("disk_action_unsafe", severity, format!("{key} = {value}"))
                .at(facts.conf_location(key))
                .why(why)
                .fix(format!("{key} = single (or halt), with email/exec alerting on space_left_action")),
        );
    }
    thresholds(facts, sink);
}

/// `space_left` must come before `admin_space_left`, with time between them to act.
fn thresholds(facts: &Facts, sink: &mut Sink) {
    let (space_action, _) = facts.conf("space_left_action", "SYSLOG");
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
    let (Some(space), Some(admin)) =
        (megabytes(&facts.conf("space_left", "75").0, fs), megabytes(&facts.conf("admin_space_left", "50").0, fs))
    else {
        return;
    };
    let margin = space - admin;
    let mut problem = None;
    if margin <= 0.0 {
        problem =
            Some(format!("space_left ({space:.0} MB) is not above admin_space_left ({admin:.0} MB): no warning time"));
    } else if let Some(rate) = facts.log.as_ref().and_then(|l| l.bytes_per_hour()) {
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
