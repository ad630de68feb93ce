//! A client for the kernel's audit netlink protocol (`NETLINK_AUDIT`).
//!
//! The socket is netlink-sys's. The audit payloads are ours: netlink-packet-audit 0.7 has no
//! `backlog_wait_time_actual` in its status (kernel 5.9+) and decodes `AUDIT_EXE` rule fields as numbers
//! although the kernel sends them as path strings, which shifts every string after them. Framing is the
//! 16-byte `nlmsghdr`, kept in [`wire`].

pub mod listener;
pub mod multicast;
pub mod rules;
pub mod status;
pub mod wire;

use std::{io, time::Duration};

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_AUDIT};
use thiserror::Error;

pub use rules::RawRule;
pub use status::AuditStatus;
use wire::{Message, NLM_F_ACK, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR};

/// Message types from `include/uapi/linux/audit.h`.
pub mod msg_type {
    pub const AUDIT_GET: u16 = 1000;
    pub const AUDIT_SET: u16 = 1001;
    pub const AUDIT_USER: u16 = 1005;
    pub const AUDIT_ADD_RULE: u16 = 1011;
    pub const AUDIT_DEL_RULE: u16 = 1012;
    pub const AUDIT_LIST_RULES: u16 = 1013;
    /// A configuration change, `lost`'s reset among them (`op=set lost=0 old=N`).
    pub const AUDIT_CONFIG_CHANGE: u16 = 1305;
}

