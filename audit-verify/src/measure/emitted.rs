//! Layer 2, what the kernel emitted: every record kauditd sends, read from the audit multicast socket in a
//! thread. kauditd sends the multicast copy as a record leaves its main queue, before the unicast to auditd,
//! so records dropped later (hold/retry queue overflow, auditd, disk) are here, and those dropped earlier
//! (backlog limit, rate limit) are not.
//!
//! Memory stays flat: per event, a record count, a key number and a byte count, in vectors indexed by
//! serial.

use std::collections::{BTreeMap, HashSet};

use crate::netlink::listener::{Consumer, Heard, Listener, ListenerError};

/// The record type auditd never writes (it ends an event on the wire only).
pub const AUDIT_EOE: u16 = 1320;

/// Per key: events, records and bytes the kernel emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyStats {
    pub events: u64,
    pub records: u64,
    pub bytes: u64,
}

/// What the listener saw over the window.
#[derive(Debug, Default)]
pub struct Emitted {
    /// Serial of index 0; `records[i]` is the count for serial `base + i` (0: not seen, or ours).
    pub base: Option<u32>,
    pub records: Vec<u8>,
    /// Per serial: 1 + index into `keys`, 0 for none.
    key_of: Vec<u16>,
    bytes_of: Vec<u32>,
    keys: Vec<String>,
    /// Records by type, EOE included.
    pub by_type: BTreeMap<u16, u64>,
    /// Events that were our own (the barrier, our syscalls), left out of every count.
    pub own_events: u64,
    /// Times the socket overflowed (ENOBUFS): records were lost to us, so the window undercounts.
    pub overruns: u64,
}

impl Emitted {
    /// Serials of events the kernel emitted (ours excluded).
    pub fn serials(&self) -> impl Iterator<Item = u32> + '_ {
        let base = self.base.unwrap_or(0);
        (0u32..).zip(&self.records).filter(|(_, n)| **n > 0).map(move |(i, _)| base.wrapping_add(i))
    }

    pub fn events(&self) -> u64 {
        self.records.iter().filter(|n| **n > 0).count() as u64
    }

    /// Records, EOE excluded (auditd does not write EOE).
    pub fn records_without_eoe(&self) -> u64 {
        self.records.iter().map(|n| u64::from(*n)).sum()
    }

    /// Events, records and bytes by key, ours left out (`(none)` for events without a key).
    pub fn by_key(&self) -> BTreeMap<String, KeyStats> {
        let mut out: BTreeMap<String, KeyStats> = BTreeMap::new();
        for (i, records) in self.records.iter().enumerate().filter(|(_, n)| **n > 0) {
            let key = match self.key_of[i] {
                0 => "(none)",
                k => self.keys[usize::from(k) - 1].as_str(),
            };
            let stats = out.entry(key.to_owned()).or_default();
            stats.events += 1;
            stats.records += u64::from(*records);
            stats.bytes += u64::from(self.bytes_of[i]);
        }
        out
    }

    pub fn contains(&self, serial: u32) -> bool {
        self.index(serial).is_some_and(|i| self.records.get(i).is_some_and(|n| *n > 0))
    }

    fn index(&self, serial: u32) -> Option<usize> {
        let d = serial.wrapping_sub(self.base?);
        (d < 1 << 30).then_some(d as usize)
    }
}

/// The multicast consumer: counts into [`Emitted`], leaving our own events out.
#[derive(Debug)]
pub struct Counter {
    out: Emitted,
    /// Serials known to be ours, for records that arrive after the one that told us.
    ours: HashSet<u32>,
    own: Own,
}

impl Counter {
    fn new(own: Own) -> Self {
        Self { out: Emitted::default(), ours: HashSet::new(), own }
    }
}

impl Consumer for Counter {
    fn message(&mut self, ty: u16, payload: &[u8]) {
        record(&mut self.out, &mut self.ours, &self.own, ty, payload);
        if self.ours.len() > 4096 {
            // Events complete within milliseconds; keep the newest.
            let newest = self.ours.iter().copied().max().unwrap_or(0);
            self.ours.retain(|s| newest.wrapping_sub(*s) < 2048);
        }
    }
}

