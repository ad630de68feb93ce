//! `status` reads the same numbers as `auditctl -s`, over netlink, and follows changes made through the
//! state guard.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::process::Command;

use audit_verify::{
    guard::{Environment, Setting, StateGuard},
    netlink::AuditSocket,
};
use common::{auditctl_rules, auditctl_status};
use serde_json::Value;

fn status_json() -> Value {
    let out = Command::new(common::binary()).args(["status", "--json"]).output().unwrap();
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
}

/// The fields both report, compared on one quiet system. Retried once: a record can be lost or queued
/// between the two reads even on a quiet host.
#[test]
fn json_numbers_equal_auditctl_on_a_quiet_system() {
    let fields = [
        "enabled",
        "failure",
        "pid",
        "rate_limit",
        "backlog_limit",
        "lost",
        "backlog",
        "backlog_wait_time",
        "backlog_wait_time_actual",
    ];
    let mut last = String::new();
    for _ in 0..3 {
        let ours = status_json();
        let theirs = auditctl_status();
        let differing: Vec<_> =
            fields.iter().filter(|f| ours["kernel"][**f].as_u64() != theirs.get(**f).copied()).collect();
        let rules = ours["loaded_rules"].as_u64() == Some(auditctl_rules().len() as u64);
        if differing.is_empty() && rules {
            return;
        }
        last = format!("differing {differing:?}, rules equal {rules}: ours {ours}, auditctl {theirs:?}");
    }
    panic!("{last}");
}

#[test]
fn enabled_and_backlog_limit_follow_guarded_changes() {
    let mut socket = AuditSocket::open().unwrap();
    let before = socket.status().unwrap();
    {
        let mut guard = StateGuard::new(Environment::Host).unwrap();
        let new_enabled = u32::from(before.enabled != 1);
        guard.set(Setting::BacklogLimit, before.backlog_limit + 17).unwrap();
        guard.set(Setting::Enabled, new_enabled).unwrap();
        let during = status_json();
        assert_eq!(during["kernel"]["backlog_limit"].as_u64(), Some(u64::from(before.backlog_limit) + 17));
        assert_eq!(during["kernel"]["enabled"].as_u64(), Some(u64::from(new_enabled)));
        let state = if new_enabled == 1 { "on" } else { "off" };
        assert_eq!(during["enabled_state"], state);
    }
    let after = status_json();
    assert_eq!(after["kernel"]["backlog_limit"].as_u64(), Some(u64::from(before.backlog_limit)));
    assert_eq!(after["kernel"]["enabled"].as_u64(), Some(u64::from(before.enabled)));
}

#[test]
fn capability_probe_reports_this_kernel_by_trying() {
    let status = status_json();
    let caps = &status["capabilities"];
    for available in ["tracepoint", "raw_tracepoint", "btf", "ring_buffer", "audit_multicast"] {
        assert_eq!(caps[available]["available"], true, "{available}: {}", caps[available]);
    }
    let kprobes_here = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    if kprobes_here {
        eprintln!("skipped the kprobe/fentry expectations: this kernel has kprobes (they are tested in the VM)");
        return;
    }
    // This machine's kernel has CONFIG_KPROBES off and no fentry: both must be reported, with a reason.
    for unavailable in ["kprobe", "fentry"] {
        assert_eq!(caps[unavailable]["available"], false, "{unavailable}");
        assert!(caps[unavailable]["reason"].as_str().is_some_and(|r| !r.is_empty()));
    }
    assert_eq!(caps["backend"], "tracepoint");
    assert_eq!(status["tampering"]["attachments"], Value::Array(vec![]));
}

/// A user message sent through the barrier reaches audit.log, and the barrier says where.
#[test]
fn the_write_barrier_reaches_the_log() {
    use audit_verify::barrier::{self, Barrier};
    let log = std::path::Path::new("/var/log/audit/audit.log");
    let start = std::fs::metadata(log).unwrap().len();
    let mut socket = AuditSocket::open().unwrap();
    let outcome = barrier::wait_written(&mut socket, log, start, std::time::Duration::from_secs(5)).unwrap();
    let Barrier::Reached { offset, .. } = outcome else { panic!("auditd did not write the barrier: {outcome:?}") };
    assert!(offset > start);
    let text = std::fs::read(log).unwrap();
    let written = String::from_utf8_lossy(&text[usize::try_from(start).unwrap()..usize::try_from(offset).unwrap()]);
    assert!(written.contains("audit-verify barrier"), "{written}");
}
