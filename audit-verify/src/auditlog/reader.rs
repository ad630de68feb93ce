//! Reads finished audit.log files, oldest first, into records and events.

use std::{
    collections::VecDeque,
    fs::{self, File},
    io::Read,
    path::{Path, PathBuf},
    sync::Arc,
};

use super::{
    AuditLogError,
    event::{Event, EventAssembler, Window},
    line::LineError,
    record::{Location, Record},
    split::{Item, LineSplitter},
    warnings::{Warning, WarningKind, Warnings},
};

/// auditd's rotation set for `path`: `path.N`, …, `path.1`, `path`, oldest first (auditd renames
/// `audit.log` to `audit.log.1` and shifts the others up). Files that do not exist are left out.
///
/// # Errors
///
/// When `path` names no file, or its directory cannot be listed.
pub fn rotated_files(path: &Path) -> Result<Vec<PathBuf>, AuditLogError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| AuditLogError::NotAFile { path: path.to_owned() })?;
    let prefix = format!("{}.", name.to_string_lossy());
    let entries = fs::read_dir(dir).map_err(|source| AuditLogError::ListDir { path: dir.to_owned(), source })?;
    let mut rotated = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| AuditLogError::ListDir { path: dir.to_owned(), source })?;
        let file_name = entry.file_name();
        let Some(suffix) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        // Only auditd's numbering: `audit.log.1`, not `audit.log.gz` or `audit.log.1.bak`.
        if let Ok(n) = suffix.parse::<u32>()
            && suffix.bytes().all(|b| b.is_ascii_digit())
        {
            rotated.push((n, entry.path()));
        }
    }
    rotated.sort_unstable_by_key(|(n, _)| std::cmp::Reverse(*n));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    if path.exists() {
        files.push(path.to_owned());
    }
    Ok(files)
}

struct Source {
    path: Arc<Path>,
    lines: LineSplitter<Box<dyn Read + Send>>,
}

/// Records from a list of finished files, in order. Lines that are not records become [`Warnings`].
pub struct LogReader {
    pending: VecDeque<PathBuf>,
    current: Option<Source>,
    warnings: Warnings,
}

impl LogReader {
    /// One file.
    pub fn open(path: impl Into<PathBuf>) -> Self {
        Self::from_files([path.into()])
    }

    /// `path` and its rotated predecessors, oldest first (see [`rotated_files`]).
    ///
    /// # Errors
    ///
    /// As [`rotated_files`].
    pub fn open_rotated(path: &Path) -> Result<Self, AuditLogError> {
        Ok(Self::from_files(rotated_files(path)?))
    }

    /// These files, in this order. Each is opened when the previous one is done.
    pub fn from_files(files: impl IntoIterator<Item = PathBuf>) -> Self {
        Self { pending: files.into_iter().collect(), current: None, warnings: Warnings::default() }
    }

    /// Any byte source; `name` is what locations and warnings call it.
    pub fn from_reader(name: &Path, reader: impl Read + Send + 'static) -> Self {
        let source = Source { path: Arc::from(name), lines: LineSplitter::new(Box::new(reader), 0, 0) };
        Self { pending: VecDeque::new(), current: Some(source), warnings: Warnings::default() }
    }

    #[must_use]
    pub fn warnings(&self) -> &Warnings {
        &self.warnings
    }

