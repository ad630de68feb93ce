//! The one reader of the audit multicast socket. It owns the socket and a thread, splits each datagram
//! with [`wire::decode`], hands every message to a [`Consumer`] on that thread, counts the socket's
//! overruns, and stops at a barrier [`Marker`] it sent itself.
//!
//! The kernel sends the multicast copy in queue order, so once the marker arrives, every record queued
//! before it has arrived too. The listener learns the marker before the kernel can send it, so it cannot
//! miss it, and it stops right after it: records of the next moment are not part of the window.

use std::{
    io,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use netlink_sys::Socket;
use thiserror::Error;

use super::{AuditSocket, NetlinkError, multicast, wire};
use crate::barrier::Marker;

/// What a listener does with each message, on the listener's thread.
pub trait Consumer: Send + 'static {
    /// One netlink message: its `nlmsg_type` and payload (a record's text, NUL-terminated or not).
    fn message(&mut self, ty: u16, payload: &[u8]);
}

/// What a listener ends with: its consumer, and how complete the stream it saw was.
#[derive(Debug)]
pub struct Heard<C> {
    pub consumer: C,
    /// Times the socket overflowed (ENOBUFS): records were lost to us.
    pub overruns: u64,
    /// Datagrams whose framing broke part-way; the messages before the break were consumed.
    pub malformed: u64,
    /// Whether the barrier marker arrived (false: stopped by the timeout, or never sent).
    pub barrier: bool,
}

