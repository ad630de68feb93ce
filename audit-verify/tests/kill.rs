//! Runs leave nothing behind, however they end: `measure` and `prove` killed by SIGKILL, SIGTERM and
//! SIGINT mid-run, with the host compared before and after by one snapshot ([`Host`]): tracefs and
//! debugfs mounts, our entries in /tmp and /run, BPF programs of ours, audit settings and rules.
//!
//! What must hold differs by signal, and each test asserts exactly that:
//! - SIGTERM and SIGINT: the run stops within a few seconds, exits 128 + signal, prints a report marked
//!   partial, and the host is as found.
//! - SIGKILL cannot be caught: mounts vanish with the private mount namespace and BPF programs with the
//!   process; audit state is as found because neither command changes any (the rules here are loaded by
//!   the test's own guard, not by the run); only prove's scratch directory is left, and the next run
//!   removes it.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    collections::BTreeSet,
    fs,
    io::{BufRead as _, BufReader, Read as _},
    os::unix::process::ExitStatusExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use audit_verify::guard::{Environment, StateGuard};
use audit_verify_common::names;
use common::{auditctl_rules, auditctl_status};

/// Everything a run could leave behind on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Host {
    /// `/proc/mounts` lines of tracefs and debugfs, in the test's (the host's) mount namespace.
    mounts: Vec<String>,
    /// Entries named `audit-verify*` in the directories our runs write to.
    files: BTreeSet<PathBuf>,
    /// Ids of loaded BPF programs named as ours.
    programs: BTreeSet<u32>,
    /// The settings the state guard owns.
    settings: Vec<(String, u64)>,
    rules: Vec<String>,
}

/// Program names as the kernel keeps them (at most 15 bytes).
const OUR_PROGRAMS: [&str; 23] = [
    names::PROG_COUNT_SYSCALLS,
    names::PROG_FOLLOW_FORKS,
    names::PROG_PROBE_TRACEPOINT,
    names::PROG_PROBE_RAW_TRACEPOINT,
    names::PROG_PROBE_KPROBE,
    names::PROG_PROBE_FENTRY,
    names::PROG_AUDIT_DROPS,
    names::PROG_MATCH_RULES,
    names::PROG_MATCH_RULES_PER_SYSCALL,
    names::PROG_FEXIT_AUDIT_LOG_START,
    names::PROG_KRETPROBE_AUDIT_LOG_START,
    names::PROG_FENTRY_AUDIT_LOG_END,
    names::PROG_KPROBE_AUDIT_LOG_END,
    names::PROG_FENTRY_AUDIT_LOG_LOST,
    names::PROG_KPROBE_AUDIT_LOG_LOST,
    names::PROG_FENTRY_KAUDITD_HOLD_SKB,
    names::PROG_KPROBE_KAUDITD_HOLD_SKB,
    names::PROG_FENTRY_KAUDITD_RETRY_SKB,
    names::PROG_KPROBE_KAUDITD_RETRY_SKB,
    names::PROG_FENTRY_KAUDITD_REHOLD_SKB,
    names::PROG_KPROBE_KAUDITD_REHOLD_SKB,
    names::PROG_FEXIT_NETLINK_UNICAST,
    names::PROG_KRETPROBE_NETLINK_UNICAST,
];

impl Host {
    fn snapshot() -> Self {
        let mounts = fs::read_to_string("/proc/mounts")
            .unwrap()
            .lines()
            .filter(|l| matches!(l.split_whitespace().nth(2), Some("tracefs" | "debugfs")))
            .map(str::to_owned)
            .collect();
        let files = [std::env::temp_dir(), PathBuf::from("/tmp"), PathBuf::from("/run")]
            .iter()
            .flat_map(|dir| fs::read_dir(dir).into_iter().flatten().flatten())
            .filter(|e| e.file_name().to_string_lossy().starts_with("audit-verify"))
            .map(|e| e.path())
            .collect();
        let programs = aya::programs::loaded_programs()
            .flatten()
            .filter(|p| {
                let name = p.name_as_str().unwrap_or("");
                !name.is_empty() && OUR_PROGRAMS.iter().any(|ours| ours[..ours.len().min(15)] == *name)
            })
            .map(|p| p.id())
            .collect();
        let status = auditctl_status();
        let settings = ["enabled", "failure", "rate_limit", "backlog_limit", "backlog_wait_time"]
            .iter()
            .map(|k| (k.to_string(), status[*k]))
            .collect();
        Self { mounts, files, programs, settings, rules: auditctl_rules() }
    }

