//! The state guard: the one way audit-verify changes kernel audit state.
//!
//! It snapshots the status and the loaded rules first and restores exactly that on drop, on error and on
//! SIGINT/SIGTERM/SIGHUP (before [`crate::stop`] exits with 128+signal; in a graceful command, the first
//! signal lets the command stop and drop the guard, which restores). Kernel audit state is
//! global to the machine, so guards also take an exclusive lock file: two guards, in one process or in
//! two, never change state at the same time. What cannot be restored is refused unless the guard is told
//! it runs in a disposable VM: `-e 2` and `--loginuid-immutable` (locked until reboot) and `-f 2` (panic
//! on failure).

use std::{
    fs::File,
    io,
    os::fd::AsRawFd,
    path::Path,
    process::Command,
    sync::{Arc, Mutex, Once},
};

use log::{error, info, warn};
use thiserror::Error;

use crate::{
    netlink::{
        AuditSocket, AuditStatus, NetlinkError, RawRule,
        status::{StatusChange, mask},
    },
    rules::{fields, parse},
};

/// Serializes guards across processes; in /run so it never outlives a boot.
pub const LOCK_PATH: &str = "/run/audit-verify.state.lock";

/// Where the guard runs, which decides what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// A real host: `-e 2` and `-f 2` are refused.
    Host,
    /// A throw-away VM (the QEMU harness): everything is allowed.
    DisposableVm,
}

#[derive(Debug, Error)]
pub enum GuardError {
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("audit rules are locked (enabled 2): nothing can be changed until reboot")]
    Locked,
    #[error("refused: {what} outside a disposable VM ({why})")]
    Forbidden { what: String, why: &'static str },
    #[error("the state guard already restored the state; no further change is allowed")]
    AlreadyRestored,
    #[error("lock file {path}")]
    Lock {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("state after restore differs from the snapshot: {0}")]
    RestoreMismatch(String),
}

/// What the guard found, and restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub status: AuditStatus,
    pub rules: Vec<RawRule>,
}

impl Snapshot {
    /// The kernel's audit status and rules, now.
    ///
    /// # Errors
    ///
    /// When the kernel cannot be asked (no `CAP_AUDIT_CONTROL`, a netlink failure).
    pub fn take(socket: &mut AuditSocket) -> Result<Self, NetlinkError> {
        Ok(Self { status: socket.status()?, rules: socket.list_rules()? })
    }

    /// The settings that differ from the snapshot in `now`, as (setting, snapshot value, current value).
    fn settings_differing(&self, now: &AuditStatus) -> Vec<(Setting, u32, u32)> {
        let mut out: Vec<_> = Setting::ALL
            .into_iter()
            .filter_map(|setting| Some((setting, setting.read(&self.status)?, setting.read(now)?)))
            .collect();
        out.retain(|(_, was, is)| was != is);
        out
    }
}

/// A kernel audit setting the guard may change and restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `-e`: 0 off, 1 on, 2 locked.
    Enabled,
    /// `-f`: 0 silent, 1 printk, 2 panic.
    Failure,
    /// `-r`: records per second.
    RateLimit,
    /// `-b`: records queued before the kernel drops.
    BacklogLimit,
    /// `--backlog_wait_time`: ticks a task waits for backlog room.
    BacklogWaitTime,
}

impl Setting {
    /// In restore order: `enabled` last, so rules and limits are in place before auditing switches back.
    pub const ALL: [Setting; 5] =
        [Setting::Failure, Setting::RateLimit, Setting::BacklogLimit, Setting::BacklogWaitTime, Setting::Enabled];

    /// The value in `status`; `None` where the kernel does not report it.
    fn read(self, status: &AuditStatus) -> Option<u32> {
        match self {
            Setting::Enabled => Some(status.enabled),
            Setting::Failure => Some(status.failure),
            Setting::RateLimit => Some(status.rate_limit),
            Setting::BacklogLimit => Some(status.backlog_limit),
            Setting::BacklogWaitTime => status.backlog_wait_time,
        }
    }

    /// The `AUDIT_SET` that sets this setting to `value`.
    fn change(self, value: u32) -> StatusChange {
        let none = StatusChange::default();
        match self {
            Setting::Enabled => StatusChange { mask: mask::ENABLED, enabled: value, ..none },
            Setting::Failure => StatusChange { mask: mask::FAILURE, failure: value, ..none },
            Setting::RateLimit => StatusChange { mask: mask::RATE_LIMIT, rate_limit: value, ..none },
            Setting::BacklogLimit => StatusChange { mask: mask::BACKLOG_LIMIT, backlog_limit: value, ..none },
            Setting::BacklogWaitTime => {
                StatusChange { mask: mask::BACKLOG_WAIT_TIME, backlog_wait_time: value, ..none }
            }
        }
    }
}

