//! `measure` against real loss: a quiet host, a kernel backlog overflow, auditd frozen under load, and
//! auditd writing to a full disk. Each test holds the state guard and leaves kernel and auditd as found.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::Duration,
};

use audit_verify::{
    guard::{Environment, Setting, StateGuard},
    measure::{Config, MeasureReport, SyscallCounting, SyscallHook, Window},
};

fn config(seconds: u64, auditd_conf: &Path) -> Config {
    Config {
        duration: Duration::from_secs(seconds),
        auditd_conf: auditd_conf.to_owned(),
        barrier_timeout: Duration::from_secs(5),
        syscalls: SyscallCounting::Every,
    }
}

const SYSTEM_CONF: &str = "/etc/audit/auditd.conf";

/// `shells` shells each running /bin/true `runs` times: an execve storm.
fn execve_storm(shells: usize, runs: usize) -> Vec<Child> {
    let script = format!("i=0; while [ $i -lt {runs} ]; do /bin/true; i=$((i+1)); done");
    (0..shells).map(|_| Command::new("/bin/sh").args(["-c", &script]).spawn().unwrap()).collect()
}

/// A storm whose processes carry `auid` as their loginuid, so a rule with `-F auid=` sees only them and
/// not whatever else the host runs during the window (builds, cron): the counts can then be exact.
fn execve_storm_as(auid: u32, runs: usize) -> Child {
    use std::os::unix::process::CommandExt as _;
    let script = format!("i=0; while [ $i -lt {runs} ]; do /bin/true; i=$((i+1)); done");
    let mut command = Command::new("/bin/sh");
    command.args(["-c", &script]);
    // SAFETY: between fork and exec only open, write and close run (std's fs on a path literal and a value
    // formatted before the fork).
    let value = auid.to_string();
    unsafe {
        command.pre_exec(move || std::fs::write("/proc/self/loginuid", value.as_bytes()));
    }
    command.spawn().unwrap()
}

fn wait_all(children: Vec<Child>) {
    for mut c in children {
        c.wait().unwrap();
    }
}

fn add_execve_rule(guard: &mut StateGuard, key: &str) {
    guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", key]).unwrap();
}

#[test]
fn a_quiet_host_has_no_drops_and_no_false_missing_serials() {
    let _guard = StateGuard::new(Environment::Host).unwrap();
    let report = audit_verify::measure::run(&config(30, Path::new(SYSTEM_CONF))).unwrap();
    assert_eq!(report.kernel_drops.total, 0, "{}", report.human());
    assert_eq!(report.missing_events, 0, "{}", report.human());
    assert_eq!(report.after_kernel_drops.records, 0, "{}", report.human());
    assert!(audit_verify::measure::report::barrier_reached(&report), "{}", report.human());
}

#[test]
fn a_backlog_overflow_is_counted_exactly_and_named() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.set(Setting::BacklogLimit, 64).unwrap();
    guard.set(Setting::BacklogWaitTime, 0).unwrap();
    add_execve_rule(&mut guard, "av-storm");
    let lost_before = common::auditctl_status()["lost"];
    let window = Window::start(&config(1, Path::new(SYSTEM_CONF))).unwrap();
    // Whether auditd falls behind a storm depends on the machine's load: escalate until the backlog
    // overflows, the last round stalling auditd for 300 ms in the middle of the storm.
    for round in 0..3 {
        let storm = execve_storm(4 + 4 * round, 1500);
        if round == 2 {
            let auditd = u32::try_from(common::auditctl_status()["pid"]).unwrap();
            // SAFETY: freezing auditd briefly; `Frozen` thaws it.
            unsafe { libc::kill(auditd.cast_signed(), libc::SIGSTOP) };
            let _thaw = Frozen(auditd);
            std::thread::sleep(Duration::from_millis(300));
        }
        wait_all(storm);
        if common::auditctl_status()["lost"] > lost_before {
            break;
        }
    }
    let report = window.finish().unwrap();
    let lost_after = common::auditctl_status()["lost"];
    drop(guard);
    eprintln!("{}", report.human());
    let delta = lost_after - lost_before;
    assert!(delta > 0, "the storm did not overflow the backlog: {}", report.human());
    assert_eq!(report.kernel_drops.total, delta, "{}", report.human());
    assert!(report.kernel_drops.by_reason.get("backlog_limit").copied().unwrap_or(0) > 0, "{}", report.human());
    assert!(report.findings.iter().any(|f| f.id == "kernel_drops"));
    let storm = report.keys.iter().find(|k| k.key == "av-storm").expect("the storm's key");
    assert!(storm.events > 0);
    // eBPF saw every execve; the kernel recorded fewer: the gap is what it dropped.
    let happened = storm.happened.expect("an arch/syscall rule is counted in the kernel");
    assert!(happened >= 6000, "{happened} execve counted");
    assert!(storm.not_recorded.unwrap_or(0) > 0, "{}", report.human());
}

