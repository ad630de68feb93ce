//! What `watch` costs and whether its memory stays bounded.
//!
//! 1. Overhead (root, the kernel): an execve storm under an execve rule, timed without and with
//!    `audit-verify watch` running (1 s intervals and canaries), alternating runs; the highest event
//!    rate the storm reaches; the CPU each of watch's threads used during a storm; watch's own peak RSS
//!    (`VmHWM`) afterwards.
//! 2. A scaled 24 h soak of watch's accounting (no kernel): 24 hours of events at that rate (or
//!    `AV_SOAK_RATE`), driven through the same multicast consumer and log reader `watch` runs, as fast as
//!    this machine goes, with a canary every 30 simulated seconds and auditd "away" (nothing written)
//!    for 10 simulated minutes every 6 hours; `VmHWM` printed at every tenth of the way. Nothing is lost in
//!    it, so the loss it reports must be 0 outside the away periods.
//!
//! ```sh
//! cargo bench -p audit-verify --bench watch_soak
//! ```
//!
//! `AV_BENCH_RUNS` (default 5), `AV_BENCH_EXECS` (default 2000), `AV_SOAK_RATE` (events/s; default: the
//! storm's), `AV_SOAK_HOURS` (default 24), `AV_SOAK_ONLY=1` (skip part 1: no root needed),
//! `AV_WATCH_INTERVAL` (watch's --interval and --canary-interval, default 1).
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use audit_verify::{
    auditlog::{Location, Record},
    guard::{Environment, Setting, StateGuard},
    netlink::listener::Consumer as _,
    watch::stream::{self, Pipeline},
};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `execs` runs of /bin/true from one shell; returns the wall time.
fn storm(execs: u64) -> Duration {
    let script = format!("i=0; while [ $i -lt {execs} ]; do /bin/true; i=$((i+1)); done");
    let start = Instant::now();
    assert!(Command::new("/bin/sh").args(["-c", &script]).status().expect("running the storm").success());
    start.elapsed()
}

fn vm_hwm_kb(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (ns) each thread of `pid` has run, by thread name (`/proc/PID/task/*/schedstat`).
fn thread_cpu_ns(pid: u32) -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let read = |file: &str| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
        let ns = read("schedstat").split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
        *by_name.entry(read("comm").trim_end().to_owned()).or_insert(0) += ns;
    }
    by_name
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `watch` with its interval and canary interval at `AV_WATCH_INTERVAL` seconds (default 1).
fn start_watch() -> Child {
    let interval = env("AV_WATCH_INTERVAL", 1).to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_audit-verify"))
        .args(["watch", "--interval", &interval, "--canary-interval", &interval, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("starting audit-verify watch");
    // Up once /metrics answers: the port is bound before the sensors load, so a connect alone would let
    // the storm race watch's start-up (BTF parsing, eBPF loading) and bill it as overhead.
    let up = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
            use std::io::{Read as _, Write as _};
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut body = String::new();
            s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").is_ok()
                && s.read_to_string(&mut body).is_ok()
                && body.contains("audit_verify_watch_info")
        })
    });
    assert!(up, "watch did not start");
    child
}

fn stop(mut child: Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id().cast_signed(), libc::SIGTERM) };
    let _ = child.wait();
}

/// Part 1; returns the storm's event rate (events/s).
#[expect(clippy::cast_precision_loss, reason = "rates for a printout; the counts are far below 2^52")]
fn overhead(runs: u64, execs: u64) -> f64 {
    let mut guard = StateGuard::new(Environment::Host).expect("state guard (run as root)");
    guard.set(Setting::BacklogLimit, 8192).unwrap();
    guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", "av-soak"]).unwrap();
    storm(execs / 4); // warm the page cache
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let mut peak = 0;
    // Per thread of watch, the CPU it used during each storm (ms).
    let mut cpu: std::collections::BTreeMap<String, Vec<f64>> = std::collections::BTreeMap::new();
    for _ in 0..runs {
        without.push(storm(execs).as_secs_f64());
        let watch = start_watch();
        let before = thread_cpu_ns(watch.id());
        with.push(storm(execs).as_secs_f64());
        for (thread, ns) in thread_cpu_ns(watch.id()) {
            let used = ns.saturating_sub(before.get(&thread).copied().unwrap_or(0));
            cpu.entry(thread).or_default().push(used as f64 / 1e6);
        }
        std::thread::sleep(Duration::from_millis(1500)); // an interval and a canary after the storm
        peak = peak.max(vm_hwm_kb(&watch.id().to_string()));
        stop(watch);
    }
    drop(guard);
    let (without, with) = (median(without), median(with));
    println!("execve storm of {execs} under an execve rule, median of {runs} alternating runs:");
    println!("  without watch   {without:.3} s  ({:.0} execve/s)", execs as f64 / without);
    println!("  with watch      {with:.3} s  ({:+.1}%)", (with / without - 1.0) * 100.0);
    println!("  watch's peak RSS (VmHWM) {:.1} MB", peak as f64 / 1024.0);
    for (thread, ms) in cpu {
        let ms = median(ms);
        println!(
            "  watch thread {thread:<16} {ms:6.1} ms of CPU during a storm ({:.0} ns per execve)",
            ms * 1e6 / execs as f64
        );
    }
    execs as f64 / without
}

