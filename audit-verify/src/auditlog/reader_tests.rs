use std::{io::Cursor, path::Path};

use super::*;
use crate::auditlog::{
    Completion, LineError, MAX_LINE_LEN, Record, WarningKind,
    event::MAX_RECORDS_PER_EVENT,
    synth::{self, SynthStats},
    test_dir::TestDir,
};

const ENRICHED: &str = "type=SYSCALL msg=audit(1795494329.735:3): arch=c000003e syscall=321 success=yes exit=4 \
    items=0 pid=11539 comm=\"audit-verify\" key=(null)\x1dARCH=x86_64 SYSCALL=bpf AUID=\"unset\" UID=\"root\"\n\
    type=PROCTITLE msg=audit(1795494329.735:3): proctitle=2E2F612E6F7574\n\
    type=DAEMON_START msg=audit(1795494330.000:3421): op=start ver=3.0.9 format=enriched res=success\
    \x1dAUID=\"unset\"\n";

#[test]
fn records_know_where_they_came_from() {
    let dir = TestDir::new();
    let path = dir.write("audit.log", ENRICHED.as_bytes());
    let records: Vec<_> = LogReader::open(&path).map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    let second = &records[1];
    assert_eq!((second.location.line, second.kind().name.as_ref()), (2, "PROCTITLE"));
    assert_eq!(second.location.offset, ENRICHED.find("type=PROCTITLE").unwrap() as u64);
    assert_eq!(&*second.location.file, path.as_path());
    assert_eq!(second.field("proctitle").unwrap().decoded().as_ref(), b"./a.out");
    assert_eq!(records[0].enriched(), Some("ARCH=x86_64 SYSCALL=bpf AUID=\"unset\" UID=\"root\""));
    assert!(records[0].body().ends_with("key=(null)"));
}

#[test]
fn events_from_records() {
    let events: Vec<_> =
        LogReader::from_reader(Path::new("mem"), Cursor::new(ENRICHED)).events().map(Result::unwrap).collect();
    let shape: Vec<_> = events.iter().map(|e| (e.id.serial, e.records.len(), e.completion)).collect();
    assert_eq!(shape, [(3421, 1, Completion::Standalone), (3, 2, Completion::Flush)]);
}

#[test]
fn bad_input_is_skipped_with_warnings_that_name_file_and_line() {
    let mut data = Vec::new();
    data.extend(b"type=CWD msg=audit(1.000:1): cwd=\"/\"\n");
    data.extend(b"\x7fELF\x02\x01\x01\x00\x00\x00\xde\xad\xbe\xef\n");
    data.extend(b"type=SYSCALL msg=audit(1700000000.1\n");
    data.extend(b"type=PATH msg=audit(1.000:1): name=\"a\0b\"\n");
    data.extend(std::iter::repeat_n(b'A', 2 * MAX_LINE_LEN));
    data.extend(b"\ntype=CWD msg=audit(1.000:2): cwd=\"\xc3\x28\"\n");
    data.extend(b"type=UNKNOWN[4242] msg=audit(1.000:3): fine=yes\n\n");
    // The last line, complete but for its newline.
    data.extend(b"type=CWD msg=audit(1.000:4): cwd=\"/\"");
    let dir = TestDir::new();
    let path = dir.write("audit.log", &data);
    let mut reader = LogReader::open(&path);
    let serials: Vec<_> = reader.by_ref().map(|r| r.unwrap().id().serial).collect();
    // Lines 4 and 6 are records with bytes that are not text: kept.
    assert_eq!(serials, [1, 1, 2, 3, 4]);
    let warnings = reader.warnings();
    let got: Vec<_> = warnings.stored().iter().map(|w| (w.line, w.kind.clone())).collect();
    assert_eq!(
        got,
        [
            (2, WarningKind::Malformed(LineError::NoType)),
            (3, WarningKind::Malformed(LineError::BadHeader { reason: "no `:` before the serial" })),
            (4, WarningKind::Repaired(LineError::Nul { column: 37 })),
            (5, WarningKind::TooLong { len: 2 * MAX_LINE_LEN as u64 }),
            (6, WarningKind::Repaired(LineError::NotUtf8 { column: 34 })),
            (8, WarningKind::Malformed(LineError::Empty)),
        ]
    );
    assert_eq!(warnings.count(), 6);
    assert!(warnings.stored()[0].to_string().starts_with(&format!("{}:2: skipped: no `type=`", path.display())));
}

