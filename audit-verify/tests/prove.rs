//! `prove` against the real kernel and auditd: real rule sets loaded through the state guard, each rule
//! proven by a real record, and the negative states (failed, `not_loaded`, shadowed, `not_written`) produced
//! for real. Every test holds a `StateGuard` for its whole duration.

mod common;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use audit_verify::{
    guard::{Environment, StateGuard},
    netlink::AuditSocket,
    prove::{self, Options, ProveReport, State},
    rules::augenrules::RulesInput,
    snapshot::{Inputs, Snapshot},
};

const EXAMPLES: &str = "/usr/share/doc/auditd/examples/rules";
const LOG: &str = "/var/log/audit/audit.log";

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("av-prove-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Loads `text` (after a -D) through the guard.
fn load(guard: &mut StateGuard, dir: &Path, text: &str) {
    let file = dir.join("load.rules");
    fs::write(&file, format!("-D\n{text}")).unwrap();
    guard.run_auditctl(&["-R", file.to_str().unwrap()]).unwrap();
}

fn run_prove(rules_file: &Path) -> ProveReport {
    run_prove_within(rules_file, Duration::from_secs(5))
}

/// `prove` in this process, waiting at most `timeout` for the barrier.
fn run_prove_within(rules_file: &Path, timeout: Duration) -> ProveReport {
    let inputs = Inputs { rules: RulesInput::File(rules_file.to_owned()), log: Some(LOG.into()), ..Inputs::default() };
    let snapshot = Snapshot::gather(inputs).unwrap();
    let diff = snapshot.rules_diff().unwrap();
    let mut socket = AuditSocket::open().unwrap();
    let mut progress = |_, _| {};
    let log = snapshot.log.clone().unwrap();
    let options = Options { log, timeout, allow_mutation: false, progress: &mut progress };
    prove::prove(snapshot.prove_input(&diff).unwrap(), &mut socket, options).unwrap()
}

fn summary(report: &ProveReport) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in &report.rules {
        *out.entry(r.state.name()).or_default() += 1;
    }
    out
}

fn print(report: &ProveReport) {
    print!("{}", prove::report::table(report));
}

