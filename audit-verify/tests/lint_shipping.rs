//! `lint --prove-shipping` end to end, for real: the system auditd ships through audisp-remote to a second
//! auditd (the collector), a marker sent as a user message must reach the collector's log; with the
//! collector down, the proof must fail.
//!
//! auditd has no listen-address setting (it binds every address), so to keep the collector on loopback
//! only it runs in a network namespace of its own, which has nothing but `lo`. audisp-remote, started by
//! the system auditd, joins that namespace through a wrapper (`nsenter --net`) named as the plugin's
//! path; the lint under test runs there too (`ip netns exec`), so "127.0.0.1" means the collector's
//! loopback for all three.
//!
//! The plugin is a plugins.d file of our own (`av-ship-PID.conf`, active, type always) rather than
//! au-remote.conf switched to `active = yes`: auditd 3.0's reload starts a plugin it has never seen, but
//! does not reliably restart one it saw going inactive (the first run passed, later ones never saw the
//! plugin start). Removing our file and reloading is the path on which auditd itself stops the plugin.
//!
//! What this changes, all under the state guard's lock and restored by Drop guards, also on failure:
//! our plugins.d file (removed) and /etc/audit/audisp-remote.conf (restored byte for byte, mode included),
//! then the system auditd gets SIGHUP again and any audisp-remote left in our namespace is stopped; the
//! collector (stopped); the namespace (deleted); /run/auditd.pid, which auditd writes even with
//! `local_events = no` and removes on exit (restored); the temporary directory (removed). The system auditd
//! is never stopped, and only reloaded.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    fs,
    os::unix::{fs::PermissionsExt as _, process::CommandExt as _},
    path::{Path, PathBuf},
    process::{Child, Command, Output},
    thread,
    time::{Duration, Instant},
};

use audit_verify::{
    guard::{Environment, StateGuard},
    netlink::AuditSocket,
};
use serde_json::Value;

const PLUGIN_DIR: &str = "/etc/audit/plugins.d";
const REMOTE_CONF: &str = "/etc/audit/audisp-remote.conf";
const PID_FILE: &str = "/run/auditd.pid";

