//! Kubernetes: footgun 5 (the API server without audit, in [`apiserver`]) and 6 (secrets in the audit
//! log, here), on the audit Policy evaluated with first-match semantics ([`policy`]).
//!
//! Footgun 6's thresholds, as a reviewer reads a policy:
//! - Secrets and TokenReviews (and the TokenRequest response) must never be logged with bodies: a
//!   `RequestResponse` level on any verb, or Request on a verb that sends one (create, update, patch),
//!   puts the secret into every copy of the audit log. ConfigMaps the same, but medium: they are not
//!   meant for secrets, and policies (the Kubernetes documentation's own) log some of them on purpose.
//! - pod exec/attach/portforward must reach at least Metadata: the command is in the request URI, which
//!   Metadata records; below it, interactive access to a container leaves no trace (high).
//! - RBAC writes must reach at least Metadata (high below it), and should reach Request, which records the
//!   rules being granted (medium at Metadata).
//! - An empty policy logs nothing (and the API server refuses to start with it).

pub mod apiserver;
pub mod policy;
mod shell;
pub mod stages;
pub mod validate;
pub mod yaml;

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
};

use thiserror::Error;

use self::{
    apiserver::ApiServer,
    policy::{Level, Policy, Target},
};
use super::{Framework, Sink, Skipped, procs::Process};
use crate::finding::{Finding, Severity};

pub const DEFAULT_MANIFEST: &str = "/etc/kubernetes/manifests/kube-apiserver.yaml";

#[derive(Debug, Error)]
pub enum K8sError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid { path: PathBuf, line: Option<usize>, message: String },
}

impl K8sError {
    pub fn at(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self::Invalid { path: path.to_owned(), line, message: message.into() }
    }
}

#[derive(Debug, Clone, Default)]
pub struct K8sFacts {
    pub apiserver: Option<ApiServer>,
    pub policy: Option<Policy>,
    /// `--audit-policy-file` names a file that is not there: (path, where it is named).
    pub policy_missing: Option<(PathBuf, String)>,
}

/// The manifest (given, or the default when present) and the policy (given, or the manifest's).
/// `resolve` places a path named in the configuration (under `--root`, or as is).
///
/// # Errors
///
/// When a manifest or policy that is named, or found, cannot be read or parsed.
pub fn load(
    resolve: &dyn Fn(&str) -> PathBuf,
    manifest: Option<&Path>,
    policy: Option<&Path>,
) -> Result<K8sFacts, K8sError> {
    let mut k8s = K8sFacts::default();
    let manifest = match manifest {
        Some(path) => Some(path.to_owned()),
        None => Some(resolve(DEFAULT_MANIFEST)).filter(|p| p.exists()),
    };
    if let Some(path) = manifest {
        k8s.apiserver = Some(ApiServer::from_manifest(&path)?);
    }
    if let Some(path) = policy {
        k8s.policy = Some(Policy::load(path)?);
    } else {
        load_named_policy(&mut k8s, resolve)?;
    }
    Ok(k8s)
}

/// Live: a running kube-apiserver is what is in force, whatever the manifest says, and so is the
/// policy file it names (read as it sees it), unless `--k8s-policy` named one (`policy_given`).
///
/// # Errors
///
/// When the policy file the running kube-apiserver names cannot be read or parsed.
pub fn add_running_apiserver(k8s: &mut K8sFacts, processes: &[Process], policy_given: bool) -> Result<(), K8sError> {
    let running = processes.iter().find(|p| p.program() == "kube-apiserver");
    if let Some(p) = running {
        k8s.apiserver = Some(ApiServer::from_process(p));
        if !policy_given {
            k8s.policy = None;
            k8s.policy_missing = None;
            // The process reads its files through its own root; nothing is resolved against ours.
            load_named_policy(k8s, &|path| PathBuf::from(path))?;
        }
    }
    Ok(())
}

fn load_named_policy(k8s: &mut K8sFacts, resolve: &dyn Fn(&str) -> PathBuf) -> Result<(), K8sError> {
    let Some(api) = &k8s.apiserver else { return Ok(()) };
    let Some(flag) = api.flag("audit-policy-file").cloned() else { return Ok(()) };
    let Some(value) = &flag.value else { return Ok(()) };
    let path = match &api.process {
        Some(p) => p.file(value),
        // The container sees the host's file only through a hostPath volume.
        None => {
            if let Some(host) = api.host_path(value) {
                resolve(&host.to_string_lossy())
            } else {
                let unmounted = PathBuf::from(format!("{value} (on no hostPath volume of the pod)"));
                k8s.policy_missing = Some((unmounted, flag.location));
                return Ok(());
            }
        }
    };
    if path.exists() {
        k8s.policy = Some(Policy::load(&path)?);
    } else {
        k8s.policy_missing = Some((path, flag.location));
    }
    Ok(())
}

/// Footguns 5 and 6 on what [`load`] found; `live` says whether a running API server was looked for.
pub fn check(k8s: &K8sFacts, live: bool, framework: Option<Framework>, sink: &mut Sink) {
    match &k8s.apiserver {
        Some(api) => apiserver::check(framework, api, sink),
        None => sink.skip(Skipped::new(
            5,
            "kube-apiserver audit flags",
            if live {
                "no kube-apiserver manifest or process on this host"
            } else {
                "no kube-apiserver manifest under --root"
            },
        )),
    }
    if let Some((path, at)) = &k8s.policy_missing {
        sink.add(
            6,
            Finding::new(
                "k8s_policy_missing",
                Severity::High,
                format!("--audit-policy-file names {}, which does not exist", path.display()),
            )
            .at(at)
            .why("the API server does not start with a missing policy file, or audits nothing if it is not mounted")
            .fix("create the policy file and mount it into the kube-apiserver pod"),
        );
    }
    match &k8s.policy {
        Some(policy) => check_policy(policy, sink),
        None => sink.skip(Skipped::new(6, "Kubernetes audit policy", "no policy given or named by the API server")),
    }
}

