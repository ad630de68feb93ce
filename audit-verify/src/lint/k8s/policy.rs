//! The Kubernetes audit `Policy` (audit.k8s.io/v1) and its first-match evaluation, as the API server's
//! policy checker does it (k8s.io/apiserver/pkg/audit/policy/checker.go): the first rule whose users,
//! userGroups, verbs, namespaces and resources all match decides the level; no rule matching means None.
//!
//! Users, groups, namespaces and resource names are not known when linting, so a rule restricted by any
//! of them *may* match (its level is reachable) without covering every request (later rules stay
//! reachable). A rule with none of them covers its requests, and evaluation stops there.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{
    K8sError,
    yaml::{self, Node},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "None" => Level::None,
            "Metadata" => Level::Metadata,
            "Request" => Level::Request,
            "RequestResponse" => Level::RequestResponse,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupResources {
    /// "" is the core group.
    pub group: String,
    /// Empty: every resource of the group.
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRule {
    pub level: Level,
    pub line: usize,
    pub users: Vec<String>,
    pub user_groups: Vec<String>,
    pub verbs: Vec<String>,
    pub resources: Vec<GroupResources>,
    pub namespaces: Vec<String>,
    pub non_resource_urls: Vec<String>,
    pub omit_stages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub path: PathBuf,
    pub rules: Vec<PolicyRule>,
    pub omit_stages: Vec<String>,
    pub omit_managed_fields: bool,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Self, K8sError> {
        let text = yaml::load_text(path)?;
        Self::parse(path, &text)
    }

    /// Parses a Policy; anything else (not YAML, another kind, a malformed rule) is an error at its line.
    pub fn parse(path: &Path, text: &str) -> Result<Self, K8sError> {
        let doc = yaml::first_document(path, text)?;
        if !yaml::is_mapping(&doc) {
            return Err(K8sError::at(path, Some(yaml::line(&doc)), "not a Kubernetes object (expected a mapping)"));
        }
        let field = |key: &str| yaml::get(&doc, key).and_then(yaml::scalar);
        match (field("apiVersion").as_deref(), field("kind").as_deref()) {
            (Some("audit.k8s.io/v1" | "audit.k8s.io/v1beta1"), Some("Policy")) => {}
            (api, kind) => {
                return Err(K8sError::at(
                    path,
                    Some(yaml::line(&doc)),
                    format!(
                        "not an audit Policy: apiVersion {} kind {} (expected audit.k8s.io/v1 Policy)",
                        api.unwrap_or("missing"),
                        kind.unwrap_or("missing")
                    ),
                ));
            }
        }
        let omit_managed_fields = field("omitManagedFields").is_some_and(|v| v == "true");
        let omit_stages = yaml::strings(path, &doc, "omitStages")?;
        let rules = match yaml::get(&doc, "rules").filter(|r| !yaml::is_null(r)) {
            None => Vec::new(),
            Some(list) => yaml::items(list)
                .ok_or_else(|| K8sError::at(path, Some(yaml::line(list)), "`rules` must be a list"))?
                .iter()
                .map(|r| parse_rule(path, r))
                .collect::<Result<_, _>>()?,
        };
        Ok(Self { path: path.to_owned(), rules, omit_stages, omit_managed_fields })
    }

    pub fn rule_location(&self, rule: &PolicyRule) -> String {
        format!("{}:{}", self.path.display(), rule.line)
    }
}

fn parse_rule(path: &Path, node: &Node<'_>) -> Result<PolicyRule, K8sError> {
    let at = yaml::line(node);
    if !yaml::is_mapping(node) {
        return Err(K8sError::at(path, Some(at), "a policy rule must be a mapping"));
    }
    let level_text = yaml::get(node, "level")
        .and_then(yaml::scalar)
        .ok_or_else(|| K8sError::at(path, Some(at), "policy rule without `level`"))?;
    let level = Level::parse(&level_text).ok_or_else(|| {
        K8sError::at(path, Some(at), format!("unknown level `{level_text}` (None, Metadata, Request, RequestResponse)"))
    })?;
    let mut resources = Vec::new();
    if let Some(list) = yaml::get(node, "resources").filter(|r| !yaml::is_null(r)) {
        let items = yaml::items(list).ok_or_else(|| K8sError::at(path, Some(at), "`resources` must be a list"))?;
        for gr in items {
            if !yaml::is_mapping(gr) {
                return Err(K8sError::at(path, Some(yaml::line(gr)), "`resources` items are {group, resources}"));
            }
            resources.push(GroupResources {
                group: yaml::get(gr, "group").and_then(yaml::scalar).unwrap_or_default(),
                resources: yaml::strings(path, gr, "resources")?,
                resource_names: yaml::strings(path, gr, "resourceNames")?,
            });
        }
    }
    Ok(PolicyRule {
        level,
        line: at,
        users: yaml::strings(path, node, "users")?,
        user_groups: yaml::strings(path, node, "userGroups")?,
        verbs: yaml::strings(path, node, "verbs")?,
        resources,
        namespaces: yaml::strings(path, node, "namespaces")?,
        non_resource_urls: yaml::strings(path, node, "nonResourceURLs")?,
        omit_stages: yaml::strings(path, node, "omitStages")?,
    })
}

/// A kind of resource request whose level matters.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub group: &'static str,
    pub resource: &'static str,
    /// "" for the resource itself.
    pub subresource: &'static str,
    pub namespaced: bool,
}

impl Target {
    pub fn name(&self) -> String {
        let r = if self.subresource.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        if self.group.is_empty() { r } else { format!("{r}.{}", self.group) }
    }
}

