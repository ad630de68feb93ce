//! Every command's `--json`, run for real on this host with a small rule set loaded, validates against
//! its schema in docs/schema/, and those schemas are strict: an object whose fields are known admits no
//! others, so a field added to a report without its schema fails here.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::process::{Command, Stdio};

use audit_verify::guard::{Environment, StateGuard};
use serde_json::Value;

const COMMANDS: [&str; 10] =
    ["status", "rules", "prove", "measure", "predict", "lint", "check", "count-syscalls", "log", "cover"];

fn errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator.iter_errors(value).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// Where a schema leaves an object open: `properties` without `additionalProperties: false`, or an
/// object type with neither.
fn open_objects(at: &str, node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            let is_object = map
                .get("type")
                .is_some_and(|t| t == "object" || t.as_array().is_some_and(|a| a.contains(&"object".into())));
            let closed = map.get("additionalProperties").is_some_and(|a| *a == Value::Bool(false));
            if map.contains_key("properties") && !closed {
                out.push(format!("{at}: properties without additionalProperties: false"));
            } else if is_object && !map.contains_key("properties") && !map.contains_key("additionalProperties") {
                out.push(format!("{at}: an object of any shape"));
            }
            for (key, child) in map {
                // Property names are data, not schema keywords.
                if key != "properties" && key != "$defs" {
                    open_objects(&format!("{at}/{key}"), child, out);
                } else if let Value::Object(children) = child {
                    for (name, schema) in children {
                        open_objects(&format!("{at}/{key}/{name}"), schema, out);
                    }
                }
            }
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| open_objects(&format!("{at}/{i}"), v, out)),
        _ => {}
    }
}

#[test]
fn every_command_names_a_strict_schema_that_compiles() {
    for command in COMMANDS {
        let help = Command::new(common::binary()).args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        let named = format!("docs/schema/{command}.schema.json");
        assert!(help.contains(&named), "{command} --help does not name {named}");
        common::schema_validator(command);
    }
    let mut open = Vec::new();
    for entry in std::fs::read_dir(common::workspace("docs/schema")).unwrap() {
        let path = entry.unwrap().path();
        let schema = common::read_json(&path);
        assert_eq!(schema["$id"], format!("{}{}", common::SCHEMA_BASE, path.file_name().unwrap().to_str().unwrap()));
        open_objects(path.file_name().unwrap().to_str().unwrap(), &schema, &mut open);
    }
    assert!(open.is_empty(), "open objects in docs/schema: {open:#?}");
}

/// `watch` has no `--json` report: its JSON is `--json-log`'s lines, whose schema its help names (and
/// tests/watch.rs validates every line of a real run against).
#[test]
fn watch_names_its_log_schema_and_the_schema_is_strict() {
    let help = Command::new(common::binary()).args(["watch", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("docs/schema/watch-log.schema.json"));
    let validator = common::schema_validator("watch-log");
    let line = serde_json::json!({"ts": 1.5, "level": "warn", "message": "m"});
    assert!(errors(&validator, &line).is_empty());
    let mut extra = line.clone();
    extra["pid"] = 1.into();
    assert!(!errors(&validator, &extra).is_empty(), "watch-log admits an unknown field");
    assert!(!errors(&validator, &serde_json::json!({"ts": 1, "level": "loud", "message": "m"})).is_empty());
}

/// Runs `audit-verify ARGS` and returns its exit code and JSON.
fn run(args: &[&str]) -> (i32, Value) {
    let out = Command::new(common::binary()).args(args).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "{args:?} exited {code}: {stderr}");
    (code, serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stderr}")))
}

fn assert_valid(command: &str, report: &Value) {
    let errors = errors(&common::schema_validator(command), report);
    assert!(errors.is_empty(), "{command} --json does not match docs/schema/{command}.schema.json: {errors:#?}");
}

