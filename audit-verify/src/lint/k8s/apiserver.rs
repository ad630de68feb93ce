//! Footgun 5: the kube-apiserver's audit flags, from its static pod manifest or its running command line.
//! Without `--audit-policy-file` the API server audits nothing; without a backend (`--audit-log-path` or
//! `--audit-webhook-config-file`) events go nowhere; and the log backend's rotation decides retention.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{
    K8sError, shell,
    yaml::{self, Node},
};
use crate::{
    finding::{Finding, Severity},
    lint::{Framework, Sink, procs::Process},
};

const N: u8 = 5;

/// CIS Kubernetes Benchmark 1.2.17-1.2.19, the baseline when no framework is given.
const CIS_MAXAGE: u32 = 30;
const CIS_MAXBACKUP: u32 = 10;
const CIS_MAXSIZE: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
    pub location: String,
}

/// A volume mounted into the kube-apiserver container of a static pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// Where the container sees it.
    pub mount_path: String,
    pub sub_path: String,
    /// Where it is on the host: `None` for a volume that is not a hostPath (configMap, emptyDir…).
    pub host_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiServer {
    /// The manifest, or `pid N`.
    pub source: String,
    pub flags: Vec<Flag>,
    /// The container's mounts, from a manifest (a running process sees its own mounts).
    pub mounts: Vec<Mount>,
    /// The running API server these flags were read from: its paths are in its own mount namespace.
    #[serde(skip)]
    pub process: Option<Process>,
}

/// kube-apiserver's boolean flags (pflag `NoOptDefVal` "true", from `kube-apiserver --help` up to 1.36
/// and the klog flags of older releases): `--flag` alone sets them, so they never take the next word.
/// Every other flag does, whatever that word is.
const BOOL_FLAGS: &[&str] = &[
    "add-dir-header",
    "allow-privileged",
    "alsologtostderr",
    "anonymous-auth",
    "audit-log-batch-throttle-enable",
    "audit-log-compress",
    "audit-log-truncate-enabled",
    "audit-webhook-batch-throttle-enable",
    "audit-webhook-truncate-enabled",
    "contention-profiling",
    "disable-http2-serving",
    "enable-aggregator-routing",
    "enable-bootstrap-token-auth",
    "enable-garbage-collector",
    "enable-logs-handler",
    "enable-priority-and-fairness",
    "encryption-provider-config-automatic-reload",
    "help",
    "log-json-split-stream",
    "log-text-split-stream",
    "logtostderr",
    "one-output",
    "permit-address-sharing",
    "permit-port-sharing",
    "profiling",
    "service-account-extend-token-expiration",
    "service-account-lookup",
    "shutdown-send-retry-after",
    "skip-headers",
    "skip-log-headers",
    "version",
    "watch-cache",
];

/// Shells that start kube-apiserver from a `-c` script.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "busybox"];

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

