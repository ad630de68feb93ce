//! What tests/fleet.rs runs its tools with: commands and their output, the `dist/` paths, the package
//! built once, and the `PyPI` and npm tools cached under `target/fleet/`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

use serde_json::Value;

use super::common;

/// The newest ansible-core whose controller runs on Debian 12's Python 3.11.
const PYPI: &[&str] = &["ansible-core==2.19.14", "kubernetes-validate==1.37.0"];
/// The `ServiceMonitor`'s schema: kubernetes-validate knows only the built-in kinds.
const NPM: &[&str] = &["@kubernetes-models/prometheus-operator@6.0.0", "js-yaml@4.3.2"];

/// The .deb, built once per test run by `cargo xtask deb` (the one place that builds it).
pub fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let stdout = ok(
            "cargo xtask deb",
            Command::new(option_env!("CARGO").unwrap_or("cargo"))
                .args(["run", "--quiet", "--package", "xtask", "--", "deb"])
                .current_dir(common::workspace("")),
        );
        let deb = PathBuf::from(stdout.lines().last().expect("cargo xtask deb printed its path").trim());
        assert!(deb.is_file(), "{}", deb.display());
        deb
    })
}

pub fn dist(path: &str) -> PathBuf {
    common::workspace(&format!("dist/{path}"))
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"))
}

/// Runs `command`, asserts it succeeded, and returns its stdout.
pub fn ok(what: &str, command: &mut Command) -> String {
    let out = run(command);
    assert!(out.status.success(), "{what} failed ({}):\n{}", out.status, text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

/// `target/fleet/`: the tools from `PyPI` and npm, kept between runs.
fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/fleet-HASH
    let target = exe.ancestors().nth(3).expect("target/").to_owned();
    target.join("fleet")
}

/// Installs `packages` with `install` into `dir` unless a stamp there says they are in it already.
fn cached(dir: &Path, packages: &[&str], install: impl FnOnce(&Path)) {
    let stamp = dir.join(".installed");
    let want = packages.join("\n");
    if fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        return;
    }
    fs::create_dir_all(dir).unwrap();
    install(dir);
    fs::write(&stamp, want).unwrap();
}

/// A venv with ansible-core and kubernetes-validate, on Debian's Python.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = cache_dir().join("venv");
        cached(&dir, PYPI, |dir| {
            ok("python3 -m venv", Command::new("/usr/bin/python3").args(["-m", "venv", "--clear"]).arg(dir));
            ok("pip install", Command::new(dir.join("bin/pip")).args(["install", "--quiet"]).args(PYPI));
        });
        dir
    })
}

/// An npm prefix with the `ServiceMonitor` validator (tests/fleet/servicemonitor.mjs, copied in: an ES
/// module resolves its imports beside itself).
pub fn npm_dir() -> &'static Path {
    static NPM_DIR: OnceLock<PathBuf> = OnceLock::new();
    NPM_DIR.get_or_init(|| {
        let dir = cache_dir().join("npm");
        cached(&dir, NPM, |dir| {
            ok(
                "npm install",
                Command::new("npm")
                    .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                    .arg(dir)
                    .args(NPM),
            );
        });
        fs::copy(common::workspace("audit-verify/tests/fleet/servicemonitor.mjs"), dir.join("servicemonitor.mjs"))
            .unwrap();
        dir
    })
}
