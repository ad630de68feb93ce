//! Footgun 9: records that cannot be put next to other sources' records: raw uids and syscall numbers
//! (`log_format` RAW), no host name (`name_format` NONE, so a collector cannot tell hosts apart), clocks
//! that drift (no time synchronisation), and a Kubernetes audit log whose users are not host users.

use super::{Facts, Sink, Skipped, auditd};
use crate::{
    auditd_conf::builtin_default,
    finding::{Finding, Severity},
};

const N: u8 = 9;

/// Time daemons, by program name (ntpsec's and OpenNTPD's are both `ntpd`).
const TIME_DAEMONS: &[&str] = &["chronyd", "ntpd", "systemd-timesyncd", "openntpd", "ptp4l", "phc2sys", "timemaster"];

pub fn check(facts: &Facts, sink: &mut Sink) {
    if !auditd::absent(facts, sink, N, "log_format and name_format") {
        conf_formats(facts, sink);
    }
    time_and_identity(facts, sink);
}

fn conf_formats(facts: &Facts, sink: &mut Sink) {
    // Absent, auditd writes RAW (clear_config), not the ENRICHED the shipped file sets.
    let (format, _) = facts.conf("log_format", builtin_default("log_format").unwrap_or("RAW"));
    // NOLOG writes nothing: footgun 8 reports it.
    if !format.eq_ignore_ascii_case("ENRICHED") && !format.eq_ignore_ascii_case("NOLOG") {
        sink.add(
            N,
            Finding::new("log_format_not_enriched", Severity::Medium, format!("log_format = {format}"))
                .at(facts.conf_location("log_format"))
                .why("RAW records carry numbers (uid 1000, syscall 59) that mean nothing once off this host")
                .fix("log_format = ENRICHED"),
        );
    }
    let (name, _) = facts.conf("name_format", "NONE");
    if name.eq_ignore_ascii_case("NONE") {
        sink.add(
            N,
            Finding::new("name_format_none", Severity::Medium, "name_format = NONE: records do not say which host")
                .at(facts.conf_location("name_format"))
                .why("on a collector, records from many hosts cannot be told apart or joined with other sources")
                .fix("name_format = HOSTNAME (or FQD)"),
        );
    }
}

fn time_and_identity(facts: &Facts, sink: &mut Sink) {
    match &facts.processes {
        Some(procs) => {
            if !procs.iter().any(|p| TIME_DAEMONS.contains(&p.program())) {
                sink.add(
                    N,
                    Finding::new("no_time_sync", Severity::Medium, "no chronyd, ntpd or systemd-timesyncd running")
                        .at("live: /proc/*/cmdline")
                        .why("with drifting clocks, events from different sources cannot be ordered or matched")
                        .fix("run a time synchronisation service (chrony, systemd-timesyncd)"),
                );
            }
        }
        None => sink.skip(Skipped::offline(N, "time synchronisation service running")),
    }
    if facts.k8s.apiserver.is_some() {
        sink.add(
            N,
            Finding::new(
                "k8s_identity_not_joined",
                Severity::Info,
                "Kubernetes audit users (user.username, OIDC/cert names) and host audit auids are separate identities",
            )
            .at(facts.k8s.apiserver.as_ref().map_or(String::new(), |a| a.source.clone()))
            .why("kubectl exec runs as the container's uid with auid unset: the host record cannot name the person")
            .fix("join on time + pod/container (kubectl exec's Kubernetes event vs the host's execve), keep clocks synced"),
        );
        sink.skip(Skipped::new(
            N,
            "common user identity between Kubernetes and host audit",
            "cannot be checked from configuration: there is no shared identifier to verify",
        ));
    }
}
