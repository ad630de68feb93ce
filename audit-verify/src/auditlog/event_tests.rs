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
    asm.push(record("USER_START", 1001, 3));
    asm.push(record("PATH", 1000, 2));
    asm.push(record("EOE", 1000, 2));
    asm.push(record("EOE", 1000, 1));
    assert_eq!(
        drain(&mut asm),
        [
            (3, vec!["USER_START".into()], Completion::Standalone),
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
    let mut asm = EventAssembler::new(Window { events: 4, millis: 2000 });
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
    asm.push(record("SYSCALL", 10_000, 1));
    asm.push(record("SYSCALL", 12_000, 2));
    assert!(asm.pop().is_none());
    asm.push(record("SYSCALL", 12_001, 3));
    assert_eq!(drain(&mut asm), [(1, vec!["SYSCALL".into()], Completion::Window)]);
    asm.expire_idle(14_500);
    assert_eq!(drain(&mut asm).len(), 2);
    asm.push(record("DAEMON_START", 20_000, 4));
    assert_eq!(drain(&mut asm), [(4, vec!["DAEMON_START".into()], Completion::Standalone)]);
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
