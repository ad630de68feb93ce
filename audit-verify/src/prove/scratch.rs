//! The prover's scratch directory: the only place its actions may point at besides the rules' own
//! targets, created before the proof and removed after it (also on error, by `Drop`).
//!
//! ```text
//! /tmp/audit-verify-prove-PID-NANOS/   0755 root (in $TMPDIR when others can reach it)
//!     readable                         0644 root, empty: O_NOATIME by a non-owner is EPERM
//!     locked/                          0700 root: a non-root lookup of locked/x is EACCES
//!     victims/                         files made for one --allow-mutation call each
//!     writable                         0666 root, empty: writable by all, owned by root
//!     sticky/                          1777 root: a non-root caller may not remove sticky/f
//!         f                            0644 root
//!     dir/                             0755 root: link() of a directory is EPERM (`linked` never exists)
//! ```
//! `missing/x` is never created: every lookup of it is ENOENT.
//!
//! Nothing may outlive the run: a signal that ends the process removes the live directories first
//! ([`crate::stop`]), and because SIGKILL cannot be caught, each run also removes the directories that
//! dead runs left ([`remove_stale`]).

use std::{
    fs, io,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{Mutex, Once},
    time::{SystemTime, UNIX_EPOCH},
};

/// Every scratch directory is named `PREFIX<pid>-<nanos>`.
const PREFIX: &str = "audit-verify-prove-";

/// Scratch directories alive in this process, for removal before a signal exits it.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static ON_SIGNAL: Once = Once::new();

/// The paths the planner fills in.
#[derive(Debug, Clone)]
pub struct Paths {
    pub missing: PathBuf,
    pub missing2: PathBuf,
    pub locked: PathBuf,
    pub readable: PathBuf,
    pub victim: PathBuf,
    pub victim2: PathBuf,
    pub writable: PathBuf,
    pub sticky: PathBuf,
    pub sticky2: PathBuf,
    pub dir: PathBuf,
    pub beside_dir: PathBuf,
}

impl Paths {
    /// The layout of a scratch directory at `root` (nothing is created).
    pub fn under(root: &Path) -> Self {
        Self {
            missing: root.join("missing/x"),
            missing2: root.join("missing/y"),
            locked: root.join("locked/x"),
            readable: root.join("readable"),
            victim: root.join("victims/v"),
            victim2: root.join("victims/v.2"),
            writable: root.join("writable"),
            sticky: root.join("sticky/f"),
            sticky2: root.join("sticky/g"),
            dir: root.join("dir"),
            beside_dir: root.join("linked"),
        }
    }
}

/// Every directory above `path` lets others search it (x for others), so a non-root child reaches it.
pub fn searchable_by_others(path: &Path) -> bool {
    path.ancestors().skip(1).all(|dir| fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// Where the scratch tree goes: non-root children must reach it, and $TMPDIR is often a directory of
/// root's own (0700), so /tmp and then /run stand in for it.
fn base() -> PathBuf {
    let tmpdir = std::env::temp_dir();
    candidates().into_iter().find(|dir| dir.is_dir() && searchable_by_others(&dir.join("scratch"))).unwrap_or(tmpdir)
}

/// Every directory [`base`] may choose.
fn candidates() -> [PathBuf; 3] {
    [std::env::temp_dir(), PathBuf::from("/tmp"), PathBuf::from("/run")]
}

/// The pid in a scratch directory's name, if the name is exactly ours (`PREFIX<pid>-<digits>`).
fn owner_pid(name: &str) -> Option<i32> {
    let (pid, nanos) = name.strip_prefix(PREFIX)?.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (all_digits(pid) && all_digits(nanos)).then(|| pid.parse().ok()).flatten()
}

/// Whether `pid` names a live process (kill 0: EPERM means it lives, as another user's).
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes scratch directories that runs killed by SIGKILL (or a crash) left in `dirs`: only a real
/// directory (never a symlink), owned by root, named exactly as ours, whose pid is not alive. A live pid
/// is left alone even if it was reused: a directory left a little longer is the safe mistake.
/// Returns what was removed.
pub fn remove_stale(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else { continue };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(owner_pid) else { continue };
            let path = entry.path();
            // symlink_metadata: a symlink named like ours is not followed, and not ours.
            let Ok(meta) = fs::symlink_metadata(&path) else { continue };
            if !meta.file_type().is_dir() || meta.uid() != 0 || pid == std::process::id() as i32 || alive(pid) {
                continue;
            }
            // remove_dir_all does not follow symlinks inside the tree either.
            match fs::remove_dir_all(&path) {
                Ok(()) => {
                    log::info!("prove: removed {} left by a run that died (pid {pid})", path.display());
                    removed.push(path);
                }
                Err(e) => log::warn!("prove: cannot remove {} left by pid {pid}: {e}", path.display()),
            }
        }
    }
    removed
}

