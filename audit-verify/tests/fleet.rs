//! The fleet artifacts of dist/, each run through the tool that consumes it: the .deb (cargo-deb,
//! lintian, dpkg, `systemd-analyze`), the alert rules (promtool), the dashboard and the rules against
//! the metric contract, the Kubernetes manifests (kubernetes-validate, the Prometheus Operator's CRD
//! schema), the Ansible role (ansible-playbook against this host), and the watch unit's capability set
//! (the binary under exactly that set, then without each capability).
//!
//! Tools from `PyPI` and npm are installed once into `target/fleet/` (pinned in fleet/tools.rs). The
//! tests that install the package on this host purge it again, and run one at a time: like every file here, run this one
//! under `flock /run/av-kernel-tests.lock`.
#![expect(
    unused_crate_dependencies,
    reason = "a test crate is linked with every dependency of the package; lib.rs checks them"
)]

mod common;
#[path = "fleet/promql.rs"]
mod promql;
#[path = "fleet/tools.rs"]
mod tools;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Mutex,
};

use audit_verify::{
    guard::{Environment, StateGuard},
    lint::k8s::yaml,
};
use promql::metric_names;
use saphyr::{LoadableYamlNode as _, MarkedYaml};
use serde_json::Value;
use tools::{deb, dist, json_of, npm_dir, ok, read, run, text, venv};

/// The metric contract of `audit-verify watch` (README, "fleet"), without the `audit_verify_` prefix.
const WATCH_METRICS: &[&str] = &[
    "kernel_lost_records_total",
    "kernel_dropped_records_total",
    "lost_after_kernel_records_total",
    "backlog_records",
    "backlog_peak_records",
    "backlog_limit_records",
    "backlog_wait_time_actual_seconds_total",
    "events_emitted_total",
    "events_written_total",
    "canary_last_success_timestamp_seconds",
    "canary_latency_seconds",
    "canary_failures_total",
    "auditd_up",
    "auditd_logging_suspended",
    "auditd_disk_error",
    "auditd_plugin_queue_overflow",
    "auditd_plugin_queue_depth",
    "auditd_state_last_read_timestamp_seconds",
    "watch_info",
];
/// What `check --prometheus` adds to `node_exporter`'s textfile (cli/check.rs `summary_metrics`).
const CHECK_METRICS: &[&str] = &["findings", "check_pass", "prove_rules"];
/// Prometheus's and `node_exporter`'s own series the rules and the dashboard use.
const OTHER_METRICS: &[&str] = &["up", "node_textfile_mtime_seconds"];