/// Layer 1 on both hooks: the per-syscall tracepoints (the default) and the `sys_exit` raw tracepoint
/// (--count-32bit) count every execve the 64-bit rule selects, exactly as many as the kernel recorded for
/// its key; a 32-bit rule is counted on the raw tracepoint only, and says why not on the other.
#[test]
fn both_syscall_hooks_count_exactly_what_the_kernel_recorded() {
    // The storm's loginuid, which nothing else on the host has.
    const AUID: u32 = 4242;
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let rule = |arch, key| ["-a", "always,exit", "-F", arch, "-S", "execve", "-F", "auid=4242", "-k", key];
    guard.run_auditctl(&rule("arch=b64", "av-hook")).unwrap();
    guard.run_auditctl(&rule("arch=b32", "av-hook32")).unwrap();
    for syscalls in [SyscallCounting::Selected, SyscallCounting::Every] {
        let config = Config { syscalls, ..config(0, Path::new(SYSTEM_CONF)) };
        let window = Window::start(&config).unwrap();
        wait_all(vec![execve_storm_as(AUID, 200)]);
        let report = window.finish().unwrap();
        eprintln!("{syscalls:?}:\n{}", report.human());
        let rule = |key: &str| report.rules.iter().find(|r| r.key.as_deref() == Some(key)).unwrap().clone();
        let recorded = report.keys.iter().find(|k| k.key == "av-hook").map_or(0, |k| k.events);
        let native = rule("av-hook");
        assert!(native.happened.is_some_and(|n| n >= 201), "the shell and its 200 children: {native:?}");
        assert_eq!(native.happened, Some(recorded), "eBPF and the kernel's records agree");
        let compat = rule("av-hook32");
        if syscalls == SyscallCounting::Selected {
            assert!(matches!(report.syscall_hook, Some(SyscallHook::PerSyscall { syscalls: 1 })));
            assert_eq!(compat.happened, None);
            assert!(compat.not_counted_because.as_deref().is_some_and(|w| w.contains("32-bit")), "{compat:?}");
        } else {
            assert!(matches!(report.syscall_hook, Some(SyscallHook::RawSysExit { .. })));
            assert_eq!(compat.happened, Some(0), "no 32-bit execve ran");
        }
    }
}

/// SIGCONTs auditd however the test ends.
struct Frozen(u32);

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: signalling auditd, which the test froze.
        unsafe { libc::kill(self.0.cast_signed(), libc::SIGCONT) };
    }
}

#[test]
fn auditd_frozen_under_load_fills_the_backlog() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.set(Setting::BacklogLimit, 64).unwrap();
    guard.set(Setting::BacklogWaitTime, 0).unwrap();
    add_execve_rule(&mut guard, "av-frozen");
    let auditd = u32::try_from(common::auditctl_status()["pid"]).unwrap();
    let window = Window::start(&config(1, Path::new(SYSTEM_CONF))).unwrap();
    {
        // SAFETY: freezing auditd; `Frozen` thaws it.
        unsafe { libc::kill(auditd.cast_signed(), libc::SIGSTOP) };
        let _thaw = Frozen(auditd);
        let storm = execve_storm(2, 1000);
        std::thread::sleep(Duration::from_secs(5));
        wait_all(storm);
    }
    let report = window.finish().unwrap();
    drop(guard);
    eprintln!("{}", report.human());
    assert!(report.backlog.peak >= 64, "backlog peak {} never reached the limit", report.backlog.peak);
    assert!(report.kernel_drops.total > 0);
    let backlog = report.kernel_drops.by_reason.get("backlog_limit").copied().unwrap_or(0);
    assert!(backlog > 0, "drops not attributed to the backlog: {:?}", report.kernel_drops);
}