/// Before a signal exits the process: remove the live scratch directories.
fn remove_live(_signal: i32) {
    for root in LIVE.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
        let _ = fs::remove_dir_all(root);
    }
}

pub struct Scratch {
    root: PathBuf,
    pub paths: Paths,
}

impl Scratch {
    pub fn create() -> io::Result<Self> {
        remove_stale(&candidates());
        ON_SIGNAL.call_once(|| crate::stop::at_signal_exit(remove_live));
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let root = base().join(format!("{PREFIX}{}-{nanos}", std::process::id()));
        fs::DirBuilder::new().mode(0o755).create(&root)?;
        LIVE.lock().unwrap_or_else(|p| p.into_inner()).push(root.clone());
        // The umask may have narrowed the mode; the layout depends on it.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
        let scratch = Self { paths: Paths::under(&root), root };
        let locked = scratch.root.join("locked");
        fs::DirBuilder::new().mode(0o700).create(&locked)?;
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700))?;
        fs::write(&scratch.paths.readable, b"")?;
        fs::set_permissions(&scratch.paths.readable, fs::Permissions::from_mode(0o644))?;
        fs::DirBuilder::new().mode(0o755).create(scratch.root.join("victims"))?;
        fs::write(&scratch.paths.writable, b"")?;
        fs::set_permissions(&scratch.paths.writable, fs::Permissions::from_mode(0o666))?;
        let sticky = scratch.root.join("sticky");
        fs::DirBuilder::new().mode(0o755).create(&sticky)?;
        fs::write(&scratch.paths.sticky, b"")?;
        fs::set_permissions(&scratch.paths.sticky, fs::Permissions::from_mode(0o644))?;
        // Made world-writable only once its file is in place.
        fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777))?;
        fs::DirBuilder::new().mode(0o755).create(&scratch.paths.dir)?;
        Ok(scratch)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh victim for one mutating call: the file exists, its second name does not.
    pub fn reset_victim(&self) -> io::Result<()> {
        let victims = self.root.join("victims");
        fs::remove_dir_all(&victims)?;
        fs::DirBuilder::new().mode(0o755).create(&victims)?;
        fs::write(&self.paths.victim, b"audit-verify scratch\n")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        LIVE.lock().unwrap_or_else(|p| p.into_inner()).retain(|r| *r != self.root);
        if let Err(e) = fs::remove_dir_all(&self.root) {
            log::error!("prove: cannot remove the scratch directory {}: {e}", self.root.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_exact_names_carry_a_pid() {
        assert_eq!(owner_pid("audit-verify-prove-123-456"), Some(123));
        for name in ["audit-verify-prove-123", "audit-verify-prove-12a-4", "audit-verify-prove--4", "x-prove-1-2"] {
            assert_eq!(owner_pid(name), None, "{name}");
        }
    }

    /// Needs root (the owner check); runs in a private directory, so it touches nothing else.
    #[test]
    fn stale_directories_of_dead_runs_go_and_nothing_else_does() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = std::env::temp_dir().join(format!("audit-verify-scratch-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // A pid that cannot be alive: above the kernel's pid_max limit.
        let dead = dir.join(format!("{PREFIX}{}-1", 1 << 23));
        fs::create_dir_all(dead.join("locked")).unwrap();
        let live = dir.join(format!("{PREFIX}1-1"));
        fs::create_dir(&live).unwrap();
        let target = dir.join("target");
        fs::create_dir(&target).unwrap();
        let link = dir.join(format!("{PREFIX}{}-2", 1 << 23));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let other = dir.join("audit-verify-other-99999999-1");
        fs::create_dir(&other).unwrap();

        let removed = remove_stale(std::slice::from_ref(&dir));
        let left: Vec<bool> =
            [&dead, &live, &target, &link, &other].iter().map(|p| p.symlink_metadata().is_ok()).collect();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(removed, [dead]);
        assert_eq!(left, [false, true, true, true, true], "dead, live (pid 1), symlink target, symlink, other prefix");
    }
}