// ---------------------------------------------------------------------------------------------------
// Prometheus and Grafana

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let dir = dist("prometheus");
    ok(
        "promtool check rules",
        Command::new("promtool").args(["check", "rules", "audit-verify.rules.yml"]).current_dir(&dir),
    );
    let out = ok(
        "promtool test rules",
        Command::new("promtool").args(["test", "rules", "audit-verify.tests.yml"]).current_dir(&dir),
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

/// Every alert of the rules file has a unit test that makes it fire.
#[test]
fn every_alert_has_a_firing_unit_test() {
    let alerts: BTreeSet<String> = rule_entries().into_iter().map(|(alert, _)| alert).collect();
    let tests = read(&dist("prometheus/audit-verify.tests.yml"));
    let docs = MarkedYaml::load_from_str(&tests).expect("audit-verify.tests.yml is YAML");
    let mut fired = BTreeSet::new();
    for group in yaml::items(yaml::get(&docs[0], "tests").expect("tests:")).expect("a list") {
        for case in yaml::items(yaml::get(group, "alert_rule_test").expect("alert_rule_test:")).expect("a list") {
            let name = yaml::scalar(yaml::get(case, "alertname").expect("alertname")).unwrap();
            if yaml::items(yaml::get(case, "exp_alerts").expect("exp_alerts")).is_some_and(|a| !a.is_empty()) {
                fired.insert(name);
            }
        }
    }
    let untested: Vec<&String> = alerts.difference(&fired).collect();
    assert!(untested.is_empty(), "alerts no unit test makes fire: {untested:?}");
}

#[test]
fn rules_and_dashboard_use_only_metrics_of_the_contract() {
    let known: BTreeSet<String> = WATCH_METRICS
        .iter()
        .chain(CHECK_METRICS)
        .map(|m| format!("audit_verify_{m}"))
        .chain(OTHER_METRICS.iter().map(|m| (*m).to_owned()))
        .collect();
    let mut exprs: Vec<(String, String)> =
        rule_entries().into_iter().map(|(alert, expr)| (format!("rules: {alert}"), expr)).collect();
    let dashboard = common::read_json(&dist("grafana/audit-verify.json"));
    let mut panel_exprs = Vec::new();
    collect_exprs(&dashboard, "dashboard", &mut panel_exprs);
    assert!(panel_exprs.len() >= 20, "the dashboard has {} queries", panel_exprs.len());
    let mut dashboard_metrics = BTreeSet::new();
    for (_, expr) in &panel_exprs {
        dashboard_metrics.extend(metric_names(expr));
    }
    exprs.extend(panel_exprs);
    for (place, expr) in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{place}: `{expr}` names no metric");
        let unknown: Vec<&String> = names.iter().filter(|n| !known.contains(*n)).collect();
        assert!(unknown.is_empty(), "{place}: `{expr}` uses {unknown:?}, not in the metric contract");
    }
    // The dashboard shows every family of the contract, so whatever an alert names can be looked at.
    let missing: Vec<&String> = known.difference(&dashboard_metrics).collect();
    assert!(missing.is_empty(), "the dashboard has no panel for {missing:?}");
}

/// `(alert, expr)` of every rule of dist/prometheus/audit-verify.rules.yml.
fn rule_entries() -> Vec<(String, String)> {
    let text = read(&dist("prometheus/audit-verify.rules.yml"));
    let docs = MarkedYaml::load_from_str(&text).expect("audit-verify.rules.yml is YAML");
    let mut out = Vec::new();
    for group in yaml::items(yaml::get(&docs[0], "groups").expect("groups:")).expect("a list") {
        for rule in yaml::items(yaml::get(group, "rules").expect("rules:")).expect("a list") {
            let alert = yaml::scalar(yaml::get(rule, "alert").expect("alert:")).unwrap();
            let expr = yaml::scalar(yaml::get(rule, "expr").expect("expr:")).unwrap();
            out.push((alert, expr));
        }
    }
    assert!(out.len() >= 7, "{out:?}");
    out
}