/// How long to wait for the kernel's answer before calling it lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum NetlinkError {
    #[error("the kernel has no audit support (NETLINK_AUDIT socket: {0}); it needs CONFIG_AUDIT")]
    NoAuditSupport(#[source] io::Error),
    #[error("permission denied by the kernel for {request}: run as root (needs CAP_AUDIT_CONTROL)")]
    PermissionDenied { request: &'static str },
    #[error("the kernel refused {request}: {source}")]
    Refused {
        request: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("netlink I/O during {request}")]
    Io {
        request: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("no answer from the kernel to {request} within {timeout:?}")]
    Timeout { request: &'static str, timeout: Duration },
    #[error("malformed reply to {request}: {detail}")]
    Malformed { request: &'static str, detail: String },
    #[error("malformed reply to {request}")]
    Framing {
        request: &'static str,
        #[source]
        source: wire::FrameError,
    },
}

/// A connected `NETLINK_AUDIT` socket for requests to the kernel.
pub struct AuditSocket {
    socket: Socket,
    seq: u32,
}

impl AuditSocket {
    /// A socket connected to the kernel's audit subsystem.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::NoAuditSupport`] on a kernel built without audit, else when the socket fails.
    pub fn open() -> Result<Self, NetlinkError> {
        let mut socket = Socket::new(NETLINK_AUDIT).map_err(|e| match e.raw_os_error() {
            Some(libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT) => NetlinkError::NoAuditSupport(e),
            _ => NetlinkError::Io { request: "socket(NETLINK_AUDIT)", source: e },
        })?;
        let io = |source| NetlinkError::Io { request: "socket setup", source };
        socket.bind_auto().map_err(io)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(io)?;
        set_recv_timeout(&socket, REPLY_TIMEOUT).map_err(io)?;
        Ok(Self { socket, seq: 1 })
    }

    /// Sends one request and returns its sequence number.
    fn send(&mut self, request: &'static str, ty: u16, flags: u16, payload: &[u8]) -> Result<u32, NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let bytes = wire::encode(ty, NLM_F_REQUEST | flags, self.seq, payload);
        self.socket.send(&bytes, 0).map_err(|source| NetlinkError::Io { request, source })?;
        Ok(self.seq)
    }

    /// Receives the messages answering `seq`, handing each to `on_message` until it returns `Done`.
    /// Error messages become [`NetlinkError`]s; an error code of 0 is an ACK and is passed on.
    fn receive(
        &mut self,
        request: &'static str,
        seq: u32,
        mut on_message: impl FnMut(&Message<'_>) -> Result<Flow, NetlinkError>,
    ) -> Result<(), NetlinkError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match self.socket.recv(&mut &mut buf[..], 0) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(NetlinkError::Timeout { request, timeout: REPLY_TIMEOUT });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(NetlinkError::Io { request, source }),
            };
            for message in wire::decode(&buf[..n]) {
                let message = message.map_err(|source| NetlinkError::Framing { request, source })?;
                if message.seq != seq {
                    continue; // a late answer to an earlier request
                }
                if message.ty == NLMSG_ERROR {
                    let code = message
                        .error_code()
                        .ok_or_else(|| NetlinkError::Malformed { request, detail: "short NLMSG_ERROR".into() })?;
                    if code != 0 {
                        return Err(refusal(request, -code));
                    }
                }
                if on_message(&message)? == Flow::Done {
                    return Ok(());
                }
            }
        }
    }

    /// Sends a request that changes state and waits for the kernel's ACK.
    fn request_ack(&mut self, request: &'static str, ty: u16, payload: &[u8]) -> Result<(), NetlinkError> {
        let seq = self.send(request, ty, NLM_F_ACK, payload)?;
        self.receive(request, seq, |m| Ok(if m.ty == NLMSG_ERROR { Flow::Done } else { Flow::More }))
    }

    /// `AUDIT_GET`: the kernel's audit status.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the request ([`NetlinkError::PermissionDenied`] without
    /// `CAP_AUDIT_CONTROL`), does not answer in time, or the socket fails.
    pub fn status(&mut self) -> Result<AuditStatus, NetlinkError> {
        const REQUEST: &str = "AUDIT_GET (status)";
        // No ACK asked: the kernel may send the ACK before the reply.
        let seq = self.send(REQUEST, msg_type::AUDIT_GET, 0, &[])?;
        let mut status = None;
        self.receive(REQUEST, seq, |m| {
            if m.ty != msg_type::AUDIT_GET {
                return Ok(Flow::More);
            }
            status = Some(
                AuditStatus::parse(m.payload).map_err(|detail| NetlinkError::Malformed { request: REQUEST, detail })?,
            );
            Ok(Flow::Done)
        })?;
        status.ok_or(NetlinkError::Malformed { request: REQUEST, detail: "no status".into() })
    }

    /// `AUDIT_SET`: changes the fields named in `change.mask`.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the request ([`NetlinkError::PermissionDenied`] without
    /// `CAP_AUDIT_CONTROL`), does not answer in time, or the socket fails.
    pub fn set_status(&mut self, change: &status::StatusChange) -> Result<(), NetlinkError> {
        self.request_ack("AUDIT_SET (status)", msg_type::AUDIT_SET, &change.encode())
    }

    /// `AUDIT_LIST_RULES`: every loaded rule, in kernel order (by filter list, then position).
    ///
    /// # Errors
    ///
    /// When the kernel refuses the request ([`NetlinkError::PermissionDenied`] without
    /// `CAP_AUDIT_CONTROL`), does not answer in time, or the socket fails.
    pub fn list_rules(&mut self) -> Result<Vec<RawRule>, NetlinkError> {
        const REQUEST: &str = "AUDIT_LIST_RULES";
        let seq = self.send(REQUEST, msg_type::AUDIT_LIST_RULES, 0, &[])?;
        let mut rules = Vec::new();
        self.receive(REQUEST, seq, |m| match m.ty {
            msg_type::AUDIT_LIST_RULES => {
                rules.push(RawRule::from_bytes(m.payload.to_vec()));
                Ok(Flow::More)
            }
            NLMSG_DONE => Ok(Flow::Done),
            _ => Ok(Flow::More),
        })?;
        Ok(rules)
    }

    /// `AUDIT_ADD_RULE`: appends `rule` to its filter list.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the request ([`NetlinkError::PermissionDenied`] without
    /// `CAP_AUDIT_CONTROL`), does not answer in time, or the socket fails.
    pub fn add_rule(&mut self, rule: &RawRule) -> Result<(), NetlinkError> {
        self.request_ack("AUDIT_ADD_RULE", msg_type::AUDIT_ADD_RULE, rule.as_bytes())
    }

    /// `AUDIT_DEL_RULE`: deletes the rule equal to `rule`.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the request ([`NetlinkError::PermissionDenied`] without
    /// `CAP_AUDIT_CONTROL`), does not answer in time, or the socket fails.
    pub fn delete_rule(&mut self, rule: &RawRule) -> Result<(), NetlinkError> {
        self.request_ack("AUDIT_DEL_RULE", msg_type::AUDIT_DEL_RULE, rule.as_bytes())
    }

    /// `AUDIT_USER`: a user message, as `auditctl -m` sends it; auditd writes it as a USER record.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the request ([`NetlinkError::PermissionDenied`] without
    /// `CAP_AUDIT_CONTROL`), does not answer in time, or the socket fails.
    pub fn send_user_message(&mut self, text: &str) -> Result<(), NetlinkError> {
        let mut payload = text.as_bytes().to_vec();
        payload.push(0);
        self.request_ack("AUDIT_USER (user message)", msg_type::AUDIT_USER, &payload)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    More,
    Done,
}

fn refusal(request: &'static str, errno: i32) -> NetlinkError {
    match errno {
        libc::EPERM | libc::EACCES => NetlinkError::PermissionDenied { request },
        _ => NetlinkError::Refused { request, source: io::Error::from_raw_os_error(errno) },
    }
}

#[expect(clippy::cast_possible_truncation, reason = "`size_of::<timeval>()` is 16")]
fn set_recv_timeout(socket: &Socket, timeout: Duration) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let tv = libc::timeval {
        // Saturated: a timeout beyond `time_t` is "forever".
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros()),
    };
    // SAFETY: a valid socket fd and a timeval that lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}
