//! Building [`Node`] trees straight from the YAML parser's events.
//!
//! The events come from `granit-parser`, the YAML 1.2 parser under `serde-saphyr` (reached
//! through its re-export, so both stay on one version). Going through serde's `Deserialize`
//! with `Spanned` values costs about three times the parse itself: every node is passed
//! through a synthetic map of locations. Here each event becomes a node directly, with the
//! same answers `serde-saphyr` gives for an untyped value under our options (the test
//! `tests/same_as_serde_saphyr.rs` compares both readers on every YAML file of the corpus):
//!
//! - plain scalars resolve as `serde-saphyr`'s `deserialize_any` does: null (`~`, `null`,
//!   empty), YAML 1.1 booleans (`yes`, `off`...), integers (`0x`, `0o`, `0b`, `_` separators),
//!   floats; quoted and block scalars are strings; numbers with a leading zero (`0127`) and
//!   upper-case radix prefixes stay text, and so do `.inf`/`.nan` (as `.inf`, `-.inf`, `.nan`);
//! - `!!str` and `!` force text, `!!null`/`!!bool`/`!!int`/`!!float` force their type (an
//!   invalid value is an error), other tags are ignored;
//! - a key repeated in one mapping is kept each time, as written (readers such as
//!   [`Node::get`] take the first);
//! - merge keys (`<<: *base`, `<<: [*a, *b]`) add the entries the mapping does not set;
//! - an alias is a copy of its anchor's node, every part of it placed at the alias;
//! - the limits are `serde-saphyr`'s defaults: nesting depth 64, 250,000 nodes (aliases
//!   included, so an alias bomb stops early), 50,000 aliases, 1,024 documents.

use std::collections::{HashMap, HashSet};

use ruleatlas_text::LineColumn;
use serde_saphyr::granit_parser::{
    Event, Marker, Options, Parser, ScalarStyle, ScanError, Span, Tag,
};

use crate::{Node, Value};

/// Deepest nesting of collections accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes one file may produce, counting every node an alias copies.
pub const MAX_NODES: usize = 250_000;
/// Most aliases one file may use.
pub const MAX_ALIASES: usize = 50_000;
/// Most documents one file may hold.
pub const MAX_DOCUMENTS: usize = 1_024;

/// Why a YAML text could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    pub message: String,
    /// 1-based line and column.
    pub pos: LineColumn,
    pub offset: Option<usize>,
}

impl BuildError {
    fn at(marker: &Marker, message: impl Into<String>) -> Self {
        BuildError {
            message: message.into(),
            pos: line_column(marker),
            offset: marker.byte_offset(),
        }
    }
}

fn line_column(m: &Marker) -> LineColumn {
    LineColumn {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX).max(1),
        column: u32::try_from(m.col().saturating_add(1)).unwrap_or(u32::MAX),
    }
}

fn scan_error(e: &ScanError) -> BuildError {
    BuildError::at(e.marker(), e.info())
}

/// What a tag asks of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    /// No tag, or one that does not change the value (a custom `!Ref`).
    None,
    /// `!!str` and the non-specific `!`, and tags whose values we keep as text
    /// (`!!binary`, `!!timestamp`).
    Text,
    Null,
    Bool,
    Int,
    Float,
    Merge,
}

fn tag_kind(tag: Option<&Tag>) -> TagKind {
    let Some(tag) = tag else {
        return TagKind::None;
    };
    match tag.core_suffix() {
        Some("null") => return TagKind::Null,
        Some("bool") => return TagKind::Bool,
        Some("int") => return TagKind::Int,
        Some("float") => return TagKind::Float,
        Some("str") => return TagKind::Text,
        Some(_) => return TagKind::None,
        None => {}
    }
    if let Some(name) = tag.suffix_in_namespace("tag:yaml.org,2002:") {
        return match name.as_ref() {
            "merge" => TagKind::Merge,
            "binary" | "timestamp" => TagKind::Text,
            _ => TagKind::None,
        };
    }
    match tag.suffix_in_namespace("!").as_deref() {
        Some("" | "!") => TagKind::Text,
        Some("!binary" | "!timestamp") => TagKind::Text,
        _ => TagKind::None,
    }
}

/// ASCII padding `serde-saphyr` ignores around a typed scalar.
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

