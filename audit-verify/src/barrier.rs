//! A write barrier: send a user message (as `auditctl -m` does) and wait until auditd has written it.
//! Records the kernel queued before the message are then on disk too (one queue, one writer, in order),
//! so "no record" after a barrier means no record, not "not written yet" — as long as no unicast to
//! auditd failed. Where one did, the order can break, and [`read_settled`] follows the log on through
//! further markers.
//!
//! Why the order can break (kernel/audit.c, since 5.17: f26d04331360 "audit: improve audit queue handling
//! when "audit=1" on cmdline", also in the stable kernels):
//! - `kauditd_thread` takes a record off `audit_queue`, multicasts it (`kauditd_send_multicast_skb`, the
//!   copy `measure` counts as emitted), then unicasts it to auditd (`kauditd_send_queue`).
//! - When auditd's receive buffer stays full for the socket's send timeout (`sk_sndtimeo = HZ / 10`), the
//!   unicast fails with `-EAGAIN`: `kauditd_retry_skb` puts the record at the tail of `audit_retry_queue`,
//!   and the rest of that pass follows it there (`sk = NULL`), in order.
//! - The next pass tries the retry queue (5 attempts) before the main queue. A record that fails again goes
//!   to `kauditd_hold_skb(skb, -EAGAIN)`, which on a kernel booted with `audit=1` (`audit_default`) puts it
//!   back at the retry queue's *tail*, and the rest of that pass on the hold queue. Then the main queue
//!   goes out, and a marker queued after the record can reach auditd, and the log, before it. (Without
//!   `audit=1` `kauditd_hold_skb` drops the record instead, logging it to the console only and leaving
//!   `lost` unchanged: a real loss, which no further marker will find.)
//! - kauditd sleeps while `audit_queue` is empty (`wait_event_freezable`), so a requeued record waits for
//!   the next record to be queued. Each marker we send is such a record: it wakes kauditd, which tries the
//!   hold and retry queues before the main queue the marker is on.
//!
//! So a marker is proof for everything that was in the main queue before it, but not for what a failed
//! unicast moved aside. [`read_settled`] keeps sending markers while expected records are missing, until
//! [`QUIET_MARKERS`] markers in a row bring none of them with kauditd's main queue empty: kauditd then made
//! that many passes over its hold and retry queues with room at auditd. What is missing then is lost.

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
    #[error("reading the kernel's audit backlog between barrier markers")]
    Backlog(#[source] NetlinkError),
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
    let found = find(follower, marker, deadline_after(start, timeout), on_record)?;
    let waited_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(match found {
        Some(_) => Barrier::Reached { offset: follower.position(), waited_ms },
        None => Barrier::TimedOut { waited_ms, cause: stall_cause() },
    })
}

/// What a reader of the log still waits for after a barrier: the records it expects, as it reads them.
pub trait Awaited {
    /// A record read from the log before the last marker (the markers themselves are not handed over).
    fn record(&mut self, record: &Record);
    /// How many expected items (for `measure`: emitted events) are not in the log yet.
    fn outstanding(&self) -> u64;
}

/// The kernel side of a barrier: where markers are sent, and how long kauditd's main queue is. The audit
/// socket in use; a unit test's stand-in writes the log itself.
pub trait Kauditd {
    /// Sends `marker` as a user message.
    ///
    /// # Errors
    ///
    /// When the kernel refuses it.
    fn send(&mut self, marker: &Marker) -> Result<(), NetlinkError>;
    /// Records in kauditd's main queue (`audit_queue`; the retry and hold queues are not counted).
    ///
    /// # Errors
    ///
    /// When the status cannot be read.
    fn backlog(&mut self) -> Result<u32, NetlinkError>;
}

impl Kauditd for AuditSocket {
    fn send(&mut self, marker: &Marker) -> Result<(), NetlinkError> {
        marker.send(self)
    }

    fn backlog(&mut self) -> Result<u32, NetlinkError> {
        Ok(self.status()?.backlog)
    }
}

/// A barrier followed until the log settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The first marker's outcome; when reached, `offset` is where the last marker's line ends.
    pub barrier: Barrier,
    /// Markers sent after the first because expected records were still missing.
    pub extra_markers: u32,
    /// What was outstanding when the first marker was read: of it, whatever is no longer outstanding
    /// reached the log after that marker.
    pub outstanding_at_first: u64,
}

/// Markers in a row that must bring no expected record, with kauditd's main queue empty, before what is
/// still missing counts as lost (the module's documentation says why).
pub const QUIET_MARKERS: u32 = 2;

