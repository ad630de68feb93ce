//! Runs one planned action in a forked child and reaps it.
//!
//! The child sets its loginuid (a write to /proc/self/loginuid, which needs `CAP_AUDIT_CONTROL`, so first),
//! drops supplementary groups, sets its gids and uids, makes the one call, reports the result through a
//! pipe and exits. Between fork and exit it makes raw syscalls only: the parent has other threads (the
//! multicast reader), so the child must not allocate or take locks. Strings live in a `MAP_32BIT` arena,
//! mapped before the fork, because i386 calls (`int 0x80`) take 32-bit pointers.
//!
//! An `openat` action can also be made as its `io_uring` twin ([`run_via_io_uring`]): the child sets up a
//! ring of its own and submits `IORING_OP_OPENAT` with the same arguments, which the kernel audits on the
//! `io_uring` filter list, not the exit list (`audit_uring_exit`, kernel/auditsc.c, Linux 5.16+).

use std::{io, os::unix::ffi::OsStrExt, path::Path};

use super::{
    action::{Action, BAD_POINTER, Creds},
    recipes::{A, Expect, OWN_FD, OWN_PATH, OWN_SOCKET, SEALED_FD, SEALED_PATH},
};
use crate::syscalls::Abi;

/// What happened in the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// The call returned this (negative: -errno).
    Returned(i64),
    /// `exit`/`exit_group`: the child reached the call; it does not return.
    Exited,
    /// A step before the call failed: the action did not run.
    SetupFailed { step: &'static str, errno: i32 },
    /// The child ended otherwise (a signal, the 5 s alarm).
    Died(String),
}

const STEP_LOGINUID: u8 = 1;
const STEP_GROUPS: u8 = 2;
const STEP_GID: u8 = 3;
const STEP_UID: u8 = 4;
const STEP_CHILD: u8 = 5;
const STEP_SEALED: u8 = 6;
const STEP_SOCKET: u8 = 7;
const STEP_URING: u8 = 8;
const STEP_DONE: u8 = 10;
const STEP_EXITING: u8 = 11;

fn step_name(step: u8) -> &'static str {
    match step {
        STEP_LOGINUID => "writing /proc/self/loginuid",
        STEP_GROUPS => "setgroups",
        STEP_GID => "setresgid",
        STEP_CHILD => "forking the child to signal",
        STEP_SEALED => "making the child's memfds",
        STEP_SOCKET => "making the child's socket",
        STEP_URING => "setting up the child's io_uring (io_uring_setup and its mmaps)",
        _ => "setresuid",
    }
}

/// Memory below 4 GiB for the arguments.
pub struct Arena {
    base: *mut u8,
    len: usize,
    used: usize,
    /// The listener `A::Loopback` connects to, bound on first use; connections are accepted and closed
    /// after each action, so its backlog never fills.
    loopback: Option<std::net::TcpListener>,
}

impl Arena {
    /// # Errors
    ///
    /// When the kernel refuses the 64 KiB `MAP_32BIT` mapping.
    pub fn new() -> io::Result<Self> {
        let len = 64 * 1024;
        // SAFETY: a fresh anonymous private mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { base: base.cast(), len, used: 0, loopback: None })
    }

