//! The one multicast listener against the real kernel: it stops at the barrier it sent, with the marker as
//! the last message it consumed, a listener dropped part-way leaves no thread reading the socket, and a
//! burst is read many records per wake-up, none lost.
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

/// Counts the burst's messages and the listener thread's voluntary context switches (its wake-ups) from
/// the first of them to the barrier: read on the listener's own thread, as it consumes.
struct Wakeups {
    burst: &'static str,
    heard: usize,
    first: Option<u64>,
    at_barrier: Option<u64>,
}

fn voluntary_switches() -> u64 {
    let status = fs::read_to_string("/proc/thread-self/status").unwrap();
    status.lines().find_map(|l| l.strip_prefix("voluntary_ctxt_switches:")).unwrap().trim().parse().unwrap()
}

impl Consumer for Wakeups {
    fn message(&mut self, _: u16, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload);
        if text.contains(self.burst) {
            self.heard += 1;
            self.first.get_or_insert_with(voluntary_switches);
        } else if text.contains("audit-verify barrier") {
            self.at_barrier = Some(voluntary_switches());
        }
    }
}

#[test]
fn a_burst_is_read_many_records_per_wake_up_and_none_is_lost() {
    const BURST: usize = 500;
    let consumer = Wakeups { burst: "audit-verify test: burst", heard: 0, first: None, at_barrier: None };
    let listener = Listener::start("av-test-burst", 16 << 20, consumer).unwrap();
    let mut socket = AuditSocket::open().unwrap();
    std::thread::sleep(Duration::from_millis(100)); // the reader is in its blocking read
    // Spaced as an execve storm spaces its events (about one a millisecond here): sent back to back,
    // kauditd would batch them itself.
    for _ in 0..BURST {
        socket.send_user_message("audit-verify test: burst").unwrap();
        std::thread::sleep(Duration::from_micros(500));
    }
    listener.send_barrier(&mut socket).unwrap();
    let heard = listener.finish(Duration::from_secs(10)).unwrap();
    assert!(heard.barrier, "the barrier arrived");
    assert_eq!((heard.consumer.heard, heard.overruns), (BURST, 0), "every record of the burst, no overflow");
    let wakeups = heard.consumer.at_barrier.unwrap() - heard.consumer.first.unwrap();
    // Woken for each datagram, the reader would wake about once a record (kauditd sends them one by one as
    // we send them); resting between drains, it wakes once per rest.
    assert!(wakeups < BURST as u64 / 10, "{wakeups} wake-ups for {BURST} records");
}
