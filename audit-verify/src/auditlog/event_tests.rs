use std::{path::Path, sync::Arc};

use super::*;
use crate::auditlog::record::Location;

fn record(kind: &str, ms: u64, serial: u64) -> Record {
    let text = format!("type={kind} msg=audit({}.{:03}:{serial}): x=1", ms / 1000, ms % 1000);
    Record::parse(text.as_bytes(), Location { file: Arc::from(Path::new("t")), line: 0, offset: 0 }).unwrap()
}

fn drain(asm: &mut EventAssembler) -> Vec<(u64, Vec<String>, Completion)> {
    std::iter::from_fn(|| asm.pop())
        .map(|e| (e.id.serial, e.records.iter().map(|r| r.kind().name.to_string()).collect(), e.completion))
        .collect()
}

#[test]
fn eoe_completes_an_event_at_once() {
    let mut asm = EventAssembler::default();
    for kind in ["SYSCALL", "CWD", "PATH", "PROCTITLE"] {
        asm.push(record(kind, 1000, 7));
    }
    assert!(asm.pop().is_none());
    asm.push(record("EOE", 1000, 7));
    assert_eq!(
        drain(&mut asm),
        [(7, vec!["SYSCALL".into(), "CWD".into(), "PATH".into(), "PROCTITLE".into(), "EOE".into()], Completion::Eoe)]
    );
    assert_eq!(asm.open_events(), 0);
}

#[test]
fn interleaved_events_are_kept_apart() {
    let mut asm = EventAssembler::default();
    asm.push(record("SYSCALL", 1000, 1));
    asm.push(record("SYSCALL", 1000, 2));
    asm.push(record("PATH", 1000, 1));
    asm.push(record("DAEMON_START", 1001, 3));
    asm.push(record("PATH", 1000, 2));
    asm.push(record("EOE", 1000, 2));
    asm.push(record("EOE", 1000, 1));
    assert_eq!(
        drain(&mut asm),
        [
            (3, vec!["DAEMON_START".into()], Completion::Standalone),
            (2, vec!["SYSCALL".into(), "PATH".into(), "EOE".into()], Completion::Eoe),
            (1, vec!["SYSCALL".into(), "PATH".into(), "EOE".into()], Completion::Eoe),
        ]
    );
}

#[test]
fn same_serial_on_two_nodes_is_two_events() {
    let loc = || Location { file: Arc::from(Path::new("t")), line: 0, offset: 0 };
    let mut asm = EventAssembler::default();
    for node in ["a", "b", "a"] {
        let text = format!("node={node} type=SYSCALL msg=audit(1.000:5): x=1");
        asm.push(Record::parse(text.as_bytes(), loc()).unwrap());
    }
    asm.flush();
    let sizes: Vec<_> =
        std::iter::from_fn(|| asm.pop()).map(|e| (e.node().map(str::to_owned), e.records.len())).collect();
    assert_eq!(sizes, [(Some("a".into()), 2), (Some("b".into()), 1)]);
}

#[test]
fn single_record_events_without_eoe_complete_by_window() {
    let mut asm = EventAssembler::new(Window { events: 4, secs: 2 });
    // CONFIG_CHANGE is a kernel record: it may have company, so it waits for the window.
    asm.push(record("CONFIG_CHANGE", 1000, 1));
    for serial in 2..=5 {
        asm.push(record("SYSCALL", 1000, serial));
    }
    assert!(asm.pop().is_none(), "4 newer events are not more than the window");
    asm.push(record("SYSCALL", 1000, 6));
    assert_eq!(drain(&mut asm), [(1, vec!["CONFIG_CHANGE".into()], Completion::Window)]);
    assert_eq!(asm.open_events(), 5);
}

#[test]
fn time_window_completes_old_events() {
    let mut asm = EventAssembler::default();
    asm.push(record("SYSCALL", 10_999, 1));
    asm.push(record("SYSCALL", 12_000, 2));
    // Whole seconds, as auparse counts: 10 + 2 <= 12, though only 1.001 s went by.
    assert_eq!(drain(&mut asm), [(1, vec!["SYSCALL".into()], Completion::Window)]);
    asm.push(record("SYSCALL", 13_999, 3));
    assert!(asm.pop().is_none(), "13 is less than 12 + 2");
    asm.expire_idle(16_500);
    assert_eq!(drain(&mut asm).len(), 2);
    asm.push(record("DAEMON_START", 20_000, 4));
    assert_eq!(drain(&mut asm), [(4, vec!["DAEMON_START".into()], Completion::Standalone)]);
}