/// `Some` while changes are allowed and a restore is owed; `None` once restored.
type Pending = Arc<Mutex<Option<Snapshot>>>;

/// Guards alive in this process, for the signal watcher.
static ACTIVE: Mutex<Vec<Pending>> = Mutex::new(Vec::new());
static ON_SIGNAL: Once = Once::new();

pub struct StateGuard {
    socket: AuditSocket,
    pending: Pending,
    environment: Environment,
    _lock: File,
}

impl StateGuard {
    /// Takes the lock (waiting for other guards), then the snapshot.
    ///
    /// # Errors
    ///
    /// When the lock file or the kernel fails, or the kernel's rules are locked (`enabled 2`).
    pub fn new(environment: Environment) -> Result<Self, GuardError> {
        let lock = take_lock()?;
        let mut socket = AuditSocket::open()?;
        let snapshot = Snapshot::take(&mut socket)?;
        if snapshot.status.locked() {
            return Err(GuardError::Locked);
        }
        info!(
            "state guard: snapshot of {} rules, backlog_limit {}, rate_limit {}, enabled {}",
            snapshot.rules.len(),
            snapshot.status.backlog_limit,
            snapshot.status.rate_limit,
            snapshot.status.enabled
        );
        let pending = Arc::new(Mutex::new(Some(snapshot)));
        ON_SIGNAL.call_once(|| crate::stop::at_signal_exit(restore_after_signal));
        crate::stop::watch();
        ACTIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(pending.clone());
        Ok(Self { socket, pending, environment, _lock: lock })
    }

    /// The state as found when the guard was created.
    #[must_use]
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Runs one change while holding the pending lock, so that a signal cannot restore in the middle of it
    /// and no change lands after a restore.
    fn change<T>(&mut self, f: impl FnOnce(&mut AuditSocket) -> Result<T, GuardError>) -> Result<T, GuardError> {
        let pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if pending.is_none() {
            return Err(GuardError::AlreadyRestored);
        }
        f(&mut self.socket)
    }

    /// Changes one setting. `enabled 2` and `failure 2` need [`Environment::DisposableVm`].
    ///
    /// # Errors
    ///
    /// [`GuardError::Forbidden`] for those two on a host, else when the guard has restored already or the
    /// kernel refuses.
    pub fn set(&mut self, setting: Setting, value: u32) -> Result<(), GuardError> {
        match (setting, value) {
            (Setting::Enabled, 2) => self.allow("enabled 2 (-e 2)", "it locks the rules until reboot")?,
            (Setting::Failure, 2) => self.allow("failure 2 (-f 2)", "it panics the kernel when audit cannot log")?,
            _ => {}
        }
        self.change(|s| Ok(s.set_status(&setting.change(value))?))
    }

    /// Adds `rule` at the end of its list.
    ///
    /// # Errors
    ///
    /// When the guard has restored already or the kernel refuses the rule.
    pub fn add_rule(&mut self, rule: &RawRule) -> Result<(), GuardError> {
        self.change(|s| Ok(s.add_rule(rule)?))
    }

    /// Deletes `rule`.
    ///
    /// # Errors
    ///
    /// When the guard has restored already or the kernel has no such rule.
    pub fn delete_rule(&mut self, rule: &RawRule) -> Result<(), GuardError> {
        self.change(|s| Ok(s.delete_rule(rule)?))
    }

    /// Deletes every rule, as `auditctl -D` does.
    ///
    /// # Errors
    ///
    /// When the guard has restored already or the kernel fails.
    pub fn delete_all_rules(&mut self) -> Result<(), GuardError> {
        self.change(delete_all)
    }

    /// Runs `auditctl` with `args` (e.g. `-R file`), after checking that neither the arguments nor a rules
    /// file they name lock the kernel or set panic mode.
    ///
    /// # Errors
    ///
    /// [`GuardError::Forbidden`] for those on a host; when the guard has restored already, or auditctl
    /// cannot run or fails.
    pub fn run_auditctl(&mut self, args: &[&str]) -> Result<String, GuardError> {
        if let Some(what) = forbidden_in_args(args)? {
            self.allow(&what, "it cannot be undone without a reboot, or it panics the kernel")?;
        }
        let command = format!("auditctl {}", args.join(" "));
        self.change(|_| {
            let out = Command::new("auditctl")
                .args(args)
                .output()
                .map_err(|e| GuardError::Command { command: command.clone(), detail: e.to_string() })?;
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                return Err(GuardError::Command { command, detail: stderr.trim().to_owned() });
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        })
    }

