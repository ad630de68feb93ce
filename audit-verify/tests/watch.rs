//! `watch` against the real kernel, auditd and Prometheus: a real Prometheus server scrapes it on
//! loopback while a frozen auditd and a storm overflow the backlog; auditd is restarted and its log
//! rotated mid-run; a quiet run. Each test holds the state guard and leaves kernel and auditd as found.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]
#![expect(
    clippy::float_cmp,
    clippy::cast_precision_loss,
    reason = "Prometheus serves counters as floats; counts below 2^53 are exact there, and exact is what these tests assert"
)]

mod common;

use std::{
    collections::BTreeMap,
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use audit_verify::guard::{Environment, Setting, StateGuard};

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `audit-verify watch` at 1 s intervals, stopped with SIGTERM on drop.
struct Watch {
    child: Child,
    port: u16,
    log: common::Scratch,
}

impl Watch {
    fn start(name: &str) -> Self {
        let port = free_port();
        let log = common::Scratch::named(&format!("watch-{name}.log"));
        let child = Command::new(common::binary())
            .args(["-v", "watch", "--json-log", "--interval", "1", "--canary-interval", "1", "--grace", "2"])
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stderr(std::fs::File::create(&log.0).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let me = Self { child, port, log };
        assert!(
            common::poll(20, || me.metrics().filter(|m| m.contains_key("audit_verify_auditd_up"))).is_some(),
            "no /metrics"
        );
        me
    }

    /// The current /metrics as series → value.
    fn metrics(&self) -> Option<BTreeMap<String, f64>> {
        let body = common::http_get(self.port, "/metrics")?;
        Some(
            body.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let (series, value) = l.rsplit_once(' ')?;
                    Some((series.to_owned(), value.parse().ok()?))
                })
                .collect(),
        )
    }

    fn value(&self, series: &str) -> f64 {
        self.metrics().and_then(|m| m.get(series).copied()).unwrap_or(f64::NAN)
    }

    /// Waits until the ledger has judged what the last canary fenced: one canary written after `since`,
    /// then the grace period and an interval.
    fn settle(&self, since: f64) {
        let canary = r#"audit_verify_canary_last_success_timestamp_seconds{path="log"}"#;
        assert!(
            common::poll(20, || (self.value(canary) > since).then_some(())).is_some(),
            "no canary through since {since}"
        );
        std::thread::sleep(Duration::from_millis(4500));
    }

    /// Peak resident memory (`VmHWM`), in kB.
    fn peak_rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .unwrap()
            .trim()
            .trim_end_matches(" kB")
            .trim()
            .parse()
            .unwrap()
    }

    /// Stops it as systemd would, and returns how long it took and its exit status.
    fn stop(mut self) -> (Duration, std::process::ExitStatus, String) {
        let t0 = Instant::now();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id().cast_signed(), libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        (t0.elapsed(), status, std::fs::read_to_string(&self.log.0).unwrap_or_default())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Prometheus (Debian's) scraping `target` every second, its TSDB in a scratch directory.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: common::Scratch,
}

impl Prometheus {
    fn start(target: u16) -> Self {
        let dir = common::Scratch::named("prometheus");
        std::fs::create_dir_all(dir.0.join("tsdb")).unwrap();
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: watch\n    \
                 static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.0.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.0.join("prometheus.log")).unwrap())
            .spawn()
            .expect("starting /usr/bin/prometheus (cargo xtask setup installs it)");
        let me = Self { child, port, _dir: dir };
        assert!(
            common::poll(30, || (me.query("up{job=\"watch\"}") == Some(1.0)).then_some(())).is_some(),
            "Prometheus never scraped watch"
        );
        me
    }

    /// An instant query through Prometheus's own HTTP API: the first result's value.
    fn query(&self, expr: &str) -> Option<f64> {
        let encoded: String = expr
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b == b'_' { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let body = common::http_get(self.port, &format!("/api/v1/query?query={encoded}"))?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The loginuid of the restart test's storm, which nothing else on the host has: the test's own
/// `auditctl` runs and auditd's start are not recorded, so what auditd may lose while it is down (the
/// records in its socket when it exits) is nothing the test asked for.
const AUID: u32 = 4243;

/// A storm whose processes carry `AUID` as their loginuid.
fn execve_storm_as_auid(runs: usize) -> Child {
    use std::os::unix::process::CommandExt as _;
    let script = format!("i=0; while [ $i -lt {runs} ]; do /bin/true; i=$((i+1)); done");
    let mut command = Command::new("/bin/sh");
    command.args(["-c", &script]);
    let value = AUID.to_string();
    // SAFETY: between fork and exec only open, write and close run (a path literal, a value formatted
    // before the fork).
    unsafe {
        command.pre_exec(move || std::fs::write("/proc/self/loginuid", value.as_bytes()));
    }
    command.spawn().unwrap()
}

/// `shells` shells each running /bin/true `runs` times: an execve storm.
fn execve_storm(shells: usize, runs: usize) -> Vec<Child> {
    let script = format!("i=0; while [ $i -lt {runs} ]; do /bin/true; i=$((i+1)); done");
    (0..shells).map(|_| Command::new("/bin/sh").args(["-c", &script]).spawn().unwrap()).collect()
}

fn wait_all(children: Vec<Child>) {
    for mut c in children {
        c.wait().unwrap();
    }
}

fn lost() -> u64 {
    common::auditctl_status()["lost"]
}

fn auditd_pid() -> i32 {
    i32::try_from(common::auditctl_status()["pid"]).unwrap()
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// SIGCONTs auditd however the test ends.
struct Frozen(i32);

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: signalling auditd, which the test froze.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}

const TOTAL: &str = "audit_verify_kernel_lost_records_total";

/// Tests (1) and (2) of the issue: Prometheus's own API reports, for a backlog overflowed for real, the
/// kernel's exact `lost` delta, split by reason with Σ = Δlost, the backlog limit named.
#[test]
fn prometheus_reads_the_kernels_exact_loss_by_reason() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.set(Setting::BacklogLimit, 8192).unwrap();
    guard.set(Setting::BacklogWaitTime, 0).unwrap();
    guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", "av-watch-storm"]).unwrap();
    let watch = Watch::start("storm");
    let prometheus = Prometheus::start(watch.port);
    let before = lost();
    let at_start = common::poll(10, || prometheus.query(TOTAL)).expect("the counter in Prometheus");
    {
        guard.set(Setting::BacklogLimit, 64).unwrap();
        let pid = auditd_pid();
        // SAFETY: freezing auditd; `Frozen` thaws it.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        let _thaw = Frozen(pid);
        let storm = execve_storm(2, 600);
        std::thread::sleep(Duration::from_secs(3));
        wait_all(storm);
    }
    // Room again, so nothing is dropped after the count below.
    guard.set(Setting::BacklogLimit, 8192).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let delta = lost() - before;
    assert!(delta > 0, "the storm did not overflow the backlog");
    let expected = at_start + delta as f64;
    let seen = common::poll(15, || prometheus.query(TOTAL).filter(|v| *v == expected));
    let by_reason = prometheus.query("sum(audit_verify_kernel_dropped_records_total)");
    let backlog = prometheus.query("audit_verify_kernel_dropped_records_total{reason=\"backlog_limit\"}");
    let emitted = prometheus.query("audit_verify_events_emitted_total{key=\"av-watch-storm\"}");
    drop(prometheus);
    let (took, status, log) = watch.stop();
    drop(guard);
    assert_eq!(seen, Some(expected), "Prometheus: {TOTAL} against auditctl's lost delta of {delta}\n{log}");
    assert_eq!(by_reason, Some(expected), "Σ by reason = Δlost\n{log}");
    assert!(backlog.is_some_and(|b| b > 0.0), "backlog_limit: {backlog:?}\n{log}");
    assert!(emitted.is_some_and(|e| e > 0.0), "the storm's key: {emitted:?}");
    assert!(status.success() && took < Duration::from_secs(1), "SIGTERM: {status} after {took:?}");
}

/// Test (3): auditd restarted and its log rotated mid-run lose nothing from the accounting, and the
/// canary goes through again after both.
#[test]
fn an_auditd_restart_and_a_rotation_lose_nothing() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.set(Setting::BacklogLimit, 8192).unwrap();
    let auid = format!("auid={AUID}");
    guard
        .run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", &auid, "-k", "av-watch-restart"])
        .unwrap();
    let watch = Watch::start("restart");
    let before = lost();
    wait_all(vec![execve_storm_as_auid(100)]);
    // Rotation, as `auditctl --signal rotate` asks for it.
    // SAFETY: SIGUSR1 makes auditd rotate its logs.
    unsafe { libc::kill(auditd_pid(), libc::SIGUSR1) };
    wait_all(vec![execve_storm_as_auid(100)]);
    // A restart: a new pid; the kernel and the multicast stream go on.
    let old = auditd_pid();
    // SAFETY: stopping the system auditd; it is started again just below.
    unsafe { libc::kill(old, libc::SIGTERM) };
    let stopped = common::poll(10, || (common::auditctl_status()["pid"] == 0).then_some(()));
    let started = common::auditd().status().is_ok_and(|s| s.success());
    let registered = common::poll(10, || (auditd_pid() != 0).then_some(()));
    assert!(stopped.is_some() && started && registered.is_some(), "restarting auditd");
    assert_ne!(auditd_pid(), old);
    let restarted_at = now();
    wait_all(vec![execve_storm_as_auid(100)]);
    watch.settle(restarted_at);
    let m = watch.metrics().unwrap();
    let kernel_lost = lost() - before;
    let (_, status, log) = watch.stop();
    drop(guard);
    let sum = |prefix: &str| m.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum::<f64>();
    assert_eq!(kernel_lost, 0, "the kernel dropped records: the test's premise failed");
    assert_eq!(m[TOTAL], 0.0, "{log}");
    assert_eq!(sum("audit_verify_lost_after_kernel_records_total"), 0.0, "{m:#?}\n{log}");
    let emitted = m["audit_verify_events_emitted_total{key=\"av-watch-restart\"}"];
    let written = m["audit_verify_events_written_total{key=\"av-watch-restart\"}"];
    assert!(emitted >= 303.0, "3 × (a shell and its 100 children): {emitted}");
    assert_eq!(written, emitted, "{log}");
    assert_eq!(m["audit_verify_auditd_up"], 1.0);
    assert!(status.success());
}

