//! `audit-verify lint`'s Kubernetes verdicts (footguns 5 and 6) against what kube-apiserver actually does:
//! - the real public policies of ../shared/corpus/k8s (each PROVENANCE.txt says where it comes from),
//!   every verdict checked by hand against the API server's source (reader.go, validation.go,
//!   checker.go, filters/audit.go) and written down with the reason;
//! - the semantics lint used to get wrong, on fixtures of tests/fixtures/lint/k8s-semantics;
//! - a kube-bench parity table (CIS Kubernetes 1.2.16–1.2.19 and 3.2.1) on the manifests of
//!   tests/fixtures/lint/k8s-bench, each difference with its reason.
//!
//! Offline (`--root`): nothing here reads or changes kernel state.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/k8s");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lint").canonicalize().unwrap()
}

/// A finding as (severity, id, location's file name and line, message).
type Verdict = (String, String, String, String);

#[derive(Debug)]
struct Run {
    code: i32,
    findings: Vec<Value>,
    stderr: String,
}

impl Run {
    /// Footgun `n`'s findings, sorted.
    fn of(&self, n: u64) -> Vec<Verdict> {
        let s = |f: &Value, k: &str| f[k].as_str().unwrap_or_default().to_owned();
        let mut out: Vec<_> = self
            .findings
            .iter()
            .filter(|f| f["footgun"] == n)
            .map(|f| {
                let location = s(f, "location");
                let file = location.rsplit('/').next().unwrap_or_default().to_owned();
                (s(f, "severity"), s(f, "id"), file, s(f, "message"))
            })
            .collect();
        out.sort();
        out
    }
}

fn lint(args: &[&str]) -> Run {
    let out = Command::new(common::binary()).arg("lint").arg("--json").args(args).output().unwrap();
    let code = out.status.code().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if code == 2 {
        return Run { code, findings: Vec::new(), stderr };
    }
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    Run { code, findings: report["findings"].as_array().cloned().unwrap_or_default(), stderr }
}

/// A host tree: the reviewed auditd tree of 04-immutable/pass with `overlay` copied over it, removed on
/// drop.
struct Tree(PathBuf);

impl Tree {
    fn with(overlay: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("av-lint-k8s-{}-{overlay}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let copy = |from: PathBuf, to: &Path| {
            let status = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
            assert!(status.success());
        };
        copy(fixtures().join("04-immutable/pass"), &dir);
        copy(fixtures().join(overlay).join("."), &dir);
        Self(dir)
    }

