//! Footgun 1: records that never leave the host die with it (an intruder with root edits or deletes the
//! log). Shipping is found in auditd's plugins (audisp-remote and its `remote_server`) and in the log
//! shippers known to read audit.log (their process, their configuration), and in auditd's syslog plugin
//! forwarded by rsyslog or syslog-ng ([`syslog_forward`]). audisp-remote's failure handling is judged in
//! [`audisp_remote`].

use std::{fs, net::IpAddr, path::PathBuf};

use serde::Serialize;

use super::{Facts, Sink, Skipped, audisp_remote, auditd, syslog_forward};
use crate::{auditd_conf::AuditdConf, finding::Finding, finding::Severity};

const N: u8 = 1;

/// audisp-remote's default port (audisp-remote.conf(5)).
pub const DEFAULT_REMOTE_PORT: u16 = 60;

/// One way records leave the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// `audisp-remote`, `filebeat`, …
    pub via: String,
    /// `host:port` when the configuration names it.
    pub destination: Option<String>,
    /// Where this was seen (`file:line`, `pid N`).
    pub evidence: String,
    /// The destination is this host (loopback): not off-host.
    pub loopback: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Shipping {
    pub targets: Vec<Target>,
}

impl Shipping {
    /// Records leave the host by at least one way that is not loopback.
    #[must_use]
    pub fn off_host(&self) -> bool {
        self.targets.iter().any(|t| !t.loopback)
    }
}

/// A log shipper that can read audit.log: its program names and its default configuration files.
struct Shipper {
    programs: &'static [&'static str],
    configs: &'static [&'static str],
    /// Command-line options naming a configuration file.
    config_options: &'static [&'static str],
}

const SHIPPERS: &[Shipper] = &[
    Shipper {
        programs: &["fluent-bit", "td-agent-bit"],
        configs: &["/etc/fluent-bit/fluent-bit.conf", "/etc/fluent-bit/fluent-bit.yaml"],
        config_options: &["-c", "--config"],
    },
    Shipper { programs: &["filebeat"], configs: &["/etc/filebeat/filebeat.yml"], config_options: &["-c"] },
    Shipper {
        programs: &["vector"],
        configs: &["/etc/vector/vector.yaml", "/etc/vector/vector.toml"],
        config_options: &["-c", "--config"],
    },
    Shipper { programs: &["rsyslogd"], configs: &["/etc/rsyslog.conf", "/etc/rsyslog.d"], config_options: &["-f"] },
    Shipper {
        programs: &["syslog-ng"],
        configs: &["/etc/syslog-ng/syslog-ng.conf", "/etc/syslog-ng/conf.d"],
        config_options: &["-f", "--cfgfile"],
    },
    Shipper {
        programs: &["fluentd", "td-agent"],
        configs: &["/etc/fluent/fluent.conf", "/etc/td-agent/td-agent.conf"],
        config_options: &["-c", "--config"],
    },
    Shipper {
        programs: &["otelcol", "otelcol-contrib"],
        configs: &["/etc/otelcol/config.yaml", "/etc/otelcol-contrib/config.yaml"],
        config_options: &["--config"],
    },
    Shipper { programs: &["nxlog"], configs: &["/etc/nxlog/nxlog.conf"], config_options: &["-c"] },
    Shipper {
        programs: &["wazuh-logcollector", "ossec-logcollector"],
        configs: &["/var/ossec/etc/ossec.conf"],
        config_options: &[],
    },
];

/// Programs that take records from the kernel themselves (no file to read).
const KERNEL_READERS: &[&str] = &["auditbeat", "go-audit", "laurel"];

/// Every way records leave the host that can be seen.
#[must_use]
pub fn detect(facts: &Facts) -> Shipping {
    let mut shipping = Shipping::default();
    for plugin in facts.plugins.iter().filter(|p| p.active()) {
        if plugin.path().ends_with("audisp-remote") {
            shipping.targets.extend(remote_target(facts));
        }
    }
    shipping.targets.extend(syslog_forward::detect(facts));
    let log_file = facts.auditd_conf.log_file().display().to_string();
    for shipper in SHIPPERS {
        let running: Vec<_> =
            facts.processes.iter().flatten().filter(|p| shipper.programs.contains(&p.program())).collect();
        // A running shipper's files are read as it sees them (it may run in a container).
        let configs: Vec<PathBuf> = if running.is_empty() {
            shipper.configs.iter().map(|c| facts.resolve(c)).collect()
        } else {
            running
                .iter()
                .flat_map(|p| {
                    let named = p.option(shipper.config_options);
                    named.into_iter().chain(shipper.configs.iter().copied()).map(|c| p.file(c))
                })
                .collect()
        };
        // Live: only a running shipper ships. Offline: a configured one is taken at its word.
        if facts.is_live() && running.is_empty() {
            continue;
        }
        if let Some(evidence) = mentions(&configs, &log_file) {
            let via = match running.first() {
                Some(p) => format!("{} (pid {})", p.program(), p.pid),
                None => shipper.programs[0].to_owned(),
            };
            shipping.targets.push(Target { via, destination: None, evidence, loopback: false });
        }
    }
    for p in facts.processes.iter().flatten().filter(|p| KERNEL_READERS.contains(&p.program())) {
        shipping.targets.push(Target {
            via: p.program().to_owned(),
            destination: None,
            evidence: format!("pid {}: {}", p.pid, p.cmdline()),
            loopback: false,
        });
    }
    shipping
}