/// A rules file with some lines left out (the ones the kernel refuses on this host), for loading.
fn without(original: &Path, skip: &[&str]) -> String {
    fs::read_to_string(original)
        .unwrap()
        .lines()
        .map(|l| if skip.iter().any(|s| l.contains(s)) { "" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every loaded rule is proven or unprovable with a reason; nothing failed, unwritten or shadowed.
fn assert_all_accounted(report: &ProveReport) {
    for r in &report.rules {
        match r.state {
            State::Proven => assert!(r.evidence.as_ref().is_some_and(|e| e.offset.is_some()), "{r:?}"),
            State::Unprovable => assert!(r.reason.as_ref().is_some_and(|w| w.len() > 20), "{r:?}"),
            State::NotLoaded => {}
            _ => panic!("{} {}: {} ({:?})", r.state.name(), r.rule, r.reason.as_deref().unwrap_or(""), r.action),
        }
    }
}

fn not_loaded_lines(report: &ProveReport) -> Vec<String> {
    report.rules.iter().filter(|r| r.state == State::NotLoaded).filter_map(|r| r.source.clone()).collect()
}

#[test]
fn stig_rules_are_proven_and_watched_files_unchanged() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("stig");
    let original = Path::new(EXAMPLES).join("30-stig.rules");
    // The kernel refuses dir= on a missing path: these two are left out of what is loaded.
    load(&mut guard, &dir.0, &without(&original, &["/etc/NetworkManager/", "/etc/sudoers.d/"]));
    let watched = [
        "/etc/localtime",
        "/etc/group",
        "/etc/passwd",
        "/etc/gshadow",
        "/etc/shadow",
        "/etc/security/opasswd",
        "/etc/issue",
        "/etc/issue.net",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/selinux",
    ];
    let before: Vec<_> = watched.iter().map(|p| common::fingerprint(Path::new(p))).collect();
    let report = run_prove(&original);
    print(&report);
    let after: Vec<_> = watched.iter().map(|p| common::fingerprint(Path::new(p))).collect();
    assert_eq!(before, after, "a watched file's content, mtime or ctime changed");

    assert_all_accounted(&report);
    let at = |line: usize| format!("{}:{line}", original.display());
    assert_eq!(not_loaded_lines(&report), vec![at(50), at(131)], "exactly the lines left out");
    assert_eq!(report.count(State::Proven), 31, "{:?}", summary(&report));
    let sudoers = report.rules.iter().find(|r| r.source == Some(at(130))).unwrap();
    assert_eq!(sudoers.state, State::Unprovable, "/etc/sudoers does not exist on this host");
    assert!(report.elapsed_ms < 10_000, "{} ms", report.elapsed_ms);
    guard.restore().unwrap();
}

/// 31-privileged.rules holds no rule, only the commands that generate them for this host: run those
/// (find for setuid files; filecap where installed) as the file says, and prove what they produce.
#[test]
fn privileged_rules_are_proven() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("privileged");
    let mut rules = String::new();
    for base in ["/bin", "/sbin", "/usr/bin", "/usr/sbin"] {
        let out = std::process::Command::new("find").args([base, "-type", "f", "-perm", "-04000"]).output().unwrap();
        for path in String::from_utf8_lossy(&out.stdout).lines() {
            writeln!(rules, "-a always,exit -F path={path} -F perm=x -F auid>=1000 -F auid!=unset -F key=privileged")
                .unwrap();
        }
    }
    assert!(rules.lines().count() >= 3, "setuid programs on this host: {rules}");
    let generated = dir.0.join("31-privileged.rules");
    fs::write(&generated, &rules).unwrap();
    load(&mut guard, &dir.0, &rules);
    let report = run_prove(&generated);
    print(&report);
    assert_all_accounted(&report);
    assert_eq!(report.count(State::Proven), rules.lines().count(), "every setuid program's rule");
    guard.restore().unwrap();
}

#[test]
fn module_load_rules_are_proven() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("modules");
    let original = Path::new(EXAMPLES).join("43-module-load.rules");
    load(&mut guard, &dir.0, &fs::read_to_string(&original).unwrap());
    let report = run_prove(&original);
    print(&report);
    assert_all_accounted(&report);
    assert_eq!(report.count(State::Proven), 4);
    guard.restore().unwrap();
}

#[test]
fn pci_dss_rules_are_proven_or_unprovable_with_reasons() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("pci");
    let original = Path::new(EXAMPLES).join("30-pci-dss-v31.rules");
    load(&mut guard, &dir.0, &without(&original, &["/etc/sudoers.d/"]));
    let report = run_prove(&original);
    print(&report);
    assert_all_accounted(&report);
    let not_loaded = not_loaded_lines(&report);
    assert_eq!(not_loaded.len(), 1);
    assert!(not_loaded[0].starts_with(&format!("{}:", original.display())));
    println!("{:?}", summary(&report));
    guard.restore().unwrap();
}

