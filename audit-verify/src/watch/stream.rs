//! What `watch` takes from the two streams: the kernel's multicast copy (the listener's [`Consumer`],
//! on its thread) and auditd's log (read on the runtime's thread). Both feed one [`Pipeline`] behind a
//! mutex: the ledger of events, the canaries in flight and the `lost` resets heard.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime},
};

use super::ledger::Ledger;
use crate::{
    auditlog::Record,
    barrier::Marker,
    measure::emitted::{AUDIT_EOE, Own, field, serial_of},
    netlink::{listener::Consumer, msg_type::AUDIT_CONFIG_CHANGE},
};

/// What a canary's text starts with: a quick test before the exact one.
pub const CANARY_PURPOSE: &str = "canary";

/// One canary in flight.
#[derive(Debug)]
struct Canary {
    marker: Marker,
    sent: Instant,
    /// The ledger's fence, once the kernel emitted the canary.
    fence: Option<u64>,
    /// When it was read in the log (possibly before the listener thread handled its multicast copy).
    written: Option<Instant>,
    failed: bool,
}

/// A canary that went through, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryResult {
    pub at: SystemTime,
    pub latency: Duration,
}

#[derive(Debug)]
pub struct Pipeline {
    pub ledger: Ledger,
    /// `old=` of each `lost` reset record heard, not yet taken.
    pub resets: Vec<u32>,
    canaries: VecDeque<Canary>,
    /// Serials of our own events (recent), whose later records are ours too.
    ours: HashSet<u32>,
    own: Own,
}

/// Canaries in flight at most (one per canary interval; older ones have failed long since).
const CANARIES: usize = 64;

impl Pipeline {
    /// `own_programs`: our BPF programs' IDs, whose load and unload records are ours.
    #[must_use]
    pub fn new(grace: Duration, own_programs: Vec<u32>) -> Self {
        let own = Own::new(own_programs);
        Self { ledger: Ledger::new(grace), resets: Vec::new(), canaries: VecDeque::new(), ours: HashSet::new(), own }
    }

    #[must_use]
    pub fn shared(self) -> Shared {
        Arc::new(Mutex::new(self))
    }

    /// A canary about to be sent: registered first, so that its multicast copy cannot come unrecognised.
    pub fn canary_sent(&mut self, marker: Marker, now: Instant) {
        if self.canaries.len() == CANARIES {
            self.canaries.pop_front();
        }
        self.canaries.push_back(Canary { marker, sent: now, fence: None, written: None, failed: false });
    }

    /// Canaries sent more than `timeout` ago and still not in the log: each is a failure, counted once.
    pub fn canaries_failed(&mut self, now: Instant, timeout: Duration) -> u64 {
        let mut failed = 0;
        for c in self.canaries.iter_mut().filter(|c| c.written.is_none() && !c.failed) {
            if now.saturating_duration_since(c.sent) >= timeout {
                c.failed = true;
                failed += 1;
                log::warn!("canary \"{}\" not in the log after {timeout:?}", c.marker);
            }
        }
        failed
    }

    /// One record auditd wrote; a canary's result when it is one.
    pub fn written(&mut self, record: &Record, now: Instant, wall: SystemTime) -> Option<CanaryResult> {
        let text = record.text();
        if text.contains(CANARY_PURPOSE)
            && let Some(i) = self.canaries.iter().position(|c| c.marker.is_in(text.as_bytes()))
        {
            let mut c = self.canaries.remove(i)?;
            c.written = Some(now);
            if let Some(seq) = c.fence {
                self.ledger.fence_written(seq, now);
            } else {
                // Its multicast copy is still on its way to the listener thread: the fence is set there.
                self.canaries.insert(i, Canary { failed: true, ..c });
            }
            return Some(CanaryResult { at: wall, latency: now.saturating_duration_since(c.sent) });
        }
        if let Ok(serial) = u32::try_from(record.id().serial) {
            self.ledger.written(serial);
        }
        None
    }

    fn emitted(&mut self, ty: u16, text: &str) {
        if ty == AUDIT_CONFIG_CHANGE
            && matches!(field(text, "lost"), Some("0"))
            && let Some(old) = field(text, "old").and_then(|o| o.parse().ok())
        {
            self.resets.push(old);
        }
        // auditd leaving: what follows has no auditd to go to. auditd arriving: its own registration
        // event (this CONFIG_CHANGE, and the SYSCALL of the AUDIT_SET that caused it) still counts with
        // what no auditd received. Measured here with auditd 3.0.9, its CONFIG_CHANGE is missing from the
        // log in about half of all restarts (the rest of that event is written): the record races the
        // ACK that auditd is waiting for while it registers, and auditd never writes it.
        let audit_pid = if ty == AUDIT_CONFIG_CHANGE { field(text, "audit_pid") } else { None };
        if audit_pid == Some("0") {
            self.ledger.registered = false;
        }
        self.record(ty, text);
        if audit_pid.is_some_and(|pid| pid != "0") {
            self.ledger.registered = true;
        }
    }

