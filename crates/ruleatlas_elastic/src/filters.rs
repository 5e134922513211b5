//! Kibana filters (`[[rule.filters]]`, `[[rule.threat_filters]]`): Elasticsearch query DSL
//! objects with a `meta` block, ANDed into a rule's condition.
//!
//! Read shapes: `match_phrase`, `match`, `term`, `terms`, `wildcard`, `prefix`, `regexp`,
//! `exists`, `range`, `bool` (`must`/`filter`/`should`/`must_not`), `query_string`, and the
//! `meta`-only forms `phrase`/`phrases`/`exists`. `meta.negate = true` wraps the filter in a
//! NOT (so it becomes an exclusion); `meta.disabled = true` filters nothing and is skipped.
//! Anything else becomes unparsed, so a rule whose filters were not read is never `full`.

use ruleatlas_model::{Condition, DepthGuard, Lowered, Op, Origin, Predicate, Unparsed, Value};
use ruleatlas_text::{LineIndex, TextRange};
use toml::de::{DeTable, DeValue};

use crate::tomlstr::{SValue, as_array, as_str, as_table, get, get_path};

/// The file a filter lives in, for origins.
pub struct FileCtx<'a> {
    pub path: &'a str,
    pub text: &'a str,
    pub lines: &'a LineIndex,
    /// Added to every predicate's context.
    pub context: &'a [(String, serde_json::Value)],
}

impl FileCtx<'_> {
    pub fn origin(&self, offset: usize) -> Origin {
        Origin::new(self.path, self.lines.line_column(self.text, offset))
    }
}

/// Lowers every filter of an array of filter tables, ANDed.
pub fn lower_filters(filters: &SValue<'_>, fc: &FileCtx<'_>, out: &mut Lowered) -> Condition {
    let Some(items) = as_array(filters) else {
        return unparsed(out, fc, filters, "filter shape not supported: not a list");
    };
    let mut parts = Vec::new();
    for f in items.iter() {
        parts.push(lower_filter(f, fc, out));
    }
    Condition::and(parts)
}

fn unparsed(out: &mut Lowered, fc: &FileCtx<'_>, at: &SValue<'_>, reason: &str) -> Condition {
    let text = fc.text.get(at.span()).unwrap_or("").trim();
    let mut u = Unparsed::new(if text.is_empty() { "(filter)" } else { text }, reason);
    u.origin = Some(fc.origin(at.span().start));
    out.unparsed(u)
}

fn pred(out: &mut Lowered, fc: &FileCtx<'_>, at: &SValue<'_>, mut p: Predicate) -> Condition {
    p.origin = Some(fc.origin(at.span().start));
    for (k, v) in fc.context {
        p.context.insert(k.clone(), v.clone());
    }
    out.pred(p)
}

/// An Elasticsearch wildcard-query value (`\\` escapes any character) rewritten in the
/// pattern convention of every `wildcard` predicate
/// (`ruleatlas_model::wildcard::encode_pattern`).
fn es_wildcard(v: Value) -> Value {
    let Value::Str(s) = v else { return v };
    let mut pieces = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => pieces.push((chars.next().unwrap_or('\\'), false)),
            '*' | '?' => pieces.push((c, true)),
            _ => pieces.push((c, false)),
        }
    }
    Value::Str(ruleatlas_model::wildcard::encode_pattern(&pieces))
}