    /// Waits (briefly: the kernel frees a dead process's programs asynchronously) for the host to be as
    /// `before`, then asserts it field by field.
    fn assert_as(before: &Host, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut now = Host::snapshot();
        while now != *before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            now = Host::snapshot();
        }
        assert_eq!(now.mounts, before.mounts, "{what}: tracefs/debugfs mounts");
        assert_eq!(now.files, before.files, "{what}: entries in /tmp and /run");
        assert_eq!(now.programs, before.programs, "{what}: BPF programs of ours");
        assert_eq!(now.settings, before.settings, "{what}: audit settings");
        assert_eq!(now.rules, before.rules, "{what}: audit rules");
    }
}

/// One audit-verify run in a child, its stderr read line by line as it comes.
struct Run {
    child: Child,
    stderr: mpsc::Receiver<String>,
    seen: String,
}

impl Run {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(common::binary())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning audit-verify");
        let (tx, stderr) = mpsc::channel();
        let pipe = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in pipe.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, stderr, seen: String::new() }
    }

    fn pid(&self) -> i32 {
        self.child.id().cast_signed()
    }

    /// Waits for a stderr line containing `needle`.
    fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if line.contains(needle) {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!("no `{needle}` on stderr within {timeout:?}; stderr so far:\n{}", self.seen);
    }

    fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child, which is not reaped yet.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
    }

    /// Waits for the exit (killing the child after `timeout`); returns the status, stdout and how long
    /// it took.
    fn finish(mut self, timeout: Duration) -> (ExitStatus, String, Duration) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("still running {timeout:?} after the signal; stderr:\n{}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = start.elapsed();
        let mut stdout = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        (status, stdout, took)
    }
}

/// The partial report's marks, and the exit status, after SIGINT or SIGTERM.
fn assert_partial(signal: i32, status: ExitStatus, stdout: &str, took: Duration) -> serde_json::Value {
    assert_eq!(status.code(), Some(128 + signal), "exit status after signal {signal}: {status}");
    assert!(took < Duration::from_secs(8), "took {took:?} to stop");
    let json: serde_json::Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(json["partial"], true, "{json}");
    let name = if signal == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
    assert_eq!(json["interrupted"], name);
    json
}

/// A rules file loaded through the test's guard (after a -D), kept while the guard lives.
fn load(guard: &mut StateGuard, name: &str, text: &str) -> PathBuf {
    let file = std::env::temp_dir().join(format!("av-kill-{name}-{}.rules", std::process::id()));
    fs::write(&file, text).unwrap();
    let load = file.with_extension("load");
    fs::write(&load, format!("-D\n{text}")).unwrap();
    guard.run_auditctl(&["-R", load.to_str().unwrap()]).unwrap();
    fs::remove_file(load).unwrap();
    file
}