/// failed (a filter that never matches: `exit_group` never returns, so success= is never evaluated true),
/// `not_loaded`, shadowed by a never rule, and shadowed by an earlier always rule whose key the record
/// carries. Through the CLI: exit code 1, JSON, and JUnit XML.
#[test]
fn negative_states_through_the_cli() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("negative");
    let rules = "-a always,exit -F arch=b64 -S exit_group -F success=1 -k av-never-fires\n\
                 -a never,exit -F arch=b64 -S uname\n\
                 -a always,exit -F arch=b64 -S uname -k av-behind-never\n\
                 -a always,exit -F arch=b64 -S fchdir -k av-first\n\
                 -a always,exit -F arch=b64 -S fchdir -F exit=-EBADF -k av-second\n\
                 -a always,exit -F arch=b64 -S tgkill -k av-not-loaded\n\
                 -a always,exit -F arch=b64 -S kill -k av-proven\n";
    let file = dir.0.join("negative.rules");
    fs::write(&file, rules).unwrap();
    load(&mut guard, &dir.0, &rules.replace("-a always,exit -F arch=b64 -S tgkill -k av-not-loaded\n", ""));
    let junit = dir.0.join("junit.xml");
    let out = std::process::Command::new(common::binary())
        .args(["prove", "--json", "--rules-file"])
        .arg(&file)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let state_of = |key: &str| {
        json["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .map(|r| r["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state_of("av-never-fires").as_deref(), Some("failed"));
    assert_eq!(state_of("av-behind-never").as_deref(), Some("shadowed"));
    assert_eq!(state_of("av-first").as_deref(), Some("proven"));
    assert_eq!(state_of("av-second").as_deref(), Some("shadowed"));
    assert_eq!(state_of("av-not-loaded").as_deref(), Some("not_loaded"));
    assert_eq!(state_of("av-proven").as_deref(), Some("proven"));
    let second = json["rules"].as_array().unwrap().iter().find(|r| r["key"] == "av-second").unwrap();
    assert_eq!(second["evidence"]["key"], "av-first", "the record carries the earlier rule's key");
    assert_eq!(second["source"], format!("{}:5", file.display()));

    let xml = fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"audit-verify prove\" tests=\"7\" failures=\"4\""), "{xml}");
    if let Ok(check) = std::process::Command::new("python3")
        .args(["-c", "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])"])
        .arg(&junit)
        .status()
    {
        assert!(check.success(), "JUnit XML does not parse:\n{xml}");
    }
    guard.restore().unwrap();
}

/// Resumes auditd when dropped, also when the test fails.
struct Resume(i32);

impl Drop for Resume {
    fn drop(&mut self) {
        // SAFETY: a signal to the pid we stopped.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}

/// auditd stopped during the proof: the kernel emits the records, nothing writes them. Every rule is
/// `not_written`, none `proven`, and the barrier times out.
#[test]
fn auditd_stopped_gives_not_written() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("stopped");
    let rules =
        "-a always,exit -F arch=b64 -S uname -k av-stopped-1\n-a always,exit -F arch=b32 -S uname -k av-stopped-2\n";
    let file = dir.0.join("stopped.rules");
    fs::write(&file, rules).unwrap();
    load(&mut guard, &dir.0, rules);
    let pid = i32::try_from(common::auditctl_status()["pid"]).unwrap();
    assert!(pid > 0, "auditd is registered with the kernel");
    let report = {
        // SAFETY: stopping auditd; `Resume` continues it.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
        let _resume = Resume(pid);
        run_prove_within(&file, Duration::from_secs(1))
    };
    print(&report);
    assert!(matches!(report.barrier, Some(audit_verify::barrier::Barrier::TimedOut { .. })));
    assert_eq!(report.count(State::NotWritten), 2, "{:?}", summary(&report));
    // auditd resumed: give it time to drain before the guard restores the rules.
    std::thread::sleep(Duration::from_millis(500));
    guard.restore().unwrap();
}

/// The speed target, measured as an operator sees it: the release or debug binary, wall clock, from
/// start to exit, for every rule of 30-stig.rules (loaded through the guard as above).
/// Starts auditd again when dropped, also when the test fails, and waits until the kernel has
/// registered the new daemon, so that later tests find it running.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let started = common::auditd().status().is_ok_and(|s| s.success());
        for _ in 0..100 {
            // Not a pid: not alive, so the loop goes on (a panic here, while unwinding, would abort).
            let pid = u32::try_from(common::auditctl_status()["pid"]).unwrap_or(0);
            if started && audit_verify::host_status::process_alive(pid) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("auditd did not come back: start it with `auditd` (or `cargo xtask setup`)");
    }
}

