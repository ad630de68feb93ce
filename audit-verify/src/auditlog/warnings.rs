//! Lines we skipped, counted, so the caller can report them instead of us failing or staying silent.

use std::{fmt, path::Path, sync::Arc};

use super::line::LineError;

/// How many warnings are kept with their details; the count goes on.
pub const DEFAULT_WARNING_CAP: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The line is not an audit record.
    Malformed(LineError),
    /// The line is a record with bytes that are not text (invalid UTF-8, NUL): kept, those bytes read as
    /// U+FFFD.
    Repaired(LineError),
    /// An event had more than [`super::event::MAX_RECORDS_PER_EVENT`] records: the rest were counted, not
    /// kept.
    EventTooLarge { event: super::line::EventId, dropped: u64 },
    /// Longer than [`super::MAX_LINE_LEN`]: auditd never writes such a line.
    TooLong { len: u64 },
    /// The file ended in the middle of a line that will never be completed (a finished or rotated file)
    /// and what was there is not a record.
    Unterminated { len: u64 },
    /// The followed file got shorter than what we had read: someone truncated it; we start over at 0.
    Truncated { size: u64, offset: u64 },
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "skipped: {e}"),
            Self::Repaired(e) => write!(f, "kept with U+FFFD in place of bad bytes: {e}"),
            Self::EventTooLarge { event, dropped } => write!(
                f,
                "event {event} has more than {} records: {dropped} more were counted, not kept",
                super::event::MAX_RECORDS_PER_EVENT
            ),
            Self::TooLong { len } => write!(f, "skipped a line of {len} bytes (too long for an audit record)"),
            Self::Unterminated { len } => write!(f, "skipped {len} bytes at the end of the file with no newline"),
            Self::Truncated { size, offset } => {
                write!(f, "file shrank to {size} bytes while we were at offset {offset}: reading it again from 0")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: Arc<Path>,
    /// 1-based line number.
    pub line: u64,
    pub offset: u64,
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.kind)
    }
}

/// The first `cap` warnings in full, and how many there were in all.
#[derive(Debug, Clone)]
pub struct Warnings {
    count: u64,
    stored: Vec<Warning>,
    cap: usize,
}

impl Default for Warnings {
    fn default() -> Self {
        Self::with_cap(DEFAULT_WARNING_CAP)
    }
}

impl Warnings {
    #[must_use]
    pub fn with_cap(cap: usize) -> Self {
        Self { count: 0, stored: Vec::new(), cap }
    }

    pub fn push(&mut self, warning: Warning) {
        self.count += 1;
        if self.stored.len() < self.cap {
            self.stored.push(warning);
        } else {
            log::debug!("{warning}");
        }
    }

    /// Every warning, including those not stored.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    #[must_use]
    pub fn stored(&self) -> &[Warning] {
        &self.stored
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_warnings_and_counts_all() {
        let mut w = Warnings::with_cap(2);
        let file: Arc<Path> = Arc::from(Path::new("/var/log/audit/audit.log"));
        for line in 1..=5 {
            w.push(Warning { file: file.clone(), line, offset: 0, kind: WarningKind::Malformed(LineError::Empty) });
        }
        assert_eq!((w.count(), w.stored().len()), (5, 2));
        assert_eq!(w.stored()[1].to_string(), "/var/log/audit/audit.log:2: skipped: empty line");
    }
}
