//! `audit-verify lint --json` run as a user runs it, for the lint tests.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

/// tests/fixtures/lint.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lint").canonicalize().unwrap()
}

/// A fixture tree's path, as an argument.
pub fn tree(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// One run: its exit code, findings and skipped checks (empty on exit 2), and stderr.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub findings: Vec<Value>,
    pub skipped: Vec<Value>,
    pub stderr: String,
}

impl Run {
    pub fn ids(&self, footgun: u64) -> Vec<&str> {
        self.findings.iter().filter(|f| f["footgun"] == footgun).map(|f| f["id"].as_str().unwrap()).collect()
    }

    pub fn find(&self, id: &str) -> Vec<&Value> {
        self.findings.iter().filter(|f| f["id"] == id).collect()
    }

    /// Findings at medium or above, as (footgun, id), sorted.
    pub fn serious(&self) -> Vec<(u64, String)> {
        let mut v: Vec<_> = self
            .findings
            .iter()
            .filter(|f| f["severity"] != "info")
            .map(|f| (f["footgun"].as_u64().unwrap_or(0), f["id"].as_str().unwrap().to_owned()))
            .collect();
        v.sort();
        v
    }

    pub fn skipped_reason(&self, check: &str) -> Option<&str> {
        self.skipped.iter().find(|s| s["check"].as_str().is_some_and(|c| c.contains(check)))?["reason"].as_str()
    }
}

/// `audit-verify lint --json ARGS`.
pub fn lint(args: &[&str]) -> Run {
    let out = Command::new(super::binary()).arg("lint").arg("--json").args(args).output().unwrap();
    let code = out.status.code().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if code == 2 {
        return Run { code, findings: Vec::new(), skipped: Vec::new(), stderr };
    }
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let list = |k: &str| report[k].as_array().cloned().unwrap_or_default();
    Run { code, findings: list("findings"), skipped: list("skipped"), stderr }
}
