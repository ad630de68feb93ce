//! `check` and each command alone judge the same inputs the same way: `check --rules-dir X --auditd-conf Y`
//! against `rules`, `lint` and `prove` run alone with X and Y, on this host with a small rule set loaded
//! for real. X and Y differ from /etc/audit on purpose, so that a part reading the defaults instead shows.

#![expect(
    unused_crate_dependencies,
    reason = "a test crate is linked with every dependency of the package; lib.rs checks them"
)]

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use audit_verify::guard::{Environment, StateGuard};
use serde_json::Value;

/// In the files, never loaded: a `not_loaded` finding and proof.
const UNLOADED: &str = "-a always,exit -F arch=b64 -S uname -k av-same-unloaded";

/// X (`rules.d`) and Y (`auditd.conf`) in a scratch directory, removed on drop.
struct Inputs {
    root: PathBuf,
}

impl Inputs {
    /// rules.d: the check fixture plus [`UNLOADED`]; auditd.conf: the system's with `disk_full_action =
    /// IGNORE` (the system says SUSPEND), so lint's footgun 3 finding names Y's line.
    fn new() -> Self {
        let root = std::env::temp_dir().join(format!("av-same-verdict-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("rules.d")).unwrap();
        let fixture = fs::read_to_string(workspace("tests/fixtures/rules/check/10-check.rules")).unwrap();
        fs::write(root.join("rules.d/10-check.rules"), format!("{fixture}{UNLOADED}\n")).unwrap();
        let system = fs::read_to_string(audit_verify::auditd_conf::DEFAULT_PATH).unwrap();
        let conf: String = system.lines().filter(|l| !l.trim_start().starts_with("disk_full_action")).fold(
            String::new(),
            |mut out, l| {
                out.push_str(l);
                out.push('\n');
                out
            },
        );
        fs::write(root.join("auditd.conf"), format!("{conf}disk_full_action = IGNORE\n")).unwrap();
        Self { root }
    }

    fn rules_dir(&self) -> PathBuf {
        self.root.join("rules.d")
    }

    fn auditd_conf(&self) -> PathBuf {
        self.root.join("auditd.conf")
    }

    /// The line of Y that sets `disk_full_action`.
    fn disk_full_line(&self) -> String {
        let text = fs::read_to_string(self.auditd_conf()).unwrap();
        let n = text.lines().position(|l| l.starts_with("disk_full_action")).unwrap() + 1;
        format!("{}:{n}", self.auditd_conf().display())
    }
}

impl Drop for Inputs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// `audit-verify ARGS --json`, its JSON and exit code.
fn run(args: &[&str], inputs: &[(&str, &Path)]) -> (Value, Option<i32>) {
    let mut command = Command::new(common::binary());
    command.args(args).arg("--json");
    for (flag, path) in inputs {
        command.arg(flag).arg(path);
    }
    let Output { status, stdout, stderr } = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr);
    let json = serde_json::from_slice(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stderr}"));
    (json, status.code())
}

/// (id, location, severity) of each finding, sorted.
fn findings(report: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {report}"))
        .iter()
        .map(|f| (f["id"].to_string(), f["location"].to_string(), f["severity"].to_string()))
        .collect();
    out.sort();
    out
}

/// (source, rule, state) of each proof, in report order.
fn proofs(report: &Value) -> Vec<(String, String, String)> {
    report["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("no rules in {report}"))
        .iter()
        .map(|r| (r["source"].to_string(), r["rule"].to_string(), r["state"].to_string()))
        .collect()
}

/// What each run printed (`--json`) and its exit code.
type Run = (Value, Option<i32>);

/// `check` and the commands alone, on the same inputs.
struct Runs {
    inputs: Inputs,
    check: Run,
    rules: Run,
    lint: Run,
    prove: Run,
}

/// The fixture's rules loaded (not [`UNLOADED`]), then `check` and each command alone with X and Y.
fn check_and_standalone() -> Runs {
    let inputs = Inputs::new();
    let (dir, conf) = (inputs.rules_dir(), inputs.auditd_conf());
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.run_auditctl(&["-D"]).unwrap();
    let fixture = workspace("tests/fixtures/rules/check/10-check.rules");
    guard.run_auditctl(&["-R", fixture.to_str().unwrap()]).unwrap();
    let check = run(&["check", "--measure-seconds", "0"], &[("--rules-dir", &dir), ("--auditd-conf", &conf)]);
    let rules = run(&["rules"], &[("--rules-dir", &dir)]);
    let lint = run(&["lint"], &[("--rules-dir", &dir), ("--auditd-conf", &conf)]);
    let prove = run(&["prove"], &[("--rules-dir", &dir), ("--auditd-conf", &conf)]);
    drop(guard);
    Runs { inputs, check, rules, lint, prove }
}

#[test]
fn check_and_the_commands_alone_agree_on_the_same_inputs() {
    let Runs {
        inputs,
        check: (check, check_code),
        rules: (rules, rules_code),
        lint: (lint, lint_code),
        prove: (prove, prove_code),
    } = check_and_standalone();
    assert_eq!(check["errors"], Value::Array(vec![]), "{}", check["errors"]);

    assert_eq!(findings(&check["rules"]), findings(&rules), "rules: check and `rules` alone");
    let file = inputs.rules_dir().join("10-check.rules");
    let line_no = fs::read_to_string(&file).unwrap().lines().position(|l| l == UNLOADED).unwrap() + 1;
    let not_loaded = format!("\"{}:{line_no}\"", file.display());
    assert!(
        findings(&rules).iter().any(|(id, at, _)| id == "\"not_loaded\"" && *at == not_loaded),
        "the rule in X and not loaded is found: {:#?}",
        findings(&rules)
    );
    assert_eq!(rules_code, Some(1), "a high finding");

    assert_eq!(proofs(&check["prove"]), proofs(&prove), "prove: check and `prove` alone");
    let states: Vec<String> = proofs(&prove).into_iter().map(|(.., state)| state).collect();
    assert_eq!(states, ["\"proven\"", "\"proven\"", "\"not_loaded\""], "{:#?}", proofs(&prove));
    assert_eq!(prove_code, Some(1), "not_loaded is a gap");

    // Every loaded rule was proven, so check feeds lint no unproven rule: the findings are the same.
    assert_eq!(findings(&check["lint"]), findings(&lint), "lint: check and `lint` alone");
    assert_eq!(lint_code, Some(1), "disk_full_action = IGNORE is high");

    assert_eq!(check["verdict"], "fail", "{}", check["summary"]);
    assert_eq!(check_code, Some(1));
}

/// `check` once gave lint the default options: with `--rules-dir X --auditd-conf Y` it linted /etc/audit.
#[test]
fn check_lints_the_rules_dir_and_auditd_conf_it_is_given() {
    let Runs { inputs, check: (check, _), .. } = check_and_standalone();
    let lint = findings(&check["lint"]);
    let disk_full = format!("\"{}\"", inputs.disk_full_line());
    assert!(
        lint.iter()
            .any(|(id, at, severity)| id == "\"disk_action_unsafe\"" && *at == disk_full && severity == "\"high\""),
        "Y's disk_full_action = IGNORE, at its line: {lint:#?}"
    );
    let root = inputs.root.display().to_string();
    for (id, at, _) in &lint {
        assert!(
            !at.contains("/etc/audit/auditd.conf") && !at.contains("/etc/audit/rules.d"),
            "{id} at {at}: lint read the defaults, not {root}"
        );
    }
}
