//! Whether kube-apiserver loads an audit Policy at all. It reads the file once at start-up
//! (k8s.io/apiserver/pkg/audit/policy/reader.go `LoadPolicyFromBytes`) and exits when any of these fail:
//!
//! 1. Decoding. The YAML becomes JSON (sigs.k8s.io/yaml `YAMLToJSON`, go-yaml v2, so YAML 1.1 scalars)
//!    and is decoded into `audit.Policy`, case-sensitively. Unknown fields are tolerated (strict decoding
//!    falls back to lenient with a warning); a value of the wrong JSON type is not: a number or a boolean
//!    where a string goes (`users: [1001]`, `namespaces: [no]`), a scalar where a list goes.
//! 2. The group-version. Since 1.24 `apiGroupVersions` holds `audit.k8s.io/v1` only: the `v1beta1` and
//!    `v1alpha1` that public examples still ship are "unknown group version field".
//! 3. `ValidatePolicy` (k8s.io/apiserver/pkg/apis/audit/validation/validation.go): the policy's and each
//!    rule's `omitStages` are stages, `level` is required and one of the four, a non-resource URL begins
//!    with `/` and has `*` only last, a rule does not name both non-resource URLs and resources or
//!    namespaces, a group is a DNS subdomain (so not `rbac.authorization.k8s.io/v1`) or, since 1.36
//!    (kubernetes/kubernetes#135262), `*`, and `resourceNames` come with `resources`.
//! 4. At least one rule ("loaded illegal policy with 0 rules"): reported as `k8s_policy_empty` by the
//!    policy check, and only when nothing above failed, as reader.go orders it.
//!
//! The messages follow Go's field paths (`rules[3].level`), each at the line of the offending node.
//!
//! Unknown fields do not stop the API server, but it ignores them: a misspelt `resource:` leaves its
//! group entry with no resources, which matches the whole group. Those are kept as [`Checked::ignored`].

use saphyr::{Scalar, YamlData};
use serde::Serialize;

use super::{
    policy::Policy,
    yaml::{self, Node},
};
use crate::{
    finding::{Finding, Severity},
    lint::Sink,
};

/// The only group-version kube-apiserver (1.24+) reads a Policy in.
pub const API_VERSION: &str = "audit.k8s.io/v1";

const LEVELS: &[&str] = &["None", "Metadata", "Request", "RequestResponse"];
/// validation.go `validOmitStages`.
pub const STAGES: &[&str] = &["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"];

/// Fields a Policy, a rule and a group entry decode (audit/v1 types.go); others are ignored.
const POLICY_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"];
const RULE_FIELDS: &[&str] = &[
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
];
const GROUP_FIELDS: &[&str] = &["group", "resources", "resourceNames"];

/// What the API server says about a place in the policy: a reason to refuse it, or a field it ignores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    pub line: usize,
    pub message: String,
}

/// What kube-apiserver makes of a Policy document.
#[derive(Debug, Default)]
pub struct Checked {
    /// Why it refuses to load it: it does not start.
    pub refusals: Vec<Located>,
    /// Fields it ignores (strict decoding fails, lenient decoding drops them, with a warning).
    pub ignored: Vec<Located>,
}

/// Checks a Policy document as kube-apiserver loads it (`text` is its source, for quoting).
#[must_use]
pub fn check(text: &str, doc: &Node<'_>) -> Checked {
    let mut v = Validator { text, out: Checked::default() };
    v.document(doc);
    v.out
}