fn collect_exprs(value: &Value, place: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            let here = map
                .get("title")
                .and_then(Value::as_str)
                .map_or_else(|| place.to_owned(), |t| format!("dashboard: {t}"));
            if let Some(Value::String(expr)) = map.get("expr") {
                out.push((here.clone(), expr.clone()));
            }
            map.values().for_each(|v| collect_exprs(v, &here, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, place, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------------
// Kubernetes

#[test]
fn kubernetes_manifests_validate_against_the_api_schema() {
    let validate = venv().join("bin/kubernetes-validate");
    let manifests = [dist("kubernetes/daemonset.yml"), dist("kubernetes/servicemonitor.yml")];
    let out = ok("kubernetes-validate", Command::new(&validate).arg("--strict").args(&manifests));
    for kind in ["namespace", "serviceaccount", "daemonset", "service"] {
        assert!(out.contains(&format!("passed for resource {kind}/audit-verify")), "{kind} not validated: {out}");
    }
    // The validator refuses what the API server would: a field that does not exist (strict).
    let scratch = common::Scratch::named("fleet-k8s");
    fs::create_dir_all(&scratch.0).unwrap();
    let bad = scratch.0.join("daemonset.yml");
    fs::write(&bad, read(&manifests[0]).replace("hostPID: true", "hostPid: true")).unwrap();
    let refused = run(Command::new(&validate).arg("--strict").arg(&bad));
    assert!(!refused.status.success(), "kubernetes-validate accepted `hostPid`: {}", text(&refused));

    // The ServiceMonitor, against the Prometheus Operator's CRD schema.
    let npm = npm_dir();
    let out =
        ok("ServiceMonitor schema", Command::new("node").arg("servicemonitor.mjs").arg(&manifests[1]).current_dir(npm));
    assert!(out.contains("ServiceMonitor audit-verify is valid"), "{out}");
    let bad = scratch.0.join("servicemonitor.yml");
    fs::write(&bad, read(&manifests[1]).replace("interval: 30s", "interval: 30 seconds")).unwrap();
    let refused = run(Command::new("node").arg("servicemonitor.mjs").arg(&bad).current_dir(npm));
    assert!(!refused.status.success(), "the schema accepted `interval: 30 seconds`: {}", text(&refused));
}

/// The `DaemonSet`'s container gets exactly the watch unit's capabilities, and only those.
#[test]
fn daemonset_has_the_units_capabilities_and_the_host_mounts() {
    let text = read(&dist("kubernetes/daemonset.yml"));
    let docs = MarkedYaml::load_from_str(&text).expect("daemonset.yml is YAML");
    let ds = docs
        .iter()
        .find(|d| yaml::get(d, "kind").and_then(yaml::scalar).as_deref() == Some("DaemonSet"))
        .expect("a DaemonSet");
    let pod = ["spec", "template", "spec"].iter().fold(ds, |n, k| yaml::get(n, k).unwrap_or_else(|| panic!("no {k}")));
    assert_eq!(yaml::get(pod, "hostPID").and_then(yaml::scalar).as_deref(), Some("true"));
    let container = &yaml::items(yaml::get(pod, "containers").unwrap()).unwrap()[0];
    let caps = ["securityContext", "capabilities"].iter().fold(container, |n, k| yaml::get(n, k).unwrap());
    let path = Path::new("daemonset.yml");
    assert_eq!(yaml::strings(path, caps, "drop").unwrap(), ["ALL"]);
    let added: BTreeSet<String> =
        yaml::strings(path, caps, "add").unwrap().into_iter().map(|c| format!("CAP_{c}")).collect();
    let unit: BTreeSet<String> = unit_capabilities().into_iter().collect();
    assert_eq!(added, unit, "daemonset.yml and audit-verify-watch.service disagree on the capabilities");
    let mounts: BTreeMap<String, bool> = yaml::items(yaml::get(container, "volumeMounts").unwrap())
        .unwrap()
        .iter()
        .map(|m| {
            let read_only = yaml::get(m, "readOnly").and_then(yaml::scalar).as_deref() == Some("true");
            (yaml::scalar(yaml::get(m, "mountPath").unwrap()).unwrap(), read_only)
        })
        .collect();
    for host_path in ["/sys/fs/bpf", "/sys/kernel/tracing", "/var/log/audit", "/run/audit"] {
        assert_eq!(mounts.get(host_path), Some(&true), "{host_path} is not mounted read-only: {mounts:?}");
    }
}

// ---------------------------------------------------------------------------------------------------
// The package

#[test]
fn the_deb_holds_binary_man_pages_completions_and_units_and_lintian_passes() {
    let deb = deb();
    let listing = ok("dpkg-deb -c", Command::new("dpkg-deb").arg("-c").arg(deb));
    for file in [
        "./usr/bin/audit-verify",
        "./usr/share/man/man1/audit-verify.1.gz",
        "./usr/share/man/man1/audit-verify-check.1.gz",
        "./usr/share/man/man1/audit-verify-watch.1.gz",
        "./usr/share/bash-completion/completions/audit-verify",
        "./usr/share/zsh/vendor-completions/_audit-verify",
        "./usr/share/fish/vendor_completions.d/audit-verify.fish",
        "./usr/lib/systemd/system/audit-verify-watch.service",
        "./usr/lib/systemd/system/audit-verify-check.service",
        "./usr/lib/systemd/system/audit-verify-check.timer",
        "./usr/share/doc/audit-verify/copyright",
        "./usr/share/doc/audit-verify/changelog.Debian.gz",
        "./usr/share/audit-verify/prometheus/audit-verify.rules.yml",
        "./usr/share/audit-verify/grafana/audit-verify.json",
    ] {
        assert!(listing.lines().any(|l| l.ends_with(&format!(" {file}"))), "{file} is not in the package:\n{listing}");
    }
    // The changelog's version is the package's.
    let version = ok("dpkg-deb -f", Command::new("dpkg-deb").arg("-f").arg(deb).arg("Version"));
    let changelog = read(&dist("debian/changelog"));
    assert!(changelog.starts_with(&format!("audit-verify ({})", version.trim())), "changelog vs {version}");
    // Overrides are shipped in the package (each with its reason there); everything else must be clean.
    let out = ok("lintian", Command::new("lintian").args(["--fail-on", "error,warning", "--display-info"]).arg(deb));
    eprintln!("lintian:\n{out}");
}

#[test]
fn the_deb_installs_its_units_pass_systemd_analyze_and_purge_leaves_nothing() {
    let deb = deb();
    let Some(_installed) = Installed::install(|| {
        ok("dpkg -i", Command::new("dpkg").arg("-i").arg(deb));
    }) else {
        return;
    };
    let units = ["audit-verify-watch.service", "audit-verify-check.service", "audit-verify-check.timer"]
        .map(|u| PathBuf::from("/usr/lib/systemd/system").join(u));
    ok("systemd-analyze verify", Command::new("systemd-analyze").args(["verify", "--man=no"]).args(&units));
    // The watch unit's sandbox, as systemd scores it (0 is the most restricted, 100 none at all): a change
    // that loosens it past 3.0 fails here.
    let out = ok(
        "systemd-analyze security",
        Command::new("systemd-analyze").args(["security", "--offline=yes", "--threshold=30"]).arg(&units[0]),
    );
    assert!(out.contains("Overall exposure level"), "{out}");
    // Enabled on install, as Debian enables daemons (deb-systemd-helper; started where systemd runs).
    assert!(Path::new("/etc/systemd/system/multi-user.target.wants/audit-verify-watch.service").exists());
    assert!(Path::new("/etc/systemd/system/timers.target.wants/audit-verify-check.timer").exists());
    let version = ok("audit-verify --version", Command::new("/usr/bin/audit-verify").arg("--version"));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
}

/// The package installed on this host for one test, purged when it ends (also by a panic), with what
/// the postinst enabled and what the Ansible role created.
struct Installed {
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

impl Installed {
    /// `None`, after saying so, when audit-verify is installed already: someone's, not ours to purge.
    fn install(install: impl FnOnce()) -> Option<Self> {
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if package_installed() {
            eprintln!("SKIP: the audit-verify package is installed on this host; this test installs and purges it");
            return None;
        }
        let guard = Self { _one_at_a_time: lock };
        install();
        assert!(package_installed(), "the package is not installed after the install step");
        Some(guard)
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let out = run(Command::new("dpkg").args(["--purge", "audit-verify"]));
        for dir in [ROLE_DEB_CACHE, ROLE_REMOTE_DIR] {
            let _ = fs::remove_dir_all(dir);
        }
        if std::thread::panicking() {
            return;
        }
        assert!(out.status.success(), "dpkg --purge: {}", text(&out));
        assert!(!package_installed());
        for left in [
            "/usr/bin/audit-verify",
            "/usr/lib/systemd/system/audit-verify-watch.service",
            "/etc/systemd/system/multi-user.target.wants/audit-verify-watch.service",
            "/etc/systemd/system/timers.target.wants/audit-verify-check.timer",
        ] {
            assert!(!Path::new(left).exists(), "{left} is left after the purge");
        }
    }
}

fn package_installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "audit-verify"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

// ---------------------------------------------------------------------------------------------------
// Ansible

/// The role's defaults for the package cache and the report directory on the host (defaults/main.yml).
const ROLE_DEB_CACHE: &str = "/var/cache/audit-verify";
const ROLE_REMOTE_DIR: &str = "/var/lib/audit-verify";

#[test]
fn ansible_playbook_installs_checks_collects_and_fails_by_severity() {
    let defaults = read(&dist("ansible/roles/audit_verify/defaults/main.yml"));
    for line in
        [format!("audit_verify_deb_cache: {ROLE_DEB_CACHE}"), format!("audit_verify_remote_dir: {ROLE_REMOTE_DIR}")]
    {
        assert!(defaults.lines().any(|l| l == line), "defaults/main.yml lost `{line}`");
    }
    let deb = deb();
    let reports = common::Scratch::named("fleet-ansible");
    let playbook = |fail_on: &str, accepted: &[String]| {
        let extra = serde_json::json!({
            "audit_verify_deb": deb,
            "audit_verify_report_dir": reports.0,
            "audit_verify_fail_on": fail_on,
            "audit_verify_accepted_findings": accepted,
            // No measurement window: the verdict is what is judged here.
            "audit_verify_check_args": ["--duration", "0"],
            // Root already, and no sudo on this host.
            "ansible_become": false,
            "ansible_python_interpreter": "/usr/bin/python3",
        });
        let out = run(Command::new(venv().join("bin/ansible-playbook"))
            .args(["-i", "localhost,", "-c", "local"])
            .arg(dist("ansible/site.yml"))
            .arg("-e")
            .arg(extra.to_string())
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_HOST_KEY_CHECKING", "0"));
        let recap = text(&out).lines().skip_while(|l| !l.starts_with("PLAY RECAP")).collect::<Vec<_>>().join("\n");
        eprintln!("fail_on {fail_on}, accepted {accepted:?}: {}\n{recap}", out.status);
        let report = common::read_json(&reports.0.join("localhost/check.json"));
        assert!(reports.0.join("localhost/check.junit.xml").is_file(), "no JUnit report collected: {}", text(&out));
        (out, report)
    };
    // 1. Failing at `info` with nothing accepted (the run that installs the package): fails exactly when
    // the host has a finding.
    let mut first_run = None;
    let Some(_installed) = Installed::install(|| first_run = Some(playbook("info", &[]))) else { return };
    let (out, report) = first_run.expect("the install step ran the playbook");
    assert!(package_installed(), "the role did not install the package");
    let errors: Vec<String> = common::schema_validator("check").iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "the collected report does not match check.schema.json: {errors:?}");
    let findings = |r: &Value| -> Vec<(String, String)> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].as_str().unwrap().to_owned(), f["severity"].as_str().unwrap().to_owned()))
            .collect()
    };
    let first = findings(&report);
    assert!(!first.is_empty(), "this host has no finding at all: the failing case cannot be shown");
    assert!(!out.status.success(), "the play passed with {} findings at or above info: {}", first.len(), text(&out));
    assert!(text(&out).contains("at or above info"), "{}", text(&out));

    // 2. Failing at `high` with every high finding accepted: passes.
    let high: Vec<String> = first.iter().filter(|(_, s)| s == "high").map(|(id, _)| id.clone()).collect();
    let (out, report) = playbook("high", &high);
    let still_high: Vec<(String, String)> =
        findings(&report).into_iter().filter(|(id, s)| s == "high" && !high.contains(id)).collect();
    assert_eq!(out.status.success(), still_high.is_empty(), "high findings {still_high:?}: {}", text(&out));

    // 3. The same accepted list at `medium`: fails exactly when a medium finding remains.
    let (out, report) = playbook("medium", &high);
    let medium: Vec<(String, String)> =
        findings(&report).into_iter().filter(|(id, s)| s == "medium" || (s == "high" && !high.contains(id))).collect();
    assert_eq!(!out.status.success(), !medium.is_empty(), "findings {medium:?}: {}", text(&out));
}