    /// Copies `bytes` and a NUL in, returns the address.
    fn put(&mut self, bytes: &[u8]) -> u64 {
        let at = self.used;
        let end = (at + bytes.len() + 1).min(self.len);
        let n = end - at - 1;
        // SAFETY: `at..end` lies inside the mapping, which we own exclusively.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(at), n);
            *self.base.add(at + n) = 0;
        }
        self.used = (end + 7) & !7;
        self.base as u64 + at as u64
    }

    fn path(&mut self, p: &Path) -> u64 {
        self.put(p.as_os_str().as_bytes())
    }

    /// The `sockaddr_in` of our loopback listener, binding it first if needed.
    #[expect(clippy::cast_possible_truncation, reason = "AF_INET is 2; `sa_family_t` is its u16")]
    fn loopback(&mut self) -> io::Result<u64> {
        if self.loopback.is_none() {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            listener.set_nonblocking(true)?;
            self.loopback = Some(listener);
        }
        let port = self.loopback.as_ref().expect("bound above").local_addr()?.port();
        let mut addr = [0u8; 16];
        addr[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        addr[2..4].copy_from_slice(&port.to_be_bytes());
        addr[4..8].copy_from_slice(&[127, 0, 0, 1]);
        Ok(self.put(&addr))
    }

    /// Accepts and closes what our children connected.
    fn drain(&self) {
        if let Some(listener) = &self.loopback {
            while listener.accept().is_ok() {}
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// The call with its arguments as register values.
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent preparation steps of the child, read between fork and exit where nothing may allocate"
)]
struct Call {
    abi: Abi,
    nr: u32,
    args: [u64; 6],
    /// Where the child finds its own pid at run time (index into args), for `A::SelfPid`.
    self_pid: [bool; 6],
    /// Where it puts the pid of the grandchild it forks, for `A::ChildPid`.
    child_pid: [bool; 6],
    /// The child makes its two memfds first (`A::SealedFd`, `A::SealedPath`, `A::OwnFd`, `A::OwnPath`).
    sealed: bool,
    /// The child makes its TCP socket first (`A::OwnSocket`).
    socket: bool,
    exits: bool,
    /// Made as `IORING_OP_OPENAT` through a ring of the child's own, not as the syscall.
    uring: bool,
}

fn resolve(action: &Action, arena: &mut Arena) -> io::Result<Call> {
    arena.used = 0;
    let mut args = [0u64; 6];
    let mut self_pid = [false; 6];
    let mut child_pid = [false; 6];
    let sealed = action.recipe.args.iter().any(|a| matches!(a, A::SealedFd | A::SealedPath | A::OwnFd | A::OwnPath));
    for (i, a) in action.recipe.args.iter().enumerate() {
        args[i] = match (action.overrides[i], a) {
            (Some(v), _) => v,
            (None, A::N(v)) => v.cast_unsigned(),
            (None, A::Path) => arena.path(action.object.as_deref().unwrap_or(Path::new(""))),
            (None, A::Path2) => arena.path(action.object2.as_deref().unwrap_or(Path::new(""))),
            (None, A::Str(s)) => arena.put(s.as_bytes()),
            (None, A::Bad) => BAD_POINTER,
            (None, A::Buf) => arena.put(&[0; 64]),
            (None, A::Bytes(bytes)) => arena.put(bytes),
            (None, A::Mode) => u64::from(action.mode & 0o7777),
            (None, A::SelfPid) => {
                self_pid[i] = true;
                0
            }
            (None, A::ChildPid) => {
                child_pid[i] = true;
                0
            }
            (None, A::SealedFd) => SEALED_FD as u64,
            (None, A::SealedPath) => arena.put(SEALED_PATH.as_bytes()),
            (None, A::OwnFd) => OWN_FD as u64,
            (None, A::OwnPath) => arena.put(OWN_PATH.as_bytes()),
            (None, A::OwnSocket) => OWN_SOCKET as u64,
            (None, A::Loopback) => arena.loopback()?,
        };
    }
    let socket = action.recipe.args.contains(&A::OwnSocket);
    Ok(Call {
        abi: action.abi,
        nr: action.nr,
        args,
        self_pid,
        child_pid,
        sealed,
        socket,
        exits: action.expect == Expect::NoReturn,
        uring: false,
    })
}

/// Runs `action` in a child; returns the child's pid and what happened.
///
/// # Errors
///
/// When the action's arguments cannot be made concrete (the scratch memfd, socket or loopback
/// listener), or pipe2, fork or waitpid fails.
pub fn run(action: &Action, arena: &mut Arena) -> io::Result<(u32, Ran)> {
    let call = resolve(action, arena)?;
    run_call(&call, action, arena)
}

/// Runs an `openat` action as its `io_uring` twin: `IORING_OP_OPENAT` with the same directory fd, path,
/// flags and mode, submitted by the child through a ring it sets up itself (so the operation runs with
/// its credentials and loginuid, inline or in its own io-wq worker). The result is the completion's.
///
/// # Errors
///
/// As [`run`]; and `InvalidInput` for an action that is not a 64-bit `openat`.
pub fn run_via_io_uring(action: &Action, arena: &mut Arena) -> io::Result<(u32, Ran)> {
    if action.recipe.name != "openat" || action.abi != Abi::B64 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "only a 64-bit openat has an io_uring twin here"));
    }
    let mut call = resolve(action, arena)?;
    call.uring = true;
    run_call(&call, action, arena)
}