/// Subscribes now: everything emitted from this point on is counted. `own_programs` are the IDs of our
/// BPF programs: the kernel audits their load and unload without a pid.
pub fn listen(own_programs: Vec<u32>) -> Result<Listener<Counter>, ListenerError> {
    Listener::start("measure-multicast", RECEIVE_BUFFER, Counter::new(Own::new(own_programs)))
}

/// What the window's listener counted, with the socket's overruns.
pub fn emitted(heard: Heard<Counter>) -> Emitted {
    Emitted { overruns: heard.overruns, ..heard.consumer.out }
}

/// The multicast socket's receive buffer: large enough that a burst does not overflow it.
pub const RECEIVE_BUFFER: usize = 64 << 20;

/// How to recognise our own events: this process's pid, and the IDs of our BPF programs, whose load
/// and unload the kernel audits without a pid.
#[derive(Debug)]
pub struct Own {
    pid: String,
    programs: Vec<u32>,
}

impl Own {
    #[must_use]
    pub fn new(programs: Vec<u32>) -> Self {
        Self { pid: std::process::id().to_string(), programs }
    }

    /// Whether this record (type and text) tells that its event is ours.
    #[must_use]
    pub fn is_ours(&self, ty: u16, text: &str) -> bool {
        let own_program = ty == AUDIT_BPF
            && field(text, "prog-id").and_then(|id| id.parse().ok()).is_some_and(|id: u32| self.programs.contains(&id));
        own_program || field(text, "pid") == Some(self.pid.as_str())
    }
}

/// `AUDIT_BPF`: a BPF program loaded or unloaded.
const AUDIT_BPF: u16 = 1334;

/// `audit(1700000000.123:456): ...` → serial 456.
pub fn serial_of(text: &str) -> Option<u32> {
    let rest = text.strip_prefix("audit(")?;
    let (_, serial) = rest[..rest.find(')')?].split_once(':')?;
    serial.parse().ok()
}

/// The raw value of `name=` in a kernel record (quoted or not). Called per record on the hot path, so it
/// scans without allocating.
pub fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    let at = loop {
        let i = from + text[from..].find(name)?;
        let preceded = i > 0 && text.as_bytes()[i - 1] == b' ';
        if preceded && text.as_bytes().get(i + name.len()) == Some(&b'=') {
            break i + name.len() + 1;
        }
        from = i + 1;
    };
    let value = &text[at..];
    value.strip_prefix('"').map_or_else(|| value.split(' ').next(), |v| v.split('"').next())
}

