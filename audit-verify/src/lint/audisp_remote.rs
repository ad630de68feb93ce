//! Footgun 1, audisp-remote's failure handling (audisp-remote.conf): what happens to records when the
//! collector is down, says goodbye, or the local queue fills, and whether they travel encrypted.
//!
//! Absent keys take audisp-remote's built-in values, `clear_config()` in
//! audisp/plugins/remote/remote-config.c (audit 3.0.x): `network_failure_action` `stop`,
//! `remote_ending_action` `reconnect`, `disk_full_action` `warn_once`, `overflow_action` `syslog`, transport
//! `tcp`, `enable_krb5` `no`. ComplianceAsCode's STIG rules (`auditd_audispd_network_failure_action`,
//! `auditd_audispd_disk_full_action`, `auditd_audispd_encrypt_sent_records`) accept syslog, single or
//! halt; here `ignore` is high (records are dropped without a word) and `stop`/`suspend` medium (one
//! syslog line, then nothing is shipped until someone restarts auditd).

use super::{Facts, Sink};
use crate::{
    auditd_conf::AuditdConf,
    finding::{Finding, Severity},
};

const N: u8 = 1;

/// (key, built-in value, what the action is about).
const ACTIONS: &[(&str, &str, &str)] = &[
    ("network_failure_action", "stop", "the collector cannot be reached"),
    ("remote_ending_action", "reconnect", "the collector closes the connection"),
    ("disk_full_action", "warn_once", "the local queue file's disk is full"),
    ("overflow_action", "syslog", "the in-memory queue overflows"),
];

/// audisp-remote is active in plugins.d.
#[must_use]
pub fn active(facts: &Facts) -> bool {
    facts.plugins.iter().any(|p| p.active() && p.path().ends_with("audisp-remote"))
}

pub fn check(facts: &Facts, sink: &mut Sink) {
    if !active(facts) {
        return;
    }
    let conf = facts.remote_conf.as_ref();
    let path = conf.map_or_else(
        || facts.resolve(super::facts::REMOTE_CONF).display().to_string(),
        |c| c.path.display().to_string(),
    );
    let setting = |key: &str, default: &str| -> (String, String) {
        match conf.and_then(|c| c.get(key)) {
            Some(e) => (e.value.clone(), format!("{path}:{}", e.line)),
            None => (default.to_owned(), format!("{path} ({key} not set: audisp-remote's default)")),
        }
    };
    for (key, default, when) in ACTIONS {
        let (value, at) = setting(key, default);
        let action = value.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        let (severity, what) = match action.as_str() {
            "ignore" => (Severity::High, "records are dropped without a word"),
            "stop" | "suspend" => {
                (Severity::Medium, "audisp-remote logs once and ships nothing more until auditd is restarted")
            }
            _ => continue, // syslog, warn_once*, reconnect, exec, single, halt: someone is told or the host stops
        };
        sink.add(
            N,
            Finding::new("remote_failure_unhandled", severity, format!("{key} = {value}: when {when}, {what}"))
                .at(at)
                .why("off-host copies stop silently exactly when an attacker cuts the collector off")
                .fix(format!("{key} = syslog (alerting on it), or single/halt where shipping is mandatory")),
        );
    }
    let (transport, at) = setting("transport", "tcp");
    let krb5 = conf.is_some_and(krb5_enabled) || transport.eq_ignore_ascii_case("krb5");
    if !krb5 {
        sink.add(
            N,
            Finding::new(
                "remote_unencrypted",
                Severity::Medium,
                format!("transport = {transport} without Kerberos: records travel in cleartext, unauthenticated"),
            )
            .at(at)
            .why("anyone on the path reads the records, and a forged collector or sender is not noticed")
            .fix("transport = KRB5 (with krb5_principal and a keytab), or ship through an encrypting tunnel"),
        );
    }
}

fn krb5_enabled(conf: &AuditdConf) -> bool {
    conf.get("enable_krb5").is_some_and(|e| e.value.eq_ignore_ascii_case("yes"))
}