impl ApiServer {
    /// The flag's last occurrence (pflag keeps the last value), unless that sets it to "": kube-apiserver's
    /// audit options take an empty path as unset (no policy, no log backend, no webhook).
    #[must_use]
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().rev().find(|f| f.name == name).filter(|f| f.value.as_deref() != Some(""))
    }

    /// A non-negative int flag's value, as pflag parses it ([`go_int`]).
    fn number(&self, name: &str) -> Option<(u32, &Flag)> {
        let f = self.flag(name)?;
        Some((u32::try_from(go_int(f.value.as_deref()?)?).ok()?, f))
    }

    /// From a static pod manifest: the kube-apiserver container's `command` and `args`, and its mounts.
    ///
    /// # Errors
    ///
    /// When the manifest cannot be read, is not YAML, or has no kube-apiserver container we can read.
    pub fn from_manifest(path: &Path) -> Result<Self, K8sError> {
        let text = yaml::load_text(path)?;
        let doc = yaml::first_document(path, &text)?;
        let spec = yaml::get(&doc, "spec");
        let containers = spec
            .and_then(|s| yaml::get(s, "containers"))
            .and_then(yaml::items)
            .ok_or_else(|| K8sError::at(path, Some(yaml::line(&doc)), "not a pod manifest: no spec.containers"))?;
        // Named so, or else running it: as its program or from a shell script.
        let named = |c: &&Node<'_>| yaml::get(c, "name").and_then(yaml::scalar).as_deref() == Some("kube-apiserver");
        let runs = |c: &&Node<'_>| {
            ["command", "args"]
                .into_iter()
                .flat_map(|key| yaml::get(c, key).and_then(yaml::items).unwrap_or_default())
                .filter_map(yaml::scalar)
                .any(|w| shell::command_args(&w, "kube-apiserver").is_some())
        };
        let container =
            containers.iter().find(named).or_else(|| containers.iter().find(runs)).ok_or_else(|| {
                K8sError::at(path, Some(yaml::line(&doc)), "no kube-apiserver container in the manifest")
            })?;
        let mut words = [Vec::new(), Vec::new()];
        for (key, out) in ["command", "args"].into_iter().zip(&mut words) {
            for item in yaml::get(container, key).and_then(yaml::items).unwrap_or_default() {
                let text = yaml::scalar(item).ok_or_else(|| {
                    K8sError::at(path, Some(yaml::line(item)), format!("`{key}` items must be strings"))
                })?;
                out.push((text, format!("{}:{}", path.display(), yaml::line(item))));
            }
        }
        let [command, args] = words;
        let command_line = apiserver_args(command, args).ok_or_else(|| {
            K8sError::at(
                path,
                Some(yaml::line(container)),
                "the kube-apiserver container's command neither is kube-apiserver nor starts it from `sh -c`",
            )
        })?;
        Ok(Self {
            source: path.display().to_string(),
            flags: flags(command_line),
            mounts: mounts(spec, container),
            process: None,
        })
    }

    #[must_use]
    pub fn from_process(p: &Process) -> Self {
        let at = format!("live: pid {} (kube-apiserver)", p.pid);
        let flags = flags(p.argv.iter().skip(1).map(|a| (a.clone(), at.clone())).collect());
        Self { source: at, flags, mounts: Vec::new(), process: Some(p.clone()) }
    }

    /// Where the host holds the file the container sees at `container_path`: through the hostPath
    /// volume mounted deepest above it. `None` when no hostPath volume holds it, so the API server,
    /// in its container, cannot read a file of the host there.
    #[must_use]
    pub fn host_path(&self, container_path: &str) -> Option<PathBuf> {
        let under = |m: &Mount| {
            let mount = m.mount_path.trim_end_matches('/');
            let rest = container_path.strip_prefix(mount)?;
            (rest.is_empty() || rest.starts_with('/')).then_some((mount.len(), rest))
        };
        let (mount, rest) =
            self.mounts.iter().filter_map(|m| Some((m, under(m)?))).max_by_key(|(_, (depth, _))| *depth)?;
        let mut host = PathBuf::from(mount.host_path.as_deref()?);
        if !mount.sub_path.is_empty() {
            host.push(&mount.sub_path);
        }
        if !rest.1.is_empty() {
            host.push(rest.1.trim_start_matches('/'));
        }
        Some(host)
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, which pflag's int flags use: an optional sign, then `0x`, `0o`,
/// `0b` or a leading `0` (octal: `030` is 24) for the base, and `_` between digits only with a prefix.
fn go_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body, prefixed) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b.to_owned(), true)
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b.to_owned(), true)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b.to_owned(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned(), true)
    } else {
        (10, lower, false)
    };
    let body = if prefixed { body.trim_start_matches('_').replace('_', "") } else { body };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let value = i64::from_str_radix(&body, radix).ok()?;
    Some(if negative { -value } else { value })
}

/// kube-apiserver's own arguments: after `kube-apiserver` in `command`, in a `sh -c` script, or all of
/// `args` when `command` is absent (the image's entrypoint is kube-apiserver). `None` for a command that
/// is none of these.
fn apiserver_args(command: Vec<(String, String)>, args: Vec<(String, String)>) -> Option<Vec<(String, String)>> {
    let Some((program, _)) = command.first() else { return Some(args) };
    let program = base(program).to_owned();
    let mut all = command.into_iter().chain(args);
    if program == "kube-apiserver" {
        return Some(all.skip(1).collect());
    }
    if !SHELLS.contains(&program.as_str()) {
        return None;
    }
    // sh [-e -x…] -c SCRIPT [NAME [ARG…]]: the script is the word after the option cluster holding `c`.
    all.by_ref().skip(1).find(|(w, _)| w.starts_with('-') && !w.starts_with("--") && w.contains('c'))?;
    let (script, at) = all.next()?;
    let words = shell::command_args(&script, "kube-apiserver")?;
    Some(words.into_iter().map(|w| (w, at.clone())).collect())
}