    fn allow(&self, what: &str, why: &'static str) -> Result<(), GuardError> {
        match self.environment {
            Environment::DisposableVm => Ok(()),
            Environment::Host => Err(GuardError::Forbidden { what: what.to_owned(), why }),
        }
    }

    /// Restores now and reports how it went; dropping the guard does the same but can only log.
    ///
    /// # Errors
    ///
    /// When the kernel refuses a change, or the state after restoring differs from the snapshot.
    pub fn restore(mut self) -> Result<(), GuardError> {
        self.restore_pending()
    }

    fn restore_pending(&mut self) -> Result<(), GuardError> {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(snapshot) = pending.take() else { return Ok(()) };
        let result = restore(&mut self.socket, &snapshot);
        drop(pending);
        ACTIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|p| !Arc::ptr_eq(p, &self.pending));
        result
    }
}

impl Drop for StateGuard {
    fn drop(&mut self) {
        if let Err(e) = self.restore_pending() {
            error!("state guard: restoring kernel audit state failed: {e}");
        }
    }
}

fn take_lock() -> Result<File, GuardError> {
    let err = |source| GuardError::Lock { path: LOCK_PATH, source };
    let file = File::options().create(true).truncate(false).write(true).open(LOCK_PATH).map_err(err)?;
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        warn!("state guard: another audit-verify is changing audit state; waiting for it ({LOCK_PATH})");
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(err(io::Error::last_os_error()));
        }
    }
    Ok(file)
}

fn delete_all(socket: &mut AuditSocket) -> Result<(), GuardError> {
    for rule in socket.list_rules()? {
        socket.delete_rule(&rule)?;
    }
    Ok(())
}

/// Puts back the snapshot's rules (only if they changed, so that an untouched rule set is not reloaded)
/// and settings (in [`Setting::ALL`] order); then checks that the result equals the snapshot.
///
/// # Errors
///
/// [`GuardError::Locked`] when the kernel was locked since; when it refuses a change; or
/// [`GuardError::RestoreMismatch`].
pub fn restore(socket: &mut AuditSocket, snapshot: &Snapshot) -> Result<(), GuardError> {
    let now = socket.status()?;
    if now.locked() && !snapshot.status.locked() {
        return Err(GuardError::Locked);
    }
    if socket.list_rules()? != snapshot.rules {
        delete_all(socket)?;
        for rule in &snapshot.rules {
            socket.add_rule(rule)?;
        }
    }
    for (setting, was, _) in snapshot.settings_differing(&now) {
        socket.set_status(&setting.change(was))?;
    }
    let after = Snapshot::take(socket)?;
    let differing = snapshot.settings_differing(&after.status);
    if !differing.is_empty() || after.rules != snapshot.rules {
        return Err(GuardError::RestoreMismatch(format!(
            "settings {differing:?}, {} rules now vs {} before",
            after.rules.len(),
            snapshot.rules.len()
        )));
    }
    info!("state guard: kernel audit state restored ({} rules)", snapshot.rules.len());
    Ok(())
}

/// Before a signal ends the process ([`crate::stop`]): restore every pending snapshot.
fn restore_after_signal(signal: i32) {
    let pending: Vec<Pending> = ACTIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    for p in pending {
        let mut p = p.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(snapshot) = p.take() {
            warn!("state guard: signal {signal}: restoring kernel audit state");
            let result =
                AuditSocket::open().map_err(GuardError::from).and_then(|mut socket| restore(&mut socket, &snapshot));
            if let Err(e) = result {
                error!("state guard: restore after signal {signal} failed: {e}");
            }
        }
    }
}

/// `-e 2`, `-f 2` or `--loginuid-immutable` in auditctl arguments, or in a rules file given with `-R`.
/// The arguments are split by the rules reader's own getopt-like tokenizer, so every spelling auditctl
/// accepts (`-e2`, `-b 320 -e 2`, `--loginuid`) is seen.
fn forbidden_in_args(args: &[&str]) -> Result<Option<String>, GuardError> {
    for opt in parse::options(args) {
        if let Some(what) = irreversible(&opt) {
            return Ok(Some(format!("auditctl {what}")));
        }
        if let ("-R", Some(file)) = (opt.option.as_str(), opt.value) {
            let text = std::fs::read_to_string(file).map_err(|e| GuardError::Command {
                command: format!("auditctl -R {file}"),
                detail: format!("cannot read {file}: {e}"),
            })?;
            if let Some((line, what)) = forbidden_in_rules_text(&text) {
                return Ok(Some(format!("{what} at {}:{line}", Path::new(file).display())));
            }
        }
    }
    Ok(None)
}

