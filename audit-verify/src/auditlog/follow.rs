//! Follows a growing audit.log, as `tail -F` does, through auditd's rotations.
//!
//! auditd rotates by renaming `audit.log` to `audit.log.1` and creating a new `audit.log`. We keep the
//! old file open, so when the path names another inode we read the old file to its end, then go on with
//! the new file from its start: no record is lost or read twice. A half-written last line is held until
//! its newline arrives.

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

    /// Goes on with the file the path now names. False if it cannot be opened yet.
    fn switch_to_new_file(&mut self) -> Result<bool, AuditLogError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(AuditLogError::Open { path: self.path.clone(), source }),
        };
        let meta = file.metadata().map_err(|source| AuditLogError::Open { path: self.path.clone(), source })?;
        self.name = Arc::from(self.path.as_path());
        self.lines = LineSplitter::new(file, 0, 0);
        self.identity = (meta.dev(), meta.ino());
        self.rotated = false;
        Ok(true)
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
