//! Where the evidence comes from: the SYSCALL records of our children, as the kernel emitted them (the
//! audit multicast socket, subscribed before the first action) and as auditd wrote them (audit.log, read
//! from the offset it had before the first action up to the barrier).
//!
//! Our children are recognised by `ppid=` (the prover's pid); an action by the child's pid, the syscall
//! number and arch, and the return value, because the child makes other calls too (the loginuid write,
//! setresuid, the report to its parent) that other rules may record.
//!
//! An `io_uring` operation is recorded as a URINGOP record, not a SYSCALL one (`audit_log_uring`): it has
//! no arch and names the operation (`uring_op=`, an `IORING_OP_*` number). It is kept with `arch`
//! [`URING`] and the operation in `syscall`, so the same matching finds it.

use std::time::Duration;

use serde::Serialize;

use super::ProveError;
use crate::{
    auditlog::{Follower, Record, parse_line, record_type::RecordType},
    barrier::{self, Barrier},
    netlink::{
        AuditSocket,
        listener::{Consumer, Listener, ListenerError},
    },
    snapshot::LogPosition,
};

/// `AUDIT_SYSCALL`.
const SYSCALL: u32 = 1300;
/// `AUDIT_URINGOP`.
const URINGOP: u32 = 1336;

/// The `arch` of a [`Seen`] that is an `io_uring` operation: no ABI has 0 (`AUDIT_ARCH_*` are never 0).
pub const URING: u32 = 0;

/// One SYSCALL record of one of our children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub pid: u32,
    pub arch: u32,
    pub syscall: u32,
    /// Absent for calls that did not return (`exit_group`).
    pub exit: Option<i64>,
    /// Several keys are joined by \x01, as in the rule.
    pub key: Option<String>,
    pub serial: u64,
    /// `SECS.MILLIS:SERIAL`.
    pub event: String,
    /// Where in audit.log (None: seen on the multicast socket).
    pub file: Option<String>,
    pub line: Option<u64>,
    pub offset: Option<u64>,
}

impl Seen {
    /// Whether this is the record of the call `nr` (an `IORING_OP_*` number when `arch` is [`URING`]) made
    /// by child `pid` under `arch` and returning `ret` (`None`: not known, or the call does not return).
    #[must_use]
    pub fn is_of(&self, pid: u32, nr: u32, arch: u32, ret: Option<i64>) -> bool {
        self.pid == pid && self.syscall == nr && self.arch == arch && (ret.is_none() || self.exit == ret)
    }
}

/// Parses a SYSCALL or URINGOP record's fields; `None` if it is not one of our children's.
fn parse_seen(text_fields: &crate::auditlog::ParsedLine<'_>, parent: u32) -> Option<Seen> {
    let get = |k: &str| text_fields.fields().find(|f| f.key == k && !f.enriched);
    if get("ppid")?.raw.parse::<u32>().ok()? != parent {
        return None;
    }
    let key = get("key").and_then(|f| (f.raw != "(null)").then(|| f.decoded_lossy().into_owned()));
    let id = text_fields.header.id;
    let (arch, syscall) = match get("uring_op") {
        Some(op) => (URING, op.raw.parse().ok()?),
        None => (u32::from_str_radix(get("arch")?.raw, 16).ok()?, get("syscall")?.raw.parse().ok()?),
    };
    Some(Seen {
        pid: get("pid")?.raw.parse().ok()?,
        arch,
        syscall,
        exit: get("exit").and_then(|f| f.raw.parse().ok()),
        key,
        serial: id.serial,
        event: id.to_string(),
        file: None,
        line: None,
        offset: None,
    })
}

/// One of our children's SYSCALL records in audit.log, with where it is.
#[must_use]
pub fn from_record(record: &Record, parent: u32) -> Option<Seen> {
    if !matches!(record.kind().code, Some(SYSCALL | URINGOP)) {
        return None;
    }
    let parsed = parse_line(record.text().as_bytes()).ok()?;
    let mut s = parse_seen(&parsed, parent)?;
    s.file = Some(record.location.file.display().to_string());
    s.line = Some(record.location.line);
    s.offset = Some(record.location.offset);
    Some(s)
}

/// The multicast consumer: our children's SYSCALL records, as the kernel emitted them.
#[derive(Debug)]
pub struct Collector {
    parent: u32,
    pub seen: Vec<Seen>,
}

impl Collector {
    /// Collects the records of `parent`'s children.
    #[must_use]
    pub fn new(parent: u32) -> Self {
        Self { parent, seen: Vec::new() }
    }
}