/// A scalar DSL value as a model value.
fn scalar(v: &DeValue<'_>) -> Option<Value> {
    match v {
        DeValue::String(s) => Some(Value::Str(s.to_string())),
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .ok()
            .map(Value::Int),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .map(Value::Float),
        DeValue::Boolean(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

fn lower_filter(f: &SValue<'_>, fc: &FileCtx<'_>, out: &mut Lowered) -> Condition {
    let Some(t) = as_table(f) else {
        return unparsed(out, fc, f, "filter shape not supported: not a table");
    };
    let meta = get(t, "meta").and_then(as_table);
    let flag = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(|v| v.get_ref().as_bool())
            .unwrap_or(false)
    };
    if flag("disabled") {
        return Condition::Const(true);
    }
    let negate = flag("negate");
    // The query object: `query = {...}` or a legacy top-level clause (`exists`, `range`...).
    let mut guard = DepthGuard::default();
    let body: Vec<(&str, &SValue<'_>)> = t
        .iter()
        .filter(|(k, _)| !matches!(k.get_ref().as_ref(), "meta" | "$state"))
        .map(|(k, v)| (k.get_ref().as_ref(), v))
        .collect();
    let cond = if body.is_empty() {
        match meta {
            Some(m) => meta_only(m, f, fc, out),
            None => unparsed(out, fc, f, "filter shape not supported: empty"),
        }
    } else {
        let mut parts = Vec::new();
        for (k, v) in body {
            if k == "query" {
                parts.push(query_object(v, fc, out, &mut guard));
            } else {
                parts.push(clause(k, v, fc, out, &mut guard));
            }
        }
        Condition::and(parts)
    };
    if negate { Condition::not(cond) } else { cond }
}

/// A filter with only `meta`: `type = "phrase"` / `"phrases"` / `"exists"` with `key` and
/// `params`.
fn meta_only(m: &DeTable<'_>, at: &SValue<'_>, fc: &FileCtx<'_>, out: &mut Lowered) -> Condition {
    let ty = get(m, "type").and_then(as_str).unwrap_or("");
    let Some(key_v) = get(m, "key") else {
        return unparsed(out, fc, at, "filter shape not supported: meta without key");
    };
    let Some(key) = as_str(key_v) else {
        return unparsed(out, fc, at, "filter shape not supported: meta without key");
    };
    match ty {
        "exists" => pred(
            out,
            fc,
            key_v,
            Predicate::new(key, Op::Exists, vec![Value::Bool(true)]),
        ),
        "phrase" => match get_path(m, &["params", "query"])
            .and_then(|v| scalar(v.get_ref()).map(|x| (v, x)))
        {
            Some((pv, v)) => pred(
                out,
                fc,
                pv,
                Predicate::new(key, Op::Eq, vec![v]).case_sensitive(true),
            ),
            None => unparsed(
                out,
                fc,
                at,
                "filter shape not supported: phrase without params",
            ),
        },
        "phrases" => {
            let values: Vec<Value> = get(m, "params")
                .and_then(as_array)
                .map(|a| a.iter().filter_map(|v| scalar(v.get_ref())).collect())
                .unwrap_or_default();
            if values.is_empty() {
                return unparsed(
                    out,
                    fc,
                    at,
                    "filter shape not supported: phrases without params",
                );
            }
            let params = get(m, "params").unwrap_or(at);
            pred(
                out,
                fc,
                params,
                Predicate::new(key, Op::In, values).case_sensitive(true),
            )
        }
        other => unparsed(
            out,
            fc,
            at,
            &format!("filter shape not supported: meta type {other}"),
        ),
    }
}

/// `{ "<clause>": {...} }`: one or more clauses, ANDed.
fn query_object(
    q: &SValue<'_>,
    fc: &FileCtx<'_>,
    out: &mut Lowered,
    guard: &mut DepthGuard,
) -> Condition {
    let Some(t) = as_table(q) else {
        return unparsed(
            out,
            fc,
            q,
            "filter shape not supported: query is not an object",
        );
    };
    if guard.enter().is_err() {
        return unparsed(out, fc, q, "filter nesting too deep");
    }
    let parts: Vec<Condition> = t
        .iter()
        .map(|(k, v)| clause(k.get_ref().as_ref(), v, fc, out, guard))
        .collect();
    guard.leave();
    if parts.is_empty() {
        return unparsed(out, fc, q, "filter shape not supported: empty query");
    }
    Condition::and(parts)
}

/// The single `field = value-or-options` entry of a leaf clause (`match_phrase`, `term`...).
fn field_entry<'a, 'i>(v: &'a SValue<'i>) -> Option<(&'a str, &'a SValue<'i>)> {
    let t = as_table(v)?;
    let mut it = t.iter();
    let (k, val) = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some((k.get_ref().as_ref(), val))
}

/// The value of a leaf clause: a scalar, or `{ query|value = scalar, ... }`.
fn leaf_value<'a, 'i>(
    v: &'a SValue<'i>,
) -> Option<(Value, &'a SValue<'i>, Option<&'a DeTable<'i>>)> {
    if let Some(s) = scalar(v.get_ref()) {
        return Some((s, v, None));
    }
    let t = as_table(v)?;
    let inner = get(t, "query").or_else(|| get(t, "value"))?;
    Some((scalar(inner.get_ref())?, inner, Some(t)))
}

fn clause(
    kind: &str,
    v: &SValue<'_>,
    fc: &FileCtx<'_>,
    out: &mut Lowered,
    guard: &mut DepthGuard,
) -> Condition {
    match kind {
        "match_phrase" | "match" | "term" | "wildcard" | "prefix" | "regexp" => {
            let Some((field, val)) = field_entry(v) else {
                return unparsed(out, fc, v, &format!("filter shape not supported: {kind}"));
            };
            let Some((value, at, opts)) = leaf_value(val) else {
                return unparsed(out, fc, v, &format!("filter shape not supported: {kind}"));
            };
            let ci = opts
                .and_then(|o| get(o, "case_insensitive"))
                .and_then(|b| b.get_ref().as_bool())
                .unwrap_or(false);
            let (op, value) = match kind {
                "match" => {
                    let phrase =
                        opts.and_then(|o| get(o, "type")).and_then(as_str) == Some("phrase");
                    (if phrase { Op::Eq } else { Op::Match }, value)
                }
                "wildcard" => (Op::Wildcard, es_wildcard(value)),
                "prefix" => (Op::StartsWith, value),
                "regexp" => (Op::RegexMatch, value),
                _ => (Op::Eq, value),
            };
            let cs = op != Op::Match && !ci;
            pred(
                out,
                fc,
                at,
                Predicate::new(field, op, vec![value]).case_sensitive(cs),
            )
        }
        "terms" => {
            let Some((field, val)) = field_entry(v) else {
                return unparsed(out, fc, v, "filter shape not supported: terms");
            };
            let values: Vec<Value> = as_array(val)
                .map(|a| a.iter().filter_map(|x| scalar(x.get_ref())).collect())
                .unwrap_or_default();
            if values.is_empty() {
                return unparsed(out, fc, v, "filter shape not supported: terms");
            }
            pred(
                out,
                fc,
                val,
                Predicate::new(field, Op::In, values).case_sensitive(true),
            )
        }
        "exists" => match as_table(v).and_then(|t| get(t, "field")) {
            Some(fv) if as_str(fv).is_some() => {
                let field = as_str(fv).unwrap_or_default();
                pred(
                    out,
                    fc,
                    fv,
                    Predicate::new(field, Op::Exists, vec![Value::Bool(true)]),
                )
            }
            _ => unparsed(out, fc, v, "filter shape not supported: exists"),
        },
        "range" => {
            let Some((field, val)) = field_entry(v) else {
                return unparsed(out, fc, v, "filter shape not supported: range");
            };
            let Some(t) = as_table(val) else {
                return unparsed(out, fc, v, "filter shape not supported: range");
            };
            let mut parts = Vec::new();
            for (k, bound) in t.iter() {
                let op = match k.get_ref().as_ref() {
                    "gt" => Op::Gt,
                    "gte" | "from" => Op::Ge,
                    "lt" => Op::Lt,
                    "lte" | "to" => Op::Le,
                    _ => continue, // format, time_zone, boost: no effect on which events match
                };
                match scalar(bound.get_ref()) {
                    Some(x) => parts.push(pred(out, fc, bound, Predicate::new(field, op, vec![x]))),
                    None => parts.push(unparsed(
                        out,
                        fc,
                        bound,
                        "filter shape not supported: range bound",
                    )),
                }
            }
            if parts.is_empty() {
                return unparsed(out, fc, v, "filter shape not supported: range");
            }
            Condition::and(parts)
        }
        "bool" => bool_query(v, fc, out, guard),
        "query_string" => {
            let Some(q) = as_table(v).and_then(|t| get(t, "query")) else {
                return unparsed(out, fc, v, "filter shape not supported: query_string");
            };
            let Some(text) = as_str(q) else {
                return unparsed(out, fc, v, "filter shape not supported: query_string");
            };
            let mut l = ruleatlas_lucene::lower_query(text);
            let map = crate::tomlstr::string_map(fc.text, q.span(), text);
            l.resolve_origins(fc.path, &|off| {
                fc.lines.line_column(fc.text, map.to_source(off))
            });
            for p in &mut l.predicates {
                for (k, val) in fc.context {
                    p.context.insert(k.clone(), val.clone());
                }
            }
            out.absorb(l)
        }
        "match_all" => Condition::Const(true),
        other => unparsed(out, fc, v, &format!("filter shape not supported: {other}")),
    }
}

fn bool_query(
    v: &SValue<'_>,
    fc: &FileCtx<'_>,
    out: &mut Lowered,
    guard: &mut DepthGuard,
) -> Condition {
    let Some(t) = as_table(v) else {
        return unparsed(out, fc, v, "filter shape not supported: bool");
    };
    if guard.enter().is_err() {
        return unparsed(out, fc, v, "filter nesting too deep");
    }
    let list = |k: &str| -> Vec<&SValue<'_>> {
        match get(t, k) {
            Some(x) => match x.get_ref() {
                DeValue::Array(a) => a.iter().collect(),
                DeValue::Table(_) => vec![x],
                _ => Vec::new(),
            },
            None => Vec::new(),
        }
    };
    let mut parts = Vec::new();
    let required: Vec<&SValue<'_>> = list("must").into_iter().chain(list("filter")).collect();
    for q in &required {
        parts.push(query_object(q, fc, out, guard));
    }
    let should = list("should");
    // `minimum_should_match`: absent means "any of" without required clauses and "none"
    // (scoring only) next to them; 1 means "any of"; other values are not read.
    let msm = get(t, "minimum_should_match").map(|v| match v.get_ref() {
        DeValue::Integer(i) => i.as_str() == "1",
        DeValue::String(s) => s.as_ref() == "1",
        _ => false,
    });
    if !should.is_empty() {
        match msm {
            Some(true) => parts.push(any_of(&should, fc, out, guard)),
            None if required.is_empty() => parts.push(any_of(&should, fc, out, guard)),
            None => {}
            Some(false) => parts.push(unparsed(
                out,
                fc,
                v,
                "filter shape not supported: minimum_should_match",
            )),
        }
    }
    for q in list("must_not") {
        let c = query_object(q, fc, out, guard);
        parts.push(Condition::not(c));
    }
    guard.leave();
    if parts.is_empty() {
        return Condition::Const(true);
    }
    Condition::and(parts)
}

/// `should` clauses; exact phrases of one field (`meta.type: phrases`) become one `in`.
fn any_of(
    items: &[&SValue<'_>],
    fc: &FileCtx<'_>,
    out: &mut Lowered,
    guard: &mut DepthGuard,
) -> Condition {
    let phrase_of = |q: &SValue<'_>| -> Option<(String, Value, TextRange)> {
        let t = as_table(q)?;
        let mut it = t.iter();
        let (k, v) = it.next()?;
        if it.next().is_some() || !matches!(k.get_ref().as_ref(), "match_phrase" | "term") {
            return None;
        }
        let (field, val) = field_entry(v)?;
        let (value, at, _) = leaf_value(val)?;
        Some((
            field.to_string(),
            value,
            TextRange::new(at.span().start, at.span().end),
        ))
    };
    let phrases: Vec<Option<(String, Value, TextRange)>> =
        items.iter().map(|q| phrase_of(q)).collect();
    let first_field = phrases
        .first()
        .and_then(|p| p.as_ref().map(|p| p.0.clone()));
    if items.len() > 1
        && let Some(field) = first_field
        && phrases
            .iter()
            .all(|p| p.as_ref().is_some_and(|p| p.0 == field))
    {
        let values: Vec<Value> = phrases.iter().flatten().map(|p| p.1.clone()).collect();
        let start = phrases
            .iter()
            .flatten()
            .next()
            .map_or(0, |p| p.2.start as usize);
        let mut p = Predicate::new(field, Op::In, values).case_sensitive(true);
        p.origin = Some(fc.origin(start));
        for (k, v) in fc.context {
            p.context.insert(k.clone(), v.clone());
        }
        return out.pred(p);
    }
    let parts = items
        .iter()
        .map(|q| query_object(q, fc, out, guard))
        .collect();
    Condition::or(parts)
}
