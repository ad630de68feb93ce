//! The audit multicast read-log socket (group `AUDIT_NLGRP_READLOG`): every record kauditd sends to auditd
//! is also sent here. Binding it needs CAP_AUDIT_READ and makes the kernel log an AUDIT_EVENT_LISTENER record.

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_AUDIT};

/// `AUDIT_NLGRP_READLOG` as a bind group mask.
const AUDIT_NLGRP_READLOG_MASK: u32 = 1;

/// Opens a socket subscribed to the read-log group.
pub fn subscribe() -> std::io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_AUDIT)?;
    socket.bind(&SocketAddr::new(0, AUDIT_NLGRP_READLOG_MASK))?;
    Ok(socket)
}
