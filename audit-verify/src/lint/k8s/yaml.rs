//! The little of YAML the Kubernetes checks need, on saphyr's `MarkedYaml` so every node keeps its line.
//!
//! Why saphyr: `serde_yaml` is deprecated and unmaintained, `serde_yml` is a deprecated shim, and
//! `serde_norway`'s errors carry lines but its values do not. saphyr (the maintained successor of
//! yaml-rust/yaml-rust2, pure Rust, YAML 1.2) gives a line for every node, which findings cite.

use std::{fs, path::Path};

use saphyr::{LoadableYamlNode as _, MarkedYaml, Scalar, YamlData};

use super::K8sError;

pub type Node<'a> = MarkedYaml<'a>;

/// Reads and parses the first document of `path`.
///
/// # Errors
///
/// When `path` cannot be read or is not UTF-8.
pub fn load_text(path: &Path) -> Result<String, K8sError> {
    let bytes = fs::read(path).map_err(|source| K8sError::Read { path: path.to_owned(), source })?;
    String::from_utf8(bytes).map_err(|e| K8sError::at(path, None, format!("not UTF-8 text: {e}")))
}

/// # Errors
///
/// When `text` is not YAML or holds no document.
pub fn first_document<'a>(path: &Path, text: &'a str) -> Result<Node<'a>, K8sError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        K8sError::at(path, Some(e.marker().line()), format!("not YAML: {} (column {})", e.info(), e.marker().col() + 1))
    })?;
    docs.into_iter().next().ok_or_else(|| K8sError::at(path, None, "empty file: no YAML document"))
}

#[must_use]
pub fn line(node: &Node<'_>) -> usize {
    node.span.start.line()
}

/// `node[key]` for a mapping node.
#[must_use]
pub fn get<'n, 'a>(node: &'n Node<'a>, key: &str) -> Option<&'n Node<'a>> {
    match &node.data {
        YamlData::Mapping(map) => map.iter().find(|(k, _)| scalar(k).as_deref() == Some(key)).map(|(_, v)| v),
        _ => None,
    }
}

#[must_use]
pub fn is_mapping(node: &Node<'_>) -> bool {
    matches!(node.data, YamlData::Mapping(_))
}

#[must_use]
pub fn is_null(node: &Node<'_>) -> bool {
    matches!(node.data, YamlData::Value(Scalar::Null))
}

/// A scalar as text (`1` and `true` too: Kubernetes fields are strings, YAML may type them).
#[must_use]
pub fn scalar(node: &Node<'_>) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) | YamlData::Representation(s, _, _) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        _ => None,
    }
}

#[must_use]
pub fn items<'n, 'a>(node: &'n Node<'a>) -> Option<&'n [Node<'a>]> {
    match &node.data {
        YamlData::Sequence(seq) => Some(seq),
        _ => None,
    }
}

/// `node[key]` as a list of strings; absent or null is empty, anything else is an error at its line.
///
/// # Errors
///
/// When `node[key]` is not a list, or an item is not a scalar.
pub fn strings(path: &Path, node: &Node<'_>, key: &str) -> Result<Vec<String>, K8sError> {
    let Some(value) = get(node, key).filter(|v| !is_null(v)) else { return Ok(Vec::new()) };
    let seq = items(value).ok_or_else(|| K8sError::at(path, Some(line(value)), format!("`{key}` must be a list")))?;
    seq.iter()
        .map(|item| {
            scalar(item).ok_or_else(|| K8sError::at(path, Some(line(item)), format!("`{key}` items must be strings")))
        })
        .collect()
}
