//! `prove` on the public rule sets of `../shared/corpus/rules`, each file loaded for real (through the
//! state guard, with the lines a host cannot undo blanked) and proven in this process. What must hold on
//! every set: no `shadowed` verdict citing a rule that is not earlier in the file, every watch on a
//! symlink reported as such with its target, every rule that is neither proven nor dead carrying a reason,
//! the watched files unchanged (content, mtime, ctime) and no scratch directory left behind. The proven
//! share of the loaded rules whose targets exist is printed per set (the figure the issue asks for).

mod common;

use std::{fs, path::PathBuf, time::Duration};

use audit_verify::{
    guard::{Environment, StateGuard},
    netlink::AuditSocket,
    prove::{self, Options, ProveReport, RuleProof, State},
    rules::augenrules::RulesInput,
    snapshot::{Inputs, Snapshot},
};

const LOG: &str = "/var/log/audit/audit.log";

/// The paths a rules text watches (`-w P`, `-F path=P`, `-F dir=P`).
fn watched(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            if *w == "-w" {
                if let Some(p) = words.get(i + 1) {
                    out.push(PathBuf::from(p));
                }
            } else if let Some(p) = w.strip_prefix("path=").or_else(|| w.strip_prefix("dir=")) {
                out.push(PathBuf::from(p));
            }
        }
    }
    out
}

