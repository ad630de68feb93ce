//! The state guard restores exactly what it found: on drop, on error, and when its process is killed by
//! SIGINT or SIGTERM mid-change. Real kernel, real rules.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    io::{BufRead as _, BufReader},
    process::{Command, Stdio},
};

use audit_verify::{
    guard::{self, Environment, GuardError, Setting, Snapshot, StateGuard},
    netlink::AuditSocket,
};
use common::{auditctl_rules, auditctl_status};

/// The settings the guard owns, plus the rules, as auditctl reports them.
fn observed() -> (Vec<(String, u64)>, Vec<String>) {
    let status = auditctl_status();
    let settings = ["enabled", "failure", "rate_limit", "backlog_limit", "backlog_wait_time"]
        .iter()
        .map(|k| (k.to_string(), status[*k]))
        .collect();
    (settings, auditctl_rules())
}

#[test]
fn changes_are_undone_on_drop() {
    let before = observed();
    {
        let mut guard = StateGuard::new(Environment::Host).unwrap();
        guard.set(Setting::BacklogLimit, 321).unwrap();
        guard.set(Setting::RateLimit, 55).unwrap();
        guard.set(Setting::BacklogWaitTime, 0).unwrap();
        guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "uname", "-k", "av-drop"]).unwrap();
        let during = auditctl_status();
        assert_eq!((during["backlog_limit"], during["rate_limit"], during["backlog_wait_time"]), (321, 55, 0));
        assert!(auditctl_rules().iter().any(|r| r.contains("av-drop")));
    }
    assert_eq!(observed(), before);
}

#[test]
fn changes_are_undone_when_an_error_unwinds_through_the_guard() {
    let before = observed();
    let result: Result<(), GuardError> = (|| {
        let mut guard = StateGuard::new(Environment::Host)?;
        guard.set(Setting::BacklogLimit, 999)?;
        guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "no_such_syscall"])?;
        Ok(())
    })();
    assert!(matches!(result, Err(GuardError::Command { .. })), "{result:?}");
    assert_eq!(observed(), before);
}

#[test]
fn restore_reinstates_deleted_rules_exactly() {
    let before = observed();
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.run_auditctl(&["-w", "/etc/hosts", "-p", "wa", "-k", "av-keep"]).unwrap();
    guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b32", "-S", "uname", "-k", "av-keep32"]).unwrap();
    // A string field (exe) in the middle of the rule data.
    let exe = ["-a", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", "exe=/usr/bin/true", "-k", "av-exe"];
    guard.run_auditctl(&exe).unwrap();
    let mut socket = AuditSocket::open().unwrap();
    let with_rules = Snapshot::take(&mut socket).unwrap();
    let text = auditctl_rules();
    assert_eq!(text.len(), before.1.len() + 3);

    guard.delete_all_rules().unwrap();
    assert!(auditctl_rules().is_empty());
    guard::restore(&mut socket, &with_rules).unwrap();
    assert_eq!(auditctl_rules(), text, "the same rules, in the same order");

    drop(guard);
    assert_eq!(observed(), before);
}

#[test]
fn lock_and_panic_are_refused_on_a_host_and_nothing_changes() {
    let before = observed();
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let err = guard.set(Setting::Enabled, 2).unwrap_err();
    assert!(matches!(err, GuardError::Forbidden { .. }), "{err}");
    let err = guard.set(Setting::Failure, 2).unwrap_err();
    assert!(matches!(err, GuardError::Forbidden { .. }), "{err}");
    let err = guard.run_auditctl(&["-e", "2"]).unwrap_err();
    assert!(matches!(err, GuardError::Forbidden { .. }), "{err}");
    let dir = std::env::temp_dir().join(format!("av-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("locks.rules");
    std::fs::write(&file, "-D\n-w /etc/hosts -p wa\n-e 2\n").unwrap();
    let err = guard.run_auditctl(&["-R", file.to_str().unwrap()]).unwrap_err();
    assert!(err.to_string().contains("locks.rules:3"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(auditctl_status()["enabled"], before.0[0].1, "still not locked");
    drop(guard);
    assert_eq!(observed(), before);
}

fn killed_mid_change_restores(signal: i32) {
    let before = observed();
    let mut child = Command::new(common::example("hold_audit_change"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning hold_audit_change (built by cargo test)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "changed");
    let during = observed();
    assert_ne!(during, before, "the helper changed nothing");
    assert!(during.1.iter().any(|r| r.contains("audit-verify-hold")));
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id().cast_signed(), signal) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + signal), "exits as the signal would have: {status}");
    assert_eq!(observed(), before);
}

#[test]
fn sigint_mid_change_restores_rules_and_settings() {
    killed_mid_change_restores(libc::SIGINT);
}

#[test]
fn sigterm_mid_change_restores_rules_and_settings() {
    killed_mid_change_restores(libc::SIGTERM);
}

#[test]
fn sighup_mid_change_restores_rules_and_settings() {
    killed_mid_change_restores(libc::SIGHUP);
}
