//! Rates observed in the audit logs already on disk: bytes and events per hour, and events per rule key.
//!
//! A deliberately small scan (timestamp, serial and `key=` of each line) rather than the full
//! [`crate::auditlog`] reader: rates need three fields, and reading 40 MB of logs should stay cheap.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use serde::Serialize;

/// Less history than this and a rate means nothing.
const MIN_SPAN_SECS: f64 = 60.0;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogStats {
    /// The current log first, then `.1`, `.2`, … that exist.
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    pub events: u64,
    /// Seconds since the epoch of the first and last record seen.
    pub first: f64,
    pub last: f64,
    /// SYSCALL records per rule key.
    pub per_key: BTreeMap<String, u64>,
}

impl LogStats {
    /// `None` when no log file exists there.
    pub fn read(log_file: &Path) -> Option<Self> {
        let mut files = vec![log_file.to_owned()];
        files.extend((1..100).map(|i| PathBuf::from(format!("{}.{i}", log_file.display()))).take_while(|p| p.exists()));
        let mut stats = Self { first: f64::MAX, last: 0.0, ..Default::default() };
        let mut any = false;
        for file in &files {
            let Ok(bytes) = fs::read(file) else { continue };
            any = true;
            stats.add_text(&String::from_utf8_lossy(&bytes));
            stats.bytes += bytes.len() as u64;
        }
        stats.files = files.into_iter().filter(|f| f.exists()).collect();
        any.then_some(stats)
    }

    /// Adds the records of one file's text.
    pub fn add_text(&mut self, text: &str) {
        let mut previous_serial = None;
        for line in text.lines() {
            let Some((time, serial)) = stamp(line) else { continue };
            self.first = self.first.min(time);
            self.last = self.last.max(time);
            if previous_serial != Some(serial) {
                self.events += 1;
                previous_serial = Some(serial);
            }
            if line.contains("type=SYSCALL")
                && let Some(key) = key(line)
            {
                *self.per_key.entry(key.to_owned()).or_default() += 1;
            }
        }
    }

    /// Seconds of history, if enough to estimate from.
    pub fn span_secs(&self) -> Option<f64> {
        let span = self.last - self.first;
        (span >= MIN_SPAN_SECS).then_some(span)
    }

    pub fn bytes_per_hour(&self) -> Option<f64> {
        Some(self.bytes as f64 * 3600.0 / self.span_secs()?)
    }

    pub fn bytes_per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| self.bytes as f64 / self.events as f64)
    }

    /// Events per hour carrying `key`, if the key was seen.
    pub fn key_events_per_hour(&self, key: &str) -> Option<f64> {
        let n = *self.per_key.get(key)?;
        Some(n as f64 * 3600.0 / self.span_secs()?)
    }
}

/// `msg=audit(1700000000.123:456):` → (time, serial).
fn stamp(line: &str) -> Option<(f64, u64)> {
    let rest = &line[line.find("msg=audit(")? + 10..];
    let (inner, _) = rest.split_once(')')?;
    let (time, serial) = inner.split_once(':')?;
    Some((time.parse().ok()?, serial.parse().ok()?))
}

/// `key="name"` (or `key=(null)`: none). Keys joined by \x01 in the kernel are printed hex-encoded;
/// those stay as they are.
fn key(line: &str) -> Option<&str> {
    // Enriched logs add fields after \x1d; the key is before it.
    let raw = line.split('\x1d').next()?;
    let at = raw.rfind(" key=")? + 5;
    let value = raw[at..].split_whitespace().next()?;
    if value == "(null)" {
        return None;
    }
    Some(value.trim_matches('"'))
}

/// Human bytes: "1.2 MB".
pub fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_events_keys_and_span() {
        let mut s = LogStats { first: f64::MAX, ..Default::default() };
        s.add_text(
            "type=SYSCALL msg=audit(1000.000:1): arch=c000003e syscall=59 key=\"exec\"\x1dARCH=x86_64\n\
             type=EXECVE msg=audit(1000.000:1): argc=1 a0=\"ls\"\n\
             type=SYSCALL msg=audit(1100.000:2): arch=c000003e syscall=2 key=(null)\n\
             type=USER msg=audit(4600.000:3): msg='hello'\n",
        );
        s.bytes = 3600;
        assert_eq!((s.events, s.span_secs()), (3, Some(3600.0)));
        assert_eq!(s.per_key.get("exec"), Some(&1));
        assert_eq!(s.key_events_per_hour("exec"), Some(1.0));
        assert_eq!(s.bytes_per_hour(), Some(3600.0));
    }
}
