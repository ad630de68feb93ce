//! The first sensor counts real syscalls of a followed process tree, and never its own.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::process::Command;

use audit_verify::{
    sensor::syscall_counter::SyscallCounter,
    syscalls::{Abi, number},
};
use serde_json::Value;

const RUNS: u64 = 25;

#[test]
fn counts_each_execve_of_a_child_process_tree() {
    let script = format!("i=0; while [ $i -lt {RUNS} ]; do /bin/true; i=$((i+1)); done");
    let out = Command::new(common::binary())
        .args(["count-syscalls", "--json", "--", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let execve = report["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "execve")
        .map_or(0, |s| s["count"].as_u64().unwrap());
    // The shell's own execve, then one per /bin/true (`[` is a dash builtin).
    assert_eq!(execve, RUNS + 1, "{report}");
    assert_eq!(report["forks_followed"].as_u64(), Some(RUNS), "{report}");
    assert_eq!(report["command_exit_code"].as_i64(), Some(0));
}

#[test]
fn the_loader_is_filtered_out_in_the_kernel() {
    const CALLS: u64 = 200;
    let mut sensor = SyscallCounter::attach().unwrap();
    // Follow ourselves: without the in-kernel filter these calls would be counted.
    sensor.follow(std::process::id()).unwrap();
    for _ in 0..CALLS {
        // SAFETY: getppid has no arguments and no side effects.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    let counts = sensor.counts().unwrap();
    let getppid = number(Abi::B64, "getppid").unwrap();
    assert_eq!(counts.of(getppid), 0, "our own syscalls were counted: {counts:?}");
    assert!(counts.self_skipped >= CALLS, "the filter did not see our calls: {counts:?}");
}
