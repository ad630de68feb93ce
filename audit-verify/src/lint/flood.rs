//! Footgun 2: a broad rule (every execve, `-S all`, hot syscalls) with no filter on who or what floods the
//! log: the disk fills, the backlog overflows, and the records that matter rotate away.
//!
//! The volume comes from a prediction when `lint --predict` made one (the rule evaluated in the kernel on
//! this host's workload, not loaded); else from the log already there (events carrying the rule's key per
//! hour) when the key was seen; otherwise from a stated heuristic, labelled as such.

use super::{Facts, Sink, logstats::human_bytes};
use crate::{
    finding::{Finding, Severity},
    rules::{Action, FilterList, Rule, fields::id, parse::Command},
    syscalls::{self, Abi},
};

const N: u8 = 2;

/// Fields that narrow a rule to someone or something: auid, uid, euid, suid, fsuid, gid, egid, pid, ppid,
/// exe, path/dir.
const NARROWING: &[u32] =
    &[id::LOGINUID, id::UID, id::EUID, 3, 4, id::GID, id::EGID, 0, 18, id::EXE, id::WATCH, id::DIR];

/// Syscalls a busy host makes thousands of times a second.
const HOT: &[&str] = &[
    "read",
    "write",
    "openat",
    "open",
    "close",
    "newfstatat",
    "fstat",
    "stat",
    "lstat",
    "mmap",
    "futex",
    "poll",
    "epoll_wait",
    "recvfrom",
    "sendto",
    "clock_gettime",
    "getpid",
    "lseek",
    "ioctl",
];

/// Heuristic rates when the log has nothing for a rule (per hour, for a moderately busy server).
const EXEC_PER_HOUR: f64 = 3_600.0; // one exec a second
const HOT_PER_HOUR: f64 = 3_600_000.0; // a thousand hot syscalls a second
/// SYSCALL + EXECVE + CWD + 2 PATH + PROCTITLE, raw format.
const BYTES_PER_EXEC_EVENT: f64 = 1_500.0;
const BYTES_PER_EVENT: f64 = 800.0;

pub fn check(facts: &Facts, sink: &mut Sink) {
    let Some(source) = &facts.rules else { return };
    for line in &source.lines {
        let Command::Add { rule, .. } = &line.command else { continue };
        if rule.action != Action::Always || rule.list != FilterList::Exit {
            continue;
        }
        if rule.fields.iter().any(|f| NARROWING.contains(&f.id)) {
            continue;
        }
        let Some((what, severity, heuristic)) = breadth(rule) else { continue };
        let (events, bytes, basis) =
            predicted(facts, &line.location).unwrap_or_else(|| estimate(facts, rule, heuristic));
        sink.add(
            N,
            Finding::new(
                "broad_rule_floods",
                severity,
                format!(
                    "{what} with no auid/uid/exe filter: ~{events:.0} events/h, ~{}/h ({basis})",
                    human_bytes(bytes)
                ),
            )
            .at(&line.location)
            .rule(rule)
            .why("a flood fills the disk and the backlog, and the records that matter are rotated away or dropped")
            .fix("narrow it: -F auid>=1000 -F auid!=unset (people, not daemons), -F exe=, or a -F dir=/path"),
        );
    }
}

/// What makes a rule broad, how bad, and its heuristic rate per hour.
fn breadth(rule: &Rule) -> Option<(String, Severity, f64)> {
    if rule.all_syscalls() {
        return Some(("-S all".into(), Severity::High, HOT_PER_HOUR * 10.0));
    }
    let abi = match rule.field(id::ARCH).map(|f| &f.value) {
        Some(crate::rules::Value::Num(crate::rules::fields::ARCH_B32)) => Abi::B32,
        _ => Abi::B64,
    };
    let names: Vec<&str> = rule.syscalls().filter_map(|nr| syscalls::name(abi, nr)).collect();
    let hot: Vec<&str> = names.iter().copied().filter(|n| HOT.contains(n)).collect();
    if !hot.is_empty() {
        return Some((format!("hot syscalls ({})", hot.join(",")), Severity::High, HOT_PER_HOUR));
    }
    let exec: Vec<&str> = names.iter().copied().filter(|n| matches!(*n, "execve" | "execveat")).collect();
    if !exec.is_empty() {
        return Some((format!("every {}", exec.join(",")), Severity::Medium, EXEC_PER_HOUR));
    }
    None
}

