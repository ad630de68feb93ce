//! auditd.conf: `key = value` lines, `#` comments. Every entry keeps its line so findings can cite it.
//!
//! [`startup`] says whether auditd itself accepts a file (its parser is stricter than `key = value`), and
//! [`builtin_default`] what auditd assumes for a key the file leaves out.

pub mod startup;

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
    // The OS error is in the message (status shows `to_string()` alone) and deliberately not a
    // `#[source]`: `{:#}` at the edge would print it a second time.
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: io::Error },
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
    /// The file as read, for [`startup::check`]; `None` when the file does not exist.
    pub text: Option<Vec<u8>>,
}

impl AuditdConf {
    /// The file at `path`, every line `key = value` or a comment.
    ///
    /// # Errors
    ///
    /// [`ConfError::Read`] when it cannot be read, [`ConfError::Syntax`] on the first other line.
    pub fn load(path: &Path) -> Result<Self, ConfError> {
        let bytes = fs::read(path).map_err(|error| ConfError::Read { path: path.to_owned(), error })?;
        let mut conf = Self::parse(path, &String::from_utf8_lossy(&bytes))?;
        conf.text = Some(bytes);
        Ok(conf)
    }

    /// auditd.conf as auditd reads it: a missing file is not an error (auditd logs "Config file … doesn't
    /// exist, skipping" and runs on its built-in defaults), and a line auditd would refuse is left out of
    /// [`Self::entries`] rather than failing: [`startup::check`] reports it with its line.
    ///
    /// # Errors
    ///
    /// [`ConfError::Read`] when the file exists but cannot be read.
    pub fn load_daemon(path: &Path) -> Result<Self, ConfError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Self { path: path.to_owned(), entries: Vec::new(), text: None });
            }
            Err(error) => return Err(ConfError::Read { path: path.to_owned(), error }),
        };
        let text = String::from_utf8_lossy(&bytes);
        let entries = text.lines().enumerate().filter_map(|(i, raw)| entry(raw, i + 1).ok().flatten()).collect();
        Ok(Self { path: path.to_owned(), entries, text: Some(bytes) })
    }

    /// The file exists (a tree may lack it; auditd then runs on its defaults).
    #[must_use]
    pub fn exists(&self) -> bool {
        self.text.is_some()
    }

    /// `text`, read from `path`, as [`Self::load`] parses it.
    ///
    /// # Errors
    ///
    /// [`ConfError::Syntax`] on the first line that is neither `key = value` nor a comment.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            match entry(raw, i + 1) {
                Ok(Some(e)) => entries.push(e),
                Ok(None) => {}
                Err(()) => return Err(ConfError::Syntax { path: path.to_owned(), line: i + 1, text: raw.to_owned() }),
            }
        }
        Ok(Self { path: path.to_owned(), entries, text: None })
    }

    /// The last value given for `key` (auditd keeps the last).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    #[must_use]
    pub fn log_file(&self) -> PathBuf {
        PathBuf::from(self.get("log_file").map_or(DEFAULT_LOG_FILE, |e| e.value.as_str()))
    }

    /// The value auditd uses for `key`: the file's (last) value, else auditd's built-in default.
    #[must_use]
    pub fn value(&self, key: &str) -> &str {
        self.get(key).map_or_else(|| builtin_default(key).unwrap_or(""), |e| e.value.as_str())
    }

    /// Whether auditd writes a local log. `log_format = NOLOG` sets `write_logs` off when auditd reads it
    /// (`log_format_parser`: "The NOLOG option is overriding the `write_logs` current setting"), so the
    /// order of the two lines decides. Returns the entry that turned writing off.
    #[must_use]
    pub fn log_writing_off(&self) -> Option<&Entry> {
        let mut off = None;
        for e in &self.entries {
            match e.key.as_str() {
                "write_logs" => off = e.value.eq_ignore_ascii_case("no").then_some(e),
                "log_format" if e.value.eq_ignore_ascii_case("nolog") => off = Some(e),
                _ => {}
            }
        }
        off
    }
}

