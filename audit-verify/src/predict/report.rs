//! The prediction, sized and ranked: per rule and per key, events/s, records and bytes per hour; the
//! backlog against what auditd writes; the days the local logs would hold.

use std::{collections::BTreeMap, fmt::Write as _};

use audit_verify_common::measure::EventCost;
use serde::Serialize;

use super::{
    candidate::Candidate,
    sizing::{self, Format, Sizing},
    write_rate::WriteRate,
};
use crate::{
    auditd_conf::AuditdConf,
    finding::{Finding, Severity},
    measure::{SyscallHook, report::Retention},
    rules::Location,
};

pub struct Inputs<'a> {
    pub seconds: f64,
    pub candidate: &'a Candidate,
    /// Per exit rule, in order.
    pub locations: &'a [Option<Location>],
    pub hits: &'a [(u64, u64)],
    pub costs: &'a [EventCost],
    pub hook: Option<SyscallHook>,
    pub conf: Option<&'a AuditdConf>,
    pub backlog_limit: u32,
    pub write_rate: WriteRate,
    pub loaded_unchanged: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PredictReport {
    pub seconds: f64,
    /// Where the matcher saw syscall exits.
    pub syscall_hook: Option<SyscallHook>,
    /// Candidate exit rules, noisiest (most bytes per hour) first.
    pub rules: Vec<RulePrediction>,
    /// Keys, noisiest first.
    pub keys: Vec<KeyPrediction>,
    pub total: Rates,
    pub backlog: BacklogProjection,
    pub retention: Retention,
    /// Where the sizes are estimates rather than measurements.
    pub estimates: Vec<String>,
    /// Whether the loaded rules were the same after the window as before (nothing was loaded).
    pub loaded_rules_unchanged: bool,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RulePrediction {
    /// 1-based position in the candidate set's exit list.
    pub position: usize,
    pub rule: String,
    pub location: Option<String>,
    pub key: Option<String>,
    /// Events this rule would record (it matches first), counted in the kernel (`None`: not evaluated).
    pub events: Option<u64>,
    pub events_per_second: f64,
    /// Events it selects that the prediction could not decide (they may be this rule's or a later one's).
    pub undecided: u64,
    pub records_per_event: f64,
    pub bytes_per_event: f64,
    pub bytes_by_type: BTreeMap<&'static str, f64>,
    pub records_per_hour: f64,
    pub bytes_per_hour: f64,
    /// What the prediction cannot decide for this rule, and why.
    pub not_evaluated: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyPrediction {
    pub key: String,
    pub events: u64,
    pub events_per_second: f64,
    pub records_per_hour: f64,
    pub bytes_per_hour: f64,
    /// Some rule with this key has undecided events or was not evaluated: the figures are a lower bound.
    pub lower_bound: bool,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rates {
    pub events_per_second: f64,
    pub records_per_second: f64,
    pub bytes_per_hour: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BacklogProjection {
    pub backlog_limit: u32,
    /// Records per second the candidate rules would queue (the sum over rules).
    pub records_per_second: f64,
    pub auditd_write_rate: WriteRate,
    /// Share of auditd's write rate the rules would use.
    pub write_rate_share: Option<f64>,
    /// Seconds until the backlog is full at the average rate, where it exceeds auditd's write rate.
    pub seconds_to_fill: Option<f64>,
}

/// Stated once, in every report.
const ESTIMATES: [&str; 5] = [
    "fixed fields (pids, inode numbers, serials, ids) are sized at the widths of a typical record of this host",
    "comm and exe outside execve, the CWD path and the dynamic loader's PATH name are sized at typical lengths",
    "PROCTITLE is sized hex-encoded and EXECVE arguments quoted (an argument with a space or quote is hex, twice as long)",
    "only 64-bit syscalls are seen: 32-bit processes are not predicted",
    "records the matcher cannot see are not sized: BPRM_FCAPS (an exec that changes capabilities), SOCKADDR, \
     and the kernel's PROCTITLE cache (a task keeps the first command line it was audited with, across exec)",
];

#[must_use]
#[expect(clippy::cast_precision_loss, reason = "counts far below 2^52, where f64 is exact")]
pub fn build(i: &Inputs<'_>) -> PredictReport {
    let format = Format::of_host(i.conf);
    let hour = 3600.0 / i.seconds;
    let mut rules: Vec<RulePrediction> = i
        .candidate
        .rules
        .iter()
        .enumerate()
        .map(|(n, t)| {
            let (events, undecided) = i.hits.get(n).copied().unwrap_or((0, 0));
            let key = t.rule.key().map(str::to_owned);
            let Sizing { records_per_event, bytes_per_event, bytes_by_type } =
                sizing::size(events, &i.costs.get(n).copied().unwrap_or_default(), key.as_deref(), &format);
            RulePrediction {
                position: t.position + 1,
                rule: t.rule.to_string(),
                location: i.locations.get(t.position).cloned().flatten().map(|l| l.to_string()),
                key,
                events: Some(events),
                events_per_second: events as f64 / i.seconds,
                undecided,
                records_per_event,
                bytes_per_event,
                bytes_by_type,
                records_per_hour: records_per_event * events as f64 * hour,
                bytes_per_hour: bytes_per_event * events as f64 * hour,
                not_evaluated: i.candidate.limits.get(n).cloned().unwrap_or_default(),
            }
        })
        .collect();
    let offset = rules.len();
    rules.extend(i.candidate.beyond.iter().enumerate().map(|(n, rule)| RulePrediction {
        position: offset + n + 1,
        rule: rule.to_string(),
        location: i.locations.get(offset + n).cloned().flatten().map(|l| l.to_string()),
        key: rule.key().map(str::to_owned),
        events: None,
        events_per_second: 0.0,
        undecided: 0,
        records_per_event: 0.0,
        bytes_per_event: 0.0,
        bytes_by_type: BTreeMap::new(),
        records_per_hour: 0.0,
        bytes_per_hour: 0.0,
        not_evaluated: vec!["beyond the 64 rules the kernel side evaluates".into()],
    }));
    rules.sort_by(|a, b| b.bytes_per_hour.total_cmp(&a.bytes_per_hour).then(a.position.cmp(&b.position)));
    let keys = key_totals(&rules);
    let total = Rates {
        events_per_second: rules.iter().map(|r| r.events_per_second).sum(),
        records_per_second: rules.iter().map(|r| r.records_per_hour).sum::<f64>() / 3600.0,
        bytes_per_hour: rules.iter().map(|r| r.bytes_per_hour).sum(),
    };
    let backlog = backlog(i.backlog_limit, total.records_per_second, i.write_rate.clone());
    let retention = crate::measure::report::retention(i.conf, total.bytes_per_hour * 24.0);
    let mut report = PredictReport {
        seconds: i.seconds,
        syscall_hook: i.hook.clone(),
        rules,
        keys,
        total,
        backlog,
        retention,
        estimates: ESTIMATES.iter().map(|s| (*s).to_owned()).collect(),
        loaded_rules_unchanged: i.loaded_unchanged,
        findings: Vec::new(),
    };
    report.findings = findings(&report);
    report
}

fn key_totals(rules: &[RulePrediction]) -> Vec<KeyPrediction> {
    let mut keys: BTreeMap<&str, KeyPrediction> = BTreeMap::new();
    for r in rules {
        let Some(key) = &r.key else { continue };
        let k = keys.entry(key).or_insert_with(|| KeyPrediction {
            key: key.clone(),
            events: 0,
            events_per_second: 0.0,
            records_per_hour: 0.0,
            bytes_per_hour: 0.0,
            lower_bound: false,
        });
        k.events += r.events.unwrap_or(0);
        k.events_per_second += r.events_per_second;
        k.records_per_hour += r.records_per_hour;
        k.bytes_per_hour += r.bytes_per_hour;
        k.lower_bound |= r.events.is_none() || r.undecided > 0;
    }
    let mut keys: Vec<KeyPrediction> = keys.into_values().collect();
    keys.sort_by(|a, b| b.bytes_per_hour.total_cmp(&a.bytes_per_hour));
    keys
}

fn backlog(limit: u32, records_per_second: f64, write_rate: WriteRate) -> BacklogProjection {
    let written = write_rate.records_per_second;
    let share = written.filter(|w| *w > 0.0).map(|w| records_per_second / w);
    let seconds_to_fill =
        written.filter(|w| records_per_second > *w).map(|w| f64::from(limit) / (records_per_second - w));
    BacklogProjection {
        backlog_limit: limit,
        records_per_second,
        auditd_write_rate: write_rate,
        write_rate_share: share,
        seconds_to_fill,
    }
}

fn findings(r: &PredictReport) -> Vec<Finding> {
    let mut out = Vec::new();
    if let (Some(fill), Some(w)) = (r.backlog.seconds_to_fill, r.backlog.auditd_write_rate.records_per_second) {
        out.push(Finding::new(
            "predicted_backlog_overflow",
            Severity::High,
            format!(
                "the rules would queue {:.0} records/s, more than auditd writes here ({w:.0}/s): a backlog of {} \
                 fills in {fill:.1} s, then records are dropped or tasks wait",
                r.backlog.records_per_second, r.backlog.backlog_limit
            ),
        ));
    } else if r.backlog.write_rate_share.is_some_and(|s| s >= 0.5) {
        out.push(Finding::new(
            "predicted_backlog_pressure",
            Severity::Medium,
            format!(
                "the rules would use {:.0}% of auditd's write rate on average: bursts will fill the backlog",
                r.backlog.write_rate_share.unwrap_or(0.0) * 100.0
            ),
        ));
    }
    if !r.loaded_rules_unchanged {
        out.push(Finding::new(
            "loaded_rules_changed",
            Severity::Info,
            "the loaded rules changed during the window (not by predict): the workload may differ".to_owned(),
        ));
    }
    out
}

impl PredictReport {
    #[must_use]
    pub fn human(&self) -> String {
        let mut s = String::new();
        let hook = match &self.syscall_hook {
            Some(SyscallHook::PerSyscall { syscalls }) => format!("{syscalls} per-syscall tracepoints"),
            Some(SyscallHook::RawSysExit { because }) => format!("the sys_exit raw tracepoint ({because})"),
            None => "no hook".into(),
        };
        let _ = writeln!(s, "Predicted over {:.1} s on {hook}; no rule was loaded", self.seconds);
        let _ = writeln!(
            s,
            "  {:>3} {:<28} {:>9} {:>9} {:>9} {:>12} {:>14}  rule",
            "pos", "key", "events/s", "undecided", "B/event", "records/h", "bytes/h"
        );
        for r in &self.rules {
            let events = r.events.map_or_else(|| "-".into(), |_| format!("{:.1}", r.events_per_second));
            let _ = writeln!(
                s,
                "  {:>3} {:<28} {:>9} {:>9} {:>9.0} {:>12.0} {:>14.0}  {}",
                r.position,
                r.key.as_deref().unwrap_or("-"),
                events,
                r.undecided,
                r.bytes_per_event,
                r.records_per_hour,
                r.bytes_per_hour,
                r.rule
            );
            for why in &r.not_evaluated {
                let _ = writeln!(s, "        not evaluated: {why}");
            }
        }
        if !self.keys.is_empty() {
            let _ = writeln!(s, "Keys, noisiest first:");
            for k in &self.keys {
                let bound = if k.lower_bound { " (at least)" } else { "" };
                let _ = writeln!(
                    s,
                    "  {:<28} {:>9.1} events/s {:>12.0} records/h {:>14.0} bytes/h{bound}",
                    k.key, k.events_per_second, k.records_per_hour, k.bytes_per_hour
                );
            }
        }
        let b = &self.backlog;
        let _ = writeln!(
            s,
            "Backlog: {:.0} records/s against auditd's {} ({}); backlog_limit {}{}",
            b.records_per_second,
            b.auditd_write_rate.records_per_second.map_or_else(|| "unknown rate".into(), |w| format!("{w:.0}/s")),
            b.auditd_write_rate.basis,
            b.backlog_limit,
            b.seconds_to_fill.map_or_else(String::new, |f| format!(", full in {f:.1} s"))
        );
        let r = &self.retention;
        let days = r.days.map_or_else(|| "unbounded at this rate".into(), |d| format!("{d:.1} days"));
        let _ = writeln!(
            s,
            "Retention: {} MB x {} logs ({}) at {:.0} bytes/day: {days}",
            r.max_log_file_mb, r.num_logs, r.max_log_file_action, r.log_bytes_per_day
        );
        for e in &self.estimates {
            let _ = writeln!(s, "Estimate: {e}");
        }
        for f in &self.findings {
            let _ = writeln!(s, "[{:?}] {}: {}", f.severity, f.id, f.message);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(clippy::cast_precision_loss, reason = "small test counts")]
    fn rule(position: usize, key: &str, events: u64, bytes_per_hour: f64, undecided: u64) -> RulePrediction {
        RulePrediction {
            position,
            rule: String::new(),
            location: None,
            key: Some(key.into()),
            events: Some(events),
            events_per_second: events as f64,
            undecided,
            records_per_event: 1.0,
            bytes_per_event: 1.0,
            bytes_by_type: BTreeMap::new(),
            records_per_hour: events as f64 * 3600.0,
            bytes_per_hour,
            not_evaluated: Vec::new(),
        }
    }

    #[test]
    fn keys_sum_their_rules_noisiest_first_and_undecided_makes_a_lower_bound() {
        let keys = key_totals(&[rule(1, "a", 10, 100.0, 0), rule(2, "b", 5, 900.0, 3), rule(3, "a", 1, 50.0, 0)]);
        assert_eq!(
            keys.iter().map(|k| (k.key.as_str(), k.events, k.lower_bound)).collect::<Vec<_>>(),
            [("b", 5, true), ("a", 11, false)]
        );
        let over = backlog(8192, 2000.0, WriteRate { records_per_second: Some(1000.0), basis: String::new() });
        assert_eq!(over.seconds_to_fill, Some(8.192));
        let under = backlog(8192, 500.0, WriteRate { records_per_second: Some(1000.0), basis: String::new() });
        assert_eq!((under.seconds_to_fill, under.write_rate_share), (None, Some(0.5)));
    }
}