/// The container's volumeMounts, each with the hostPath of its volume.
fn mounts(spec: Option<&Node<'_>>, container: &Node<'_>) -> Vec<Mount> {
    let volumes = spec.and_then(|s| yaml::get(s, "volumes")).and_then(yaml::items).unwrap_or_default();
    let text = |n: &Node<'_>, key: &str| yaml::get(n, key).and_then(yaml::scalar);
    yaml::get(container, "volumeMounts")
        .and_then(yaml::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let name = text(m, "name")?;
            let volume = volumes.iter().find(|v| text(v, "name").as_deref() == Some(name.as_str()));
            Some(Mount {
                mount_path: text(m, "mountPath")?,
                sub_path: text(m, "subPath").unwrap_or_default(),
                host_path: volume.and_then(|v| yaml::get(v, "hostPath")).and_then(|h| text(h, "path")),
            })
        })
        .collect()
}

/// The flags of kube-apiserver's arguments, parsed as pflag does: `--name=value`; `--name` alone for a
/// boolean flag; otherwise `--name` takes the next word whatever it is (`--audit-log-path -` is stdout).
/// `--` ends the flags; single-dash shorthands (`-v 2`, `-v=2`, `-h`) are skipped with their value.
fn flags(args: Vec<(String, String)>) -> Vec<Flag> {
    let mut out = Vec::new();
    let mut iter = args.into_iter();
    while let Some((word, location)) = iter.next() {
        if word == "--" {
            break;
        }
        let Some(flag) = word.strip_prefix("--") else {
            // A one-letter shorthand without `=` takes the next word, except the boolean -h.
            if let Some(short) = word.strip_prefix('-')
                && short.chars().count() == 1
                && short != "h"
            {
                iter.next();
            }
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None if BOOL_FLAGS.contains(&flag) => (flag.to_owned(), Some("true".to_owned())),
            None => (flag.to_owned(), iter.next().map(|(w, _)| w)),
        };
        out.push(Flag { name, value, location });
    }
    out
}

