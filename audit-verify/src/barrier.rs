//! A write barrier: send a user message (as `auditctl -m` does) and wait until auditd has written it.
//! Records the kernel queued before the message are then on disk too (one queue, one writer, in order),
//! so "no record" after a barrier means no record, not "not written yet".

use std::{
    path::Path,
    time::{Duration, Instant, SystemTime},
};

use serde::Serialize;
use thiserror::Error;

use crate::{
    auditlog::{AuditLogError, Follower, Record},
    host_status::process_alive,
    netlink::{AuditSocket, NetlinkError},
};

#[derive(Debug, Error)]
pub enum BarrierError {
    #[error("sending the barrier message")]
    Send(#[from] NetlinkError),
    #[error("reading the audit log for the barrier")]
    Log(#[from] AuditLogError),
}

/// How the barrier ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Barrier {
    /// The marker is on disk; the log was read up to `offset` (the end of the marker's line).
    Reached { offset: u64, waited_ms: u64 },
    /// auditd did not write the marker in time; `cause` says whether it is gone or stalled.
    TimedOut { waited_ms: u64, cause: String },
}

/// A unique user message; its text identifies it in the multicast stream and in the log.
#[derive(Debug, Clone)]
pub struct Marker(String);

impl Marker {
    pub fn new() -> Self {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self(format!("audit-verify barrier {}-{nanos}", std::process::id()))
    }

    pub fn text(&self) -> &str {
        &self.0
    }

    pub fn send(&self, socket: &mut AuditSocket) -> Result<(), NetlinkError> {
        socket.send_user_message(&self.0)
    }
}

impl Default for Marker {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads `follower` until the marker's record, handing every record before it to `on_record`.
/// A follower opened before the marker was sent (at a window's start, say) keeps its file across a
/// rotation, where reopening the path would read the new file from the old offset.
pub fn read_until(
    follower: &mut Follower,
    marker: &Marker,
    timeout: Duration,
    mut on_record: impl FnMut(&Record),
) -> Result<Barrier, AuditLogError> {
    let start = Instant::now();
    loop {
        while let Some(record) = follower.next_record()? {
            if record.text().contains(marker.text()) {
                return Ok(Barrier::Reached {
                    offset: follower.position(),
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
            on_record(&record);
        }
        if start.elapsed() >= timeout {
            return Ok(Barrier::TimedOut { waited_ms: start.elapsed().as_millis() as u64, cause: stall_cause() });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Why auditd wrote nothing, as far as the kernel's status tells.
fn stall_cause() -> String {
    match AuditSocket::open().and_then(|mut socket| socket.status()) {
        Ok(s) if s.pid == 0 => "no audit daemon is registered with the kernel".into(),
        Ok(s) if !process_alive(s.pid) => format!("the registered auditd (pid {}) no longer exists", s.pid),
        Ok(s) => format!("auditd (pid {}) is stalled or not writing", s.pid),
        Err(e) => format!("auditd is stalled or not writing (the kernel's audit status is unreadable: {e})"),
    }
}

/// Sends a marker and follows `log` from `from_offset` until the marker appears or `timeout`.
pub fn wait_written(
    socket: &mut AuditSocket,
    log: &Path,
    from_offset: u64,
    timeout: Duration,
) -> Result<Barrier, BarrierError> {
    let mut follower = Follower::open(log, from_offset)?;
    let marker = Marker::new();
    marker.send(socket)?;
    Ok(read_until(&mut follower, &marker, timeout, |_| {})?)
}
