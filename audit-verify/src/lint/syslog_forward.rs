//! Footgun 1, the STIG offload path: auditd's syslog plugin (plugins.d/syslog.conf, `audisp-syslog`)
//! hands every record to the local syslog daemon, and rsyslog or syslog-ng forwards it. Records leave
//! the host only if a forwarding rule selects the facility and priority the plugin logs at.
//!
//! Read here: rsyslog.conf and, when it includes them, rsyslog.d/*.conf (legacy `selector @host` / `@@host` and RainerScript
//! `action(type="omfwd" target=…)`), syslog-ng.conf and the conf.d/*.conf it includes (a `destination` with
//! `network`/`tcp`/`udp`/`syslog` to a host, used by a `log` path). A RainerScript action or syslog-ng
//! path behind a filter is taken as forwarding (the filter is not evaluated) and says so.

use std::{fs, path::PathBuf};

use super::{Facts, shipping::Target};

/// The plugin that writes records to syslog: 3.x's program and 2.x's built-in.
fn is_syslog_plugin(path: &str) -> bool {
    path.ends_with("audisp-syslog") || path == "builtin_syslog"
}

/// syslog priorities, most severe first (syslog.h numbering).
const PRIORITIES: &[&str] = &["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/// The facility and priority audisp-syslog logs at: its `args` (`LOG_INFO`, `LOG_LOCAL6`, …), by default
/// `LOG_INFO` on `LOG_USER` (audisp/plugins/syslog/audisp-syslog.c).
fn plugin_level(args: &str) -> (String, usize) {
    let mut facility = "user".to_owned();
    let mut priority = 6;
    for arg in args.split_whitespace() {
        let name = arg.trim_start_matches("LOG_").to_ascii_lowercase();
        let name = match name.as_str() {
            "error" => "err".to_owned(),
            "warn" => "warning".to_owned(),
            _ => name,
        };
        match PRIORITIES.iter().position(|p| *p == name) {
            Some(p) => priority = p,
            None => facility = name,
        }
    }
    (facility, priority)
}

/// Whether an rsyslog selector (`*.*`, `local6.info;mail.none`, `*.=info`, `user.!debug`) takes a
/// message of `facility` at `priority`. Later selectors override earlier ones, as in rsyslog.
#[must_use]
pub fn selects(selector: &str, facility: &str, priority: usize) -> bool {
    let mut taken = false;
    for part in selector.split(';') {
        let Some((facilities, level)) = part.split_once('.') else { continue };
        if !facilities.split(',').any(|f| f == "*" || f.eq_ignore_ascii_case(facility)) {
            continue;
        }
        let (negate, level) = match level.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, level),
        };
        let (exact, level) = match level.strip_prefix('=') {
            Some(rest) => (true, rest),
            None => (false, level),
        };
        let matched = match level.to_ascii_lowercase().as_str() {
            "*" => true,
            "none" => {
                taken = false;
                continue;
            }
            name => match PRIORITIES.iter().position(|p| *p == name) {
                Some(p) if exact => priority == p,
                Some(p) => priority <= p,
                None => false,
            },
        };
        if negate {
            if matched {
                taken = false;
            }
        } else if matched {
            taken = true;
        }
    }
    taken
}

/// The files of a daemon's configuration: the main file, then, when the main file includes it (`include`
/// names one of `markers`), a directory's `*.conf` in name order.
fn files(facts: &Facts, main: &str, dir: &str, markers: &[&str]) -> Vec<PathBuf> {
    let main = facts.resolve(main);
    let includes = lines(&main).iter().any(|(_, l)| markers.iter().any(|m| l.contains(m)) && l.contains(dir));
    let mut out = vec![main];
    if !includes {
        return out;
    }
    if let Ok(entries) = fs::read_dir(facts.resolve(dir)) {
        let mut more: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "conf")).collect();
        more.sort();
        out.extend(more);
    }
    out
}

/// Text with `#` comments removed, line numbers kept.
fn lines(path: &PathBuf) -> Vec<(usize, String)> {
    let Ok(text) = fs::read_to_string(path) else { return Vec::new() };
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim().to_owned()))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// `host[:port]` from a legacy forwarding action (`@@(o)host:514`, `@[::1]:514;Template`).
fn legacy_host(action: &str) -> Option<String> {
    let rest = action.trim_start_matches('@');
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(')').map_or(r, |(_, after)| after),
        None => rest,
    };
    let dest = rest.split(';').next().unwrap_or("").trim();
    (!dest.is_empty()).then(|| dest.to_owned())
}

