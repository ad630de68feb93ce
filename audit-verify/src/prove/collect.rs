//! Where the evidence comes from: the SYSCALL records of our children, as the kernel emitted them (the
//! audit multicast socket, subscribed before the first action) and as auditd wrote them (audit.log, read
//! from the offset it had before the first action up to the barrier).
//!
//! Our children are recognised by `ppid=` (the prover's pid); an action by the child's pid, the syscall
//! number and arch, and the return value, because the child makes other calls too (the loginuid write,
//! setresuid, the report to its parent) that other rules may record.

use std::{
    io,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use serde::Serialize;

use crate::{
    auditlog::{Record, parse_line, record_type::RecordType},
    netlink::multicast,
};

/// `AUDIT_SYSCALL`.
const SYSCALL: u32 = 1300;

/// One SYSCALL record of one of our children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub pid: u32,
    pub arch: u32,
    pub syscall: u32,
    /// Absent for calls that did not return (exit_group).
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

/// Parses a SYSCALL record's fields; `None` if it is not one of our children's.
fn parse_seen(text_fields: &crate::auditlog::ParsedLine<'_>, parent: u32) -> Option<Seen> {
    let get = |k: &str| text_fields.fields().find(|f| f.key == k && !f.enriched);
    if get("ppid")?.raw.parse::<u32>().ok()? != parent {
        return None;
    }
    let key = get("key").and_then(|f| (f.raw != "(null)").then(|| f.decoded_lossy().into_owned()));
    let id = text_fields.header.id;
    Some(Seen {
        pid: get("pid")?.raw.parse().ok()?,
        arch: u32::from_str_radix(get("arch")?.raw, 16).ok()?,
        syscall: get("syscall")?.raw.parse().ok()?,
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
pub fn from_record(record: &Record, parent: u32) -> Option<Seen> {
    if record.kind().code != Some(SYSCALL) {
        return None;
    }
    let parsed = parse_line(record.text().as_bytes()).ok()?;
    let mut s = parse_seen(&parsed, parent)?;
    s.file = Some(record.location.file.display().to_string());
    s.line = Some(record.location.line);
    s.offset = Some(record.location.offset);
    Some(s)
}

/// Reads the multicast socket in a thread until told to stop.
pub struct Listener {
    stop: Arc<AtomicBool>,
    barrier_seen: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    handle: Option<JoinHandle<()>>,
}

impl Listener {
    pub fn start() -> io::Result<Self> {
        let socket = multicast::subscribe_for_reading(16 << 20, Duration::from_millis(50))?;
        let stop = Arc::new(AtomicBool::new(false));
        let barrier_seen = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, b, v) = (stop.clone(), barrier_seen.clone(), seen.clone());
        let handle = std::thread::Builder::new().name("prove-multicast".into()).spawn(move || {
            let marker = format!("audit-verify barrier {}-", std::process::id());
            let parent = std::process::id();
            let mut buf = vec![0u8; 64 * 1024];
            while !s.load(Ordering::Relaxed) {
                let n = match socket.recv(&mut &mut buf[..], 0) {
                    Ok(n) => n,
                    Err(_) => continue,
                };
                for (ty, payload) in messages(&buf[..n]) {
                    let text = String::from_utf8_lossy(payload);
                    let text = text.trim_end_matches('\0');
                    if text.contains(&marker) {
                        b.store(true, Ordering::Relaxed);
                    }
                    if u32::from(ty) != SYSCALL {
                        continue;
                    }
                    let line = format!("type={} msg={text}", RecordType::from_code(SYSCALL).name);
                    if let Ok(parsed) = parse_line(line.as_bytes())
                        && let Some(found) = parse_seen(&parsed, parent)
                    {
                        v.lock().unwrap_or_else(|p| p.into_inner()).push(found);
                    }
                }
            }
        })?;
        Ok(Self { stop, barrier_seen, seen, handle: Some(handle) })
    }
}

/// A listener dropped without `finish` (an error part-way through a proof) stops its thread, so that no
/// thread is left reading the multicast socket.
impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Listener {
    /// Waits (up to `timeout`) for the barrier's user message on the socket, which the kernel sends after
    /// every record queued before it, then stops and returns what was seen.
    pub fn finish(mut self, timeout: Duration) -> Vec<Seen> {
        let start = Instant::now();
        while !self.barrier_seen.load(Ordering::Relaxed) && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Splits a netlink datagram into (type, payload): a 16-byte `nlmsghdr`, then the record text.
fn messages(buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() >= at + 16 {
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        let ty = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
        // A length that does not fit: take the rest of the datagram.
        let end = if len < 16 || at + len > buf.len() { buf.len() } else { at + len };
        out.push((ty, &buf[at + 16..end]));
        at = (end + 3) & !3;
    }
    out
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

    #[test]
    fn netlink_framing() {
        let mut buf = Vec::new();
        for (ty, text) in [(1300u16, &b"audit(1.2:3): a=b"[..]), (1320, b"audit(1.2:3): ")] {
            let len = 16 + text.len();
            buf.extend((len as u32).to_ne_bytes());
            buf.extend(ty.to_ne_bytes());
            buf.extend([0u8; 10]);
            buf.extend(text);
            buf.resize((buf.len() + 3) & !3, 0);
        }
        let m = messages(&buf);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], (1300, &b"audit(1.2:3): a=b"[..]));
    }
}
