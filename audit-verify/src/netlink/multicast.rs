//! The audit multicast read-log socket (group `AUDIT_NLGRP_READLOG`): every record kauditd sends to auditd
//! is also sent here. Binding it needs `CAP_AUDIT_READ` and makes the kernel log an `AUDIT_EVENT_LISTENER` record.

use std::{io, os::fd::AsRawFd, time::Duration};

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_AUDIT};

/// `AUDIT_NLGRP_READLOG` as a bind group mask.
const AUDIT_NLGRP_READLOG_MASK: u32 = 1;

/// Opens a socket subscribed to the read-log group.
///
/// # Errors
///
/// When the socket cannot be opened, or bound (`EPERM` without `CAP_AUDIT_READ`).
pub fn subscribe() -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_AUDIT)?;
    socket.bind(&SocketAddr::new(0, AUDIT_NLGRP_READLOG_MASK))?;
    Ok(socket)
}

/// A subscribed socket for a reader thread: a receive buffer of `buffer` bytes, so that a burst does not
/// overflow it (`SO_RCVBUFFORCE` goes past `rmem_max`; we are root), and reads that give up after `poll` so
/// the thread can notice it should stop.
///
/// # Errors
///
/// As [`subscribe`], and when a socket option cannot be set.
#[expect(clippy::cast_possible_truncation, reason = "`size_of::<c_int>()` is 4")]
pub fn subscribe_for_reading(buffer: usize, poll: Duration) -> io::Result<Socket> {
    let socket = subscribe()?;
    let size = libc::c_int::try_from(buffer).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket and an int option value that lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&raw const size).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    super::set_recv_timeout(&socket, poll)?;
    Ok(socket)
}
