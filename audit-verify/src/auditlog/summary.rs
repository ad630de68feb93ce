//! What a set of audit.log files holds: events, records, types, rule keys and their rates, the time
//! span, the lines that are not records, and per node the serials the kernel assigned but nobody wrote.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Serialize;

use super::{
    AuditLogError,
    event::{Event, is_auditd_record},
    reader::LogReader,
    record_type::RecordType,
};

/// Less history than this and a rate per hour means nothing.
pub const MIN_SPAN_SECS: f64 = 60.0;

/// How many holes in the serials are listed per node; all are counted.
const MAX_LISTED_GAPS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogSummary {
    /// In the order read: rotated files oldest first.
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    pub events: u64,
    pub records: u64,
    /// Kept records per type name (an event cut at `MAX_RECORDS_PER_EVENT` counts only those it kept).
    pub types: BTreeMap<String, u64>,
    /// Per rule key (the `key=` of SYSCALL records; an event with several keys counts for each).
    pub keys: BTreeMap<String, KeyStats>,
    /// Seconds since the epoch of the oldest and newest record, if there was one.
    pub first: Option<f64>,
    pub last: Option<f64>,
    /// Lines that are not records (or were repaired, or events cut), counted; the first ones listed.
    pub warnings: u64,
    pub warning_list: Vec<String>,
    /// Per node (`""` for records without `node=`).
    pub nodes: BTreeMap<String, NodeSerials>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KeyStats {
    pub events: u64,
    /// The bytes of those events' lines, newlines included.
    pub bytes: u64,
    pub events_per_hour: Option<f64>,
    pub bytes_per_hour: Option<f64>,
}

/// The serials of one node's events. A hole is a serial the kernel assigned to a record that never
/// reached the log: lost in the kernel (backlog, rate limit), dropped by an `exclude` rule, or lost after
/// the kernel. auditd's own records (DAEMON_*) carry auditd's numbering and are left out; each
/// `DAEMON_START` begins a new run, as the kernel's numbering restarts at boot.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NodeSerials {
    pub events: u64,
    pub missing: u64,
    /// The first holes, as inclusive ranges.
    pub gaps: Vec<(u64, u64)>,
    /// Each run from where it starts in the files (file index, line), in that order.
    #[serde(skip)]
    runs: Vec<((usize, u64), Intervals)>,
}

/// Disjoint inclusive ranges of serials seen, merged as they come: records are nearly in order, so
/// this stays a handful of ranges however long the log.
#[derive(Debug, Clone, Default, PartialEq)]
struct Intervals(BTreeMap<u64, u64>);

impl Intervals {
    fn insert(&mut self, serial: u64) {
        let before = self.0.range(..=serial).next_back().map(|(&s, &e)| (s, e));
        if let Some((_, end)) = before
            && end >= serial
        {
            return;
        }
        let mut start = serial;
        let mut end = serial;
        if let Some((s, e)) = before
            && e + 1 == serial
        {
            start = s;
        }
        if let Some(next_end) = self.0.remove(&(serial + 1)) {
            end = next_end;
        }
        if start == serial {
            self.0.insert(start, end);
        } else if let Some(e) = self.0.get_mut(&start) {
            *e = end;
        }
    }

    /// The holes between the first and the last serial.
    fn holes(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().zip(self.0.iter().skip(1)).map(|((_, &end), (&next, _))| (end + 1, next - 1))
    }
}