/// Scratch directories of ours in the places prove may put them.
fn scratch_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [std::env::temp_dir(), PathBuf::from("/tmp"), PathBuf::from("/run")] {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("audit-verify-prove-") {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn line_of(source: &str) -> Option<usize> {
    source.rsplit(':').next()?.parse().ok()
}

/// The `FILE:LINE` locations a reason cites as "the rule at `FILE:LINE`".
fn cited(reason: &str) -> Vec<usize> {
    reason
        .split("the rule at ")
        .skip(1)
        .filter_map(|s| s.split([' ', ',', ';', ')']).next())
        .filter_map(line_of)
        .collect()
}

/// Whether the rule's watched path (if any) exists here: the kernel matches watches by inode, so a rule on
/// a missing path is fired only by creating it.
fn target_exists(r: &RuleProof) -> bool {
    let word = r.rule.split_whitespace().find_map(|w| w.strip_prefix("path=").or_else(|| w.strip_prefix("dir=")));
    let watch = r.rule.split_whitespace().skip_while(|w| *w != "-w").nth(1);
    word.or(watch).is_none_or(|p| fs::symlink_metadata(p).is_ok())
}

struct SetResult {
    name: String,
    loaded: usize,
    with_target: usize,
    proven: usize,
}

fn check_set(report: &ProveReport, name: &str, text: &str) -> SetResult {
    let mut with_target = 0;
    let mut proven = 0;
    let mut loaded = 0;
    for r in &report.rules {
        let at = r.source.as_deref().and_then(line_of).unwrap_or(usize::MAX);
        let reason = r.reason.as_deref().unwrap_or("");
        match r.state {
            State::Shadowed => {
                for line in cited(reason) {
                    assert!(line < at, "{name}:{at}: shadowed by a rule that is not earlier: {reason}");
                }
                // The planner looked outside the earlier rule's match set and found nothing there.
                assert!(
                    reason.contains("fully shadowed") || reason.contains("never rule"),
                    "{name}:{at}: a shadowing not judged over the whole match set: {reason}"
                );
            }
            State::Proven => assert!(r.evidence.as_ref().is_some_and(|e| e.offset.is_some()), "{name}: {r:?}"),
            State::NotLoaded => {}
            _ => assert!(reason.len() > 20, "{name}:{at}: {} without a reason: {}", r.state.name(), r.rule),
        }
        // A read or exec watch on a symlink never fires for what goes through the link: it is reported as
        // such. (With w or a, replacing the link fires it, and that is proven.)
        let words: Vec<&str> = r.rule.split_whitespace().collect();
        let perms = words.iter().position(|w| *w == "-p").and_then(|i| words.get(i + 1)).copied().unwrap_or("rwxa");
        if let Some(path) = words.iter().skip_while(|w| **w != "-w").nth(1)
            && fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
            && r.state != State::NotLoaded
            && !perms.contains(['w', 'a'])
        {
            let target = fs::read_link(path).unwrap();
            assert_eq!(r.state, State::Symlink, "{name}:{at}: {path} is a symlink: {r:?}");
            assert!(reason.contains(&target.display().to_string()), "{name}:{at}: the target is named: {reason}");
        }
        // Counted: loaded rules a record can prove (never, exclude and filesystem rules record nothing of
        // their own), except the verdicts that say no event can fire them (dead, symlink).
        if r.state == State::NotLoaded || r.state == State::Dead || !r.records() {
            continue;
        }
        loaded += 1;
        if target_exists(r) && r.state != State::Symlink {
            with_target += 1;
            proven += usize::from(r.state == State::Proven);
        }
    }
    assert!(!text.is_empty());
    SetResult { name: name.to_owned(), loaded, with_target, proven }
}

#[test]
#[expect(clippy::cast_precision_loss, reason = "rule counts are exact in an f64")]
fn public_rule_sets_get_right_verdicts_and_change_nothing() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let scratch = std::env::temp_dir().join(format!("av-prove-corpus-{}", std::process::id()));
    fs::create_dir_all(&scratch).unwrap();
    let before_scratch = scratch_dirs();
    let mut results = Vec::new();
    let mut socket = AuditSocket::open().unwrap();
    for file in common::corpus_files("rules") {
        let parent = file.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let name = format!("{parent}/{}", file.file_name().unwrap().to_string_lossy());
        let text = String::from_utf8_lossy(&fs::read(&file).unwrap()).into_owned();
        let safe = common::without_irreversible(&text);
        let copy = scratch.join(name.replace('/', "--"));
        // `-c` first: go on past the lines this kernel refuses (those end not_loaded). The copy is what prove
        // reads too, so its line numbers are the copy's (one more than the original's).
        fs::write(&copy, format!("-c\n{safe}")).unwrap();
        guard.run_auditctl(&["-D"]).unwrap();
        if let Err(e) = guard.run_auditctl(&["-R", copy.to_str().unwrap()]) {
            println!("{name}: {e}");
        }
        // Directories are left out: /tmp, /var/log and the like change under every process on the host
        // (prove's own scratch directory goes into /tmp); a directory watch is proven by a failing lookup
        // inside it, which creates nothing.
        let paths: Vec<PathBuf> =
            watched(&text).into_iter().filter(|p| !fs::metadata(p).is_ok_and(|m| m.is_dir())).collect();
        let before: Vec<_> = paths.iter().map(|p| common::fingerprint(p)).collect();
        let inputs = Inputs { rules: RulesInput::File(copy.clone()), log: Some(LOG.into()), ..Inputs::default() };
        let snapshot = Snapshot::gather(inputs).unwrap();
        let diff = snapshot.rules_diff().unwrap();
        let mut progress = |_, _| {};
        let log = snapshot.log.clone().unwrap();
        let options = Options { log, timeout: Duration::from_secs(5), allow_mutation: false, progress: &mut progress };
        let report = prove::prove(snapshot.prove_input(&diff).unwrap(), &mut socket, options).unwrap();
        let after: Vec<_> = paths.iter().map(|p| common::fingerprint(p)).collect();
        for ((p, b), a) in paths.iter().zip(&before).zip(&after) {
            assert_eq!(b, a, "{name}: {} changed", p.display());
        }
        print!("== {name}\n{}", prove::report::table(&report));
        results.push(check_set(&report, &name, &text));
    }
    guard.run_auditctl(&["-D"]).unwrap();
    guard.restore().unwrap();
    fs::remove_dir_all(&scratch).unwrap();
    assert_eq!(scratch_dirs(), before_scratch, "a scratch directory was left behind");

    let (mut all, mut proven) = (0, 0);
    for r in &results {
        if r.with_target > 0 {
            println!(
                "{:<60} {:>4} loaded, {:>4} with targets here, {:>4} proven ({:.0}%)",
                r.name,
                r.loaded,
                r.with_target,
                r.proven,
                100.0 * r.proven as f64 / r.with_target as f64
            );
        }
        all += r.with_target;
        proven += r.proven;
    }
    let share = 100.0 * proven as f64 / all.max(1) as f64;
    println!("all sets: {proven} of {all} proven ({share:.1}%)");
    assert!(share >= 90.0, "under 90% of the rules whose targets exist here proven: {share:.1}%");
}

/// The speed figure of docs/performance.md: every public rule set concatenated into one file (without
/// their `-D` lines, which would delete what came before, and without what a host cannot undo), loaded,
/// and proven by the binary, wall clock from start to exit. It prints the figure; it asserts no time.
#[test]
fn all_public_rule_sets_in_one_file_speed() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let scratch = std::env::temp_dir().join(format!("av-prove-corpus-speed-{}", std::process::id()));
    fs::create_dir_all(&scratch).unwrap();
    let mut text = String::from("-c\n");
    // 10-no-audit.rules (`-a never,task`) switches auditing off for every process forked after it: in one
    // file with the others, it would shadow them all.
    for file in common::corpus_files("rules").into_iter().filter(|f| !f.ends_with("10-no-audit.rules")) {
        let body = String::from_utf8_lossy(&fs::read(&file).unwrap()).into_owned();
        for line in body.lines() {
            let compact: String = line.split_whitespace().collect();
            text.push_str(if common::irreversible(line) || compact == "-D" { "#" } else { line });
            text.push('\n');
        }
    }
    let all = scratch.join("all.rules");
    fs::write(&all, &text).unwrap();
    guard.run_auditctl(&["-D"]).unwrap();
    let _ = guard.run_auditctl(&["-R", all.to_str().unwrap()]);
    // AUDIT_VERIFY_BIN: measure another build (the release binary) than the one under test.
    let binary =
        std::env::var_os("AUDIT_VERIFY_BIN").filter(|b| !b.is_empty()).map_or_else(common::binary, PathBuf::from);
    let start = std::time::Instant::now();
    let out = std::process::Command::new(&binary).args(["prove", "--json", "--rules-file"]).arg(&all).output().unwrap();
    let elapsed = start.elapsed();
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let states = json["rules"].as_array().unwrap().iter().fold(std::collections::BTreeMap::new(), |mut m, r| {
        *m.entry(r["state"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        m
    });
    println!(
        "prove of {} loaded rules (all public sets in one file): {} ms wall clock, {} ms in the library ({}); {states:?}",
        json["loaded"],
        elapsed.as_millis(),
        json["elapsed_ms"],
        binary.display()
    );
    assert!(json["loaded"].as_u64().unwrap() >= 400, "{}", json["loaded"]);
    guard.run_auditctl(&["-D"]).unwrap();
    guard.restore().unwrap();
    fs::remove_dir_all(&scratch).unwrap();
}
