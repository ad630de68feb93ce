//! Layer 3, what auditd wrote: the records in audit.log from the window's start offset (through
//! rotation), matched by serial against what the kernel emitted, up to the window's barrier and on through
//! further markers while emitted events are still missing ([`barrier::read_settled`] says why).

use std::time::Duration;

use crate::{
    auditlog::{Follower, Record},
    barrier::{self, Awaited, Barrier, BarrierError, Kauditd, Marker},
};

use super::emitted::Emitted;

#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Emitted events found on disk.
    pub events: u64,
    /// Their records (auditd writes no EOE), at most as many per event as were emitted.
    pub records: u64,
    /// Emitted events with no record on disk, lowest serials first (capped).
    pub missing_serials: Vec<u32>,
    pub missing_events: u64,
    /// Emitted events that reached the log only after the window's first marker (written, not lost).
    pub late_events: u64,
    /// Markers sent after the first while emitted events were missing.
    pub extra_markers: u32,
    /// Lines the reader skipped as malformed.
    pub malformed_lines: u64,
    /// Bytes of the emitted events' lines on disk.
    pub bytes: u64,
}

/// Missing serials listed in a report at most.
const MISSING_LISTED: usize = 100;

/// Matches log records against what was emitted, as the barrier hands them over.
struct Matcher<'a> {
    emitted: &'a Emitted,
    /// `emitted.events()`, counted once.
    emitted_events: u64,
    /// Per serial (as `emitted.records`), records found on disk so far.
    found: Vec<u8>,
    out: Written,
}

impl Awaited for Matcher<'_> {
    fn record(&mut self, record: &Record) {
        // The kernel's serials are u32 (`audit_serial()`); anything larger is not from this kernel.
        let Ok(serial) = u32::try_from(record.id().serial) else { return };
        // Not emitted in the window: from before it, ours, or not from the kernel (auditd's DAEMON_*).
        let Some(i) = self.emitted.index_of_emitted(serial) else { return };
        let found = &mut self.found[i];
        if *found == 0 {
            self.out.events += 1;
        }
        // An event that began before we subscribed has records on disk that we never counted as emitted:
        // they must not make up for records of the window that are missing.
        if *found < self.emitted.records[i] {
            *found += 1;
            self.out.records += 1;
            self.out.bytes += record.text().len() as u64 + 1;
        }
    }

    fn outstanding(&self) -> u64 {
        self.emitted_events - self.out.events
    }
}

/// Reads the window's log (through `follower`, opened at the window's start) up to `marker` and as much
/// further as [`barrier::read_settled`] goes, matching records against what was emitted.
pub fn collect(
    follower: &mut Follower,
    kauditd: &mut impl Kauditd,
    marker: &Marker,
    timeout: Duration,
    emitted: &Emitted,
) -> Result<(Written, Barrier), BarrierError> {
    let found = vec![0; emitted.records.len()];
    let mut matcher = Matcher { emitted, emitted_events: emitted.events(), found, out: Written::default() };
    let settled = barrier::read_settled(follower, kauditd, marker, timeout, &mut matcher)?;
    // What was outstanding at the first marker and is no longer reached the log after it.
    let late_events = settled.outstanding_at_first - matcher.outstanding();
    let Matcher { found, mut out, .. } = matcher;
    out.late_events = late_events;
    out.extra_markers = settled.extra_markers;
    out.malformed_lines = follower.warnings().count();
    for serial in emitted.serials() {
        if emitted.index_of_emitted(serial).is_some_and(|i| found[i] == 0) {
            out.missing_events += 1;
            if out.missing_serials.len() < MISSING_LISTED {
                out.missing_serials.push(serial);
            }
        }
    }
    Ok((out, settled.barrier))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::netlink::NetlinkError;

    /// auditd writing each marker at once, with nothing else late.
    struct Prompt(std::path::PathBuf);

    impl Kauditd for Prompt {
        fn send(&mut self, marker: &Marker) -> Result<(), NetlinkError> {
            let mut log = std::fs::OpenOptions::new().append(true).open(&self.0).unwrap();
            log.write_all(line(99, marker.text()).as_bytes()).unwrap();
            Ok(())
        }

        fn backlog(&mut self) -> Result<u32, NetlinkError> {
            Ok(0)
        }
    }

    fn line(serial: u32, msg: &str) -> String {
        format!("type=USER msg=audit(1.0:{serial}): pid=1 msg='{msg}'\n")
    }

    #[test]
    fn records_are_matched_per_event_and_the_missing_listed() {
        let dir = std::env::temp_dir().join(format!("av-written-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("audit.log");
        let marker = Marker::new();
        // Serial 10: two records emitted, three on disk (one queued before the window); 11: not emitted
        // (ours); 12: emitted, never written.
        let text = line(10, "before the window") + &line(10, "a") + &line(10, "b") + &line(11, "ours");
        std::fs::write(&log, text + &line(98, marker.text())).unwrap();
        let emitted = Emitted::with_records(10, vec![2, 0, 1]);
        let mut follower = Follower::open(&log, 0).unwrap();
        let mut auditd = Prompt(log.clone());
        let (written, barrier) =
            collect(&mut follower, &mut auditd, &marker, Duration::from_secs(5), &emitted).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(barrier, Barrier::Reached { .. }));
        assert_eq!((written.events, written.records), (1, 2), "a third record does not make up for a missing one");
        assert_eq!((written.missing_events, written.missing_serials.as_slice()), (1, &[12][..]));
        assert_eq!((written.late_events, written.extra_markers), (0, barrier::QUIET_MARKERS));
    }
}
