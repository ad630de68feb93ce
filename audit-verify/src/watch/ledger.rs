//! Emitted against written, event by event, for as long as `watch` runs, in bounded memory.
//!
//! Events enter in the order the kernel emitted them (the multicast stream), and a canary (a marker)
//! is a fence in that order. The kernel sends the multicast copy in queue order, but auditd does not
//! always get records in that order: a record whose unicast failed is re-queued (hold and retry
//! queues) and reaches auditd after a later marker. So the barrier alone cannot judge: an event is
//! judged missing only once a later fence has been written AND a grace period has passed since, and
//! an event that arrives within it is simply written. One that arrives after it was judged is logged
//! as late, never counted twice, and never taken back out of a counter (counters do not go down).
//!
//! Memory: one small entry per event not yet judged, in a ring capped at [`CAP`]; an event pushed out
//! unjudged (auditd away for long, a flood) is counted as `unmatched`, not held.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

/// Events held at most while waiting for a fence to be judged.
pub const CAP: usize = 1 << 18;
/// Fences (canaries in flight) held at most: an older one is let go, its events wait for the next.
const FENCES: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Entry {
    serial: u32,
    seq: u64,
    key: u16,
    emitted: u16,
    written: u16,
}

#[derive(Debug, Clone, Copy)]
struct Fence {
    /// Events before this sequence number were emitted before the fence.
    seq: u64,
    written_at: Option<Instant>,
}

/// Per key (index into [`Ledger::keys`]): events emitted and written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCounts {
    pub emitted: u64,
    pub written: u64,
}

#[derive(Debug)]
pub struct Ledger {
    grace: Duration,
    next_seq: u64,
    ring: VecDeque<Entry>,
    /// Serial → sequence number, for every entry in `ring`.
    index: HashMap<u32, u64>,
    fences: VecDeque<Fence>,
    /// Key names; index 0 is `""` (no key).
    keys: Vec<String>,
    counts: Vec<KeyCounts>,
    /// Records judged missing and not yet taken by [`Ledger::take_missing`].
    missing: u64,
    /// Events pushed out of the ring unjudged.
    pub unmatched: u64,
    /// Records written after their event was judged (logged; a sign the grace is too short).
    pub late: u64,
    /// Serials judged missing lately, to tell a late arrival from a stranger (bounded like the ring).
    judged: VecDeque<u32>,
    /// Records read in the log before the listener thread handled their multicast copy (the kernel sends
    /// that copy first, but our two readers race): serial → records, applied when the event is emitted.
    early: HashMap<u32, u16>,
    /// `early`'s serials, oldest first, to forget those never emitted (written before `watch` started,
    /// another node's) once [`EARLY`] are held.
    early_order: VecDeque<u32>,
}

/// Serials held at most as written before emitted.
const EARLY: usize = 1 << 16;