    fn root(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lint_policy(path: &str) -> Run {
    lint(&["--root", fixtures().join("04-immutable/pass").to_str().unwrap(), "--k8s-policy", path])
}

type Expected = &'static [(&'static str, &'static str, &'static str, &'static str)];

const RBAC: [&str; 4] = ["clusterrolebindings", "clusterroles", "rolebindings", "roles"];

/// The four RBAC findings of a policy whose rule `at` gives RBAC writes `level`.
fn rbac(at: &str, level: &str) -> Vec<Verdict> {
    let (severity, verbs) =
        if level == "None" { ("high", "create,update,patch,delete") } else { ("medium", "create,update,patch") };
    RBAC.iter()
        .map(|r| (severity.into(), "k8s_rbac_underlogged".into(), at.into(), format!("{r} {verbs} logged at {level}")))
        .collect()
}

fn exec_unlogged(at: &str) -> Vec<Verdict> {
    ["attach", "exec", "portforward"]
        .iter()
        .map(|s| ("high".into(), "k8s_exec_not_logged".into(), at.into(), format!("pods/{s} create,get not logged")))
        .collect()
}

fn owned(e: Expected) -> Vec<Verdict> {
    e.iter().map(|(a, b, c, d)| ((*a).into(), (*b).into(), (*c).into(), (*d).into())).collect()
}

const REFUSED_V1BETA1: &str = "kube-apiserver refuses this policy and will not start: unknown group version field audit.k8s.io/v1beta1, Kind=Policy in policy: kube-apiserver (1.24 and later) reads only audit.k8s.io/v1 Policy";

/// Every public policy of the corpus, with footgun 6's verdicts exactly, each the API server's behaviour:
#[test]
#[expect(clippy::too_many_lines, reason = "a table of the corpus' policies and their verdicts")]
fn the_public_policies_get_the_api_server_s_verdicts() {
    const ALL_VERBS: &str = "get,list,create,update,patch,delete,deletecollection";
    let writes = "create,update,patch,delete,deletecollection";
    let cases: Vec<(&str, Vec<Verdict>)> = vec![
        // aks-engine: secrets at Request (line 30): create/update/patch bodies hold the data; ConfigMaps at
        // Request in kube-system (25) and through the core-group Request rule (34); RBAC falls to the
        // Metadata catch-all (38).
        ("aks-engine/audit-policy.yaml", {
            let mut e = owned(&[
                (
                    "high",
                    "k8s_secrets_in_audit_log",
                    "audit-policy.yaml:30",
                    "secrets create,update,patch logged at Request",
                ),
                (
                    "medium",
                    "k8s_secrets_in_audit_log",
                    "audit-policy.yaml:25",
                    "configmaps create,update,patch logged at Request",
                ),
                (
                    "medium",
                    "k8s_secrets_in_audit_log",
                    "audit-policy.yaml:34",
                    "configmaps create,update,patch logged at Request",
                ),
            ]);
            e.extend(rbac("audit-policy.yaml:38", "Metadata"));
            e
        }),
        // The template as stored: its apiVersion line is Go template text, no group-version at all.
        (
            "aks-engine/audit-policy.template.yaml",
            owned(&[(
                "high",
                "k8s_policy_refused",
                "audit-policy.template.yaml:1",
                "kube-apiserver refuses this policy and will not start: unknown group version field audit.k8s.io/v1{{ if not (IsKubernetesVersionGe \"1.16.0\")}}beta1{{end}}, Kind=Policy in policy: kube-apiserver (1.24 and later) reads only audit.k8s.io/v1 Policy",
            )]),
        ),
        // GCE's configure-helper (v1): secrets, configmaps, tokenreviews and serviceaccounts/token at
        // Metadata before the RequestResponse rule for known groups (RBAC among them); exec logged.
        ("gce-configure-helper/gce-v1.yaml", Vec::new()),
        // The same script's older policy, audit.k8s.io/v1beta1: refused since 1.24.
        (
            "gce-configure-helper/gce-v1beta1-old.yaml",
            owned(&[("high", "k8s_policy_refused", "gce-v1beta1-old.yaml:1", REFUSED_V1BETA1)]),
        ),
        // The documentation's example: kube-system ConfigMaps at Request (43), RBAC at the Metadata
        // catch-all (64); Secrets at Metadata. The `resourceNames: [controller-leader]` None rule
        // matches some ConfigMap requests only, so the later rules stay reachable.
        ("k8s-website/audit-policy.yaml", {
            let mut e = owned(&[(
                "medium",
                "k8s_secrets_in_audit_log",
                "audit-policy.yaml:43",
                "configmaps create,update,patch logged at Request",
            )]);
            e.extend(rbac("audit-policy.yaml:64", "Metadata"));
            e
        }),
        // kubespray's default: Metadata for the sensitive objects, RequestResponse for known groups.
        ("kubespray/apiserver-audit-policy.default.yaml", Vec::new()),
        // OpenShift AllRequestBodies: secrets, serviceaccounts/token and tokenreviews at Metadata
        // (`- resources: [...]` without a group is the core group); ConfigMaps reach the RequestResponse
        // catch-all (40), on every verb but watch, whose stream is never recorded. Its
        // `resource: [machineconfig, …]` typo (38) is an unknown field: strict decoding fails, lenient
        // decoding drops it with a warning, and the entry then matches all of
        // machineconfiguration.openshift.io at Metadata.
        (
            "openshift-library-go/allrequestbodies.yaml",
            vec![
                (
                    "medium".into(),
                    "k8s_secrets_in_audit_log".into(),
                    "allrequestbodies.yaml:40".into(),
                    format!("configmaps {ALL_VERBS} logged at RequestResponse"),
                ),
                (
                    "medium".into(),
                    "k8s_policy_field_ignored".into(),
                    "allrequestbodies.yaml:38".into(),
                    "kube-apiserver ignores this field: unknown field \"rules[2].resources[4].resource\" (known: group, resources, resourceNames)".into(),
                ),
            ],
        ),
        // OpenShift Default: everything at Metadata after the identities rule: RBAC bodies not kept.
        ("openshift-library-go/default.yaml", rbac("default.yaml:37", "Metadata")),
        // OpenShift None: the last rule logs nothing, exec and RBAC included.
        ("openshift-library-go/none.yaml", [exec_unlogged("none.yaml:27"), rbac("none.yaml:27", "None")].concat()),
        // OpenShift WriteRequestBodies: only `secrets` sits in the Metadata rule, so the TokenReview
        // (its request holds the token) and TokenRequest (its response does) creates reach the
        // RequestResponse rule for writes (42), as do ConfigMap writes.
        (
            "openshift-library-go/writerequestbodies.yaml",
            vec![
                (
                    "high".into(),
                    "k8s_secrets_in_audit_log".into(),
                    "writerequestbodies.yaml:42".into(),
                    format!("serviceaccounts/token {writes} logged at RequestResponse"),
                ),
                (
                    "high".into(),
                    "k8s_secrets_in_audit_log".into(),
                    "writerequestbodies.yaml:42".into(),
                    format!("tokenreviews.authentication.k8s.io {writes} logged at RequestResponse"),
                ),
                (
                    "medium".into(),
                    "k8s_secrets_in_audit_log".into(),
                    "writerequestbodies.yaml:42".into(),
                    format!("configmaps {writes} logged at RequestResponse"),
                ),
            ],
        ),
        // RKE2's fallback `[{level: None}]`: nothing is logged.
        (
            "rke2/default-policy-none.yaml",
            [exec_unlogged("default-policy-none.yaml:6"), rbac("default-policy-none.yaml:6", "None")].concat(),
        ),
        // RKE2's other fallback: pods at Metadata; "pods" does not match pods/exec, and nothing else
        // matches, so the default level None applies (checker.go `DefaultAuditLevel`).
        (
            "rke2/default-policy-pods-metadata.yaml",
            [
                exec_unlogged("default-policy-pods-metadata.yaml (no rule matches)"),
                rbac("default-policy-pods-metadata.yaml (no rule matches)", "None"),
            ]
            .concat(),
        ),
        // Talos: `[{level: Metadata}]`.
        ("talos/default-policy.yaml", rbac("default-policy.yaml:4", "Metadata")),
    ];
    let mut seen = Vec::new();
    for (file, mut expected) in cases {
        let run = lint_policy(&format!("{CORPUS}/{file}"));
        assert_ne!(run.code, 2, "{file}: {}", run.stderr);
        expected.sort();
        assert_eq!(run.of(6), expected, "{file}");
        seen.push(file.to_owned());
    }
    // Every policy of the corpus has its verdict here.
    let mut all = Vec::new();
    for dir in std::fs::read_dir(CORPUS).unwrap() {
        let dir = dir.unwrap().path();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "yaml") {
                all.push(format!(
                    "{}/{}",
                    dir.file_name().unwrap().to_str().unwrap(),
                    f.file_name().unwrap().to_str().unwrap()
                ));
            }
        }
    }
    all.sort();
    seen.sort();
    assert_eq!(seen, all);
}

