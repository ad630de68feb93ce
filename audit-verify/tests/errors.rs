//! The tool fails with one line naming the cause, exit code 2, never a panic; a broken auditd.conf is a
//! finding that names the file and line.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(common::binary()).args(args).output().unwrap()
}

#[test]
fn not_root_is_one_line_and_exit_2() {
    // setpriv (util-linux) drops to nobody with no capabilities.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(common::binary())
        .arg("status")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("run as root"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn an_unreadable_auditd_conf_is_a_finding_naming_the_file() {
    let out = run(&["status", "--json", "--auditd-conf", "/nonexistent/auditd.conf"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = status["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "auditd_config_unreadable")
        .unwrap_or_else(|| panic!("no finding: {status}"));
    assert!(finding["message"].as_str().unwrap().contains("/nonexistent/auditd.conf"));
}

#[test]
fn a_malformed_auditd_conf_names_file_and_line() {
    let dir = std::env::temp_dir().join(format!("av-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("auditd.conf");
    std::fs::write(&conf, "log_file = /var/log/audit/audit.log\n\u{1}\u{2}binary junk\n").unwrap();
    let out = run(&["status", "--json", "--auditd-conf", conf.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = status["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "auditd_config_unreadable")
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(message.contains("auditd.conf:2:"), "{status}");
}

#[test]
fn bad_arguments_are_a_usage_error_not_a_panic() {
    let out = run(&["count-syscalls"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("either --pid"));
}

/// auditd is stopped for real and started again; the kernel must show no daemon meanwhile.
#[test]
fn auditd_not_running_is_a_high_finding() {
    // Holds the state lock: no other test may use auditd meanwhile.
    let _guard = audit_verify::guard::StateGuard::new(audit_verify::guard::Environment::Host).unwrap();
    let pid = common::auditctl_status()["pid"];
    assert_ne!(pid, 0, "auditd must be running for this test (cargo xtask setup starts it)");
    // SAFETY: signalling the audit daemon, which we restart below.
    unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGTERM) };
    let stopped = common::wait_until(|| common::auditctl_status()["pid"] == 0);
    let out = run(&["status", "--json"]);
    let restarted =
        common::auditd().status().unwrap().success() && common::wait_until(|| common::auditctl_status()["pid"] != 0);
    assert!(stopped, "auditd did not stop");
    assert!(restarted, "auditd did not start again");
    assert_eq!(out.status.code(), Some(1), "a high finding exits 1");
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status["findings"].as_array().unwrap().iter().any(|f| f["id"] == "auditd_not_running"), "{status}");
}