fn record(out: &mut Emitted, ours: &mut HashSet<u32>, own: &Own, ty: u16, payload: &[u8]) {
    *out.by_type.entry(ty).or_default() += 1;
    // Kernel records are ASCII (untrusted values are hex-encoded); a record that is not is skipped.
    let Ok(text) = std::str::from_utf8(payload.strip_suffix(&[0]).unwrap_or(payload)) else { return };
    let Some(serial) = serial_of(text) else { return };
    // Start a little back: records of slightly older events may still arrive after the first one seen.
    let base = *out.base.get_or_insert(serial.saturating_sub(1024));
    let Some(index) = serial.wrapping_sub(base).try_into().ok().filter(|i: &usize| *i < 1 << 30) else { return };
    if out.records.len() <= index {
        out.records.resize(index + 1, 0);
        out.key_of.resize(index + 1, 0);
        out.bytes_of.resize(index + 1, 0);
    }
    if own.is_ours(ty, text) {
        if ours.insert(serial) {
            out.own_events += 1;
        }
        out.records[index] = 0; // records counted before we knew are taken back out
    }
    if ours.contains(&serial) {
        return;
    }
    if let Some(key) = field(text, "key").filter(|k| *k != "(null)") {
        let id = if let Some(i) = out.keys.iter().position(|k| k == key) {
            i + 1
        } else {
            out.keys.push(key.to_owned());
            out.keys.len()
        };
        out.key_of[index] = u16::try_from(id).unwrap_or(u16::MAX);
    }
    if ty != AUDIT_EOE {
        out.records[index] = out.records[index].saturating_add(1);
        out.bytes_of[index] = out.bytes_of[index].saturating_add(u32::try_from(text.len()).unwrap_or(u32::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_serials_and_fields_from_kernel_text() {
        let syscall = "audit(1700000000.123:456): arch=c000003e syscall=59 success=yes exit=0 pid=77 key=\"exec\"";
        assert_eq!(serial_of(syscall), Some(456));
        assert_eq!(field(syscall, "pid"), Some("77"));
        assert_eq!(field(syscall, "key"), Some("exec"));
        assert_eq!(field("audit(1.2:3): key=(null)", "key"), Some("(null)"));
        assert_eq!(serial_of("garbage"), None);
        assert_eq!(field("audit(1.2:3): ppid=1 pid=2", "pid"), Some("2"), "not the tail of ppid");
    }

    #[test]
    fn counts_events_records_and_keys_and_leaves_ours_out() {
        let mut out = Emitted::default();
        let mut ours = HashSet::new();
        let own = Own { pid: "42".into(), programs: vec![9] };
        record(&mut out, &mut ours, &own, 1300, b"audit(1.0:10): syscall=59 pid=7 key=\"exec\"\0");
        record(&mut out, &mut ours, &own, 1302, b"audit(1.0:10): item=0 name=\"/bin/true\"");
        record(&mut out, &mut ours, &own, 1320, b"audit(1.0:10): ");
        // Ours: a BPF record without pid, then its syscall record with our pid.
        record(&mut out, &mut ours, &own, 1334, b"audit(1.0:12): prog-id=3 op=LOAD");
        record(&mut out, &mut ours, &own, 1300, b"audit(1.0:12): syscall=321 pid=42 key=(null)");
        record(&mut out, &mut ours, &own, 1334, b"audit(1.0:13): prog-id=9 op=UNLOAD");
        record(&mut out, &mut ours, &own, 1300, b"audit(1.0:11): syscall=2 pid=8 key=(null)");
        assert_eq!(out.events(), 2);
        assert_eq!(out.serials().collect::<Vec<_>>(), [10, 11]);
        assert_eq!(out.records_without_eoe(), 3);
        assert_eq!(out.own_events, 2);
        let keys = out.by_key();
        assert_eq!((keys["exec"].events, keys["exec"].records), (1, 2));
        assert_eq!(keys["(none)"].events, 1, "event 12 was ours");
        assert!(out.contains(11) && !out.contains(12) && !out.contains(13));
    }

    /// The one splitter feeds both consumers: prove's collector and this counter see the same messages
    /// of a datagram, and neither sees the one whose frame is cut off.
    #[test]
    fn a_datagram_is_split_identically_for_prove_and_measure() {
        use crate::{
            netlink::{listener::tests::hear, wire},
            prove::collect::Collector,
        };

        let parent = std::process::id();
        let syscall = |serial: u32, pid: u32| {
            format!(
                "audit(1.0:{serial}): arch=c000003e syscall=59 success=no exit=-14 a0=1 a1=2 a2=3 a3=4 items=0 \
                 ppid={parent} pid={pid} auid=0 uid=0 key=\"k\"\0"
            )
        };
        let (first, second, cut) = (syscall(20, 7), syscall(21, 8), syscall(22, 9));
        let mut datagram = crate::netlink::listener::tests::datagram(&[
            (1300, first.as_bytes()),
            (1320, b"audit(1.0:20): "),
            (1300, second.as_bytes()),
        ]);
        let whole = datagram.len();
        datagram.extend(wire::encode(1300, 0, 0, cut.as_bytes()));
        datagram.truncate(whole + 40); // the last message is cut off in the middle

        let prove = hear(Collector::new(parent), &datagram, None);
        let own = Own { pid: "1".into(), programs: Vec::new() };
        let measure = hear(Counter::new(own), &datagram, None);

        assert_eq!((prove.malformed, measure.malformed), (1, 1));
        assert_eq!(prove.consumer.seen.iter().map(|s| s.serial).collect::<Vec<_>>(), [20, 21]);
        let counted = measure.consumer.out;
        assert_eq!(counted.serials().collect::<Vec<_>>(), [20, 21]);
        assert_eq!(counted.by_type, BTreeMap::from([(1300, 2), (1320, 1)]));
        assert_eq!(counted.records_without_eoe(), 2);
    }
}
