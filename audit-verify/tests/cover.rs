//! `cover` against the real kernel and auditd: the audit-userspace STIG, OSPP and PCI DSS rule sets
//! loaded for real (as augenrules would build them: 10-base-config first, 99-finalize last, the lines a
//! host cannot undo blanked), and no rules at all; and the blind verdicts produced by real actions: an
//! `io_uring` open not recorded under an openat-only rule set and recorded once an `io_uring` rule is
//! added, a service (no loginuid) against `auid>=1000`, and an `exclude` rule removing SYSCALL records.
//! Every test holds a `StateGuard` for its whole duration.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{fs, path::Path, time::Duration};

use audit_verify::{
    cover::{self, CoverReport, Options, Outcome, Verdict, Via, profile},
    guard::{Environment, StateGuard},
    netlink::AuditSocket,
    rules::{Action, Field, FilterList, Op, Rule, Value, fields::id, kernel},
    snapshot::{Inputs, Snapshot},
};

const LOG: &str = "/var/log/audit/audit.log";

/// Runs `profile` against the rules loaded now.
fn run(profile: &profile::Profile) -> CoverReport {
    let snapshot = Snapshot::gather(Inputs { log: Some(LOG.into()), ..Inputs::default() }).unwrap();
    let mut socket = AuditSocket::open().unwrap();
    let mut progress = |_, _| {};
    let options =
        Options { log: snapshot.log.clone().unwrap(), timeout: Duration::from_secs(5), progress: &mut progress };
    let loaded = &snapshot.loaded;
    cover::cover(profile, &loaded.rules, loaded.undecodable.len(), &mut socket, options).unwrap()
}

/// Loads `files` of audit-userspace's rules/ as one file, in augenrules' order, under the guard.
fn load(guard: &mut StateGuard, scratch: &Path, files: &[&str]) {
    let dir = common::corpus("rules/audit-userspace/rules");
    let mut text = String::from("-c\n");
    for name in files {
        let body = fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        text.push_str(&common::without_irreversible(&body));
        text.push('\n');
    }
    let file = scratch.join("cover.rules");
    fs::write(&file, text).unwrap();
    guard.run_auditctl(&["-D"]).unwrap();
    if let Err(e) = guard.run_auditctl(&["-R", file.to_str().unwrap()]) {
        println!("loading {files:?}: {e}");
    }
}

/// Loads a rules text under the guard, replacing what is loaded.
fn load_text(guard: &mut StateGuard, scratch: &Path, text: &str) {
    let file = scratch.join("inline.rules");
    fs::write(&file, text).unwrap();
    guard.run_auditctl(&["-D"]).unwrap();
    guard.run_auditctl(&["-R", file.to_str().unwrap()]).unwrap();
}

fn print(report: &CoverReport) {
    print!("{}", cover::report::table(report));
}

/// What must hold of every report: a covered requirement carries the record that covers it (key,
/// serial, file offset); every other one says why; every probe that ran has its attempts judged.
fn explained(report: &CoverReport) {
    for r in &report.requirements {
        if r.verdict == Verdict::Covered {
            let e = r.evidence.as_ref().unwrap_or_else(|| panic!("{}: covered without a record", r.id));
            assert!(e.offset.is_some() && e.file.is_some() && e.serial > 0, "{}: {e:?}", r.id);
        } else {
            let said = r.reason.as_deref().is_some_and(|w| w.len() > 20);
            assert!(said, "{}: {:?} without a reason", r.id, r.verdict);
        }
        for p in &r.probes {
            if p.verdict != Verdict::Unprovable {
                assert!(!p.attempts.is_empty() && p.attempts.iter().all(|a| a.outcome != Outcome::NotRun), "{p:?}");
            }
        }
    }
}

