//! Layer 3, what auditd wrote: the records in audit.log from the window's start offset (through
//! rotation), matched by serial against what the kernel emitted.

use std::time::Duration;

use crate::{
    auditlog::{AuditLogError, Follower},
    barrier::{self, Barrier, Marker},
};

use super::emitted::Emitted;

#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Emitted events found on disk.
    pub events: u64,
    /// Their records (auditd writes no EOE).
    pub records: u64,
    /// Emitted events with no record on disk, lowest serials first (capped).
    pub missing_serials: Vec<u32>,
    pub missing_events: u64,
    /// Lines the reader skipped as malformed.
    pub malformed_lines: u64,
    /// Bytes of the emitted events' lines on disk.
    pub bytes: u64,
}

/// Missing serials listed in a report at most.
const MISSING_LISTED: usize = 100;

/// Reads the window's log (through `follower`, opened at the window's start) up to `marker`, matching
/// records against what was emitted.
pub fn collect(
    follower: &mut Follower,
    marker: &Marker,
    timeout: Duration,
    emitted: &Emitted,
) -> Result<(Written, Barrier), AuditLogError> {
    let mut seen = vec![false; emitted.records.len()];
    let base = emitted.base.unwrap_or(0);
    let mut out = Written::default();
    let barrier = barrier::read_until(follower, marker, timeout, |record| {
        // The kernel's serials are u32 (`audit_serial()`); anything larger is not from this kernel.
        let Ok(serial) = u32::try_from(record.id().serial) else { return };
        if !emitted.contains(serial) {
            return; // from before the window, ours, or not from the kernel (auditd's DAEMON_* records)
        }
        out.records += 1;
        out.bytes += record.text().len() as u64 + 1;
        let slot = &mut seen[serial.wrapping_sub(base) as usize];
        if !*slot {
            *slot = true;
            out.events += 1;
        }
    })?;
    out.malformed_lines = follower.warnings().count();
    for serial in emitted.serials() {
        if !seen[serial.wrapping_sub(base) as usize] {
            out.missing_events += 1;
            if out.missing_serials.len() < MISSING_LISTED {
                out.missing_serials.push(serial);
            }
        }
    }
    Ok((out, barrier))
}