const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
/// Verbs whose request carries the object.
const WRITE_VERBS: &[&str] = &["create", "update", "patch"];

fn core(resource: &'static str) -> Target {
    Target { group: "", resource, subresource: "", namespaced: true }
}

pub fn check_policy(policy: &Policy, sink: &mut Sink) {
    const N: u8 = 6;
    if validate::report(policy, sink) {
        return;
    }
    if policy.rules.is_empty() {
        sink.add(
            N,
            Finding::new("k8s_policy_empty", Severity::High, "the audit policy has no rules: nothing is logged")
                .at(format!("{}:1", policy.path.display()))
                .why("an empty policy logs no request (the API server even refuses to load it)")
                .fix(
                    "start from a reviewed policy: Metadata for secrets/configmaps/tokenreviews, Request for the rest",
                ),
        );
        return;
    }
    let sensitive: [(Target, Severity, bool); 4] = [
        (core("secrets"), Severity::High, false),
        (
            Target { group: "authentication.k8s.io", resource: "tokenreviews", subresource: "", namespaced: false },
            Severity::High,
            false,
        ),
        // The TokenRequest's token is in the response only.
        (
            Target { group: "", resource: "serviceaccounts", subresource: "token", namespaced: true },
            Severity::High,
            true,
        ),
        (core("configmaps"), Severity::Medium, false),
    ];
    for (target, severity, response_only) in sensitive {
        let leaks = |level: Level, verb: &str| {
            level == Level::RequestResponse
                || (!response_only && level == Level::Request && WRITE_VERBS.contains(&verb))
        };
        let hits = by_rule(policy, &target, VERBS, |l, v| leaks(l, v));
        for (rule, (level, verbs)) in hits {
            sink.add(
                N,
                Finding::new(
                    "k8s_secrets_in_audit_log",
                    severity,
                    format!("{} {} logged at {level:?}", target.name(), verbs.join(",")),
                )
                .at(location(policy, rule))
                .why("the object's data (keys, tokens, passwords) lands in every copy of the audit log")
                .fix(format!("put a `level: Metadata` rule for {} before this rule", target.name())),
            );
        }
    }
    for sub in ["exec", "attach", "portforward"] {
        let target = Target { group: "", resource: "pods", subresource: sub, namespaced: true };
        for (rule, (_, verbs)) in by_rule(policy, &target, &["create", "get"], |l, _| l == Level::None) {
            sink.add(
                N,
                Finding::new(
                    "k8s_exec_not_logged",
                    Severity::High,
                    format!("pods/{sub} {} not logged", verbs.join(",")),
                )
                .at(location(policy, rule))
                .why("interactive access into a container leaves no trace of who ran what")
                .fix(format!("log pods/{sub} at Metadata at least, before any None rule that catches it")),
            );
        }
    }
    for resource in ["roles", "rolebindings", "clusterroles", "clusterrolebindings"] {
        let namespaced = !resource.starts_with("cluster");
        let target = Target { group: "rbac.authorization.k8s.io", resource, subresource: "", namespaced };
        let verbs = ["create", "update", "patch", "delete"];
        for (rule, (level, verbs)) in
            by_rule(policy, &target, &verbs, |l, v| l == Level::None || (l == Level::Metadata && v != "delete"))
        {
            let (severity, why) = if level == Level::None {
                (Severity::High, "a privilege grant leaves no trace")
            } else {
                (Severity::Medium, "Metadata shows who changed which role, not what it now grants")
            };
            sink.add(
                N,
                Finding::new(
                    "k8s_rbac_underlogged",
                    severity,
                    format!("{resource} {} logged at {level:?}", verbs.join(",")),
                )
                .at(location(policy, rule))
                .why(why)
                .fix("log rbac.authorization.k8s.io writes at Request or RequestResponse"),
            );
        }
    }
}

/// The reachable (level, verb) pairs that `bad` flags, grouped by the rule that gives them (`None`: no
/// rule matched), keeping the worst level per rule.
fn by_rule(
    policy: &Policy,
    target: &Target,
    verbs: &[&str],
    bad: impl Fn(Level, &str) -> bool,
) -> BTreeMap<Option<usize>, (Level, Vec<String>)> {
    let mut out: BTreeMap<Option<usize>, (Level, Vec<String>)> = BTreeMap::new();
    for verb in verbs {
        for (level, rule) in policy::reachable(policy, target, verb) {
            if bad(level, verb) {
                let entry = out.entry(rule).or_insert((level, Vec::new()));
                entry.0 = entry.0.max(level);
                if !entry.1.iter().any(|v| v == verb) {
                    entry.1.push((*verb).to_owned());
                }
            }
        }
    }
    out
}

fn location(policy: &Policy, rule: Option<usize>) -> String {
    match rule {
        Some(i) => policy.rule_location(&policy.rules[i]),
        None => format!("{} (no rule matches)", policy.path.display()),
    }
}