#[test]
fn with_no_rules_every_requirement_is_not_covered() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.run_auditctl(&["-D"]).unwrap();
    for (name, _, _) in profile::BUILTIN {
        let report = run(&profile::builtin(name).unwrap());
        print(&report);
        explained(&report);
        for r in &report.requirements {
            assert!(matches!(r.verdict, Verdict::NotCovered | Verdict::Unprovable), "{name} {}: {:?}", r.id, r.verdict);
            if r.verdict == Verdict::Unprovable {
                assert!(r.probes.iter().all(|p| p.verdict == Verdict::Unprovable), "{name} {}: {r:?}", r.id);
            }
        }
        assert!(report.counts.not_covered > report.counts.unprovable, "{name}: {:?}", report.counts);
        assert!(report.findings.iter().any(|f| f.id == "no_audit_rules"), "{name}: no rules is a high finding");
        assert!(report.fails(audit_verify::finding::Severity::High));
        println!("{name} with no rules: {:?}", report.counts);
    }
    // --junit: a testcase per requirement, as CI reads it.
    let junit = common::Scratch::named("cover-junit");
    let out = std::process::Command::new(common::binary())
        .args(["cover", "--profile", "cis", "--junit"])
        .arg(&junit.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "not covered: exit 1: {}", String::from_utf8_lossy(&out.stderr));
    let suites = junit_parser::from_reader(std::io::BufReader::new(fs::File::open(&junit.0).unwrap())).unwrap();
    let cis = profile::builtin("cis").unwrap();
    assert_eq!(suites.suites[0].cases.len(), cis.requirements.len());
    assert!(suites.suites[0].failures > 0 && suites.suites[0].skipped > 0, "{:?}", suites.suites[0]);

    // check: "no audit rules loaded" is high whatever the profile, and --profile adds the coverage section.
    for profile in [None, Some("stig")] {
        let mut args = vec!["check", "--json", "--duration", "0"];
        args.extend(profile.iter().flat_map(|p| ["--profile", p]));
        let out = std::process::Command::new(common::binary()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let no_rules = check["findings"].as_array().unwrap().iter().filter(|f| f["id"] == "no_audit_rules").count();
        assert_eq!(no_rules, 1, "{args:?}: {}", check["findings"]);
        assert_eq!(check["verdict"], "fail");
        assert_eq!(check["cover"]["profile"]["name"].as_str(), profile, "{args:?}");
        if profile.is_some() {
            assert!(check["findings"].as_array().unwrap().iter().any(|f| f["id"] == "requirement_not_covered"));
        }
    }
    guard.restore().unwrap();
}

#[test]
fn audit_userspace_sets_cover_their_standards_or_say_why() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let scratch = common::Scratch::named("cover-sets");
    fs::create_dir_all(&scratch.0).unwrap();
    let sets: [(&str, &[&str]); 3] = [
        ("stig", &["10-base-config.rules", "30-stig.rules", "99-finalize.rules"]),
        (
            "ospp",
            &[
                "10-base-config.rules",
                "11-loginuid.rules",
                "30-ospp-v42.rules",
                "30-ospp-v42-1-create-failed.rules",
                "30-ospp-v42-1-create-success.rules",
                "30-ospp-v42-2-modify-failed.rules",
                "30-ospp-v42-2-modify-success.rules",
                "30-ospp-v42-3-access-failed.rules",
                "30-ospp-v42-3-access-success.rules",
                "30-ospp-v42-4-delete-failed.rules",
                "30-ospp-v42-4-delete-success.rules",
                "30-ospp-v42-5-perm-change-failed.rules",
                "30-ospp-v42-5-perm-change-success.rules",
                "30-ospp-v42-6-owner-change-failed.rules",
                "30-ospp-v42-6-owner-change-success.rules",
                "43-module-load.rules",
                "99-finalize.rules",
            ],
        ),
        ("pci-dss", &["10-base-config.rules", "30-pci-dss-v31.rules", "43-module-load.rules", "99-finalize.rules"]),
    ];
    let mut lines = Vec::new();
    for (name, files) in sets {
        load(&mut guard, &scratch.0, files);
        let report = run(&profile::builtin(name).unwrap());
        print(&report);
        explained(&report);
        let c = report.counts;
        assert!(c.covered + c.partial + c.blind > 0, "{name}: its own rule set records nothing: {c:?}");
        lines.push(format!("{name} under its audit-userspace set: {c:?}"));
    }
    guard.run_auditctl(&["-D"]).unwrap();
    guard.restore().unwrap();
    for l in lines {
        println!("{l}");
    }
}