impl Ledger {
    #[must_use]
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            next_seq: 0,
            ring: VecDeque::new(),
            index: HashMap::new(),
            fences: VecDeque::new(),
            keys: vec![String::new()],
            counts: vec![KeyCounts::default()],
            missing: 0,
            unmatched: 0,
            late: 0,
            judged: VecDeque::new(),
            early: HashMap::new(),
            early_order: VecDeque::new(),
        }
    }

    /// A record of event `serial` the kernel emitted (EOE excluded), with the event's key where this
    /// record carries one. An event's key is the one on its first record (the SYSCALL record).
    pub fn emitted(&mut self, serial: u32, key: Option<&str>) {
        if let Some(seq) = self.index.get(&serial) {
            if let Some(entry) = self.entry_mut(*seq) {
                entry.emitted = entry.emitted.saturating_add(1);
            }
            return;
        }
        let key = self.key_id(key.unwrap_or(""));
        self.counts[usize::from(key)].emitted += 1;
        if self.ring.len() == CAP
            && let Some(old) = self.ring.pop_front()
        {
            self.index.remove(&old.serial);
            self.unmatched += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let written = self.early.remove(&serial).unwrap_or(0);
        if written > 0 {
            self.counts[usize::from(key)].written += 1;
        }
        self.ring.push_back(Entry { serial, seq, key, emitted: 1, written });
        self.index.insert(serial, seq);
    }

    /// A record of event `serial` auditd wrote. Serials we never saw emitted (before `watch` started,
    /// another node's) are not ours to count.
    pub fn written(&mut self, serial: u32) {
        let Some(seq) = self.index.get(&serial).copied() else {
            if self.judged.contains(&serial) {
                self.late += 1;
                log::warn!("event {serial} was written after it was judged missing: the grace period is too short");
                return;
            }
            let held = self.early.entry(serial).or_default();
            if *held == 0 {
                self.early_order.push_back(serial);
            }
            *held = held.saturating_add(1);
            if self.early_order.len() > EARLY
                && let Some(old) = self.early_order.pop_front()
            {
                self.early.remove(&old);
            }
            return;
        };
        let Some(entry) = self.entry_mut(seq) else { return };
        let first = entry.written == 0;
        entry.written = entry.written.saturating_add(1);
        let key = usize::from(entry.key);
        if first {
            self.counts[key].written += 1;
        }
    }

    /// A canary was emitted now: everything emitted before it is behind this fence.
    pub fn fence(&mut self) -> u64 {
        if self.fences.len() == FENCES {
            self.fences.pop_front();
        }
        self.fences.push_back(Fence { seq: self.next_seq, written_at: None });
        self.next_seq
    }

    /// The canary of fence `seq` is in the log.
    pub fn fence_written(&mut self, seq: u64, now: Instant) {
        if let Some(f) = self.fences.iter_mut().find(|f| f.seq == seq && f.written_at.is_none()) {
            f.written_at = Some(now);
        }
    }

    /// Judges every event behind a fence written at least the grace period ago: records not written are
    /// missing. Fences are judged in order; a fence not yet written holds back the ones after it.
    pub fn judge(&mut self, now: Instant) {
        while let Some(fence) = self.fences.front().copied() {
            match fence.written_at {
                Some(at) if now.saturating_duration_since(at) >= self.grace => {}
                _ => {
                    // A later fence already written and past its grace covers this one's events too.
                    let later = self.fences.iter().skip(1).find_map(|f| {
                        f.written_at.filter(|at| now.saturating_duration_since(*at) >= self.grace).map(|_| f.seq)
                    });
                    match later {
                        Some(_) => {
                            self.fences.pop_front();
                            continue;
                        }
                        None => return,
                    }
                }
            }
            self.fences.pop_front();
            while let Some(e) = self.ring.pop_front() {
                if e.seq >= fence.seq {
                    self.ring.push_front(e);
                    break;
                }
                self.index.remove(&e.serial);
                let unwritten = u64::from(e.emitted.saturating_sub(e.written));
                if unwritten > 0 {
                    log::debug!("event {} judged: {} of its {} records not written", e.serial, unwritten, e.emitted);
                    self.missing += unwritten;
                    if self.judged.len() == FENCES * 64 {
                        self.judged.pop_front();
                    }
                    self.judged.push_back(e.serial);
                }
            }
        }
    }

    /// Records judged missing since the last call.
    pub fn take_missing(&mut self) -> u64 {
        std::mem::take(&mut self.missing)
    }

    /// Events emitted and written so far, per key name.
    pub fn per_key(&self) -> impl Iterator<Item = (&str, KeyCounts)> {
        self.keys.iter().map(String::as_str).zip(self.counts.iter().copied())
    }

    /// Events waiting to be judged.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.ring.len()
    }

    fn entry_mut(&mut self, seq: u64) -> Option<&mut Entry> {
        let front = self.ring.front()?.seq;
        let i = usize::try_from(seq.checked_sub(front)?).ok()?;
        self.ring.get_mut(i)
    }

    /// Keys are few (rules name them); past `u16::MAX` distinct keys the rest share the last slot.
    fn key_id(&mut self, key: &str) -> u16 {
        let i = self.keys.iter().position(|k| k == key).unwrap_or_else(|| {
            if self.keys.len() < usize::from(u16::MAX) {
                self.keys.push(key.to_owned());
                self.counts.push(KeyCounts::default());
            }
            self.keys.len() - 1
        });
        u16::try_from(i).unwrap_or(u16::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(5);

    #[test]
    fn an_event_is_missing_only_after_a_later_fence_is_written_and_the_grace_passed() {
        let t0 = Instant::now();
        let mut l = Ledger::new(GRACE);
        l.emitted(10, Some("exec"));
        l.emitted(10, None);
        l.emitted(11, None);
        let fence = l.fence();
        l.written(11);
        l.judge(t0);
        assert_eq!(l.take_missing(), 0, "the fence is not written yet");
        l.fence_written(fence, t0);
        l.judge(t0 + GRACE / 2);
        assert_eq!(l.take_missing(), 0, "within the grace period");
        l.judge(t0 + GRACE);
        assert_eq!(l.take_missing(), 2, "both records of event 10");
        assert_eq!(l.pending(), 0);
        let keys: Vec<_> = l.per_key().collect();
        assert_eq!(keys, [("", KeyCounts { emitted: 1, written: 1 }), ("exec", KeyCounts { emitted: 1, written: 0 })]);
    }

    /// The race `measure`'s barrier lost: a record re-queued after a failed unicast reaches auditd after
    /// a later marker. Written within the grace period, it is not lost.
    #[test]
    fn a_record_written_after_the_marker_within_the_grace_is_not_lost() {
        let t0 = Instant::now();
        let mut l = Ledger::new(GRACE);
        l.emitted(20, Some("k"));
        let fence = l.fence();
        l.emitted(21, None); // after the fence: not judged by it
        l.fence_written(fence, t0);
        l.written(20); // the late one, after its marker was written
        l.judge(t0 + GRACE);
        assert_eq!(l.take_missing(), 0);
        assert_eq!(l.late, 0);
        assert_eq!(l.pending(), 1, "event 21 waits for the next fence");
        // Written after it was judged missing: logged as late, not counted again.
        l.emitted(30, None);
        let fence = l.fence();
        l.fence_written(fence, t0 + GRACE);
        l.judge(t0 + 3 * GRACE);
        assert_eq!(l.take_missing(), 2, "events 21 and 30");
        l.written(21);
        assert_eq!((l.late, l.take_missing()), (1, 0));
    }

    /// The log reader can read a record before the listener thread has handled its multicast copy.
    #[test]
    fn a_record_read_in_the_log_before_its_multicast_copy_counts_as_written() {
        let t0 = Instant::now();
        let mut l = Ledger::new(GRACE);
        l.written(40);
        l.written(40);
        l.emitted(40, Some("k"));
        l.emitted(40, None);
        let fence = l.fence();
        l.fence_written(fence, t0);
        l.judge(t0 + GRACE);
        assert_eq!(l.take_missing(), 0);
        assert_eq!(l.per_key().find(|(k, _)| *k == "k").map(|(_, c)| c), Some(KeyCounts { emitted: 1, written: 1 }));
        // Serials never emitted are forgotten once enough are held.
        for serial in 0..u32::try_from(EARLY).unwrap() + 100 {
            l.written(1_000_000 + serial);
        }
        assert_eq!((l.early.len(), l.early_order.len()), (EARLY, EARLY));
    }

    #[test]
    fn an_unwritten_fence_holds_back_the_next_until_that_one_passes_its_grace() {
        let t0 = Instant::now();
        let mut l = Ledger::new(GRACE);
        l.emitted(1, None);
        let _lost_canary = l.fence();
        l.emitted(2, None);
        let second = l.fence();
        l.fence_written(second, t0);
        l.judge(t0 + GRACE);
        assert_eq!(l.take_missing(), 2, "the later written fence covers both events");
    }

    #[test]
    fn memory_is_bounded_and_what_falls_out_is_unmatched() {
        let mut l = Ledger::new(GRACE);
        for serial in 0..u32::try_from(CAP).unwrap() + 10 {
            l.emitted(serial, None);
        }
        l.written(u32::try_from(CAP).unwrap() + 5);
        assert_eq!(l.pending(), CAP);
        assert_eq!(l.unmatched, 10);
        assert_eq!(l.index.len(), CAP);
        for _ in 0..FENCES + 5 {
            l.fence();
        }
        assert_eq!(l.fences.len(), FENCES);
    }
}