fn run_call(call: &Call, action: &Action, arena: &mut Arena) -> io::Result<(u32, Ran)> {
    let loginuid = action.creds.auid.map(|a| a.to_string());
    let change_ids = !action.creds.is_root();
    let mut fds = [0; 2];
    // SAFETY: a two-int array for pipe2.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (rfd, wfd) = (fds[0], fds[1]);
    // SAFETY: the child only makes raw syscalls on memory prepared before the fork, then _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: our own fds.
        unsafe {
            libc::close(rfd);
            libc::close(wfd);
        }
        return Err(e);
    }
    if pid == 0 {
        // SAFETY: in the child, see `child`.
        unsafe { child(call, loginuid.as_deref().map(str::as_bytes), change_ids, &action.creds, wfd) }
    }
    // SAFETY: the parent's copy of the write end.
    unsafe { libc::close(wfd) };
    let mut messages = Vec::new();
    let mut buf = [0u8; 16];
    loop {
        // SAFETY: reading into a 16-byte buffer we own.
        let n = unsafe { libc::read(rfd, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 16 {
            let [step, _, _, _, _, _, _, _, value @ ..] = buf;
            messages.push((step, i64::from_ne_bytes(value)));
            continue;
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        break;
    }
    // SAFETY: our read end.
    unsafe { libc::close(rfd) };
    let status = wait(pid)?;
    arena.drain();
    let ran = match messages.last() {
        Some((STEP_DONE, ret)) => Ran::Returned(*ret),
        Some((STEP_EXITING, _)) => Ran::Exited,
        Some((step, errno)) => {
            Ran::SetupFailed { step: step_name(*step), errno: i32::try_from(*errno).unwrap_or(i32::MAX) }
        }
        None => Ran::Died(status),
    };
    // Positive: fork failed above otherwise.
    Ok((pid.cast_unsigned(), ran))
}

fn wait(pid: libc::pid_t) -> io::Result<String> {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    })
}

/// The forked child. Raw syscalls only.
#[expect(
    clippy::too_many_lines,
    reason = "one raw-syscall sequence from fork to _exit; split, the no-allocation rule would span functions"
)]
unsafe fn child(call: &Call, loginuid: Option<&[u8]>, change_ids: bool, creds: &Creds, wfd: i32) -> ! {
    let report = |step: u8, value: i64| {
        let mut msg = [0u8; 16];
        msg[0] = step;
        msg[8..16].copy_from_slice(&value.to_ne_bytes());
        // SAFETY: a 16-byte message on our pipe.
        unsafe { libc::syscall(libc::SYS_write, wfd, msg.as_ptr(), 16) };
    };
    let errno = || -> i64 {
        // SAFETY: glibc's thread-local errno, valid in the child.
        i64::from(unsafe { *libc::__errno_location() })
    };
    let fail = |step: u8| -> ! {
        report(step, errno());
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(1) }
    };
    // SAFETY: every call below takes memory prepared before the fork.
    unsafe {
        // Whatever the call does, the child does not outlive 5 s.
        libc::syscall(libc::SYS_alarm, 5);
        if let Some(text) = loginuid {
            let fd = libc::syscall(libc::SYS_open, c"/proc/self/loginuid".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0
                || usize::try_from(libc::syscall(libc::SYS_write, fd, text.as_ptr(), text.len())) != Ok(text.len())
            {
                fail(STEP_LOGINUID);
            }
            libc::syscall(libc::SYS_close, fd);
            let own = libc::syscall(libc::SYS_memfd_create, c"audit-verify".as_ptr(), 0);
            if own < 0 || libc::syscall(libc::SYS_dup3, own, OWN_FD, 0) != OWN_FD {
                fail(STEP_SEALED);
            }
            libc::syscall(libc::SYS_close, own);
        }
        if change_ids {
            if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0 {
                fail(STEP_GROUPS);
            }
            let g = creds.gid;
            if libc::syscall(libc::SYS_setresgid, g[0], g[1], g[2]) != 0 {
                fail(STEP_GID);
            }
            let u = creds.uid;
            if libc::syscall(libc::SYS_setresuid, u[0], u[1], u[2]) != 0 {
                fail(STEP_UID);
            }
        }
        if call.sealed {
            // memfd_create(MFD_ALLOW_SEALING), 4096 bytes, F_ADD_SEALS(F_SEAL_SHRINK), moved to fd 1000;
            // then a plain one at fd 1001.
            let fd = libc::syscall(libc::SYS_memfd_create, c"audit-verify".as_ptr(), libc::MFD_ALLOW_SEALING);
            if fd < 0
                || libc::syscall(libc::SYS_ftruncate, fd, 4096) != 0
                || libc::syscall(libc::SYS_fcntl, fd, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) != 0
                || libc::syscall(libc::SYS_dup3, fd, SEALED_FD, 0) != SEALED_FD
            {
                fail(STEP_SEALED);
            }
            libc::syscall(libc::SYS_close, fd);
            let own = libc::syscall(libc::SYS_memfd_create, c"audit-verify".as_ptr(), 0);
            if own < 0 || libc::syscall(libc::SYS_dup3, own, OWN_FD, 0) != OWN_FD {
                fail(STEP_SEALED);
            }
            libc::syscall(libc::SYS_close, own);
        }
        if call.socket {
            let fd = libc::syscall(libc::SYS_socket, libc::AF_INET, libc::SOCK_STREAM, 0);
            if fd < 0 || libc::syscall(libc::SYS_dup3, fd, OWN_SOCKET, 0) != OWN_SOCKET {
                fail(STEP_SOCKET);
            }
            libc::syscall(libc::SYS_close, fd);
        }
        let mut args = call.args;
        let pid = libc::syscall(libc::SYS_getpid).cast_unsigned();
        for (i, is_pid) in call.self_pid.iter().enumerate() {
            if *is_pid {
                args[i] = pid;
            }
        }
        // A grandchild that only waits, to be signalled: it dies with the child (PDEATHSIG) or after 5 s
        // at the latest, and the child kills and reaps it after the call. A pid of 0 or -1 would signal
        // the process group or every process, so a failed fork ends the child before the call.
        let mut grandchild = 0;
        if call.child_pid.contains(&true) {
            grandchild = libc::syscall(libc::SYS_fork);
            if grandchild == 0 {
                libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::syscall(libc::SYS_alarm, 5);
                loop {
                    libc::syscall(libc::SYS_pause);
                }
            }
            if grandchild < 0 {
                fail(STEP_CHILD);
            }
            for (i, is_child) in call.child_pid.iter().enumerate() {
                if *is_child {
                    args[i] = grandchild.cast_unsigned();
                }
            }
        }
        if call.exits {
            report(STEP_EXITING, 0);
        }
        let ret = match call.abi {
            _ if call.uring => match uring_openat(&args) {
                Ok(ret) => ret,
                Err(errno) => {
                    report(STEP_URING, errno);
                    libc::_exit(1)
                }
            },
            Abi::B64 => {
                let r =
                    libc::syscall(libc::c_long::from(call.nr), args[0], args[1], args[2], args[3], args[4], args[5]);
                if r == -1 { -errno() } else { r }
            }
            Abi::B32 => syscall32(call.nr, &args),
        };
        if grandchild > 0 {
            libc::syscall(libc::SYS_kill, grandchild, libc::SIGKILL);
            libc::syscall(libc::SYS_wait4, grandchild, std::ptr::null_mut::<i32>(), 0, std::ptr::null_mut::<u8>());
        }
        report(STEP_DONE, ret);
        libc::_exit(0)
    }
}