fn yaml11_bool(s: &str) -> Option<bool> {
    let t = trim(s);
    let is = |words: &[&str]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
    if is(&["true", "yes", "y", "on"]) {
        Some(true)
    } else if is(&["false", "no", "n", "off"]) {
        Some(false)
    } else {
        None
    }
}

/// Digits with single `_` separators between them, in `radix`.
fn digits(s: &str, radix: u32) -> Option<u128> {
    let bytes = s.as_bytes();
    let mut value: u128 = 0;
    let mut any = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let prev_ok = i > 0 && bytes[i - 1] != b'_';
            let next_ok = bytes.get(i + 1).is_some_and(|&n| n != b'_');
            if !(prev_ok && next_ok) {
                return None;
            }
            continue;
        }
        let d = char::from(b).to_digit(radix)?;
        value = value
            .checked_mul(u128::from(radix))?
            .checked_add(u128::from(d))?;
        any = true;
    }
    any.then_some(value)
}

/// A YAML 1.2 integer (`-12`, `+7`, `0x1F`, `0o17`, `0b101`, `1_000`), without leading zeros.
fn integer(s: &str) -> Option<i128> {
    let t = trim(s);
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, body) = if let Some(r) = rest.strip_prefix("0x").or(rest.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = rest.strip_prefix("0o").or(rest.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = rest.strip_prefix("0b").or(rest.strip_prefix("0B")) {
        (2, r)
    } else {
        if rest.starts_with('0') && rest != "0" {
            return None;
        }
        (10, rest)
    };
    let magnitude = digits(body, radix)?;
    if negative {
        if magnitude == i128::MAX.unsigned_abs() + 1 {
            Some(i128::MIN)
        } else {
            i128::try_from(magnitude).ok().map(|m| -m)
        }
    } else {
        i128::try_from(magnitude).ok()
    }
}

/// `0127`, `-0127`: kept as text (our option `leading_zero_numbers_as_strings`).
fn leading_zero_decimal(t: &str) -> bool {
    let d = t.strip_prefix(['+', '-']).unwrap_or(t);
    d.len() > 1 && d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit())
}

fn is_signed_nan(t: &str) -> bool {
    t.strip_prefix(['+', '-'])
        .is_some_and(|u| matches!(u, ".nan" | ".NaN" | ".NAN"))
}