    /// The next record, `Ok(None)` after the last file. After an error, the next call goes on with the
    /// next file.
    ///
    /// # Errors
    ///
    /// When a file cannot be opened or read.
    pub fn next_record(&mut self) -> Result<Option<Record>, AuditLogError> {
        loop {
            let Some(source) = &mut self.current else {
                let Some(path) = self.pending.pop_front() else { return Ok(None) };
                let file = File::open(&path).map_err(|source| AuditLogError::Open { path: path.clone(), source })?;
                self.current = Some(Source { path: Arc::from(path), lines: LineSplitter::new(Box::new(file), 0, 0) });
                continue;
            };
            let item = source.lines.next_item();
            match item {
                Ok(Some(item)) => {
                    if let Some(record) = to_record(item, &source.path, &mut self.warnings) {
                        return Ok(Some(record));
                    }
                }
                Ok(None) => {
                    let last =
                        source.lines.take_partial().and_then(|item| last_line(item, &source.path, &mut self.warnings));
                    self.current = None;
                    if let Some(record) = last {
                        return Ok(Some(record));
                    }
                }
                Err(source_err) => {
                    let path = source.path.to_path_buf();
                    self.current = None;
                    return Err(AuditLogError::Read { path, source: source_err });
                }
            }
        }
    }

    /// Assembles the records into events with the default window.
    #[must_use]
    pub fn events(self) -> Events {
        self.events_with(Window::default())
    }

    #[must_use]
    pub fn events_with(self, window: Window) -> Events {
        Events { reader: self, assembler: EventAssembler::new(window), done: false }
    }
}

impl Iterator for LogReader {
    type Item = Result<Record, AuditLogError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Turns a line into a record, or into a warning.
#[inline]
pub(super) fn to_record(item: Item<'_>, file: &Arc<Path>, warnings: &mut Warnings) -> Option<Record> {
    match item {
        Item::Line { bytes, line, offset } => match parse_record(bytes, file, line, offset, warnings) {
            Ok(record) => Some(record),
            Err(e) => {
                warnings.push(Warning { file: file.clone(), line, offset, kind: WarningKind::Malformed(e) });
                None
            }
        },
        Item::TooLong { line, offset, len } => {
            warnings.push(Warning { file: file.clone(), line, offset, kind: WarningKind::TooLong { len } });
            None
        }
    }
}

/// The last line of a file that will not grow, which has no newline: auditd's last write, or a file
/// copied or edited without the final newline. If it is a record it is read as one, as auparse does;
/// otherwise it was cut in the middle of a write.
pub(super) fn last_line(item: Item<'_>, file: &Arc<Path>, warnings: &mut Warnings) -> Option<Record> {
    let (line, offset, len) = match item {
        Item::Line { bytes, line, offset } => match parse_record(bytes, file, line, offset, warnings) {
            Ok(record) => return Some(record),
            Err(_) => (line, offset, bytes.len() as u64),
        },
        Item::TooLong { line, offset, len } => (line, offset, len),
    };
    warnings.push(Warning { file: file.clone(), line, offset, kind: WarningKind::Unterminated { len } });
    None
}

/// A record from a line, kept even with bytes that are not text (with a warning).
#[inline]
fn parse_record(
    bytes: &[u8],
    file: &Arc<Path>,
    line: u64,
    offset: u64,
    warnings: &mut Warnings,
) -> Result<Record, LineError> {
    let (record, repaired) = Record::parse_lossy(bytes, Location { file: file.clone(), line, offset })?;
    if let Some(e) = repaired {
        warnings.push(Warning { file: file.clone(), line, offset, kind: WarningKind::Repaired(e) });
    }
    Ok(record)
}

/// Events from a [`LogReader`], each complete; open events are flushed when the input ends.
pub struct Events {
    reader: LogReader,
    assembler: EventAssembler,
    done: bool,
}

impl Events {
    #[must_use]
    pub fn warnings(&self) -> &Warnings {
        self.reader.warnings()
    }
}

impl Iterator for Events {
    type Item = Result<Event, AuditLogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.assembler.pop() {
                if event.dropped > 0 {
                    let Location { file, line, offset } = event.records[0].location.clone();
                    let kind = WarningKind::EventTooLarge { event: event.id, dropped: event.dropped };
                    self.reader.warnings.push(Warning { file, line, offset, kind });
                }
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            match self.reader.next_record() {
                Ok(Some(record)) => self.assembler.push(record),
                Ok(None) => {
                    self.assembler.flush();
                    self.done = true;
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
