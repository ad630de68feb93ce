//! Each example rules file shipped with auditd is loaded for real with `auditctl -R`, read back over
//! netlink, and compared with our reading of the file. A file the kernel refuses part-way must be reported
//! at the very line auditctl names. Kernel state is restored by the state guard.

#![expect(
    unused_crate_dependencies,
    reason = "a test crate is linked with every dependency of the package; lib.rs checks them"
)]

mod common;

use std::{fs, path::PathBuf};

use audit_verify::{
    guard::{Environment, GuardError, StateGuard},
    netlink::AuditSocket,
    rules::{self, augenrules, diff},
};

const EXAMPLES: &str = "/usr/share/doc/auditd/examples/rules";

/// Findings that say the kernel and the file disagree (the others are about the file alone).
const DIFF_IDS: [&str; 3] = ["not_loaded", "loaded_not_in_files", "order_changed"];

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(EXAMPLES)
        .expect("auditd's example rules (Debian package auditd)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    files
}

/// `There was an error in line N of FILE` → N.
fn auditctl_error_line(message: &str) -> Option<usize> {
    message.split("error in line ").nth(1)?.split_whitespace().next()?.parse().ok()
}

/// Each file loaded alone, read back and compared: what loaded, where a refusal stopped it, and what a
/// host cannot load (`-e 2` and the like).
#[derive(Default)]
struct Outcome {
    identical: Vec<String>,
    refused_lines: Vec<String>,
    not_loadable: Vec<String>,
}

fn round_trip(files: &[PathBuf]) -> Outcome {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let mut socket = AuditSocket::open().unwrap();
    let mut outcome = Outcome::default();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        guard.run_auditctl(&["-D"]).unwrap();
        let load = guard.run_auditctl(&["-R", file.to_str().unwrap()]);
        let source = augenrules::RulesInput::File(file.clone()).load().unwrap();
        let (loaded, undecodable) = rules::loaded(&mut socket).unwrap();
        assert!(undecodable.is_empty(), "{name}: {undecodable:?}");
        let report = diff::compare(&source, &loaded);
        let diffs: Vec<_> = report.findings.iter().filter(|f| DIFF_IDS.contains(&f.id)).collect();
        match load {
            Ok(_) => {
                assert!(source.errors.is_empty(), "{name}: we cannot parse what auditctl accepts: {:?}", source.errors);
                assert!(diffs.is_empty(), "{name} loaded, yet we see differences: {diffs:#?}");
                assert_eq!(report.matched, loaded.len(), "{name}");
                outcome.identical.push(name);
            }
            Err(GuardError::Forbidden { what, .. }) => outcome.not_loadable.push(format!("{name} ({what})")),
            Err(GuardError::Command { detail, .. }) => {
                // auditctl stopped at a line: the first problem we report (a rule the kernel refused, or
                // one we cannot parse either, such as an unknown user) must be that line, and every
                // difference must be a rule missing from there on.
                let line_of = |l: &str| l.rsplit(':').next().and_then(|n| n.parse::<usize>().ok());
                let first = report
                    .findings
                    .iter()
                    .filter(|f| f.id == "not_loaded" || f.id == "syntax_error")
                    .filter_map(|f| line_of(f.location.as_deref()?))
                    .min();
                match auditctl_error_line(&detail) {
                    Some(line) => assert_eq!(first, Some(line), "{name}: {detail}\n{:#?}", report.findings),
                    // auditctl failed without saying where (an unknown user name does that): we must.
                    None => assert!(first.is_some(), "{name}: auditctl failed silently and so did we"),
                }
                assert!(diffs.iter().all(|f| f.id == "not_loaded"), "{name}: {diffs:#?}");
                outcome.refused_lines.push(format!("{name}:{}", first.unwrap_or(0)));
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    guard.restore().unwrap();
    eprintln!("identical after loading: {:?}", outcome.identical);
    eprintln!("refused by this kernel at the line we report: {:?}", outcome.refused_lines);
    eprintln!("not loaded (cannot be undone on a host): {:?}", outcome.not_loadable);
    outcome
}

#[test]
fn every_example_file_round_trips_through_the_kernel() {
    let identical = round_trip(&example_files()).identical;
    // On this VM 29 of 35 load; 30-stig, 30-pci-dss-v31, 30-nispom and 30-ospp-v42 watch directories this
    // host does not have (/etc/NetworkManager, /etc/sudoers.d, /etc/sysconfig) and 22-ignore-chrony names a
    // user it does not have: the kernel (or auditctl) refuses those lines, checked above.
    assert!(identical.len() >= 25, "too few example files loaded: {identical:?}");
    for needed in ["31-privileged.rules", "43-module-load.rules", "10-base-config.rules", "70-einval.rules"] {
        assert!(identical.iter().any(|n| n == needed), "{needed} did not round-trip");
    }
}

/// The public rule sets of `../shared/corpus/rules`, as their authors ship them, with each line a host
/// cannot undo (`-e 2`, `-f 2`, `--loginuid-immutable`) blanked so that line numbers stay.
#[test]
fn every_public_rule_set_round_trips_through_the_kernel() {
    let scratch_dir = common::Scratch::named("corpus");
    let scratch = scratch_dir.0.clone();
    fs::create_dir_all(&scratch).unwrap();
    let mut files = Vec::new();
    for path in common::corpus_files("rules") {
        let parent = path.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let copy = scratch.join(format!("{parent}--{}", path.file_name().unwrap().to_string_lossy()));
        let text = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
        fs::write(&copy, common::without_irreversible(&text)).unwrap();
        files.push(copy);
    }
    files.sort();
    let outcome = round_trip(&files);
    drop(scratch_dir);
    assert!(outcome.identical.len() >= files.len() / 2, "too few public rule sets loaded: {:?}", outcome.identical);
}
