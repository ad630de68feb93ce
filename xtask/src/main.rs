//! Work around the build: `cargo xtask setup | run | test | vm-test | deb`.

mod deb;
mod setup;
mod vm;

use std::process::Command;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "audit-verify's build and test tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Installs what is missing (Debian packages, the `debian` toolchain link, bpf-linker) and starts auditd.
    Setup,
    /// Sets up, builds in release mode and runs audit-verify on this host (default: `check`).
    Run {
        /// Arguments for audit-verify.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Sets up, then runs formatting and lint checks, the whole test suite, and the VM scenarios (vm-test).
    Test,
    /// Sets up, then runs the kprobe/fentry, tamper and `-e 2` scenarios in QEMU guests, one per Debian
    /// cloud kernel of the matrix (bullseye, bookworm, trixie, sid).
    VmTest {
        /// Bound on each guest's run, boot included, in seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Boot only this suite's kernel (repeatable; default: the whole matrix).
        #[arg(long = "suite")]
        suites: Vec<String>,
    },
    /// Sets up, builds the release binary, generates its man pages and completions, and packs the Debian
    /// package with cargo-deb (binary, man pages, completions, systemd units); prints the .deb's path.
    Deb,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Setup => setup::run(),
        Task::Run { args } => {
            setup::run()?;
            cargo(&["build", "--release", "--package", "audit-verify"])?;
            let args = if args.is_empty() { vec!["check".to_owned()] } else { args };
            let status = Command::new(workspace_root().join("target/release/audit-verify"))
                .args(&args)
                .status()
                .context("running audit-verify")?;
            std::process::exit(status.code().unwrap_or(2));
        }
        Task::Test => {
            setup::run()?;
            cargo(&["fmt", "--all", "--check"])?;
            cargo(&["clippy", "--all-targets", "--", "-D", "warnings"])?;
            clippy_ebpf()?;
            // One test at a time: kernel audit state is global to the machine.
            cargo(&["test", "--", "--test-threads=1"])?;
            // The kernels users run have kprobes and fentry; this host's does not. The whole matrix, each
            // guest bounded as `vm-test`'s default.
            vm::run(&workspace_root(), &vm::Options { timeout: std::time::Duration::from_mins(10), suites: Vec::new() })
        }
        Task::Deb => {
            setup::run()?;
            let deb = deb::build(&workspace_root())?;
            println!("{}", deb.display());
            Ok(())
        }
        Task::VmTest { timeout, suites } => {
            setup::run()?;
            vm::run(&workspace_root(), &vm::Options { timeout: std::time::Duration::from_secs(timeout), suites })
        }
    }
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_owned()
}

/// The eBPF crate under the same lint policy, with Debian's clippy for the `debian` toolchain that builds
/// it (rustup's stable has no `core` for bpfel-unknown-none). The flags are the ones aya-build passes.
fn clippy_ebpf() -> anyhow::Result<()> {
    let args = [
        "run",
        "debian",
        "cargo",
        "clippy",
        "--target",
        "bpfel-unknown-none",
        "--bins",
        "--release",
        "--",
        "-D",
        "warnings",
    ];
    eprintln!("xtask: (audit-verify-ebpf) rustup {}", args.join(" "));
    let root = workspace_root();
    let status = Command::new("rustup")
        .args(args)
        .current_dir(root.join("audit-verify-ebpf"))
        .env("PATH", setup::path_with_cargo_bin())
        .env("RUSTC_BOOTSTRAP", "aya_ebpf,aya_ebpf_bindings")
        .env("CARGO_ENCODED_RUSTFLAGS", "--cfg=bpf_target_arch=\"x86_64\"")
        .env("CARGO_TARGET_DIR", root.join("target/ebpf-clippy"))
        .status()
        .context("running clippy on audit-verify-ebpf")?;
    if !status.success() {
        bail!("clippy on audit-verify-ebpf failed ({status})");
    }
    Ok(())
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(workspace_root())
        .env("PATH", setup::path_with_cargo_bin())
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