// ---------------------------------------------------------------------------------------------------
// Capabilities

/// What each capability of the unit is for, shown by taking it away from `watch`: what it then says.
enum Breaks {
    /// watch exits 2 with this in its error.
    Exits(&'static str),
    /// watch serves counters without its eBPF sensors (`watch_info{backend="counters_only"}`), saying this.
    NoSensors(&'static str),
    /// watch serves its metrics, but no canary gets through, saying this.
    NoCanary(&'static str),
}

/// One row per capability of dist/systemd/audit-verify-watch.service, found by removing each in turn.
const WITHOUT: &[(&str, Breaks)] = &[
    // bpf(2): no map, no program.
    ("CAP_BPF", Breaks::NoSensors("failed to create map")),
    // Loading a tracing program and attaching it to a tracepoint.
    ("CAP_PERFMON", Breaks::NoSensors("kfree_skb sensor")),
    ("CAP_AUDIT_READ", Breaks::Exits("multicast socket")),
    ("CAP_AUDIT_CONTROL", Breaks::Exits("AUDIT_GET")),
    // The canary is an AUDIT_USER message.
    ("CAP_AUDIT_WRITE", Breaks::NoCanary("AUDIT_USER")),
    // SO_RCVBUFFORCE on the multicast socket, so that a burst does not overflow it.
    ("CAP_NET_ADMIN", Breaks::Exits("multicast socket")),
    // kptr_restrict hides /proc/kallsyms' addresses, where the sensors look for the audit functions.
    ("CAP_SYSLOG", Breaks::NoSensors("kallsyms")),
];

/// The probes of `status` that work as root must work under the unit's set.
const STATUS_PROBES: &[&str] = &["tracepoint", "raw_tracepoint", "ring_buffer", "btf", "audit_multicast"];

#[test]
fn watch_layers_work_under_exactly_the_units_capabilities_and_each_one_is_needed() {
    let caps = unit_capabilities();
    let table: BTreeSet<&str> = WITHOUT.iter().map(|(cap, _)| *cap).collect();
    assert_eq!(
        table,
        caps.iter().map(String::as_str).collect(),
        "WITHOUT must have one row per capability of the unit"
    );

    // The process has exactly these capabilities: its effective set, read back and decoded by capsh.
    let status = text(&under_caps(&caps, "cat".as_ref(), &["/proc/self/status"]));
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap_or_else(|| panic!("{status}")).trim();
    let decoded = ok("capsh --decode", Command::new("capsh").arg(format!("--decode={hex}")));
    let effective: BTreeSet<String> = decoded
        .trim()
        .split_once('=')
        .unwrap_or_else(|| panic!("{decoded}"))
        .1
        .split(',')
        .map(str::to_uppercase)
        .collect();
    assert_eq!(effective, caps.iter().cloned().collect(), "{decoded}");

    // As root, then under the set: the same layers work.
    let root_status = json_of(&run(Command::new(common::binary()).args(["status", "--json"])));
    let status = under_caps_audit_verify(&caps, &["status", "--json"]);
    assert!(status.status.success(), "status under the unit's capabilities: {}", text(&status));
    let status = json_of(&status);
    for probe in STATUS_PROBES {
        assert_eq!(
            status["capabilities"][probe]["available"], root_status["capabilities"][probe]["available"],
            "{probe}: {} as root, {} under the unit's set",
            root_status["capabilities"][probe], status["capabilities"][probe]
        );
    }
    assert_eq!(status["capabilities"]["backend"], root_status["capabilities"]["backend"]);
    let measure = under_caps_audit_verify(&caps, &["measure", "--duration", "2", "--json"]);
    assert!(measure.status.success(), "measure under the unit's capabilities: {}", text(&measure));
    let measure = json_of(&measure);
    assert_eq!(measure["observer"]["sensors_error"], Value::Null, "{}", measure["observer"]);
    assert_eq!(measure["backend"], root_status["capabilities"]["backend"], "{}", measure["backend"]);
    watch_serves_kernel_counters_under(&caps);

    // Without each one, the layer it is there for breaks, and watch says so.
    for (cap, breaks) in WITHOUT {
        let fewer: Vec<String> = caps.iter().filter(|c| c != cap).cloned().collect();
        let (metrics, out) =
            watch_under(&fewer, 8, |m| m.contains("audit_verify_canary_last_success_timestamp_seconds{"));
        let said = text(&out);
        match breaks {
            Breaks::Exits(error) => {
                assert_eq!(out.status.code(), Some(2), "without {cap}, watch did not fail: {said}");
                assert!(said.contains(error), "without {cap}, watch failed otherwise: {said}");
            }
            Breaks::NoSensors(reason) => {
                let metrics = metrics.unwrap_or_else(|| panic!("without {cap}: no /metrics: {said}"));
                assert!(metrics.contains("backend=\"counters_only\""), "without {cap}: {metrics}");
                assert!(said.contains(reason), "without {cap}, the sensors failed otherwise: {said}");
            }
            Breaks::NoCanary(error) => {
                let metrics = metrics.unwrap_or_else(|| panic!("without {cap}: no /metrics: {said}"));
                assert!(
                    !metrics.contains("audit_verify_canary_last_success_timestamp_seconds{"),
                    "without {cap}: {metrics}"
                );
                assert!(said.contains(error), "without {cap}, the canary failed otherwise: {said}");
            }
        }
    }
}

/// `watch` under `caps`, as the unit starts it: /metrics serves the kernel's counters (the backlog limit
/// the kernel reports, a live auditd), a canary gets through, and every family it serves is one of the
/// contract the rules and the dashboard are written against.
fn watch_serves_kernel_counters_under(caps: &[String]) {
    // Until the first interval is folded in, the gauges are still at their start (auditd_up 0).
    let (metrics, out) = watch_under(caps, 20, |m| {
        m.contains("audit_verify_canary_last_success_timestamp_seconds{") && m.contains("\naudit_verify_auditd_up 1\n")
    });
    let metrics = metrics.unwrap_or_else(|| panic!("no /metrics in 20 s: {}", text(&out)));
    assert!(
        metrics.contains("audit_verify_canary_last_success_timestamp_seconds{")
            && metrics.contains("\naudit_verify_auditd_up 1\n"),
        "no canary and auditd up in 20 s: {metrics}"
    );
    assert_eq!(out.status.code(), Some(0), "watch under the unit's capabilities, stopped by SIGTERM: {}", text(&out));
    let series: BTreeMap<&str, f64> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(name, v)| Some((name, v.parse().ok()?))))
        .collect();
    let backlog_limit = common::auditctl_status()["backlog_limit"];
    #[expect(clippy::cast_precision_loss, reason = "a backlog limit, far below 2^52")]
    let expected_limit = backlog_limit as f64;
    assert_eq!(series.get("audit_verify_backlog_limit_records"), Some(&expected_limit), "{metrics}");
    assert_eq!(series.get("audit_verify_auditd_up"), Some(&1.0), "{metrics}");
    assert!(series.contains_key("audit_verify_kernel_lost_records_total"), "{metrics}");
    assert!(series.keys().any(|s| s.starts_with("audit_verify_kernel_dropped_records_total{")), "{metrics}");
    // `# TYPE NAME counter` names a counter's family without its `_total` (as OpenMetrics does).
    let families: BTreeSet<String> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [name, "counter"] => Some(format!("{}_total", name.trim_end_matches("_total"))),
            [name, _] => Some(name.to_owned()),
            _ => None,
        })
        .collect();
    assert!(families.len() >= 15, "{families:?}");
    let contract: BTreeSet<String> = WATCH_METRICS.iter().map(|m| format!("audit_verify_{m}")).collect();
    let unknown: Vec<&String> = families.difference(&contract).collect();
    assert!(unknown.is_empty(), "watch serves families outside the metric contract: {unknown:?}");
}

