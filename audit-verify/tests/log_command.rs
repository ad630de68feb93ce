//! `audit-verify log`: a rotation set read oldest first, with events, keys, bad lines by <file:line> and
//! serial gaps. Reads files only: no kernel audit state, no lock needed.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{fs, path::PathBuf, process::Command};

use serde_json::Value;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_rotation_set_is_summed_up_oldest_first() {
    let dir = Dir(std::env::temp_dir().join(format!("audit-verify-log-cmd-{}", std::process::id())));
    fs::create_dir_all(&dir.0).unwrap();
    let write = |name: &str, text: &str| fs::write(dir.0.join(name), text).unwrap();
    write("audit.log.2", "type=SYSCALL msg=audit(1700000000.000:10): syscall=59 key=\"exec\"\n");
    write("audit.log.1", "type=SYSCALL msg=audit(1700000100.000:11): syscall=59 key=\"exec\"\nnot a record\n");
    // Serials 12 and 13 never reached the log; the last line has no newline and is still a record.
    write("audit.log", "type=SYSCALL msg=audit(1700003600.000:14): syscall=2 key=\"open\"");
    let out = Command::new(common::binary()).arg("log").arg("--json").arg(dir.0.join("audit.log")).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<_> =
        s["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(files, ["audit.log.2", "audit.log.1", "audit.log"]);
    assert_eq!((s["events"].as_u64(), s["records"].as_u64()), (Some(3), Some(3)));
    assert_eq!(s["keys"]["exec"]["events"], 2);
    assert_eq!(s["keys"]["open"]["events_per_hour"], 1.0);
    assert_eq!(s["nodes"][""]["missing"], 2);
    assert_eq!(s["nodes"][""]["gaps"], serde_json::json!([[12, 13]]));
    assert_eq!(s["warnings"], 1);
    let warning = s["warning_list"][0].as_str().unwrap();
    assert!(warning.ends_with("audit.log.1:2: skipped: no `type=` at the start of the line"), "{warning}");
}

#[test]
fn a_missing_file_is_exit_2_with_one_line() {
    let out = Command::new(common::binary()).args(["log", "/nonexistent/audit.log"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("/nonexistent"), "{stderr}");
}
