//! Lowering a KQL tree into the predicate model.

use std::collections::BTreeMap;

use ruleatlas_model::{Condition, Lowered, Op, Predicate, Unparsed, Value};
use ruleatlas_text::TextRange;

use crate::ast::{Ast, Literal, Query, RangeOp, Values};

/// What lowering needs besides the tree.
#[derive(Debug, Clone, Default)]
pub struct LowerContext {
    /// Added to every predicate's `context` (e.g. `{"threat_query": true}`).
    pub context: BTreeMap<String, serde_json::Value>,
}

/// The pseudo-field of free-text search.
pub const TEXT_FIELD: &str = "_text";

/// Lowers a parsed query. Spans in the result are byte ranges into the parsed text.
#[must_use]
pub fn lower(ast: &Ast, ctx: &LowerContext) -> Lowered {
    let mut lw = Lowerer {
        out: Lowered::default(),
        ctx,
    };
    let tree = match &ast.root {
        Some(q) => lw.query(q, ""),
        None => Condition::Const(true),
    };
    let mut parts = vec![tree];
    for (text, span) in &ast.dangling {
        parts.push(lw.error(text, *span));
    }
    lw.out.tree = Condition::and(parts);
    lw.out
}

struct Lowerer<'a> {
    out: Lowered,
    ctx: &'a LowerContext,
}

/// The value of a literal: numbers and booleans as such, everything else as text.
#[must_use]
pub fn literal_value(l: &Literal) -> Value {
    if !l.quoted {
        match l.text.as_str() {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
        if l.text.contains('.')
            && let Ok(f) = l.text.parse::<f64>()
            && f.is_finite()
            && f.to_string() == l.text
        {
            return Value::Float(f);
        }
    }
    Value::number_or_string(&l.text)
}

impl Lowerer<'_> {
    fn pred(&mut self, mut p: Predicate) -> Condition {
        for (k, v) in &self.ctx.context {
            p.context.insert(k.clone(), v.clone());
        }
        self.out.pred(p)
    }

    fn error(&mut self, text: &str, span: TextRange) -> Condition {
        let text = if text.is_empty() { "(empty)" } else { text };
        self.out
            .unparsed(Unparsed::new(text, "kql syntax error").with_span(span))
    }

    fn query(&mut self, q: &Query, prefix: &str) -> Condition {
        match q {
            Query::Or { items, .. } => {
                let c = items.iter().map(|i| self.query(i, prefix)).collect();
                Condition::or(c)
            }
            Query::And { items, .. } => {
                let c = items.iter().map(|i| self.query(i, prefix)).collect();
                Condition::and(c)
            }
            Query::Not { inner, .. } => {
                let c = self.query(inner, prefix);
                Condition::not(c)
            }
            Query::Field {
                field,
                values,
                span,
            } => {
                let name = format!("{prefix}{}", field.text);
                self.values(values, &name, *span, true)
            }
            Query::Nested { field, query, .. } => {
                let prefix = format!("{prefix}{}.", field.text);
                self.query(query, &prefix)
            }
            Query::Range {
                field,
                op,
                value,
                span,
            } => {
                let op = match op {
                    RangeOp::Lt => Op::Lt,
                    RangeOp::Le => Op::Le,
                    RangeOp::Gt => Op::Gt,
                    RangeOp::Ge => Op::Ge,
                };
                let name = format!("{prefix}{}", field.text);
                let p = Predicate::new(name, op, vec![literal_value(value)]).with_span(*span);
                self.pred(p)
            }
            Query::Text { value, span } => {
                if value.is_exists() {
                    // A bare `*` matches every document.
                    return Condition::Const(true);
                }
                let p = match &value.pattern {
                    Some(pat) => Predicate::new(TEXT_FIELD, Op::Wildcard, vec![Value::str(pat)]),
                    None => Predicate::new(TEXT_FIELD, Op::Match, vec![literal_value(value)]),
                };
                self.pred(p.with_span(*span))
            }
            Query::Error { text, span } => self.error(text, *span),
        }
    }

    /// One value of `field`; `span` is where the predicate points.
    fn one(&mut self, l: &Literal, field: &str, span: TextRange) -> Condition {
        let p = if l.is_exists() {
            Predicate::new(field, Op::Exists, vec![Value::Bool(true)])
        } else if let Some(pat) = &l.pattern {
            Predicate::new(field, Op::Wildcard, vec![Value::str(pat)]).case_sensitive(true)
        } else {
            Predicate::new(field, Op::Eq, vec![literal_value(l)]).case_sensitive(true)
        };
        self.pred(p.with_span(span))
    }

    /// `top` is true for the value right after the colon (the predicate points at the field).
    fn values(&mut self, v: &Values, field: &str, field_span: TextRange, top: bool) -> Condition {
        match v {
            Values::One(l) => {
                let span = if top { field_span } else { l.span };
                self.one(l, field, span)
            }
            Values::Or { items, .. } => {
                // Plain values of one field ORed together are one `in`; the rest stay apart.
                let plain: Vec<&Literal> = items
                    .iter()
                    .filter_map(|i| match i {
                        Values::One(l) if l.is_plain() => Some(l),
                        _ => None,
                    })
                    .collect();
                let mut conds = Vec::new();
                match plain.len() {
                    0 => {}
                    1 => conds.push(self.one(
                        plain[0],
                        field,
                        if top { field_span } else { plain[0].span },
                    )),
                    _ => {
                        let values = plain.iter().map(|l| literal_value(l)).collect();
                        let span = if top { field_span } else { plain[0].span };
                        let p = Predicate::new(field, Op::In, values)
                            .case_sensitive(true)
                            .with_span(span);
                        conds.push(self.pred(p));
                    }
                }
                for i in items {
                    if matches!(i, Values::One(l) if l.is_plain()) {
                        continue;
                    }
                    conds.push(self.values(i, field, field_span, false));
                }
                Condition::or(conds)
            }
            Values::And { items, .. } => {
                let c = items
                    .iter()
                    .map(|i| self.values(i, field, field_span, false))
                    .collect();
                Condition::and(c)
            }
            Values::Not { inner, .. } => {
                let c = self.values(inner, field, field_span, false);
                Condition::not(c)
            }
            Values::Error { text, span } => self.error(text, *span),
        }
    }
}
