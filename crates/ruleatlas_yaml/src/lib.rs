//! YAML rule files as a tree with a position on every node.
//!
//! Sigma, Splunk, Sentinel and Panther rules are YAML. Their readers need more than values:
//! a predicate must point at the line and column of the value it came from, and a query held
//! in a YAML string (`search: '...'`, `query: |`) must map offsets inside the *decoded* string
//! back to the file. [`parse`] turns the events of `serde-saphyr`'s YAML parser into [`Node`]s
//! that carry their position (see `build.rs` for how values resolve); [`scalar_offset_map`]
//! re-reads a scalar's source to build that offset map.

mod build;
mod scalar;

pub use build::{MAX_ALIASES, MAX_DEPTH, MAX_DOCUMENTS, MAX_NODES};

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_text::{LineColumn, TextRange};

pub use scalar::scalar_offset_map;

/// A YAML node and where it starts in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// 1-based line and column of the node's first character.
    pub pos: LineColumn,
    /// Byte offset of the node's first character, when known.
    pub offset: Option<usize>,
}

/// A YAML value. Mappings keep their order and their keys' positions.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value under `key` of a mapping.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value under `key`, ignoring ASCII case (untidy Sentinel files).
    #[must_use]
    pub fn get_ci(&self, key: &str) -> Option<&Node> {
        self.get(key).or_else(|| match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str().is_some_and(|s| s.eq_ignore_ascii_case(key)))
                .map(|(_, v)| v),
            _ => None,
        })
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Any scalar as text (`4624`, `true`, `x`); `None` for null and collections.
    #[must_use]
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A string or a list of strings, as a list (`tags`, `falsepositives`...).
    #[must_use]
    pub fn string_list(&self) -> Vec<String> {
        match &self.value {
            Value::Seq(items) => items.iter().filter_map(Node::scalar_text).collect(),
            Value::Null => Vec::new(),
            _ => self.scalar_text().into_iter().collect(),
        }
    }

    /// Converts to JSON (for test events and metadata kept as-is).
    #[must_use]
    pub fn to_json(&self) -> serde_json_lite::Json {
        serde_json_lite::from_node(self)
    }
}

/// A minimal JSON conversion without depending on serde_json here.
pub mod serde_json_lite {
    use super::{Node, Value};

    /// JSON as a tree of `serde`-serializable values.
    #[derive(Debug, Clone, PartialEq, serde::Serialize)]
    #[serde(untagged)]
    pub enum Json {
        Null,
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
        Arr(Vec<Json>),
        Obj(Vec<(String, Json)>),
    }

    pub(crate) fn from_node(n: &Node) -> Json {
        match &n.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::Int(*i),
            Value::Float(f) => Json::Float(*f),
            Value::Str(s) => Json::Str(s.clone()),
            Value::Seq(items) => Json::Arr(items.iter().map(from_node).collect()),
            Value::Map(entries) => Json::Obj(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), from_node(v)))
                    .collect(),
            ),
        }
    }
}

fn error_diagnostic(e: &build::BuildError, text: &str) -> Diagnostic {
    let mut d = Diagnostic::error("yaml", e.message.clone());
    d.line = Some(e.pos.line);
    d.column = Some(e.pos.column);
    if let Some(off) = e.offset {
        d.range = Some(TextRange::new(off.min(text.len()), off.min(text.len())));
    }
    d
}

/// Parses one YAML document. An empty text is a null node.
///
/// # Errors
/// A diagnostic with the line and column of the first error (code `yaml`), also when the
/// text holds more than one document.
pub fn parse(text: &str) -> Result<Node, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut docs = build::documents(text, false).map_err(|e| error_diagnostic(&e, text))?;
    if docs.len() > 1 {
        let second = &docs[1];
        let mut d = Diagnostic::error(
            "yaml",
            "more than one YAML document where one is expected".to_string(),
        );
        d.line = Some(second.pos.line);
        d.column = Some(second.pos.column);
        return Err(d);
    }
    Ok(docs.pop().unwrap_or(Node {
        value: Value::Null,
        pos: LineColumn { line: 1, column: 1 },
        offset: Some(0),
    }))
}

/// Parses every document of a multi-document stream (`---` separated); empty and null
/// documents are left out.
///
/// # Errors
/// A diagnostic with the line and column of the first error (code `yaml`).
pub fn parse_multi(text: &str) -> Result<Vec<Node>, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    build::documents(text, true).map_err(|e| error_diagnostic(&e, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_on_keys_and_values() {
        let y =
            "title: x\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n    EventID: 4624\n";
        let n = parse(y).expect("valid yaml");
        let sel = n.get("detection").and_then(|d| d.get("sel")).expect("sel");
        let entries = sel.as_map().expect("map");
        assert_eq!(entries[0].0.as_str(), Some("Image|endswith"));
        assert_eq!(entries[0].0.pos, LineColumn { line: 4, column: 5 });
        assert_eq!(entries[0].1.as_str(), Some("\\cmd.exe"));
        assert_eq!(
            entries[0].1.pos,
            LineColumn {
                line: 4,
                column: 21
            }
        );
        assert_eq!(entries[1].1.value, Value::Int(4624));
    }

    #[test]
    fn broken_yaml_has_a_location() {
        let err = parse("a: b\n  c: d: e\n").expect_err("invalid");
        assert_eq!(err.code, "yaml");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn multi_documents() {
        let docs = parse_multi("a: 1\n---\nb: 2\n").expect("valid");
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[1].get("b").map(|n| n.value.clone()),
            Some(Value::Int(2))
        );
    }

    #[test]
    fn non_finite_floats_are_text() {
        let n = parse("a: .inf\nb: .nan\n").expect("valid yaml");
        assert_eq!(n.get("a").and_then(Node::as_str), Some(".inf"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(200_000);
        assert!(parse(&deep).is_err());
    }
}
