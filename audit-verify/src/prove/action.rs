//! What the prover runs: one concrete call with its credentials and expected outcome. A leaf below the
//! planner, the evaluator and the executor, which all speak about it (it depends only on the recipe table).

use std::path::{Path, PathBuf};

use super::recipes::{A, Expect, Need, OWN_FD, OWN_PATH, OWN_SOCKET, Recipe, SEALED_FD, SEALED_PATH, mutation_note};
use crate::{rules::fields, syscalls::Abi};

/// The child's credentials: `uid`/`gid` are (real, effective, saved); fsuid/fsgid follow the effective
/// ids. `auid: None` keeps the loginuid the child inherits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub auid: Option<u32>,
    pub uid: [u32; 3],
    pub gid: [u32; 3],
}

impl Creds {
    pub(super) fn of(need: Need) -> Self {
        let id = if need == Need::NonRoot { NOBODY } else { 0 };
        Self { auid: None, uid: [id; 3], gid: [id; 3] }
    }

    pub fn is_root(&self) -> bool {
        self.uid == [0; 3] && self.gid == [0; 3]
    }
}

pub(super) const NOBODY: u32 = 65534;

/// One concrete call, as the executor runs it.
#[derive(Debug, Clone)]
pub struct Action {
    pub abi: Abi,
    pub nr: u32,
    pub recipe: &'static Recipe,
    /// Values for the free arguments the rule constrains.
    pub overrides: [Option<u64>; 6],
    pub creds: Creds,
    pub expect: Expect,
    pub perm: u32,
    /// What `A::Path` names, and `A::Path2`.
    pub object: Option<PathBuf>,
    pub object2: Option<PathBuf>,
    /// The object's mode, for `A::Mode`.
    pub mode: u32,
    pub on_target: bool,
}

impl Action {
    /// Argument `i` as the kernel will see it, where known before the call.
    pub fn arg_value(&self, i: usize) -> Option<u64> {
        if let Some(v) = self.overrides.get(i).copied().flatten() {
            return Some(self.width(v));
        }
        match self.recipe.args.get(i)? {
            A::N(v) => Some(self.width(*v as u64)),
            A::Bad => Some(BAD_POINTER),
            A::Mode => Some(u64::from(self.mode & 0o7777)),
            _ => None,
        }
    }

    fn width(&self, v: u64) -> u64 {
        if self.abi == Abi::B32 { v & 0xffff_ffff } else { v }
    }

    pub fn mutation(&self) -> Option<String> {
        let object = self.object.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
        self.recipe.mutation.then(|| mutation_note(self.recipe, &object, self.on_target))
    }

    /// `openat(AT_FDCWD, "/etc/passwd", 0x30001) [b64] as uid=0 auid=1000, expecting ENOTDIR`.
    pub fn describe(&self) -> String {
        let args: Vec<String> = (0..self.recipe.args.len()).map(|i| self.describe_arg(i)).collect();
        let abi = match self.abi {
            Abi::B64 => "b64",
            Abi::B32 => "b32 via int 0x80",
        };
        let c = &self.creds;
        let mut who = format!("uid={} euid={} gid={}", c.uid[0], c.uid[1], c.gid[0]);
        if let Some(auid) = c.auid {
            who.push_str(&format!(" auid={auid}"));
        }
        format!("{}({}) [{abi}] as {who}, expecting {}", self.recipe.name, args.join(", "), expect_text(self.expect))
    }

    fn describe_arg(&self, i: usize) -> String {
        if let Some(v) = self.overrides[i] {
            return format!("{v:#x}");
        }
        let path = |p: &Option<PathBuf>| format!("\"{}\"", p.as_deref().unwrap_or(Path::new("")).display());
        match self.recipe.args[i] {
            A::N(-100) => "AT_FDCWD".into(),
            A::N(v) if (0..10).contains(&v) || v == -1 => v.to_string(),
            A::N(v) => format!("{v:#o}"),
            A::Path => path(&self.object),
            A::Path2 => path(&self.object2),
            A::Str(s) => format!("\"{s}\""),
            A::Bad => format!("{BAD_POINTER:#x} (unmapped)"),
            A::Buf | A::Bytes(_) => "buf".into(),
            A::Mode => format!("{:#o}", self.mode & 0o7777),
            A::SelfPid => "self".into(),
            A::ChildPid => "its own waiting child".into(),
            A::SealedFd => format!("{SEALED_FD} (its own memfd, sealed against shrinking)"),
            A::SealedPath => format!("\"{SEALED_PATH}\" (its own memfd, sealed against shrinking)"),
            A::OwnFd => format!("{OWN_FD} (its own memfd)"),
            A::OwnPath => format!("\"{OWN_PATH}\" (its own memfd)"),
            A::OwnSocket => format!("{OWN_SOCKET} (its own TCP socket)"),
            A::Loopback => "127.0.0.1 (the prover's own listener)".into(),
        }
    }
}

/// A pointer into page zero, below `vm.mmap_min_addr`: never mapped, so every copy from it fails.
pub const BAD_POINTER: u64 = 8;

/// Whether a call that returned `ret` (negative: -errno) did what `e` planned.
pub fn returned_as_expected(e: Expect, ret: i64) -> bool {
    match e {
        Expect::Ok(v) => ret == v,
        Expect::OkAny | Expect::NoReturn => ret >= 0,
        Expect::Err(errno) => ret == -i64::from(errno),
        Expect::ErrAny | Expect::ProbeW => ret < 0,
        Expect::ProbeR => true,
    }
}

pub fn expect_text(e: Expect) -> String {
    let errno = |e: i32| fields::errno_name(e as u32).map_or(e.to_string(), str::to_owned);
    match e {
        Expect::Ok(v) => format!("success ({v})"),
        Expect::OkAny => "success".into(),
        Expect::Err(e) => errno(e),
        Expect::ErrAny => "an error".into(),
        Expect::ProbeW | Expect::ProbeR => "ENOTDIR/EISDIR".into(),
        Expect::NoReturn => "no return (the child exits)".into(),
    }
}
