//! `measure --prometheus` and `check --prometheus` write textfiles that promtool accepts, whose series
//! can be summed (no catch-all series beside the parts), and that replace the old file atomically.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("av-prometheus-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs audit-verify with `--prometheus DIR/audit.prom` beside a hard link to the file it replaces, and
/// returns the new text. Writing in place would change the linked copy too; a rename leaves it alone.
fn write_textfile(name: &str, args: &[&str]) -> String {
    let dir = scratch(name);
    let path = dir.join("audit.prom");
    std::fs::write(&path, "previous 1\n").unwrap();
    std::fs::hard_link(&path, dir.join("held-by-a-scraper")).unwrap();
    let out = Command::new(common::binary()).args(args).arg("--prometheus").arg(&path).output().unwrap();
    // 2 is fine here: a part of check that cannot run on this host still leaves the textfile.
    assert!(matches!(out.status.code(), Some(0..=2)), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("held-by-a-scraper")).unwrap(), "previous 1\n", "written in place");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "a temporary file was left behind: {names:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    promtool_accepts(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    text
}

/// `promtool check metrics` (Debian's `prometheus` package, installed by `cargo xtask setup`), where present.
fn promtool_accepts(path: &Path) {
    let Ok(out) =
        Command::new("promtool").args(["check", "metrics"]).stdin(std::fs::File::open(path).unwrap()).output()
    else {
        eprintln!("SKIP promtool: not installed (apt-get install prometheus)");
        return;
    };
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics {}: {said}", path.display());
}

fn assert_summable(text: &str) {
    assert!(!text.contains("reason=\"all\""), "a catch-all series doubles sum(): {text}");
    assert!(
        text.lines().any(|l| l.starts_with("audit_verify_kernel_lost ")),
        "the lost total has its own gauge: {text}"
    );
}

#[test]
fn measure_writes_a_valid_summable_textfile_atomically() {
    let text = write_textfile("measure", &["measure", "--duration", "1"]);
    assert_summable(&text);
}

#[test]
fn check_writes_measurement_and_verdict_atomically() {
    let text = write_textfile("check", &["check", "--duration", "1"]);
    assert_summable(&text);
    assert!(text.contains("audit_verify_check_pass "), "{text}");
    // Without a measurement window the verdict is still published.
    let text = write_textfile("check-no-window", &["check", "--duration", "0"]);
    assert!(text.contains("audit_verify_check_pass ") && !text.contains("audit_verify_window_seconds"), "{text}");
}