/// `IORING_OP_OPENAT` (`include/uapi/linux/io_uring.h`): the operation number a URINGOP record names.
pub const IORING_OP_OPENAT: u32 = 18;

/// `IORING_OP_OPENAT` with openat's arguments (dirfd, path, flags, mode),
/// through a one-entry ring: raw syscalls on the stack and fresh mappings only, as the child requires.
/// `Ok` is the completion's result (an fd, closed at once, or -errno); `Err` the errno of a setup step.
#[expect(
    clippy::cast_ptr_alignment,
    reason = "the rings are page-aligned mappings, and the kernel's offsets into them are multiples of 4"
)]
unsafe fn uring_openat(args: &[u64; 6]) -> Result<i64, i64> {
    const IORING_OFF_SQ_RING: i64 = 0;
    const IORING_OFF_CQ_RING: i64 = 0x800_0000;
    const IORING_OFF_SQES: i64 = 0x1000_0000;
    const IORING_FEAT_SINGLE_MMAP: u32 = 1;
    const IORING_ENTER_GETEVENTS: u32 = 1;
    let errno = || -> i64 {
        // SAFETY: glibc's thread-local errno, valid in the child.
        i64::from(unsafe { *libc::__errno_location() })
    };
    // struct io_uring_params, as u32 words: sq_entries [0], cq_entries [1], features [5]; sq_off at byte 40
    // (head, tail, ring_mask, ring_entries, flags, dropped, array: [10..=16]); cq_off at byte 80 (head,
    // tail, ring_mask, ring_entries, overflow, cqes: [20..=25]).
    let mut p = [0u32; 30];
    // SAFETY: raw syscalls on our own stack array and on mappings made here; the child exits after.
    unsafe {
        let fd = libc::syscall(libc::SYS_io_uring_setup, 1u32, p.as_mut_ptr());
        if fd < 0 {
            return Err(errno());
        }
        let map = |len: usize, offset: i64| -> Result<*mut u8, i64> {
            let m = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                i32::try_from(fd).unwrap_or(-1),
                offset,
            );
            if m == libc::MAP_FAILED { Err(errno()) } else { Ok(m.cast()) }
        };
        let sq_len = p[16] as usize + p[0] as usize * 4;
        let cq_len = p[25] as usize + p[1] as usize * 16;
        let single = p[5] & IORING_FEAT_SINGLE_MMAP != 0;
        let sq = map(if single { sq_len.max(cq_len) } else { sq_len }, IORING_OFF_SQ_RING)?;
        let cq = if single { sq } else { map(cq_len, IORING_OFF_CQ_RING)? };
        let sqes = map(64, IORING_OFF_SQES)?;
        // struct io_uring_sqe: opcode @0, fd @4, addr @16, len @24 (the mode), open_flags @28.
        #[expect(clippy::cast_possible_truncation, reason = "the opcode is a u8 in the SQE")]
        {
            *sqes = IORING_OP_OPENAT as u8;
        }
        #[expect(clippy::cast_possible_truncation, reason = "openat's dirfd, flags and mode are ints")]
        {
            sqes.add(4).cast::<i32>().write_unaligned(args[0] as i32);
            sqes.add(16).cast::<u64>().write_unaligned(args[1]);
            sqes.add(24).cast::<u32>().write_unaligned(args[3] as u32);
            sqes.add(28).cast::<u32>().write_unaligned(args[2] as u32);
        }
        let tail = &*sq.add(p[11] as usize).cast::<std::sync::atomic::AtomicU32>();
        let mask = *sq.add(p[12] as usize).cast::<u32>();
        let at = tail.load(std::sync::atomic::Ordering::Acquire);
        *sq.add(p[16] as usize).cast::<u32>().add((at & mask) as usize) = 0;
        tail.store(at.wrapping_add(1), std::sync::atomic::Ordering::Release);
        let r = libc::syscall(libc::SYS_io_uring_enter, fd, 1u32, 1u32, IORING_ENTER_GETEVENTS, 0usize, 0usize);
        if r < 0 {
            return Err(errno());
        }
        let head = *cq.add(p[20] as usize).cast::<u32>();
        let cq_mask = *cq.add(p[22] as usize).cast::<u32>();
        // struct io_uring_cqe: user_data @0, res @8, 16 bytes each.
        let res = cq.add(p[25] as usize + (head & cq_mask) as usize * 16 + 8).cast::<i32>().read_unaligned();
        if res >= 0 {
            libc::syscall(libc::SYS_close, res);
        }
        Ok(i64::from(res))
    }
}

