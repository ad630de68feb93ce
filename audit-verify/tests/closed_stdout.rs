//! A reader that stops early (`audit-verify status | head -c 10`) is not an error: the run ends with its
//! own exit code, quietly, never with a panic (exit 101). `status` talks to the kernel: run this file
//! under the kernel-tests lock.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    os::fd::{FromRawFd as _, OwnedFd},
    process::{Command, Stdio},
};

/// Runs audit-verify with a stdout pipe whose read end is already closed: its first write gets EPIPE.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let mut fds = [0; 2];
    // SAFETY: pipe fills two fds we then own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fresh fds from pipe(2), each owned once.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    let out = Command::new(common::binary())
        .args(args)
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .expect("running audit-verify");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn status_into_a_closed_pipe_exits_with_its_outcome() {
    for args in [&["status"][..], &["status", "--json"]] {
        let (code, stderr) = with_closed_stdout(args);
        assert!(matches!(code, Some(0 | 1)), "{args:?}: exit {code:?}; stderr:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn lint_of_a_tree_into_a_closed_pipe_keeps_its_exit_code() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/lint/04-immutable/fail");
    let (code, stderr) = with_closed_stdout(&["lint", "--root", root]);
    let expected = Command::new(common::binary()).args(["lint", "--root", root]).output().unwrap().status.code();
    assert_eq!(code, expected, "the same exit code as with a reader; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
