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

/// A unique user message; its text identifies it in the multicast stream and in the log. This type is
/// the one place that knows the text: everything that looks for a marker asks [`Marker::is_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker(String);

impl Marker {
    /// A write barrier's marker.
    #[must_use]
    pub fn new() -> Self {
        Self::for_purpose("barrier")
    }

    /// A marker whose text says what it is for (`audit-verify <purpose> <pid>-<nanos>`), so that an
    /// operator reading the log knows why it is there.
    #[must_use]
    pub fn for_purpose(purpose: &str) -> Self {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self(format!("audit-verify {purpose} {}-{nanos}", std::process::id()))
    }

    #[must_use]
    pub fn text(&self) -> &str {
        &self.0
    }

    /// Whether a record (its text in the log, or its payload on the wire) carries this marker.
    #[must_use]
    pub fn is_in(&self, record: &[u8]) -> bool {
        memchr::memmem::find(record, self.0.as_bytes()).is_some()
    }

    /// Sends the marker as a user message (`AUDIT_USER`), as `auditctl -m` does.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the message or the socket fails.
    pub fn send(&self, socket: &mut AuditSocket) -> Result<(), NetlinkError> {
        socket.send_user_message(&self.0)
    }
}

/// The marker's text, for messages that tell an operator what to search for.
impl std::fmt::Display for Marker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for Marker {
    fn default() -> Self {
        Self::new()
    }
}

/// The one wait loop for a marker in a log: reads `follower` (incrementally, through rotation) until the
/// marker's record, handing every record before it to `on_record`. `None` if `deadline` passed first.
///
/// # Errors
///
/// When the log cannot be read.
pub fn find(
    follower: &mut Follower,
    marker: &Marker,
    deadline: Instant,
    mut on_record: impl FnMut(&Record),
) -> Result<Option<Record>, AuditLogError> {
    loop {
        while let Some(record) = follower.next_record()? {
            if marker.is_in(record.text().as_bytes()) {
                return Ok(Some(record));
            }
            on_record(&record);
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// How often [`find`] looks again at a log with nothing new: a barrier is usually written within
/// milliseconds.
const POLL: Duration = Duration::from_millis(5);

/// Reads `follower` until the marker's record, handing every record before it to `on_record`.
/// A follower opened before the marker was sent (at a window's start, say) keeps its file across a
/// rotation, where reopening the path would read the new file from the old offset.
///
/// # Errors
///
/// When the log cannot be read.
pub fn read_until(
    follower: &mut Follower,
    marker: &Marker,
    timeout: Duration,
    on_record: impl FnMut(&Record),
) -> Result<Barrier, AuditLogError> {
    let start = Instant::now();
    // A huge timeout means "wait a long time", not an overflow.
    let deadline = start.checked_add(timeout).unwrap_or_else(|| start + Duration::from_hours(8760));
    let found = find(follower, marker, deadline, on_record)?;
    let waited_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(match found {
        Some(_) => Barrier::Reached { offset: follower.position(), waited_ms },
        None => Barrier::TimedOut { waited_ms, cause: stall_cause() },
    })
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
///
/// # Errors
///
/// When the log cannot be opened or read, or the marker cannot be sent.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_recognised_by_its_whole_text_only() {
        let marker = Marker::for_purpose("test");
        assert!(marker.text().starts_with(&format!("audit-verify test {}-", std::process::id())));
        let record = format!("audit(1.2:3): pid=1 uid=0 msg='{}'\0", marker.text());
        assert!(marker.is_in(record.as_bytes()));
        let other = Marker::for_purpose("test");
        assert_ne!(marker, other, "two markers differ");
        assert!(!other.is_in(record.as_bytes()), "another marker of the same process");
        let prefix = &marker.text()[..marker.text().len() - 1];
        assert!(!marker.is_in(prefix.as_bytes()), "a truncated copy");
    }

    #[test]
    fn find_reads_up_to_the_marker_and_gives_up_at_the_deadline() {
        let dir = std::env::temp_dir().join(format!("av-barrier-find-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("audit.log");
        let marker = Marker::new();
        let line = |serial: u32, msg: &str| format!("type=USER msg=audit(1.0:{serial}): pid=1 msg='{msg}'\n");
        std::fs::write(&log, line(1, "before") + &line(2, marker.text()) + &line(3, "after")).unwrap();

        let mut follower = Follower::open(&log, 0).unwrap();
        let mut before = Vec::new();
        let found = find(&mut follower, &marker, Instant::now(), |r| before.push(r.id().serial)).unwrap();
        assert_eq!(found.map(|r| (r.id().serial, r.location.line)), Some((2, 2)));
        assert_eq!(before, [1]);

        let start = Instant::now();
        let absent = find(&mut follower, &Marker::new(), start + Duration::from_millis(30), |_| {}).unwrap();
        assert!(absent.is_none());
        assert!(start.elapsed() >= Duration::from_millis(30));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
