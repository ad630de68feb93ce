//! Groups records into events by (node, timestamp, serial), in a bounded window.
//!
//! The kernel ends a syscall's records with EOE, but auditd does not write EOE to audit.log for every
//! event, and records of different events interleave. So an event also completes when it is clearly over,
//! judged per node (each node has its own clock and its own serials): [`Window::events`] newer events of
//! its node have begun since it did, or a record of its node arrives whose time is at least
//! [`Window::secs`] whole seconds later. That is the test auparse and ausearch make (`eoe_timeout`, 2 s,
//! in whole seconds, against the record just read), except that theirs compares any node's clock with
//! any other's. An older record closes nothing, so records written out of order still join their events.
//!
//! Memory stays flat whatever the input: per node the open set never exceeds `events + 1`, and an event
//! keeps at most [`MAX_RECORDS_PER_EVENT`] records; the rest are counted in [`Event::dropped`].

use std::collections::VecDeque;

use super::{line::EventId, record::Record, record_type::RecordType};

/// Records kept per event. The largest real events are an execve with a long argument list (one EXECVE
/// record per ~7.5 KB of arguments: about 300 for the 2 MB a default 8 MB stack allows) and syscalls with
/// many PATH items; 2048 leaves room for those while a log of one repeated event id costs at most ~20 MB.
pub const MAX_RECORDS_PER_EVENT: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub events: u64,
    pub secs: u64,
}

impl Default for Window {
    fn default() -> Self {
        Self { events: 64, secs: 2 }
    }
}

/// What completed an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Its EOE record arrived.
    Eoe,
    /// A record auditd writes about itself (DAEMON_*): an event by itself.
    Standalone,
    /// Enough newer events, or enough time, went by.
    Window,
    /// The input ended, or the caller flushed.
    Flush,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    /// In the order they were read, at most [`MAX_RECORDS_PER_EVENT`]. Never empty.
    pub records: Vec<Record>,
    /// Records of this event beyond [`MAX_RECORDS_PER_EVENT`], counted and not kept.
    pub dropped: u64,
    pub completion: Completion,
}

impl Event {
    #[must_use]
    pub fn node(&self) -> Option<&str> {
        self.records[0].node()
    }
}

/// Records auditd writes about itself (1200–1299, DAEMON_*): a whole event by themselves, so they need not
/// wait for the window, and numbered by auditd, not by the kernel. Not user-space messages (1100–1199, 2100–2999): the kernel stamps one
/// with the serial of the syscall that sent it when that syscall is audited, and the SYSCALL record
/// follows under the same serial (`SERVICE_START` from systemd's sendto, for one), so they wait like kernel
/// records.
pub(super) fn is_auditd_record(kind: &RecordType) -> bool {
    matches!(kind.code, Some(1200..=1299))
}

#[derive(Debug)]
struct Open {
    /// Index into [`EventAssembler::nodes`].
    node: usize,
    /// The event's timestamp and serial, beside `node` so matching a record compares integers only.
    id: EventId,
    /// Sequence number of the event among its node's, counted as events begin.
    seq: u64,
    records: Vec<Record>,
    dropped: u64,
}

/// What the count window is measured against, per node.
#[derive(Debug)]
struct NodeClock {
    node: Option<Box<str>>,
    /// Events of this node begun so far.
    next_seq: u64,
    /// At most the `seq` and the `secs` of every open event of this node (`u64::MAX` when there were
    /// none): while neither is old enough, no event of the node can be due, and `expire` need not look.
    /// They stay lower bounds when events complete, and a scan makes them exact again.
    min_seq: u64,
    min_secs: u64,
    /// At least the serial of every open event of this node (`None` when there were none): a record with
    /// a higher serial, the first of a new event as a rule, begins one without a search of the open set.
    max_serial: Option<u64>,
}

#[derive(Debug, Default)]
pub struct EventAssembler {
    window: Window,
    /// Oldest first.
    open: VecDeque<Open>,
    ready: VecDeque<Event>,
    nodes: Vec<NodeClock>,
}

impl EventAssembler {
    #[must_use]
    pub fn new(window: Window) -> Self {
        Self { window, ..Self::default() }
    }

