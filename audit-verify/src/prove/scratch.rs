//! The prover's scratch directory: the only place its actions may point at besides the rules' own
//! targets, created before the proof and removed after it (also on error, by `Drop`).
//!
//! ```text
//! /tmp/audit-verify-prove-PID-NANOS/   0755 root (in $TMPDIR when others can reach it)
//!     readable                         0644 root, empty: O_NOATIME by a non-owner is EPERM
//!     locked/                          0700 root: a non-root lookup of locked/x is EACCES
//!     victims/                         files made for one --allow-mutation call each
//! ```
//! `missing/x` is never created: every lookup of it is ENOENT.

use std::{
    fs, io,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

/// The paths the planner fills in.
#[derive(Debug, Clone)]
pub struct Paths {
    pub missing: PathBuf,
    pub missing2: PathBuf,
    pub locked: PathBuf,
    pub readable: PathBuf,
    pub victim: PathBuf,
    pub victim2: PathBuf,
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
    [tmpdir.clone(), PathBuf::from("/tmp"), PathBuf::from("/run")]
        .into_iter()
        .find(|dir| dir.is_dir() && searchable_by_others(&dir.join("scratch")))
        .unwrap_or(tmpdir)
}

pub struct Scratch {
    root: PathBuf,
    pub paths: Paths,
}

impl Scratch {
    pub fn create() -> io::Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let root = base().join(format!("audit-verify-prove-{}-{nanos}", std::process::id()));
        fs::DirBuilder::new().mode(0o755).create(&root)?;
        // The umask may have narrowed the mode; the layout depends on it.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
        let scratch = Self { paths: Paths::under(&root), root };
        let locked = scratch.root.join("locked");
        fs::DirBuilder::new().mode(0o700).create(&locked)?;
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700))?;
        fs::write(&scratch.paths.readable, b"")?;
        fs::set_permissions(&scratch.paths.readable, fs::Permissions::from_mode(0o644))?;
        fs::DirBuilder::new().mode(0o755).create(scratch.root.join("victims"))?;
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
        if let Err(e) = fs::remove_dir_all(&self.root) {
            log::error!("prove: cannot remove the scratch directory {}: {e}", self.root.display());
        }
    }
}