/// audisp-remote's target: `remote_server` (may list several, comma separated) and `port`.
fn remote_target(facts: &Facts) -> Vec<Target> {
    let Some(conf) = &facts.remote_conf else { return Vec::new() };
    let Some(server) = conf.get("remote_server").filter(|e| !e.value.is_empty()) else { return Vec::new() };
    let port = remote_port(conf);
    server
        .value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|host| Target {
            via: "audisp-remote".into(),
            destination: Some(format!("{host}:{port}")),
            evidence: format!("{}:{}", conf.path.display(), server.line),
            loopback: is_loopback(host),
        })
        .collect()
}

#[must_use]
pub fn remote_port(conf: &AuditdConf) -> u16 {
    conf.get("port").and_then(|e| e.value.parse().ok()).unwrap_or(DEFAULT_REMOTE_PORT)
}

#[must_use]
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The first `file:line` among `paths` (files, or directories of files) that names the audit log.
fn mentions(paths: &[PathBuf], log_file: &str) -> Option<String> {
    let log_dir = std::path::Path::new(log_file).parent().map(|d| d.display().to_string());
    for path in paths {
        let files: Vec<PathBuf> = match fs::read_dir(path) {
            Ok(dir) => dir.flatten().map(|e| e.path()).collect(),
            Err(_) => vec![path.clone()],
        };
        for file in files {
            let Ok(text) = fs::read_to_string(&file) else { continue };
            let hit = text.lines().position(|l| {
                !l.trim_start().starts_with('#')
                    && (l.contains(log_file) || log_dir.as_deref().is_some_and(|d| l.contains(&format!("{d}/"))))
            });
            if let Some(i) = hit {
                return Some(format!("{}:{}", file.display(), i + 1));
            }
        }
    }
    None
}

pub fn check(facts: &Facts, shipping: &Shipping, sink: &mut Sink) {
    audisp_remote::check(facts, sink);
    if shipping.targets.is_empty() && auditd::absent(facts, sink, N, "records shipped off the host") {
        return;
    }
    let why_ship = "records kept only on this host can be edited or deleted by whoever takes root on it, and die \
                    with its disk";
    for plugin in facts.plugins.iter().filter(|p| p.active() && p.path().ends_with("audisp-remote")) {
        if remote_target(facts).is_empty() {
            let at = match facts.remote_conf.as_ref().and_then(|c| Some((c, c.get("remote_server")?))) {
                Some((c, e)) => format!("{}:{}", c.path.display(), e.line),
                None => facts.resolve(super::facts::REMOTE_CONF).display().to_string(),
            };
            sink.add(
                N,
                Finding::new(
                    "remote_plugin_without_server",
                    Severity::High,
                    format!("{} activates audisp-remote, but no remote_server is set", plugin.conf.path.display()),
                )
                .at(at)
                .why("audisp-remote with no server sends nothing; the plugin looks active and ships no record")
                .fix("set remote_server (and port) in audisp-remote.conf to the collector"),
            );
        }
    }
    if shipping.targets.is_empty() {
        let plugins: Vec<String> =
            facts.plugins.iter().filter(|p| p.active()).map(|p| format!("{} ({})", p.name(), p.path())).collect();
        let seen = if plugins.is_empty() { "no active plugin".to_owned() } else { plugins.join(", ") };
        sink.add(
            N,
            Finding::new(
                "no_offhost_shipping",
                Severity::High,
                format!("audit records are not shipped off this host: {seen}; no known shipper reads the audit log"),
            )
            .at(facts.resolve(&facts.auditd_conf.get("plugin_dir").map_or(super::facts::PLUGIN_DIR.to_owned(), |e| e.value.clone())).display())
            .why(why_ship)
            .fix("activate audisp-remote (plugins.d/au-remote.conf `active = yes`, audisp-remote.conf `remote_server`) or a shipper reading the audit log"),
        );
    } else if !shipping.off_host() {
        for t in &shipping.targets {
            sink.add(
                N,
                Finding::new(
                    "shipping_to_loopback",
                    Severity::Medium,
                    format!("{} ships to {}, which is this host", t.via, t.destination.as_deref().unwrap_or("?")),
                )
                .at(&t.evidence)
                .why("a collector on the same host shares its fate: root there can edit both copies")
                .fix("point remote_server at a collector on another host"),
            );
        }
    }
    for t in shipping.targets.iter().filter(|t| t.destination.is_none()) {
        sink.add(
            N,
            Finding::new(
                "shipper_destination_unknown",
                Severity::Info,
                format!("{} reads the audit log; where it sends it is not checked", t.via),
            )
            .at(&t.evidence)
            .why("a shipper whose output is a local file or a dead endpoint ships nothing")
            .fix("check its output section, or prove it with a marker event that must reach the destination"),
        );
    }
    if !facts.is_live() {
        sink.skip(Skipped::offline(
            N,
            "running shippers (/proc); configured ones under --root are taken at their word",
        ));
    }
}