    /// One emitted record into the ledger, unless it is ours (a canary, our BPF programs) or an EOE.
    fn record(&mut self, ty: u16, text: &str) {
        let Some(serial) = serial_of(text) else { return };
        if self.own.is_ours(ty, text) {
            if let Some(i) = self.canaries.iter().position(|c| c.fence.is_none() && c.marker.is_in(text.as_bytes())) {
                let seq = self.ledger.fence();
                let c = &mut self.canaries[i];
                c.fence = Some(seq);
                if let Some(at) = c.written {
                    self.ledger.fence_written(seq, at);
                    self.canaries.remove(i);
                }
            }
            self.ours.insert(serial);
            if self.ours.len() > 4096 {
                // Events complete within milliseconds; keep the newest.
                let newest = self.ours.iter().copied().max().unwrap_or(0);
                self.ours.retain(|s| newest.wrapping_sub(*s) < 2048);
            }
            return;
        }
        if ty == AUDIT_EOE || self.ours.contains(&serial) {
            return;
        }
        self.ledger.emitted(serial, field(text, "key").filter(|k| *k != "(null)"));
    }
}

/// The pipeline, shared by the listener thread and the runtime.
pub type Shared = Arc<Mutex<Pipeline>>;

/// Locks the pipeline; a panic elsewhere while holding it leaves counts that are still counts.
pub fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Pipeline> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The listener's consumer: every message into the shared pipeline.
pub struct Emitted(pub Shared);

impl Consumer for Emitted {
    fn message(&mut self, ty: u16, payload: &[u8]) {
        // Kernel records are ASCII (untrusted values are hex-encoded); a record that is not is skipped.
        let Ok(text) = std::str::from_utf8(payload.strip_suffix(&[0]).unwrap_or(payload)) else { return };
        lock(&self.0).emitted(ty, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auditlog::{Location, Record};

    fn record(line: &str) -> Record {
        Record::parse(line.as_bytes(), Location { file: std::path::Path::new("audit.log").into(), line: 1, offset: 0 })
            .unwrap()
    }

    #[test]
    fn a_canary_fences_what_came_before_and_resets_and_own_events_are_told_apart() {
        let mut p = Pipeline::new(Duration::ZERO, Vec::new());
        let me = std::process::id();
        let t0 = Instant::now();
        p.emitted(1300, "audit(1.0:5): syscall=59 pid=7 key=\"exec\"");
        p.emitted(1302, "audit(1.0:5): item=0 name=\"/bin/true\"");
        p.emitted(1320, "audit(1.0:5): ");
        p.emitted(1305, "audit(1.0:6): op=set lost=0 old=42 auid=0 ses=1 res=1");
        let marker = Marker::for_purpose(CANARY_PURPOSE);
        p.canary_sent(marker.clone(), t0);
        p.emitted(1005, &format!("audit(1.0:7): pid={me} uid=0 msg='{marker}'"));
        assert_eq!(p.resets, [42]);
        // The log: event 5's first record only, then the canary.
        assert_eq!(
            p.written(&record("type=SYSCALL msg=audit(1.0:5): syscall=59 pid=7 key=\"exec\""), t0, SystemTime::now()),
            None
        );
        let canary = p.written(
            &record(&format!("type=USER msg=audit(1.0:7): pid={me} uid=0 msg='{marker}'")),
            t0,
            SystemTime::now(),
        );
        assert!(canary.is_some());
        p.ledger.judge(t0);
        assert_eq!(p.ledger.take_missing(), 2, "the PATH record of event 5 never came, nor CONFIG_CHANGE 6");
        let keys: Vec<_> = p.ledger.per_key().map(|(k, c)| (k.to_owned(), c.emitted, c.written)).collect();
        assert_eq!(keys, [(String::new(), 1, 0), ("exec".to_owned(), 1, 1)], "our canary is not counted");
        assert_eq!(p.canaries.len(), 0);
        // auditd leaving and a new one registering, as the kernel records them.
        p.emitted(1305, "audit(1.0:8): op=set audit_pid=0 old=2119 auid=0 ses=1 res=1");
        assert!(!p.ledger.registered);
        p.emitted(1305, "audit(1.0:9): op=set audit_pid=3001 old=0 auid=-1 ses=-1 res=1");
        assert!(p.ledger.registered);
        // The registration event's records, written but for its CONFIG_CHANGE, are not auditd's loss.
        p.emitted(1300, "audit(1.0:9): arch=c000003e syscall=44 success=yes exit=60 pid=3001");
        p.emitted(1300, "audit(1.0:10): arch=c000003e syscall=59 success=yes exit=0 pid=3002");
        for line in [
            "type=SYSCALL msg=audit(1.0:9): arch=c000003e syscall=44 success=yes exit=60 pid=3001",
            "type=SYSCALL msg=audit(1.0:10): arch=c000003e syscall=59 success=yes exit=0 pid=3002",
        ] {
            assert_eq!(p.written(&record(line), t0, SystemTime::now()), None);
        }
        let marker = Marker::for_purpose(CANARY_PURPOSE);
        p.canary_sent(marker.clone(), t0);
        p.emitted(1005, &format!("audit(1.0:11): pid={me} uid=0 msg='{marker}'"));
        let line = format!("type=USER msg=audit(1.0:11): pid={me} uid=0 msg='{marker}'");
        assert!(p.written(&record(&line), t0, SystemTime::now()).is_some());
        p.ledger.judge(t0);
        assert_eq!(
            (p.ledger.take_missing(), p.ledger.take_orphans()),
            (0, 2),
            "event 8 (auditd leaving) and event 9's CONFIG_CHANGE (the new auditd registering) had no auditd to \
             write them; event 10 is the new auditd's and written"
        );
    }
}
