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
    auditlog::{AuditLogError, Follower},
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
    /// auditd did not write the marker in time: it is stalled, gone, or cannot write.
    TimedOut { waited_ms: u64 },
}

/// Sends a unique marker and follows `log` from `from_offset` until the marker appears or `timeout`.
pub fn wait_written(
    socket: &mut AuditSocket,
    log: &Path,
    from_offset: u64,
    timeout: Duration,
) -> Result<Barrier, BarrierError> {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let marker = format!("audit-verify barrier {}-{nanos}", std::process::id());
    let mut follower = Follower::open(log, from_offset)?;
    socket.send_user_message(&marker)?;
    let start = Instant::now();
    loop {
        while let Some(record) = follower.next_record()? {
            if record.text().contains(&marker) {
                return Ok(Barrier::Reached {
                    offset: follower.position(),
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
        }
        if start.elapsed() >= timeout {
            return Ok(Barrier::TimedOut { waited_ms: start.elapsed().as_millis() as u64 });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
