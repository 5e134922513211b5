//! Lowering a Lucene tree into the predicate model.

use std::collections::BTreeMap;

use ruleatlas_model::{Condition, Lowered, Op, Predicate, Unparsed, Value};
use ruleatlas_text::TextRange;

use crate::ast::{Ast, Bound, CompareOp, Occur, Query, Term};

/// What lowering needs besides the tree.
#[derive(Debug, Clone, Default)]
pub struct LowerContext {
    /// The field of terms written without one (`default_field`); `None` is free text, `_text`.
    pub default_field: Option<String>,
    /// Added to every predicate's `context`.
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
    let mut parts = vec![match &ast.root {
        Some(q) => lw.query(q),
        None => Condition::Const(true),
    }];
    for (text, span) in &ast.dangling {
        parts.push(lw.unparsed(text, "lucene syntax error", *span));
    }
    lw.out.tree = Condition::and(parts);
    lw.out
}

/// A term's value: integers and decimals as numbers, the rest as text.
#[must_use]
pub fn term_value(text: &str, quoted: bool) -> Value {
    if !quoted
        && text.contains('.')
        && let Ok(f) = text.parse::<f64>()
        && f.is_finite()
        && f.to_string() == text
    {
        return Value::Float(f);
    }
    Value::number_or_string(text)
}

struct Lowerer<'a> {
    out: Lowered,
    ctx: &'a LowerContext,
}

/// A term that can join an `in` with others of its field: a plain word or an exact phrase.
fn plain_value(q: &Query) -> Option<(Option<&str>, Value, TextRange)> {
    match q {
        Query::Term {
            field,
            term: Term::Word(w),
            span,
        } if !w.wildcard && field.as_deref() != Some("_exists_") => {
            Some((field.as_deref(), term_value(&w.text, false), *span))
        }
        Query::Term {
            field,
            term: Term::Phrase { text, slop: None },
            span,
        } if field.as_deref() != Some("_exists_") => {
            Some((field.as_deref(), Value::number_or_string(text), *span))
        }
        _ => None,
    }
}

