//! Starts a command stopped before its `execve`, so a sensor can follow it from its first syscall.
//!
//! `std::process::Command::spawn` returns only after the child has exec'd, which is too late. Here the
//! child stops itself with SIGSTOP right after fork; the parent waits until it is stopped (so nothing the
//! child does after fork can be missed or raced), follows it, and sends SIGCONT. The first syscall the
//! child then enters is `execve`.

use std::{ffi::CString, io, os::unix::ffi::OsStrExt as _};

use anyhow::{Context as _, bail};

pub struct StoppedChild {
    pid: libc::pid_t,
    reaped: bool,
}

impl StoppedChild {
    /// Forks `argv[0]` (a path or a name searched in PATH) stopped before exec.
    ///
    /// # Errors
    ///
    /// When `argv` is empty, the program is not found, `fork` fails or the child ends before it stops.
    pub fn spawn(argv: &[String]) -> anyhow::Result<Self> {
        let program = argv.first().context("no command given")?;
        let path = which_path(program).with_context(|| format!("{program}: not found in PATH"))?;
        // Everything the child touches is built before fork: only async-signal-safe calls after it.
        let path = CString::new(path.as_os_str().as_bytes())?;
        let c_argv: Vec<CString> = argv.iter().map(|a| CString::new(a.as_bytes())).collect::<Result<_, _>>()?;
        let mut arg_ptrs: Vec<*const libc::c_char> = c_argv.iter().map(|a| a.as_ptr()).collect();
        arg_ptrs.push(std::ptr::null());
        // SAFETY: the child calls only raise, execv and _exit, all async-signal-safe.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => return Err(io::Error::last_os_error()).context("fork"),
            0 => unsafe {
                libc::raise(libc::SIGSTOP);
                libc::execv(path.as_ptr(), arg_ptrs.as_ptr());
                libc::_exit(127);
            },
            _ => {}
        }
        let mut child = Self { pid, reaped: false };
        let status = child.wait_raw(libc::WUNTRACED)?;
        if !libc::WIFSTOPPED(status) {
            child.reaped = true;
            bail!("the child ended before it could be followed (wait status {status:#x})");
        }
        Ok(child)
    }

    #[must_use]
    pub fn pid(&self) -> u32 {
        // A pid `fork` returned: positive.
        self.pid.cast_unsigned()
    }

    /// Lets the child exec and waits for it to end; returns its exit code (128+signal if killed).
    ///
    /// # Errors
    ///
    /// When the child cannot be continued or waited for.
    pub fn resume_and_wait(mut self) -> anyhow::Result<i32> {
        // SAFETY: our own, still unreaped child.
        if unsafe { libc::kill(self.pid, libc::SIGCONT) } != 0 {
            return Err(io::Error::last_os_error()).context("SIGCONT");
        }
        let status = self.wait_raw(0)?;
        self.reaped = true;
        Ok(if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) })
    }

    fn wait_raw(&mut self, flags: libc::c_int) -> anyhow::Result<libc::c_int> {
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            if unsafe { libc::waitpid(self.pid, &raw mut status, flags) } == self.pid {
                return Ok(status);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e).context("waitpid");
            }
        }
    }
}

impl Drop for StoppedChild {
    /// Never leaves a stopped child behind.
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: our own child; SIGKILL works on a stopped process.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = self.wait_raw(0);
        }
    }
}

fn which_path(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        return Some(program.into());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.is_file())
}
