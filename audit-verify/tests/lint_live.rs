//! `audit-verify lint` on this host: what it says about the kernel must be what `auditctl -s` says, and
//! `--prove-shipping` with nothing shipping must fail. Read-only (a user message is a record, not a state
//! change); the state guard is held only as the lock that keeps other tests from changing the kernel
//! state being compared.

mod common;

use std::process::Command;

use audit_verify::guard::{Environment, StateGuard};
use serde_json::Value;

fn lint(args: &[&str]) -> (i32, Value) {
    let out = Command::new(common::binary()).arg("lint").arg("--json").args(args).output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (out.status.code().unwrap(), report)
}

fn ids(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn live_findings_follow_the_kernel() {
    let _lock = StateGuard::new(Environment::Host).unwrap();
    let kernel = common::auditctl_status();
    let (code, report) = lint(&[]);
    assert!(code == 0 || code == 1, "{report}");
    assert_eq!(report["mode"], "live");
    let found = ids(&report);
    let has = |id: &str| found.iter().any(|f| f == id);
    assert_eq!(has("kernel_rules_mutable"), kernel["enabled"] != 2, "{found:?} vs {kernel:?}");
    assert_eq!(has("backlog_limit_small"), kernel["backlog_limit"] < 8192, "{found:?} vs {kernel:?}");
    assert_eq!(has("records_lost"), kernel["lost"] > 0, "{found:?} vs {kernel:?}");
    if let Some(f) = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "backlog_limit_small") {
        assert_eq!(f["location"], format!("live: backlog_limit {}", kernel["backlog_limit"]));
    }
    // Live, nothing is skipped for being offline.
    let skipped = report["skipped"].as_array().unwrap();
    assert!(skipped.iter().all(|s| !s["reason"].as_str().unwrap().contains("offline")), "{skipped:?}");
}

#[test]
fn proving_shipping_with_no_remote_plugin_fails() {
    let _lock = StateGuard::new(Environment::Host).unwrap();
    let conf = std::fs::read_to_string("/etc/audit/plugins.d/au-remote.conf").unwrap_or_default();
    if conf.lines().any(|l| l.replace(' ', "") == "active=yes") {
        eprintln!("skipped: audisp-remote is active on this host; lint_shipping covers the proof");
        return;
    }
    let (code, report) = lint(&["--prove-shipping", "--prove-timeout", "2"]);
    assert_eq!(code, 1);
    let proof = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "shipping_not_proven").cloned();
    let proof = proof.unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!((proof["severity"].as_str(), proof["footgun"].as_u64()), (Some("high"), Some(1)));
}

#[test]
fn prove_shipping_is_refused_offline() {
    let out = Command::new(common::binary()).args(["lint", "--prove-shipping", "--root", "/"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
