//! `check` end to end on this host, with a small rule set loaded for real: its JSON validates against
//! docs/schema/check.schema.json, its JUnit parses as CI systems parse it, and the exit code follows the verdict.

#![expect(
    unused_crate_dependencies,
    reason = "a test crate is linked with every dependency of the package; lib.rs checks them"
)]

mod common;

use std::{io::BufReader, process::Command};

use audit_verify::guard::{Environment, StateGuard};
use serde_json::Value;

#[test]
fn check_json_validates_junit_parses_and_exit_follows_the_verdict() {
    let rules = common::workspace("tests/fixtures/rules/check");
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.run_auditctl(&["-R", rules.join("10-check.rules").to_str().unwrap()]).unwrap();
    let junit = std::env::temp_dir().join(format!("av-check-{}.xml", std::process::id()));
    let out = Command::new(common::binary())
        .args(["check", "--json", "--measure-seconds", "1", "--rules-dir"])
        .arg(&rules)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    drop(guard);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[5/5] measure"), "progress is shown: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));

    let validator = common::schema_validator("check");
    let errors: Vec<String> =
        validator.iter_errors(&report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "check --json does not match docs/schema/check.schema.json: {errors:#?}");

    // Every part ran, and the two rules were proven against their file and line.
    assert_eq!(report["errors"], Value::Array(vec![]), "{}", report["errors"]);
    let proofs = report["prove"]["rules"].as_array().unwrap();
    assert_eq!(proofs.len(), 2, "{proofs:#?}");
    for p in proofs {
        assert_eq!(p["state"], "proven", "{p}");
        assert!(p["source"].as_str().unwrap().contains("10-check.rules:"), "{p}");
    }
    let expected_code = match report["verdict"].as_str().unwrap() {
        "pass" => 0,
        "fail" => 1,
        _ => 2,
    };
    assert_eq!(out.status.code(), Some(expected_code), "verdict {}", report["verdict"]);
    let high = report["summary"]["high"].as_u64().unwrap();
    assert_eq!(report["verdict"] == "fail", high > 0, "fail_on high: fails exactly when a high finding exists");

    let file = std::fs::File::open(&junit).unwrap();
    let suites = junit_parser::from_reader(BufReader::new(file)).expect("a JUnit XML parser accepts --junit");
    std::fs::remove_file(&junit).unwrap();
    let names: Vec<&str> = suites.suites.iter().map(|s| s.name.as_str()).collect();
    let prove = suites.suites.iter().find(|s| s.name == "audit-verify prove").unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(prove.cases.len(), 2);
    assert_eq!(prove.failures, 0);
    let lint = suites.suites.iter().find(|s| s.name.ends_with("lint")).unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(lint.cases.len(), 10, "a case per footgun");
    let junit_failures: u64 = suites.suites.iter().map(|s| s.failures).sum();
    assert_eq!(junit_failures > 0, report["verdict"] == "fail", "JUnit fails when the check fails");
}
