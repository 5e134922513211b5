//! YAML rule files as a tree with a position on every node.
//!
//! Sigma, Splunk, Sentinel and Panther rules are YAML. Their readers need more than values:
//! a predicate must point at the line and column of the value it came from, and a query held
//! in a YAML string (`search: '...'`, `query: |`) must map offsets inside the *decoded* string
//! back to the file. [`parse`] reads with `serde-saphyr` into [`Node`]s that carry their
//! position; [`scalar_offset_map`] re-reads a scalar's source to build that offset map.

mod scalar;

use std::fmt;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_text::{LineColumn, TextRange};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

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

fn position(s: &Spanned<Value>) -> (LineColumn, Option<usize>) {
    let loc = &s.referenced;
    let line = u32::try_from(loc.line()).unwrap_or(u32::MAX).max(1);
    let column = u32::try_from(loc.column()).unwrap_or(u32::MAX).max(1);
    let offset = loc
        .span()
        .byte_offset()
        .and_then(|o| usize::try_from(o).ok());
    (LineColumn { line, column }, offset)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        let (pos, offset) = position(&spanned);
        Ok(Node {
            value: spanned.value,
            pos,
            offset,
        })
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Node>()? {
            let v = map.next_value::<Node>()?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    o.leading_zero_numbers_as_strings = true;
    // `.inf` / `.nan` in a rule are text, not a reason to reject the whole file.
    o.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    o
}

fn error_diagnostic(e: &serde_saphyr::Error, text: &str) -> Diagnostic {
    let mut msg = e.to_string();
    // serde-saphyr renders a snippet; keep the first line only for storage.
    if let Some(first) = msg.lines().find(|l| !l.trim().is_empty()) {
        msg = first.trim().to_string();
    }
    let mut d = Diagnostic::error("yaml", msg);
    if let Some(loc) = e.location() {
        d.line = Some(u32::try_from(loc.line()).unwrap_or(0).max(1));
        d.column = Some(u32::try_from(loc.column()).unwrap_or(0).max(1));
        if let Some(off) = loc
            .span()
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok())
        {
            d.range = Some(TextRange::new(off.min(text.len()), off.min(text.len())));
        }
    }
    d
}

/// Parses one YAML document.
///
/// # Errors
/// A diagnostic with the line and column of the first error (code `yaml`).
pub fn parse(text: &str) -> Result<Node, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_saphyr::from_str_with_options::<Node>(text, options())
        .map_err(|e| error_diagnostic(&e, text))
}

/// Parses every document of a multi-document stream (`---` separated).
///
/// # Errors
/// A diagnostic with the line and column of the first error (code `yaml`).
pub fn parse_multi(text: &str) -> Result<Vec<Node>, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_saphyr::from_multiple_with_options::<Node>(text, options())
        .map_err(|e| error_diagnostic(&e, text))
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