fn semantics(name: &str) -> String {
    fixtures().join("k8s-semantics").join(name).display().to_string()
}

/// `group: "*"` (1.36) matches the core group: Secrets at `RequestResponse` are a high.
#[test]
fn group_star_is_every_group() {
    let run = lint_policy(&semantics("group-star.yaml"));
    assert_eq!(
        run.of(6).into_iter().filter(|f| f.1 == "k8s_secrets_in_audit_log").collect::<Vec<_>>(),
        owned(&[(
            "high",
            "k8s_secrets_in_audit_log",
            "group-star.yaml:8",
            "secrets get,list,create,update,patch,delete,deletecollection logged at RequestResponse"
        )])
    );
}

/// Both `RequestResponse` rules for Secrets come after a None rule taking all their requests: nothing to
/// report for Secrets. The second also names `ConfigMaps`, which no earlier rule takes: that stays.
#[test]
fn rules_no_secret_request_reaches_are_not_reported() {
    let run = lint_policy(&semantics("unreachable.yaml"));
    assert_eq!(
        run.of(6),
        owned(&[(
            "medium",
            "k8s_secrets_in_audit_log",
            "unreachable.yaml:20",
            "configmaps get,list,create,update,patch,delete,deletecollection logged at RequestResponse"
        )])
    );
}

/// A watch-only `RequestResponse` rule and a `RequestResponse` rule without `ResponseComplete` write no body.
#[test]
fn bodies_that_are_never_written_are_not_reported() {
    let run = lint_policy(&semantics("bodies-never-written.yaml"));
    assert_eq!(run.of(6), []);
}

