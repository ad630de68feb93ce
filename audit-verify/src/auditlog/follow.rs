//! Follows a growing audit.log, as `tail -F` does, through auditd's rotations.
//!
//! auditd rotates by renaming `audit.log` to `audit.log.1` and creating a new `audit.log`. We keep the
//! old file open, so when the path names another inode we read the old file to its end, then go on with
//! the file written after it from its start: no record is lost or read twice. A half-written last line is
//! held until its newline arrives. When auditd rotated more than once since our last read (a `measure`
//! window reads its log at the end), the file after ours is not the newest: ours is `audit.log.N` by then,
//! and the next is `audit.log.N-1`.

use std::{
    fs::{self, File},
    io::{self, Read, Seek, SeekFrom},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::Arc,
};

use super::{
    AuditLogError,
    reader::{last_line, to_record},
    record::Record,
    split::LineSplitter,
    warnings::{Warning, WarningKind, Warnings},
};

pub struct Follower {
    path: PathBuf,
    /// The name records are reported under: the path as it was when the file was opened.
    name: Arc<Path>,
    lines: LineSplitter<File>,
    /// (device, inode) of the open file.
    identity: (u64, u64),
    /// The path named another file at our last end of file: one more read of the old file, then switch.
    rotated: bool,
    warnings: Warnings,
}

impl Follower {
    /// Follows `path` from byte `offset`: 0 for the whole file, its length for new records only, or a
    /// [`Follower::position`] saved earlier. An offset past the end (the file was replaced) starts at 0.
    ///
    /// # Errors
    ///
    /// When `path` cannot be opened or its metadata read.
    pub fn open(path: &Path, offset: u64) -> Result<Self, AuditLogError> {
        let open_err = |source| AuditLogError::Open { path: path.to_owned(), source };
        let mut file = File::open(path).map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        let mut warnings = Warnings::default();
        let name: Arc<Path> = Arc::from(path);
        let offset = if offset > meta.len() {
            warnings.push(Warning {
                file: name.clone(),
                line: 0,
                offset,
                kind: WarningKind::Truncated { size: meta.len(), offset },
            });
            0
        } else {
            offset
        };
        let lines_before = count_lines(&mut file, offset).map_err(open_err)?;
        file.seek(SeekFrom::Start(offset)).map_err(open_err)?;
        Ok(Self {
            path: path.to_owned(),
            name,
            lines: LineSplitter::new(file, offset, lines_before),
            identity: (meta.dev(), meta.ino()),
            rotated: false,
            warnings,
        })
    }

    /// The offset of the first byte not yet returned in a record (a held partial line starts here).
    /// The path followed (the name, which a rotation points at a new file).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[must_use]
    pub fn position(&self) -> u64 {
        self.lines.position()
    }

    #[must_use]
    pub fn warnings(&self) -> &Warnings {
        &self.warnings
    }

    /// The next record, or `Ok(None)` when there is nothing more for now: call again later.
    ///
    /// # Errors
    ///
    /// When reading the file fails (a line that is not a record is a warning, not an error).
    pub fn next_record(&mut self) -> Result<Option<Record>, AuditLogError> {
        loop {
            match self.lines.next_item() {
                Ok(Some(item)) => {
                    if let Some(record) = to_record(item, &self.name, &mut self.warnings) {
                        return Ok(Some(record));
                    }
                    continue;
                }
                Ok(None) => {}
                Err(source) => return Err(AuditLogError::Read { path: self.path.clone(), source }),
            }
            // At the end of the open file: has auditd rotated it, or has someone truncated it?
            let meta = match fs::metadata(&self.path) {
                Ok(meta) => meta,
                // Renamed, and the new file is not there yet.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(AuditLogError::Open { path: self.path.clone(), source }),
            };
            if (meta.dev(), meta.ino()) != self.identity {
                if !self.rotated {
                    // Whatever was written before the rename is in the old file: read it first.
                    self.rotated = true;
                    continue;
                }
                // The old file is done: a last line without its newline will never be finished.
                if let Some(item) = self.lines.take_partial()
                    && let Some(record) = last_line(item, &self.name, &mut self.warnings)
                {
                    return Ok(Some(record));
                }
                if !self.switch_to_new_file()? {
                    return Ok(None);
                }
                continue;
            }
            if meta.len() < self.lines.position() {
                let (size, offset) = (meta.len(), self.lines.position());
                let kind = WarningKind::Truncated { size, offset };
                self.warnings.push(Warning { file: self.name.clone(), line: self.lines.lines(), offset, kind });
                *self = Self { warnings: std::mem::take(&mut self.warnings), ..Self::open(&self.path, 0)? };
                continue;
            }
            return Ok(None);
        }
    }

    /// Goes on with the file auditd wrote after ours. False if it cannot be opened yet.
    fn switch_to_new_file(&mut self) -> Result<bool, AuditLogError> {
        let next = self.next_file();
        let file = match File::open(&next) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(AuditLogError::Open { path: next, source }),
        };
        let meta = file.metadata().map_err(|source| AuditLogError::Open { path: next.clone(), source })?;
        self.name = Arc::from(next.as_path());
        self.lines = LineSplitter::new(file, 0, 0);
        self.identity = (meta.dev(), meta.ino());
        self.rotated = false;
        Ok(true)
    }
}

/// Rotated files auditd keeps at most (`num_logs` is below 1000).
const MAX_ROTATED: u32 = 999;

impl Follower {
    /// The file written after ours: `path.N-1` if ours is now `path.N` (`path` itself after `path.1`);
    /// `path` when ours is not among the rotated files (removed, or another rotation scheme).
    fn next_file(&self) -> PathBuf {
        let numbered = |n: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        for n in 1..=MAX_ROTATED {
            match fs::metadata(numbered(n)) {
                Ok(meta) if (meta.dev(), meta.ino()) == self.identity => {
                    return if n == 1 { self.path.clone() } else { numbered(n - 1) };
                }
                Ok(_) => {}
                Err(_) => break, // auditd numbers its files without gaps
            }
        }
        self.path.clone()
    }
}

/// Newlines in the first `len` bytes, so line numbers stay true when we start in the middle.
fn count_lines(file: &mut File, len: u64) -> io::Result<u64> {
    let mut buf = vec![0; 64 * 1024];
    let (mut left, mut lines) = (len, 0u64);
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        left -= n as u64;
    }
    Ok(lines)
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