/// auditd killed: the kernel may still report its pid (it notices only when a send fails). `status`
/// says the daemon is gone, and `prove` names the cause instead of a generic stall. This is how a
/// session that outlived its auditd looked to the suite before setup checked liveness.
#[test]
fn auditd_killed_is_named() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("killed");
    let rules = "-a always,exit -F arch=b64 -S uname -k av-killed\n";
    let file = dir.0.join("killed.rules");
    fs::write(&file, rules).unwrap();
    load(&mut guard, &dir.0, rules);
    let pid = u32::try_from(common::auditctl_status()["pid"]).unwrap();
    assert!(audit_verify::host_status::process_alive(pid), "auditd is running");
    let kill_pid = i32::try_from(pid).unwrap();
    let (status, report) = {
        // SAFETY: a signal to the registered auditd; `Restart` starts a new one.
        assert_eq!(unsafe { libc::kill(kill_pid, libc::SIGKILL) }, 0);
        let _restart = Restart;
        while audit_verify::host_status::process_alive(pid) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = std::process::Command::new(common::binary()).args(["status", "--json"]).output().unwrap();
        (status, run_prove_within(&file, Duration::from_secs(1)))
    };
    print(&report);

    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["auditd"]["alive"], false, "{}", status["auditd"]);
    let ids: Vec<&str> = status["findings"].as_array().unwrap().iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"auditd_dead") || ids.contains(&"auditd_not_running"), "{ids:?}");

    let Some(audit_verify::barrier::Barrier::TimedOut { cause, .. }) = &report.barrier else {
        panic!("no daemon wrote the barrier, yet it did not time out: {:?}", report.barrier)
    };
    assert!(
        cause.contains("no longer exists") || cause.contains("no audit daemon is registered"),
        "the cause names the dead daemon: {cause}"
    );
    let rule = &report.rules[0];
    assert_eq!(rule.state, State::NotWritten, "{rule:?}");
    assert!(rule.reason.as_deref().is_some_and(|r| r.contains(cause.as_str())), "{rule:?}");
    guard.restore().unwrap();
}

/// $TMPDIR in a directory only root can search (a 0700 home): the scratch tree goes elsewhere, so a
/// non-root child still reaches it and the EPERM proof (`O_NOATIME` on a file it does not own) works; nothing is left in $TMPDIR.
#[test]
fn an_unreachable_tmpdir_does_not_break_non_root_proofs() {
    use std::os::unix::fs::PermissionsExt as _;
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("tmpdir");
    let private = dir.0.join("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o700)).unwrap();
    let rules = "-a always,exit -F arch=b64 -S openat -F exit=-EPERM -F auid>=1000 -F auid!=unset -k av-eperm\n";
    let file = dir.0.join("eperm.rules");
    fs::write(&file, rules).unwrap();
    load(&mut guard, &dir.0, rules);
    let out = std::process::Command::new(common::binary())
        .args(["prove", "--json", "--rules-file"])
        .arg(&file)
        .env("TMPDIR", &private)
        .output()
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let rule = &json["rules"][0];
    assert_eq!(rule["state"], "proven", "{rule}");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(fs::read_dir(&private).unwrap().count(), 0, "nothing left in $TMPDIR");
    guard.restore().unwrap();
}

#[test]
fn stig_speed_through_the_cli() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("speed");
    let original = Path::new(EXAMPLES).join("30-stig.rules");
    load(&mut guard, &dir.0, &without(&original, &["/etc/NetworkManager/", "/etc/sudoers.d/"]));
    let start = std::time::Instant::now();
    let out =
        std::process::Command::new(common::binary()).args(["prove", "--rules-file"]).arg(&original).output().unwrap();
    let elapsed = start.elapsed();
    // not_loaded (the two lines left out) makes the exit code 1.
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("32 rules loaded; 31 proven, 2 not_loaded, 1 unprovable"), "{table}");
    println!("prove of 30-stig.rules: {} ms wall clock ({})", elapsed.as_millis(), common::binary().display());
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    guard.restore().unwrap();
}