#[test]
fn rotation_set_oldest_first() {
    let dir = TestDir::new();
    for (name, serial) in [("audit.log", 4), ("audit.log.1", 3), ("audit.log.3", 1), ("audit.log.2", 2)] {
        dir.write(name, format!("type=CWD msg=audit(1.000:{serial}): cwd=\"/\"\n").as_bytes());
    }
    // Not auditd's numbering: left alone.
    dir.write("audit.log.gz", b"junk");
    dir.write("audit.log.1.bak", b"junk");
    dir.write("audit.log.", b"junk");
    let base = dir.path("audit.log");
    let names: Vec<_> = rotated_files(&base)
        .unwrap()
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["audit.log.3", "audit.log.2", "audit.log.1", "audit.log"]);
    let reader = LogReader::open_rotated(&base).unwrap();
    let serials: Vec<_> = reader.map(|r| r.unwrap().id().serial).collect();
    assert_eq!(serials, [1, 2, 3, 4]);
    assert_eq!(rotated_files(&dir.path("missing.log")).unwrap(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn a_missing_file_is_an_error_then_the_next_file_is_read() {
    let dir = TestDir::new();
    let good = dir.write("b.log", b"type=CWD msg=audit(1.000:1): cwd=\"/\"\n");
    let mut reader = LogReader::from_files([dir.path("a.log"), good]);
    assert!(matches!(reader.next_record(), Err(AuditLogError::Open { .. })));
    assert_eq!(reader.next_record().unwrap().unwrap().id().serial, 1);
}

/// The generator and the reader agree on the number of events and records.
#[test]
fn a_generated_log_reads_back_exactly() {
    let dir = TestDir::new();
    let path = dir.path("synth.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let stats = synth::write_log(&mut out, 4 << 20, 7).unwrap();
    drop(out);
    let mut events = LogReader::open(&path).events();
    let (mut got, mut eoe) =
        (SynthStats { bytes: std::fs::metadata(&path).unwrap().len(), ..SynthStats::default() }, 0);
    for event in events.by_ref() {
        let event = event.unwrap();
        got.events += 1;
        got.records += event.records.len() as u64;
        eoe += u64::from(event.completion == Completion::Eoe);
        let serials = event.records.iter().map(Record::id).collect::<std::collections::HashSet<_>>();
        assert_eq!(serials.len(), 1);
    }
    assert_eq!(got, stats);
    assert!(eoe > 0 && eoe < stats.events);
    assert!(events.warnings().is_empty());
}

/// This machine's own log: every line is a record, and there are events.
#[test]
fn reads_the_real_audit_log() {
    let path = Path::new(crate::auditd_conf::DEFAULT_LOG_FILE);
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => {}
        _ => {
            eprintln!("skipped: {} is missing or empty", path.display());
            return;
        }
    }
    let mut events = LogReader::open(path).events();
    let count = events.by_ref().inspect(|e| assert!(e.is_ok(), "{e:?}")).count();
    // auditd may be writing its last line right now: that one is not a defect of the log.
    let stored = events.warnings().stored();
    assert!(stored.iter().all(|w| matches!(w.kind, WarningKind::Unterminated { .. })), "warnings: {stored:#?}");
    assert!(count > 0);
}

#[test]
fn a_torn_last_line_is_a_warning() {
    let data = "type=CWD msg=audit(1.000:1): cwd=\"/\"\ntype=CWD msg=audit(1.0";
    let mut reader = LogReader::from_reader(Path::new("mem"), Cursor::new(data));
    assert_eq!(reader.by_ref().count(), 1);
    let got: Vec<_> = reader.warnings().stored().iter().map(|w| (w.line, w.offset, w.kind.clone())).collect();
    assert_eq!(got, [(2, 37, WarningKind::Unterminated { len: 22 })]);
}

#[test]
fn an_event_too_large_is_cut_with_a_warning() {
    let line = "type=PATH msg=audit(1.000:5): item=0 name=\"/\"\n";
    let data = line.repeat(MAX_RECORDS_PER_EVENT + 3);
    let mut events = LogReader::from_reader(Path::new("mem"), Cursor::new(data)).events();
    let event = events.next().unwrap().unwrap();
    assert_eq!((event.records.len(), event.dropped), (MAX_RECORDS_PER_EVENT, 3));
    assert!(events.next().is_none());
    let w = &events.warnings().stored()[0];
    assert_eq!((w.line, w.kind.clone()), (1, WarningKind::EventTooLarge { event: event.id, dropped: 3 }));
}