#[test]
fn every_command_json_validates_against_its_schema() {
    let rules = common::workspace("tests/fixtures/rules/schemas");
    let rules_dir = rules.to_str().unwrap();
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    guard.run_auditctl(&["-R", rules.join("10-schemas.rules").to_str().unwrap()]).unwrap();

    let (_, status) = run(&["status", "--json"]);
    assert_valid("status", &status);
    let (_, rules) = run(&["rules", "--json", "--rules-dir", rules_dir]);
    assert_eq!(rules["matched"], 3, "{rules}");
    assert_valid("rules", &rules);
    let (_, prove) = run(&["prove", "--json", "--rules-dir", rules_dir]);
    assert!(prove["rules"].as_array().is_some_and(|r| r.iter().any(|p| p["state"] == "proven")), "{prove}");
    assert_valid("prove", &prove);
    let (_, cover) = run(&["cover", "--json", "--profile", "attack"]);
    let requirements = cover["requirements"].as_array().unwrap();
    assert!(
        requirements.iter().any(|r| r["probes"][0]["attempts"].as_array().is_some_and(|a| !a.is_empty())),
        "{cover}"
    );
    assert_valid("cover", &cover);
    // Something for the window to see: uname calls the loaded rule records, so keys and rates are filled.
    let mut busy =
        Command::new("sh").args(["-c", "for i in $(seq 40); do uname >/dev/null; sleep 0.05; done"]).spawn().unwrap();
    let (_, measure) = run(&["measure", "--json", "--duration", "2"]);
    busy.wait().unwrap();
    assert!(measure["keys"].as_array().is_some_and(|k| k.iter().any(|k| k["key"] == "av-schema-uname")), "{measure}");
    assert_valid("measure", &measure);
    // The same rules as a candidate set, predicted (nothing loaded), with auditd's write rate measured.
    let mut busy =
        Command::new("sh").args(["-c", "for i in $(seq 40); do uname >/dev/null; sleep 0.05; done"]).spawn().unwrap();
    let (_, predict) = run(&["predict", "--json", "--duration", "2", "--rules-dir", rules_dir]);
    busy.wait().unwrap();
    assert!(predict["keys"].as_array().is_some_and(|k| k.iter().any(|k| k["key"] == "av-schema-uname")), "{predict}");
    assert!(predict["backlog"]["auditd_write_rate"]["records_per_second"].is_number(), "{predict}");
    assert_valid("predict", &predict);
    let (_, lint) = run(&["lint", "--json"]);
    assert_valid("lint", &lint);
    let corpus = common::workspace("../shared/corpus/logs/audit-userspace/auparse_test_test.log");
    let (_, log) = run(&["log", "--json", corpus.to_str().unwrap()]);
    assert!(log["events"].as_u64().is_some_and(|n| n > 0), "{log}");
    assert_valid("log", &log);
    let (_, counted) = run(&["count-syscalls", "--json", "--", "true"]);
    assert_eq!(counted["command_exit_code"], 0);
    assert_valid("count-syscalls", &counted);
    let (_, check) = run(&["check", "--json", "--duration", "1", "--rules-dir", rules_dir, "--profile", "cis"]);
    drop(guard);
    assert_eq!(check["errors"], Value::Array(vec![]), "every part ran: {}", check["errors"]);
    assert_valid("check", &check);
    assert_eq!(check["cover"]["profile"]["name"], "cis", "the coverage section: {}", check["cover"]);

    // Strict all the way down: a field the schema does not know is refused, at the top and nested in
    // the part check borrows from another command's schema.
    let mut extra = status.clone();
    extra["unknown"] = Value::Bool(true);
    assert!(!errors(&common::schema_validator("status"), &extra).is_empty(), "status admits an unknown field");
    let mut extra = check.clone();
    extra["measure"]["backlog"]["unknown"] = 1.into();
    assert!(!errors(&common::schema_validator("check"), &extra).is_empty(), "check admits an unknown field in measure");
}
