//! `--prove-shipping`: footgun 1 measured instead of read. A marker goes into the kernel as a user
//! message (`AUDIT_USER`, what `auditctl -m` sends), must show up in the local audit log, then at the
//! collector audisp-remote ships to. A collector on this host (an auditd listening on the port) is read
//! directly; a remote one cannot be, and the report says what to look for there.
//!
//! Sending a user message changes no audit state: it is one record, like any login.

use std::{
    fs,
    net::IpAddr,
    path::Path,
    time::{Duration, Instant},
};

use super::{
    Facts,
    procs::{self, TCP_ESTABLISHED, TCP_LISTEN},
    shipping,
};
use crate::{
    auditd_conf::AuditdConf,
    auditlog::{AuditLogError, Follower},
    barrier::{self, Marker},
    finding::{Finding, Severity},
    netlink::{AuditSocket, NetlinkError},
};

const N: u8 = 1;

/// The proof's verdict as one finding: `shipping_proven` (info), `shipping_unconfirmed` (medium: sent,
/// and the collector could not be read) or `shipping_not_proven` (high).
///
/// # Errors
///
/// When the marker cannot be sent over netlink.
#[expect(
    clippy::too_many_lines,
    reason = "one proof read top to bottom: send the marker, wait for the barrier, read each collector"
)]
pub fn prove(facts: &Facts, socket: &mut AuditSocket, wait: Duration) -> Result<Finding, NetlinkError> {
    let fail = |message: String| {
        Finding::new("shipping_not_proven", Severity::High, message)
            .footgun(N)
            .why("records that do not reach the collector exist only on this host")
            .fix(
                "start the collector, check audisp-remote.conf (remote_server, port) and au-remote.conf (active = yes)",
            )
    };
    let remote = facts.plugins.iter().any(|p| p.active() && p.path().ends_with("audisp-remote"));
    let target = facts.remote_conf.as_ref().and_then(|c| {
        let host = c.get("remote_server")?.value.split(',').next()?.trim().to_owned();
        (!host.is_empty()).then(|| (host, shipping::remote_port(c)))
    });
    let (Some((host, port)), true) = (target, remote) else {
        return Ok(fail("nothing to prove against: audisp-remote is not active with a remote_server".into()));
    };
    if facts.kernel.as_ref().is_some_and(|k| k.enabled == 0) {
        return Ok(fail("kernel audit is off (enabled 0): the kernel drops user messages".into()));
    }
    let local_log = facts.auditd_conf.log_file();
    let not_local =
        |why: String| fail(format!("{why} (a user-message filter, or auditd not writing)")).at(local_log.display());
    // Opened at the end before the marker is sent: only what is written from now on is read.
    let mut local = match fs::metadata(&local_log)
        .map_err(|e| e.to_string())
        .and_then(|m| Follower::open(&local_log, m.len()).map_err(|e| e.to_string()))
    {
        Ok(follower) => follower,
        Err(e) => return Ok(not_local(format!("the local log {} cannot be read: {e}", local_log.display()))),
    };
    let marker = Marker::for_purpose("shipping-proof");
    marker.send(socket)?;
    // A huge --shipping-timeout means "wait a long time", not an overflow.
    let deadline = Instant::now().checked_add(wait).unwrap_or_else(|| Instant::now() + Duration::from_hours(24));
    let local_at = match wait_for(&mut local, &marker, deadline) {
        Ok(Some(at)) => at,
        Ok(None) => {
            return Ok(not_local(format!("marker {marker} never reached the local log {}", local_log.display())));
        }
        Err(e) => return Ok(not_local(format!("marker {marker} sent, and reading the local log failed: {e}"))),
    };
    let destination = format!("{host}:{port}");
    if !is_local(&host) {
        let connected = procs::tcp_sockets().iter().any(|s| {
            s.state == TCP_ESTABLISHED && s.remote.1 == port && host.parse::<IpAddr>().is_ok_and(|ip| ip == s.remote.0)
        });
        return Ok(Finding::new(
            "shipping_unconfirmed",
            Severity::Medium,
            format!(
                "marker {marker} is in the local log ({local_at}); {destination} is another host, which audit-verify \
                 cannot read: search it there. TCP connection to it now: {}",
                if connected { "established" } else { "none seen (or a host name: not resolved here)" }
            ),
        )
        .footgun(N)
        .at(&destination)
        .why("only the collector's copy proves the record left the host")
        .fix(format!("on the collector: grep '{marker}' in its audit log")));
    }
    let Some(listener) = procs::tcp_sockets().into_iter().find(|s| s.state == TCP_LISTEN && s.local.1 == port) else {
        return Ok(fail(format!("nothing listens on {destination}: the collector is down")).at(&destination));
    };
    let owner = procs::socket_owner(listener.inode).and_then(procs::process);
    let Some(collector) = owner.filter(|p| p.program() == "auditd") else {
        return Ok(Finding::new(
            "shipping_unconfirmed",
            Severity::Medium,
            format!(
                "marker {marker} sent; {destination} is held by a process that is not auditd: its store is unknown"
            ),
        )
        .footgun(N)
        .at(&destination)
        .why("only the collector's copy proves the record left the host")
        .fix(format!("search the collector's store for '{marker}'")));
    };
    // Read as the collector sees its files: it may run in a container of its own.
    let conf_dir = collector.option(&["-c"]).unwrap_or("/etc/audit");
    let conf_path = collector.file(&format!("{}/auditd.conf", conf_dir.trim_end_matches('/')));
    let collector_log = AuditdConf::load(&conf_path).map_or_else(
        |_| collector.file(crate::auditd_conf::DEFAULT_LOG_FILE),
        |c| collector.file(&c.log_file().display().to_string()),
    );
    let local_pid = facts.kernel.as_ref().map_or(0, |k| k.pid);
    if let Some(why) = same_store(local_pid, collector.pid, &local_log, &collector_log) {
        return Ok(fail(format!(
            "{destination} is not a separate collector: {why}; the marker found there is the local copy, so \
             nothing shows it was shipped"
        ))
        .at(&destination));
    }
    // The collector's log is known only now, after the marker was sent: it is read from its start (once,
    // then as it grows), which can hold no earlier copy of this run's marker.
    let found = Follower::open(&collector_log, 0).and_then(|mut follower| wait_for(&mut follower, &marker, deadline));
    match found {
        Ok(Some(at)) => Ok(Finding::new(
            "shipping_proven",
            Severity::Info,
            format!("marker {marker} reached the collector (auditd pid {}, {destination}) at {at}", collector.pid),
        )
        .footgun(N)
        .at(at)
        .why("a record written here was read back from the collector's log")
        .fix("nothing to fix")),
        Ok(None) => Ok(fail(format!(
            "marker {marker} is in the local log ({local_at}) but not in the collector's {} after {wait:?}",
            collector_log.display()
        ))
        .at(collector_log.display())),
        Err(e) => Ok(fail(format!(
            "marker {marker} is in the local log ({local_at}); the collector's log cannot be read: {e}"
        ))
        .at(collector_log.display())),
    }
}