/// A YAML 1.2 float, including `.inf`/`.nan` spellings and literals that overflow `f64`.
fn float(s: &str) -> Option<f64> {
    let t = trim(s);
    let (negative, unsigned) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    match unsigned {
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        ".inf" | ".Inf" | ".INF" => {
            return Some(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        _ => {}
    }
    // Rust also reads `inf`, `nan`, `infinity`: YAML keeps those as text.
    let numeral = unsigned.as_bytes().first().is_some_and(u8::is_ascii_digit)
        || (unsigned.starts_with('.')
            && unsigned.as_bytes().get(1).is_some_and(u8::is_ascii_digit));
    if !numeral {
        return None;
    }
    t.parse::<f64>().ok()
}

/// A float as our value: finite numbers as floats, the others as their canonical text.
fn float_value(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else if f.is_nan() {
        Value::Str(".nan".into())
    } else if f.is_sign_negative() {
        Value::Str("-.inf".into())
    } else {
        Value::Str(".inf".into())
    }
}

fn int_value(i: i128) -> Value {
    i64::try_from(i).map_or_else(|_| Value::Str(i.to_string()), Value::Int)
}

/// Resolves one scalar the way `serde-saphyr` resolves an untyped value.
fn scalar_value(
    text: std::borrow::Cow<'_, str>,
    style: ScalarStyle,
    kind: TagKind,
) -> Result<Value, &'static str> {
    let plain = style == ScalarStyle::Plain;
    match kind {
        TagKind::Null => return Ok(Value::Null),
        TagKind::Bool => {
            return yaml11_bool(&text)
                .map(Value::Bool)
                .ok_or("invalid !!bool value");
        }
        TagKind::Int => return integer(&text).map(int_value).ok_or("invalid !!int value"),
        TagKind::Float => {
            let t = trim(&text);
            if is_signed_nan(t) {
                return Ok(Value::Str(".nan".into()));
            }
            return float(&text).map(float_value).ok_or("invalid !!float value");
        }
        TagKind::Text => return Ok(Value::Str(text.into_owned())),
        TagKind::None | TagKind::Merge => {}
    }
    if !plain {
        return Ok(Value::Str(text.into_owned()));
    }
    if matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(b) = yaml11_bool(&text) {
        return Ok(Value::Bool(b));
    }
    let t = trim(&text);
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    let upper_radix = matches!(unsigned.as_bytes(), [b'0', b'X' | b'O' | b'B', ..]);
    if upper_radix || is_signed_nan(t) || leading_zero_decimal(t) {
        return Ok(Value::Str(text.into_owned()));
    }
    if let Some(i) = integer(t) {
        // `serde-saphyr` reads a negative number as i64 and a positive one as u64; what does
        // not fit is tried as a float next.
        let fits = if i < 0 {
            i64::try_from(i).is_ok()
        } else {
            u64::try_from(i).is_ok()
        };
        if fits {
            return Ok(int_value(i));
        }
    }
    if let Some(f) = float(&text) {
        return Ok(float_value(f));
    }
    Ok(Value::Str(text.into_owned()))
}

/// A node being built: a collection still open.
enum Open {
    Seq {
        at: (LineColumn, Option<usize>),
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        at: (LineColumn, Option<usize>),
        anchor: usize,
        entries: Vec<(Node, Node)>,
        /// The key waiting for its value, and whether it is a merge key (`<<`).
        key: Option<(Node, bool)>,
        merges: Vec<Node>,
    },
}

/// The identity of a mapping key for duplicate detection.
fn key_fingerprint(k: &Node) -> String {
    match &k.value {
        Value::Null => "\u{0}null".into(),
        Value::Str(s) => s.clone(),
        Value::Seq(_) | Value::Map(_) => format!("\u{0}{:?}", strip_positions(k)),
        _ => k.scalar_text().unwrap_or_default(),
    }
}

fn strip_positions(n: &Node) -> Value {
    match &n.value {
        Value::Seq(items) => Value::Seq(
            items
                .iter()
                .map(|i| Node {
                    value: strip_positions(i),
                    pos: LineColumn { line: 0, column: 0 },
                    offset: None,
                })
                .collect(),
        ),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let z = |x: &Node| Node {
                        value: strip_positions(x),
                        pos: LineColumn { line: 0, column: 0 },
                        offset: None,
                    };
                    (z(k), z(v))
                })
                .collect(),
        ),
        v => v.clone(),
    }
}

fn finish_map(
    mut entries: Vec<(Node, Node)>,
    merges: Vec<Node>,
    at: &Marker,
) -> Result<Vec<(Node, Node)>, BuildError> {
    if merges.is_empty() {
        return Ok(entries);
    }
    let mut seen: HashSet<String> = entries.iter().map(|(k, _)| key_fingerprint(k)).collect();
    for m in merges {
        let sources: Vec<Node> = match m.value {
            Value::Map(_) => vec![m],
            Value::Seq(items) => items,
            _ => return Err(BuildError::at(at, "a merge key (<<) needs a mapping")),
        };
        for s in sources {
            let Value::Map(es) = s.value else {
                return Err(BuildError::at(at, "a merge key (<<) needs mappings"));
            };
            for e in es {
                if seen.insert(key_fingerprint(&e.0)) {
                    entries.push(e);
                }
            }
        }
    }
    Ok(entries)
}

fn count_nodes(n: &Node) -> usize {
    1 + match &n.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| count_nodes(k) + count_nodes(v))
            .sum(),
        _ => 0,
    }
}

/// Places every part of a copied node at the alias that copied it.
fn relocate(n: &mut Node, pos: LineColumn, offset: Option<usize>) {
    n.pos = pos;
    n.offset = offset;
    match &mut n.value {
        Value::Seq(items) => items.iter_mut().for_each(|i| relocate(i, pos, offset)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            relocate(k, pos, offset);
            relocate(v, pos, offset);
        }),
        _ => {}
    }
}

fn parser_options() -> Options {
    let mut o = Options::default();
    o.simple_key_max_lookahead = 1024;
    o.flow_nesting_limit = 255;
    o.block_nesting_limit = o.block_nesting_limit.max(MAX_DEPTH + 1);
    o.emit_comments = false;
    o
}

