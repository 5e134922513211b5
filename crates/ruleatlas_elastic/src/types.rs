//! What `threshold`, `new_terms` and `threat_match` rules add to their query.

use ruleatlas_model::{Condition, Lowered, Op, Predicate, PredicateKind, RuleDoc, Unparsed, Value};
use toml::de::{DeTable, DeValue};

use crate::File;
use crate::filters::{FileCtx, lower_filters};
use crate::tomlstr::{SValue, as_array, as_str, as_table, get, strings, to_json};

fn int_of(v: &SValue<'_>) -> Option<Value> {
    match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .ok()
            .map(Value::Int),
        DeValue::Float(f) => f.as_str().parse::<f64>().ok().map(Value::Float),
        _ => None,
    }
}

fn located(file: &File<'_>, at: &SValue<'_>, mut p: Predicate) -> Predicate {
    p.origin = Some(file.origin(at.span().start));
    p
}

/// `[rule.threshold]`: `field` (group by), `value` (count), `[[cardinality]]`.
pub(crate) fn threshold(file: &File<'_>, rule: &DeTable<'_>, out: &mut Lowered) -> Condition {
    let Some(th_v) = get(rule, "threshold") else {
        let mut u = Unparsed::new("threshold", "threshold rule without [rule.threshold]");
        u.origin = Some(file.origin(0));
        return out.unparsed(u);
    };
    let Some(th) = as_table(th_v) else {
        let mut u = Unparsed::new("threshold", "threshold is not a table");
        u.origin = Some(file.origin(th_v.span().start));
        return out.unparsed(u);
    };
    let mut parts = Vec::new();
    if let Some(fv) = get(th, "field") {
        for f in strings(Some(fv)) {
            let p = Predicate::new(f, Op::Exists, vec![Value::Bool(true)])
                .kind(PredicateKind::Join)
                .context("group_by", true);
            parts.push(out.pred(located(file, fv, p)));
        }
    }
    match get(th, "value").and_then(|v| int_of(v).map(|x| (v, x))) {
        Some((at, n)) => {
            let p = Predicate::new("count", Op::Ge, vec![n])
                .kind(PredicateKind::Threshold)
                .computed(true);
            parts.push(out.pred(located(file, at, p)));
        }
        None => {
            let mut u = Unparsed::new("threshold", "threshold without a numeric value");
            u.origin = Some(file.origin(th_v.span().start));
            parts.push(out.unparsed(u));
        }
    }
    if let Some(card) = get(th, "cardinality").and_then(as_array) {
        for c in card.iter() {
            let t = as_table(c);
            let field_v = t.and_then(|t| get(t, "field"));
            let field = field_v.and_then(as_str);
            let value = t.and_then(|t| get(t, "value")).and_then(int_of);
            match (field, value, field_v) {
                (Some(f), Some(n), Some(at)) => {
                    let p = Predicate::new(format!("cardinality({f})"), Op::Ge, vec![n])
                        .kind(PredicateKind::Threshold)
                        .computed(true);
                    parts.push(out.pred(located(file, at, p)));
                }
                _ => {
                    let mut u = Unparsed::new("cardinality", "cardinality without field and value");
                    u.origin = Some(file.origin(c.span().start));
                    parts.push(out.unparsed(u));
                }
            }
        }
    }
    Condition::and(parts)
}

