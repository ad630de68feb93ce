//! lint's auditd verdicts against what auditd does: distro and hardening trees (tests/fixtures/lint/auditd-*),
//! files auditd refuses, built-in defaults, no local log, the syslog off-load path, audisp-remote's
//! failure handling, and trees that hold only part of a configuration.
//!
//! `the_real_auditd_accepts_and_refuses_what_lint_says` runs this host's auditd on each file, in a user
//! and mount namespace of its own: the kernel refuses audit netlink requests from any user namespace but
//! the initial one (`audit_netlink_ok`: ECONNREFUSED), so that auditd can read its configuration and
//! cannot register with the kernel or disturb the system auditd; /run, /var/log/audit and
//! /etc/audit/plugins.d are fresh tmpfs in it. Run it with the other auditd tests, under
//! /run/av-kernel-tests.lock.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use audit_verify::auditd_conf::startup::{self, Host};
use common::lint_run::{fixtures, lint, tree};

/// A copy of a fixture tree, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn from(name: &str, test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("av-lint-auditd-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(Command::new("cp").arg("-a").arg(tree(name)).arg(&dir).status().unwrap().success());
        Self(dir)
    }

    fn empty(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("av-lint-auditd-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn root(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// Replaces `from` with `to` in the file (which must contain it).
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.path(rel);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel} lacks {from:?}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn ids(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    let mut v: Vec<_> = list.iter().map(|(n, id)| (*n, (*id).to_owned())).collect();
    v.sort();
    v
}

/// Debian 12 and RHEL 9 as shipped: auditd starts; SUSPEND on a full disk, no shipping, no host name,
/// no -e 2. The same file: the same verdicts.
#[test]
fn distro_defaults_as_shipped() {
    for name in ["auditd-debian", "auditd-rhel9"] {
        let run = lint(&["--root", &tree(name), "--framework", "pci-dss"]);
        assert_eq!(run.code, 1, "{name}: {run:?}");
        assert!(run.find("auditd_refuses_config").is_empty(), "{name}");
        let expected = [
            (1, "no_offhost_shipping"),
            (3, "disk_action_unsafe"),
            (3, "disk_action_unsafe"),
            (3, "disk_action_unsafe"),
            (4, "immutable_missing"),
            (9, "name_format_none"),
        ];
        assert_eq!(run.serious(), ids(&expected), "{name}: {:#?}", run.findings);
        assert!(run.find("disk_action_unsafe").iter().all(|f| f["severity"] == "medium"), "{name}");
        // The shipped file rotates: 8 MB × 5.
        assert!(run.find("retention_unknown")[0]["message"].as_str().unwrap().contains("40 MB"), "{name}");
    }
}

/// The STIG trees: off-load through audisp-syslog + rsyslog or syslog-ng, or audisp-remote set as
/// `ComplianceAsCode` wants it: shipped, HALT/single on the disk, percentages (judged live only).
#[test]
fn stig_hardened_trees() {
    for name in ["auditd-stig", "auditd-syslog-ng", "auditd-stig-remote"] {
        let run = lint(&["--root", &tree(name)]);
        // overflow_action = SYSLOG (the STIG accepts it) still loses the shipped copy on overflow.
        assert_eq!(run.serious(), ids(&[(10, "dispatcher_overflow_drops")]), "{name}: {:#?}", run.findings);
        let reason = run.skipped_reason("warning time").unwrap_or_else(|| panic!("{name}: {:?}", run.skipped));
        assert!(reason.contains("25%") && reason.contains("live only"), "{reason}");
    }
}

/// Keys left out take auditd's built-in values, not the shipped file's: IGNORE on a full disk (high),
/// RAW records, and no rotation, so no retention is computed from it.
#[test]
fn a_minimal_file_is_judged_at_auditds_builtin_values() {
    let run = lint(&["--root", &tree("auditd-minimal")]);
    // The message cites where the value comes from, and the installed version (the tree's dpkg record).
    let disk: Vec<(&str, &str)> = run
        .find("disk_action_unsafe")
        .iter()
        .map(|f| {
            let message = f["message"].as_str().unwrap();
            assert!(
                message.contains("clear_config() in auditd-config.c") && message.contains("installed: auditd 3.0.9")
            );
            (message.split(" (").next().unwrap(), f["severity"].as_str().unwrap())
        })
        .collect();
    assert!(disk.contains(&("disk_full_action = IGNORE", "high")), "{disk:?}");
    assert!(disk.contains(&("admin_space_left_action = IGNORE", "high")), "{disk:?}");
    assert!(disk.contains(&("disk_error_action = SYSLOG", "medium")), "{disk:?}");
    assert!(run.find("disk_action_unsafe")[0]["location"].as_str().unwrap().ends_with("not set: auditd's default)"));
    assert_eq!(run.find("log_format_not_enriched")[0]["message"], "log_format = RAW");
    let reason = run.skipped_reason("local retention").unwrap();
    assert!(reason.contains("max_log_file_action = IGNORE") && reason.contains("never deletes"), "{reason}");
}

/// `keep_logs` offline, and ROTATE with fewer than 2 logs (auditd then does not rotate): the file system's
/// size bounds retention; it is not known offline: skipped, with the reason.
#[test]
fn keep_logs_offline_is_skipped_with_its_reason() {
    for (from, to, says) in [
        ("max_log_file_action = ROTATE", "max_log_file_action = keep_logs", "KEEP_LOGS"),
        ("num_logs = 5", "num_logs = 1", "ROTATE with num_logs < 2"),
    ] {
        let t = TempTree::from("auditd-debian", "keep-logs");
        t.edit("etc/audit/auditd.conf", from, to);
        let run = lint(&["--root", t.root(), "--framework", "pci-dss"]);
        assert!(run.find("retention_too_short").is_empty() && run.find("retention_unknown").is_empty(), "{to}");
        assert!(run.skipped_reason("local retention").unwrap().contains(says), "{to}: {:?}", run.skipped);
    }
}

#[test]
fn a_file_auditd_refuses_is_high_at_its_line() {
    let t = TempTree::from("auditd-debian", "refused");
    let conf = t.path("etc/audit/auditd.conf");
    t.edit("etc/audit/auditd.conf", "freq = 50", "freq = 0");
    let run = lint(&["--root", t.root()]);
    let f = run.find("auditd_refuses_config");
    assert_eq!(f.len(), 1, "{:#?}", run.findings);
    assert_eq!(f[0]["severity"], "high");
    assert_eq!(f[0]["location"], conf.display().to_string());
    assert_eq!(
        f[0]["message"],
        "auditd will not start with this file: Error - incremental flushing chosen, but 0 selected for freq"
    );
    t.edit("etc/audit/auditd.conf", "freq = 0", "freq = 50\nfrequency = 50");
    let line = fs::read_to_string(&conf).unwrap().lines().position(|l| l.starts_with("frequency")).unwrap() + 1;
    let run = lint(&["--root", t.root()]);
    let f = run.find("auditd_refuses_config");
    assert_eq!(f[0]["location"], format!("{}:{line}", conf.display()));
    assert!(f[0]["message"].as_str().unwrap().contains(&format!("Unknown keyword \"frequency\" in line {line}")));
}

/// `write_logs` = no and `log_format` = NOLOG: nothing is kept locally, so no local retention is credited and
/// the disk actions (which only run around auditd's own writes) are not judged.
#[test]
fn no_local_log_is_no_local_retention() {
    for (from, to) in [("write_logs = yes", "write_logs = no"), ("log_format = ENRICHED", "log_format = NOLOG")] {
        let t = TempTree::from("auditd-debian", "no-log");
        t.edit("etc/audit/auditd.conf", from, to);
        let run = lint(&["--root", t.root(), "--framework", "pci-dss"]);
        let f = run.find("no_local_log");
        assert_eq!(f.len(), 1, "{to}: {:#?}", run.findings);
        assert_eq!(f[0]["severity"], "high", "nothing shipped either: {}", f[0]);
        assert!(f[0]["message"].as_str().unwrap().starts_with(&format!("{to}: auditd writes no local log")));
        assert!(run.find("retention_unknown").is_empty() && run.find("disk_action_unsafe").is_empty());
        assert!(run.skipped_reason("disk full").unwrap().starts_with("not applicable"), "{:?}", run.skipped);
    }
    // NOLOG before a later write_logs = yes is overridden by it, as in auditd.
    let t = TempTree::from("auditd-debian", "nolog-then-yes");
    t.edit("etc/audit/auditd.conf", "write_logs = yes", "log_format = NOLOG\nwrite_logs = yes");
    t.edit("etc/audit/auditd.conf", "log_format = ENRICHED", "");
    assert!(lint(&["--root", t.root()]).find("no_local_log").is_empty());
}

/// The syslog plugin ships only through a forwarding rule that selects its facility and priority.
#[test]
fn syslog_offload_needs_a_forwarding_rule_that_selects_the_plugin() {
    let cases: &[(&str, bool)] = &[
        ("*.* @@logcollector.example.com:514\n", true),
        ("*.info @logcollector.example.com\n", true),
        ("*.* action(type=\"omfwd\" target=\"logcollector.example.com\" port=\"6514\" protocol=\"tcp\")\n", true),
        ("*.*  action(type=\"omfwd\"\n       target=\"logcollector.example.com\" protocol=\"tcp\")\n", true),
        ("local6.* @@logcollector.example.com\n", false),
        ("*.*;user.none @@logcollector.example.com\n", false),
        ("*.* /var/log/everything\n", false),
        ("# *.* @@logcollector.example.com\n", false),
    ];
    for (rule, ships) in cases {
        let t = TempTree::from("auditd-stig", "rsyslog");
        t.write("etc/rsyslog.d/remote.conf", rule);
        let run = lint(&["--root", t.root()]);
        assert_eq!(run.find("no_offhost_shipping").is_empty(), *ships, "{rule:?}: {:#?}", run.findings);
    }
    // The plugin logging to local6 is taken by a local6 rule.
    let t = TempTree::from("auditd-stig", "rsyslog-local6");
    t.edit("etc/audit/plugins.d/syslog.conf", "args = LOG_INFO", "args = LOG_INFO LOG_LOCAL6");
    t.write("etc/rsyslog.d/remote.conf", "local6.* @@logcollector.example.com\n");
    assert!(lint(&["--root", t.root()]).find("no_offhost_shipping").is_empty());
    // Forwarding to this host is not off-host.
    let t = TempTree::from("auditd-stig", "rsyslog-loopback");
    t.write("etc/rsyslog.d/remote.conf", "*.* @@127.0.0.1:514\n");
    let run = lint(&["--root", t.root()]);
    assert_eq!(run.find("shipping_to_loopback").len(), 1, "{:#?}", run.findings);
    // rsyslog.d is read only when rsyslog.conf includes it.
    let t = TempTree::from("auditd-stig", "rsyslog-no-include");
    t.edit("etc/rsyslog.conf", "$IncludeConfig /etc/rsyslog.d/*.conf", "");
    assert_eq!(lint(&["--root", t.root()]).find("no_offhost_shipping").len(), 1);
    // The plugin off: rsyslog forwarding carries no audit record.
    let t = TempTree::from("auditd-stig", "rsyslog-plugin-off");
    t.edit("etc/audit/plugins.d/syslog.conf", "active = yes", "active = no");
    assert_eq!(lint(&["--root", t.root()]).find("no_offhost_shipping").len(), 1);
    // syslog-ng without a log path to the destination ships nothing.
    let t = TempTree::from("auditd-syslog-ng", "syslog-ng-no-path");
    t.edit("etc/syslog-ng/conf.d/remote.conf", "log { source(s_src); destination(d_collector); };", "");
    assert_eq!(lint(&["--root", t.root()]).find("no_offhost_shipping").len(), 1);
}

/// audisp-remote.conf's failure handling, as `ComplianceAsCode`'s `auditd_audispd`_* rules check it.
#[test]
fn audisp_remote_failure_handling_and_encryption() {
    let conf = "etc/audit/audisp-remote.conf";
    for (key, from) in [
        ("network_failure_action", "network_failure_action = syslog"),
        ("remote_ending_action", "remote_ending_action = reconnect"),
        ("disk_full_action", "disk_full_action = syslog"),
        ("overflow_action", "overflow_action = syslog"),
    ] {
        let t = TempTree::from("auditd-stig-remote", "remote-ignore");
        t.edit(conf, from, &format!("{key} = ignore"));
        let run = lint(&["--root", t.root()]);
        let f = run.find("remote_failure_unhandled");
        assert_eq!(f.len(), 1, "{key}: {:#?}", run.findings);
        assert_eq!(f[0]["severity"], "high");
        assert!(f[0]["message"].as_str().unwrap().starts_with(&format!("{key} = ignore")));
        assert!(f[0]["location"].as_str().unwrap().starts_with(&t.path(conf).display().to_string()));
    }
    // audisp-remote's own default for network failures is `stop`: medium, at "(not set)".
    let t = TempTree::from("auditd-stig-remote", "remote-default");
    t.edit(conf, "network_failure_action = syslog", "");
    let run = lint(&["--root", t.root()]);
    let f = run.find("remote_failure_unhandled");
    assert_eq!((f.len(), f[0]["severity"].as_str()), (1, Some("medium")), "{:#?}", run.findings);
    assert!(f[0]["location"].as_str().unwrap().ends_with("audisp-remote's default)"));
    // TCP without Kerberos: cleartext.
    let t = TempTree::from("auditd-stig-remote", "remote-tcp");
    t.edit(conf, "transport = KRB5", "transport = tcp");
    let run = lint(&["--root", t.root()]);
    assert_eq!(run.find("remote_unencrypted").len(), 1, "{:#?}", run.findings);
    t.edit(conf, "transport = tcp", "transport = tcp\nenable_krb5 = yes");
    assert!(lint(&["--root", t.root()]).find("remote_unencrypted").is_empty());
}

/// A tree without auditd.conf is linted for what it holds, and says what it lacks.
#[test]
fn partial_trees_are_linted_for_what_they_hold() {
    let policy = fixtures().join("k8s-policies/k8s-docs-example.yaml").display().to_string();
    let t = TempTree::empty("k8s-only");
    let run = lint(&["--root", t.root(), "--k8s-policy", &policy]);
    assert_ne!(run.code, 2, "{run:?}");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let auditd_footguns: Vec<_> = run.findings.iter().filter(|f| f["footgun"] != 6).collect();
    assert!(auditd_footguns.is_empty(), "{auditd_footguns:#?}");
    for check in ["records shipped off the host", "disk full", "local retention", "log_format", "rules files"] {
        let reason = run.skipped_reason(check).unwrap_or_else(|| panic!("{check}: {:#?}", run.skipped));
        assert!(reason.starts_with("absent from the tree: ") && reason.contains("etc/audit/auditd.conf"), "{reason}");
    }

    // Rules only: the rules are judged, auditd.conf is said to be absent.
    let t = TempTree::from("auditd-stig", "rules-only");
    fs::remove_file(t.path("etc/audit/auditd.conf")).unwrap();
    let run = lint(&["--root", t.root()]);
    assert_ne!(run.code, 2, "{run:?}");
    assert!(run.find("immutable_missing").is_empty() && run.find("rules_backlog_unset").is_empty());
    assert!(run.skipped_reason("auditd starts").unwrap().starts_with("absent from the tree"), "{:?}", run.skipped);
}

// ---- the differential test against the real auditd ----

const AUDITD: &str = "/usr/sbin/auditd";

/// What the real auditd did with a file: `Ok(())` it got past its configuration, `Err(line, output)`
/// it exited while reading it.
fn real_auditd(conf: &str, scratch: &Path) -> Result<(), (Option<usize>, String)> {
    fs::create_dir_all(scratch).unwrap();
    fs::write(scratch.join("auditd.conf"), conf).unwrap();
    let script = "mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/log/audit && \
                  mount -t tmpfs tmpfs /etc/audit/plugins.d && exec timeout 10 /usr/sbin/auditd -f -s nochange -c \"$0\"";
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", script])
        .arg(scratch)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // Past the configuration: the priority change (refused in the namespace), or with priority_boost 0 the
    // netlink registration (refused by the kernel).
    if text.contains("Cannot change priority") || text.contains("Unable to set audit pid") {
        return Ok(());
    }
    let errors: String = text
        .lines()
        .filter(|l| !l.contains("parser called with") && !l.contains("opened for parsing"))
        .collect::<Vec<_>>()
        .join(" | ");
    Err((line_named(&errors), errors))
}

/// The first "line N" auditd's messages name.
fn line_named(text: &str) -> Option<usize> {
    let at = text.find("line ")? + 5;
    text[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Every file: the fixture trees' auditd.conf and variations of Debian's shipped one, each line of
/// auditd's parser exercised.
fn corpus() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in fs::read_dir(fixtures()).unwrap().flatten() {
        for sub in ["", "pass", "fail"] {
            let conf = entry.path().join(sub).join("etc/audit/auditd.conf");
            if let Ok(text) = fs::read_to_string(&conf) {
                files.push((conf.strip_prefix(fixtures()).unwrap().display().to_string(), text));
            }
        }
    }
    let debian = fs::read_to_string(fixtures().join("auditd-debian/etc/audit/auditd.conf")).unwrap();
    let base = "space_left = 75\nadmin_space_left = 50\n";
    let replace = |from: &str, to: &str| {
        assert!(debian.contains(from), "{from}");
        debian.replacen(from, to, 1)
    };
    let variants: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("one blank line", "\n".into()),
        ("only a comment", "# nothing\n".into()),
        ("spaces only", base.into()),
        ("last line without newline", "space_left = 75\nadmin_space_left = 50".into()),
        ("last line without newline, reversed", "admin_space_left = 50\nspace_left = 75".into()),
        ("unknown keyword", replace("freq = 50", "freq = 50\nfrequency = 50")),
        ("freq 0 with incremental_async", replace("freq = 50", "freq = 0")),
        ("flush incremental without freq", format!("{base}flush = incremental\n")),
        ("flush data with freq", format!("{base}flush = data\nfreq = 5\n")),
        ("missing =", replace("num_logs = 5", "num_logs 5")),
        ("key=value", replace("num_logs = 5", "num_logs=5")),
        ("tab separated", replace("num_logs = 5", "num_logs\t=\t5")),
        ("CRLF", debian.replace('\n', "\r\n")),
        ("trailing comment", replace("max_log_file = 8", "max_log_file = 8 # MB")),
        ("trailing comment on an action", replace("disk_full_action = SUSPEND", "disk_full_action = SUSPEND # c")),
        ("option on an action", replace("disk_full_action = SUSPEND", "disk_full_action = HALT now")),
        ("exec without program", replace("disk_full_action = SUSPEND", "disk_full_action = exec")),
        ("exec relative", replace("disk_full_action = SUSPEND", "disk_full_action = exec bin/true")),
        ("exec missing program", replace("disk_full_action = SUSPEND", "disk_full_action = exec /nonexistent/x")),
        ("exec /bin/true", replace("disk_full_action = SUSPEND", "disk_full_action = exec /bin/true")),
        ("email on disk full", replace("disk_full_action = SUSPEND", "disk_full_action = email")),
        ("rotate on disk error", replace("disk_error_action = SUSPEND", "disk_error_action = rotate")),
        ("rotate on space left", replace("space_left_action = SYSLOG", "space_left_action = rotate")),
        ("bad action", replace("disk_full_action = SUSPEND", "disk_full_action = explode")),
        ("num_logs 999", replace("num_logs = 5", "num_logs = 999")),
        ("num_logs 1000", replace("num_logs = 5", "num_logs = 1000")),
        ("num_logs negative", replace("num_logs = 5", "num_logs = -1")),
        ("q_depth 100000", replace("q_depth = 2000", "q_depth = 100000")),
        ("q_depth 100", replace("q_depth = 2000", "q_depth = 100")),
        ("space_left 100%", replace("space_left = 75", "space_left = 100%")),
        ("space_left 25%", replace("space_left = 75", "space_left = 25%")),
        ("space_left 7x", replace("space_left = 75", "space_left = 7x")),
        ("space below admin", replace("space_left = 75", "space_left = 40")),
        ("space equal admin", replace("space_left = 75", "space_left = 50")),
        ("percentages the wrong way", "space_left = 5%\nadmin_space_left = 25%\n".into()),
        ("upper-case keyword and value", replace("disk_full_action = SUSPEND", "DISK_FULL_ACTION = halt")),
        ("name_format user", replace("name_format = NONE", "name_format = user")),
        ("name_format bogus", replace("name_format = NONE", "name_format = host")),
        ("transport KRB5", replace("transport = TCP", "transport = KRB5")),
        ("transport tls", replace("transport = TCP", "transport = TLS")),
        ("deprecated dispatcher", replace("q_depth = 2000", "q_depth = 2000\ndispatcher = /sbin/audispd")),
        ("deprecated disp_qos", replace("q_depth = 2000", "q_depth = 2000\ndisp_qos = lossy")),
        ("unknown group", replace("log_group = adm", "log_group = nosuchgroup")),
        ("numeric group", replace("log_group = adm", "log_group = 4")),
        ("short log dir", replace("log_file = /var/log/audit/audit.log", "log_file = /audit.log")),
        ("missing log dir", replace("log_file = /var/log/audit/audit.log", "log_file = /var/log/nonexistent/a.log")),
        ("tcp_listen_port 0", replace("##tcp_listen_port = 60", "tcp_listen_port = 0")),
        ("tcp_listen_port 70000", replace("##tcp_listen_port = 60", "tcp_listen_port = 70000")),
        ("tcp_listen_port 60", replace("##tcp_listen_port = 60", "tcp_listen_port = 60")),
        ("tcp_max_per_addr 1025", replace("tcp_max_per_addr = 1", "tcp_max_per_addr = 1025")),
        ("tcp_max_per_addr 0", replace("tcp_max_per_addr = 1", "tcp_max_per_addr = 0")),
        ("tcp_listen_queue 0", replace("tcp_listen_queue = 5", "tcp_listen_queue = 0")),
        ("tcp_client_ports", replace("##tcp_client_ports = 1024-65535", "tcp_client_ports = 1024-65535")),
        ("tcp_client_ports 70000", replace("##tcp_client_ports = 1024-65535", "tcp_client_ports = 70000")),
        ("end_of_event_timeout abc", replace("end_of_event_timeout = 2", "end_of_event_timeout = abc")),
        ("max_restarts x", replace("max_restarts = 10", "max_restarts = x")),
        ("priority_boost 0", replace("priority_boost = 4", "priority_boost = 0")),
        ("write_logs no", replace("write_logs = yes", "write_logs = no")),
        ("write_logs maybe", replace("write_logs = yes", "write_logs = maybe")),
        ("log_format NOLOG", replace("log_format = ENRICHED", "log_format = NOLOG")),
        ("log_format json", replace("log_format = ENRICHED", "log_format = json")),
        ("max_log_file_action keep_logs", replace("max_log_file_action = ROTATE", "max_log_file_action = keep_logs")),
        ("max_log_file_action exec", replace("max_log_file_action = ROTATE", "max_log_file_action = exec")),
        (
            "max_log_file_action with option",
            replace("max_log_file_action = ROTATE", "max_log_file_action = ROTATE now"),
        ),
        ("long line", replace("##name = mydomain", &format!("name = {}", "a".repeat(200)))),
        ("mail account too short", replace("action_mail_acct = root", "action_mail_acct = r")),
        ("mail account bad character", replace("action_mail_acct = root", "action_mail_acct = ro!ot")),
        ("mail account without dot", replace("action_mail_acct = root", "action_mail_acct = root@localhost")),
        (
            "mail account unchecked",
            replace("verify_email = yes\naction_mail_acct = root", "verify_email = no\naction_mail_acct = r"),
        ),
        ("value missing", replace("num_logs = 5", "num_logs =")),
        ("double equals", replace("num_logs = 5", "num_logs = = 5")),
        ("five tokens on an action", replace("disk_full_action = SUSPEND", "disk_full_action = halt a b")),
    ];
    files.extend(variants.into_iter().map(|(name, text)| (name.to_owned(), text)));
    files
}

#[test]
fn the_real_auditd_accepts_and_refuses_what_lint_says() {
    if !Path::new(AUDITD).exists() {
        eprintln!("skipped: {AUDITD} not installed");
        return;
    }
    let probe = Command::new("unshare").args(["--user", "--map-root-user", "--mount", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot make a user namespace here (unshare --user), so auditd cannot be run apart");
        return;
    }
    let scratch = std::env::temp_dir().join(format!("av-lint-auditd-{}-real", std::process::id()));
    let mut differences = Vec::new();
    let mut refused = 0;
    let corpus = corpus();
    for (i, (name, text)) in corpus.iter().enumerate() {
        let real = real_auditd(text, &scratch.join(i.to_string()));
        let model = startup::check(text.as_bytes(), Host::Live).refusal;
        let agree = match (&real, &model) {
            (Ok(()), None) => true,
            // auditd names a line for the parse errors; sanity_check's errors name none.
            // Some parsers' messages name no line ("num_logs must be 999 or less"): lint's line is then
            // the one auditd was reading.
            (Err((line, _)), Some(r)) => line.is_none() || r.line.is_none() || *line == r.line,
            _ => false,
        };
        refused += usize::from(real.is_err());
        if !agree {
            differences.push(format!("{name}: auditd {real:?}, lint {model:?}"));
        }
    }
    let _ = fs::remove_dir_all(&scratch);
    assert!(
        differences.is_empty(),
        "{} of {} files differ:\n{}",
        differences.len(),
        corpus.len(),
        differences.join("\n")
    );
    // Both outcomes are exercised: a sandbox that never starts auditd would refuse everything.
    assert!(refused > 20 && corpus.len() - refused > 20, "{refused} of {} refused", corpus.len());
    eprintln!("{} files ({refused} refused): lint and auditd agree on each", corpus.len());
}
