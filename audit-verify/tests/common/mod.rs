//! Helpers shared by the privileged integration tests. These tests run against the real kernel and the
//! real auditd; `cargo xtask test` runs them one at a time.
#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod lint_run;

use std::{
    collections::BTreeMap,
    fs,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::Command,
};

/// `auditctl -s` as name → value (the numeric first word of each line).
pub fn auditctl_status() -> BTreeMap<String, u64> {
    let out = Command::new("auditctl").arg("-s").output().expect("running auditctl -s");
    assert!(out.status.success(), "auditctl -s failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_owned(), w.next()?.parse().ok()?))
        })
        .collect()
}

/// `auditctl -l`, one rule a line (empty when none).
pub fn auditctl_rules() -> Vec<String> {
    let out = Command::new("auditctl").arg("-l").output().expect("running auditctl -l");
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with("No rules")).map(str::to_owned).collect()
}

/// `auditd`, to start again a daemon a test stopped. It gets none of our inherited descriptors: the tests
/// run under `flock /run/av-kernel-tests.lock`, and a daemon that kept that descriptor would hold the
/// machine-wide lock for as long as it lives.
pub fn auditd() -> Command {
    let mut command = Command::new("auditd");
    // SAFETY: close_range is a single async-signal-safe syscall, run in the child before exec.
    unsafe {
        command.pre_exec(|| {
            if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command
}

/// The audit-verify binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_audit-verify"))
}

/// An example built by `cargo test` beside the test binaries.
pub fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().expect("test binary path");
    let target = deps.parent().and_then(|d| d.parent()).expect("target/<profile>");
    target.join("examples").join(name)
}

/// A path in the workspace (tests/fixtures/…, docs/…).
pub fn workspace(path: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The `$id` prefix of docs/schema/*.schema.json; references between them resolve to those files.
pub const SCHEMA_BASE: &str = "https://audit-verify.invalid/schema/";

pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Resolves `$ref`s to our own `$id`s from docs/schema/, and refuses everything else (no network).
struct DocsSchemas;

impl jsonschema::Retrieve for DocsSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let name =
            uri.as_str().strip_prefix(SCHEMA_BASE).ok_or_else(|| format!("{} is not in docs/schema", uri.as_str()))?;
        Ok(read_json(&workspace("docs/schema").join(name)))
    }
}

/// The validator for `audit-verify COMMAND --json`, from docs/schema/COMMAND.schema.json.
pub fn schema_validator(command: &str) -> jsonschema::Validator {
    let schema = read_json(&workspace("docs/schema").join(format!("{command}.schema.json")));
    jsonschema::options()
        .with_retriever(DocsSchemas)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{command}.schema.json is not a valid schema: {e}"))
}

/// A folder of the public corpus, `../shared/corpus/KIND` beside the checkout: read in place, never copied.
pub fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus").join(kind)
}

/// Every file of a corpus folder, at any depth, but the PROVENANCE.txt files; sorted.
pub fn corpus_files(kind: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![corpus(kind)];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("the corpus {}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n != "PROVENANCE.txt") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Broader than the guard on purpose: anything that could mean `-e 2`, `-f 2` or an immutable loginuid.
pub fn irreversible(line: &str) -> bool {
    let compact: String = line.chars().filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'').collect();
    compact.contains("-e2") || compact.contains("-f2") || line.contains("immutable") || compact.contains("--loginuid")
}

/// A rules text with each line a host cannot undo blanked to `#`, so that line numbers stay.
pub fn without_irreversible(text: &str) -> String {
    text.split('\n').map(|l| if irreversible(l) { "#" } else { l }).collect::<Vec<_>>().join("\n")
}

/// Content hash, mtime and ctime (with nanoseconds) of a path, not following a final symlink.
pub fn fingerprint(path: &Path) -> Option<(u64, i64, i64, i64, i64)> {
    use std::{hash::Hasher as _, os::unix::fs::MetadataExt as _};
    let meta = fs::symlink_metadata(path).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    if meta.is_file() {
        hasher.write(&fs::read(path).ok()?);
    }
    Some((hasher.finish(), meta.mtime(), meta.mtime_nsec(), meta.ctime(), meta.ctime_nsec()))
}

/// A scratch path of a test (a file or a directory), removed when the test ends, also by a panic.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// `$TMPDIR/audit-verify-NAME-PID`, nothing created yet.
    pub fn named(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!("audit-verify-{name}-{}", std::process::id())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = if self.0.is_dir() { fs::remove_dir_all(&self.0) } else { fs::remove_file(&self.0) };
    }
}

/// Polls `f` every 200 ms for up to `secs` seconds: its first `Some`, or `None` at the end.
pub fn poll<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() > end {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Whether `condition` holds within 10 s (polled as [`poll`] does).
pub fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    poll(10, || condition().then_some(())).is_some()
}

/// One plain HTTP GET on loopback: the body of a 200, or `None` when nothing answers (yet).
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}