/// The rule's predicted events and bytes per hour, where `lint --predict` evaluated it.
fn predicted(facts: &Facts, location: &crate::rules::Location) -> Option<(f64, f64, String)> {
    let report = facts.prediction.as_ref()?;
    let at = location.to_string();
    let rule = report.rules.iter().find(|r| r.location.as_deref() == Some(at.as_str()))?;
    rule.events?;
    let undecided =
        if rule.undecided > 0 { format!(", at least: {} events undecided", rule.undecided) } else { String::new() };
    Some((
        rule.events_per_second * 3600.0,
        rule.bytes_per_hour,
        format!(
            "predicted: evaluated in the kernel on this host's workload for {:.0} s, not loaded{undecided}",
            report.seconds
        ),
    ))
}

fn estimate(facts: &Facts, rule: &Rule, heuristic: f64) -> (f64, f64, String) {
    let log = facts.log.as_ref();
    if let (Some(key), Some(log)) = (rule.key(), log)
        && let (Some(events), Some(per_event)) = (log.key_events_per_hour(key), log.bytes_per_event())
    {
        let hours = log.span_secs().unwrap_or(0.0) / 3600.0;
        return (events, events * per_event, format!("measured: key {key:?} over {hours:.1} h of the audit log"));
    }
    let per_event = if heuristic == EXEC_PER_HOUR { BYTES_PER_EXEC_EVENT } else { BYTES_PER_EVENT };
    (
        heuristic,
        heuristic * per_event,
        format!("heuristic: {heuristic:.0} events/h × {per_event:.0} B, no history for this rule's key in the log"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse::rule;

    /// A prediction for the rule's own line replaces the heuristic, and says it is one.
    #[test]
    fn a_prediction_is_used_where_one_exists() {
        use crate::{
            measure::report::Retention,
            predict::{
                PredictReport,
                report::{BacklogProjection, Rates, RulePrediction},
                write_rate::WriteRate,
            },
        };
        let root = std::env::temp_dir().join(format!("audit-verify-flood-{}", std::process::id()));
        let rules_d = root.join("etc/audit/rules.d");
        std::fs::create_dir_all(&rules_d).unwrap();
        let file = rules_d.join("10-exec.rules");
        std::fs::write(&file, "-a always,exit -F arch=b64 -S execve -k exec\n").unwrap();
        let mut facts = Facts::offline(&root, &super::super::facts::Options::default()).unwrap();
        let run = |facts: &Facts| {
            let mut sink = Sink::default();
            check(facts, &mut sink);
            sink.findings.into_iter().find(|f| f.id == "broad_rule_floods").unwrap().message
        };
        assert!(run(&facts).contains("heuristic"), "{}", run(&facts));
        let predicted = RulePrediction {
            position: 1,
            rule: String::new(),
            location: Some(format!("{}:1", file.display())),
            key: Some("exec".into()),
            events: Some(120),
            events_per_second: 12.0,
            undecided: 0,
            records_per_event: 6.0,
            bytes_per_event: 1000.0,
            bytes_by_type: std::collections::BTreeMap::new(),
            records_per_hour: 259_200.0,
            bytes_per_hour: 43_200_000.0,
            not_evaluated: Vec::new(),
        };
        facts.prediction = Some(PredictReport {
            seconds: 10.0,
            syscall_hook: None,
            rules: vec![predicted],
            keys: Vec::new(),
            total: Rates::default(),
            backlog: BacklogProjection {
                backlog_limit: 8192,
                records_per_second: 72.0,
                auditd_write_rate: WriteRate::skipped("test"),
                write_rate_share: None,
                seconds_to_fill: None,
            },
            retention: Retention {
                log_bytes_per_day: 0.0,
                max_log_file_mb: 8,
                num_logs: 5,
                max_log_file_action: "ROTATE".into(),
                days: None,
            },
            estimates: Vec::new(),
            loaded_rules_unchanged: true,
            findings: Vec::new(),
        });
        let message = run(&facts);
        let _ = std::fs::remove_dir_all(&root);
        assert!(
            message.contains("~43200 events/h") && message.contains("predicted: evaluated in the kernel"),
            "{message}"
        );
    }

    #[test]
    fn broad_and_narrow() {
        assert_eq!(breadth(&rule("-a always,exit -F arch=b64 -S all")).unwrap().1, Severity::High);
        assert_eq!(breadth(&rule("-a always,exit -F arch=b64 -S execve -k exec")).unwrap().1, Severity::Medium);
        assert_eq!(breadth(&rule("-a always,exit -F arch=b64 -S openat -k o")).unwrap().1, Severity::High);
        assert!(breadth(&rule("-a always,exit -F arch=b64 -S sethostname -k host")).is_none());
    }
}