#[expect(
    clippy::too_many_lines,
    reason = "a list of independent checks, each a few lines, sharing the same three inputs"
)]
pub fn check(framework: Option<Framework>, api: &ApiServer, sink: &mut Sink) {
    // pflag refuses a value that is not an int, and the audit options' Validate a negative one
    // ("--audit-log-maxage -1 can't be a negative number"): the API server does not start.
    for name in ["audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize"] {
        let Some(flag) = api.flag(name) else { continue };
        let value = flag.value.as_deref().unwrap_or_default();
        if go_int(value).is_none_or(|v| v < 0) {
            sink.add(
                N,
                Finding::new(
                    "k8s_apiserver_flag_refused",
                    Severity::High,
                    format!("kube-apiserver refuses --{name}={value} and will not start"),
                )
                .at(&flag.location)
                .why("an audit flag that is not a non-negative integer stops the API server at start-up")
                .fix(format!("--{name}= a whole number, 0 for no limit")),
            );
            return;
        }
    }
    let Some(policy) = api.flag("audit-policy-file") else {
        sink.add(
            N,
            Finding::new("k8s_audit_disabled", Severity::High, "kube-apiserver runs without --audit-policy-file")
                .at(&api.source)
                .why("without a policy the API server writes no audit event: who read which secret is unknowable")
                .fix("--audit-policy-file=/etc/kubernetes/audit-policy.yaml (mounted into the pod)"),
        );
        return;
    };
    let log_path = api.flag("audit-log-path");
    let webhook = api.flag("audit-webhook-config-file");
    if log_path.is_none() && webhook.is_none() {
        sink.add(
            N,
            Finding::new(
                "k8s_audit_no_backend",
                Severity::High,
                "--audit-policy-file is set but neither --audit-log-path nor --audit-webhook-config-file",
            )
            .at(&policy.location)
            .why("with no backend the events the policy selects are written nowhere")
            .fix("--audit-log-path=/var/log/kubernetes/audit/audit.log (and/or a webhook to the SIEM)"),
        );
        return;
    }
    let Some(log_path) = log_path else { return };
    if log_path.value.as_deref() == Some("-") {
        sink.add(
            N,
            Finding::new("k8s_audit_to_stdout", Severity::Medium, "--audit-log-path=- (stdout)")
                .at(&log_path.location)
                .why("on stdout, retention is whatever the container runtime's log rotation keeps (usually MBs)")
                .fix("log to a file on a hostPath volume, or ship with a webhook"),
        );
        return;
    }
    // With a webhook the archive is elsewhere; the local log is a buffer.
    let (required, source, severity) = match framework {
        Some(f) => {
            let (online, _, _) = f.retention();
            (online, f.name(), if webhook.is_some() { Severity::Medium } else { Severity::High })
        }
        None => (CIS_MAXAGE, "CIS Kubernetes 1.2.17", Severity::Medium),
    };
    // The log backend writes through lumberjack (gopkg.in/natefinch/lumberjack.v2, options/audit.go
    // `getWriter`): MaxAge 0 and MaxBackups 0 mean no limit, MaxSize 0 its default of 100 MB. An unset
    // flag is 0, so it is judged exactly as an explicit 0.
    let limit = |name: &str| api.number(name).filter(|(v, _)| *v > 0);
    let (maxage, maxbackup) = (limit("audit-log-maxage"), limit("audit-log-maxbackup"));
    match (maxage, maxbackup) {
        (Some((age, flag)), _) if age < required => sink.add(
            N,
            Finding::new(
                "k8s_audit_maxage_short",
                severity,
                format!("--audit-log-maxage={age} days; {source} needs {required}"),
            )
            .at(&flag.location)
            .why("audit files older than maxage are deleted, before the retention period ends")
            .fix(format!("--audit-log-maxage={required} (or ship with a webhook and keep what is at hand)")),
        ),
        (Some(_), _) => {}
        (None, Some((backups, _))) => sink.add(
            N,
            Finding::new(
                "k8s_audit_maxage_unset",
                Severity::Medium,
                format!("--audit-log-maxage unset or 0: no age limit, {backups} files kept"),
            )
            .at(&log_path.location)
            .why("retention is then set by maxbackup × maxsize alone, which says nothing about days")
            .fix(format!("--audit-log-maxage={required}")),
        ),
        (None, None) => sink.add(
            N,
            Finding::new(
                "k8s_audit_log_unbounded",
                Severity::Medium,
                "--audit-log-maxage and --audit-log-maxbackup unset or 0: audit files are never deleted",
            )
            .at(&log_path.location)
            .why("the log grows until its file system is full; from then on the API server's audit writes fail")
            .fix(format!(
                "--audit-log-maxage={required} --audit-log-maxbackup={CIS_MAXBACKUP}, on a volume sized for them"
            )),
        ),
    }
    // 0 (or unset) is no limit for maxbackup and 100 MB for maxsize: neither is a small rotation.
    for (flag, min, unit) in [("audit-log-maxbackup", CIS_MAXBACKUP, "files"), ("audit-log-maxsize", CIS_MAXSIZE, "MB")]
    {
        if let Some((v, f)) = limit(flag)
            && v < min
        {
            sink.add(
                N,
                Finding::new("k8s_audit_rotation_small", Severity::Medium, format!("--{flag}={v} {unit} < {min}"))
                    .at(&f.location)
                    .why("few or small audit files: a busy cluster rotates its history away in hours")
                    .fix(format!("--{flag}={min} (CIS Kubernetes 1.2.18/1.2.19)")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<(String, String)> {
        ws.iter().map(|w| ((*w).to_owned(), "m:1".to_owned())).collect()
    }

    fn value<'f>(flags: &'f [Flag], name: &str) -> Option<&'f str> {
        flags.iter().rev().find(|f| f.name == name).and_then(|f| f.value.as_deref())
    }

    #[test]
    fn ints_as_go_parses_them_with_base_0() {
        for (text, want) in [
            ("30", Some(30)),
            ("030", Some(24)),
            ("0x1e", Some(30)),
            ("0o36", Some(30)),
            ("0b11110", Some(30)),
            ("0x_1e", Some(30)),
            ("-1", Some(-1)),
            ("+7", Some(7)),
            ("0", Some(0)),
            ("1_000", None),
            ("30d", None),
            ("", None),
            ("--1", None),
        ] {
            assert_eq!(go_int(text), want, "{text}");
        }
    }

    #[test]
    fn flags_as_pflag_reads_them() {
        let f = flags(words(&[
            "--audit-log-path",
            "-",
            "--profiling",
            "--audit-policy-file",
            "/p.yaml",
            "-v",
            "2",
            "--audit-log-maxage=30",
            "--",
            "--audit-log-maxbackup=1",
        ]));
        assert_eq!(value(&f, "audit-log-path"), Some("-"));
        assert_eq!(value(&f, "profiling"), Some("true"));
        assert_eq!(value(&f, "audit-policy-file"), Some("/p.yaml"));
        assert_eq!(value(&f, "audit-log-maxage"), Some("30"));
        assert_eq!(value(&f, "audit-log-maxbackup"), None, "after --");
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn the_arguments_of_kube_apiserver_however_it_is_started() {
        let args = |command: &[&str], args: &[&str]| {
            apiserver_args(words(command), words(args)).map(|a| a.into_iter().map(|(w, _)| w).collect::<Vec<_>>())
        };
        assert_eq!(args(&["/usr/local/bin/kube-apiserver", "--a=1"], &["--b=2"]).unwrap(), ["--a=1", "--b=2"]);
        assert_eq!(args(&[], &["--b=2"]).unwrap(), ["--b=2"]);
        assert_eq!(
            args(&["/bin/sh", "-ec", "exec kube-apiserver --audit-log-path - >/dev/null"], &[]).unwrap(),
            ["--audit-log-path", "-"]
        );
        assert_eq!(args(&["/bin/sh", "-c"], &["kube-apiserver --x=1 && echo"]).unwrap(), ["--x=1"]);
        assert_eq!(args(&["/bin/sh", "-c", "etcd"], &[]), None);
        assert_eq!(args(&["/run.sh"], &[]), None);
    }

    #[test]
    fn container_paths_map_to_host_paths_through_host_path_volumes() {
        let mount = |mount_path: &str, sub_path: &str, host: Option<&str>| Mount {
            mount_path: mount_path.to_owned(),
            sub_path: sub_path.to_owned(),
            host_path: host.map(str::to_owned),
        };
        let api = ApiServer {
            source: String::new(),
            flags: Vec::new(),
            mounts: vec![
                mount("/etc/kubernetes", "", Some("/srv/k8s")),
                mount("/etc/kubernetes/audit", "", Some("/opt/audit")),
                mount("/etc/kubernetes/policy.yaml", "", Some("/opt/p.yaml")),
                mount("/cfg", "a", Some("/data")),
                mount("/etc/cm", "", None),
            ],
            process: None,
        };
        let host = |p: &str| api.host_path(p).map(|h| h.display().to_string());
        assert_eq!(host("/etc/kubernetes/audit/policy.yaml").as_deref(), Some("/opt/audit/policy.yaml"));
        assert_eq!(host("/etc/kubernetes/other.yaml").as_deref(), Some("/srv/k8s/other.yaml"));
        assert_eq!(host("/etc/kubernetes/policy.yaml").as_deref(), Some("/opt/p.yaml"));
        assert_eq!(host("/cfg/p.yaml").as_deref(), Some("/data/a/p.yaml"));
        assert_eq!(host("/etc/kubernetes-x/p.yaml"), None, "a prefix that is not a directory");
        assert_eq!(host("/etc/cm/p.yaml"), None, "a configMap volume is not on the host");
        assert_eq!(host("/tmp/p.yaml"), None);
    }
}