impl Consumer for Collector {
    fn message(&mut self, ty: u16, payload: &[u8]) {
        let ty = u32::from(ty);
        if ty != SYSCALL && ty != URINGOP {
            return;
        }
        // The wire has the text after `msg=`; the parser wants a whole log line.
        let text = String::from_utf8_lossy(payload);
        let line = format!("type={} msg={}", RecordType::from_code(ty).name, text.trim_end_matches('\0'));
        if let Ok(parsed) = parse_line(line.as_bytes())
            && let Some(found) = parse_seen(&parsed, self.parent)
        {
            self.seen.push(found);
        }
    }
}

/// Subscribes to the multicast socket for our children's records.
///
/// # Errors
///
/// When the multicast group cannot be joined (no `CAP_AUDIT_READ`) or its reader thread started.
pub fn listen() -> Result<Listener<Collector>, ListenerError> {
    Listener::start("prove-multicast", 16 << 20, Collector::new(std::process::id()))
}

/// What a run of actions left: our children's records as auditd wrote them up to the barrier, as the
/// kernel emitted them (multicast), and how the barrier ended.
#[derive(Debug)]
pub struct Collected {
    pub written: Vec<Seen>,
    pub emitted: Vec<Seen>,
    pub barrier: Barrier,
}

/// Runs `actions` between the two ends of the evidence: the log followed and the multicast socket joined
/// before it, a write barrier after it, so a record missing from the log up to the barrier is missing,
/// not late.
///
/// # Errors
///
/// What `actions` returns; and when the log cannot be followed, the multicast socket joined, or the
/// barrier sent or awaited.
pub fn around<T>(
    socket: &mut AuditSocket,
    log: &LogPosition,
    timeout: Duration,
    actions: impl FnOnce() -> Result<T, ProveError>,
) -> Result<(T, Collected), ProveError> {
    // Opened before the actions: if auditd rotates the log meanwhile, the follower finishes the old file
    // and goes on in the new one, where reopening the path later would read the wrong file.
    let mut follower = Follower::open(&log.path, log.offset)?;
    let listener = listen()?;
    let done = actions()?;
    let marker = listener.send_barrier(socket)?;
    let parent = std::process::id();
    let mut written = Vec::new();
    let barrier = barrier::read_until(&mut follower, &marker, timeout, |record| {
        written.extend(from_record(record, parent));
    })?;
    let heard = listener.finish(match barrier {
        Barrier::Reached { .. } => Duration::from_secs(1),
        Barrier::TimedOut { .. } => Duration::from_millis(200),
    })?;
    if heard.overruns > 0 {
        log::warn!(
            "the audit multicast socket overflowed {} times: some emitted records were not seen",
            heard.overruns
        );
    }
    Ok((done, Collected { written, emitted: heard.consumer.seen, barrier }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syscall_record_of_a_child() {
        let parent = 4242;
        let line = format!(
            "type=SYSCALL msg=audit(1795496121.971:30679): arch=c000003e syscall=59 success=no exit=-14 a0=1 \
             a1=8 a2=8 a3=0 items=1 ppid={parent} pid=27267 auid=1000 uid=0 key=\"priv\"\x1dARCH=x86_64"
        );
        let parsed = parse_line(line.as_bytes()).unwrap();
        let s = parse_seen(&parsed, parent).unwrap();
        assert_eq!((s.pid, s.arch, s.syscall, s.exit, s.serial), (27267, 0xc000_003e, 59, Some(-14), 30679));
        assert_eq!(s.key.as_deref(), Some("priv"));
        assert!(parse_seen(&parsed, parent + 1).is_none(), "another parent's child");
        let two_keys = line.replace("key=\"priv\"", "key=61016232");
        assert_eq!(
            parse_seen(&parse_line(two_keys.as_bytes()).unwrap(), parent).unwrap().key.as_deref(),
            Some("a\u{1}b2")
        );
    }

    /// A URINGOP record (`audit_log_uring`: no arch, no syscall) is kept as the operation under [`URING`].
    #[test]
    fn a_uringop_record_of_a_child() {
        let parent = 4242;
        let line = format!(
            "type=URINGOP msg=audit(1795496121.971:30680): uring_op=18 success=no exit=-20 items=1 ppid={parent} \
             pid=27268 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 key=\"uring\""
        );
        let s = parse_seen(&parse_line(line.as_bytes()).unwrap(), parent).unwrap();
        assert_eq!((s.pid, s.arch, s.syscall, s.exit, s.serial), (27268, URING, 18, Some(-20), 30680));
        assert!(s.is_of(27268, 18, URING, Some(-20)));
        assert!(!s.is_of(27268, 18, 0xc000_003e, None), "an io_uring operation is not the syscall of that number");
    }
}