/// Test (4): a quiet run reports no loss, every emitted event written, bounded memory, and its log
/// lines follow their schema.
#[test]
fn a_quiet_run_reports_no_loss() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.set(Setting::BacklogLimit, 8192).unwrap();
    guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", "av-watch-quiet"]).unwrap();
    let watch = Watch::start("quiet");
    let before = lost();
    let started = now();
    wait_all(execve_storm(1, 50));
    watch.settle(started + 1.0);
    let m = watch.metrics().unwrap();
    let kernel_lost = lost() - before;
    let rss = watch.peak_rss_kb();
    let (took, status, log) = watch.stop();
    drop(guard);
    assert_eq!(kernel_lost, 0, "the kernel dropped records: the test's premise failed");
    // The loss series exist from the start, so the zeros below are read, not missing.
    for series in [
        "audit_verify_kernel_lost_records_total",
        "audit_verify_kernel_dropped_records_total{reason=\"backlog_limit\"}",
        "audit_verify_kernel_dropped_records_total{reason=\"unattributed\"}",
        "audit_verify_lost_after_kernel_records_total{stage=\"auditd_queue\"}",
        "audit_verify_lost_after_kernel_records_total{stage=\"disk\"}",
    ] {
        assert!(m.contains_key(series), "no {series} in {m:?}");
    }
    for (series, value) in &m {
        if series.starts_with("audit_verify_kernel_") || series.starts_with("audit_verify_lost_after_kernel") {
            assert_eq!(*value, 0.0, "{series}\n{log}");
        }
    }
    let key = |family: &str| m[&format!("audit_verify_{family}_total{{key=\"av-watch-quiet\"}}")];
    assert!(key("events_emitted") >= 51.0);
    assert_eq!(key("events_written"), key("events_emitted"));
    assert_eq!(m["audit_verify_canary_failures_total{path=\"log\"}"], 0.0);
    assert!(rss < 64 * 1024, "peak RSS {rss} kB");
    assert!(status.success() && took < Duration::from_secs(1), "SIGTERM: {status} after {took:?}");
    let schema = common::schema_validator("watch-log");
    for line in log.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(schema.is_valid(&value), "{line}");
    }
}