impl LogSummary {
    /// Reads `files` in this order (see [`super::rotated_files`]).
    ///
    /// # Errors
    ///
    /// When a file cannot be opened or read.
    pub fn read(files: Vec<PathBuf>) -> Result<Self, AuditLogError> {
        let mut summary = Self { files: files.clone(), ..Self::default() };
        for file in &files {
            summary.bytes += std::fs::metadata(file).map_err(|source| open_err(file, source))?.len();
        }
        let mut events = LogReader::from_files(files).events();
        for event in events.by_ref() {
            summary.add(&event?);
        }
        let warnings = events.warnings();
        summary.warnings = warnings.count();
        summary.warning_list = warnings.stored().iter().map(ToString::to_string).collect();
        summary.finish();
        Ok(summary)
    }

    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since 1970 (about 2^41) and counts are far below 2^52, where f64 is exact"
    )]
    fn add(&mut self, event: &Event) {
        self.events += 1;
        self.records += event.records.len() as u64 + event.dropped;
        let secs = event.id.time_ms() as f64 / 1000.0;
        self.first = Some(self.first.map_or(secs, |f| f.min(secs)));
        self.last = Some(self.last.map_or(secs, |l| l.max(secs)));
        let mut bytes = 0;
        let mut keys: Vec<String> = Vec::new();
        for r in &event.records {
            *self.types.entry(r.kind().name.to_string()).or_default() += 1;
            bytes += r.text().len() as u64 + 1;
            if r.kind().name == "SYSCALL"
                && let Some(key) = r.field("key").filter(|f| !f.enriched && f.raw != "(null)")
            {
                // The kernel joins several keys with \x01 and then hex-encodes the field.
                let decoded = key.decoded_lossy();
                keys.extend(decoded.split('\x01').map(str::to_owned));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let k = self.keys.entry(key).or_default();
            k.events += 1;
            k.bytes += bytes;
        }
        // Events complete out of file order (DAEMON_START at once, a SYSCALL before it by the window), so
        // runs are placed by where their records are in the files.
        let first = &event.records[0];
        let at = (self.files.iter().position(|f| **f == *first.location.file).unwrap_or(0), first.location.line);
        let node = self.nodes.entry(event.node().unwrap_or("").to_owned()).or_default();
        let kind: &RecordType = first.kind();
        if is_auditd_record(kind) {
            if kind.name == "DAEMON_START" {
                let i = node.runs.partition_point(|(start, _)| *start <= at);
                node.runs.insert(i, (at, Intervals::default()));
            }
            return;
        }
        node.events += 1;
        let i = node.runs.partition_point(|(start, _)| *start <= at);
        if i == 0 {
            node.runs.insert(0, ((0, 0), Intervals::default()));
            node.runs[0].1.insert(event.id.serial);
        } else {
            node.runs[i - 1].1.insert(event.id.serial);
        }
    }

    #[expect(
        clippy::cast_precision_loss,
        reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
    )]
    fn finish(&mut self) {
        let span = self.span_secs();
        for k in self.keys.values_mut() {
            k.events_per_hour = span.map(|s| k.events as f64 * 3600.0 / s);
            k.bytes_per_hour = span.map(|s| k.bytes as f64 * 3600.0 / s);
        }
        for node in self.nodes.values_mut() {
            let holes = || node.runs.iter().flat_map(|(_, run)| run.holes());
            node.missing = holes().map(|(a, b)| b - a + 1).sum();
            node.gaps = holes().take(MAX_LISTED_GAPS).collect();
        }
    }

    /// Seconds of history, if enough to estimate rates from.
    #[must_use]
    pub fn span_secs(&self) -> Option<f64> {
        let span = self.last? - self.first?;
        (span >= MIN_SPAN_SECS).then_some(span)
    }
}

fn open_err(path: &Path, source: std::io::Error) -> AuditLogError {
    AuditLogError::Open { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auditlog::test_dir::TestDir;

    #[test]
    fn intervals_merge_in_any_order() {
        let mut i = Intervals::default();
        for s in [5, 1, 2, 9, 4, 3, 10, 12] {
            i.insert(s);
        }
        assert_eq!(i.0, BTreeMap::from([(1, 5), (9, 10), (12, 12)]));
        assert_eq!(i.holes().collect::<Vec<_>>(), [(6, 8), (11, 11)]);
        i.insert(11);
        assert_eq!(i.0, BTreeMap::from([(1, 5), (9, 12)]));
    }

    #[test]
    fn counts_keys_types_span_and_serial_gaps() {
        let dir = TestDir::new();
        let log = "type=SYSCALL msg=audit(1000.000:1): syscall=59 key=\"exec\"\n\
                   type=EXECVE msg=audit(1000.000:1): argc=1 a0=\"ls\"\n\
                   type=EOE msg=audit(1000.000:1): \n\
                   type=SYSCALL msg=audit(1100.000:4): syscall=2 key=(null)\n\
                   type=DAEMON_START msg=audit(1200.000:9000): op=start res=success\n\
                   type=SYSCALL msg=audit(4600.000:2): syscall=59 key=65786563016964\n\
                   type=SYSCALL msg=audit(4600.000:5): syscall=59 key=\"exec\"\n\
                   type=SYSCALL msg=audit(4600.000:8): syscall=59 key=\"exec\"\n\
                   garbage\n";
        let path = dir.write("audit.log", log.as_bytes());
        let s = LogSummary::read(vec![path]).unwrap();
        assert_eq!((s.events, s.records, s.warnings), (6, 8, 1));
        assert_eq!(s.types["SYSCALL"], 5);
        assert_eq!(s.span_secs(), Some(3600.0));
        let exec = &s.keys["exec"];
        assert_eq!((exec.events, exec.events_per_hour), (4, Some(4.0)));
        assert_eq!(s.keys["id"].events, 1);
        let first_event_bytes = log.lines().take(3).map(|l| l.len() as u64 + 1).sum::<u64>();
        assert!(exec.bytes > first_event_bytes);
        // Serials 1 and 4 before auditd restarted, then 2, 5, 8: holes 6-7 only in the second run.
        let node = &s.nodes[""];
        assert_eq!((node.events, node.missing, node.gaps.clone()), (5, 6, vec![(2, 3), (3, 4), (6, 7)]));
        assert!(s.warning_list[0].ends_with(":9: skipped: no `type=` at the start of the line"));
    }
}
