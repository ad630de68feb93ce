//! The harmless invocations the planner may use, one table for every syscall it knows.
//!
//! Each entry is a call that the kernel audits (every syscall passes `audit_syscall_entry`/`_exit`) but
//! that cannot change anything outside the prover's child and scratch directory, because it fails before
//! it acts: a path that does not exist or that the caller may not search, an fd of -1, a pointer into the
//! unmapped page zero, a length the kernel checks first, or a capability the child dropped (`NonRoot`).
//! Where a call succeeds it changes only the child (its own credentials) or opens a file read-only.
//! Entries marked `mutation` change something and run only with `--allow-mutation`.
//!
//! A syscall absent from this table is never called: its rules end `unprovable`. Guessing arguments for
//! an unknown call is how a prover ends up calling `kill(-1, SIGKILL)`.

use crate::rules::fields::perm;

/// An argument template, made concrete in the child's low (MAP_32BIT) arena by the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum A {
    N(i64),
    /// The object path (see [`Obj`]).
    Path,
    /// A second path beside the object (rename/link targets): never existing.
    Path2,
    Str(&'static str),
    /// A pointer into page zero, which is never mapped (`vm.mmap_min_addr`): EFAULT.
    Bad,
    /// A pointer to 64 zero bytes.
    Buf,
    /// A pointer to these bytes.
    Bytes(&'static [u8]),
    /// The object's current mode (`chmod` to what it already is).
    Mode,
    /// The child's own pid.
    SelfPid,
    /// The pid of a grandchild the child forks for this one call: it only waits (pause), and the child
    /// kills and reaps it after the call, so a signal sent to it reaches nothing else.
    ChildPid,
    /// fd 1000: a memfd of the child's own, 4096 bytes, sealed against shrinking (F_SEAL_SHRINK), so a
    /// truncation fails with EPERM. It exists only in the child.
    SealedFd,
    /// `/proc/self/fd/1000`, the same memfd by path (for creat, truncate, open with O_TRUNC).
    SealedPath,
    /// fd 1001: another memfd of the child's own, unsealed, so truncating it succeeds and changes only it.
    OwnFd,
    /// `/proc/self/fd/1001`, that memfd by path.
    OwnPath,
    /// fd 1002: a TCP socket of the child's own, not connected.
    OwnSocket,
    /// A pointer to the `sockaddr_in` of the prover's own listener on 127.0.0.1 (16 bytes).
    Loopback,
}

/// The fd numbers the child's two memfds get, and their paths.
pub const SEALED_FD: i64 = 1000;
pub const SEALED_PATH: &str = "/proc/self/fd/1000";
pub const OWN_FD: i64 = 1001;
pub const OWN_PATH: &str = "/proc/self/fd/1001";
pub const OWN_SOCKET: i64 = 1002;

/// Credentials the call needs to behave as described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Any,
    /// euid 0.
    Root,
    /// euid != 0: the effective capabilities are gone, so privileged calls fail with EPERM.
    NonRoot,
}

/// What the path arguments name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obj {
    None,
    /// The rule's watched file or directory when it names one, else a path in a missing scratch directory.
    Auto,
    /// A path under a scratch directory only root may search (EACCES for anyone else).
    Locked,
    /// A scratch file, root-owned, mode 0644.
    Readable,
    /// A scratch file made for this one call (mutation entries).
    Victim,
    /// A scratch file, root-owned, mode 0666: a non-root caller may write it but does not own it, so
    /// O_NOATIME is EPERM after the permission check and before anything (a truncation) happens.
    Writable,
    /// A root-owned file in a sticky, world-writable scratch directory: a non-root caller may not
    /// remove or rename it (EPERM).
    Sticky,
    /// A scratch directory (link() of a directory is EPERM); the second path a name beside it.
    Dir,
}