/// Each reason kube-apiserver refuses the file is a high at its line, and the policy is not evaluated
/// (its `RequestResponse` catch-all would otherwise be four more highs).
#[test]
fn a_policy_the_api_server_refuses_is_reported_as_such() {
    let run = lint_policy(&semantics("refused.yaml"));
    assert_eq!(run.code, 1);
    let got: Vec<_> = run
        .of(6)
        .into_iter()
        .map(|(sev, id, at, msg)| (sev, id, at, msg.split(':').nth(1).unwrap().trim().to_owned()))
        .collect();
    let want = |line: usize, field: &str| {
        ("high".to_owned(), "k8s_policy_refused".to_owned(), format!("refused.yaml:{line}"), field.to_owned())
    };
    let mut expected = vec![
        want(4, "omitStages[0]"),
        want(7, "rules[0].nonResourceURLs"),
        want(12, "rules[1].resources.group"),
        want(14, "rules[1].resources.resourceNames"),
        want(16, "rules[2].users[0]"),
        want(17, "rules[3].level"),
    ];
    expected.sort();
    assert_eq!(got, expected);

    let run = lint_policy(&semantics("v1beta1.yaml"));
    assert_eq!(run.of(6), owned(&[("high", "k8s_policy_refused", "v1beta1.yaml:2", REFUSED_V1BETA1)]));
}

/// The policy is read where the pod's hostPath volume puts it, not at the container's path on the host.
#[test]
fn the_policy_is_read_through_the_pod_s_host_path_volume() {
    let tree = Tree::with("k8s-hostpath");
    let run = lint(&["--root", tree.root()]);
    let secrets: Vec<_> = run.of(6).into_iter().filter(|f| f.3.starts_with("secrets ")).collect();
    assert_eq!(secrets.len(), 1, "{:#?}", run.of(6));
    let at = run.findings.iter().find(|f| f["id"] == "k8s_secrets_in_audit_log").unwrap()["location"].as_str().unwrap();
    assert!(at.ends_with("srv/k8s-audit/policy.yaml:5"), "{at}");
}

/// Findings that say kube-apiserver does not start: every item fails, nothing is audited.
const START_FAILURES: &[&str] = &["k8s_apiserver_flag_refused", "k8s_policy_refused", "k8s_policy_missing"];

/// CIS Kubernetes items and the findings that fail them here (besides [`START_FAILURES`]).
const ITEMS: &[(&str, &[&str])] = &[
    ("1.2.16", &["k8s_audit_disabled", "k8s_audit_no_backend", "k8s_audit_to_stdout"]),
    (
        "1.2.17",
        &[
            "k8s_audit_disabled",
            "k8s_audit_no_backend",
            "k8s_audit_to_stdout",
            "k8s_audit_maxage_short",
            "k8s_audit_maxage_unset",
            "k8s_audit_log_unbounded",
        ],
    ),
    ("1.2.18", &["k8s_audit_disabled", "k8s_audit_no_backend", "k8s_audit_to_stdout", "--audit-log-maxbackup="]),
    ("1.2.19", &["k8s_audit_disabled", "k8s_audit_no_backend", "k8s_audit_to_stdout", "--audit-log-maxsize="]),
    ("3.2.1", &["k8s_audit_disabled", "k8s_policy_empty"]),
];

/// One manifest: kube-bench's result and ours for 1.2.16, 1.2.17, 1.2.18, 1.2.19, 3.2.1 (P pass, F fail),
/// and why they differ where they do.
struct Row {
    manifest: &'static str,
    kube_bench: &'static str,
    ours: &'static str,
    why: &'static str,
}

