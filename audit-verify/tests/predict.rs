//! `predict` against the kernel itself: a scripted workload (execs by several users, opens under watched
//! directories) is predicted with a candidate rules file that is not loaded, then the same rules are
//! loaded for real (under the state guard) over the same workload, and the events per key the kernel
//! emitted agree with the prediction.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    collections::BTreeMap,
    fs,
    os::unix::process::CommandExt as _,
    path::Path,
    process::{Child, Command},
    time::Duration,
};

use audit_verify::{
    guard::{Environment, Setting, StateGuard},
    measure::{self, SyscallCounting},
    predict::{self, CandidateRule, PredictReport},
    rules::augenrules::RulesInput,
};

/// `sh -c script` with loginuid `auid` (as a login would set it), so that only these processes carry it.
fn as_user(auid: u32, script: &str) -> Child {
    let mut command = Command::new("/bin/sh");
    command.args(["-c", script]);
    let value = auid.to_string();
    // SAFETY: between fork and exec only open, write and close run (a value formatted before the fork).
    unsafe {
        command.pre_exec(move || fs::write("/proc/self/loginuid", value.as_bytes()));
    }
    command.spawn().unwrap()
}

/// The workload, the same each time: four users exec /bin/true (different counts), one writes files
/// under the watched directory and rewrites some, and one reads files under the second directory.
fn workload(watched: &Path, read_dir: &Path) {
    let execs = |n: usize| format!("i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done");
    let writes = format!(
        "i=0; while [ $i -lt 300 ]; do echo $i > {w}/f$i; i=$((i+1)); done; \
         i=0; while [ $i -lt 100 ]; do echo again >> {w}/f$i; i=$((i+1)); done",
        w = watched.display()
    );
    let reads = format!("i=0; while [ $i -lt 250 ]; do read line < {r}/data; i=$((i+1)); done", r = read_dir.display());
    let children = vec![
        as_user(4242, &execs(200)),
        as_user(4243, &execs(150)),
        as_user(4244, &execs(100)),
        as_user(4245, &execs(50)),
        as_user(4246, &writes),
        as_user(4247, &reads),
    ];
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
}

fn rules_text(watched: &Path, read_dir: &Path) -> String {
    format!(
        "-a always,exit -F arch=b64 -S execve -F auid=4242 -k avp-exec-4242\n\
         -a always,exit -F arch=b64 -S execve -F auid>=4243 -F auid<=4244 -F euid=0 -k avp-exec-4243-4244\n\
         -a always,exit -F arch=b64 -S execve -F auid=4245 -F success=1 -k avp-exec-4245\n\
         -w {} -p wa -k avp-watch\n\
         -a always,exit -F arch=b64 -S open,openat -F dir={} -F perm=r -F auid=4247 -k avp-read\n",
        watched.display(),
        read_dir.display()
    )
}

fn predicted_keys(report: &PredictReport) -> BTreeMap<String, u64> {
    report.keys.iter().map(|k| (k.key.clone(), k.events)).collect()
}

#[test]
fn a_prediction_agrees_with_the_rules_loaded_for_real() {
    let scratch = common::Scratch::named("predict");
    let (watched, read_dir) = (scratch.0.join("watched"), scratch.0.join("read"));
    fs::create_dir_all(&watched).unwrap();
    fs::create_dir_all(&read_dir).unwrap();
    fs::write(read_dir.join("data"), "a line\n").unwrap();
    let rules_file = scratch.0.join("candidate.rules");
    fs::write(&rules_file, rules_text(&watched, &read_dir)).unwrap();
    let source = RulesInput::File(rules_file.clone()).load().unwrap();
    assert!(source.errors.is_empty(), "{:?}", source.errors);
    let candidates: Vec<CandidateRule> = predict::candidates(&source);
    assert_eq!(candidates.len(), 5);

    // Predicted: nothing loaded, before, during or after.
    let loaded_before = common::auditctl_rules();
    let window = predict::Window::start(&candidates, Path::new("/etc/audit/auditd.conf")).unwrap();
    workload(&watched, &read_dir);
    let loaded_during = common::auditctl_rules();
    std::thread::sleep(Duration::from_millis(200));
    let config = predict::Config {
        duration: Duration::ZERO,
        auditd_conf: "/etc/audit/auditd.conf".into(),
        write_rate_with: None,
    };
    let prediction = window.finish(&config).unwrap();
    eprintln!("{}", prediction.human());
    assert_eq!(loaded_during, loaded_before, "predict loaded a rule");
    assert!(prediction.loaded_rules_unchanged);
    let predicted = predicted_keys(&prediction);

    // For real: the same rules alone in the kernel (the guard restores what was there), over the same
    // workload, counted as the kernel emitted them.
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.set(Setting::BacklogLimit, 8192).unwrap();
    guard.run_auditctl(&["-D"]).unwrap();
    guard.run_auditctl(&["-R", rules_file.to_str().unwrap()]).unwrap();
    let config = measure::Config {
        duration: Duration::ZERO,
        auditd_conf: "/etc/audit/auditd.conf".into(),
        barrier_timeout: Duration::from_secs(10),
        syscalls: SyscallCounting::Off,
    };
    let window = measure::Window::start(&config).unwrap();
    workload(&watched, &read_dir);
    std::thread::sleep(Duration::from_millis(200));
    let real = window.finish().unwrap();
    drop(guard);
    eprintln!("{}", real.human());
    assert_eq!(real.kernel_drops.total, 0, "the real run lost records: {}", real.human());

    let expected: BTreeMap<&str, u64> = [
        // sh's own exec (loginuid set before it) and its 200 children.
        ("avp-exec-4242", 201),
        ("avp-exec-4243-4244", 151 + 101),
        ("avp-exec-4245", 51),
        ("avp-watch", 400),
        ("avp-read", 250),
    ]
    .into();
    for (key, wanted) in &expected {
        let real_events = real.keys.iter().find(|k| k.key == *key).map_or(0, |k| k.events);
        let predicted_events = predicted.get(*key).copied().unwrap_or(0);
        eprintln!("{key}: predicted {predicted_events}, recorded {real_events} (script: {wanted})");
        // The workload happened as scripted (so agreement below is not two zeros), then within 5%.
        assert!(
            real_events.abs_diff(*wanted) * 20 <= *wanted,
            "{key}: the kernel recorded {real_events} events, the script made {wanted}"
        );
        let diff = predicted_events.abs_diff(real_events);
        assert!(
            diff * 20 <= real_events.max(1),
            "{key}: predicted {predicted_events} events, the kernel recorded {real_events}"
        );
    }
    // Per-event sizes, estimated from the kernel's formats, against the bytes auditd wrote per event.
    for key in expected.keys() {
        let (Some(p), Some(r)) =
            (prediction.keys.iter().find(|k| k.key == *key), real.keys.iter().find(|k| k.key == *key))
        else {
            panic!("{key}: no predicted or no recorded rate to size");
        };
        let per_event = |bytes_per_hour: f64, per_second: f64| bytes_per_hour / 3600.0 / per_second;
        let (predicted_b, real_b) =
            (per_event(p.bytes_per_hour, p.events_per_second), per_event(r.bytes_per_hour, r.events_per_second));
        eprintln!("{key}: predicted {predicted_b:.0} bytes/event, written {real_b:.0}");
        assert!((predicted_b / real_b - 1.0).abs() < 0.3, "{key}: {predicted_b:.0} vs {real_b:.0} bytes/event");
    }
}