/// One `key = value` line (`None`: blank or comment; `Err`: no `=` or no key).
fn entry(raw: &str, line: usize) -> Result<Option<Entry>, ()> {
    let text = raw.split('#').next().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (key, value) = text.split_once('=').ok_or(())?;
    let key = key.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(());
    }
    Ok(Some(Entry { key: key.to_ascii_lowercase(), value: value.trim().to_owned(), line }))
}

/// dpkg's record of installed packages (Debian, Ubuntu); RHEL's rpm database is not plain text.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// The upstream version of the installed auditd (`3.0.9` from dpkg's `1:3.0.9-1`), read from a dpkg
/// status file; `None` when dpkg does not list auditd as installed.
#[must_use]
pub fn installed_version(dpkg_status: &Path) -> Option<String> {
    let text = fs::read_to_string(dpkg_status).ok()?;
    let stanza = text.split("\n\n").find(|s| s.lines().any(|l| l == "Package: auditd"))?;
    if !stanza.lines().any(|l| l.starts_with("Status:") && l.ends_with(" installed")) {
        return None;
    }
    let version = stanza.lines().find_map(|l| l.strip_prefix("Version: "))?;
    let upstream = version.split_once(':').map_or(version, |(_, v)| v);
    Some(upstream.rsplit_once('-').map_or(upstream, |(v, _)| v).to_owned())
}

/// auditd's value for a key its configuration leaves out: `clear_config()` in src/auditd-config.c, the
/// same in audit 2.8, 3.0.x (Debian 12's 3.0.9, RHEL 9's 3.0.7–3.1.x) and 4.0
/// (<https://github.com/linux-audit/audit-userspace/blob/master/src/auditd-config.c>). These are not the
/// values of the shipped auditd.conf: a file that leaves out `disk_full_action` gets IGNORE, not the
/// SUSPEND Debian ships. The sizes are in MB; `num_logs` 0 and `max_log_file` 0 mean no rotation.
#[must_use]
#[expect(clippy::match_same_arms, reason = "a table by key, as auditd's source lists them, not by value")]
pub fn builtin_default(key: &str) -> Option<&'static str> {
    Some(match key {
        "local_events" | "write_logs" | "verify_email" | "use_libwrap" => "yes",
        "log_file" => DEFAULT_LOG_FILE,
        "log_format" => "RAW",
        "log_group" => "0",
        "priority_boost" => "4",
        "flush" => "NONE",
        "freq" | "num_logs" | "max_log_file" | "space_left" | "admin_space_left" => "0",
        "name_format" => "NONE",
        "max_log_file_action" => "IGNORE",
        "space_left_action" | "admin_space_left_action" | "disk_full_action" => "IGNORE",
        "disk_error_action" => "SYSLOG",
        "action_mail_acct" => "root",
        "tcp_listen_queue" => "5",
        "tcp_max_per_addr" => "1",
        "transport" => "TCP",
        "distribute_network" | "enable_krb5" => "no",
        // The dispatcher's: SYSLOG in audispd-config.c's clear_config() before 3.0 merged it into auditd,
        // and the value every shipped auditd.conf sets. (q_depth's built-in value changed across
        // versions: not assumed.)
        "overflow_action" => "SYSLOG",
        _ => return None,
    })
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
    fn reads_the_installed_version_from_dpkg() {
        let dir = std::env::temp_dir().join(format!("av-dpkg-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let status = dir.join("status");
        fs::write(
            &status,
            "Package: auditd-x\nStatus: install ok installed\nVersion: 9\n\nPackage: auditd\n\
             Status: install ok installed\nPriority: optional\nVersion: 1:3.0.9-1\n",
        )
        .unwrap();
        assert_eq!(installed_version(&status).as_deref(), Some("3.0.9"));
        fs::write(&status, "Package: auditd\nStatus: deinstall ok config-files\nVersion: 1:3.0.9-1\n").unwrap();
        assert_eq!(installed_version(&status), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn defaults_the_log_file() {
        let conf = AuditdConf::parse(Path::new("t"), "").unwrap();
        assert_eq!(conf.log_file(), PathBuf::from(DEFAULT_LOG_FILE));
    }
}