/// Footgun 6 for what the API server refuses (one high per reason, at its line) or ignores (a medium per
/// field). Returns whether it refuses the policy, which is then not evaluated: no API server runs with it.
pub fn report(policy: &Policy, sink: &mut Sink) -> bool {
    for r in policy.ignored.iter().filter(|_| policy.refusals.is_empty()) {
        sink.add(
            6,
            Finding::new(
                "k8s_policy_field_ignored",
                Severity::Medium,
                format!("kube-apiserver ignores this field: {}", r.message),
            )
            .at(format!("{}:{}", policy.path.display(), r.line))
            .why("the rule is evaluated without it: a misspelt `resources` makes its entry match the whole group")
            .fix("spell the field as audit.k8s.io/v1 does, or remove it"),
        );
    }
    for r in &policy.refusals {
        sink.add(
            6,
            Finding::new(
                "k8s_policy_refused",
                Severity::High,
                format!("kube-apiserver refuses this policy and will not start: {}", r.message),
            )
            .at(format!("{}:{}", policy.path.display(), r.line))
            .why("the API server reads the policy at start-up and exits on an invalid one: no audit log, no API")
            .fix("fix the field named, keeping apiVersion audit.k8s.io/v1 (check with a test kube-apiserver)"),
        );
    }
    !policy.refusals.is_empty()
}

struct Validator<'t> {
    text: &'t str,
    out: Checked,
}