/// Runs `watch` under `caps` (1 s intervals) until its /metrics satisfies `done`, it exits, or `secs`
/// pass; then stops it with SIGTERM. The last /metrics it served (if any), and its output.
fn watch_under(caps: &[String], secs: u64, done: impl Fn(&str) -> bool) -> (Option<String>, Output) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let args = ["watch", "--listen", &listen, "--interval", "1", "--canary-interval", "1"];
    // unshare, sh and setpriv each exec the next: the child's pid is watch's.
    let mut child = caps_command(caps, common::binary().as_os_str(), &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut last = None;
    common::poll(secs, || {
        if child.try_wait().unwrap().is_some() {
            return Some(());
        }
        last = common::http_get(port, "/metrics").or(last.take());
        last.as_deref().is_some_and(&done).then_some(())
    });
    if child.try_wait().unwrap().is_none() {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    }
    (last, child.wait_with_output().unwrap())
}

/// The unit's `CapabilityBoundingSet=`: the one place the set is written.
fn unit_capabilities() -> Vec<String> {
    let unit = read(&dist("systemd/audit-verify-watch.service"));
    let lines: Vec<&str> = unit.lines().filter_map(|l| l.strip_prefix("CapabilityBoundingSet=")).collect();
    assert_eq!(lines.len(), 1, "one CapabilityBoundingSet= line: {lines:?}");
    let caps: Vec<String> = lines[0].split_whitespace().map(str::to_owned).collect();
    assert!(caps.iter().all(|c| c.starts_with("CAP_")), "{caps:?}");
    caps
}

