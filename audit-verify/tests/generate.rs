//! The hidden `generate` subcommand writes man pages and completions that cover every visible
//! subcommand. It reads no audit state, so it needs no lock.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{path::Path, process::Command};

const SUBCOMMANDS: [&str; 10] =
    ["status", "check", "rules", "measure", "predict", "count-syscalls", "lint", "prove", "cover", "watch"];

fn generate(args: &[&str], dir: &Path) {
    let out = Command::new(common::binary()).arg("generate").args(args).arg(dir).output().unwrap();
    assert!(out.status.success(), "generate {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("av-generate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn man_pages_cover_every_subcommand_and_state_the_exit_codes() {
    let dir = scratch("man");
    generate(&["man"], &dir);
    // roff escapes hyphens (`count\-syscalls`).
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map(|page| page.replace("\\-", "-"));
    let main = read("audit-verify.1").unwrap();
    for sub in SUBCOMMANDS {
        assert!(main.contains(sub), "audit-verify.1 does not mention {sub}");
        let page = read(&format!("audit-verify-{sub}.1")).unwrap_or_else(|e| panic!("no page for {sub}: {e}"));
        assert!(page.contains("Exit codes") && page.contains("130"), "audit-verify-{sub}.1 has no exit codes");
    }
    // Hidden helpers are for us, not for readers of man pages.
    assert!(!dir.join("audit-verify-emit-load.1").exists() && !dir.join("audit-verify-generate.1").exists());
    // man(1) renders every page without a warning, where man-db is installed.
    if Command::new("man").arg("--version").output().is_ok_and(|o| o.status.success()) {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let page = entry.unwrap().path();
            let out =
                Command::new("man").args(["--warnings", "-l"]).arg(&page).env("MANWIDTH", "100").output().unwrap();
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{}: {}",
                page.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completions_for_every_shell_cover_every_subcommand() {
    let dir = scratch("completions");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        generate(&["completions", shell], &dir);
    }
    let scripts: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(scripts.len(), 5, "{scripts:?}");
    for script in &scripts {
        let text = std::fs::read_to_string(script).unwrap();
        for sub in SUBCOMMANDS {
            assert!(text.contains(sub), "{} does not complete {sub}", script.display());
        }
        assert!(text.contains("barrier-timeout"), "{} lacks --barrier-timeout", script.display());
    }
    // bash itself accepts the bash script.
    let bash = scripts.iter().find(|p| p.extension().is_some_and(|e| e == "bash")).unwrap();
    let out = Command::new("bash").arg("-n").arg(bash).output().unwrap();
    assert!(out.status.success(), "bash -n: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