    pub fn push(&mut self, record: Record) {
        let node = self.node_index(record.node());
        let id = record.id();
        let now = id.secs;
        let may_be_open = self.nodes[node].max_serial.is_some_and(|max| id.serial <= max);
        // Records of one event are nearly always adjacent: search from the newest.
        let found = if may_be_open { self.open.iter().rposition(|o| o.id == id && o.node == node) } else { None };
        if let Some(i) = found {
            let eoe = record.kind().is_eoe();
            let open = &mut self.open[i];
            if open.records.len() < MAX_RECORDS_PER_EVENT {
                open.records.push(record);
            } else {
                open.dropped += 1;
            }
            if eoe {
                self.complete(i, Completion::Eoe);
            }
        } else {
            let clock = &mut self.nodes[node];
            let seq = clock.next_seq;
            clock.next_seq += 1;
            let completion = if record.kind().is_eoe() {
                Some(Completion::Eoe)
            } else if is_auditd_record(record.kind()) {
                Some(Completion::Standalone)
            } else {
                None
            };
            if let Some(completion) = completion {
                self.ready.push_back(Event { id: record.id(), records: vec![record], dropped: 0, completion });
            } else {
                clock.min_seq = clock.min_seq.min(seq);
                clock.min_secs = clock.min_secs.min(now);
                clock.max_serial = Some(clock.max_serial.map_or(id.serial, |max| max.max(id.serial)));
                // Most events that wait have a few records: room for them at once spares the
                // reallocations of growing one by one.
                let mut records = Vec::with_capacity(4);
                records.push(record);
                self.open.push_back(Open { node, id, seq, records, dropped: 0 });
            }
        }
        self.expire(node, now);
    }

    fn node_index(&mut self, node: Option<&str>) -> usize {
        if let Some(i) = self.nodes.iter().position(|n| n.node.as_deref() == node) {
            return i;
        }
        self.nodes.push(NodeClock {
            node: node.map(Box::from),
            next_seq: 0,
            min_seq: u64::MAX,
            min_secs: u64::MAX,
            max_serial: None,
        });
        self.nodes.len() - 1
    }

    /// Completes the events of `node` that are more than `window.events` behind its newest, or at least
    /// `window.secs` older than `now`, the time of the record just read from it.
    fn expire(&mut self, node: usize, now: u64) {
        let Window { events, secs } = self.window;
        let clock = &self.nodes[node];
        let next_seq = clock.next_seq;
        let due_by_count = |seq: u64| next_seq.saturating_sub(1).saturating_sub(seq) > events;
        let due_by_time = |first_secs: u64| first_secs.saturating_add(secs) <= now;
        // This runs for every record: it looks at the open events only when one may be due.
        if due_by_time(clock.min_secs) {
            self.expire_scan(node, |o| due_by_count(o.seq) || due_by_time(o.id.secs));
        } else if due_by_count(clock.min_seq) {
            // None is due by time, and the node's open events stand in the order they began: those due by
            // count come first.
            let mut i = 0;
            while let Some(o) = self.open.get(i) {
                if o.node != node {
                    i += 1;
                } else if due_by_count(o.seq) {
                    self.complete(i, Completion::Window);
                } else {
                    break;
                }
            }
            self.nodes[node].min_seq = self.open.get(i).map_or(u64::MAX, |o| o.seq);
        }
    }

    /// Completes, in order, the open events of `node` that are `due`, and makes the node's bounds exact.
    fn expire_scan(&mut self, node: usize, due: impl Fn(&Open) -> bool) {
        let (mut min_seq, mut min_secs, mut max_serial) = (u64::MAX, u64::MAX, None);
        let mut i = 0;
        while let Some(o) = self.open.get(i) {
            if o.node != node {
                i += 1;
            } else if due(o) {
                self.complete(i, Completion::Window);
            } else {
                (min_seq, min_secs) = (min_seq.min(o.seq), min_secs.min(o.id.secs));
                max_serial = max_serial.max(Some(o.id.serial));
                i += 1;
            }
        }
        let clock = &mut self.nodes[node];
        (clock.min_seq, clock.min_secs, clock.max_serial) = (min_seq, min_secs, max_serial);
    }

    fn complete(&mut self, i: usize, completion: Completion) {
        if let Some(o) = self.open.remove(i) {
            let Open { node: _, id, seq: _, records, dropped } = o;
            self.ready.push_back(Event { id, records, dropped, completion });
        }
    }

    /// For a follower that sees no new records: completes events at least the window older than `now_ms`.
    pub fn expire_idle(&mut self, now_ms: u64) {
        let now = now_ms / 1000;
        while let Some(i) = self.open.iter().position(|o| o.id.secs.saturating_add(self.window.secs) <= now) {
            self.complete(i, Completion::Window);
        }
    }

    /// Completes every open event, oldest first: the input has ended.
    pub fn flush(&mut self) {
        while !self.open.is_empty() {
            self.complete(0, Completion::Flush);
        }
    }

    /// The next completed event, in the order they completed.
    pub fn pop(&mut self) -> Option<Event> {
        self.ready.pop_front()
    }

    /// Events still waiting for more records.
    #[must_use]
    pub fn open_events(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