impl Lowerer<'_> {
    fn pred(&mut self, mut p: Predicate) -> Condition {
        for (k, v) in &self.ctx.context {
            p.context.insert(k.clone(), v.clone());
        }
        self.out.pred(p)
    }

    fn unparsed(&mut self, text: &str, reason: &str, span: TextRange) -> Condition {
        let text = if text.is_empty() { "(empty)" } else { text };
        self.out
            .unparsed(Unparsed::new(text, reason).with_span(span))
    }

    fn field<'f>(&'f self, f: Option<&'f str>) -> &'f str {
        f.or(self.ctx.default_field.as_deref())
            .unwrap_or(TEXT_FIELD)
    }

    fn query(&mut self, q: &Query) -> Condition {
        match q {
            Query::Bool { clauses, .. } => {
                let must: Vec<&Query> = clauses
                    .iter()
                    .filter(|c| c.occur == Occur::Must)
                    .map(|c| &c.query)
                    .collect();
                let should: Vec<&Query> = clauses
                    .iter()
                    .filter(|c| c.occur == Occur::Should)
                    .map(|c| &c.query)
                    .collect();
                let must_not: Vec<&Query> = clauses
                    .iter()
                    .filter(|c| c.occur == Occur::MustNot)
                    .map(|c| &c.query)
                    .collect();
                let mut parts: Vec<Condition> = must.iter().map(|q| self.query(q)).collect();
                // With a required clause, optional ones only score: they filter nothing.
                if must.is_empty() && !should.is_empty() {
                    parts.push(self.any_of(&should));
                }
                for q in must_not {
                    let c = self.query(q);
                    parts.push(Condition::not(c));
                }
                Condition::and(parts)
            }
            Query::Term { field, term, span } => self.term(field.as_deref(), term, *span),
            Query::Error { text, span } => self.unparsed(text, "lucene syntax error", *span),
        }
    }

    /// SHOULD clauses: plain values of one field become one `in` (free text: one `match`),
    /// placed where the field's first value was.
    fn any_of(&mut self, items: &[&Query]) -> Condition {
        enum Slot<'q> {
            Group(String, Vec<Value>, TextRange),
            Other(&'q Query),
        }
        let mut slots: Vec<Slot> = Vec::new();
        for q in items {
            match plain_value(q) {
                Some((f, v, span)) => {
                    let f = self.field(f).to_string();
                    let existing = slots.iter_mut().find_map(|s| match s {
                        Slot::Group(g, values, _) if *g == f => Some(values),
                        _ => None,
                    });
                    match existing {
                        Some(values) => values.push(v),
                        None => slots.push(Slot::Group(f, vec![v], span)),
                    }
                }
                None => slots.push(Slot::Other(q)),
            }
        }
        let mut conds = Vec::new();
        for slot in slots {
            match slot {
                Slot::Group(f, mut values, span) => {
                    let p = if f == TEXT_FIELD {
                        Predicate::new(f, Op::Match, values)
                    } else if values.len() == 1 {
                        Predicate::new(f, Op::Eq, vec![values.remove(0)]).case_sensitive(true)
                    } else {
                        Predicate::new(f, Op::In, values).case_sensitive(true)
                    };
                    conds.push(self.pred(p.with_span(span)));
                }
                Slot::Other(q) => conds.push(self.query(q)),
            }
        }
        Condition::or(conds)
    }

    fn term(&mut self, field: Option<&str>, term: &Term, span: TextRange) -> Condition {
        if field == Some("_exists_") {
            // `_exists_:field`: the term names the field.
            let name = match term {
                Term::Word(w) => w.text.clone(),
                Term::Phrase { text, .. } => text.clone(),
                _ => return self.unparsed("_exists_", "unsupported _exists_ form", span),
            };
            return self
                .pred(Predicate::new(name, Op::Exists, vec![Value::Bool(true)]).with_span(span));
        }
        let name = self.field(field).to_string();
        let text = name == TEXT_FIELD;
        let p = match term {
            Term::Word(w) => {
                if w.wildcard && w.pattern == "*" {
                    if text || name == "*" {
                        return Condition::Const(true);
                    }
                    Predicate::new(name, Op::Exists, vec![Value::Bool(true)])
                } else if w.wildcard {
                    Predicate::new(name, Op::Wildcard, vec![Value::str(&w.pattern)])
                        .case_sensitive(!text)
                } else if text {
                    Predicate::new(name, Op::Match, vec![term_value(&w.text, false)])
                } else {
                    Predicate::new(name, Op::Eq, vec![term_value(&w.text, false)])
                        .case_sensitive(true)
                }
            }
            Term::Phrase { text: phrase, slop } => {
                if slop.as_deref().is_some_and(|s| !s.is_empty() && s != "0") {
                    return self.unparsed(phrase, "proximity search not supported", span);
                }
                let op = if text { Op::Match } else { Op::Eq };
                Predicate::new(name, op, vec![Value::number_or_string(phrase)])
                    .case_sensitive(!text)
            }
            Term::Regex(r) => {
                Predicate::new(name, Op::RegexMatch, vec![Value::str(r)]).case_sensitive(true)
            }
            Term::Fuzzy { text: t, .. } => {
                return self.unparsed(t, "fuzzy query not supported", span);
            }
            Term::Compare { op, value } => {
                let op = match op {
                    CompareOp::Lt => Op::Lt,
                    CompareOp::Le => Op::Le,
                    CompareOp::Gt => Op::Gt,
                    CompareOp::Ge => Op::Ge,
                };
                Predicate::new(name, op, vec![bound_value(value)])
            }
            Term::Range {
                lower,
                upper,
                incl_lower,
                incl_upper,
            } => {
                let mut parts = Vec::new();
                if let Some(b) = lower {
                    let op = if *incl_lower { Op::Ge } else { Op::Gt };
                    let p = Predicate::new(name.clone(), op, vec![bound_value(b)]).with_span(span);
                    parts.push(self.pred(p));
                }
                if let Some(b) = upper {
                    let op = if *incl_upper { Op::Le } else { Op::Lt };
                    let p = Predicate::new(name.clone(), op, vec![bound_value(b)]).with_span(span);
                    parts.push(self.pred(p));
                }
                if parts.is_empty() {
                    let p =
                        Predicate::new(name, Op::Exists, vec![Value::Bool(true)]).with_span(span);
                    parts.push(self.pred(p));
                }
                return Condition::and(parts);
            }
        };
        self.pred(p.with_span(span))
    }
}

fn bound_value(b: &Bound) -> Value {
    term_value(&b.text, b.quoted)
}
