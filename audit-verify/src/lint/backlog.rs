//! Footgun 10: the kernel's backlog and auditd's dispatcher queue, where records are dropped with at most
//! a counter to show for it.

use super::{Facts, Sink, Skipped, auditd, facts::Plugin, shipping::Shipping};
use crate::{
    finding::{Finding, Severity},
    rules::parse::Command,
};

const N: u8 = 10;

/// Below this, a burst (a boot, a `find /`, a build) overflows the kernel queue. Common guidance (CIS,
/// STIG) is 8192.
pub const MIN_BACKLOG: u32 = 8192;
/// "Near the limit": a backlog this full now drops on the next burst.
const NEAR: f64 = 0.8;

pub fn check(facts: &Facts, shipping: &Shipping, sink: &mut Sink) {
    let fix_b = "-b 8192 (or more) in the rules, with --backlog_wait_time 60000";
    match &facts.kernel {
        Some(k) => {
            let at = |what: &str, v: u32| format!("live: {what} {v}");
            if k.lost > 0 {
                sink.add(
                    N,
                    Finding::new(
                        "records_lost",
                        Severity::High,
                        format!("the kernel has lost {} records since boot", k.lost),
                    )
                    .at(at("lost", k.lost))
                    .why("each lost record is an event that happened and left no trace")
                    .fix(fix_b),
                );
            }
            // 0 is "no limit" to the kernel (`if (audit_backlog_limit && ...)`): not small.
            if k.backlog_limit != 0 && k.backlog_limit < MIN_BACKLOG {
                sink.add(
                    N,
                    Finding::new(
                        "backlog_limit_small",
                        Severity::Medium,
                        format!("backlog_limit {} < {MIN_BACKLOG}", k.backlog_limit),
                    )
                    .at(at("backlog_limit", k.backlog_limit))
                    .why("a burst of events overflows a small queue and the overflow is dropped")
                    .fix(fix_b),
                );
                if k.backlog_wait_time == Some(0) {
                    sink.add(
                        N,
                        Finding::new(
                            "backlog_no_wait",
                            Severity::Medium,
                            "backlog_wait_time 0 with a small backlog_limit",
                        )
                        .at(at("backlog_wait_time", 0))
                        .why("with no wait, a full queue drops at once instead of slowing the caller")
                        .fix(fix_b),
                    );
                }
            }
            if k.backlog_limit > 0 && f64::from(k.backlog) >= NEAR * f64::from(k.backlog_limit) {
                sink.add(
                    N,
                    Finding::new(
                        "backlog_near_limit",
                        Severity::High,
                        format!("backlog {} of {} queued now", k.backlog, k.backlog_limit),
                    )
                    .at(at("backlog", k.backlog))
                    .why("auditd is not keeping up; the next burst is dropped")
                    .fix("find what floods (footgun 2), raise -b, check auditd's disk"),
                );
            }
        }
        None => sink.skip(Skipped::offline(N, "kernel lost / backlog / backlog_limit")),
    }
    files(facts, sink);
    dispatcher(facts, shipping, sink);
}

/// The `-b` and `--backlog_wait_time` the rules files set (what boot will load).
fn files(facts: &Facts, sink: &mut Sink) {
    let Some(source) = &facts.rules else { return };
    let setting = |name: &str| {
        source.lines.iter().rev().find_map(|l| match &l.command {
            Command::Set { setting, value } if *setting == name => Some((*value, l.location.to_string())),
            _ => None,
        })
    };
    match setting("backlog_limit") {
        Some((v, at)) if v != 0 && v < MIN_BACKLOG => sink.add(
            N,
            Finding::new("rules_backlog_small", Severity::Medium, format!("-b {v} < {MIN_BACKLOG}"))
                .at(at)
                .why("the kernel queue set at boot overflows on the first burst")
                .fix("-b 8192"),
        ),
        Some(_) => {}
        None => sink.add(
            N,
            Finding::new(
                "rules_backlog_unset",
                Severity::Medium,
                "no -b in the rules: the kernel default (64) applies",
            )
            .at(source.files.first().map_or(String::new(), |f| f.display().to_string()))
            .why("64 records are a fraction of a second of a busy host")
            .fix("-b 8192 in rules.d/10-base-config.rules"),
        ),
    }
    if let Some((0, at)) = setting("backlog_wait_time") {
        sink.add(
            N,
            Finding::new("rules_backlog_no_wait", Severity::Medium, "--backlog_wait_time 0")
                .at(at)
                .why("with no wait, a full queue drops at once instead of slowing the caller")
                .fix("--backlog_wait_time 60000"),
        );
    }
}

/// auditd's queue to its plugins: `q_depth` records, then `overflow_action`.
fn dispatcher(facts: &Facts, shipping: &Shipping, sink: &mut Sink) {
    if !facts.plugins.iter().any(Plugin::active)
        || auditd::absent(facts, sink, N, "dispatcher overflow_action, q_depth")
    {
        return;
    }
    let (action, _) = facts.conf("overflow_action", "SYSLOG");
    let severity = match action.to_ascii_lowercase().as_str() {
        "ignore" => Some(Severity::High),
        "syslog" if !shipping.targets.is_empty() => Some(Severity::Medium),
        _ => None,
    };
    if let Some(severity) = severity {
        sink.add(
            N,
            Finding::new(
                "dispatcher_overflow_drops",
                severity,
                format!("overflow_action = {action}: records the plugins cannot take are dropped"),
            )
            .at(facts.conf_location("overflow_action"))
            .why("a slow or stuck plugin (audisp-remote to a dead collector) silently loses the shipped copy")
            .fix("overflow_action = SINGLE or HALT where shipping is required, and q_depth ≥ 8192"),
        );
    }
    let (depth, _) = facts.conf("q_depth", "2000");
    if depth.parse::<u32>().is_ok_and(|d| d < 2000) {
        sink.add(
            N,
            Finding::new("q_depth_small", Severity::Medium, format!("q_depth = {depth}"))
                .at(facts.conf_location("q_depth"))
                .why("a small dispatcher queue overflows on bursts, and the overflow_action decides what is lost")
                .fix("q_depth = 8192 (or more)"),
        );
    }
}
