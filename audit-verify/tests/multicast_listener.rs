//! The one multicast listener against the real kernel: it stops at the barrier it sent, with the marker as
//! the last message it consumed, and a listener dropped part-way leaves no thread reading the socket.
//! Run under the machine-wide kernel-test lock (it sends user messages).
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

use std::{
    fs,
    time::{Duration, Instant},
};

use audit_verify::netlink::{
    AuditSocket,
    listener::{Consumer, Listener},
};

/// `AUDIT_USER`: the type of the barrier's user message.
const AUDIT_USER: u16 = 1005;

#[derive(Default)]
struct Payloads(Vec<(u16, String)>);

impl Consumer for Payloads {
    fn message(&mut self, ty: u16, payload: &[u8]) {
        self.0.push((ty, String::from_utf8_lossy(payload).into_owned()));
    }
}

/// Threads of this process named `name` (as the kernel shows it: 15 bytes at most).
fn threads_named(name: &str) -> usize {
    fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn it_stops_at_its_own_barrier_and_consumes_nothing_after_it() {
    let listener = Listener::start("av-test-barrier", 1 << 20, Payloads::default()).unwrap();
    let mut socket = AuditSocket::open().unwrap();
    // An ordinary user message does not stop it.
    socket.send_user_message("audit-verify test: not a barrier").unwrap();
    // The reader is back in a blocking read when the barrier is set and sent: it must still know it.
    std::thread::sleep(Duration::from_millis(300));
    let marker = listener.send_barrier(&mut socket).unwrap();
    let timeout = Duration::from_secs(10);
    let start = Instant::now();
    let heard = listener.finish(timeout).unwrap();
    assert!(heard.barrier, "the barrier arrived");
    assert!(start.elapsed() < timeout, "stopped at the barrier, not by the timeout");
    let (ty, text) = heard.consumer.0.last().expect("the marker was consumed");
    assert_eq!(*ty, AUDIT_USER);
    assert!(text.contains(marker.text()), "the last message is the marker: {text}");
    assert!(heard.consumer.0.iter().any(|(_, t)| t.contains("not a barrier")), "messages before it are consumed");
}

#[test]
fn a_dropped_listener_stops_its_thread() {
    let name = "av-test-drop";
    let listener = Listener::start(name, 1 << 20, Payloads::default()).unwrap();
    // The thread names itself once it runs.
    let start = Instant::now();
    while threads_named(name) == 0 && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(threads_named(name), 1, "the reader thread runs");
    drop(listener);
    assert_eq!(threads_named(name), 0, "drop joined the reader thread");
}
