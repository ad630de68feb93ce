//! Footgun 5: the kube-apiserver's audit flags, from its static pod manifest or its running command line.
//! Without `--audit-policy-file` the API server audits nothing; without a backend (`--audit-log-path` or
//! `--audit-webhook-config-file`) events go nowhere; and the log backend's rotation decides retention.

use std::path::Path;

use serde::Serialize;

use super::{
    K8sError,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiServer {
    /// The manifest, or `pid N`.
    pub source: String,
    pub flags: Vec<Flag>,
    /// The running API server these flags were read from: its paths are in its own mount namespace.
    #[serde(skip)]
    pub process: Option<Process>,
}

impl ApiServer {
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().rev().find(|f| f.name == name)
    }

    fn number(&self, name: &str) -> Option<(u32, &Flag)> {
        let f = self.flag(name)?;
        Some((f.value.as_deref()?.parse().ok()?, f))
    }

    /// From a static pod manifest: the kube-apiserver container's `command` and `args`.
    pub fn from_manifest(path: &Path) -> Result<Self, K8sError> {
        let text = yaml::load_text(path)?;
        let doc = yaml::first_document(path, &text)?;
        let containers = yaml::get(&doc, "spec")
            .and_then(|s| yaml::get(s, "containers"))
            .and_then(yaml::items)
            .ok_or_else(|| K8sError::at(path, Some(yaml::line(&doc)), "not a pod manifest: no spec.containers"))?;
        let is_apiserver = |c: &&Node<'_>| {
            yaml::get(c, "name").and_then(yaml::scalar).as_deref() == Some("kube-apiserver")
                || yaml::get(c, "command")
                    .and_then(yaml::items)
                    .and_then(|i| i.first())
                    .and_then(yaml::scalar)
                    .is_some_and(|c| c.ends_with("kube-apiserver"))
        };
        let container = containers
            .iter()
            .find(is_apiserver)
            .ok_or_else(|| K8sError::at(path, Some(yaml::line(&doc)), "no kube-apiserver container in the manifest"))?;
        let mut words = Vec::new();
        for key in ["command", "args"] {
            for item in yaml::get(container, key).and_then(yaml::items).unwrap_or_default() {
                let text = yaml::scalar(item).ok_or_else(|| {
                    K8sError::at(path, Some(yaml::line(item)), format!("`{key}` items must be strings"))
                })?;
                words.push((text, format!("{}:{}", path.display(), yaml::line(item))));
            }
        }
        Ok(Self { source: path.display().to_string(), flags: flags(words), process: None })
    }

    pub fn from_process(p: &Process) -> Self {
        let at = format!("live: pid {} (kube-apiserver)", p.pid);
        let flags = flags(p.argv.iter().map(|a| (a.clone(), at.clone())).collect());
        Self { source: at, flags, process: Some(p.clone()) }
    }
}

/// `--name=value`, or `--name value` when the next word is not a flag.
fn flags(words: Vec<(String, String)>) -> Vec<Flag> {
    let mut out = Vec::new();
    let mut iter = words.into_iter().peekable();
    while let Some((word, location)) = iter.next() {
        let Some(flag) = word.strip_prefix("--") else { continue };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => {
                let value = iter.next_if(|(w, _)| !w.starts_with('-')).map(|(w, _)| w);
                (flag.to_owned(), value)
            }
        };
        out.push(Flag { name, value, location });
    }
    out
}

pub fn check(framework: Option<Framework>, api: &ApiServer, sink: &mut Sink) {
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
    match api.number("audit-log-maxage") {
        Some((age, flag)) if age < required => sink.add(
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
        Some(_) => {}
        None => sink.add(
            N,
            Finding::new("k8s_audit_maxage_unset", Severity::Medium, "--audit-log-maxage not set")
                .at(&log_path.location)
                .why("retention is then set by maxbackup × maxsize alone, which says nothing about days")
                .fix(format!("--audit-log-maxage={required}")),
        ),
    }
    for (flag, min, unit) in [("audit-log-maxbackup", CIS_MAXBACKUP, "files"), ("audit-log-maxsize", CIS_MAXSIZE, "MB")]
    {
        match api.number(flag) {
            Some((v, f)) if v < min => sink.add(
                N,
                Finding::new("k8s_audit_rotation_small", Severity::Medium, format!("--{flag}={v} {unit} < {min}"))
                    .at(&f.location)
                    .why("few or small audit files: a busy cluster rotates its history away in hours")
                    .fix(format!("--{flag}={min} (CIS Kubernetes 1.2.18/1.2.19)")),
            ),
            _ => {}
        }
    }
}
