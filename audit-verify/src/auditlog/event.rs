//! Groups records into events by (node, timestamp, serial), in a bounded window.
//!
//! The kernel ends a syscall's records with EOE, but auditd does not write EOE to audit.log, and records
//! of different events interleave. So an event also completes when it is clearly over: [`Window::events`]
//! newer events have begun since it did, or its time is [`Window::millis`] away from the newest record's
//! (auditd's own `end_of_event_timeout` is 2 s). The open set never exceeds `events + 1`, whatever the
//! input: memory stays flat.

use std::collections::VecDeque;

use super::{line::EventId, record::Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub events: u64,
    pub millis: u64,
}

impl Default for Window {
    fn default() -> Self {
        Self { events: 64, millis: 2000 }
    }
}

/// What completed an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Its EOE record arrived.
    Eoe,
    /// A record that is an event by itself (user space, auditd).
    Standalone,
    /// Enough newer events, or enough time, went by.
    Window,
    /// The input ended, or the caller flushed.
    Flush,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    /// In the order they were read. Never empty.
    pub records: Vec<Record>,
    pub completion: Completion,
}

impl Event {
    pub fn node(&self) -> Option<&str> {
        self.records[0].node()
    }
}

#[derive(Debug)]
struct Open {
    /// Sequence number of the event, counted as events begin.
    seq: u64,
    records: Vec<Record>,
}

impl Open {
    fn is(&self, r: &Record) -> bool {
        let first = &self.records[0];
        first.id() == r.id() && first.node() == r.node()
    }
}

#[derive(Debug, Default)]
pub struct EventAssembler {
    window: Window,
    /// Oldest first.
    open: VecDeque<Open>,
    ready: VecDeque<Event>,
    next_seq: u64,
}

impl EventAssembler {
    pub fn new(window: Window) -> Self {
        Self { window, ..Self::default() }
    }

    pub fn push(&mut self, record: Record) {
        // Records of one event are nearly always adjacent: search from the newest.
        if let Some(i) = self.open.iter().rposition(|o| o.is(&record)) {
            let eoe = record.kind().is_eoe();
            self.open[i].records.push(record);
            if eoe {
                self.complete(i, Completion::Eoe);
            }
            return;
        }
        let now = record.id().time_ms();
        let completion = if record.kind().is_eoe() {
            Some(Completion::Eoe)
        } else if record.kind().is_standalone() {
            Some(Completion::Standalone)
        } else {
            None
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        match completion {
            Some(completion) => self.ready.push_back(Event { id: record.id(), records: vec![record], completion }),
            None => self.open.push_back(Open { seq, records: vec![record] }),
        }
        self.expire(seq, now);
    }

    /// Completes events that are `window.events` behind `seq`, or `window.millis` away from `now`.
    fn expire(&mut self, seq: u64, now: u64) {
        let mut i = 0;
        while i < self.open.len() {
            let o = &self.open[i];
            if seq - o.seq > self.window.events || o.records[0].id().time_ms().abs_diff(now) > self.window.millis {
                self.complete(i, Completion::Window);
            } else {
                i += 1;
            }
        }
    }

    fn complete(&mut self, i: usize, completion: Completion) {
        if let Some(o) = self.open.remove(i) {
            self.ready.push_back(Event { id: o.records[0].id(), records: o.records, completion });
        }
    }

    /// For a follower that sees no new records: completes events older than `now_ms` minus the window.
    pub fn expire_idle(&mut self, now_ms: u64) {
        let limit = now_ms.saturating_sub(self.window.millis);
        while let Some(i) = self.open.iter().position(|o| o.records[0].id().time_ms() < limit) {
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
    pub fn open_events(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