/// A bad profile file is bad input: exit 2, one line naming the file and line; nothing runs.
#[test]
fn a_bad_profile_file_is_an_error_at_its_line() {
    let bad = common::Scratch::named("cover-bad-profile");
    fs::write(&bad.0, "name = \"x\"\ntitle = \"t\"\nsource = 3\n").unwrap();
    let out =
        std::process::Command::new(common::binary()).args(["cover", "--profile-file"]).arg(&bad.0).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:3:", bad.0.display())), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// A profile of one requirement acted out by `actors`.
fn one(probe: &str, actors: &str) -> profile::Profile {
    let text = format!(
        "name = \"t\"\ntitle = \"test\"\n[source]\ndocument = \"d\"\nversion = \"1\"\nurl = \"https://x\"\n\
         [[requirement]]\nid = \"T\"\ntitle = \"t\"\nprobes = [\"{probe}\"]\nactors = [{actors}]\n"
    );
    profile::parse("test.toml", &text).unwrap()
}

#[test]
fn blind_spots_are_shown_by_real_actions() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let scratch = common::Scratch::named("cover-blind");
    fs::create_dir_all(&scratch.0).unwrap();

    // An openat-only rule set: the open is recorded through both ABIs, its io_uring twin is not.
    let passwd = one("-w /etc/passwd -p wa", "\"user\"");
    load_text(
        &mut guard,
        &scratch.0,
        "-a always,exit -F arch=b64 -S openat -F path=/etc/passwd -k openat-only\n\
         -a always,exit -F arch=b32 -S openat -F path=/etc/passwd -k openat-only\n",
    );
    let report = run(&passwd);
    print(&report);
    let r = &report.requirements[0];
    assert_eq!(r.verdict, Verdict::Blind, "{r:?}");
    assert!(r.reason.as_deref().unwrap().contains("io_uring"), "{r:?}");
    let attempts = &r.probes[0].attempts;
    let uring = attempts.iter().find(|a| a.via == Via::IoUring).unwrap();
    assert_eq!(uring.outcome, Outcome::NotRecorded, "{uring:?}");
    assert!(attempts.iter().filter(|a| a.via != Via::IoUring).all(|a| a.outcome == Outcome::Recorded), "{attempts:?}");
    assert_eq!(r.evidence.as_ref().unwrap().key.as_deref(), Some("openat-only"));

    // An io_uring rule (loaded through our own encoding: auditctl 3.0.9 has no io_uring syntax) records it.
    let mut rule = Rule::new(FilterList::IoUring, Action::Always);
    rule.set_syscall(audit_verify::prove::exec::IORING_OP_OPENAT);
    rule.fields.push(Field { id: id::FILTERKEY, op: Op::Eq, value: Value::Str("uring-open".into()) });
    guard.add_rule(&kernel::encode(&rule)).unwrap();
    let report = run(&passwd);
    print(&report);
    let r = &report.requirements[0];
    assert_eq!(r.verdict, Verdict::Covered, "{r:?}");
    let uring = r.probes[0].attempts.iter().find(|a| a.via == Via::IoUring).unwrap();
    assert_eq!(uring.outcome, Outcome::Recorded, "{uring:?}");
    assert_eq!(uring.evidence.as_ref().unwrap().key.as_deref(), Some("uring-open"));

    // auid>=1000 sees the user and not a service.
    load_text(
        &mut guard,
        &scratch.0,
        "-a always,exit -F arch=b64 -S adjtimex -F auid>=1000 -F auid!=unset -k time\n\
         -a always,exit -F arch=b32 -S adjtimex -F auid>=1000 -F auid!=unset -k time\n",
    );
    let report = run(&one("-a always,exit -F arch=b64 -S adjtimex", "\"user\", \"service\""));
    print(&report);
    let r = &report.requirements[0];
    assert_eq!(r.verdict, Verdict::Blind, "{r:?}");
    assert!(r.reason.as_deref().unwrap().contains("without a loginuid"), "{r:?}");
    // And for root: recorded as a user only is partial.
    let report = run(&one("-a always,exit -F arch=b64 -S adjtimex", "\"user\", \"root\""));
    assert_eq!(report.requirements[0].verdict, Verdict::Partial, "{:?}", report.requirements[0]);
    // b64 only: the 32-bit twin is not recorded.
    load_text(&mut guard, &scratch.0, "-a always,exit -F arch=b64 -S adjtimex -k time\n");
    let report = run(&one("-a always,exit -F arch=b64 -S adjtimex", "\"user\""));
    print(&report);
    let r = &report.requirements[0];
    assert_eq!(r.verdict, Verdict::Partial, "{r:?}");
    assert!(r.reason.as_deref().unwrap().contains("int 0x80"), "{r:?}");

    // An exclude rule that removes SYSCALL records: a rule matches, and nothing is recorded.
    load_text(
        &mut guard,
        &scratch.0,
        "-a always,exit -F arch=b64 -S adjtimex -k time\n-a always,exclude -F msgtype=SYSCALL\n",
    );
    let report = run(&one("-a always,exit -F arch=b64 -S adjtimex", "\"user\""));
    print(&report);
    let r = &report.requirements[0];
    assert_eq!(r.verdict, Verdict::Blind, "{r:?}");
    assert!(r.reason.as_deref().unwrap().contains("exclude"), "{r:?}");

    guard.run_auditctl(&["-D"]).unwrap();
    guard.restore().unwrap();
}
