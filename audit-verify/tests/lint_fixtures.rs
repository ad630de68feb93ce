//! `audit-verify lint --root` on the fixture trees of tests/fixtures/lint: for each footgun, a failing tree
//! that breaks only that footgun and a passing tree; the Kubernetes policies of the documentation and of
//! GKE; and bad input, which must give one clear error line naming the file (and line), exit 2.
//! Offline: nothing here reads or changes kernel state.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{path::PathBuf, process::Command};

use common::lint_run::{fixtures, lint, tree};

/// (tree, footgun, extra args, ids that must be reported with a location each must end with).
type Failing = (&'static str, u64, &'static [&'static str], &'static [(&'static str, &'static str)]);

const FAILING: &[Failing] = &[
    ("01-shipping/fail", 1, &[], &[("no_offhost_shipping", "etc/audit/plugins.d")]),
    (
        "02-flood/fail",
        2,
        &[],
        &[("broad_rule_floods", "rules.d/30-rules.rules:2"), ("broad_rule_floods", "rules.d/30-rules.rules:4")],
    ),
    (
        "03-disk-full/fail",
        3,
        &[],
        &[
            ("disk_action_unsafe", "auditd.conf:19"),
            ("disk_action_unsafe", "auditd.conf:18"),
            ("space_left_no_warning_time", "auditd.conf:14"),
            // space_left below admin_space_left is also a file auditd refuses (sanity_check).
            ("auditd_refuses_config", "etc/audit/auditd.conf"),
        ],
    ),
    ("04-immutable/fail", 4, &[], &[("immutable_missing", "rules.d/99-finalize.rules:2")]),
    ("05-k8s-apiserver/fail", 5, &[], &[("k8s_audit_disabled", "manifests/kube-apiserver.yaml")]),
    ("06-k8s-secrets/fail", 6, &[], &[("k8s_secrets_in_audit_log", "audit-policy.yaml:6")]),
    (
        "07-untested/fail",
        7,
        &[],
        &[("syntax_error", "rules.d/30-rules.rules:4"), ("errors_hidden", "rules.d/10-base.rules:5")],
    ),
    ("08-retention/fail", 8, &["--framework", "pci-dss"], &[("retention_too_short", "auditd.conf:10")]),
    (
        "09-correlation/fail",
        9,
        &[],
        &[("log_format_not_enriched", "auditd.conf:6"), ("name_format_none", "auditd.conf:12")],
    ),
    (
        "10-backlog/fail",
        10,
        &[],
        &[
            ("rules_backlog_small", "rules.d/10-base.rules:2"),
            ("rules_backlog_no_wait", "rules.d/10-base.rules:3"),
            ("dispatcher_overflow_drops", "auditd.conf:22"),
            ("q_depth_small", "auditd.conf:21"),
        ],
    ),
];

#[test]
fn each_failing_tree_fails_on_its_footgun_only_at_the_right_lines() {
    for (name, footgun, extra, expected) in FAILING {
        let root = tree(name);
        // Mutable rules are medium: judge every tree at medium.
        let mut args = vec!["--root", &root, "--fail-on", "medium"];
        args.extend_from_slice(extra);
        let run = lint(&args);
        assert_eq!(run.code, 1, "{name}: {run:?}");
        for (id, at) in *expected {
            assert!(
                run.find(id).iter().any(|f| f["location"].as_str().unwrap_or("").ends_with(at)),
                "{name}: no {id} at …{at}: {:#?}",
                run.findings
            );
        }
        // The tree breaks one footgun; 08 also ships nothing, which is what makes its retention short.
        let companion =
            |(n, id): &(u64, String)| (*footgun == 8 && *n == 1) || (*footgun == 3 && id == "auditd_refuses_config");
        let others: Vec<_> = run.serious().into_iter().filter(|f| f.0 != *footgun && !companion(f)).collect();
        assert!(others.is_empty(), "{name}: findings of other footguns: {others:?}");
    }
}

#[test]
fn each_passing_tree_is_clean_even_at_medium() {
    for n in ["01-shipping", "02-flood", "03-disk-full", "04-immutable", "05-k8s-apiserver", "06-k8s-secrets"]
        .into_iter()
        .chain(["07-untested", "08-retention", "09-correlation", "10-backlog"])
    {
        let root = tree(&format!("{n}/pass"));
        let run = lint(&["--root", &root, "--framework", "pci-dss", "--fail-on", "medium"]);
        assert_eq!(run.code, 0, "{n}/pass: {:#?}", run.serious());
    }
}

#[test]
fn every_finding_carries_its_number_location_why_and_fix() {
    for (name, ..) in FAILING {
        let run = lint(&["--root", &tree(name), "--framework", "pci-dss"]);
        for f in &run.findings {
            for key in ["id", "severity", "location", "message", "why", "fix"] {
                assert!(f[key].as_str().is_some_and(|s| !s.is_empty()), "{name}: {key} missing in {f}");
            }
            assert!((1..=10).contains(&f["footgun"].as_u64().unwrap()), "{f}");
        }
    }
}

#[test]
fn offline_says_what_it_skipped() {
    let run = lint(&["--root", &tree("04-immutable/pass")]);
    let skipped: Vec<(u64, &str)> =
        run.skipped.iter().map(|s| (s["footgun"].as_u64().unwrap(), s["reason"].as_str().unwrap())).collect();
    for footgun in [4, 7, 9, 10] {
        assert!(
            skipped.iter().any(|(n, r)| *n == footgun && r.contains("offline")),
            "footgun {footgun} not skipped: {skipped:?}"
        );
    }
    assert!(skipped.iter().any(|(n, r)| *n == 7 && r.contains("check` proves")), "{skipped:?}");
    assert!(run.findings.iter().all(|f| f["id"] != "kernel_rules_mutable"), "offline must not judge the kernel");
}

fn policy(name: &str) -> String {
    fixtures().join("k8s-policies").join(name).display().to_string()
}

/// The Kubernetes documentation's example logs Secrets (and all but kube-system `ConfigMaps`) at Metadata
/// only: no high finding on footgun 6. It logs kube-system `ConfigMap` changes with their bodies and RBAC at
/// Metadata: medium, as a reviewer would note.
#[test]
fn k8s_docs_example_policy_passes_the_secrets_check() {
    let run = lint(&["--root", &tree("04-immutable/pass"), "--k8s-policy", &policy("k8s-docs-example.yaml")]);
    assert_eq!(run.code, 0, "{run:?}");
    let six: Vec<_> = run.findings.iter().filter(|f| f["footgun"] == 6).collect();
    assert!(six.iter().all(|f| f["severity"] == "medium"), "{six:#?}");
    let configmaps = run.find("k8s_secrets_in_audit_log");
    assert_eq!(configmaps.len(), 1, "{configmaps:#?}");
    assert!(configmaps[0]["message"].as_str().unwrap().starts_with("configmaps create,update,patch logged at Request"));
    assert!(configmaps[0]["location"].as_str().unwrap().ends_with("k8s-docs-example.yaml:14"));
    assert_eq!(run.find("k8s_rbac_underlogged").len(), 4);
    assert!(run.find("k8s_exec_not_logged").is_empty());
}

/// GKE's configure-helper.sh policy: Metadata for secrets, configmaps, tokenreviews and `TokenRequest`,
/// `RequestResponse` for writes to known groups (RBAC included), exec logged: nothing to report.
#[test]
fn gke_configure_helper_policy_passes() {
    let run = lint(&["--root", &tree("04-immutable/pass"), "--k8s-policy", &policy("gke-configure-helper.yaml")]);
    assert_eq!(run.ids(6), Vec::<&str>::new(), "{:#?}", run.findings);
}

#[test]
fn a_leading_request_response_catch_all_fails_at_its_line() {
    let run = lint(&["--root", &tree("04-immutable/pass"), "--k8s-policy", &policy("catch-all-first.yaml")]);
    assert_eq!(run.code, 1);
    let leaks = run.find("k8s_secrets_in_audit_log");
    for what in ["secrets ", "tokenreviews.authentication.k8s.io ", "serviceaccounts/token ", "configmaps "] {
        let f =
            leaks.iter().find(|f| f["message"].as_str().unwrap().starts_with(what)).unwrap_or_else(|| panic!("{what}"));
        assert!(f["location"].as_str().unwrap().ends_with("catch-all-first.yaml:6"), "{f}");
        assert!(f["message"].as_str().unwrap().ends_with("logged at RequestResponse"), "{f}");
    }
}

#[test]
fn an_empty_policy_fails() {
    let run = lint(&["--root", &tree("04-immutable/pass"), "--k8s-policy", &policy("empty.yaml")]);
    assert_eq!((run.code, run.ids(6)), (1, vec!["k8s_policy_empty"]));
}

#[test]
fn bad_policies_are_one_error_line_naming_file_and_line() {
    let root = tree("04-immutable/pass");
    let run = lint(&["--root", &root, "--k8s-policy", &policy("not-yaml.yaml")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not-yaml.yaml:6: not YAML"), "{}", run.stderr);
    let run = lint(&["--root", &root, "--k8s-policy", &policy("not-a-policy.yaml")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not-a-policy.yaml:1: not an audit Policy"), "{}", run.stderr);
    let run = lint(&["--root", &root, "--k8s-policy", "/nonexistent/policy.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read /nonexistent/policy.yaml"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
}

/// A copy of a passing tree with one file replaced, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn from(name: &str, test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("av-lint-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let status = Command::new("cp").arg("-a").arg(tree(name)).arg(&dir).status().unwrap();
        assert!(status.success());
        Self(dir)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A line auditd refuses is a finding (auditd will not start), not a failure of lint; a missing
/// auditd.conf is what the tree lacks; an unreadable one is one error line, the OS error once.
#[test]
fn bad_configuration_is_a_finding_at_its_line_and_unreadable_is_one_error_line() {
    let t = TempTree::from("04-immutable/pass", "bad-conf");
    let conf = t.0.join("etc/audit/auditd.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("disk_full_action halt\n");
    std::fs::write(&conf, &text).unwrap();
    let run = lint(&["--root", t.0.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    let line = text.lines().count();
    let refused = run.find("auditd_refuses_config");
    assert_eq!(refused.len(), 1, "{:#?}", run.findings);
    assert_eq!(refused[0]["location"], format!("{}:{line}", conf.display()));
    assert!(
        refused[0]["message"].as_str().unwrap().starts_with("auditd will not start with this file: Missing equal sign")
    );

    std::fs::remove_file(&conf).unwrap();
    let run = lint(&["--root", t.0.to_str().unwrap()]);
    assert_ne!(run.code, 2, "{run:?}");
    assert!(run.skipped.iter().any(|s| s["reason"].as_str().unwrap().starts_with("absent from the tree")), "{run:?}");

    std::fs::create_dir(&conf).unwrap();
    let run = lint(&["--root", t.0.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&format!("cannot read {}", conf.display())), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(run.stderr.matches("Is a directory").count(), 1, "{}", run.stderr);

    let run = lint(&["--root", "/nonexistent-root"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/nonexistent-root: not a directory"), "{}", run.stderr);
}

#[test]
fn a_manifest_that_is_not_a_pod_names_the_file() {
    let t = TempTree::from("05-k8s-apiserver/pass", "not-a-pod");
    let manifest = t.0.join("etc/kubernetes/manifests/kube-apiserver.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: etcd, command: [etcd]}]\n")
        .unwrap();
    let run = lint(&["--root", t.0.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("kube-apiserver.yaml:1: no kube-apiserver container"), "{}", run.stderr);
}

/// The API server's policy path is read under --root; a missing one is a finding, not a crash.
#[test]
fn a_policy_named_by_the_manifest_but_missing_is_high() {
    let t = TempTree::from("05-k8s-apiserver/pass", "policy-missing");
    std::fs::remove_file(t.0.join("etc/kubernetes/audit-policy.yaml")).unwrap();
    let run = lint(&["--root", t.0.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    let f = run.find("k8s_policy_missing");
    assert_eq!(f.len(), 1, "{:#?}", run.findings);
    assert!(f[0]["location"].as_str().unwrap().contains("kube-apiserver.yaml:"), "{}", f[0]);
}