/// `name="value"` (or `name='value'`) in a RainerScript or syslog-ng text.
fn quoted_param(text: &str, name: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let rest = text[at..].trim_start_matches(['"', '\'']);
    let end = rest.find(['"', '\'', ' ', ')']).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

fn rsyslog(facts: &Facts, facility: &str, priority: usize) -> Vec<Target> {
    let mut out = Vec::new();
    for file in files(facts, "/etc/rsyslog.conf", "/etc/rsyslog.d", &["$IncludeConfig", "include("]) {
        let all = lines(&file);
        for (i, (line, text)) in all.iter().enumerate() {
            let at = format!("{}:{line}", file.display());
            if let Some(start) = text.to_ascii_lowercase().find("action(") {
                // The action may span lines: gather up to its closing parenthesis.
                let mut body = text[start..].to_owned();
                for (_, more) in all.iter().skip(i + 1) {
                    if body.contains(')') {
                        break;
                    }
                    body.push(' ');
                    body.push_str(more);
                }
                if !quoted_param(&body, "type").is_some_and(|t| t.eq_ignore_ascii_case("omfwd")) {
                    continue;
                }
                let Some(host) = quoted_param(&body, "target") else { continue };
                let selector = text[..start].trim();
                if !selector.is_empty() && !selector.starts_with("if") && !selects(selector, facility, priority) {
                    continue;
                }
                let port = quoted_param(&body, "port").unwrap_or_else(|| "514".into());
                let filtered = if selector.is_empty() || selector.starts_with("if") {
                    " (its filter is not evaluated)"
                } else {
                    ""
                };
                out.push(target("rsyslog omfwd", &host, Some(&port), format!("{at}{filtered}")));
                continue;
            }
            let mut words = text.split_whitespace();
            let (Some(selector), Some(action)) = (words.next(), words.next()) else { continue };
            if action.starts_with('@')
                && selects(selector, facility, priority)
                && let Some(dest) = legacy_host(action)
            {
                let via = if action.starts_with("@@") { "rsyslog (tcp)" } else { "rsyslog (udp)" };
                out.push(target(via, &dest, None, at));
            }
        }
    }
    out
}

fn syslog_ng(facts: &Facts) -> Vec<Target> {
    let files = files(facts, "/etc/syslog-ng/syslog-ng.conf", "/etc/syslog-ng/conf.d", &["@include"]);
    let text: Vec<(String, usize, String)> =
        files.iter().flat_map(|f| lines(f).into_iter().map(move |(n, l)| (f.display().to_string(), n, l))).collect();
    let joined: String = text.iter().flat_map(|(_, _, l)| [l.as_str(), "\n"]).collect();
    // destination NAME { network("host" …); };
    let mut remote: Vec<(String, String, String)> = Vec::new();
    for (file, line, l) in &text {
        let Some(rest) = l.strip_prefix("destination") else { continue };
        let name = rest.trim().split(|c: char| c.is_whitespace() || c == '{').next().unwrap_or("").to_owned();
        let body = &joined[joined.find(l.as_str()).unwrap_or(0)..];
        let body = &body[..body.find("};").unwrap_or(body.len())];
        for driver in ["network(", "tcp(", "udp(", "tcp6(", "udp6(", "syslog("] {
            if let Some(at) = body.find(driver) {
                let arg = body[at + driver.len()..].trim_start().trim_start_matches(['"', '\'']);
                let host: String = arg.chars().take_while(|c| !matches!(c, '"' | '\'' | ' ' | ')')).collect();
                if !host.is_empty() {
                    remote.push((name.clone(), host, format!("{file}:{line}")));
                }
                break;
            }
        }
    }
    let mut out = Vec::new();
    for (_, line, l) in &text {
        if !l.starts_with("log") {
            continue;
        }
        let body = &joined[joined.find(l.as_str()).unwrap_or(0)..];
        let body = &body[..body.find("};").unwrap_or(body.len())];
        for (name, host, at) in &remote {
            if body.contains(&format!("destination({name})")) {
                let filtered = if body.contains("filter(") { " (its filter is not evaluated)" } else { "" };
                out.push(target("syslog-ng", host, None, format!("{at}, log path at line {line}{filtered}")));
            }
        }
    }
    out
}

fn target(via: &str, dest: &str, port: Option<&str>, evidence: String) -> Target {
    let host = dest.trim_start_matches('[').split([']']).next().unwrap_or(dest);
    let host = if dest.starts_with('[') { host } else { host.rsplit_once(':').map_or(host, |(h, _)| h) };
    let destination = match port {
        Some(p) => format!("{host}:{p}"),
        None => dest.to_owned(),
    };
    Target {
        via: format!("audisp-syslog + {via}"),
        destination: Some(destination),
        evidence,
        loopback: super::shipping::is_loopback(host),
    }
}

/// Where the syslog plugin's records are forwarded, when it is active and a syslog daemon forwards them.
/// Live, the daemon must be running; offline its configuration is taken at its word.
#[must_use]
pub fn detect(facts: &Facts) -> Vec<Target> {
    let Some(plugin) = facts.plugins.iter().find(|p| p.active() && is_syslog_plugin(p.path())) else {
        return Vec::new();
    };
    let (facility, priority) = plugin_level(plugin.conf.get("args").map_or("", |e| e.value.as_str()));
    let running = |name: &str| facts.processes.as_ref().is_none_or(|ps| ps.iter().any(|p| p.program() == name));
    let mut out = Vec::new();
    if running("rsyslogd") {
        out.extend(rsyslog(facts, &facility, priority));
    }
    if running("syslog-ng") {
        out.extend(syslog_ng(facts));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_as_rsyslog_reads_them() {
        let (fac, pri) = plugin_level("LOG_INFO");
        assert_eq!((fac.as_str(), pri), ("user", 6));
        assert!(selects("*.*", &fac, pri));
        assert!(selects("*.info", &fac, pri));
        assert!(!selects("*.notice", &fac, pri));
        assert!(!selects("*.*;user.none", &fac, pri));
        assert!(!selects("local6.*", &fac, pri));
        let (fac, pri) = plugin_level("LOG_LOCAL6 LOG_NOTICE");
        assert!(selects("local6.*", &fac, pri));
        assert!(selects("local6.=notice", &fac, pri));
        assert!(!selects("local6.!notice", &fac, pri));
    }

    #[test]
    fn legacy_destinations() {
        assert_eq!(legacy_host("@@(o)logs.example.com:6514"), Some("logs.example.com:6514".into()));
        assert_eq!(legacy_host("@10.0.0.1;RSYSLOG_ForwardFormat"), Some("10.0.0.1".into()));
        assert!(target("x", "[::1]:514", None, String::new()).loopback);
        assert!(!target("x", "logs:514", None, String::new()).loopback);
    }
}
