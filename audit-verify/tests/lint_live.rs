//! `audit-verify lint` on this host: what it says about the kernel must be what `auditctl -s` says, and
//! `--prove-shipping` with nothing shipping must fail. Read-only (a user message is a record, not a state
//! change); the state guard is held only as the lock that keeps other tests from changing the kernel
//! state being compared.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

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

/// Kills the fake API server's process group and reaps it when dropped, also when the test fails.
struct KillGroup(std::process::Child);

impl Drop for KillGroup {
    fn drop(&mut self) {
        // SAFETY: a signal to the process group we created.
        unsafe { libc::kill(-self.0.id().cast_signed(), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// A kube-apiserver in a mount namespace of its own, as in a container: the policy file it names exists
/// only there (on a tmpfs mounted in that namespace). Live lint must read the policy as the process sees
/// it (through /proc/PID/root) and evaluate it, not call it missing or read the host's path.
#[test]
fn a_containerised_apiservers_policy_is_read_as_it_sees_it() {
    use std::os::unix::process::CommandExt as _;
    let _lock = StateGuard::new(Environment::Host).unwrap();
    let dir = std::env::temp_dir().join(format!("av-k8s-ns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    // `sleep 60; :` keeps bash from exec'ing sleep, so the process named kube-apiserver stays.
    let script = format!(
        "mount -t tmpfs av-k8s {d} && printf '%s' \"$POLICY\" > {d}/policy.yaml && \
         exec -a kube-apiserver bash -c 'sleep 60; :' --audit-policy-file={d}/policy.yaml \
         --audit-log-path=/var/log/kubernetes/audit.log --audit-log-maxage=400"
    );
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c", &script])
        .env("POLICY", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id().cast_signed();
    let kill_group = KillGroup(child);
    let started = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(25));
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"kube-apiserver\0"))
    });
    assert!(started, "the fake kube-apiserver did not start");
    assert!(!dir.join("policy.yaml").exists(), "the policy is visible only inside the namespace");

    let (_, report) = lint(&[]);
    drop(kill_group);
    std::fs::remove_dir_all(&dir).unwrap();
    let found = ids(&report);
    assert!(!found.iter().any(|f| f == "k8s_policy_missing"), "{found:?}");
    let secrets = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "k8s_secrets_in_audit_log");
    let secrets = secrets.unwrap_or_else(|| panic!("the catch-all RequestResponse policy logs Secrets: {found:?}"));
    let at = secrets["location"].as_str().unwrap();
    assert!(at.starts_with(&format!("/proc/{pid}/root{d}/policy.yaml:")), "{at}");
}