/// The verdicts of issue 12, for real: an exec watch shadowed only for euid 0 is proven as another user
/// and says so; an exec watch on a symlink is `symlink`, naming the target; a rule no result can match is
/// `dead`; a never rule on an LSM label shadows nothing on a kernel without a labelling LSM; an
/// `exit=-EPERM` rule is never called shadowed by a rule for other outcomes.
#[test]
fn issue12_verdicts() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("issue12");
    let target = dir.0.join("target");
    fs::write(&target, b"#!/bin/sh\n").unwrap();
    let link = dir.0.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let no_lsm = !Path::new("/sys/fs/selinux/enforce").exists() && !Path::new("/sys/module/apparmor").exists();
    let mut rules = format!(
        "-a always,exit -F arch=b64 -S execve,execveat -F euid=0 -k av-root-exec\n\
         -w /usr/bin/whoami -p x -k av-whoami\n\
         -w {} -p x -k av-link\n\
         -a always,exit -F arch=b64 -S setuid -F exit=1 -k av-dead\n\
         -a always,exit -F arch=b64 -S creat -F success=1 -k av-created\n\
         -a always,exit -F arch=b64 -S creat -F exit=-EPERM -k av-creat-eperm\n\
         -a always,exit -F arch=b64 -S connect -F success=1 -k av-connect\n\
         -a always,exit -F arch=b64 -S kill -F a1=0x9 -k av-kill9\n\
         -a always,exit -F arch=b64 -S ftruncate -F exit=-EPERM -k av-sealed\n\
         -a always,exit -F arch=b64 -S unlink -F exit=-EPERM -F auid>=1000 -F auid!=unset -k av-sticky\n\
         -a always,exit -F arch=b64 -S link -F exit=-EPERM -k av-link-dir\n\
         -a always,exit -F arch=b64 -S ptrace -F a0=0x5 -k av-poke\n\
         -a always,exit -F arch=b64 -S openat -F a2&0x40 -F exit=-EPERM -k av-creat-noatime\n\
         -a always,exit -F arch=b64 -S memfd_create,unshare,mount_setattr,modify_ldt -k av-flags\n",
        link.display()
    );
    if no_lsm {
        rules.push_str("-a never,exit -F arch=b64 -S uname -F subj_type=crond_t\n");
        rules.push_str("-a always,exit -F arch=b64 -S uname -k av-after-lsm\n");
    }
    let file = dir.0.join("issue12.rules");
    fs::write(&file, &rules).unwrap();
    load(&mut guard, &dir.0, &rules);
    let report = run_prove(&file);
    print(&report);
    let rule = |key: &str| report.rules.iter().find(|r| r.key.as_deref() == Some(key)).unwrap();
    let whoami = rule("av-whoami");
    assert_eq!(whoami.state, State::Proven, "{whoami:?}");
    let note = whoami.note.as_deref().unwrap_or("");
    assert!(note.contains("for euid=0") && note.contains(":1"), "{note}");
    let linked = rule("av-link");
    assert_eq!(linked.state, State::Symlink, "{linked:?}");
    assert!(linked.reason.as_deref().unwrap().contains(&target.display().to_string()), "{linked:?}");
    assert_eq!(rule("av-dead").state, State::Dead, "{:?}", rule("av-dead"));
    assert_ne!(rule("av-creat-eperm").state, State::Shadowed, "{:?}", rule("av-creat-eperm"));
    // Harmless actions for what used to be unprovable: a connection to our own listener, SIGKILL to our
    // own waiting grandchild, a truncation of our own sealed memfd, unlink in a sticky directory, link of
    // a directory, a ptrace poke on a missing pid, O_CREAT|O_NOATIME on a file we do not own, bad flags.
    for key in
        ["av-connect", "av-kill9", "av-sealed", "av-sticky", "av-link-dir", "av-poke", "av-creat-noatime", "av-flags"]
    {
        assert_eq!(rule(key).state, State::Proven, "{:?}", rule(key));
    }
    if no_lsm {
        assert_eq!(rule("av-after-lsm").state, State::Proven, "{:?}", rule("av-after-lsm"));
    }
    // The new states and the note, as the CLI prints them, against the schema (strictly).
    let out = std::process::Command::new(common::binary())
        .args(["prove", "--json", "--rules-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "dead and symlink are gaps: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = json["rules"].as_array().unwrap().iter().filter_map(|r| r["state"].as_str()).collect();
    assert!(states.contains(&"dead") && states.contains(&"symlink"), "{states:?}");
    assert!(json["rules"].as_array().unwrap().iter().any(|r| r["note"].is_string()), "{json}");
    let validator = common::schema_validator("prove");
    let errors: Vec<String> = validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    guard.restore().unwrap();
}

/// A rule set of which nothing can be proven exits 0 (unprovable is not a gap) but says so in the
/// summary; `--require-proven` makes it exit 1.
#[test]
fn require_proven_fails_a_run_that_proves_nothing() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("require");
    let rules = "-a always,exit -F arch=b64 -S ioctl -k av-unprovable\n";
    let file = dir.0.join("unprovable.rules");
    fs::write(&file, rules).unwrap();
    load(&mut guard, &dir.0, rules);
    let run = |extra: &[&str]| {
        std::process::Command::new(common::binary())
            .args(["prove", "--rules-file"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap()
    };
    let plain = run(&[]);
    assert_eq!(plain.status.code(), Some(0), "{}", String::from_utf8_lossy(&plain.stderr));
    assert!(String::from_utf8_lossy(&plain.stdout).contains("nothing was proven"));
    let strict = run(&["--require-proven"]);
    assert_eq!(strict.status.code(), Some(1), "{}", String::from_utf8_lossy(&strict.stderr));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("none proven"));
    guard.restore().unwrap();
}

/// Each harmless action family of issue 12 on its own rule, proven for real (the `-S all` rule last: it
/// would record every EINVAL first).
#[test]
fn issue12_harmless_actions_are_proven() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let dir = TempDir::new("harmless");
    let families = [
        "-S msgsnd",
        "-S semop",
        "-S shmat",
        "-S shmget",
        "-S clone -F a0&0x7C020000",
        "-S unshare",
        "-S setns",
        "-S mount_setattr",
        "-S landlock_create_ruleset",
        "-S landlock_add_rule",
        "-S landlock_restrict_self",
        "-S modify_ldt",
        "-S mprotect -F a2&0x4",
        "-S mmap -F a2&0x4",
        "-S memfd_create",
        "-S socket -F a0=10",
        "-S open_by_handle_at -F exit=-EPERM",
        "-S open -F a1&0x203 -F success=1",
        "-S open -F a1&0x40 -F exit=-EACCES",
        "-S creat -F success=1",
        "-S truncate -F exit=-EPERM",
        "-S rename -F exit=-EPERM",
        "-S tgkill -F a2=0x13",
        "-S tkill -F a1=0x9",
        "-S ptrace -F a0=0xd",
        "-S remap_file_pages -F a2&=0x6",
        "-S all -F exit=-EINVAL",
    ];
    let mut rules = String::new();
    for (i, f) in families.iter().enumerate() {
        writeln!(rules, "-a always,exit -F arch=b64 {f} -k av-harmless-{i}").unwrap();
    }
    let file = dir.0.join("harmless.rules");
    fs::write(&file, &rules).unwrap();
    load(&mut guard, &dir.0, &rules);
    let report = run_prove(&file);
    print(&report);
    let unproven: Vec<String> = report
        .rules
        .iter()
        .filter(|r| r.state != State::Proven)
        .map(|r| format!("{} {}: {}", r.state.name(), r.rule, r.reason.as_deref().unwrap_or("")))
        .collect();
    assert!(unproven.is_empty(), "{unproven:#?}");
    assert!(fs::read_dir("/tmp").unwrap().flatten().all(|e| {
        !e.file_name().to_string_lossy().starts_with(&format!("audit-verify-prove-{}-", std::process::id()))
    }));
    guard.restore().unwrap();
}