/// Reads `follower` up to `first` (already sent), handing every record to `awaited`; then, while
/// `awaited` still misses records, sends further markers through `kauditd` and reads up to each, until
/// nothing is missing, or [`QUIET_MARKERS`] markers in a row brought nothing with the kernel's backlog
/// empty, or `timeout` (counted from the call, for all markers together) ran out. A record that arrives
/// late is handed over like any other: written, not lost.
///
/// # Errors
///
/// When the log cannot be read, or a marker cannot be sent or the kernel's status read.
pub fn read_settled(
    follower: &mut Follower,
    kauditd: &mut impl Kauditd,
    first: &Marker,
    timeout: Duration,
    awaited: &mut impl Awaited,
) -> Result<Settled, BarrierError> {
    let start = Instant::now();
    let deadline = deadline_after(start, timeout);
    let waited_ms = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    if find(follower, first, deadline, |r| awaited.record(r))?.is_none() {
        let barrier = Barrier::TimedOut { waited_ms: waited_ms(), cause: stall_cause() };
        return Ok(Settled { barrier, extra_markers: 0, outstanding_at_first: awaited.outstanding() });
    }
    let outstanding_at_first = awaited.outstanding();
    let (mut extra_markers, mut quiet) = (0, 0);
    while awaited.outstanding() > 0 && Instant::now() < deadline {
        let before = awaited.outstanding();
        let marker = Marker::new();
        kauditd.send(&marker)?;
        extra_markers += 1;
        if find(follower, &marker, deadline, |r| awaited.record(r))?.is_none() {
            break; // the first marker was written: this one is only late, and the time is up
        }
        quiet = if awaited.outstanding() < before { 0 } else { quiet + 1 };
        // A stop request (SIGINT) does not wait for a busy kernel's backlog: the run ends within a second.
        if quiet >= QUIET_MARKERS
            && (crate::stop::requested().is_some() || kauditd.backlog().map_err(BarrierError::Backlog)? == 0)
        {
            break;
        }
    }
    let barrier = Barrier::Reached { offset: follower.position(), waited_ms: waited_ms() };
    Ok(Settled { barrier, extra_markers, outstanding_at_first })
}

/// `timeout` after `start`; a huge timeout means "wait a long time", not an overflow.
fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    start.checked_add(timeout).unwrap_or_else(|| start + Duration::from_hours(8760))
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

    /// auditd as the settle loop sees it: each marker sent is written to the log after whatever records
    /// the next round brings (kauditd's requeued records), with the backlog it reports.
    struct Auditd {
        log: std::path::PathBuf,
        /// Per marker sent, the serials written just before it.
        rounds: Vec<Vec<u32>>,
        backlog: u32,
        sent: usize,
    }

    impl Kauditd for Auditd {
        fn send(&mut self, marker: &Marker) -> Result<(), NetlinkError> {
            use std::io::Write as _;
            let late = self.rounds.get(self.sent).cloned().unwrap_or_default();
            self.sent += 1;
            let mut text: String = late.iter().map(|s| line(*s, "late")).collect();
            text += &line(9000 + u32::try_from(self.sent).unwrap(), marker.text());
            let mut log = std::fs::OpenOptions::new().append(true).open(&self.log).unwrap();
            log.write_all(text.as_bytes()).unwrap();
            Ok(())
        }

        fn backlog(&mut self) -> Result<u32, NetlinkError> {
            Ok(self.backlog)
        }
    }

    /// Expects serials; counts the ones read.
    struct Expect(std::collections::BTreeSet<u32>);

    impl Awaited for Expect {
        fn record(&mut self, record: &Record) {
            self.0.remove(&u32::try_from(record.id().serial).unwrap());
        }

        fn outstanding(&self) -> u64 {
            self.0.len() as u64
        }
    }

    fn line(serial: u32, msg: &str) -> String {
        format!("type=USER msg=audit(1.0:{serial}): pid=1 msg='{msg}'\n")
    }

    /// A log holding serials 1 and 2 and the first marker, and what the settle loop made of it, with
    /// serials 1 to 4 expected and `rounds` bringing the rest late.
    fn settle(name: &str, rounds: Vec<Vec<u32>>, backlog: u32, timeout: Duration) -> (Settled, Expect, usize) {
        let dir = std::env::temp_dir().join(format!("av-barrier-settle-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("audit.log");
        let first = Marker::new();
        std::fs::write(&log, line(1, "a") + &line(2, "b") + &line(3000, first.text())).unwrap();
        let mut auditd = Auditd { log: log.clone(), rounds, backlog, sent: 0 };
        let mut expect = Expect((1..=4).collect());
        let mut follower = Follower::open(&log, 0).unwrap();
        let settled = read_settled(&mut follower, &mut auditd, &first, timeout, &mut expect).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (settled, expect, auditd.sent)
    }

    #[test]
    fn records_written_after_the_marker_are_found_by_the_next_markers() {
        // Serial 3 comes with the second marker, serial 4 with the third (after a quiet round).
        let (settled, expect, sent) = settle("late", vec![vec![3], vec![], vec![4]], 0, Duration::from_secs(5));
        assert!(matches!(settled.barrier, Barrier::Reached { .. }), "{settled:?}");
        assert_eq!(expect.outstanding(), 0, "nothing is lost");
        assert_eq!((settled.outstanding_at_first, settled.extra_markers, sent), (2, 3, 3));
    }

    #[test]
    fn what_quiet_markers_do_not_bring_is_lost() {
        let (settled, expect, _) = settle("lost", vec![vec![3]], 0, Duration::from_secs(5));
        assert_eq!(expect.0.into_iter().collect::<Vec<_>>(), [4], "serial 4 never came");
        // One marker brought serial 3, then QUIET_MARKERS brought nothing.
        assert_eq!(settled.extra_markers, 1 + QUIET_MARKERS);
    }

    #[test]
    fn a_busy_kernel_is_followed_until_the_timeout_and_no_longer() {
        let timeout = Duration::from_millis(300);
        let start = Instant::now();
        let (settled, expect, _) = settle("busy", Vec::new(), 40, timeout);
        let took = start.elapsed();
        assert_eq!(expect.outstanding(), 2);
        assert!(settled.extra_markers > QUIET_MARKERS, "a non-empty backlog keeps the loop going: {settled:?}");
        assert!(took >= timeout && took < timeout + Duration::from_millis(200), "{took:?}");
        assert!(matches!(settled.barrier, Barrier::Reached { .. }), "the first marker was written");
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