/// `[rule.new_terms]`: `value` = the fields, `history_window_start`.
pub(crate) fn new_terms(
    file: &File<'_>,
    rule: &DeTable<'_>,
    out: &mut Lowered,
    doc: &mut RuleDoc,
) -> Condition {
    let Some(nt) = get(rule, "new_terms").and_then(as_table) else {
        let mut u = Unparsed::new("new_terms", "new_terms rule without [rule.new_terms]");
        u.origin = Some(file.origin(0));
        return out.unparsed(u);
    };
    let window = get(nt, "history_window_start")
        .and_then(|v| match v.get_ref() {
            DeValue::Array(a) => a
                .iter()
                .next()
                .and_then(as_table)
                .and_then(|t| get(t, "value"))
                .and_then(as_str),
            DeValue::Table(t) => get(t, "value").and_then(as_str),
            DeValue::String(s) => Some(s.as_ref()),
            _ => None,
        })
        .map(str::to_string);
    if let Some(w) = &window {
        doc.extra
            .insert("history_window_start".into(), w.clone().into());
    }
    let Some(fv) = get(nt, "value") else {
        let mut u = Unparsed::new("new_terms", "new_terms without fields");
        u.origin = Some(file.origin(0));
        return out.unparsed(u);
    };
    let mut parts = Vec::new();
    for f in strings(Some(fv)) {
        let mut p = Predicate::new(f, Op::Exists, vec![Value::Bool(true)])
            .kind(PredicateKind::Join)
            .context("new_terms", true);
        if let Some(w) = &window {
            p = p.context("history_window_start", w.clone());
        }
        parts.push(out.pred(located(file, fv, p)));
    }
    Condition::and(parts)
}

/// `threat_query`, `threat_filters`, `threat_mapping`.
pub(crate) fn threat_match(
    file: &File<'_>,
    rule: &DeTable<'_>,
    out: &mut Lowered,
    doc: &mut RuleDoc,
) -> Condition {
    let ctx = vec![("threat_query".to_string(), serde_json::Value::Bool(true))];
    let mut parts = Vec::new();
    for k in ["threat_index", "threat_indicator_path", "threat_language"] {
        if let Some(v) = get(rule, k) {
            doc.extra.insert(k.into(), to_json(v.get_ref()));
        }
    }
    for i in strings(get(rule, "threat_index")) {
        doc.add_logsource("threat_index", i);
    }
    if let Some(q) = get(rule, "threat_query") {
        let lang = get(rule, "threat_language")
            .and_then(as_str)
            .unwrap_or("kuery");
        let l = file.lower_query(q, lang, &ctx);
        parts.push(out.absorb(l));
    }
    let fc = FileCtx {
        path: file.path,
        text: file.text,
        lines: file.lines,
        context: &ctx,
    };
    if let Some(f) = get(rule, "threat_filters") {
        parts.push(lower_filters(f, &fc, out));
    }
    let Some(mappings) = get(rule, "threat_mapping").and_then(as_array) else {
        let mut u = Unparsed::new("threat_match", "threat_match rule without threat_mapping");
        u.origin = Some(file.origin(0));
        parts.push(out.unparsed(u));
        return Condition::and(parts);
    };
    let mut any = Vec::new();
    for m in mappings.iter() {
        let entries = as_table(m)
            .and_then(|t| get(t, "entries"))
            .and_then(as_array);
        let mut all = Vec::new();
        for e in entries.iter().flat_map(|a| a.iter()) {
            let t = as_table(e);
            let field_v = t.and_then(|t| get(t, "field"));
            let field = field_v.and_then(as_str);
            let value = t.and_then(|t| get(t, "value")).and_then(as_str);
            let negate = t
                .and_then(|t| get(t, "negate"))
                .and_then(|v| v.get_ref().as_bool())
                .unwrap_or(false);
            match (field, value, field_v) {
                (Some(f), Some(v), Some(at)) => {
                    let p = Predicate::new(f, Op::Eq, vec![Value::str(v)])
                        .kind(PredicateKind::Join)
                        .context("threat_mapping", true);
                    let c = out.pred(located(file, at, p));
                    all.push(if negate { Condition::not(c) } else { c });
                }
                _ => {
                    let mut u = Unparsed::new(
                        "threat_mapping",
                        "threat mapping entry without field and value",
                    );
                    u.origin = Some(file.origin(e.span().start));
                    all.push(out.unparsed(u));
                }
            }
        }
        any.push(Condition::and(all));
    }
    parts.push(Condition::or(any));
    Condition::and(parts)
}