/// The first line of a rules file that cannot be undone (`-e 2`, `-f 2`, `--loginuid-immutable`, in any
/// spelling and anywhere on the line), as (1-based line, the option). Only whole-line comments are
/// skipped, as `auditctl -R` skips them; a `#` later on a line is no comment to auditctl.
#[must_use]
pub fn forbidden_in_rules_text(text: &str) -> Option<(usize, &'static str)> {
    text.lines().enumerate().find_map(|(i, line)| {
        if line.trim_start().starts_with('#') {
            return None;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        parse::options(&words).iter().find_map(irreversible).map(|what| (i + 1, what))
    })
}

/// Whether one option cannot be undone without a reboot (or panics the kernel). Values are read as the
/// rules reader reads numbers, so `-e 0x2` is `-e 2` too.
fn irreversible(opt: &parse::Opt<'_>) -> Option<&'static str> {
    let is_two = || opt.value.and_then(|v| fields::number(v).ok()) == Some(2);
    match opt.option.as_str() {
        "-e" if is_two() => Some("-e 2"),
        "-f" if is_two() => Some("-f 2"),
        "--loginuid-immutable" => Some("--loginuid-immutable"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lock_and_panic_lines_but_not_comments() {
        assert_eq!(forbidden_in_rules_text("-D\n-b 8192\n# -e 2\n-e 1\n"), None);
        assert_eq!(forbidden_in_rules_text("-D\n-w /etc/passwd -p wa\n-e 2\n"), Some((3, "-e 2")));
        assert_eq!(forbidden_in_rules_text("  -f 2  # panic\n"), Some((1, "-f 2")));
        assert_eq!(
            forbidden_in_rules_text("## 11-loginuid\n--loginuid-immutable\n"),
            Some((2, "--loginuid-immutable"))
        );
    }

    #[test]
    fn auditctl_arguments_that_lock_are_found() {
        assert!(forbidden_in_args(&["-e", "2"]).unwrap().is_some());
        assert!(forbidden_in_args(&["-b", "2"]).unwrap().is_none());
        assert!(forbidden_in_args(&["--loginuid-immutable"]).unwrap().is_some());
        assert!(forbidden_in_args(&["-R", "/nonexistent/rules"]).is_err());
    }

    /// Every spelling auditctl's getopt accepts; none of these is ever run.
    #[test]
    fn every_getopt_spelling_is_refused() {
        for args in [
            &["-e2"][..],
            &["-f2"],
            &["-b", "320", "-e", "2"],
            &["-D", "-e", "2"],
            &["-De2"],
            &["-e", "0x2"],
            &["-b", "320", "--loginuid-immutable"],
            &["--loginuid"],
            &["-r", "5", "-f", "2"],
        ] {
            assert!(forbidden_in_args(args).unwrap().is_some(), "{args:?} was not refused");
        }
        for args in [&["-e", "1"][..], &["-k", "-e2"], &["-f", "1"], &["-b", "2"], &["-e", "0"]] {
            assert_eq!(forbidden_in_args(args).unwrap(), None, "{args:?}");
        }
    }

    #[test]
    fn every_spelling_is_refused_in_rules_files() {
        for (text, what) in [
            ("-e2\n", "-e 2"),
            ("-f2\n", "-f 2"),
            ("-b 320 -e 2\n", "-e 2"),
            ("-D -e 2\n", "-e 2"),
            ("-b 320 --loginuid-immutable\n", "--loginuid-immutable"),
            ("-w /etc/x -k y # -e 2\n", "-e 2"),
        ] {
            assert_eq!(forbidden_in_rules_text(text), Some((1, what)), "{text:?}");
        }
        let dir = std::env::temp_dir().join(format!("audit-verify-guard-test-{}", std::process::id()));
        std::fs::write(&dir, "-D\n-b 320 -e 2\n").unwrap();
        let found = forbidden_in_args(&["-R", dir.to_str().unwrap()]);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(found.unwrap().unwrap(), format!("-e 2 at {}:2", dir.display()));
    }
}