/// How a rule relates to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    No,
    /// Matches some such requests (depends on user, group, namespace or name).
    Some,
    /// Matches every such request.
    All,
}

/// The levels a request for `target` with `verb` can get: (level, rule index or `None` for "no rule
/// matched"), in policy order.
pub fn reachable(policy: &Policy, target: &Target, verb: &str) -> Vec<(Level, Option<usize>)> {
    let mut out = Vec::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        match matches(rule, target, verb) {
            Match::No => {}
            Match::Some => out.push((rule.level, Some(i))),
            Match::All => {
                out.push((rule.level, Some(i)));
                return out;
            }
        }
    }
    out.push((Level::None, None));
    out
}

/// checker.go's `ruleMatches` for a resource request, with unknowns counted as "may match".
fn matches(rule: &PolicyRule, t: &Target, verb: &str) -> Match {
    let mut partial = !rule.users.is_empty() || !rule.user_groups.is_empty();
    if !rule.verbs.is_empty() && !rule.verbs.iter().any(|v| v == verb) {
        return Match::No;
    }
    if rule.namespaces.is_empty() && rule.resources.is_empty() {
        // A rule with only nonResourceURLs never matches a resource request.
        if !rule.non_resource_urls.is_empty() {
            return Match::No;
        }
        return if partial { Match::Some } else { Match::All };
    }
    if !rule.namespaces.is_empty() {
        // Cluster-scoped resources have the namespace "".
        if !t.namespaced && !rule.namespaces.iter().any(|n| n.is_empty()) {
            return Match::No;
        }
        if t.namespaced {
            partial = true;
        }
    }
    if !rule.resources.is_empty() {
        let combined =
            if t.subresource.is_empty() { t.resource.to_owned() } else { format!("{}/{}", t.resource, t.subresource) };
        let mut best = Match::No;
        for gr in rule.resources.iter().filter(|gr| gr.group == t.group) {
            if gr.resources.is_empty() {
                best = Match::All;
                break;
            }
            let hit = gr.resources.iter().any(|res| {
                res == &combined
                    || res == "*"
                    || (!t.subresource.is_empty() && res.strip_prefix("*/") == Some(t.subresource))
                    || res.strip_suffix("/*") == Some(t.resource)
            });
            if hit {
                if gr.resource_names.is_empty() {
                    best = Match::All;
                    break;
                }
                best = Match::Some;
            }
        }
        match best {
            Match::No => return Match::No,
            Match::Some => partial = true,
            Match::All => {}
        }
    }
    if partial { Match::Some } else { Match::All }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRETS: Target = Target { group: "", resource: "secrets", subresource: "", namespaced: true };
    const EXEC: Target = Target { group: "", resource: "pods", subresource: "exec", namespaced: true };

    fn policy(rules: &str) -> Policy {
        Policy::parse(Path::new("p.yaml"), &format!("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n{rules}"))
            .unwrap()
    }

    #[test]
    fn first_match_stops_at_a_rule_covering_all() {
        let p =
            policy("- level: Metadata\n  resources: [{group: \"\", resources: [secrets]}]\n- level: RequestResponse\n");
        assert_eq!(reachable(&p, &SECRETS, "get"), [(Level::Metadata, Some(0))]);
        let p =
            policy("- level: RequestResponse\n- level: Metadata\n  resources: [{group: \"\", resources: [secrets]}]\n");
        assert_eq!(reachable(&p, &SECRETS, "get"), [(Level::RequestResponse, Some(0))]);
    }

    #[test]
    fn restricted_rules_leave_later_rules_reachable() {
        let p = policy(
            "- level: None\n  users: [system:kube-proxy]\n- level: Request\n  namespaces: [kube-system]\n  resources: [{group: \"\", resources: [secrets]}]\n",
        );
        assert_eq!(
            reachable(&p, &SECRETS, "create"),
            [(Level::None, Some(0)), (Level::Request, Some(1)), (Level::None, None)]
        );
    }

    #[test]
    fn subresources_and_wildcards_as_the_checker_matches_them() {
        let only =
            |res: &str| policy(&format!("- level: Metadata\n  resources: [{{group: \"\", resources: [\"{res}\"]}}]\n"));
        assert_eq!(reachable(&only("pods"), &EXEC, "create")[0].0, Level::None, "pods does not match pods/exec");
        for res in ["pods/exec", "*", "*/exec", "pods/*"] {
            assert_eq!(reachable(&only(res), &EXEC, "create")[0].0, Level::Metadata, "{res}");
        }
        let p = policy("- level: Metadata\n  verbs: [get]\n");
        assert_eq!(reachable(&p, &EXEC, "create"), [(Level::None, None)]);
        let p = policy("- level: Metadata\n  nonResourceURLs: [\"/api*\"]\n");
        assert_eq!(reachable(&p, &EXEC, "create"), [(Level::None, None)]);
    }

    #[test]
    fn bad_input_names_file_and_line() {
        let err = Policy::parse(Path::new("/x/p.yaml"), "rules: [\n  - level: : :\n").unwrap_err();
        assert!(err.to_string().starts_with("/x/p.yaml:"), "{err}");
        let err = Policy::parse(Path::new("p.yaml"), "apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert!(err.to_string().contains("not an audit Policy"), "{err}");
        let err =
            Policy::parse(Path::new("p.yaml"), "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n")
                .unwrap_err();
        assert_eq!(err.to_string(), "p.yaml:4: unknown level `Loud` (None, Metadata, Request, RequestResponse)");
        assert!(Policy::parse(Path::new("p.yaml"), "").is_err());
        assert!(Policy::parse(Path::new("p.yaml"), "just text").is_err());
    }
}
