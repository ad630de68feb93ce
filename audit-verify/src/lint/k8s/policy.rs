//! The Kubernetes audit `Policy` (audit.k8s.io/v1) and its first-match evaluation, as the API server's
//! policy checker does it (k8s.io/apiserver/pkg/audit/policy/checker.go): the first rule whose users,
//! userGroups, verbs, namespaces and resources all match decides the level; no rule matching means None.
//!
//! Users, groups, namespaces and resource names are not known when linting, so a rule restricted by any
//! of them *may* match (its level is reachable) without covering every request (later rules stay
//! reachable). A rule is unreachable when earlier rules match every request it matches (an earlier
//! `None` rule for the same secrets, say; or one per user it names): it is never reported. Coverage is
//! looked for one dimension at a time (`covered`); a rule only a two-dimensional split of earlier rules
//! covers still counts as reachable.
//!
//! A policy kube-apiserver refuses to load ([`validate`]) is kept with its refusals and no rules: it is
//! never evaluated, since no API server runs with it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{
    K8sError, stages,
    validate::{self, Located},
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
    /// "" is the core group, "*" every group (1.36, kubernetes/kubernetes#135262).
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
    /// Empty when the policy is refused.
    pub rules: Vec<PolicyRule>,
    pub omit_stages: Vec<String>,
    pub omit_managed_fields: bool,
    /// Why kube-apiserver will not load this policy (and so will not start); empty when it loads it.
    pub refusals: Vec<Located>,
    /// Fields it ignores when it loads it.
    pub ignored: Vec<Located>,
}

impl Policy {
    /// # Errors
    ///
    /// As [`Policy::parse`], or when `path` cannot be read.
    pub fn load(path: &Path) -> Result<Self, K8sError> {
        let text = yaml::load_text(path)?;
        Self::parse(path, &text)
    }

    /// Parses a Policy. What is not one at all (not YAML, not a mapping, another kind of object) is an
    /// error at its line; a Policy the API server refuses is returned with its refusals.
    ///
    /// # Errors
    ///
    /// When `text` is not YAML, not a mapping, or not an `audit.k8s.io` Policy.
    pub fn parse(path: &Path, text: &str) -> Result<Self, K8sError> {
        let doc = yaml::first_document(path, text)?;
        if !yaml::is_mapping(&doc) {
            return Err(K8sError::at(path, Some(yaml::line(&doc)), "not a Kubernetes object (expected a mapping)"));
        }
        let field = |key: &str| yaml::get(&doc, key).and_then(yaml::scalar);
        let (api, kind) = (field("apiVersion"), field("kind"));
        let audit_group = api.as_deref().is_some_and(|a| a.starts_with("audit.k8s.io/"));
        if kind.as_deref() != Some("Policy") && !audit_group {
            return Err(K8sError::at(
                path,
                Some(yaml::line(&doc)),
                format!(
                    "not an audit Policy: apiVersion {} kind {} (expected {} Policy)",
                    api.as_deref().unwrap_or("missing"),
                    kind.as_deref().unwrap_or("missing"),
                    validate::API_VERSION,
                ),
            ));
        }
        let validate::Checked { refusals, ignored } = validate::check(text, &doc);
        if !refusals.is_empty() {
            return Ok(Self {
                path: path.to_owned(),
                rules: Vec::new(),
                omit_stages: Vec::new(),
                omit_managed_fields: false,
                refusals,
                ignored,
            });
        }
        // Every field now has the type the API server decodes it to.
        let omit_managed_fields = field("omitManagedFields").is_some_and(|v| v == "true");
        let omit_stages = yaml::strings(path, &doc, "omitStages")?;
        let rules = match yaml::get(&doc, "rules").and_then(yaml::items) {
            None => Vec::new(),
            Some(list) => list.iter().map(|r| parse_rule(path, r)).collect::<Result<_, _>>()?,
        };
        Ok(Self { path: path.to_owned(), rules, omit_stages, omit_managed_fields, refusals, ignored })
    }

    #[must_use]
    pub fn rule_location(&self, rule: &PolicyRule) -> String {
        format!("{}:{}", self.path.display(), rule.line)
    }