/// A private auditd whose log is on a tiny tmpfs, with `disk_full_action = IGNORE`: it keeps taking
/// records from the kernel and throws them away. The system auditd is stopped meanwhile and restarted
/// afterwards, whatever happens.
struct PrivateAuditd {
    dir: PathBuf,
    mounted: bool,
    pid: Option<u32>,
}

impl PrivateAuditd {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("av-diskfull-{}", std::process::id()));
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(dir.join("plugins.d")).unwrap();
        let mut me = Self { dir: dir.clone(), mounted: false, pid: None };
        let system = common::auditctl_status()["pid"];
        // SAFETY: stopping the system auditd; Drop starts it again.
        unsafe { libc::kill(i32::try_from(system).unwrap(), libc::SIGTERM) };
        assert!(common::wait_until(|| common::auditctl_status()["pid"] == 0), "system auditd did not stop");
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"]).arg(&logs).status().unwrap();
        assert!(ok.success(), "mounting the tmpfs");
        me.mounted = true;
        let conf = format!(
            "log_file = {}/audit.log\nlog_format = RAW\nflush = INCREMENTAL_ASYNC\nfreq = 50\nmax_log_file = 100\n\
             max_log_file_action = IGNORE\nspace_left = 2\nspace_left_action = IGNORE\nadmin_space_left = 1\n\
             admin_space_left_action = IGNORE\ndisk_full_action = IGNORE\ndisk_error_action = IGNORE\n\
             plugin_dir = {}/plugins.d\nq_depth = 2000\noverflow_action = IGNORE\nlocal_events = yes\nwrite_logs = yes\n",
            logs.display(),
            dir.display()
        );
        std::fs::write(dir.join("auditd.conf"), conf).unwrap();
        let ok = common::auditd().arg("-c").arg(&dir).status().unwrap();
        assert!(ok.success(), "starting the private auditd");
        assert!(common::wait_until(|| common::auditctl_status()["pid"] != 0), "private auditd did not register");
        me.pid = Some(u32::try_from(common::auditctl_status()["pid"]).unwrap());
        me
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("auditd.conf")
    }
}

impl Drop for PrivateAuditd {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            // SAFETY: stopping the auditd this test started.
            unsafe { libc::kill(pid.cast_signed(), libc::SIGTERM) };
            common::wait_until(|| common::auditctl_status()["pid"] == 0);
        }
        if self.mounted {
            let _ = Command::new("umount").arg(self.dir.join("logs")).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = common::auditd().status();
        common::wait_until(|| common::auditctl_status()["pid"] != 0);
    }
}

#[test]
fn a_full_disk_under_ignore_loses_records_after_the_kernel() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    // Room in the kernel, so that whatever is lost is lost after it.
    guard.set(Setting::BacklogLimit, 8192).unwrap();
    let private = PrivateAuditd::start();
    add_execve_rule(&mut guard, "av-diskfull");
    // Fill the disk first, then measure while it is full.
    wait_all(execve_storm(2, 400));
    let lost_before = common::auditctl_status()["lost"];
    let window = Window::start(&config(1, &private.conf())).unwrap();
    wait_all(execve_storm(2, 300));
    let report: MeasureReport = window.finish().unwrap();
    let lost_after = common::auditctl_status()["lost"];
    drop(private);
    drop(guard);
    eprintln!("{}", report.human());
    assert_eq!(lost_after, lost_before, "the kernel itself must not drop");
    assert_eq!(report.kernel_drops.total, 0);
    assert!(report.generated.events > report.written.events, "{}", report.human());
    assert_eq!(report.after_kernel_drops.place, "disk", "{}", report.human());
    assert!(report.after_kernel_drops.records > 0);
}
