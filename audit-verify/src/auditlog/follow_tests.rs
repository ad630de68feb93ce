use std::fs;

use super::*;
use crate::auditlog::test_dir::TestDir;

fn rec(serial: u64) -> String {
    format!("type=SYSCALL msg=audit(1700000000.000:{serial}): syscall=59 exe=\"/bin/true\"\n")
}

/// Serials of the records available now, and their (file name, line, offset).
fn drain(f: &mut Follower) -> Vec<(u64, String, u64, u64)> {
    std::iter::from_fn(|| f.next_record().unwrap())
        .map(|r| {
            let name = r.location.file.file_name().unwrap().to_string_lossy().into_owned();
            (r.id().serial, name, r.location.line, r.location.offset)
        })
        .collect()
}

#[test]
fn holds_a_half_written_line_until_it_completes() {
    let dir = TestDir::new();
    let full = rec(2);
    let (head, tail) = full.split_at(20);
    dir.write("audit.log", format!("{}{head}", rec(1)).as_bytes());
    let mut f = Follower::open(&dir.path("audit.log"), 0).unwrap();
    assert_eq!(drain(&mut f), [(1, "audit.log".into(), 1, 0)]);
    assert_eq!(f.position(), rec(1).len() as u64);
    assert!(f.next_record().unwrap().is_none(), "still half written");
    dir.append("audit.log", tail.as_bytes());
    assert_eq!(drain(&mut f), [(2, "audit.log".into(), 2, rec(1).len() as u64)]);
    assert!(f.warnings().is_empty());
}

#[test]
fn starts_at_an_offset_with_true_line_numbers() {
    let dir = TestDir::new();
    let path = dir.write("audit.log", format!("{}{}{}", rec(1), rec(2), rec(3)).as_bytes());
    let offset = (rec(1).len() + rec(2).len()) as u64;
    let mut f = Follower::open(&path, offset).unwrap();
    assert_eq!(drain(&mut f), [(3, "audit.log".into(), 3, offset)]);
}

#[test]
fn follows_across_rotation() {
    let dir = TestDir::new();
    let log = dir.write("audit.log", rec(1).as_bytes());
    let mut f = Follower::open(&log, 0).unwrap();
    assert_eq!(drain(&mut f).len(), 1);
    // auditd: the last records go to the old file, then rename, then a new file.
    dir.append("audit.log", rec(2).as_bytes());
    fs::rename(&log, dir.path("audit.log.1")).unwrap();
    assert!(f.next_record().unwrap().is_some_and(|r| r.id().serial == 2));
    assert!(f.next_record().unwrap().is_none(), "no new file yet");
    let half = &rec(4)[..10];
    dir.write("audit.log", format!("{}{half}", rec(3)).as_bytes());
    assert_eq!(drain(&mut f), [(3, "audit.log".into(), 1, 0)]);
    dir.append("audit.log", &rec(4).as_bytes()[10..]);
    dir.append("audit.log", rec(5).as_bytes());
    let got: Vec<u64> = drain(&mut f).into_iter().map(|r| r.0).collect();
    assert_eq!(got, [4, 5]);
    assert!(f.warnings().is_empty(), "{:?}", f.warnings());
}

/// auditd as it rotates with `num_logs`: each file moves one number up, then a new file starts.
fn rotate(dir: &TestDir, kept: u32) {
    for n in (1..kept).rev() {
        let _ = fs::rename(dir.path(&format!("audit.log.{n}")), dir.path(&format!("audit.log.{}", n + 1)));
    }
    fs::rename(dir.path("audit.log"), dir.path("audit.log.1")).unwrap();
}

#[test]
fn several_rotations_between_two_reads_are_read_in_order() {
    let dir = TestDir::new();
    let log = dir.write("audit.log", rec(1).as_bytes());
    let mut f = Follower::open(&log, 0).unwrap();
    assert_eq!(drain(&mut f).len(), 1);
    dir.append("audit.log", rec(2).as_bytes());
    // Three rotations before the next read: ours is audit.log.3 by then.
    for serial in [3, 4] {
        rotate(&dir, 5);
        dir.write("audit.log", rec(serial).as_bytes());
    }
    rotate(&dir, 5);
    dir.write("audit.log", rec(5).as_bytes());
    let got: Vec<(u64, String)> = drain(&mut f).into_iter().map(|r| (r.0, r.1)).collect();
    // Record 2 keeps the name its file had when it was opened.
    let want = [(2, "audit.log"), (3, "audit.log.2"), (4, "audit.log.1"), (5, "audit.log")];
    assert_eq!(got, want.map(|(serial, name)| (serial, name.to_owned())));
    assert!(f.warnings().is_empty());
}

#[test]
fn a_partial_line_left_in_a_rotated_file_is_a_warning() {
    let dir = TestDir::new();
    let log = dir.write("audit.log", format!("{}type=SYSC", rec(1)).as_bytes());
    let mut f = Follower::open(&log, 0).unwrap();
    assert_eq!(drain(&mut f).len(), 1);
    fs::rename(&log, dir.path("audit.log.1")).unwrap();
    dir.write("audit.log", rec(2).as_bytes());
    assert_eq!(drain(&mut f), [(2, "audit.log".into(), 1, 0)]);
    let w = f.warnings().stored();
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].line, w[0].kind.clone()), (2, WarningKind::Unterminated { len: 9 }));
}

#[test]
fn a_rotated_file_whose_last_record_lacks_its_newline_keeps_it() {
    let dir = TestDir::new();
    let last = rec(2);
    let log = dir.write("audit.log", format!("{}{}", rec(1), last.trim_end()).as_bytes());
    let mut f = Follower::open(&log, 0).unwrap();
    // Still growing: the last line may not be finished, so it waits.
    assert_eq!(drain(&mut f).len(), 1);
    fs::rename(&log, dir.path("audit.log.1")).unwrap();
    dir.write("audit.log", rec(3).as_bytes());
    assert_eq!(drain(&mut f), [(2, "audit.log".into(), 2, rec(1).len() as u64), (3, "audit.log".into(), 1, 0)]);
    assert!(f.warnings().is_empty(), "{:?}", f.warnings());
}

#[test]
fn a_truncated_file_is_read_again_from_the_start() {
    let dir = TestDir::new();
    let log = dir.write("audit.log", format!("{}{}", rec(1), rec(2)).as_bytes());
    let mut f = Follower::open(&log, 0).unwrap();
    assert_eq!(drain(&mut f).len(), 2);
    fs::write(&log, rec(3)).unwrap();
    assert_eq!(drain(&mut f), [(3, "audit.log".into(), 1, 0)]);
    assert_eq!(f.warnings().count(), 1);
}
