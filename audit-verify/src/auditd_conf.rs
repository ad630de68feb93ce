//! auditd.conf: `key = value` lines, `#` comments. Every entry keeps its line so findings can cite it.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use thiserror::Error;

pub const DEFAULT_PATH: &str = "/etc/audit/auditd.conf";
/// auditd's built-in default when `log_file` is absent.
pub const DEFAULT_LOG_FILE: &str = "/var/log/audit/audit.log";

#[derive(Debug, Error)]
pub enum ConfError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: expected `key = value`, found {text:?}")]
    Syntax { path: PathBuf, line: usize, text: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lower-cased, as auditd matches keys.
    pub key: String,
    pub value: String,
    /// 1-based.
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct AuditdConf {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

impl AuditdConf {
    pub fn load(path: &Path) -> Result<Self, ConfError> {
        let bytes = fs::read(path).map_err(|source| ConfError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &String::from_utf8_lossy(&bytes))
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(ConfError::Syntax { path: path.to_owned(), line: i + 1, text: raw.to_owned() });
            };
            let key = key.trim();
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(ConfError::Syntax { path: path.to_owned(), line: i + 1, text: raw.to_owned() });
            }
            entries.push(Entry { key: key.to_ascii_lowercase(), value: value.trim().to_owned(), line: i + 1 });
        }
        Ok(Self { path: path.to_owned(), entries })
    }

    /// The last value given for `key` (auditd keeps the last).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    pub fn log_file(&self) -> PathBuf {
        PathBuf::from(self.get("log_file").map_or(DEFAULT_LOG_FILE, |e| e.value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_values_and_lines() {
        let conf = AuditdConf::parse(
            Path::new("t.conf"),
            "# comment\n\nlog_file = /var/log/a.log\nLOG_FORMAT=ENRICHED # trailing\nlog_file = /x.log\n",
        )
        .unwrap();
        assert_eq!(conf.log_file(), PathBuf::from("/x.log"));
        let format = conf.get("log_format").unwrap();
        assert_eq!((format.value.as_str(), format.line), ("ENRICHED", 4));
    }

    #[test]
    fn a_line_without_equals_names_file_and_line() {
        let err = AuditdConf::parse(Path::new("/etc/audit/auditd.conf"), "a = b\nnonsense here\n").unwrap_err();
        assert_eq!(err.to_string(), "/etc/audit/auditd.conf:2: expected `key = value`, found \"nonsense here\"");
    }

    #[test]
    fn defaults_the_log_file() {
        let conf = AuditdConf::parse(Path::new("t"), "").unwrap();
        assert_eq!(conf.log_file(), PathBuf::from(DEFAULT_LOG_FILE));
    }
}