/// Part 2: the accounting over `hours` simulated hours at `rate` events/s.
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "simulated times and rates for a printout"
)]
fn soak(rate: f64, hours: u64) {
    let events = (rate * 3600.0 * hours as f64) as u64;
    let per_event = ["SYSCALL", "PATH", "PROCTITLE"];
    let grace = Duration::from_secs(10);
    let shared = Pipeline::new(grace, Vec::new()).shared();
    let mut consumer = stream::Emitted(shared.clone());
    let file: Arc<Path> = Arc::from(Path::new("audit.log"));
    let t0 = Instant::now();
    let at = |event: u64| t0 + Duration::from_secs_f64(event as f64 / rate);
    let canary_every = (rate * 30.0) as u64;
    let away_every = (rate * 6.0 * 3600.0) as u64;
    let away_for = (rate * 600.0) as u64;
    let me = std::process::id();
    let mut missing_outside_away = 0;
    let mut missing_total = 0;
    let mut away_events = 0;
    let wall = Instant::now();
    println!("scaled soak: {hours} h at {rate:.0} events/s = {events} events, 3 records each:");
    for event in 0..events {
        let serial = (event % u64::from(u32::MAX)) as u32;
        let away = event % away_every < away_for && event >= away_every;
        for (i, ty) in per_event.iter().enumerate() {
            let body = format!("audit(1.0:{serial}): pid=7 key=\"soak\" item={i}");
            consumer.message(1300 + u16::try_from(i).unwrap(), body.as_bytes());
            if !away {
                let line = format!("type={ty} msg={body}");
                let record =
                    Record::parse(line.as_bytes(), Location { file: file.clone(), line: event, offset: 0 }).unwrap();
                stream::lock(&shared).written(&record, at(event), SystemTime::now());
            }
        }
        away_events += u64::from(away);
        if event % canary_every == 0 {
            let marker = audit_verify::barrier::Marker::for_purpose(stream::CANARY_PURPOSE);
            let text = format!("audit(1.0:{serial}): pid={me} uid=0 msg='{marker}'");
            stream::lock(&shared).canary_sent(marker, at(event));
            consumer.message(1005, text.as_bytes());
            if !away {
                let line = format!("type=USER msg={text}");
                let record =
                    Record::parse(line.as_bytes(), Location { file: file.clone(), line: event, offset: 0 }).unwrap();
                stream::lock(&shared).written(&record, at(event), SystemTime::now());
            }
            let mut p = stream::lock(&shared);
            p.ledger.judge(at(event));
            let missing = p.ledger.take_missing();
            missing_total += missing;
            if !away && event % away_every > away_for + canary_every * 2 {
                missing_outside_away += missing;
            }
        }
        if event % (events / 10).max(1) == 0 {
            let done = event as f64 / events as f64;
            println!(
                "  {:>5.1} h simulated, {:>6.1} s wall: VmHWM {:.1} MB, {} pending",
                done * hours as f64,
                wall.elapsed().as_secs_f64(),
                vm_hwm_kb("self") as f64 / 1024.0,
                stream::lock(&shared).ledger.pending()
            );
        }
    }
    let p = stream::lock(&shared);
    println!(
        "  done in {:.0} s ({:.0} events/s through the accounting): VmHWM {:.1} MB; {} records judged missing, all \
         in the away periods ({away_events} events unwritten there, {} pushed out unjudged); {missing_outside_away} \
         outside them",
        wall.elapsed().as_secs_f64(),
        events as f64 / wall.elapsed().as_secs_f64(),
        vm_hwm_kb("self") as f64 / 1024.0,
        missing_total,
        p.ledger.unmatched
    );
    assert_eq!(missing_outside_away, 0, "loss reported where none happened");
}

fn main() {
    let rate = if env("AV_SOAK_ONLY", 0) == 1 {
        None
    } else {
        Some(overhead(env("AV_BENCH_RUNS", 5), env("AV_BENCH_EXECS", 2000)))
    };
    #[expect(clippy::cast_precision_loss, reason = "a rate given in whole events per second")]
    let rate = std::env::var("AV_SOAK_RATE")
        .ok()
        .and_then(|r| r.parse::<u64>().ok())
        .map(|r| r as f64)
        .or(rate)
        .unwrap_or(2000.0);
    soak(rate, env("AV_SOAK_HOURS", 24));
}
