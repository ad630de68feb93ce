//! The audit.log reader against auparse, the library ausearch and aureport use, as the oracle.
//!
//! For every file of the shared corpus of public audit.log samples (`../shared/corpus/logs`, never copied
//! into the repo) and for generated cases, both group the file into events; we compare, per file, the
//! events as (node, secs, millis, serial, record types in order). auparse's view comes from
//! `tests/oracle/auparse_events.py` run with Debian's `/usr/bin/python3` (python3-audit, which
//! `cargo xtask setup` installs). Where we disagree on purpose, [`DELIBERATE`] lists the event with both
//! views and the reason; the test fails if a listed difference disappears or another one appears.
//!
//! No kernel audit state is touched: no lock needed.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use audit_verify::auditlog::LogReader;
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

/// A difference we keep: in `file`, the events with this serial are `ours` for us and `auparse` for
/// auparse (types in order, one list per event).
struct Deliberate {
    file: &'static str,
    serial: u64,
    ours: &'static [&'static [u32]],
    auparse: &'static [&'static [u32]],
    reason: &'static str,
}

// Record type numbers, for reading the table below.
const LOGIN: u32 = 1006;
const SYSCALL: u32 = 1300;
const EOE: u32 = 1320;

/// The differences we keep, each because the reader follows the kernel where auparse guesses.
const DELIBERATE: &[Deliberate] = &[Deliberate {
    file: "laurel/record-login.txt",
    serial: 151316,
    ours: &[&[LOGIN, SYSCALL, EOE]],
    auparse: &[&[LOGIN], &[SYSCALL, EOE]],
    reason: "the kernel writes LOGIN from audit_log_set_loginuid inside the syscall's audit context, so \
             it has the syscall's serial and ends with its EOE; auparse treats LOGIN as the last record of \
             an event and splits one event into two",
}];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/logs")
}

/// Every sample of the corpus (each folder's files except its PROVENANCE.txt), sorted.
fn corpus_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display())) {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&folder).unwrap() {
            let f = f.unwrap().path();
            if f.file_name().is_some_and(|n| n != "PROVENANCE.txt") {
                files.push(f);
            }
        }
    }
    files.sort();
    files
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

/// Compares both views of each file; returns a description of every difference not in [`DELIBERATE`]
/// and of every listed one that did not show.
fn compare(files: &[PathBuf], name: impl Fn(&Path) -> String) -> String {
    let oracle = auparse_events(files);
    let mut report = String::new();
    for file in files {
        let label = name(file);
        let mut ours = our_events(file);
        let mut theirs = oracle[file].clone();
        for d in DELIBERATE.iter().filter(|d| d.file == label) {
            let take = |evs: &mut Vec<Ev>| -> Vec<Vec<u32>> {
                let (hit, rest): (Vec<Ev>, Vec<Ev>) = evs.drain(..).partition(|e| e.serial == d.serial);
                *evs = rest;
                hit.into_iter().map(|e| e.types).collect()
            };
            let (o, t) = (take(&mut ours), take(&mut theirs));
            let want = |v: &[&[u32]]| -> Vec<Vec<u32>> { v.iter().map(|t| t.to_vec()).collect() };
            if o != want(d.ours) || t != want(d.auparse) {
                writeln!(
                    report,
                    "{label}: deliberate difference at serial {} changed: ours {o:?}, auparse {t:?} ({})",
                    d.serial, d.reason
                )
                .unwrap();
            }
        }
        if ours != theirs {
            writeln!(report, "{label}: {} events here, {} from auparse", ours.len(), theirs.len()).unwrap();
            for e in ours.iter().filter(|e| !theirs.contains(e)) {
                writeln!(report, "    only ours:    {e:?}").unwrap();
            }
            for e in theirs.iter().filter(|e| !ours.contains(e)) {
                writeln!(report, "    only auparse: {e:?}").unwrap();
            }
        }
    }
    report
}

#[test]
fn every_corpus_file_groups_into_the_events_auparse_sees() {
    let files = corpus_files();
    assert!(files.len() >= 100, "the corpus shrank to {} files", files.len());
    let dir = corpus_dir();
    let report = compare(&files, |f| f.strip_prefix(&dir).unwrap().display().to_string());
    assert!(report.is_empty(), "disagreements with auparse:\n{report}");
}
