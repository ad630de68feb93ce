//! The audit.log reader against auparse, the library ausearch and aureport use, as the oracle.
//!
//! For every file of the shared corpus of public audit.log samples (`../shared/corpus/logs`, never copied
//! into the repo) and for generated cases, both group the file into events; we compare, per file, the
//! events as (node, secs, millis, serial, record types in order). auparse's view comes from
//! `tests/oracle/auparse_events.py` run with Debian's `/usr/bin/python3` (python3-audit, which
//! `cargo xtask setup` installs). Where we disagree on purpose, [`Deliberate`] names the difference and
//! the reason, and rewrites our view into auparse's; the test fails if a difference appears that no rule
//! explains, or if a rule is no longer needed.
//!
//! No kernel audit state is touched: no lock needed.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use audit_verify::auditlog::{LogReader, event::MAX_RECORDS_PER_EVENT};
use serde::Deserialize;

const PYTHON: &str = "/usr/bin/python3";

/// One event as both sides see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
struct Ev {
    node: Option<String>,
    secs: u64,
    millis: u16,
    serial: u64,
    types: Vec<u32>,
}

#[derive(Deserialize)]
struct OracleFile {
    file: PathBuf,
    events: Vec<Ev>,
}

/// A difference we keep on purpose, because the reader follows the kernel where auparse guesses. Each is
/// a rewrite of our events into the ones auparse makes; the test checks that auparse's view is exactly our
/// view rewritten, and that each rule was needed somewhere, so none outlives its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Deliberate {
    /// auparse ends an event at PROCTITLE (`audit_is_last_record`: "PROCTITLE is always the last
    /// record"). The kernel logs it in `audit_log_exit` with the rest of the syscall's records, and some
    /// kernels write it first (laurel's record-syscall-nullkey: PROCTITLE, PATH, SYSCALL, EOE): one event.
    ProctitleEndsEvent,
    /// auparse ends an event at LOGIN and at a user-space record. The kernel writes LOGIN from
    /// `audit_log_set_loginuid` inside the syscall that wrote /proc/self/loginuid, and stamps a user message
    /// with the serial of the audited sendto that carried it (`SERVICE_START` from systemd): the SYSCALL and
    /// EOE that follow under that serial are the same event.
    UserRecordEndsEvent,
    /// auparse drops an EOE that comes after it ended the event (at PROCTITLE), or with nothing before it.
    /// EOE is a record the kernel wrote for that event; we keep it in the event.
    LoneEoeDropped,
}

const PROCTITLE: u32 = 1327;
const EOE: u32 = 1320;

fn ends_event_for_auparse(kind: u32) -> Option<Deliberate> {
    match kind {
        PROCTITLE => Some(Deliberate::ProctitleEndsEvent),
        1005..=1299 | 2100..=2999 => Some(Deliberate::UserRecordEndsEvent),
        _ => None,
    }
}

/// Our events as auparse would make them, and the rules that changed something.
fn as_auparse_would(ours: &[Ev]) -> (Vec<Ev>, BTreeSet<Deliberate>) {
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for e in ours {
        let mut piece = Vec::new();
        for (i, &t) in e.types.iter().enumerate() {
            piece.push(t);
            if i + 1 < e.types.len()
                && let Some(rule) = ends_event_for_auparse(t)
            {
                used.insert(rule);
                out.push(Ev { types: std::mem::take(&mut piece), ..e.clone() });
            }
        }
        out.push(Ev { types: piece, ..e.clone() });
    }
    let before = out.len();
    out.retain(|e| e.types != [EOE]);
    if out.len() < before {
        used.insert(Deliberate::LoneEoeDropped);
    }
    out.sort();
    (out, used)
}