/// What the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Ok(i64),
    /// Succeeds; the value (an fd, an old id) is not known in advance.
    OkAny,
    Err(i32),
    /// Fails; which errno depends on the kernel's order of checks.
    ErrAny,
    /// `O_WRONLY|O_DIRECTORY` probe: EISDIR on a directory, ENOTDIR on anything else.
    ProbeW,
    /// `O_RDONLY|O_DIRECTORY` probe: opens a directory (read-only, nothing read), ENOTDIR otherwise.
    ProbeR,
    /// exit/exit_group: the child's last call. The planner assumes it succeeds, as an operator would; the
    /// kernel never evaluates `success`/`exit` for a call that does not return, so such rules end `failed`.
    NoReturn,
}

#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    pub name: &'static str,
    pub args: &'static [A],
    pub need: Need,
    pub obj: Obj,
    /// Outcome when the path is missing/locked/scratch (or there is none).
    pub expect: Expect,
    /// Outcome on the rule's real target; `None`: never used on a real target.
    pub on_target: Option<Expect>,
    /// `AUDIT_PERM_*` class of the call, as the kernel classifies it (`-p`/`perm=`).
    pub perm: u32,
    /// Bit i: argument i may take any value the rule asks for (`-F a0=…`) and stays harmless.
    pub free: u8,
    pub mutation: bool,
}

const AT: i64 = -100;
const O_WRONLY: i64 = 1;
const O_DIRECTORY: i64 = 0o200000;
const O_NOFOLLOW: i64 = 0o400000;
const O_NOATIME: i64 = 0o1000000;
const O_NONBLOCK: i64 = 0o4000;
const O_CREAT: i64 = 0o100;
const O_TRUNC: i64 = 0o1000;
/// `IPC_PRIVATE` is 0; a key of ours that names no queue, for lookups that must not create one.
const IPC_KEY: i64 = 0x6176_6572;
const PROBE_W: i64 = O_WRONLY | O_DIRECTORY | O_NOFOLLOW;
const PROBE_R: i64 = O_DIRECTORY | O_NOFOLLOW;
const ENOENT: i32 = libc::ENOENT;
const EACCES: i32 = libc::EACCES;
const EPERM: i32 = libc::EPERM;
const EBADF: i32 = libc::EBADF;
const EFAULT: i32 = libc::EFAULT;
const EINVAL: i32 = libc::EINVAL;
const ESRCH: i32 = libc::ESRCH;
const XATTR: &str = "user.audit-verify";

const fn r(name: &'static str, args: &'static [A], need: Need, obj: Obj, expect: Expect, perm: u32) -> Recipe {
    Recipe { name, args, need, obj, expect, on_target: None, perm, free: 0, mutation: false }
}

/// Usable on a real target too, with outcome `on`.
const fn t(mut recipe: Recipe, on: Expect) -> Recipe {
    recipe.on_target = Some(on);
    recipe
}

const fn free(mut recipe: Recipe, bits: u8) -> Recipe {
    recipe.free = bits;
    recipe
}

const fn m(mut recipe: Recipe) -> Recipe {
    recipe.mutation = true;
    recipe
}

use A::*;
use Expect as E;
use Need::*;
use Obj as O;

const W: u32 = perm::WRITE;
const R: u32 = perm::READ;
const X: u32 = perm::EXEC;
const AT_: u32 = perm::ATTR;