    /// The stages omitted for `rule`: the policy's and the rule's (checker.go `NewChecker`).
    fn omitted<'p>(&'p self, rule: &'p PolicyRule) -> Vec<&'p str> {
        self.omit_stages.iter().chain(&rule.omit_stages).map(String::as_str).collect()
    }
}

/// A rule of a policy that [`validate`] accepted.
fn parse_rule(path: &Path, node: &Node<'_>) -> Result<PolicyRule, K8sError> {
    let at = yaml::line(node);
    let level = yaml::get(node, "level")
        .and_then(yaml::scalar)
        .as_deref()
        .and_then(Level::parse)
        .ok_or_else(|| K8sError::at(path, Some(at), "policy rule without a valid `level`"))?;
    let mut resources = Vec::new();
    for gr in yaml::get(node, "resources").and_then(yaml::items).unwrap_or_default() {
        resources.push(GroupResources {
            group: yaml::get(gr, "group").and_then(yaml::scalar).unwrap_or_default(),
            resources: yaml::strings(path, gr, "resources")?,
            resource_names: yaml::strings(path, gr, "resourceNames")?,
        });
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
    #[must_use]
    pub fn name(&self) -> String {
        let r = if self.subresource.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        if self.group.is_empty() { r } else { format!("{r}.{}", self.group) }
    }

    /// The connect subresources, which the API server treats as long-running (they get `ResponseStarted`).
    fn connect(&self) -> bool {
        matches!(self.subresource, "exec" | "attach" | "portforward" | "proxy")
    }
}

/// The requests for one target and verb a rule matches, dimension by dimension: `None` is "any value",
/// `Some(values)` is "one of these" (for user groups: the user is in one of these).
#[derive(Debug)]
struct Condition<'r> {
    users: Option<Vec<&'r str>>,
    user_groups: Option<Vec<&'r str>>,
    namespaces: Option<Vec<&'r str>>,
    names: Option<Vec<&'r str>>,
}

fn subset(inner: Option<&Vec<&str>>, outer: Option<&Vec<&str>>) -> bool {
    match (inner, outer) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(i), Some(o)) => i.iter().all(|v| o.contains(v)),
    }
}

impl Condition<'_> {
    fn is_all(&self) -> bool {
        self.users.is_none() && self.user_groups.is_none() && self.namespaces.is_none() && self.names.is_none()
    }

    fn dims(&self) -> [&Option<Vec<&str>>; 4] {
        [&self.users, &self.user_groups, &self.namespaces, &self.names]
    }
}

/// The earlier rules together match every request `later` matches: one of them covers it on every
/// dimension, or, on one dimension, the values of those that cover it on all the others add up to
/// `later`'s (None for users a and b, then `RequestResponse` for users [a, b]). Coverage needing two
/// dimensions split at once is not searched for.
fn covered(earlier: &[Condition<'_>], later: &Condition<'_>) -> bool {
    let l = later.dims();
    let covers = |e: &Condition<'_>, skip: Option<usize>| {
        let d = e.dims();
        (0..l.len()).filter(|&i| Some(i) != skip).all(|i| subset(l[i].as_ref(), d[i].as_ref()))
    };
    if earlier.iter().any(|e| covers(e, None)) {
        return true;
    }
    (0..l.len()).any(|dim| {
        let Some(wanted) = l[dim] else { return false };
        let mut have: Vec<&str> = Vec::new();
        for e in earlier.iter().filter(|e| covers(e, Some(dim))) {
            have.extend(e.dims()[dim].iter().flatten());
        }
        wanted.iter().all(|w| have.contains(w))
    })
}

fn some_of(values: &[String]) -> Option<Vec<&str>> {
    (!values.is_empty()).then(|| values.iter().map(String::as_str).collect())
}

