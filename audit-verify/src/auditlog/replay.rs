//! A realistic audit.log for benchmarks: the events of real audit.log samples, replayed in their order
//! with fresh serials and a host's timing.
//!
//! [`super::synth`] writes one dense mix of short records, an event every millisecond. A real log differs
//! in what costs a reader time: every record type as the kernel and user space write them, lines from 40
//! bytes to the ~7.5 kB of a long EXECVE or PROCTITLE, and events spread over real time, a few hundred a
//! second with bursts and quiet spells, so the 2 s window closes events as it does on a host. Each
//! sample event keeps its records, their order and their bytes; only the `SECS.MILLIS:SERIAL` stamp is
//! new, so no two events share a serial.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use super::{
    AuditLogError, LogReader,
    synth::{Rng, SynthStats},
};

/// One sample event: each record's line around its stamp, `…audit(` before it and `):…` after it.
#[derive(Debug, Clone)]
pub struct Sample {
    records: Vec<(Box<str>, Box<str>)>,
}

impl Sample {
    /// The bytes this event takes in a log, without its stamps.
    fn len_without_stamps(&self) -> usize {
        self.records.iter().map(|(head, tail)| head.len() + tail.len() + 1).sum()
    }
}

/// Every sample file of a corpus laid out as `DIR/SOURCE/FILE` (each source's PROVENANCE.txt left out),
/// sorted, so the replay is the same on every machine.
///
/// # Errors
///
/// When `dir` or a source directory in it cannot be listed.
pub fn corpus_files(dir: &Path) -> Result<Vec<PathBuf>, AuditLogError> {
    let list = |d: &Path| -> Result<Vec<PathBuf>, AuditLogError> {
        let entries = fs::read_dir(d).map_err(|source| AuditLogError::ListDir { path: d.to_owned(), source })?;
        entries
            .map(|e| e.map(|e| e.path()).map_err(|source| AuditLogError::ListDir { path: d.to_owned(), source }))
            .collect()
    };
    let mut files = Vec::new();
    for source in list(dir)?.into_iter().filter(|p| p.is_dir()) {
        files.extend(list(&source)?.into_iter().filter(|f| f.file_name().is_some_and(|n| n != "PROVENANCE.txt")));
    }
    files.sort();
    Ok(files)
}

/// The events of `files`, in order, as our reader groups them. Lines that are not records (comments,
/// blank lines) are left out; a record with bytes that are not text is kept as the reader repaired it.
///
/// # Errors
///
/// When a file cannot be opened or read.
pub fn samples(files: impl IntoIterator<Item = PathBuf>) -> Result<Vec<Sample>, AuditLogError> {
    let mut out = Vec::new();
    for event in LogReader::from_files(files).events() {
        let records = event?.records.iter().filter_map(|r| split_at_stamp(r.text())).collect();
        out.push(Sample { records });
    }
    Ok(out)
}

/// `("…audit(", "):…")` around the stamp. The header parser accepted the line, so after `type=` comes
/// `msg=audit(` or `audit(`, digits and `)`; neither a node name nor a type name holds `audit(`.
fn split_at_stamp(text: &str) -> Option<(Box<str>, Box<str>)> {
    let type_at = text.find("type=")?;
    let open = type_at + text[type_at..].find("audit(")? + "audit(".len();
    let close = open + text[open..].find(')')?;
    Some((text[..open].into(), text[close..].into()))
}

/// How the replayed host's clock moves from one event to the next.
struct Clock {
    ms: u64,
    /// Events left in the current burst.
    burst: u32,
}

impl Clock {
    /// Steady load is 0–7 ms apart. One event in 1000 starts a burst of 100–600 events about 4 a
    /// millisecond (a build, a login storm); one in 10,000 is followed by a quiet spell of 2–30 s, longer
    /// than the 2 s window. On average that is about 260 events a second, a quarter of them in bursts.
    #[expect(clippy::cast_possible_truncation, reason = "`below(500)` is below 500")]
    fn tick(&mut self, rng: &mut Rng) {
        if self.burst > 0 {
            self.burst -= 1;
            self.ms += rng.below(4) / 3;
            return;
        }
        self.ms += rng.below(8);
        match rng.below(10_000) {
            0 => self.ms += 2000 + rng.below(28_000),
            1..=10 => self.burst = 100 + rng.below(500) as u32,
            _ => {}
        }
    }
}

/// Replays `samples` in order, from the first again after the last, until at least `target_bytes` are
/// written. Serials start at 1 and grow by one per event; the same `seed` gives the same bytes.
///
/// # Errors
///
/// When `samples` hold no record, or writing to `out` fails.
pub fn write_log(out: &mut impl Write, samples: &[Sample], target_bytes: u64, seed: u64) -> io::Result<SynthStats> {
    if samples.iter().all(|s| s.records.is_empty()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no sample records to replay"));
    }
    let mut rng = Rng(seed);
    // 2025-11-24 00:00 UTC: a plausible recent time, the same on every run.
    let mut clock = Clock { ms: 1_763_942_400_000, burst: 0 };
    let mut stats = SynthStats::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    for (serial, sample) in (1u64..).zip(samples.iter().filter(|s| !s.records.is_empty()).cycle()) {
        if stats.bytes >= target_bytes {
            break;
        }
        clock.tick(&mut rng);
        let stamp = format!("{}.{:03}:{serial}", clock.ms / 1000, clock.ms % 1000);
        buf.clear();
        buf.reserve(sample.len_without_stamps() + sample.records.len() * stamp.len());
        for (head, tail) in &sample.records {
            buf.extend_from_slice(head.as_bytes());
            buf.extend_from_slice(stamp.as_bytes());
            buf.extend_from_slice(tail.as_bytes());
            buf.push(b'\n');
        }
        out.write_all(&buf)?;
        stats.events += 1;
        stats.records += sample.records.len() as u64;
        stats.bytes += buf.len() as u64;
    }
    Ok(stats)
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
