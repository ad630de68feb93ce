//! auditd's own state report: on SIGCONT (what `auditctl --signal state` sends) auditd writes
//! `key = value` lines to `/run/audit/auditd.state` (audit 3.1+) or `/run/auditd.state` (3.0). It is the
//! one place auditd tells whether it suspended logging, met a disk error or overflowed its plugin
//! queue. An auditd that writes no report (older, or gone) leaves the layer empty, not failed.

use std::{
    path::{Path, PathBuf},
    time::SystemTime,
};

/// Where auditd writes the report, newest layout first.
pub const PATHS: [&str; 2] = ["/run/audit/auditd.state", "/run/auditd.state"];

/// What `watch` reads from the report. A line auditd does not write (an older version) is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateReport {
    pub logging_suspended: Option<bool>,
    pub disk_error: Option<bool>,
    pub plugin_queue_overflow: Option<bool>,
    pub plugin_queue_depth: Option<u64>,
    /// `space left on partition = no`: auditd found the log's file system full.
    pub no_space_left: Option<bool>,
}

impl StateReport {
    /// Parses the report's `key = value` lines; unknown lines are skipped (every auditd adds some).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut r = Self::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(" = ") else { continue };
            let yes = match value.trim() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            match key.trim() {
                "logging suspended" => r.logging_suspended = yes,
                "disk error detected" => r.disk_error = yes,
                "plugin queue overflow detected" => r.plugin_queue_overflow = yes,
                "space left on partition" => r.no_space_left = yes.map(|y| !y),
                "current plugin queue depth" => r.plugin_queue_depth = value.trim().parse().ok(),
                _ => {}
            }
        }
        r
    }
}

/// Asks auditd (`pid`, as the kernel registered it) for a fresh report, as `auditctl --signal state`
/// does; the report is read at the next interval. SIGCONT is also the signal that resumes a stopped
/// process, so an auditd someone stopped (SIGSTOP, a debugger) is left stopped and not asked.
pub fn request(pid: u32) {
    if stopped(pid) {
        log::debug!("auditd ({pid}) is stopped: not asking it for its state report, which would resume it");
        return;
    }
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid > 0 {
        // SAFETY: kill(2) with a valid signal; a gone pid is ESRCH, nothing else.
        unsafe { libc::kill(pid, libc::SIGCONT) };
    }
}

/// Whether process `pid` is stopped (state `T`, or `t` under a tracer).
fn stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        // "pid (comm) state ...": comm may hold spaces or parentheses, so split at the last ") ".
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with(['T', 't'])))
}

/// The newest report among `paths` and when it was written; `None` when auditd writes none.
#[must_use]
pub fn read(paths: &[PathBuf]) -> Option<(StateReport, SystemTime)> {
    paths
        .iter()
        .filter_map(|p| Some((p, std::fs::metadata(p).ok()?.modified().ok()?)))
        .max_by_key(|(_, at)| *at)
        .and_then(|(p, at)| Some((StateReport::parse(&std::fs::read_to_string(Path::new(p)).ok()?), at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As audit 3.0.9 writes it (Debian bookworm), trimmed.
    const REPORT: &str = "audit version = 3.0.9\ncurrent time = 12/01/26 11:55:54\nwriting to logs = yes\n\
        space left on partition = yes\nlogging suspended = no\ndisk error detected = no\n\
        Number of active plugins = 1\ncurrent plugin queue depth = 17\nplugin queue size = 2000\n\
        plugin queue overflow detected = yes\nplugin queueing suspended = no\n";

    #[test]
    fn reads_the_lines_watch_exports_and_skips_the_rest() {
        let r = StateReport::parse(REPORT);
        assert_eq!(
            r,
            StateReport {
                logging_suspended: Some(false),
                disk_error: Some(false),
                plugin_queue_overflow: Some(true),
                plugin_queue_depth: Some(17),
                no_space_left: Some(false),
            }
        );
        assert_eq!(StateReport::parse("garbage\n= =\n"), StateReport::default());
    }

    #[test]
    fn a_stopped_process_is_told_from_a_running_one() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let pid = child.id();
        assert!(!stopped(pid));
        // SAFETY: stopping and killing our own child.
        unsafe { libc::kill(pid.cast_signed(), libc::SIGSTOP) };
        let stopped_soon = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            stopped(pid)
        });
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(stopped_soon);
    }

    #[test]
    fn no_report_is_no_layer() {
        assert_eq!(read(&[PathBuf::from("/nonexistent/auditd.state")]), None);
    }
}