/// In order of preference: the planner takes the first entry that satisfies the rule.
pub const RECIPES: &[Recipe] = &[
    // Opening with O_DIRECTORY fails after the lookup (the kernel has recorded the inode) and before any
    // open; O_NOFOLLOW keeps a watched symlink (/etc/localtime) the object.
    t(r("openat", &[N(AT), Path, N(PROBE_W)], Any, O::Auto, E::Err(ENOENT), W), E::ProbeW),
    t(r("open", &[Path, N(PROBE_W)], Any, O::Auto, E::Err(ENOENT), W), E::ProbeW),
    t(r("openat", &[N(AT), Path, N(PROBE_R)], Any, O::Auto, E::Err(ENOENT), R), E::ProbeR),
    t(r("open", &[Path, N(PROBE_R)], Any, O::Auto, E::Err(ENOENT), R), E::ProbeR),
    // execve opens the file, then fails copying argv from page zero: recorded, nothing runs.
    t(r("execve", &[Path, Bad, Bad], Any, O::Auto, E::Err(ENOENT), X), E::ErrAny),
    t(r("execveat", &[N(AT), Path, Bad, Bad, N(0)], Any, O::Auto, E::Err(ENOENT), X), E::ErrAny),
    // chmod to the current mode by someone who does not own the file: EPERM before any change.
    t(r("chmod", &[Path, Mode], NonRoot, O::Auto, E::Err(ENOENT), AT_), E::Err(EPERM)),
    t(r("fchmodat", &[N(AT), Path, Mode], NonRoot, O::Auto, E::Err(ENOENT), AT_), E::Err(EPERM)),
    // EACCES: a directory only root may search.
    r("openat", &[N(AT), Path, N(0)], NonRoot, O::Locked, E::Err(EACCES), R),
    r("open", &[Path, N(0)], NonRoot, O::Locked, E::Err(EACCES), R),
    r("creat", &[Path, N(0o600)], NonRoot, O::Locked, E::Err(EACCES), W),
    r("truncate", &[Path, N(0)], NonRoot, O::Locked, E::Err(EACCES), W),
    r("truncate64", &[Path, N(0), N(0)], NonRoot, O::Locked, E::Err(EACCES), W),
    r("chmod", &[Path, N(0o644)], NonRoot, O::Locked, E::Err(EACCES), AT_),
    r("unlink", &[Path], NonRoot, O::Locked, E::Err(EACCES), W),
    // EPERM: O_NOATIME on a file the caller does not own.
    r("openat", &[N(AT), Path, N(O_NOATIME)], NonRoot, O::Readable, E::Err(EPERM), R),
    r("open", &[Path, N(O_NOATIME)], NonRoot, O::Readable, E::Err(EPERM), R),
    r("chmod", &[Path, N(0o644)], NonRoot, O::Readable, E::Err(EPERM), AT_),
    r("fchmodat", &[N(AT), Path, N(0o644)], NonRoot, O::Readable, E::Err(EPERM), AT_),
    // O_CREAT|O_WRONLY|O_TRUNC: under the locked directory (EACCES for a non-root caller), and with
    // O_NOATIME on the 0666 scratch file the caller does not own (EPERM from may_open, which comes before
    // the truncation).
    r("openat", &[N(AT), Path, N(O_WRONLY | O_CREAT | O_TRUNC), N(0o600)], NonRoot, O::Locked, E::Err(EACCES), W),
    r("open", &[Path, N(O_WRONLY | O_CREAT | O_TRUNC), N(0o600)], NonRoot, O::Locked, E::Err(EACCES), W),
    r(
        "openat",
        &[N(AT), Path, N(O_WRONLY | O_CREAT | O_TRUNC | O_NOATIME), N(0o600)],
        NonRoot,
        O::Writable,
        E::Err(EPERM),
        W,
    ),
    r("open", &[Path, N(O_WRONLY | O_CREAT | O_TRUNC | O_NOATIME), N(0o600)], NonRoot, O::Writable, E::Err(EPERM), W),
    // Truncating the child's own sealed memfd: EPERM from shmem_setattr, nothing else is touched.
    r("creat", &[SealedPath, N(0o600)], Any, O::None, E::Err(EPERM), W),
    r("truncate", &[SealedPath, N(0)], Any, O::None, E::Err(EPERM), W),
    r("truncate64", &[SealedPath, N(0), N(0)], Any, O::None, E::Err(EPERM), W),
    r("ftruncate", &[SealedFd, N(0)], Any, O::None, E::Err(EPERM), W),
    r("ftruncate64", &[SealedFd, N(0), N(0)], Any, O::None, E::Err(EPERM), W),
    // Success on the child's own unsealed memfd: it is emptied, and it ends with the child.
    r("creat", &[OwnPath, N(0o600)], Any, O::None, E::OkAny, W),
    r("truncate", &[OwnPath, N(0)], Any, O::None, E::Ok(0), W),
    r("truncate64", &[OwnPath, N(0), N(0)], Any, O::None, E::Ok(0), W),
    r("ftruncate", &[OwnFd, N(0)], Any, O::None, E::Ok(0), W),
    r("ftruncate64", &[OwnFd, N(0), N(0)], Any, O::None, E::Ok(0), W),
    // Removing or renaming another user's file in a sticky directory: EPERM (check_sticky).
    r("unlink", &[Path], NonRoot, O::Sticky, E::Err(EPERM), W),
    r("unlinkat", &[N(AT), Path, N(0)], NonRoot, O::Sticky, E::Err(EPERM), W),
    r("rename", &[Path, Path2], NonRoot, O::Sticky, E::Err(EPERM), W),
    r("renameat", &[N(AT), Path, N(AT), Path2], NonRoot, O::Sticky, E::Err(EPERM), W),
    r("renameat2", &[N(AT), Path, N(AT), Path2, N(0)], NonRoot, O::Sticky, E::Err(EPERM), W),
    // A hard link to a directory: EPERM from vfs_link, after the permission checks root passes.
    r("link", &[Path, Path2], Root, O::Dir, E::Err(EPERM), W),
    r("linkat", &[N(AT), Path, N(AT), Path2, N(0)], Root, O::Dir, E::Err(EPERM), W),
    // Success that changes nothing: O_CREAT on a file that exists (nothing is created), and O_WRONLY on
    // the prover's own scratch file, closed without a write.
    r("openat", &[N(AT), Path, N(O_CREAT), N(0o600)], Any, O::Readable, E::OkAny, R),
    r("open", &[Path, N(O_CREAT), N(0o600)], Any, O::Readable, E::OkAny, R),
    r("openat", &[N(AT), Path, N(O_WRONLY)], Any, O::Writable, E::OkAny, W),
    r("open", &[Path, N(O_WRONLY)], Any, O::Writable, E::OkAny, W),
    // Success that changes nothing: a read-only open of a scratch file.
    r("openat", &[N(AT), Path, N(0)], Any, O::Readable, E::OkAny, R),
    r("open", &[Path, N(0)], Any, O::Readable, E::OkAny, R),
    // A path in a directory that does not exist: ENOENT from the lookup.
    r("chown", &[Path, N(-1), N(-1)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("lchown", &[Path, N(-1), N(-1)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("chown32", &[Path, N(-1), N(-1)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("lchown32", &[Path, N(-1), N(-1)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("fchownat", &[N(AT), Path, N(-1), N(-1), N(0)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("truncate", &[Path, N(0)], Any, O::Auto, E::Err(ENOENT), W),
    r("truncate64", &[Path, N(0), N(0)], Any, O::Auto, E::Err(ENOENT), W),
    r("creat", &[Path, N(0o600)], Any, O::Auto, E::Err(ENOENT), W),
    r("unlink", &[Path], Any, O::Auto, E::Err(ENOENT), W),
    r("unlinkat", &[N(AT), Path, N(0)], Any, O::Auto, E::Err(ENOENT), W),
    r("rmdir", &[Path], Any, O::Auto, E::Err(ENOENT), W),
    r("rename", &[Path, Path2], Any, O::Auto, E::Err(ENOENT), W),
    r("renameat", &[N(AT), Path, N(AT), Path2], Any, O::Auto, E::Err(ENOENT), W),
    r("renameat2", &[N(AT), Path, N(AT), Path2, N(0)], Any, O::Auto, E::Err(ENOENT), W),
    r("link", &[Path, Path2], Any, O::Auto, E::Err(ENOENT), W),
    r("linkat", &[N(AT), Path, N(AT), Path2, N(0)], Any, O::Auto, E::Err(ENOENT), W),
    r("symlink", &[Str("x"), Path], Any, O::Auto, E::Err(ENOENT), W),
    r("symlinkat", &[Str("x"), N(AT), Path], Any, O::Auto, E::Err(ENOENT), W),
    r("mkdir", &[Path, N(0o700)], Any, O::Auto, E::Err(ENOENT), W),
    r("mkdirat", &[N(AT), Path, N(0o700)], Any, O::Auto, E::Err(ENOENT), W),
    r("mknod", &[Path, N(0o10600), N(0)], Any, O::Auto, E::Err(ENOENT), W),
    r("mknodat", &[N(AT), Path, N(0o10600), N(0)], Any, O::Auto, E::Err(ENOENT), W),
    r("setxattr", &[Path, Str(XATTR), Buf, N(1), N(0)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("lsetxattr", &[Path, Str(XATTR), Buf, N(1), N(0)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("removexattr", &[Path, Str(XATTR)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("lremovexattr", &[Path, Str(XATTR)], Any, O::Auto, E::Err(ENOENT), AT_),
    r("utime", &[Path, N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("utimes", &[Path, N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("utimensat", &[N(AT), Path, N(0), N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("futimesat", &[N(AT), Path, N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("access", &[Path, N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("faccessat", &[N(AT), Path, N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("chdir", &[Path], Any, O::Auto, E::Err(ENOENT), 0),
    r("chroot", &[Path], Any, O::Auto, E::Err(ENOENT), 0),
    r("mount", &[Path, Path2, N(0), N(0), N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("umount2", &[Path, N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("umount", &[Path], Any, O::Auto, E::Err(ENOENT), 0),
    r("name_to_handle_at", &[N(AT), Path, Bad, Bad, N(0)], Any, O::Auto, E::Err(ENOENT), 0),
    r("swapon", &[Path, N(0)], NonRoot, O::Auto, E::Err(EPERM), W),
    r("swapoff", &[Path], NonRoot, O::Auto, E::Err(EPERM), 0),
    r("acct", &[Path], NonRoot, O::Auto, E::Err(EPERM), W),
    r("pivot_root", &[Path, Path2], NonRoot, O::Auto, E::Err(EPERM), 0),
    // fd -1: EBADF.
    r("fchmod", &[N(-1), N(0o644)], Any, O::None, E::Err(EBADF), AT_),
    r("fchown", &[N(-1), N(-1), N(-1)], Any, O::None, E::Err(EBADF), AT_),
    r("fchown32", &[N(-1), N(-1), N(-1)], Any, O::None, E::Err(EBADF), AT_),
    r("ftruncate", &[N(-1), N(0)], Any, O::None, E::Err(EBADF), W),
    r("ftruncate64", &[N(-1), N(0), N(0)], Any, O::None, E::Err(EBADF), W),
    r("fsetxattr", &[N(-1), Str(XATTR), Buf, N(1), N(0)], Any, O::None, E::Err(EBADF), AT_),
    r("fremovexattr", &[N(-1), Str(XATTR)], Any, O::None, E::Err(EBADF), AT_),
    r("fchdir", &[N(-1)], Any, O::None, E::Err(EBADF), 0),
    r("fsync", &[N(-1)], Any, O::None, E::Err(EBADF), 0),
    r("fdatasync", &[N(-1)], Any, O::None, E::Err(EBADF), 0),
    // Without CAP_DAC_READ_SEARCH: EPERM (may_decode_fh), once the handle's header (8 bytes of handle,
    // type 0) is read and before it is decoded.
    r("open_by_handle_at", &[N(AT), Bytes(&[8, 0, 0, 0, 0, 0, 0, 0]), N(0)], NonRoot, O::None, E::Err(EPERM), 0),
    // Clock, host name, modules, kexec, reboot: no capability (the child is not root) and arguments the
    // kernel rejects (page-zero pointers, a host name longer than 64).
    r("adjtimex", &[Bad], NonRoot, O::None, E::Err(EFAULT), 0),
    free(r("clock_adjtime", &[N(0), Bad], NonRoot, O::None, E::ErrAny, 0), 0b1),
    r("settimeofday", &[Bad, N(0)], NonRoot, O::None, E::ErrAny, 0),
    r("stime", &[Bad], NonRoot, O::None, E::ErrAny, 0),
    free(r("clock_settime", &[N(0), Bad], NonRoot, O::None, E::ErrAny, 0), 0b1),
    free(r("clock_settime64", &[N(0), Bad], NonRoot, O::None, E::ErrAny, 0), 0b1),
    r("sethostname", &[Bad, N(65)], NonRoot, O::None, E::ErrAny, 0),
    r("setdomainname", &[Bad, N(65)], NonRoot, O::None, E::ErrAny, 0),
    r("init_module", &[Bad, N(0), Bad], NonRoot, O::None, E::ErrAny, 0),
    r("finit_module", &[N(-1), Bad, N(0)], NonRoot, O::None, E::ErrAny, 0),
    r("delete_module", &[Bad, N(0)], NonRoot, O::None, E::ErrAny, 0),
    r("kexec_load", &[N(0), N(0), Bad, N(0)], NonRoot, O::None, E::ErrAny, 0),
    r("kexec_file_load", &[N(-1), N(-1), N(0), Bad, N(0)], NonRoot, O::None, E::ErrAny, 0),
    r("reboot", &[N(0), N(0), N(0), Bad], NonRoot, O::None, E::ErrAny, 0),
    // The child's own credentials: it exits right after.
    free(r("setuid", &[N(0)], Root, O::None, E::Ok(0), 0), 0b1),
    free(r("setgid", &[N(0)], Root, O::None, E::Ok(0), 0), 0b1),
    free(r("setuid32", &[N(0)], Root, O::None, E::Ok(0), 0), 0b1),
    free(r("setgid32", &[N(0)], Root, O::None, E::Ok(0), 0), 0b1),
    free(r("setreuid", &[N(-1), N(-1)], Root, O::None, E::Ok(0), 0), 0b11),
    free(r("setregid", &[N(-1), N(-1)], Root, O::None, E::Ok(0), 0), 0b11),
    free(r("setresuid", &[N(-1), N(-1), N(-1)], Root, O::None, E::Ok(0), 0), 0b111),
    free(r("setresgid", &[N(-1), N(-1), N(-1)], Root, O::None, E::Ok(0), 0), 0b111),
    free(r("setreuid32", &[N(-1), N(-1)], Root, O::None, E::Ok(0), 0), 0b11),
    free(r("setregid32", &[N(-1), N(-1)], Root, O::None, E::Ok(0), 0), 0b11),
    free(r("setresuid32", &[N(-1), N(-1), N(-1)], Root, O::None, E::Ok(0), 0), 0b111),
    free(r("setresgid32", &[N(-1), N(-1), N(-1)], Root, O::None, E::Ok(0), 0), 0b111),
    r("setfsuid", &[N(-1)], Any, O::None, E::OkAny, 0),
    r("setfsgid", &[N(-1)], Any, O::None, E::OkAny, 0),
    // Signal 0 to itself: a permission check, no signal.
    r("kill", &[SelfPid, N(0)], Any, O::None, E::Ok(0), 0),
    r("tkill", &[SelfPid, N(0)], Any, O::None, E::Ok(0), 0),
    r("tgkill", &[SelfPid, SelfPid, N(0)], Any, O::None, E::Ok(0), 0),
    // Any signal to a grandchild of our own that only waits; the child then kills and reaps it.
    free(r("kill", &[ChildPid, N(9)], Any, O::None, E::Ok(0), 0), 0b10),
    free(r("tkill", &[ChildPid, N(9)], Any, O::None, E::Ok(0), 0), 0b10),
    free(r("tgkill", &[ChildPid, ChildPid, N(9)], Any, O::None, E::Ok(0), 0), 0b100),
    // Any request but PTRACE_TRACEME (see `harmless`) on pid -1, which no process has: ESRCH.
    free(r("ptrace", &[N(2), N(-1), N(0), N(0)], Any, O::None, E::Err(ESRCH), 0), 0b1),
    // Sockets: a type that does not exist (EINVAL for every family the kernel knows), or fd -1.
    r("socket", &[N(2), N(15), N(0)], Any, O::None, E::Err(EINVAL), 0),
    free(r("socket", &[N(2), N(15), N(0)], Any, O::None, E::ErrAny, 0), 0b1),
    r("bind", &[N(-1), Bad, N(16)], Any, O::None, E::Err(EBADF), W),
    r("connect", &[N(-1), Bad, N(16)], Any, O::None, E::Err(EBADF), 0),
    // A connection to the prover's own listener on loopback, which accepts and closes it.
    r("connect", &[OwnSocket, Loopback, N(16)], Any, O::None, E::Ok(0), 0),
    r("listen", &[N(-1), N(0)], Any, O::None, E::Err(EBADF), 0),
    r("accept", &[N(-1), N(0), N(0)], Any, O::None, E::Err(EBADF), 0),
    r("accept4", &[N(-1), N(0), N(0), N(0)], Any, O::None, E::Err(EBADF), 0),
    r("uname", &[Bad], Any, O::None, E::Err(EFAULT), 0),
    // SysV IPC: a negative id, size or count, checked before any object is looked up or created
    // (IPC_PRIVATE would create one, so msgget looks up a key of ours without IPC_CREAT).
    r("msgget", &[N(IPC_KEY), N(0)], Any, O::None, E::ErrAny, 0),
    r("msgsnd", &[N(-1), Bad, N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("msgrcv", &[N(-1), Bad, N(0), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("msgctl", &[N(-1), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("semget", &[N(IPC_KEY), N(-1), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("semop", &[N(-1), Bad, N(1)], Any, O::None, E::Err(EINVAL), 0),
    r("semtimedop", &[N(-1), Bad, N(1), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("semctl", &[N(-1), N(0), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("shmget", &[N(0), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("shmat", &[N(-1), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("shmdt", &[N(1)], Any, O::None, E::Err(EINVAL), 0),
    r("shmctl", &[N(-1), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    // Flags the kernel rejects before acting: unknown memfd flags, CLONE_SIGHAND without CLONE_VM,
    // a clone3 struct of size 0, CLONE_VFORK for unshare, a mount_setattr struct of size 0, unknown
    // landlock flags, an ldt write of the wrong size.
    r("memfd_create", &[Str("audit-verify"), N(0x100)], Any, O::None, E::Err(EINVAL), 0),
    r("clone", &[N(0x800), N(0), N(0), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    // CLONE_NEWUSER|CLONE_NEWNS with CLONE_FS, for rules on namespace flags: EINVAL, the first check.
    r("clone", &[N(0x1002_0200), N(0), N(0), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("clone3", &[Bad, N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("unshare", &[N(0x4000)], Any, O::None, E::Err(EINVAL), 0),
    r("setns", &[N(-1), N(0)], Any, O::None, E::ErrAny, 0),
    r("mount_setattr", &[N(-1), Str(""), N(0), Bad, N(0)], Any, O::None, E::Err(EINVAL), 0),
    r("landlock_create_ruleset", &[N(0), N(0), N(0xffff)], Any, O::None, E::Err(EINVAL), 0),
    r("landlock_add_rule", &[N(-1), N(1), Bad, N(1)], Any, O::None, E::Err(EINVAL), 0),
    r("landlock_restrict_self", &[N(-1), N(0xffff_0000)], Any, O::None, E::ErrAny, 0),
    r("modify_ldt", &[N(1), Bad, N(0)], Any, O::None, E::Err(EINVAL), 0),
    // Memory: an unaligned address (mprotect) or a length of 0 (mmap), for any protection asked.
    free(r("mprotect", &[N(1), N(4096), N(0)], Any, O::None, E::Err(EINVAL), 0), 0b100),
    free(r("pkey_mprotect", &[N(1), N(4096), N(0), N(-1)], Any, O::None, E::Err(EINVAL), 0), 0b100),
    free(r("mmap", &[N(0), N(0), N(0), N(0x22), N(-1), N(0)], Any, O::None, E::Err(EINVAL), 0), 0b100),
    free(r("mmap2", &[N(0), N(0), N(0), N(0x22), N(-1), N(0)], Any, O::None, E::Err(EINVAL), 0), 0b100),
    // Deprecated: any protection but 0 is EINVAL, and so is an empty range.
    free(r("remap_file_pages", &[N(1), N(0), N(0), N(0), N(0)], Any, O::None, E::Err(EINVAL), 0), 0b100),
    r("exit_group", &[N(0)], Any, O::None, E::NoReturn, 0),
    r("exit", &[N(0)], Any, O::None, E::NoReturn, 0),
    // --allow-mutation only. Scratch files made for the one call: the system's files are untouched, but
    // the call does change something, which the report says.
    m(r("unlink", &[Path], Any, O::Victim, E::Ok(0), W)),
    m(r("unlinkat", &[N(AT), Path, N(0)], Any, O::Victim, E::Ok(0), W)),
    m(r("rename", &[Path, Path2], Any, O::Victim, E::Ok(0), W)),
    m(r("renameat", &[N(AT), Path, N(AT), Path2], Any, O::Victim, E::Ok(0), W)),
    m(r("renameat2", &[N(AT), Path, N(AT), Path2, N(0)], Any, O::Victim, E::Ok(0), W)),
    m(r("link", &[Path, Path2], Any, O::Victim, E::Ok(0), W)),
    m(r("chmod", &[Path, N(0o600)], Any, O::Victim, E::Ok(0), AT_)),
    m(r("fchmodat", &[N(AT), Path, N(0o600)], Any, O::Victim, E::Ok(0), AT_)),
    m(r("chown", &[Path, N(0), N(0)], Any, O::Victim, E::Ok(0), AT_)),
    m(r("lchown", &[Path, N(0), N(0)], Any, O::Victim, E::Ok(0), AT_)),
    m(r("fchownat", &[N(AT), Path, N(0), N(0), N(0)], Any, O::Victim, E::Ok(0), AT_)),
    m(r("truncate", &[Path, N(0)], Any, O::Victim, E::Ok(0), W)),
    m(r("creat", &[Path2, N(0o600)], Any, O::Victim, E::OkAny, W)),
    m(r("mkdir", &[Path2, N(0o700)], Any, O::Victim, E::Ok(0), W)),
    m(r("mkdirat", &[N(AT), Path2, N(0o700)], Any, O::Victim, E::Ok(0), W)),
    // The real target, changed back by the call itself: chmod to the mode it has (ctime moves), and an
    // open for writing closed without a write (inotify watchers see IN_CLOSE_WRITE).
    m(t(r("chmod", &[Path, Mode], Root, O::Auto, E::Err(ENOENT), AT_), E::Ok(0))),
    m(t(r("fchmodat", &[N(AT), Path, Mode], Root, O::Auto, E::Err(ENOENT), AT_), E::Ok(0))),
    m(t(
        r("openat", &[N(AT), Path, N(O_WRONLY | O_NOFOLLOW | O_NONBLOCK)], Root, O::Auto, E::Err(ENOENT), W),
        E::OkAny,
    )),
];

/// Outcomes no harmless call produces, and why: the reason `unprovable` gives instead of a generic one.
pub const NO_HARMLESS: &[(&str, i32, &str)] = &[
    (
        "ftruncate",
        EACCES,
        "ftruncate checks no file permission (a read-only fd is EINVAL): only an LSM makes it EACCES",
    ),
    (
        "ftruncate64",
        EACCES,
        "ftruncate checks no file permission (a read-only fd is EINVAL): only an LSM makes it EACCES",
    ),
    (
        "open_by_handle_at",
        EACCES,
        "open_by_handle_at needs CAP_DAC_READ_SEARCH, which passes every permission check: no caller gets EACCES from it harmlessly",
    ),
];

/// Whether the free argument values an action got stay harmless for its recipe: every free argument is,
/// except ptrace's request PTRACE_TRACEME (0), which acts on the caller instead of the missing pid.
pub fn harmless(recipe: &Recipe, overrides: &[Option<u64>; 6]) -> bool {
    !(recipe.name == "ptrace" && overrides[0] == Some(0))
}

/// What a mutation entry changes, for the report.
pub fn mutation_note(recipe: &Recipe, object: &str, on_target: bool) -> String {
    if on_target {
        return match recipe.name {
            "openat" | "open" => format!("opened {object} for writing and closed it without writing"),
            _ => format!("chmod of {object} to the mode it already has: mode unchanged, ctime updated"),
        };
    }
    format!("{} on {object}, a scratch file created for this proof and removed after it", recipe.name)
}