/// Reads every document of `text` (empty and null documents are left out when `skip_null`).
pub fn documents(text: &str, skip_null: bool) -> Result<Vec<Node>, BuildError> {
    let mut parser = Parser::new_from_str_with_options(text, parser_options());
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut nodes = 0usize;
    let mut aliases = 0usize;
    let mut documents = 0usize;
    let mut root: Option<Node> = None;
    let mut doc_start: Option<Span> = None;
    let mut last: Option<Span> = None;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| scan_error(&e))?;
        last = Some(span);
        let at = (line_column(&span.start), span.start.byte_offset());
        // A finished node and the anchor it defines (0: none), with whether it is `<<`.
        let done: Option<(Node, usize, bool)> = match event {
            Event::StreamStart | Event::StreamEnd => None,
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > MAX_DOCUMENTS {
                    return Err(BuildError::at(
                        &span.start,
                        format!("more than {MAX_DOCUMENTS} YAML documents"),
                    ));
                }
                anchors.clear();
                root = None;
                doc_start = Some(span);
                None
            }
            Event::DocumentEnd => {
                match root.take() {
                    Some(n) if !(skip_null && n.is_null()) => docs.push(n),
                    Some(_) => {}
                    None if !skip_null => {
                        let s = doc_start.unwrap_or(span);
                        docs.push(Node {
                            value: Value::Null,
                            pos: line_column(&s.start),
                            offset: s.start.byte_offset(),
                        });
                    }
                    None => {}
                }
                None
            }
            Event::Alias(id) => {
                aliases += 1;
                if aliases > MAX_ALIASES {
                    return Err(BuildError::at(
                        &span.start,
                        format!("more than {MAX_ALIASES} YAML aliases"),
                    ));
                }
                let Some((node, size)) = anchors.get(&id) else {
                    return Err(BuildError::at(
                        &span.start,
                        "an alias refers to a node that contains it (recursive alias)",
                    ));
                };
                nodes += size;
                if nodes > MAX_NODES {
                    return Err(BuildError::at(
                        &span.start,
                        format!("more than {MAX_NODES} YAML nodes (aliases included)"),
                    ));
                }
                let mut copy = node.clone();
                relocate(&mut copy, at.0, at.1);
                Some((copy, 0, false))
            }
            Event::Scalar(text, style, anchor, tag) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(BuildError::at(
                        &span.start,
                        format!("more than {MAX_NODES} YAML nodes"),
                    ));
                }
                let kind = tag_kind(tag.as_deref());
                let is_merge = text == "<<"
                    && (kind == TagKind::Merge || (tag.is_none() && style == ScalarStyle::Plain));
                let value =
                    scalar_value(text, style, kind).map_err(|m| BuildError::at(&span.start, m))?;
                Some((
                    Node {
                        value,
                        pos: at.0,
                        offset: at.1,
                    },
                    anchor,
                    is_merge,
                ))
            }
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                nodes += 1;
                if stack.len() >= MAX_DEPTH {
                    return Err(BuildError::at(
                        &span.start,
                        format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq {
                        at,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Open::Map {
                        at,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        merges: Vec::new(),
                    }
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq { at, anchor, items }) => Some((
                    Node {
                        value: Value::Seq(items),
                        pos: at.0,
                        offset: at.1,
                    },
                    anchor,
                    false,
                )),
                _ => return Err(BuildError::at(&span.start, "unbalanced YAML sequence")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map {
                    at,
                    anchor,
                    entries,
                    key,
                    merges,
                }) => {
                    if key.is_some() {
                        return Err(BuildError::at(&span.start, "a YAML key without a value"));
                    }
                    let entries = finish_map(entries, merges, &span.start)?;
                    Some((
                        Node {
                            value: Value::Map(entries),
                            pos: at.0,
                            offset: at.1,
                        },
                        anchor,
                        false,
                    ))
                }
                _ => return Err(BuildError::at(&span.start, "unbalanced YAML mapping")),
            },
            // Anchor names, comments and unresolved aliases are not asked for.
            _ => None,
        };
        let Some((node, anchor, is_merge)) = done else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, (node.clone(), count_nodes(&node)));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map {
                entries,
                key,
                merges,
                ..
            }) => match key.take() {
                None => *key = Some((node, is_merge)),
                Some((_, true)) => merges.push(node),
                Some((k, false)) => entries.push((k, node)),
            },
        }
    }
    // A text without any document (empty, or only comments) is one null value, placed where
    // the text ends.
    if docs.is_empty()
        && documents == 0
        && !skip_null
        && let Some(end) = last
    {
        docs.push(Node {
            value: Value::Null,
            pos: line_column(&end.start),
            offset: end.start.byte_offset(),
        });
    }
    Ok(docs)
}