#[derive(Debug, Error)]
pub enum ListenerError {
    #[error("cannot subscribe to the audit multicast socket (needs CAP_AUDIT_READ)")]
    Subscribe(#[source] io::Error),
    #[error("cannot start the audit multicast reader thread")]
    Spawn(#[source] io::Error),
    #[error("reading the audit multicast socket")]
    Read(#[source] io::Error),
    #[error("the audit multicast reader thread panicked")]
    Panicked,
}

/// How long a read waits before the thread looks at the stop flag again.
const POLL: Duration = Duration::from_millis(50);

/// How long the thread rests after draining the socket, so that records queue up and are read many per
/// wake-up. kauditd sends each record as its own datagram, and waking a reader for each (one per record,
/// thousands a second in an execve storm) cost that storm about 4% on a 2-core machine, most of what a
/// listener costs; resting 10 ms brings it down to what the kernel's copy alone costs (docs/performance.md,
/// watch). Nothing is lost meanwhile: at the highest rates measured here, 10 ms of records is a few hundred
/// kilobytes of a receive buffer of megabytes, and overflows are counted anyway. A barrier or a stop ends
/// the rest at once ([`Listener::send_barrier`] unparks the thread), so no wait is longer for it.
const REST: Duration = Duration::from_millis(10);

struct Shared {
    stop: AtomicBool,
    /// The barrier to stop at, set before it is sent.
    target: Mutex<Option<Marker>>,
}

/// A running listener. Dropping it stops and joins its thread.
pub struct Listener<C: Consumer> {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<io::Result<Heard<C>>>>,
}

impl<C: Consumer> Listener<C> {
    /// Subscribes now (everything emitted from here on reaches `consumer`) with a receive buffer of
    /// `buffer` bytes, large enough that a burst does not overflow it. `name` names the thread.
    ///
    /// # Errors
    ///
    /// [`ListenerError::Subscribe`] without `CAP_AUDIT_READ`; [`ListenerError::Spawn`].
    pub fn start(name: &str, buffer: usize, consumer: C) -> Result<Self, ListenerError> {
        let socket = multicast::subscribe_for_reading(buffer, POLL).map_err(ListenerError::Subscribe)?;
        let shared = Arc::new(Shared { stop: AtomicBool::new(false), target: Mutex::new(None) });
        let thread_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(&socket, buffer, &thread_shared, Reader::new(consumer)))
            .map_err(ListenerError::Spawn)?;
        Ok(Self { shared, handle: Some(handle) })
    }

    /// Sends a barrier marker through `socket` for the listener to stop at, and returns it (to find it in
    /// the log too).
    ///
    /// # Errors
    ///
    /// When the marker cannot be sent.
    pub fn send_barrier(&self, socket: &mut AuditSocket) -> Result<Marker, NetlinkError> {
        let marker = Marker::new();
        *self.shared.target.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(marker.clone());
        marker.send(socket)?;
        self.wake();
        Ok(marker)
    }

    /// Waits up to `timeout` for the barrier, then stops (reading what is already queued) and returns
    /// what was heard.
    ///
    /// # Errors
    ///
    /// [`ListenerError::Read`] when the socket failed, [`ListenerError::Panicked`].
    #[expect(clippy::missing_panics_doc, reason = "only `finish` (consuming) and `drop` take the handle")]
    pub fn finish(mut self, timeout: Duration) -> Result<Heard<C>, ListenerError> {
        let handle = self.handle.take().expect("only finish and drop take the handle");
        let deadline = Instant::now().checked_add(timeout);
        while !handle.is_finished() && deadline.is_none_or(|d| Instant::now() < d) {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.shared.stop.store(true, Ordering::Relaxed);
        handle.thread().unpark();
        handle.join().map_err(|_| ListenerError::Panicked)?.map_err(ListenerError::Read)
    }

    /// Ends the thread's [`REST`] early: a barrier or a stop is waiting for it.
    fn wake(&self) {
        if let Some(handle) = &self.handle {
            handle.thread().unpark();
        }
    }
}

/// A listener dropped without `finish` (an error part-way through) stops its thread, so that no thread
/// is left reading the multicast socket.
impl<C: Consumer> Drop for Listener<C> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.wake();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The thread's state: the consumer and the counts around it.
struct Reader<C> {
    heard: Heard<C>,
}

impl<C: Consumer> Reader<C> {
    fn new(consumer: C) -> Self {
        Self { heard: Heard { consumer, overruns: 0, malformed: 0, barrier: false } }
    }

    /// Hands each message of `datagram` to the consumer, up to and including the one carrying `target`.
    /// True once the target was seen: the messages after it are not consumed.
    fn datagram(&mut self, datagram: &[u8], target: Option<&Marker>) -> bool {
        for message in wire::decode(datagram) {
            let message = match message {
                Ok(message) => message,
                Err(e) => {
                    log::warn!("a datagram on the audit multicast socket is cut short: {e}");
                    self.heard.malformed += 1;
                    return false;
                }
            };
            self.heard.consumer.message(message.ty, message.payload);
            if target.is_some_and(|t| t.is_in(message.payload)) {
                self.heard.barrier = true;
                return true;
            }
        }
        false
    }
}

fn run<C: Consumer>(socket: &Socket, buffer: usize, shared: &Shared, mut reader: Reader<C>) -> io::Result<Heard<C>> {
    let mut buf = vec![0u8; 1 << 16];
    let mut target: Option<Marker> = None;
    // Bytes read since the stop: what was queued then, at most the receive buffer. Bounded, so that a
    // host that never stops auditing cannot keep the thread draining.
    let mut drained = 0usize;
    // Whether the last read returned a datagram: then the next one does not block, and the thread rests
    // only once the socket is empty.
    let mut reading = false;
    loop {
        let stopping = shared.stop.load(Ordering::Relaxed);
        if stopping && drained > buffer {
            return Ok(reader.heard);
        }
        let flags = if stopping || reading { libc::MSG_DONTWAIT } else { 0 };
        match socket.recv(&mut &mut buf[..], flags) {
            Ok(n) => {
                reading = true;
                if stopping {
                    drained += n;
                }
                // Looked up after the read: the marker is set before it is sent, so a datagram that
                // carries it finds it set, where a lookup before a blocking read could be stale.
                if target.is_none() {
                    target.clone_from(&shared.target.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
                }
                if reader.datagram(&buf[..n], target.as_ref()) {
                    return Ok(reader.heard);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => reader.heard.overruns += 1,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                if stopping {
                    return Ok(reader.heard);
                }
                if std::mem::take(&mut reading) && target.is_none() {
                    // Drained: let the next records gather (a barrier or a stop unparks us).
                    std::thread::park_timeout(REST);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Records what it is handed, to compare consumers against the splitter.
    #[derive(Debug, Default)]
    struct Recorder(Vec<(u16, Vec<u8>)>);

    impl Consumer for Recorder {
        fn message(&mut self, ty: u16, payload: &[u8]) {
            self.0.push((ty, payload.to_vec()));
        }
    }

    /// What `consumer` ends with after the listener's thread has read `datagram`.
    pub(crate) fn hear<C: Consumer>(consumer: C, datagram: &[u8], target: Option<&Marker>) -> Heard<C> {
        let mut reader = Reader::new(consumer);
        reader.datagram(datagram, target);
        reader.heard
    }

    /// A datagram as kauditd builds one, from (type, text) messages.
    pub(crate) fn datagram(messages: &[(u16, &[u8])]) -> Vec<u8> {
        messages.iter().flat_map(|(ty, text)| wire::encode(*ty, 0, 0, text)).collect()
    }

    #[test]
    fn every_message_is_consumed_and_a_broken_frame_is_counted() {
        let mut bytes = datagram(&[(1300, b"audit(1.0:1): a=b"), (1320, b"audit(1.0:1): ")]);
        let mut reader = Reader::new(Recorder::default());
        assert!(!reader.datagram(&bytes, None));
        assert_eq!(
            reader.heard.consumer.0,
            [(1300, b"audit(1.0:1): a=b".to_vec()), (1320, b"audit(1.0:1): ".to_vec())]
        );
        assert_eq!(reader.heard.malformed, 0);

        // A third message whose length runs past the datagram: the first two still count.
        bytes.extend(wire::encode(1302, 0, 0, b"audit(1.0:1): item=0"));
        let at = bytes.len() - 36;
        bytes[at..at + 4].copy_from_slice(&400u32.to_ne_bytes());
        let mut reader = Reader::new(Recorder::default());
        assert!(!reader.datagram(&bytes, None));
        assert_eq!(reader.heard.consumer.0.len(), 2);
        assert_eq!(reader.heard.malformed, 1);
    }

    #[test]
    fn it_stops_at_its_marker_and_not_at_another() {
        let marker = Marker::new();
        let other = Marker::new();
        let user = |m: &Marker| format!("audit(1.0:5): pid=1 msg='{}'\0", m.text()).into_bytes();
        let (mine, theirs) = (user(&marker), user(&other));
        let bytes =
            datagram(&[(1005, &theirs), (1300, b"audit(1.0:4): a=b"), (1005, &mine), (1300, b"audit(1.0:6): x")]);
        let mut reader = Reader::new(Recorder::default());
        assert!(reader.datagram(&bytes, Some(&marker)));
        assert!(reader.heard.barrier);
        let types: Vec<u16> = reader.heard.consumer.0.iter().map(|(ty, _)| *ty).collect();
        assert_eq!(types, [1005, 1300, 1005], "the marker is consumed, what follows it is not");
    }
}
