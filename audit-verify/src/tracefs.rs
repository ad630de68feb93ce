//! tracefs (tracepoint attachment needs it) and debugfs (the kernel's kprobe registry). Hosts with
//! systemd mount both at boot; minimal hosts and containers may not. If one is missing we mount it for as
//! long as we need it and unmount it after, so the host is left as found.
//!
//! An unmount in `Drop` does not run when the process is killed, so the commands that may mount run in a
//! private mount namespace ([`private_mount_namespace`]): the mount exists only there and goes when the
//! last process in it exits, however it exits. Tracepoint ids read through that mount are global, so
//! attaching from inside works as from outside.

use std::{
    ffi::CString,
    fs, io,
    path::{Path, PathBuf},
};

use log::info;

const MOUNT_POINTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Moves this process into a mount namespace of its own, whose mounts never propagate back to the host.
///
/// Must run before any thread exists: `unshare(CLONE_NEWNS)` fails with EINVAL in a multi-threaded
/// process. `/` is made recursively a slave rather than private: our mounts still do not reach the host,
/// and mounts the host makes later (a log file system, say) still reach us. Reading another process's
/// files through `/proc/PID/root` (lint) is unaffected: that follows the other process's root, not ours.
///
/// # Errors
///
/// When `unshare` fails (a thread exists, or no `CAP_SYS_ADMIN`) or `/` cannot be made a slave.
pub fn private_mount_namespace() -> io::Result<()> {
    // SAFETY: no pointers; affects only this (single-threaded) process.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let root = c"/";
    // SAFETY: a NUL-terminated path; no source, type or data for a propagation change.
    let rc = unsafe {
        libc::mount(std::ptr::null(), root.as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_SLAVE, std::ptr::null())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Holds tracefs mounted; unmounts on drop only if we mounted it.
#[derive(Debug)]
pub struct Tracefs {
    root: PathBuf,
    mounted_by_us: bool,
}

impl Tracefs {
    /// tracefs where it is mounted, else mounted at its usual place.
    ///
    /// # Errors
    ///
    /// When it is not mounted and mounting it fails.
    pub fn ensure() -> io::Result<Self> {
        if let Some(root) = MOUNT_POINTS.iter().map(Path::new).find(|p| p.join("events").is_dir()) {
            return Ok(Self { root: root.to_owned(), mounted_by_us: false });
        }
        let root = PathBuf::from(MOUNT_POINTS[0]);
        mount("tracefs", &root)?;
        Ok(Self { root, mounted_by_us: true })
    }

    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The byte offset of `field` in a tracepoint's record, from its `format` file.
    ///
    /// # Errors
    ///
    /// When the `format` file cannot be read or declares no such field.
    pub fn field_offset(&self, category: &str, event: &str, field: &str) -> io::Result<u32> {
        let path = self.root.join("events").join(category).join(event).join("format");
        let text = fs::read_to_string(&path)?;
        parse_field_offset(&text, field).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("no field `{field}` in {}", path.display()))
        })
    }
}

impl Drop for Tracefs {
    fn drop(&mut self) {
        if self.mounted_by_us {
            unmount(&self.root);
        }
    }
}

/// debugfs, where the kernel lists every registered kprobe (`kprobes/list`).
#[derive(Debug)]
pub struct Debugfs {
    root: PathBuf,
    mounted_by_us: bool,
}

impl Debugfs {
    const ROOT: &str = "/sys/kernel/debug";

    /// debugfs, mounted if it is not.
    ///
    /// # Errors
    ///
    /// When it is not mounted and mounting it fails.
    pub fn ensure() -> io::Result<Self> {
        let root = PathBuf::from(Self::ROOT);
        let mounted = fs::read_dir(&root).is_ok_and(|mut d| d.next().is_some());
        if !mounted {
            mount("debugfs", &root)?;
        }
        Ok(Self { root, mounted_by_us: !mounted })
    }

    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Debugfs {
    fn drop(&mut self) {
        if self.mounted_by_us {
            unmount(&self.root);
        }
    }
}

fn mount(fstype: &str, target: &Path) -> io::Result<()> {
    let c_target = CString::new(target.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    let c_fstype = CString::new(fstype).map_err(io::Error::other)?;
    // SAFETY: NUL-terminated strings that outlive the call; no data argument.
    let rc = unsafe { libc::mount(c_fstype.as_ptr(), c_target.as_ptr(), c_fstype.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{fstype} is not mounted and mounting it failed: {e}")));
    }
    info!("mounted {fstype} at {} (unmounted again when done)", target.display());
    Ok(())
}

fn unmount(target: &Path) {
    if let Ok(c_target) = CString::new(target.as_os_str().as_encoded_bytes()) {
        // SAFETY: a NUL-terminated path. Lazy, so that a straggling reader does not keep it mounted.
        unsafe { libc::umount2(c_target.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Finds `offset:N;` on the line that declares `field` (`field:pid_t child_pid; offset:20;...`).
fn parse_field_offset(format: &str, field: &str) -> Option<u32> {
    format.lines().find_map(|line| {
        let decl = line.trim().strip_prefix("field:")?.split(';').next()?;
        let name = decl.rsplit([' ', '*']).next()?.split('[').next()?;
        if name != field {
            return None;
        }
        line.split(';').find_map(|part| part.trim().strip_prefix("offset:")?.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::parse_field_offset;

    /// The 6.18 layout (comms as `__data_loc`), where the classic fixed offsets would be wrong.
    const FORK_6_18: &str = "name: sched_process_fork\nformat:\n\
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
        \tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\
        \tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n\
        \tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n\
        \tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n";

    const FORK_CLASSIC: &str = "\tfield:char parent_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
        \tfield:pid_t parent_pid;\toffset:24;\tsize:4;\tsigned:1;\n\
        \tfield:char child_comm[16];\toffset:28;\tsize:16;\tsigned:0;\n\
        \tfield:pid_t child_pid;\toffset:44;\tsize:4;\tsigned:1;\n";

    #[test]
    fn reads_offsets_from_both_layouts() {
        assert_eq!(parse_field_offset(FORK_6_18, "child_pid"), Some(20));
        assert_eq!(parse_field_offset(FORK_CLASSIC, "child_pid"), Some(44));
        assert_eq!(parse_field_offset(FORK_CLASSIC, "child_comm"), Some(28));
        assert_eq!(parse_field_offset(FORK_6_18, "nope"), None);
    }
}
