//! Rates observed in the audit logs already on disk: bytes and events per hour, and events per rule key.
//!
//! Read with [`crate::auditlog::LogSummary`], so the lint counts events as auparse groups them, through
//! the rotation set, and counts them once.

use std::{collections::BTreeMap, path::Path, path::PathBuf};

use serde::Serialize;

use crate::auditlog::{LogSummary, rotated_files, summary::MIN_SPAN_SECS};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogStats {
    /// The rotation set, oldest first (`.N`, …, `.1`, the current log).
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    pub events: u64,
    /// Seconds since the epoch of the first and last record seen.
    pub first: f64,
    pub last: f64,
    /// Events per rule key.
    pub per_key: BTreeMap<String, u64>,
}

impl LogStats {
    /// `None` when no log file exists there, or it cannot be read.
    #[must_use]
    pub fn read(log_file: &Path) -> Option<Self> {
        let files = rotated_files(log_file).ok().filter(|f| !f.is_empty())?;
        let summary = LogSummary::read(files).inspect_err(|e| log::warn!("audit log statistics: {e}")).ok()?;
        Some(Self::from(summary))
    }

    /// Seconds of history, if enough to estimate from.
    #[must_use]
    pub fn span_secs(&self) -> Option<f64> {
        let span = self.last - self.first;
        (span >= MIN_SPAN_SECS).then_some(span)
    }

    #[must_use]
    #[expect(
        clippy::cast_precision_loss,
        reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
    )]
    pub fn bytes_per_hour(&self) -> Option<f64> {
        Some(self.bytes as f64 * 3600.0 / self.span_secs()?)
    }

    #[must_use]
    #[expect(
        clippy::cast_precision_loss,
        reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
    )]
    pub fn bytes_per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| self.bytes as f64 / self.events as f64)
    }

    /// Events per hour carrying `key`, if the key was seen.
    #[must_use]
    #[expect(
        clippy::cast_precision_loss,
        reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
    )]
    pub fn key_events_per_hour(&self, key: &str) -> Option<f64> {
        let n = *self.per_key.get(key)?;
        Some(n as f64 * 3600.0 / self.span_secs()?)
    }
}

impl From<LogSummary> for LogStats {
    fn from(s: LogSummary) -> Self {
        Self {
            per_key: s.keys.iter().map(|(k, v)| (k.clone(), v.events)).collect(),
            files: s.files,
            bytes: s.bytes,
            events: s.events,
            first: s.first.unwrap_or(0.0),
            last: s.last.unwrap_or(0.0),
        }
    }
}

/// Human bytes: "1.2 MB".
#[must_use]
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
    #[expect(
        clippy::cast_precision_loss,
        reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
    )]
    fn counts_events_keys_and_span() {
        let dir = std::env::temp_dir().join(format!("audit-verify-logstats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("audit.log");
        std::fs::write(
            &log,
            "type=SYSCALL msg=audit(1000.000:1): arch=c000003e syscall=59 key=\"exec\"\x1dARCH=x86_64\n\
             type=EXECVE msg=audit(1000.000:1): argc=1 a0=\"ls\"\n\
             type=SYSCALL msg=audit(1100.000:2): arch=c000003e syscall=2 key=(null)\n\
             type=USER msg=audit(4600.000:3): msg='hello'\n",
        )
        .unwrap();
        std::fs::write(dir.join("audit.log.1"), "type=SYSCALL msg=audit(999.000:0): syscall=59 key=\"exec\"\n")
            .unwrap();
        let s = LogStats::read(&log).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((s.events, s.span_secs()), (4, Some(3601.0)));
        assert_eq!(s.files, [dir.join("audit.log.1"), log]);
        assert_eq!(s.per_key.get("exec"), Some(&2));
        let bytes = s.bytes as f64;
        assert_eq!(s.bytes_per_hour(), Some(bytes * 3600.0 / 3601.0));
        assert_eq!(LogStats::read(&dir.join("missing.log")), None);
    }
}