#[test]
fn an_older_record_closes_nothing() {
    let mut asm = EventAssembler::default();
    asm.push(record("SYSCALL", 20_000, 10));
    // Written out of order, 5 s older: it must not close event 10, which goes on after it.
    asm.push(record("SYSCALL", 15_000, 9));
    assert!(asm.pop().is_none(), "an older record closed a newer event");
    // A newer one closes the old event, as in auparse.
    asm.push(record("PATH", 20_000, 10));
    assert_eq!(drain(&mut asm), [(9, vec!["SYSCALL".into()], Completion::Window)]);
    asm.push(record("EOE", 20_000, 10));
    assert_eq!(drain(&mut asm), [(10, vec!["SYSCALL".into(), "PATH".into(), "EOE".into()], Completion::Eoe)]);
}

#[test]
fn nodes_keep_their_own_clocks() {
    let loc = || Location { file: Arc::from(Path::new("t")), line: 0, offset: 0 };
    let on = |node: &str, secs: u64, serial: u64, kind: &str| {
        let text = format!("node={node} type={kind} msg=audit({secs}.000:{serial}): x=1");
        Record::parse(text.as_bytes(), loc()).unwrap()
    };
    let mut asm = EventAssembler::default();
    // Node b's clock is an hour ahead of a's; their records interleave, and a has more events.
    asm.push(on("a", 1000, 0, "SYSCALL"));
    asm.push(on("a", 1000, 1, "SYSCALL"));
    asm.push(on("b", 4600, 1, "SYSCALL"));
    asm.push(on("a", 1000, 1, "PATH"));
    asm.push(on("b", 4600, 1, "PATH"));
    asm.flush();
    let sizes: Vec<_> =
        std::iter::from_fn(|| asm.pop()).map(|e| (e.node().unwrap().to_owned(), e.records.len())).collect();
    assert_eq!(sizes, [("a".into(), 1), ("a".into(), 2), ("b".into(), 2)]);
}

#[test]
fn a_user_record_waits_for_the_syscall_that_sent_it() {
    let mut asm = EventAssembler::default();
    // systemd's sendto is audited: the kernel gives SERVICE_START the syscall's serial.
    for kind in ["SERVICE_START", "SYSCALL", "SOCKADDR", "EOE"] {
        asm.push(record(kind, 1000, 7));
    }
    assert_eq!(
        drain(&mut asm),
        [(7, vec!["SERVICE_START".into(), "SYSCALL".into(), "SOCKADDR".into(), "EOE".into()], Completion::Eoe)]
    );
}

#[test]
fn records_per_event_are_capped_and_counted() {
    let mut asm = EventAssembler::default();
    for _ in 0..MAX_RECORDS_PER_EVENT + 10 {
        asm.push(record("PATH", 1000, 3));
    }
    asm.push(record("EOE", 1000, 3));
    let event = asm.pop().unwrap();
    assert_eq!((event.records.len(), event.dropped, event.completion), (MAX_RECORDS_PER_EVENT, 11, Completion::Eoe));
}

#[test]
fn the_open_set_stays_bounded() {
    let mut asm = EventAssembler::default();
    for serial in 0..100_000 {
        asm.push(record("SYSCALL", 1000, serial));
        assert!(asm.open_events() <= 65);
        while asm.pop().is_some() {}
    }
    asm.flush();
    assert_eq!(drain(&mut asm).len(), 65);
}

#[test]
fn a_record_of_an_older_serial_still_finds_its_event_after_newer_ones_completed() {
    let mut asm = EventAssembler::default();
    asm.push(record("SYSCALL", 1000, 10));
    asm.push(record("SYSCALL", 1000, 12));
    asm.push(record("EOE", 1000, 12));
    // 10 is below the highest serial seen (12, now complete): it must still be looked for.
    asm.push(record("PATH", 1000, 10));
    asm.push(record("SYSCALL", 1000, 11));
    asm.push(record("CWD", 1000, 11));
    asm.flush();
    assert_eq!(
        drain(&mut asm),
        [
            (12, vec!["SYSCALL".into(), "EOE".into()], Completion::Eoe),
            (10, vec!["SYSCALL".into(), "PATH".into()], Completion::Flush),
            (11, vec!["SYSCALL".into(), "CWD".into()], Completion::Flush),
        ]
    );
}

#[test]
fn the_count_window_still_closes_events_after_some_completed_out_of_order() {
    // Events 1..=70 begin; the even ones complete by EOE at once, the odd ones wait. Each odd one must be
    // completed by the window exactly when 64 newer events have begun, as without any shortcut.
    let mut asm = EventAssembler::new(Window { events: 64, secs: 2 });
    let mut completed_at = Vec::new();
    for serial in 1..=140u64 {
        asm.push(record("SYSCALL", 1000, serial));
        if serial % 2 == 0 {
            asm.push(record("EOE", 1000, serial));
        }
        while let Some(e) = asm.pop() {
            if e.completion == Completion::Window {
                completed_at.push((e.id.serial, serial));
            }
        }
    }
    let expected: Vec<_> = (1..=75u64).step_by(2).map(|s| (s, s + 65)).collect();
    assert_eq!(completed_at, expected);
}