/// What a YAML node becomes in JSON, as Go's decoder names it in its type errors.
fn json_type(node: &Node<'_>) -> &'static str {
    match &node.data {
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "string",
        YamlData::Value(Scalar::Integer(_) | Scalar::FloatingPoint(_)) => "number",
        YamlData::Value(Scalar::Boolean(_)) => "bool",
        YamlData::Value(Scalar::Null) => "null",
        YamlData::Sequence(_) => "array",
        YamlData::Mapping(_) => "object",
        _ => "value",
    }
}

/// go-yaml v2 resolves these plain scalars to booleans (YAML 1.1); saphyr (YAML 1.2) keeps them strings.
const YAML11_BOOLS: &[&str] =
    &["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"];

impl Validator<'_> {
    fn refuse(&mut self, node: &Node<'_>, message: String) {
        self.out.refusals.push(Located { line: yaml::line(node), message });
    }

    /// Records the keys of `node` that are not among `known`.
    fn unknown_fields(&mut self, node: &Node<'_>, known: &[&str], path: &str) {
        let YamlData::Mapping(map) = &node.data else { return };
        for (key, _) in map {
            let name = yaml::scalar(key).unwrap_or_default();
            if !known.contains(&name.as_str()) {
                let at = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                self.out.ignored.push(Located {
                    line: yaml::line(key),
                    message: format!("unknown field \"{at}\" (known: {})", known.join(", ")),
                });
            }
        }
    }

    /// The type kube-apiserver's decoder sees for `node`, YAML 1.1 booleans included.
    fn go_type(&self, node: &Node<'_>) -> &'static str {
        if let YamlData::Value(Scalar::String(s)) = &node.data
            && YAML11_BOOLS.contains(&s.as_ref())
            && !self.quoted(node)
        {
            return "bool";
        }
        json_type(node)
    }

    fn quoted(&self, node: &Node<'_>) -> bool {
        self.text.chars().nth(node.span.start.index()).is_some_and(|c| c == '"' || c == '\'')
    }

    fn decode_error(&mut self, node: &Node<'_>, field: &str, want: &str) {
        let got = self.go_type(node);
        self.refuse(node, format!("{field}: cannot decode {got} into {want} (the policy does not decode)"));
    }

    fn boolean(&mut self, parent: &Node<'_>, key: &str, field: &str) {
        if let Some(node) = yaml::get(parent, key).filter(|n| !yaml::is_null(n))
            && self.go_type(node) != "bool"
        {
            self.decode_error(node, field, "bool");
        }
    }

    /// A string field: Some(value) when it decodes, None when absent or null.
    fn string(&mut self, parent: &Node<'_>, key: &str, field: &str) -> Option<String> {
        let node = yaml::get(parent, key).filter(|n| !yaml::is_null(n))?;
        if self.go_type(node) != "string" {
            self.decode_error(node, field, "string");
            return None;
        }
        yaml::scalar(node)
    }

    /// A `[]string` field, each item with its node; absent or null is empty.
    fn strings<'n, 'a>(&mut self, parent: &'n Node<'a>, key: &str, field: &str) -> Vec<(String, &'n Node<'a>)> {
        let Some(node) = yaml::get(parent, key).filter(|n| !yaml::is_null(n)) else { return Vec::new() };
        let Some(items) = yaml::items(node) else {
            self.decode_error(node, field, "[]string");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if self.go_type(item) == "string" {
                out.push((yaml::scalar(item).unwrap_or_default(), item));
            } else {
                self.decode_error(item, &format!("{field}[{i}]"), "string");
            }
        }
        out
    }

    fn document(&mut self, doc: &Node<'_>) {
        let api = yaml::get(doc, "apiVersion").and_then(yaml::scalar);
        let kind = yaml::get(doc, "kind").and_then(yaml::scalar);
        if api.as_deref() != Some(API_VERSION) || kind.as_deref() != Some("Policy") {
            let at = yaml::get(doc, "apiVersion").unwrap_or(doc);
            self.refuse(
                at,
                format!(
                    "unknown group version field {}, Kind={} in policy: kube-apiserver (1.24 and later) reads only {API_VERSION} Policy",
                    api.as_deref().unwrap_or("(none)"),
                    kind.as_deref().unwrap_or("(none)"),
                ),
            );
        }
        self.unknown_fields(doc, POLICY_FIELDS, "");
        self.boolean(doc, "omitManagedFields", "omitManagedFields");
        let stages = self.strings(doc, "omitStages", "omitStages");
        self.omit_stages(&stages, "omitStages");
        let Some(rules) = yaml::get(doc, "rules").filter(|n| !yaml::is_null(n)) else { return };
        let Some(rules) = yaml::items(rules) else { return self.decode_error(rules, "rules", "[]PolicyRule") };
        for (i, rule) in rules.iter().enumerate() {
            self.rule(rule, &format!("rules[{i}]"));
        }
    }

    /// validation.go `validatePolicyRule`, after the rule's fields decode.
    fn rule(&mut self, rule: &Node<'_>, path: &str) {
        if !yaml::is_mapping(rule) {
            return self.decode_error(rule, path, "PolicyRule");
        }
        self.unknown_fields(rule, RULE_FIELDS, path);
        self.boolean(rule, "omitManagedFields", &format!("{path}.omitManagedFields"));
        match self.string(rule, "level", &format!("{path}.level")) {
            Some(level) if LEVELS.contains(&level.as_str()) => {}
            Some(level) if !level.is_empty() => {
                let at = yaml::get(rule, "level").unwrap_or(rule);
                self.refuse(
                    at,
                    format!(
                        "{path}.level: Unsupported value: \"{level}\": supported values: {}",
                        LEVELS.iter().map(|l| format!("\"{l}\"")).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            // Absent, null or "" (a wrong type was refused above, and Go stops at that).
            _ if yaml::get(rule, "level")
                .is_none_or(|n| yaml::is_null(n) || yaml::scalar(n).as_deref() == Some("")) =>
            {
                self.refuse(rule, format!("{path}.level: Required value"));
            }
            _ => {}
        }
        for key in ["users", "userGroups", "verbs"] {
            self.strings(rule, key, &format!("{path}.{key}"));
        }
        let namespaces = self.strings(rule, "namespaces", &format!("{path}.namespaces"));
        let urls = self.strings(rule, "nonResourceURLs", &format!("{path}.nonResourceURLs"));
        for (i, (url, node)) in urls.iter().enumerate() {
            if url == "*" {
                continue;
            }
            if !url.starts_with('/') {
                self.refuse(
                    node,
                    format!("{path}.nonResourceURLs[{i}]: Invalid value: \"{url}\": non-resource URL rules must begin with a '/' character"),
                );
            }
            if url.char_indices().any(|(at, c)| c == '*' && at + 1 < url.len()) {
                self.refuse(
                    node,
                    format!("{path}.nonResourceURLs[{i}]: Invalid value: \"{url}\": non-resource URL wildcards '*' must be the final character of the rule"),
                );
            }
        }
        let resources = self.resources(rule, path);
        let stages = self.strings(rule, "omitStages", &format!("{path}.omitStages"));
        self.omit_stages(&stages, &format!("{path}.omitStages"));
        if !urls.is_empty() && (resources > 0 || !namespaces.is_empty()) {
            let at = yaml::get(rule, "nonResourceURLs").unwrap_or(rule);
            self.refuse(
                at,
                format!("{path}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs"),
            );
        }
    }

    /// validation.go `validateResources`; the number of group entries that decode.
    fn resources(&mut self, rule: &Node<'_>, path: &str) -> usize {
        let field = format!("{path}.resources");
        let Some(node) = yaml::get(rule, "resources").filter(|n| !yaml::is_null(n)) else { return 0 };
        let Some(items) = yaml::items(node) else {
            self.decode_error(node, &field, "[]GroupResources");
            return 0;
        };
        let mut count = 0;
        for (i, gr) in items.iter().enumerate() {
            if !yaml::is_mapping(gr) {
                self.decode_error(gr, &format!("{field}[{i}]"), "GroupResources");
                continue;
            }
            count += 1;
            self.unknown_fields(gr, GROUP_FIELDS, &format!("{field}[{i}]"));
            // Go's paths for these two are `resources.group` and `resources.resourceNames`, unindexed.
            if let Some(group) = self.string(gr, "group", &format!("{field}[{i}].group"))
                && !group.is_empty()
                && group != "*"
                && let Err(why) = dns_subdomain(&group)
            {
                let at = yaml::get(gr, "group").unwrap_or(gr);
                self.refuse(at, format!("{field}.group: Invalid value: \"{group}\": {why}"));
            }
            let resources = self.strings(gr, "resources", &format!("{field}[{i}].resources"));
            let names = self.strings(gr, "resourceNames", &format!("{field}[{i}].resourceNames"));
            if !names.is_empty() && resources.is_empty() {
                self.refuse(
                    names[0].1,
                    format!("{field}.resourceNames: Invalid value: using resourceNames requires at least one resource"),
                );
            }
        }
        count
    }

    fn omit_stages(&mut self, stages: &[(String, &Node<'_>)], field: &str) {
        for (i, (stage, node)) in stages.iter().enumerate() {
            if !STAGES.contains(&stage.as_str()) {
                self.refuse(
                    node,
                    format!("{field}[{i}]: Invalid value: \"{stage}\": allowed stages are {}", STAGES.join(",")),
                );
            }
        }
    }
}

/// apimachinery `IsDNS1123Subdomain` (what `NameIsDNSSubdomain` checks): at most 253 characters of
/// lower-case alphanumerics, '-' and '.', each dot-separated label starting and ending alphanumeric.
fn dns_subdomain(name: &str) -> Result<(), &'static str> {
    const WHY: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    if name.len() > 253 {
        return Err("must be no more than 253 characters");
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let label_ok = |l: &str| {
        !l.is_empty() && l.starts_with(alnum) && l.ends_with(alnum) && l.chars().all(|c| alnum(c) || c == '-')
    };
    if name.split('.').all(label_ok) { Ok(()) } else { Err(WHY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Vec<(usize, String)> {
        let doc = yaml::first_document(std::path::Path::new("p.yaml"), text).unwrap();
        check(text, &doc).refusals.into_iter().map(|r| (r.line, r.message)).collect()
    }

    fn one(rules: &str) -> Vec<(usize, String)> {
        refused(&format!("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n{rules}"))
    }

    #[test]
    fn a_valid_policy_is_loaded() {
        assert_eq!(one("- level: Metadata\n  resources: [{group: \"*\", resources: [secrets]}]\n"), []);
        assert_eq!(one("- level: None\n  nonResourceURLs: [\"/healthz*\", \"*\"]\n  users: [\"1001\"]\n"), []);
        assert_eq!(one("- level: Request\n  resources: [{group: apps}, {resources: [pods/*]}]\n"), []);
    }

    #[test]
    fn only_v1_is_read() {
        let r = refused("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n");
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].0, 1);
        assert!(r[0].1.starts_with("unknown group version field audit.k8s.io/v1beta1, Kind=Policy"), "{r:?}");
    }

    #[test]
    fn validation_errors_as_validate_policy_reports_them() {
        let cases: &[(&str, usize, &str)] = &[
            ("- level: Loud\n", 4, "rules[0].level: Unsupported value: \"Loud\""),
            ("- verbs: [get]\n", 4, "rules[0].level: Required value"),
            ("- level: \"\"\n", 4, "rules[0].level: Required value"),
            ("- level: None\n  omitStages: [ResponseCompleted]\n", 5, "rules[0].omitStages[0]: Invalid value"),
            ("- level: None\n  nonResourceURLs: [healthz]\n", 5, "must begin with a '/'"),
            ("- level: None\n  nonResourceURLs: [\"/a*b\"]\n", 5, "must be the final character"),
            (
                "- level: None\n  nonResourceURLs: [/x]\n  resources: [{group: \"\"}]\n",
                5,
                "cannot apply to both regular resources and non-resource URLs",
            ),
            ("- level: None\n  nonResourceURLs: [/x]\n  namespaces: [a]\n", 5, "cannot apply to both"),
            (
                "- level: None\n  resources:\n  - group: rbac.authorization.k8s.io/v1\n",
                6,
                "rules[0].resources.group: Invalid value: \"rbac.authorization.k8s.io/v1\"",
            ),
            ("- level: None\n  resources: [{group: \"\", resourceNames: [x]}]\n", 5, "requires at least one resource"),
            ("- level: None\n  users: [1001]\n", 5, "rules[0].users[0]: cannot decode number into string"),
            ("- level: None\n  namespaces: [no]\n", 5, "rules[0].namespaces[0]: cannot decode bool into string"),
            ("- level: None\n  verbs: get\n", 5, "rules[0].verbs: cannot decode string into []string"),
            ("- level: 1\n", 4, "rules[0].level: cannot decode number into string"),
        ];
        for (rules, line, want) in cases {
            let r = one(rules);
            assert_eq!(r.len(), 1, "{rules}: {r:?}");
            assert_eq!(r[0].0, *line, "{rules}: {r:?}");
            assert!(r[0].1.contains(want), "{rules}: {r:?}");
        }
        let r = refused("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Sent]\nrules: [{level: None}]\n");
        assert_eq!(r, [(3, "omitStages[0]: Invalid value: \"Sent\": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic".to_owned())]);
    }

    #[test]
    fn unknown_fields_are_ignored_not_refused() {
        let text = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  Verbs: [get]\n  resources:\n  - group: apps\n    resource: [deployments]\n";
        let doc = yaml::first_document(std::path::Path::new("p.yaml"), text).unwrap();
        let c = check(text, &doc);
        assert_eq!(c.refusals, []);
        let ignored: Vec<_> = c.ignored.iter().map(|r| (r.line, r.message.split(' ').nth(2).unwrap())).collect();
        assert_eq!(ignored, [(5, "\"rules[0].Verbs\""), (8, "\"rules[0].resources[0].resource\"")]);
    }

    #[test]
    fn quoted_yaml11_words_are_strings() {
        assert_eq!(one("- level: None\n  namespaces: [\"no\", 'on']\n"), []);
    }

    #[test]
    fn group_names_are_dns_subdomains() {
        for ok in ["apps", "rbac.authorization.k8s.io", "a-b.c1"] {
            assert!(dns_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in ["apps/v1", "Apps", "-a", "a.", "a..b", "a_b"] {
            assert!(dns_subdomain(bad).is_err(), "{bad}");
        }
    }
}