/// Whether the "collector" is this host's own auditd, or writes the very file the local auditd writes:
/// then the local copy of the marker would read as proof of delivery.
fn same_store(local_pid: u32, collector_pid: u32, local_log: &Path, collector_log: &Path) -> Option<String> {
    if local_pid != 0 && local_pid == collector_pid {
        return Some(format!("it is this host's own auditd (pid {collector_pid}), shipping to itself"));
    }
    let same = |a: &Path, b: &Path| match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    same(local_log, collector_log).then(|| format!("it writes the local log {}", local_log.display()))
}

fn is_local(host: &str) -> bool {
    if shipping::is_loopback(host) {
        return true;
    }
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    host.eq_ignore_ascii_case(hostname.trim())
}

/// Follows the log until `marker` (the one wait loop, [`barrier::find`]) or `deadline`; `file:line`.
fn wait_for(follower: &mut Follower, marker: &Marker, deadline: Instant) -> Result<Option<String>, AuditLogError> {
    let record = barrier::find(follower, marker, deadline, |_| {})?;
    Ok(record.map(|r| format!("{}:{}", r.location.file.display(), r.location.line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_that_is_the_local_store_is_recognised() {
        let dir = std::env::temp_dir().join(format!("av-same-store-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let local = dir.join("audit.log");
        let other = dir.join("collector.log");
        let link = dir.join("link.log");
        fs::write(&local, "").unwrap();
        fs::write(&other, "").unwrap();
        std::os::unix::fs::symlink(&local, &link).unwrap();

        assert!(same_store(42, 42, &local, &other).is_some_and(|w| w.contains("pid 42")), "the same daemon");
        assert!(same_store(42, 43, &local, &link).is_some_and(|w| w.contains("writes the local log")), "a symlink");
        assert!(same_store(42, 43, &local, &dir.join(".").join("audit.log")).is_some(), "another spelling");
        assert_eq!(same_store(42, 43, &local, &other), None, "a separate collector");
        assert_eq!(same_store(0, 0, &local, &other), None, "pid 0 is no daemon");
        fs::remove_dir_all(&dir).unwrap();
    }
}