/// kube-bench (cfg/cis-1.9, master.yaml 1.2.16–1.2.19 and controlplane.yaml 3.2.1) greps `ps -ef` for
/// the running kube-apiserver: 1.2.16 and 3.2.1 pass when the flag is present; 1.2.17–1.2.19 compare
/// `gte` 30, 10, 100, failing an absent flag. Its value is what follows `--flag=` (check/test.go
/// `findValue`): for `--flag value` it reads "true", which no `gte` passes.
const TABLE: &[Row] = &[
    Row { manifest: "complete", kube_bench: "PPPPP", ours: "PPPPP", why: "" },
    Row { manifest: "no-audit", kube_bench: "FFFFF", ours: "FFFFF", why: "" },
    Row { manifest: "small", kube_bench: "PFFFP", ours: "PFFFP", why: "" },
    Row { manifest: "sh-c", kube_bench: "PPPPP", ours: "PPPPP", why: "" },
    Row { manifest: "sh-c-unnamed", kube_bench: "PPPPP", ours: "PPPPP", why: "" },
    Row {
        manifest: "negative",
        kube_bench: "PFPPP",
        ours: "FFFFF",
        why: "kube-apiserver refuses a negative --audit-log-maxage and does not start: nothing is audited",
    },
    Row {
        manifest: "octal",
        kube_bench: "PPPPP",
        ours: "PFPPP",
        why: "pflag parses ints with base 0: 030 is 24 days; kube-bench compares 30",
    },
    Row {
        manifest: "empty-path",
        kube_bench: "PPPPP",
        ours: "FFFFP",
        why: "`--audit-log-path=` is empty, which kube-apiserver takes as unset: no log backend, no webhook",
    },
    Row { manifest: "maxage-zero", kube_bench: "PFPPP", ours: "PFPPP", why: "" },
    Row {
        manifest: "maxbackup-unset",
        kube_bench: "PPFPP",
        ours: "PPPPP",
        why: "maxbackup unset is 0, which lumberjack reads as keep every file: more than 10 are kept, for maxage's 30 days",
    },
    Row {
        manifest: "maxbackup-zero",
        kube_bench: "PPFPP",
        ours: "PPPPP",
        why: "0 is unset (keep every file), judged the same",
    },
    Row {
        manifest: "maxsize-unset",
        kube_bench: "PPPFP",
        ours: "PPPPP",
        why: "maxsize unset is 0, which lumberjack replaces by its default, 100 MB: the CIS value",
    },
    Row {
        manifest: "unbounded",
        kube_bench: "PFFPP",
        ours: "PFPPP",
        why: "no maxbackup keeps every file; the finding is under 1.2.17: without maxage either, nothing is ever deleted",
    },
    Row {
        manifest: "two-words",
        kube_bench: "PFFFP",
        ours: "PPPPP",
        why: "pflag reads `--audit-log-maxage 30` as 30; kube-bench's findValue reads \"true\"",
    },
    Row {
        manifest: "stdout",
        kube_bench: "PPPPP",
        ours: "FFFFP",
        why: "`--audit-log-path -` writes to stdout: no audit file, retention is the container runtime's log rotation",
    },
    Row {
        manifest: "v1beta1",
        kube_bench: "PPPPP",
        ours: "FFFFF",
        why: "the flag names a policy kube-apiserver 1.24+ refuses to load: it does not start",
    },
    Row {
        manifest: "unmounted",
        kube_bench: "PPPPP",
        ours: "FFFFF",
        why: "the policy path is on no hostPath volume: the container cannot read it and kube-apiserver does not start",
    },
    Row {
        manifest: "webhook-only",
        kube_bench: "FFFFP",
        ours: "PPPPP",
        why: "events go to the webhook backend: there is no local log to name or rotate",
    },
];

#[test]
fn kube_bench_parity_table() {
    let tree = Tree::with("k8s-bench");
    let mut report = String::new();
    for row in TABLE {
        let manifest = tree.0.join("manifests").join(format!("{}.yaml", row.manifest));
        let run = lint(&["--root", tree.root(), "--k8s-manifest", manifest.to_str().unwrap()]);
        assert_ne!(run.code, 2, "{}: {}", row.manifest, run.stderr);
        let findings: Vec<_> = [run.of(5), run.of(6)].concat();
        let ours: String = ITEMS
            .iter()
            .map(|(_, fails)| {
                let failed = findings.iter().any(|(_, id, _, msg)| {
                    START_FAILURES.contains(&id.as_str())
                        || fails.iter().any(|f| if f.starts_with("--") { msg.starts_with(f) } else { id == f })
                });
                if failed { 'F' } else { 'P' }
            })
            .collect();
        writeln!(report, "{:16} kube-bench {} ours {ours}  {}", row.manifest, row.kube_bench, row.why).unwrap();
        assert_eq!(ours, row.ours, "{}: {findings:#?}", row.manifest);
        assert_eq!(row.kube_bench != row.ours, !row.why.is_empty(), "{}: a difference needs its reason", row.manifest);
    }
    println!("{}", ITEMS.iter().map(|(i, _)| *i).collect::<Vec<_>>().join(" "));
    print!("{report}");
}