fn under_caps_audit_verify(caps: &[String], args: &[&str]) -> Output {
    under_caps(caps, common::binary().as_os_str(), args)
}

/// Runs `program` under `caps` (see [`caps_command`]).
fn under_caps(caps: &[String], program: &std::ffi::OsStr, args: &[&str]) -> Output {
    let out = run(&mut caps_command(caps, program, args));
    assert_ne!(out.status.code(), Some(97), "mounting tracefs failed: {}", text(&out));
    out
}

/// `program` as root whose bounding set is exactly `caps`, with no inheritable capabilities and no new
/// privileges: what systemd does for the unit (`CapabilityBoundingSet=`, `NoNewPrivileges=`). tracefs is
/// mounted first, as `sys-kernel-tracing.mount` has it before the unit starts; in a private mount
/// namespace, so the host's mounts do not change (exit 97 when that mount fails).
fn caps_command(caps: &[String], program: &std::ffi::OsStr, args: &[&str]) -> Command {
    let bounding: String = std::iter::once("-all".to_owned())
        .chain(caps.iter().map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase())))
        .collect::<Vec<_>>()
        .join(",");
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "slave", "--", "sh", "-c"])
        .arg(
            "mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing || exit 97; exec \"$@\"",
        )
        .args(["sh", "setpriv", &format!("--bounding-set={bounding}"), "--inh-caps=-all", "--no-new-privs", "--"])
        .arg(program)
        .args(args);
    command
}