/// An i386 syscall from this 64-bit process: `int 0x80`, arguments in ebx, ecx, edx, esi, edi. rbx is
/// reserved by LLVM, so the first argument is swapped in and out of it.
#[expect(clippy::cast_possible_truncation, reason = "the i386 ABI takes each argument's low 32 bits")]
unsafe fn syscall32(nr: u32, args: &[u64; 6]) -> i64 {
    let mut eax = nr;
    // SAFETY: the caller passes pointers below 4 GiB (the arena) or deliberately bad ones; the compat
    // entry preserves every register but eax and r8-r11.
    unsafe {
        std::arch::asm!(
            "xchg rbx, {b}",
            "int 0x80",
            "xchg rbx, {b}",
            b = inout(reg) args[0] => _,
            inout("eax") eax,
            in("ecx") args[1] as u32,
            in("edx") args[2] as u32,
            in("esi") args[3] as u32,
            in("edi") args[4] as u32,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
        );
    }
    i64::from(eax.cast_signed())
}

/// Whether `int 0x80` works here: a child calls i386 getpid (20). With IA32 emulation disabled the
/// child dies of a signal, which is why this runs in a child.
#[must_use]
pub fn ia32_works() -> bool {
    // SAFETY: the child makes one raw call and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: as above.
        unsafe {
            let ret = syscall32(20, &[0; 6]);
            libc::_exit(i32::from(ret <= 0))
        }
    }
    if pid < 0 {
        return false;
    }
    let mut status = 0;
    // SAFETY: our child.
    while unsafe { libc::waitpid(pid, &raw mut status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}