fn measure_signalled(signal: i32) {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let rules = load(&mut guard, "measure", "-a always,exit -F arch=b64 -S fchmodat -F key=av-kill\n");
    let before = Host::snapshot();
    assert!(before.mounts.is_empty(), "this test needs tracefs unmounted on the host: {:?}", before.mounts);

    let mut run = Run::start(&["measure", "--duration", "30", "--json"]);
    run.wait_for("observing for", Duration::from_mins(1));
    std::thread::sleep(Duration::from_secs(1));
    // The sensors attached through tracefs, which is mounted in the run's namespace only.
    let theirs = fs::read_to_string(format!("/proc/{}/mounts", run.pid())).unwrap();
    assert!(theirs.lines().any(|l| l.contains(" tracefs ")), "tracefs in the run's namespace:\n{theirs}");
    assert_eq!(Host::snapshot().mounts, before.mounts, "tracefs never appears on the host");
    assert!(!Host::snapshot().programs.is_empty(), "the run's BPF programs are loaded");

    run.signal(signal);
    let (status, stdout, took) = run.finish(Duration::from_secs(20));
    if signal == libc::SIGKILL {
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    } else {
        let json = assert_partial(signal, status, &stdout, took);
        let seconds = json["seconds"].as_f64().unwrap();
        assert!((0.5..10.0).contains(&seconds), "the window ran {seconds} s of 30");
        assert!(!json["syscall_hook"].is_null(), "the syscall counter attached: {json}");
    }
    Host::assert_as(&before, &format!("measure after signal {signal}"));
    drop(guard);
    fs::remove_file(rules).unwrap();
}

#[test]
fn measure_killed_leaves_nothing() {
    measure_signalled(libc::SIGKILL);
}

#[test]
fn measure_sigterm_reports_partial_and_leaves_nothing() {
    measure_signalled(libc::SIGTERM);
}

#[test]
fn measure_sigint_reports_partial_and_leaves_nothing() {
    measure_signalled(libc::SIGINT);
}

/// The STIG example set (as tests/prove.rs loads it): some thirty actions, long enough to be stopped in.
fn stig(guard: &mut StateGuard) -> PathBuf {
    let original = Path::new("/usr/share/doc/auditd/examples/rules/30-stig.rules");
    let text: String = fs::read_to_string(original)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("/etc/NetworkManager/") && !l.contains("/etc/sudoers.d/"))
        .fold(String::new(), |mut text, l| {
            text.push_str(l);
            text.push('\n');
            text
        });
    load(guard, "prove", &text)
}

/// Our scratch directories in `host` that are not in `before`.
fn new_scratch(before: &Host, host: &Host) -> Vec<PathBuf> {
    host.files
        .difference(&before.files)
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("audit-verify-prove-")))
        .cloned()
        .collect()
}

fn prove_signalled(signal: i32) {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let rules = stig(&mut guard);
    let before = Host::snapshot();

    let mut run = Run::start(&["prove", "--rules-file", rules.to_str().unwrap(), "--json"]);
    run.wait_for("prove: action 0/", Duration::from_mins(1));
    let scratch = new_scratch(&before, &Host::snapshot());
    assert_eq!(scratch.len(), 1, "one scratch directory while the run lives: {scratch:?}");
    run.signal(signal);
    let (status, stdout, took) = run.finish(Duration::from_secs(20));

    if signal == libc::SIGKILL {
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        // SIGKILL cannot be caught: the scratch directory stays until the next run removes it.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(new_scratch(&before, &Host::snapshot()), scratch, "left by the killed run");
        let next = Command::new(common::binary())
            .args(["prove", "--rules-file", rules.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(next.status.code().is_some_and(|c| c <= 1), "the next run: {}", String::from_utf8_lossy(&next.stderr));
    } else {
        let json = assert_partial(signal, status, &stdout, took);
        let rule_states: Vec<&str> =
            json["rules"].as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
        let not_run = rule_states.iter().filter(|s| **s == "not_run").count();
        eprintln!("stopped with {not_run} of {} rules not run", rule_states.len());
        for state in &rule_states {
            assert!(
                matches!(*state, "proven" | "unprovable" | "not_loaded" | "not_run"),
                "{state}: a stop must not turn rules into gaps"
            );
        }
    }
    Host::assert_as(&before, &format!("prove after signal {signal}"));
    drop(guard);
    fs::remove_file(rules).unwrap();
}

#[test]
fn prove_killed_leaves_only_its_scratch_dir_and_the_next_run_removes_it() {
    prove_signalled(libc::SIGKILL);
}

#[test]
fn prove_sigterm_reports_partial_and_leaves_nothing() {
    prove_signalled(libc::SIGTERM);
}

#[test]
fn prove_sigint_reports_partial_and_leaves_nothing() {
    prove_signalled(libc::SIGINT);
}