/// The levels a request for `target` with `verb` can get, as the events written record it: (level,
/// rule index or `None` for "no rule matched"), in policy order. The level is the rule's cut to what its
/// non-omitted stages carry ([`stages::written`]), so a body no event carries is not counted.
#[must_use]
pub fn reachable(policy: &Policy, target: &Target, verb: &str) -> Vec<(Level, Option<usize>)> {
    let long_running = verb == "watch" || target.connect();
    let mut out = Vec::new();
    let mut earlier: Vec<Condition<'_>> = Vec::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        let Some(condition) = condition(rule, target, verb) else { continue };
        // An unreachable rule still counts among the earlier ones: what it matches, earlier rules take.
        if !covered(&earlier, &condition) {
            out.push((stages::written(rule.level, &policy.omitted(rule), verb, long_running), Some(i)));
            if condition.is_all() {
                return out;
            }
        }
        earlier.push(condition);
    }
    out.push((Level::None, None));
    out
}

/// checker.go `ruleMatches` and `ruleMatchesResource` for a resource request, with the request's user,
/// groups, namespace and name left open: `None` when the rule matches no such request.
fn condition<'r>(rule: &'r PolicyRule, t: &Target, verb: &str) -> Option<Condition<'r>> {
    if !rule.verbs.is_empty() && !rule.verbs.iter().any(|v| v == verb) {
        return None;
    }
    let mut c = Condition {
        users: some_of(&rule.users),
        user_groups: some_of(&rule.user_groups),
        namespaces: None,
        names: None,
    };
    if rule.namespaces.is_empty() && rule.resources.is_empty() {
        // A rule with only nonResourceURLs never matches a resource request.
        return rule.non_resource_urls.is_empty().then_some(c);
    }
    if !rule.namespaces.is_empty() {
        if t.namespaced {
            // "" is also a namespaced resource's namespace, in a request across all namespaces.
            c.namespaces = some_of(&rule.namespaces);
        } else if !rule.namespaces.iter().any(String::is_empty) {
            // Cluster-scoped resources have the namespace "" only.
            return None;
        }
    }
    if rule.resources.is_empty() {
        return Some(c);
    }
    let combined =
        if t.subresource.is_empty() { t.resource.to_owned() } else { format!("{}/{}", t.resource, t.subresource) };
    // A create or deletecollection of the resource itself has no name in its URL (requestinfo.go), so its
    // name is "". Other verbs name an object, or may (a list or watch by `metadata.name` field selector).
    let nameless = t.subresource.is_empty() && matches!(verb, "create" | "deletecollection");
    let mut names: Vec<&str> = Vec::new();
    let mut matched = false;
    for gr in rule.resources.iter().filter(|gr| gr.group == t.group || gr.group == "*") {
        if gr.resources.is_empty() {
            return Some(c);
        }
        let hit = gr.resources.iter().any(|res| {
            res == &combined
                || res == "*"
                || (!t.subresource.is_empty() && res.strip_prefix("*/") == Some(t.subresource))
                // checker.go compares the resource alone here: "pods/*" matches "pods" too.
                || res.strip_suffix("/*") == Some(t.resource)
        });
        if hit {
            if gr.resource_names.is_empty() {
                return Some(c);
            }
            if nameless {
                // The request's name is "": only a listed "" matches it.
                if gr.resource_names.iter().any(String::is_empty) {
                    return Some(c);
                }
                continue;
            }
            matched = true;
            names.extend(gr.resource_names.iter().map(String::as_str));
        }
    }
    matched.then_some(Condition { names: Some(names), ..c })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRETS: Target = Target { group: "", resource: "secrets", subresource: "", namespaced: true };
    const EXEC: Target = Target { group: "", resource: "pods", subresource: "exec", namespaced: true };

    fn policy(rules: &str) -> Policy {
        let p =
            Policy::parse(Path::new("p.yaml"), &format!("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n{rules}"))
                .unwrap();
        assert_eq!(p.refusals, [], "{rules}");
        p
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
    fn group_star_matches_every_group() {
        let p = policy("- level: RequestResponse\n  resources: [{group: \"*\", resources: [secrets]}]\n");
        assert_eq!(reachable(&p, &SECRETS, "get"), [(Level::RequestResponse, Some(0))]);
        let p = policy("- level: RequestResponse\n  resources: [{group: \"*\"}]\n");
        assert_eq!(reachable(&p, &EXEC, "create"), [(Level::RequestResponse, Some(0))]);
        let p = policy("- level: RequestResponse\n  resources: [{group: apps}]\n");
        assert_eq!(reachable(&p, &SECRETS, "get"), [(Level::None, None)]);
    }

    #[test]
    fn a_rule_an_earlier_rule_covers_is_unreachable() {
        // Same names, same users: the None rule takes every request the RequestResponse rule could match.
        let p = policy(
            "- level: None\n  users: [a, b]\n  resources: [{group: \"\", resources: [secrets], resourceNames: [s1, s2]}]\n- level: RequestResponse\n  users: [a]\n  resources: [{group: \"\", resources: [secrets], resourceNames: [s1]}]\n",
        );
        assert_eq!(reachable(&p, &SECRETS, "get"), [(Level::None, Some(0)), (Level::None, None)]);
        let p = policy(
            "- level: None\n  namespaces: [kube-system]\n- level: RequestResponse\n  namespaces: [kube-system]\n  userGroups: [g]\n- level: Request\n  namespaces: [default]\n",
        );
        assert_eq!(
            reachable(&p, &SECRETS, "create"),
            [(Level::None, Some(0)), (Level::Request, Some(2)), (Level::None, None)]
        );
        // Not covered: the later rule also matches user c.
        let p = policy("- level: None\n  users: [a]\n- level: RequestResponse\n  users: [a, c]\n");
        assert_eq!(reachable(&p, &SECRETS, "get").len(), 3);
        // Covered by two rules together, one user each.
        let p = policy(
            "- level: None\n  users: [a]\n- level: None\n  users: [c]\n  namespaces: [x]\n- level: None\n  users: [c]\n- level: RequestResponse\n  users: [a, c]\n",
        );
        assert_eq!(
            reachable(&p, &SECRETS, "get"),
            [(Level::None, Some(0)), (Level::None, Some(1)), (Level::None, Some(2)), (Level::None, None)]
        );
    }

    #[test]
    fn resource_names_never_match_a_create() {
        let p = policy(
            "- level: RequestResponse\n  resources: [{group: \"\", resources: [secrets], resourceNames: [s1]}]\n",
        );
        assert_eq!(reachable(&p, &SECRETS, "create"), [(Level::None, None)]);
        assert_eq!(reachable(&p, &SECRETS, "update"), [(Level::RequestResponse, Some(0)), (Level::None, None)]);
        assert_eq!(reachable(&p, &SECRETS, "list").len(), 2, "a list may name one object by field selector");
    }

    #[test]
    fn levels_are_what_the_written_stages_carry() {
        let p = Policy::parse(
            Path::new("p.yaml"),
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [ResponseComplete]\nrules:\n- level: RequestResponse\n",
        )
        .unwrap();
        assert_eq!(reachable(&p, &SECRETS, "get"), [(Level::Metadata, Some(0))]);
        let p = policy("- level: RequestResponse\n  verbs: [watch]\n");
        assert_eq!(reachable(&p, &SECRETS, "watch"), [(Level::Metadata, Some(0))]);
        let p = policy("- level: Request\n  omitStages: [RequestReceived, ResponseStarted, ResponseComplete]\n");
        assert_eq!(reachable(&p, &EXEC, "create"), [(Level::None, Some(0))]);
    }

    #[test]
    fn bad_input_names_file_and_line() {
        let err = Policy::parse(Path::new("/x/p.yaml"), "rules: [\n  - level: : :\n").unwrap_err();
        assert!(err.to_string().starts_with("/x/p.yaml:"), "{err}");
        let err = Policy::parse(Path::new("p.yaml"), "apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert!(err.to_string().contains("not an audit Policy"), "{err}");
        // The API server refuses it: a refusal at its line, not an input error, and nothing to evaluate.
        let p =
            Policy::parse(Path::new("p.yaml"), "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n")
                .unwrap();
        assert_eq!(p.refusals.len(), 1);
        assert_eq!(p.refusals[0].line, 4);
        assert!(p.rules.is_empty());
        let p = Policy::parse(
            Path::new("p.yaml"),
            "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n",
        )
        .unwrap();
        assert_eq!(p.refusals.len(), 1, "{p:?}");
        assert!(Policy::parse(Path::new("p.yaml"), "").is_err());
        assert!(Policy::parse(Path::new("p.yaml"), "just text").is_err());
    }
}
