//! Broken rules directories, each loaded for real as `augenrules --load` would load it (concatenated,
//! then `auditctl -R`), and checked with `audit-verify rules --rules-dir DIR --json`: every mistake must be
//! reported at its <file:line>. Kernel state is restored by the state guard.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use audit_verify::guard::{Environment, StateGuard};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/rules").join(name).canonicalize().unwrap()
}

/// Loads `dir` as augenrules would, with `-e 2` left out (it would lock this host until reboot), then runs
/// the CLI against it. Returns the findings as (id, location, message).
fn load_and_check(dir: &Path) -> Vec<(String, String, String)> {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let concatenated = concatenate_like_augenrules(dir);
    let tmp = std::env::temp_dir().join(format!("av-fixture-{}.rules", std::process::id()));
    std::fs::write(&tmp, concatenated).unwrap();
    // auditctl -R stops at the first bad line, as it does under augenrules: that is part of the test.
    let _ = guard.run_auditctl(&["-R", tmp.to_str().unwrap()]);
    std::fs::remove_file(&tmp).unwrap();
    let out = Command::new(common::binary()).args(["rules", "--json", "--rules-dir"]).arg(dir).output().unwrap();
    drop(guard);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_owned();
            (s("id"), s("location"), s("message"))
        })
        .collect()
}

/// What augenrules writes to audit.rules, minus `-e 2`: files in `ls -v` order, comments dropped, the last
/// `-D`, `-b`, `-f` first. Built with the shell tools augenrules uses, not with our parser.
fn concatenate_like_augenrules(dir: &Path) -> String {
    let script = r#"for f in $(ls -1v "$1" | grep '\.rules$'); do cat "$1/$f"; done | awk '
        /^[ \t]*$/ || /^[ \t]*#/ { next }
        /^[ \t]*-e/ { next }
        /^[ \t]*-D[ \t]*$/ { d = $0; next }
        /^[ \t]*-b/ { b = $0; next }
        /^[ \t]*-f/ { f = $0; next }
        { rules[n++] = $0 }
        END { if (d) print d; if (b) print b; if (f) print f; for (i = 0; i < n; i++) print rules[i] }'"#;
    let out = Command::new("sh").args(["-c", script, "sh"]).arg(dir).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn has(findings: &[(String, String, String)], id: &str, location_suffix: &str) -> bool {
    findings.iter().any(|(i, l, _)| i == id && l.ends_with(location_suffix))
}

#[test]
fn a_bad_syscall_in_the_middle_and_everything_after_it() {
    let dir = fixture("bad-syscall");
    let findings = load_and_check(&dir);
    assert!(has(&findings, "syntax_error", "20-middle.rules:3"), "{findings:#?}");
    // auditctl -R stopped at the typo: the rules after it are missing, and say why.
    for later in ["20-middle.rules:4", "30-after.rules:1"] {
        let f = findings.iter().find(|(i, l, _)| i == "not_loaded" && l.ends_with(later));
        let (_, _, message) = f.unwrap_or_else(|| panic!("{later} not reported: {findings:#?}"));
        assert!(message.contains("20-middle.rules:3"), "{message}");
    }
    assert!(!findings.iter().any(|(i, l, _)| i == "not_loaded" && l.ends_with("20-middle.rules:2")), "{findings:#?}");
}

#[test]
fn a_duplicate_rule() {
    let findings = load_and_check(&fixture("duplicate"));
    assert!(has(&findings, "duplicate", "20-again.rules:2"), "{findings:#?}");
    assert!(has(&findings, "not_loaded", "20-again.rules:3"), "the load stops at the duplicate: {findings:#?}");
}

#[test]
fn a_shadowed_rule() {
    let findings = load_and_check(&fixture("shadowed"));
    let (_, _, message) = findings
        .iter()
        .find(|(i, l, _)| i == "shadowed" && l.ends_with("20-watch.rules:2"))
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert!(message.contains("10-never.rules:3"), "{message}");
    assert!(!findings.iter().any(|(i, ..)| i == "not_loaded"), "everything loaded: {findings:#?}");
}

#[test]
fn rules_left_mutable() {
    let findings = load_and_check(&fixture("mutable"));
    assert!(has(&findings, "immutable_missing", "99-finalize.rules:2"), "{findings:#?}");
    assert!(!findings.iter().any(|(i, ..)| i == "not_loaded" || i == "syntax_error"), "{findings:#?}");
}
