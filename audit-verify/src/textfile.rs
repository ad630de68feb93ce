//! Report files other programs read while we may be writing them: `node_exporter`'s textfile collector
//! scrapes `*.prom` whenever it likes, and CI picks up a `JUnit` file as soon as it exists. Writing in place
//! lets them read half a file (a truncated Prometheus file is read as the whole truth, so series
//! vanish), and a crash mid-write leaves it so. Every report file is therefore written to a temporary
//! file in the same directory (a rename is atomic only within one file system), flushed to disk, then
//! renamed over the target: a reader sees the old file or the new one, never a mix.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write as _},
    path::{Path, PathBuf},
};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: not a file path")]
    NotAFile { path: PathBuf },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Replaces `path` with `contents` atomically and durably.
///
/// # Errors
///
/// When `path` names no file, or writing, syncing or renaming the temporary file fails.
pub fn write(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let name = path.file_name().ok_or_else(|| WriteError::NotAFile { path: path.to_owned() })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // A leading dot and no `.prom` suffix: the textfile collector ignores the file while it is written.
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| WriteError::Io { path, source }
    };
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()
    })()
    .map_err(io_err(&tmp))
    .and_then(|()| fs::rename(&tmp, path).map_err(io_err(path)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // The rename itself is durable only once the directory is flushed.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("audit-verify-textfile-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_the_file_without_touching_what_a_reader_holds() {
        let dir = scratch("replace");
        let path = dir.join("audit.prom");
        fs::write(&path, "old 1\n").unwrap();
        // A scraper that opened the file before the write must still read the old file whole: in-place
        // writing would truncate what it holds.
        let mut reader = File::open(&path).unwrap();
        write(&path, b"new 2\n").unwrap();
        let mut held = String::new();
        reader.read_to_string(&mut held).unwrap();
        assert_eq!(held, "old 1\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "new 2\n");
        let left: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from("audit.prom")], "no temporary file is left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_a_typed_error_naming_the_temporary_file() {
        let dir = scratch("missing");
        let path = dir.join("no/such/dir/report.xml");
        match write(&path, b"x") {
            Err(WriteError::Io { path: at, .. }) => assert!(at.starts_with(dir.join("no/such/dir")), "{at:?}"),
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert!(matches!(write(Path::new("/"), b"x"), Err(WriteError::NotAFile { .. })));
        fs::remove_dir_all(&dir).unwrap();
    }
}