/// auparse's events for each file, sorted, keyed by the path as given.
fn auparse_events(files: &[PathBuf]) -> BTreeMap<PathBuf, Vec<Ev>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/auparse_events.py");
    let out = Command::new(PYTHON)
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("running {PYTHON} {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "the auparse oracle failed (install python3-audit: `cargo xtask setup` does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Vec<OracleFile> = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    parsed
        .into_iter()
        .map(|f| {
            let mut events = f.events;
            events.sort();
            (f.file, events)
        })
        .collect()
}

/// Our events for a file, sorted like auparse's.
fn our_events(file: &Path) -> Vec<Ev> {
    let mut events: Vec<Ev> = LogReader::open(file)
        .events()
        .map(|e| {
            let e = e.unwrap_or_else(|err| panic!("{}: {err}", file.display()));
            Ev {
                node: e.node().map(str::to_owned),
                secs: e.id.secs,
                millis: e.id.millis,
                serial: e.id.serial,
                types: e.records.iter().map(|r| r.kind().code.expect("a numbered type")).collect(),
            }
        })
        .collect();
    events.sort();
    events
}

/// Compares both views of each file: a description of every difference the [`Deliberate`] rules do not
/// explain (empty when none), and the rules that were needed.
fn compare(files: &[PathBuf], name: impl Fn(&Path) -> String) -> (String, BTreeSet<Deliberate>) {
    let oracle = auparse_events(files);
    let mut report = String::new();
    let mut used = BTreeSet::new();
    for file in files {
        let label = name(file);
        let (ours, rules) = as_auparse_would(&our_events(file));
        let theirs = &oracle[file];
        if ours == *theirs {
            used.extend(rules);
            continue;
        }
        writeln!(report, "{label}: {} events here (after {rules:?}), {} from auparse", ours.len(), theirs.len())
            .unwrap();
        for e in ours.iter().filter(|e| !theirs.contains(e)) {
            writeln!(report, "    only ours:    {e:?}").unwrap();
        }
        for e in theirs.iter().filter(|e| !ours.contains(e)) {
            writeln!(report, "    only auparse: {e:?}").unwrap();
        }
    }
    (report, used)
}

#[test]
fn every_corpus_file_groups_into_the_events_auparse_sees() {
    let files = common::corpus_files("logs");
    assert!(files.len() >= 100, "the corpus shrank to {} files", files.len());
    let dir = common::corpus("logs");
    let (report, used) = compare(&files, |f| f.strip_prefix(&dir).unwrap().display().to_string());
    assert!(report.is_empty(), "disagreements with auparse:\n{report}");
    let all =
        BTreeSet::from([Deliberate::ProctitleEndsEvent, Deliberate::UserRecordEndsEvent, Deliberate::LoneEoeDropped]);
    assert_eq!(used, all, "a deliberate difference no longer shows in the corpus: drop it");
}

/// A generated log for one of the disagreements we fixed. When auparse's view is not ours rewritten by
/// [`Deliberate`], `auparse_differs` says what auparse's view must look like instead, and why we differ.
struct Case {
    name: &'static str,
    text: Vec<u8>,
    auparse_differs: Option<(Expect, &'static str)>,
}

/// Whether auparse's events are what the deliberate difference predicts.
type Expect = fn(&[Ev]) -> bool;

/// Records at a realistic time (auparse mishandles some headers at times near the epoch).
const T: u64 = 1_700_000_000;

fn line(node: Option<&str>, kind: &str, secs: u64, serial: u64, body: &str) -> String {
    let node = node.map(|n| format!("node={n} ")).unwrap_or_default();
    format!("{node}type={kind} msg=audit({secs}.000:{serial}): {body}\n")
}

fn cases() -> Vec<Case> {
    let mut reordered = String::new();
    // The SYSCALL of serial 10 is written before an older event's records: they still join.
    reordered += &line(None, "SYSCALL", T + 5, 10, "syscall=2");
    reordered += &line(None, "SYSCALL", T, 9, "syscall=2");
    reordered += &line(None, "PATH", T, 9, "item=0");
    reordered += &line(None, "PATH", T + 5, 10, "item=0");
    reordered += &line(None, "EOE", T + 5, 10, "");
    reordered += &line(None, "SYSCALL", T + 7, 11, "syscall=2");

    let mut skewed = String::new();
    for kind in ["SYSCALL", "PATH", "EOE"] {
        skewed += &line(Some("a"), kind, T, 1, "x=1");
        skewed += &line(Some("b"), kind, T + 3600, 1, "x=1");
    }

    let mut big = String::new();
    for item in 0..MAX_RECORDS_PER_EVENT + 50 {
        big += &line(None, "PATH", T, 5, &format!("item={item} name=\"/\""));
    }
    big += &line(None, "EOE", T, 5, "");

    let mut no_newline = line(None, "SYSCALL", T, 1, "syscall=2") + &line(None, "PATH", T, 1, "item=0");
    no_newline.pop();

    let headers = format!(
        "type=SYSCALL audit({T}.690:5717): arch=c00000b7 syscall=222\n\
         type=EOE audit({T}.690:5717): \n\
         type=DAEMON_CONFIG msg=audit({T}.690:5718) config changed auid=0 res=success\n"
    );
    let quote = format!(
        "type=USER_AUTH msg=audit({T}.000:8): pid=3 msg='op=PAM:authentication acct='it's' exe=\"/bin/su\" \
         res=failed'\n"
    );
    let mut bytes = format!("type=SYSCALL msg=audit({T}.000:1): comm=\"").into_bytes();
    bytes.extend(b"\xff\xfe\" a0=1\n");
    bytes.extend(format!("type=PATH msg=audit({T}.000:1): name=\"a").as_bytes());
    bytes.extend(b"\0b\"\n");
    bytes.extend(line(None, "EOE", T, 1, "").as_bytes());

    vec![
        Case { name: "reordered", text: reordered.into_bytes(), auparse_differs: None },
        Case {
            name: "skewed-nodes",
            text: skewed.into_bytes(),
            // auparse closes node a's event on node b's clock, an hour ahead: a's SYSCALL and PATH come
            // apart and its EOE is dropped.
            auparse_differs: Some((
                |theirs| theirs.iter().filter(|e| e.node.as_deref() == Some("a")).count() == 2,
                "each node has its own clock and serials; auparse compares one node's time with another's",
            )),
        },
        Case {
            name: "event-too-large",
            text: big.into_bytes(),
            auparse_differs: Some((
                |theirs| theirs.len() == 1 && theirs[0].types.len() == MAX_RECORDS_PER_EVENT + 51,
                "memory stays bounded: beyond MAX_RECORDS_PER_EVENT records are counted with a warning, not \
                 kept; auparse keeps them all",
            )),
        },
        Case { name: "no-final-newline", text: no_newline.into_bytes(), auparse_differs: None },
        Case { name: "headers-auditd-wrote", text: headers.into_bytes(), auparse_differs: None },
        Case { name: "quote-inside-msg", text: quote.into_bytes(), auparse_differs: None },
        Case { name: "bad-bytes", text: bytes, auparse_differs: None },
    ]
}

#[test]
fn generated_cases_group_as_auparse_does() {
    let dir = std::env::temp_dir().join(format!("audit-verify-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = cases();
    let files: Vec<PathBuf> = cases
        .iter()
        .map(|c| {
            let path = dir.join(c.name);
            std::fs::write(&path, &c.text).unwrap();
            path
        })
        .collect();
    let mut report = String::new();
    let oracle = auparse_events(&files);
    for (case, file) in cases.iter().zip(&files) {
        let theirs = &oracle[file];
        let ours = our_events(file);
        assert!(!ours.is_empty() && !theirs.is_empty(), "{}: no events (ours {ours:?}, auparse {theirs:?})", case.name);
        match case.auparse_differs {
            None => {
                let (report_one, _) = compare(std::slice::from_ref(file), |_| case.name.to_owned());
                report += &report_one;
            }
            Some((theirs_as_expected, reason)) => {
                if !theirs_as_expected(theirs) || as_auparse_would(&ours).0 == *theirs {
                    writeln!(
                        report,
                        "{}: the deliberate difference ({reason}) changed: ours {ours:?}, auparse {theirs:?}",
                        case.name
                    )
                    .unwrap();
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(report.is_empty(), "disagreements with auparse:\n{report}");
}