/// The report's JSON shape against docs/schema/predict.schema.json, without the kernel (schemas.rs runs
/// the command itself): every field, the optional ones filled and empty.
#[test]
fn the_json_of_a_report_follows_its_schema() {
    use audit_verify::{
        measure::{SyscallHook, report::Retention},
        predict::{
            report::{BacklogProjection, KeyPrediction, Rates, RulePrediction},
            write_rate::WriteRate,
        },
    };
    let rule = |events: Option<u64>| RulePrediction {
        position: 1,
        rule: "-a always,exit -F arch=b64 -S execve -F key=exec".into(),
        location: Some("/etc/audit/rules.d/10.rules:1".into()),
        key: Some("exec".into()),
        events,
        events_per_second: 1.5,
        undecided: 2,
        records_per_event: 6.0,
        bytes_per_event: 1100.0,
        bytes_by_type: [("SYSCALL", 420.0), ("PATH", 400.0), ("PROCTITLE", 80.0)].into(),
        records_per_hour: 32_400.0,
        bytes_per_hour: 5_940_000.0,
        not_evaluated: vec![predict::PATH_LIMIT.into()],
    };
    let report = PredictReport {
        seconds: 10.0,
        syscall_hook: Some(SyscallHook::PerSyscall { syscalls: 3 }),
        rules: vec![rule(Some(15)), rule(None)],
        keys: vec![KeyPrediction {
            key: "exec".into(),
            events: 15,
            events_per_second: 1.5,
            records_per_hour: 32_400.0,
            bytes_per_hour: 5_940_000.0,
            lower_bound: true,
        }],
        total: Rates { events_per_second: 1.5, records_per_second: 9.0, bytes_per_hour: 5_940_000.0 },
        backlog: BacklogProjection {
            backlog_limit: 8192,
            records_per_second: 9.0,
            auditd_write_rate: WriteRate { records_per_second: Some(9000.0), basis: "measured".into() },
            write_rate_share: Some(0.001),
            seconds_to_fill: None,
        },
        retention: Retention {
            log_bytes_per_day: 142_560_000.0,
            max_log_file_mb: 8,
            num_logs: 5,
            max_log_file_action: "ROTATE".into(),
            days: Some(0.29),
        },
        estimates: vec!["typical widths".into()],
        loaded_rules_unchanged: true,
        findings: Vec::new(),
    };
    let validator = common::schema_validator("predict");
    let value = serde_json::to_value(&report).unwrap();
    let errors: Vec<String> = validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut extra = value.clone();
    extra["backlog"]["unknown"] = 1.into();
    assert!(!validator.is_valid(&extra), "the schema admits an unknown field");
}

/// A candidate file with a bad line is refused before anything is attached: one line naming file and
/// line, exit 2, no panic.
#[test]
fn a_bad_candidate_line_is_one_error_naming_file_and_line() {
    let scratch = common::Scratch::named("predict-bad");
    fs::write(&scratch.0, "-a always,exit -F arch=b64 -S execve -k ok\n-a always,exit -S nosuchcall -k bad\n").unwrap();
    let out =
        Command::new(common::binary()).args(["predict", "--rules-file", scratch.0.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("{}:2: unknown syscall `nosuchcall`", scratch.0.display())), "{stderr}");
    assert!(!stderr.contains("panicked") && out.stdout.is_empty());
}
