//! What `measure` costs the host: an execve storm under an execve rule, timed with and without the
//! sensors attached (`kfree_skb` tracepoint, `sys_exit` rule matcher, multicast listener, status sampler),
//! alternating runs; then our peak memory over a long window at the highest rate the storm reaches.
//!
//!     cargo bench -p audit-verify --bench measure_overhead
//!
//! Needs root. Loads one rule through the state guard, which restores the rules afterwards.
//! `AV_BENCH_RUNS` (default 5), `AV_BENCH_EXECS` (default 2000), `AV_BENCH_RSS_SECONDS` (default 60).
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

use std::{
    process::Command,
    time::{Duration, Instant},
};

use audit_verify::{
    guard::{Environment, Setting, StateGuard},
    measure::{Config, SyscallCounting, Window},
};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `execs` runs of /bin/true from one shell; returns the wall time.
fn storm(execs: u64) -> Duration {
    let script = format!("i=0; while [ $i -lt {execs} ]; do /bin/true; i=$((i+1)); done");
    let start = Instant::now();
    let ok = Command::new("/bin/sh").args(["-c", &script]).status().expect("running the storm").success();
    assert!(ok);
    start.elapsed()
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU seconds this process (all threads: listener, sampler) has used.
#[expect(clippy::cast_precision_loss, reason = "rates and CPU seconds for a printout; the counts are far below 2^52")]
fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name, from `state`: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let field = |n: usize| after.split_whitespace().nth(n).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (field(11) + field(12)) as f64 / ticks
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[expect(clippy::cast_precision_loss, reason = "rates and CPU seconds for a printout; the counts are far below 2^52")]
fn main() {
    let runs = env("AV_BENCH_RUNS", 5);
    let execs = env("AV_BENCH_EXECS", 2000);
    let rss_seconds = env("AV_BENCH_RSS_SECONDS", 60);
    let mut guard = StateGuard::new(Environment::Host).expect("state guard (run as root)");
    // Room for the storm: the point is the sensors' cost, not drops.
    guard.set(Setting::BacklogLimit, 8192).unwrap();
    guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", "av-bench"]).unwrap();
    let config = |secs, syscalls| Config {
        duration: Duration::from_secs(secs),
        auditd_conf: "/etc/audit/auditd.conf".into(),
        barrier_timeout: Duration::from_secs(10),
        syscalls,
    };

    storm(execs / 4); // warm the page cache
    println!("execve storm of {execs} under an execve rule, median of {runs} alternating runs:");
    let without = median((0..runs).map(|_| storm(execs).as_secs_f64()).collect());
    println!("  without sensors              {without:.3} s  ({:.0} execve/s)", execs as f64 / without);
    for (label, syscalls) in [
        ("with all sensors (default)", SyscallCounting::Selected),
        ("with --count-32bit", SyscallCounting::Every),
        ("with --no-syscall-count", SyscallCounting::Off),
    ] {
        let (mut base, mut with, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            base.push(storm(execs).as_secs_f64());
            let window = Window::start(&config(0, syscalls)).expect("starting the sensors");
            let cpu_before = own_cpu_seconds();
            with.push(storm(execs).as_secs_f64());
            cpu.push(own_cpu_seconds() - cpu_before);
            window.finish().expect("finishing the window");
        }
        let (a, b, c) = (median(base), median(with), median(cpu));
        println!(
            "  {label:<28} {b:.3} s  ({:.0} execve/s): {:+.1}% against its own alternating runs without \
             (ratio {:.3}); our threads used {c:.3} s of CPU ({:.0}% of a core)",
            execs as f64 / b,
            (b / a - 1.0) * 100.0,
            b / a,
            c / b * 100.0
        );
    }

    // Memory: a long window while two shells storm as fast as they can.
    let window = Window::start(&config(rss_seconds, SyscallCounting::Selected)).expect("starting the sensors");
    let deadline = Instant::now() + Duration::from_secs(rss_seconds);
    let mut execs_done = 0;
    while Instant::now() < deadline {
        let shells: Vec<_> = (0..2).map(|_| std::thread::spawn(move || storm(500))).collect();
        for shell in shells {
            shell.join().unwrap();
        }
        execs_done += 1000;
    }
    let report = window.finish().expect("finishing the window");
    println!(
        "{rss_seconds} s window at {:.0} events/s ({execs_done} execve, {} events emitted): peak RSS {} kB",
        report.generated.events as f64 / report.seconds,
        report.generated.events,
        vm_hwm_kb()
    );
    drop(guard);
}
