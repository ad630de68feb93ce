//! `cargo xtask deb`: the Debian package, built by cargo-deb from `[package.metadata.deb]` in
//! audit-verify/Cargo.toml. Man pages and completions come from the binary itself (`audit-verify
//! generate`), so they are generated after the release build and before cargo-deb packs them.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail};

/// Where cargo-deb finds the generated assets: `target/release/` in Cargo.toml means the real target
/// directory, so this sits under it (`deb-assets/man`, `deb-assets/completions`).
const ASSETS: &str = "deb-assets";

/// The shells whose completions the package installs (the asset paths in Cargo.toml name their files).
const SHELLS: &[&str] = &["bash", "zsh", "fish"];

/// Builds the package and returns its path.
pub fn build(root: &Path) -> anyhow::Result<PathBuf> {
    super::cargo(&["build", "--release", "--package", "audit-verify"])?;
    let release = target_dir(root).join("release");
    let binary = release.join("audit-verify");
    let assets = release.join(ASSETS);
    // Stale pages of a removed subcommand must not be packed.
    if assets.exists() {
        std::fs::remove_dir_all(&assets).with_context(|| format!("removing {}", assets.display()))?;
    }
    generate(&binary, &["man".as_ref(), assets.join("man").as_os_str()])?;
    gzip_man_pages(&assets.join("man"))?;
    for shell in SHELLS {
        generate(&binary, &["completions".as_ref(), shell.as_ref(), assets.join("completions").as_os_str()])?;
    }
    let out = target_dir(root).join("debian");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // --no-build: the binary the pages were generated from is the one packed.
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["deb", "--package", "audit-verify", "--no-build", "--output"])
        .arg(&out)
        .current_dir(root)
        .env("PATH", super::setup::path_with_cargo_bin())
        .output()
        .context("running cargo deb (installed by `cargo xtask setup`)")?;
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        bail!("cargo deb failed ({})", output.status);
    }
    // cargo-deb prints the path of the package it wrote as its last line.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let deb = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| Path::new(l).extension().is_some_and(|e| e == "deb"))
        .map(PathBuf::from)
        .with_context(|| format!("cargo deb named no .deb on stdout: {stdout:?}"))?;
    if !deb.is_file() {
        bail!("cargo deb reported {} but there is no such file", deb.display());
    }
    Ok(deb)
}

/// Debian policy wants man pages gzipped, and cargo-deb compresses only assets it did not build (ours sit
/// under target/release/). `-9n`: best compression, no name or time stamp, so the package is reproducible.
fn gzip_man_pages(dir: &Path) -> anyhow::Result<()> {
    let pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    if pages.is_empty() {
        bail!("audit-verify generate man wrote no page into {}", dir.display());
    }
    let status = Command::new("gzip").arg("-9nf").args(&pages).status().context("running gzip")?;
    if !status.success() {
        bail!("gzip of the man pages failed ({status})");
    }
    Ok(())
}

fn generate(binary: &Path, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
    let status = Command::new(binary)
        .arg("generate")
        .args(args)
        .status()
        .with_context(|| format!("running {} generate", binary.display()))?;
    if !status.success() {
        bail!("{} generate {args:?} failed ({status})", binary.display());
    }
    Ok(())
}

/// `CARGO_TARGET_DIR` where set (relative to the workspace, as cargo reads it), else `target/`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir))
}
