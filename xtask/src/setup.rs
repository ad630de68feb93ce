//! One idempotent set-up for a fresh Debian-like machine: each step checks before it acts.

use std::{path::Path, process::Command, time::Duration};

use anyhow::{Context as _, bail};

/// Debian packages: the eBPF compiler (rustc-web ships `core` for bpfel-unknown-none), LLVM 22 for
/// bpf-linker, the uapi headers for the syscall tables, audit itself, and auparse for the log reader's oracle.
const PACKAGES: &[&str] = &[
    "rustc-web",
    // clippy for that toolchain: the eBPF crate is linted like the others.
    "rust-web-clippy",
    "cargo-web",
    "libstd-rust-web-dev-bpf",
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "zlib1g-dev",
    "linux-libc-dev",
    "auditd",
    // audisp-remote, for `lint --prove-shipping` and its test; iproute2's `ip netns` keeps that test's
    // collector on a loopback of its own.
    "audispd-plugins",
    "iproute2",
    // auparse's Python binding for /usr/bin/python3: the oracle of tests/auditlog_oracle.rs.
    "python3-audit",
    // promtool, which validates the Prometheus textfiles `measure` and `check` write, and checks and
    // unit-tests dist/prometheus's alert rules.
    "prometheus",
    // The fleet artifacts (tests/fleet.rs): lintian judges the .deb; systemd-analyze verifies its units
    // (systemd); ansible-core and kubernetes-validate come from PyPI into a venv.
    "lintian",
    "systemd",
    "python3-venv",
];

/// cargo-deb, which packs the .deb from `[package.metadata.deb]` (`cargo xtask deb`).
const CARGO_DEB_VERSION: &str = "3.8.0";

const BPF_LINKER_VERSION: &str = "0.13.0";

pub fn run() -> anyhow::Result<()> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "setup needs root (it installs Debian packages and starts auditd); run as root, e.g. `sudo -E cargo xtask ...`"
        );
    }
    if !is_debian_like() {
        bail!(
            "this is not a Debian-like system (no apt-get / dpkg). Install the equivalents of: {}; then \
             `rustup toolchain link debian /usr` and bpf-linker {BPF_LINKER_VERSION} with LLVM 22",
            PACKAGES.join(" ")
        );
    }
    install_packages()?;
    link_debian_toolchain()?;
    install_bpf_linker()?;
    install_cargo_deb()?;
    install_npm()?;
    start_auditd()
}

fn is_debian_like() -> bool {
    Path::new("/etc/debian_version").exists() && which("apt-get") && which("dpkg-query")
}

fn which(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn install_packages() -> anyhow::Result<()> {
    install_missing("setup", PACKAGES)
}

/// Installs those of `packages` that are missing (one `apt-get update` first); `who` labels the output.
pub fn install_missing(who: &str, packages: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("{who}: installing {}", missing.join(" "));
    sh("apt-get update -q", &["apt-get", "update", "-q"])?;
    let mut args = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    sh("apt-get install", &args)
}

fn link_debian_toolchain() -> anyhow::Result<()> {
    let list = Command::new("rustup").args(["toolchain", "list"]).output().context("running rustup")?;
    if String::from_utf8_lossy(&list.stdout).lines().any(|l| l.split_whitespace().next() == Some("debian")) {
        return Ok(());
    }
    eprintln!("setup: linking Debian's Rust (/usr) as the rustup toolchain `debian`");
    sh("rustup toolchain link", &["rustup", "toolchain", "link", "debian", "/usr"])
}

fn install_bpf_linker() -> anyhow::Result<()> {
    let current = Command::new("bpf-linker").arg("--version").env("PATH", path_with_cargo_bin()).output();
    if current.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION)) {
        return Ok(());
    }
    eprintln!("setup: building bpf-linker {BPF_LINKER_VERSION} against LLVM 22 (about a minute)");
    let status = Command::new("cargo")
        .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION, "--locked"])
        .args(["--no-default-features", "--features", "llvm-22"])
        .env("PATH", format!("/usr/lib/llvm-22/bin:{}", path_with_cargo_bin()))
        .status()
        .context("running cargo install bpf-linker")?;
    if !status.success() {
        bail!("cargo install bpf-linker failed ({status})");
    }
    Ok(())
}

fn install_cargo_deb() -> anyhow::Result<()> {
    let current = Command::new("cargo").args(["deb", "--version"]).env("PATH", path_with_cargo_bin()).output();
    if current.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_DEB_VERSION)) {
        return Ok(());
    }
    eprintln!("setup: building cargo-deb {CARGO_DEB_VERSION} (about two minutes)");
    let status = Command::new("cargo")
        .args(["install", "cargo-deb", "--version", CARGO_DEB_VERSION, "--locked"])
        .env("PATH", path_with_cargo_bin())
        .status()
        .context("running cargo install cargo-deb")?;
    if !status.success() {
        bail!("cargo install cargo-deb failed ({status})");
    }
    Ok(())
}

/// npm, for the `ServiceMonitor`'s schema (tests/fleet.rs). Only where no `npm` runs: a Node.js installed
/// from elsewhere brings its own, and Debian's `npm` package would conflict with it.
fn install_npm() -> anyhow::Result<()> {
    if which("npm") {
        return Ok(());
    }
    install_missing("setup", &["nodejs", "npm"])
}

/// auditd daemonizes by itself; no systemd needed. Waits until the kernel has registered it.
fn start_auditd() -> anyhow::Result<()> {
    if auditd_running() {
        return Ok(());
    }
    eprintln!("setup: starting auditd");
    sh("auditd", &["auditd"])?;
    for _ in 0..50 {
        if auditd_running() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("auditd started but the kernel has not registered it after 5 s (see `auditctl -s`)")
}

/// The kernel keeps a dead auditd's pid registered until it next fails to send to it, so a
/// registered pid proves nothing: the process must exist, be auditd, and not be a zombie.
fn auditd_running() -> bool {
    let Ok(out) = Command::new("auditctl").arg("-s").output() else { return false };
    let pid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("pid ").and_then(|p| p.trim().parse::<u32>().ok()))
        .unwrap_or(0);
    pid != 0
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            // "pid (comm) state ...": comm may hold spaces, so split at the last ')'.
            stat.rsplit_once(") ").is_some_and(|(head, tail)| head.ends_with("(auditd") && !tail.starts_with('Z'))
        })
}

fn sh(what: &str, argv: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(argv[0])
        .args(&argv[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// PATH with ~/.cargo/bin first, where `cargo install` puts bpf-linker.
pub fn path_with_cargo_bin() -> String {
    let home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_else(|_| "/root".into())));
    format!("{home}/bin:{}", std::env::var("PATH").unwrap_or_default())
}
