use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use super::*;
use crate::auditlog::{RecordType, test_dir::TestDir};

/// The shared corpus of public audit.log samples, beside the repository (never copied into it).
fn corpus() -> Vec<Sample> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/logs");
    let files = corpus_files(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
    assert!(files.len() >= 100, "the corpus shrank to {} files", files.len());
    samples(files).unwrap()
}

#[test]
fn a_replayed_corpus_reads_back_as_its_events_with_every_record_as_found() {
    let samples = corpus();
    let dir = TestDir::new();
    let path = dir.path("replay.log");
    let mut bytes = Vec::new();
    let stats = write_log(&mut bytes, &samples, 4 << 20, 7).unwrap();
    assert_eq!(stats.bytes, bytes.len() as u64);
    let mut again = Vec::new();
    write_log(&mut again, &samples, 4 << 20, 7).unwrap();
    assert!(again == bytes, "the same seed gives the same bytes");
    std::fs::write(&path, &bytes).unwrap();

    let mut events = LogReader::open(&path).events();
    let (mut n, mut records, mut serials) = (0u64, 0u64, Vec::new());
    let (mut types, mut longest) = (BTreeSet::new(), 0);
    for e in events.by_ref() {
        let e = e.unwrap();
        n += 1;
        records += e.records.len() as u64;
        serials.push(e.id.serial);
        for r in &e.records {
            types.insert(r.kind().name.to_string());
            longest = longest.max(r.text().len());
        }
    }
    assert!(events.warnings().is_empty(), "{:?}", events.warnings().stored());
    assert_eq!((n, records), (stats.events, stats.records));
    // Events come out as they complete, not as they began.
    serials.sort_unstable();
    assert!(serials.iter().copied().eq(1..=n), "fresh serials, one per event");

    let mut corpus_types = BTreeSet::new();
    let mut corpus_longest = 0;
    for s in &samples {
        for (head, tail) in &s.records {
            let name = head.split("type=").nth(1).and_then(|t| t.split(' ').next()).unwrap();
            corpus_types.insert(RecordType::from_log(name).name.to_string());
            corpus_longest = corpus_longest.max(head.len() + tail.len());
        }
    }
    assert_eq!(types, corpus_types, "every record type of the corpus, no other");
    assert!(corpus_longest > 7000, "the corpus's long EXECVE is {corpus_longest} bytes without its stamp");
    assert!(longest > corpus_longest, "the longest line ({longest} bytes) is replayed whole");
}

#[test]
#[expect(
    clippy::cast_precision_loss,
    reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
)]
fn the_clock_runs_like_a_host_a_few_hundred_events_a_second_with_bursts_and_quiet_spells() {
    let samples = corpus();
    let mut bytes = Vec::new();
    write_log(&mut bytes, &samples, 16 << 20, 0x5eed).unwrap();
    let mut per_second = BTreeMap::<u64, u64>::new();
    let mut by_serial = Vec::new();
    let mut reader = LogReader::from_reader(Path::new("replay"), std::io::Cursor::new(bytes)).events();
    for e in reader.by_ref() {
        let id = e.unwrap().id;
        *per_second.entry(id.secs).or_default() += 1;
        by_serial.push((id.serial, id.time_ms()));
    }
    by_serial.sort_unstable();
    let times: Vec<u64> = by_serial.into_iter().map(|(_, t)| t).collect();
    let span_s = (times[times.len() - 1] - times[0]) as f64 / 1000.0;
    let rate = times.len() as f64 / span_s;
    assert!((150.0..600.0).contains(&rate), "{rate:.0} events a second over {span_s:.0} s");
    let quiet = times.windows(2).filter(|w| w[1] - w[0] >= 2000).count();
    assert!(quiet >= 2, "{quiet} quiet spells longer than the 2 s window");
    let busiest = per_second.values().max().copied().unwrap();
    assert!(busiest as f64 > 3.0 * rate, "the busiest second holds {busiest} events, the mean {rate:.0}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time never runs backwards from one serial to the next");
}