fn sh(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A file's bytes and mode, put back on drop (or removed if it did not exist).
struct Restore {
    path: PathBuf,
    saved: Option<(Vec<u8>, u32)>,
}

impl Restore {
    fn save(path: &str) -> Self {
        let saved = fs::read(path).ok().map(|b| (b, fs::metadata(path).unwrap().permissions().mode()));
        Self { path: path.into(), saved }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        match &self.saved {
            Some((bytes, mode)) => {
                fs::write(&self.path, bytes).expect("restoring a file");
                fs::set_permissions(&self.path, fs::Permissions::from_mode(*mode)).expect("restoring its mode");
            }
            None => {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

struct Netns(String);

impl Netns {
    fn new(name: String) -> Self {
        sh("ip", &["netns", "add", &name]);
        let ns = Self(name);
        sh("ip", &["netns", "exec", &ns.0, "ip", "link", "set", "lo", "up"]);
        ns
    }

    fn inode(&self) -> u64 {
        use std::os::unix::fs::MetadataExt as _;
        fs::metadata(format!("/run/netns/{}", self.0)).unwrap().ino()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A process we started: SIGTERM, then SIGKILL if it lingers.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        stop(self.0.id());
        let _ = self.0.wait();
    }
}

/// `pid`'s parent.
fn parent(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until `plugin` holds an established connection to `port`, making events meanwhile.
fn wait_connected(socket: &mut AuditSocket, plugin: u32, port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !tcp_state(plugin, port, "01", true) {
        if Instant::now() > deadline {
            return false;
        }
        nudge(socket);
        thread::sleep(Duration::from_millis(500));
    }
    true
}

/// A shell pipeline we started in its own process group: the whole group is stopped on drop.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = self.0.id().cast_signed();
        // SAFETY: kill(2) on the process group we created (process_group(0) made the child its leader).
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let _ = self.0.wait();
        thread::sleep(Duration::from_millis(200));
        // SAFETY: as above; whatever of the group is left.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

fn stop(pid: u32) {
    // SAFETY: plain kill(2) on a pid we started.
    unsafe { libc::kill(pid.cast_signed(), libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}/cmdline")).exists() && !is_zombie(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    if Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(pid.cast_signed(), libc::SIGKILL) };
    }
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |s| s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
}

/// The system auditd configured to ship into our namespace; on drop, its files are restored (fields
/// declared first drop first), it is sent SIGHUP, and what it started in our namespace is stopped.
struct Shipping {
    /// Our own plugin file, removed on drop (a `Restore` of a file that did not exist).
    plugin: Option<Restore>,
    remote_conf: Option<Restore>,
    auditd: u32,
    netns_inode: u64,
}

impl Drop for Shipping {
    fn drop(&mut self) {
        drop(self.plugin.take());
        drop(self.remote_conf.take());
        // SAFETY: SIGHUP makes auditd reload its configuration, as `service auditd reload` does.
        unsafe { libc::kill(self.auditd.cast_signed(), libc::SIGHUP) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !plugins_in(self.netns_inode).is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
        }
        for pid in plugins_in(self.netns_inode) {
            stop(pid);
        }
    }
}

/// audisp-remote processes inside the namespace with this inode.
fn plugins_in(netns_inode: u64) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt as _;
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv0 = cmd.split(|b| *b == 0).next().unwrap_or_default();
            argv0.ends_with(b"audisp-remote")
                && fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| m.ino() == netns_inode)
                && !is_zombie(*pid)
        })
        .collect()
}

/// Whether `pid`'s namespace has a TCP socket on `port` in `state` (hex, as /proc/net/tcp prints it).
fn tcp_state(pid: u32, port: u16, state: &str, remote: bool) -> bool {
    ["tcp", "tcp6"].iter().any(|f| {
        fs::read_to_string(format!("/proc/{pid}/net/{f}")).unwrap_or_default().lines().skip(1).any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let addr = if remote { w[2] } else { w[1] };
            w[3] == state && addr.ends_with(&format!(":{port:04X}"))
        })
    })
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// auditd's dispatcher applies a reload, and audisp-remote connects, when an event passes through: on an
/// idle host, a user message every half second makes one.
fn nudge(socket: &mut AuditSocket) {
    socket.send_user_message("audit-verify lint_shipping test: nudging the dispatcher").unwrap();
}

fn prove(netns: &Netns) -> (i32, Vec<Value>) {
    let binary = common::binary();
    let out = Command::new("ip")
        .args(["netns", "exec", &netns.0])
        .arg(binary)
        .args(["lint", "--prove-shipping", "--json", "--prove-timeout", "15"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (out.status.code().unwrap(), report["findings"].as_array().unwrap().clone())
}

fn collector_conf(dir: &Path, port: u16) -> String {
    format!(
        "local_events = no\nwrite_logs = yes\nlog_file = {log}\nlog_format = ENRICHED\nflush = INCREMENTAL_ASYNC\n\
         freq = 1\nmax_log_file = 8\nnum_logs = 2\nmax_log_file_action = ROTATE\nspace_left = 75\n\
         space_left_action = SYSLOG\nadmin_space_left = 50\nadmin_space_left_action = SUSPEND\n\
         disk_full_action = SUSPEND\ndisk_error_action = SUSPEND\nuse_libwrap = no\ntcp_listen_port = {port}\n\
         tcp_listen_queue = 5\ntcp_max_per_addr = 1\ntcp_client_max_idle = 0\ntransport = TCP\n\
         distribute_network = no\nname_format = NONE\nplugin_dir = {plugins}\n",
        log = dir.join("log/audit.log").display(),
        plugins = dir.join("plugins.d").display(),
    )
}

#[test]
#[expect(clippy::too_many_lines, reason = "one end-to-end scenario: set up auditd and two collectors, then check each")]
fn the_marker_reaches_a_loopback_collector_and_not_a_dead_one() {
    let _guard = StateGuard::new(Environment::Host).unwrap();
    let auditd = u32::try_from(common::auditctl_status()["pid"]).unwrap();
    assert!(auditd != 0, "no system auditd registered: run `cargo xtask setup`");
    assert!(Path::new("/sbin/audisp-remote").exists(), "audisp-remote missing: install audispd-plugins");
    let _pid_file = Restore::save(PID_FILE);
    let tag = format!("av-ship-{}", std::process::id());
    let dir = TempDir(std::env::temp_dir().join(&tag));
    let _ = fs::remove_dir_all(&dir.0);
    for sub in ["log", "plugins.d", "bin"] {
        fs::create_dir_all(dir.0.join(sub)).unwrap();
    }
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
    let port = 61000 + (std::process::id() % 1000) as u16;
    fs::write(dir.0.join("auditd.conf"), collector_conf(&dir.0, port)).unwrap();
    fs::set_permissions(dir.0.join("auditd.conf"), fs::Permissions::from_mode(0o600)).unwrap();
    let netns = Netns::new(tag.clone());

    // The collector, in the namespace.
    let child = Command::new("ip")
        .args(["netns", "exec", &netns.0, "auditd", "-n", "-c"])
        .arg(&dir.0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let collector = Started(child);
    let collector_pid = collector.0.id();
    wait_until("the collector to listen", Duration::from_secs(10), || tcp_state(collector_pid, port, "0A", false));

    // The system auditd, shipping into the namespace.
    let wrapper = dir.0.join("bin/netns-audisp-remote");
    fs::write(&wrapper, format!("#!/bin/sh\nexec nsenter --net=/run/netns/{} /sbin/audisp-remote \"$@\"\n", netns.0))
        .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o750)).unwrap();
    let plugin_file = format!("{PLUGIN_DIR}/{tag}.conf");
    assert!(!Path::new(&plugin_file).exists());
    let shipping = Shipping {
        plugin: Some(Restore::save(&plugin_file)),
        remote_conf: Some(Restore::save(REMOTE_CONF)),
        auditd,
        netns_inode: netns.inode(),
    };
    fs::write(
        &plugin_file,
        format!("active = yes\ndirection = out\npath = {}\ntype = always\nformat = string\n", wrapper.display()),
    )
    .unwrap();
    fs::write(
        REMOTE_CONF,
        format!(
            "remote_server = 127.0.0.1\nport = {port}\ntransport = tcp\nmode = immediate\nqueue_depth = 2048\n\
             format = managed\nnetwork_retry_time = 1\nmax_tries_per_record = 3\nmax_time_per_record = 5\n\
             heartbeat_timeout = 0\nnetwork_failure_action = syslog\nremote_ending_action = reconnect\n"
        ),
    )
    .unwrap();
    // SAFETY: SIGHUP makes the system auditd reload its configuration and plugins.
    unsafe { libc::kill(auditd.cast_signed(), libc::SIGHUP) };
    let mut socket = AuditSocket::open().unwrap();
    // Path A: the system auditd starts the plugin. auditd 3.0's dispatcher thread ends for good after a
    // reload that leaves no plugin active ("After reconfigure, there are no active plugins, exiting"),
    // which every run's own clean-up reload does on a host with no active plugin; until auditd restarts,
    // no reload starts a plugin again. Then path B: a log shipper's pipeline, `tail -F audit.log |
    // audisp-remote` in the namespace: kernel → system auditd → audit.log → audisp-remote → collector.
    let mut tick = 0u32;
    let deadline = Instant::now() + Duration::from_secs(15);
    while plugins_in(shipping.netns_inode).is_empty() && Instant::now() < deadline {
        tick += 1;
        if tick.is_multiple_of(5) {
            nudge(&mut socket);
        }
        thread::sleep(Duration::from_millis(100));
    }
    let by_auditd = plugins_in(shipping.netns_inode).into_iter().find(|p| parent(*p) == Some(auditd));
    let path_a = by_auditd.filter(|p| wait_connected(&mut socket, *p, port, Duration::from_secs(15)));
    let (_feeder, plugin) = if let Some(plugin) = path_a {
        eprintln!("path A: the system auditd started audisp-remote (pid {plugin}) and it connected");
        (None, plugin)
    } else {
        eprintln!(
            "path B: the system auditd's dispatcher did not start audisp-remote, or it did not connect (a \
             dispatcher ended by an earlier reload, or dropping under load); shipping through \
             `tail -F audit.log | audisp-remote` instead"
        );
        let feed = format!(
            "tail -n0 -F /var/log/audit/audit.log | exec nsenter --net=/run/netns/{} /sbin/audisp-remote",
            netns.0
        );
        let feeder = Group(Command::new("sh").args(["-c", &feed]).process_group(0).spawn().unwrap());
        let ours = |p: &u32| parent(*p) == Some(feeder.0.id());
        wait_until("the fed audisp-remote to start", Duration::from_secs(10), || {
            plugins_in(shipping.netns_inode).iter().any(ours)
        });
        let plugin = plugins_in(shipping.netns_inode).into_iter().find(ours).unwrap();
        if !wait_connected(&mut socket, plugin, port, Duration::from_secs(30)) {
            let net = |f: &str| fs::read_to_string(format!("/proc/{plugin}/net/{f}")).unwrap_or_default();
            let log = fs::read_to_string(dir.0.join("log/audit.log")).unwrap_or_default();
            panic!(
                "audisp-remote (pid {plugin}) did not connect to 127.0.0.1:{port}\ntcp:\n{}\ntcp6:\n{}\n\
                 collector log:\n{log}",
                net("tcp"),
                net("tcp6")
            );
        }
        (Some(feeder), plugin)
    };
    eprintln!("audisp-remote pid {plugin} connected to the collector");

    let (code, findings) = prove(&netns);
    let proof = findings
        .iter()
        .find(|f| f["id"].as_str().is_some_and(|id| id.starts_with("shipping_")) && f["id"] != "shipping_to_loopback")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(proof["id"], "shipping_proven", "{proof:#}");
    assert_eq!(proof["footgun"], 1);
    let at = proof["location"].as_str().unwrap();
    // `ip netns exec` gives the collector a mount namespace of its own, so lint reads its log as the
    // collector sees it: through /proc/PID/root.
    let seen_as = at.strip_prefix("/proc/").and_then(|r| r.split_once("/root")).map_or(at, |(_, path)| path);
    assert!(seen_as.starts_with(&dir.0.join("log/audit.log:").display().to_string()), "{at}");
    // The loopback collector is not off-host, and lint says so, at the line that names it.
    assert!(
        findings
            .iter()
            .any(|f| f["id"] == "shipping_to_loopback" && f["location"].as_str().unwrap().starts_with(REMOTE_CONF)),
        "{findings:#?}"
    );
    assert!(code == 0 || code == 1);

    // The collector down: the same proof must fail.
    drop(collector);
    let (code, findings) = prove(&netns);
    let proof = findings.iter().find(|f| f["id"] == "shipping_not_proven").unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(proof["severity"], "high");
    assert!(proof["message"].as_str().unwrap().contains("nothing listens"), "{proof:#}");
    assert_eq!(code, 1);

    drop(shipping);
    assert!(plugins_in(netns.inode()).is_empty(), "audisp-remote left running");
}