// ---------------------------------------------------------------------------------------------------
// check --prometheus

#[test]
fn check_textfile_counts_rules_per_prove_state() {
    let rules = common::workspace("tests/fixtures/rules/check");
    let textfile = common::Scratch::named("fleet-check.prom");
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.run_auditctl(&["-R", rules.join("10-check.rules").to_str().unwrap()]).unwrap();
    let out = run(Command::new(common::binary())
        .args(["check", "--json", "--duration", "0", "--rules-dir"])
        .arg(&rules)
        .arg("--prometheus")
        .arg(&textfile.0));
    drop(guard);
    let report = json_of(&out);
    let text = read(&textfile.0);
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for rule in report["prove"]["rules"].as_array().expect("prove ran") {
        *expected.entry(rule["state"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(expected.get("proven"), Some(&2), "{expected:?}");
    let series: BTreeMap<String, u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("audit_verify_prove_rules{state=\""))
        .map(|l| {
            let (state, value) = l.split_once("\"} ").unwrap();
            (state.to_owned(), value.parse().unwrap())
        })
        .collect();
    assert_eq!(series.len(), 9, "every prove state is written: {text}");
    for (state, n) in &series {
        assert_eq!(expected.get(state).copied().unwrap_or(0), *n, "{state}: {text}");
    }
    ok("promtool check metrics", Command::new("sh").arg("-c").arg("promtool check metrics < \"$0\"").arg(&textfile.0));
}
