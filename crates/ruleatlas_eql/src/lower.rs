//! Lowering: the EQL tree to the predicate model.
//!
//! Operators follow Elasticsearch's semantics: `:` is case-insensitive (wildcards allowed),
//! `==`/`!=`/`in`/`like`/`regex` and the string functions are case-sensitive unless written
//! with `~`. A comparison of one field, possibly inside functions or arithmetic, with literals
//! is a predicate on that field (`computed`, with the expression in `context.expr`, unless
//! the functions only convert types). A comparison between fields is a `join` predicate.

use std::collections::BTreeMap;

use ruleatlas_model::{
    Condition, DepthGuard, Lowered, Op, Predicate, PredicateKind, Unparsed, Value,
};
use ruleatlas_text::TextRange;

use crate::ast::{Body, CmpOp, EventQuery, Expr, ExprKind, MatchOp, Query, Step};

/// What lowering needs besides the tree.
#[derive(Debug, Clone, Default)]
pub struct LowerContext {
    /// The field an event category (`process where`) filters; `event.category` when `None`.
    pub category_field: Option<String>,
}

/// Functions that only convert a value's type: a filter through them is on the field itself.
const TRANSPARENT: &[&str] = &["string", "number", "tostring", "tonumber"];

struct Lowerer<'a> {
    text: &'a str,
    ctx: &'a LowerContext,
    out: Lowered,
    /// Context added to every predicate made while it is set (`step`, `until`...).
    scope: BTreeMap<String, serde_json::Value>,
    kind: PredicateKind,
    guard: DepthGuard,
    /// Field names that an aggregating pipe made (`count`): filters on them are thresholds.
    aggregates: Vec<String>,
}

/// Lowers a parsed query. Does not call [`Lowered::finish`]: the caller does, once the rule's
/// whole tree is built.
#[must_use]
pub fn lower(ast: &Query, ctx: &LowerContext) -> Lowered {
    let mut l = Lowerer {
        text: &ast.source,
        ctx,
        out: Lowered::default(),
        scope: BTreeMap::new(),
        kind: PredicateKind::Filter,
        guard: DepthGuard::default(),
        aggregates: Vec::new(),
    };
    let mut parts = vec![l.body(&ast.body)];
    for pipe in &ast.pipes {
        match pipe.name.text.as_str() {
            // Limits and de-duplication do not say what events are looked for.
            "head" | "tail" | "sort" | "unique" => {}
            "count" | "unique_count" => l.aggregates.push("count".to_string()),
            "filter" | "where" => {
                for arg in &pipe.args {
                    let c = l.expr(arg);
                    parts.push(c);
                }
            }
            other => {
                let u = l.unparsed(pipe.range, format!("pipe not supported: {other}"));
                parts.push(u);
            }
        }
    }
    l.out.tree = Condition::and(parts);
    l.out
}

impl Lowerer<'_> {
    fn unparsed(&mut self, range: TextRange, reason: impl Into<String>) -> Condition {
        let u = Unparsed::new(range.slice(self.text), reason).with_span(range);
        self.out.unparsed(u)
    }

    fn pred(&mut self, mut p: Predicate, range: TextRange) -> Condition {
        for (k, v) in &self.scope {
            p.context.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if p.kind == PredicateKind::Filter {
            p.kind = if self.aggregates.iter().any(|a| a == &p.raw_field) {
                PredicateKind::Threshold
            } else {
                self.kind
            };
        }
        self.out.pred(p.with_span(range))
    }

    fn body(&mut self, body: &Body) -> Condition {
        match body {
            Body::Event(q) => self.event_query(q),
            Body::Missing => Condition::Const(true),
            Body::Sequence(s) => {
                let mut parts = Vec::new();
                for key in &s.by {
                    parts.push(self.join_key(key));
                }
                for (i, step) in s.steps.iter().enumerate() {
                    self.scope.insert("step".into(), (i + 1).into());
                    if i == 0
                        && let Some(m) = &s.maxspan
                    {
                        self.scope.insert("maxspan".into(), m.text.clone().into());
                    }
                    parts.push(self.step(step));
                    self.scope.clear();
                }
                if let Some(u) = &s.until {
                    self.scope.insert("until".into(), true.into());
                    let c = self.step(u);
                    self.scope.clear();
                    // Sequences are dropped when the `until` event occurs.
                    parts.push(Condition::not(c));
                }
                Condition::and(parts)
            }
            Body::Sample(s) => {
                let mut parts = Vec::new();
                for key in &s.by {
                    parts.push(self.join_key(key));
                }
                for (i, step) in s.steps.iter().enumerate() {
                    self.scope.insert("step".into(), (i + 1).into());
                    parts.push(self.step(step));
                    self.scope.clear();
                }
                Condition::and(parts)
            }
        }
    }

    fn step(&mut self, step: &Step) -> Condition {
        if let Some(r) = step.runs {
            self.scope.insert("runs".into(), r.into());
        }
        if step.missing {
            self.kind = PredicateKind::Absence;
            self.scope.insert("missing".into(), true.into());
        }
        let mut parts = match &step.query {
            Some(q) => vec![self.event_query(q)],
            None => vec![self.unparsed(step.range, "syntax error in sequence step")],
        };
        self.kind = PredicateKind::Filter;
        self.scope.remove("missing");
        for key in &step.by {
            parts.push(self.join_key(key));
        }
        Condition::and(parts)
    }

    fn join_key(&mut self, key: &Expr) -> Condition {
        let mut fields = Vec::new();
        key.fields(&mut fields);
        let Some(first) = fields.first() else {
            return self.unparsed(key.range, "join key without a field");
        };
        let mut p = Predicate::new(*first, Op::Eq, Vec::new()).kind(PredicateKind::Join);
        if !matches!(key.kind, ExprKind::Field { .. }) {
            p = p.computed(true).context("expr", key.range.slice(self.text));
        }
        self.pred(p, key.range)
    }

    fn event_query(&mut self, q: &EventQuery) -> Condition {
        let mut parts = Vec::new();
        if !q.category.text.eq_ignore_ascii_case("any") {
            let field = self
                .ctx
                .category_field
                .clone()
                .unwrap_or_else(|| "event.category".to_string());
            let p = Predicate::new(field, Op::Eq, vec![Value::str(q.category.text.clone())]);
            parts.push(self.pred(p, q.category.range));
        }
        parts.push(self.expr(&q.condition));
        Condition::and(parts)
    }

    /// An expression in boolean position.
    fn expr(&mut self, e: &Expr) -> Condition {
        if self.guard.enter().is_err() {
            return self.unparsed(e.range, "nesting too deep");
        }
        let c = self.expr_inner(e);
        self.guard.leave();
        c
    }

    fn expr_inner(&mut self, e: &Expr) -> Condition {
        match &e.kind {
            ExprKind::And(items) => {
                let parts = items.iter().map(|i| self.expr(i)).collect();
                Condition::and(parts)
            }
            ExprKind::Or(items) => {
                let parts = items.iter().map(|i| self.expr(i)).collect();
                Condition::or(parts)
            }
            ExprKind::Not(inner) => {
                let c = self.expr(inner);
                Condition::not(c)
            }
            ExprKind::Bool(b) => Condition::Const(*b),
            ExprKind::Field { name, .. } => {
                let p = Predicate::new(name.clone(), Op::Eq, vec![Value::Bool(true)]);
                self.pred(p, e.range)
            }
            ExprKind::Compare { op, lhs, rhs } => self.compare(e, *op, lhs, rhs),
            ExprKind::Match {
                op,
                insensitive,
                negated,
                lhs,
                patterns,
            } => self.matching(e, *op, *insensitive, *negated, lhs, patterns),
            ExprKind::In {
                insensitive,
                negated,
                lhs,
                list,
            } => self.operator(e, Op::In, !*insensitive, *negated, lhs, list),
            ExprKind::Call {
                name,
                insensitive,
                args,
            } => self.call(e, &name.text, *insensitive, args),
            ExprKind::Str(_) | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Null => {
                self.unparsed(e.range, "constant condition")
            }
            ExprKind::Arith { .. } | ExprKind::Neg(_) => {
                self.unparsed(e.range, "arithmetic used as a condition")
            }
        }
    }

    fn compare(&mut self, e: &Expr, op: CmpOp, lhs: &Expr, rhs: &Expr) -> Condition {
        // Literal on the left: flip so the field comes first.
        let (lhs, rhs, op) = if literal(lhs).is_some()
            && literal(rhs).is_none()
            && !matches!(rhs.kind, ExprKind::Null)
        {
            (rhs, lhs, flip(op))
        } else {
            (lhs, rhs, op)
        };
        if matches!(rhs.kind, ExprKind::Null) {
            let exists = op == CmpOp::Ne;
            if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return self.unparsed(e.range, "ordering comparison with null");
            }
            return self.operator(
                e,
                Op::Exists,
                false,
                false,
                lhs,
                &[Expr::new(ExprKind::Bool(exists), rhs.range)],
            );
        }
        let model_op = match op {
            CmpOp::Eq => Op::Eq,
            CmpOp::Ne => Op::Ne,
            CmpOp::Lt => Op::Lt,
            CmpOp::Le => Op::Le,
            CmpOp::Gt => Op::Gt,
            CmpOp::Ge => Op::Ge,
        };
        let cs = matches!(op, CmpOp::Eq | CmpOp::Ne)
            && matches!(literal(rhs), Some(Value::Str(_)) | None);
        self.operator(e, model_op, cs, false, lhs, std::slice::from_ref(rhs))
    }

    fn matching(
        &mut self,
        e: &Expr,
        op: MatchOp,
        insensitive: bool,
        negated: bool,
        lhs: &Expr,
        patterns: &[Expr],
    ) -> Condition {
        match op {
            MatchOp::Like => self.operator(e, Op::Wildcard, !insensitive, negated, lhs, patterns),
            MatchOp::Regex => {
                self.operator(e, Op::RegexMatch, !insensitive, negated, lhs, patterns)
            }
            MatchOp::Colon => {
                if let [single] = patterns
                    && matches!(single.kind, ExprKind::Null)
                {
                    return self.operator(
                        e,
                        Op::Exists,
                        false,
                        negated,
                        lhs,
                        &[Expr::new(ExprKind::Bool(false), single.range)],
                    );
                }
                let wild = patterns
                    .iter()
                    .any(|p| matches!(&p.kind, ExprKind::Str(s) if has_wildcard(s)));
                let op = if wild {
                    Op::Wildcard
                } else if patterns.len() > 1 {
                    Op::In
                } else {
                    Op::Eq
                };
                self.operator(e, op, false, negated, lhs, patterns)
            }
        }
    }

    /// Built-in functions in boolean position.
    fn call(&mut self, e: &Expr, name: &str, insensitive: bool, args: &[Expr]) -> Condition {
        let op = match name.to_ascii_lowercase().as_str() {
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "stringcontains" => Op::Contains,
            "cidrmatch" => Op::Cidr,
            "wildcard" => Op::Wildcard,
            "match" | "matchlite" => Op::RegexMatch,
            _ => return self.unparsed(e.range, format!("function not supported: {name}")),
        };
        let Some((subject, rest)) = args.split_first() else {
            return self.unparsed(e.range, format!("function without arguments: {name}"));
        };
        if rest.is_empty() {
            return self.unparsed(e.range, format!("function without a pattern: {name}"));
        }
        // Python EQL's `wildcard` and `match` are case-insensitive; Elasticsearch's string
        // functions are case-sensitive unless suffixed with `~`.
        let cs = match op {
            Op::Cidr | Op::Wildcard => false,
            _ => !insensitive,
        };
        // `startsWith("literal", field)` reads the other way round: keep it as a join.
        self.operator(e, op, cs, false, subject, rest)
    }

    /// The common case: `subject op values`.
    fn operator(
        &mut self,
        e: &Expr,
        op: Op,
        cs: bool,
        negative: bool,
        subject: &Expr,
        values: &[Expr],
    ) -> Condition {
        let lits: Option<Vec<Value>> = values.iter().map(literal).collect();
        let subject_kind = classify(subject);
        let Some(lits) = lits else {
            return self.field_to_field(e, op, cs, negative, subject, values);
        };
        // Case only matters for text.
        let cs = cs && lits.iter().any(|v| matches!(v, Value::Str(_)));
        let finish = |mut p: Predicate| {
            p.case_sensitive = cs;
            if negative {
                p = p.negative_op();
            }
            p
        };
        match subject_kind {
            Subject::Field(name) => {
                let p = finish(Predicate::new(name, op, lits));
                self.pred(p, e.range)
            }
            Subject::Computed(name) => {
                let p = finish(Predicate::new(name, op, lits))
                    .computed(true)
                    .context("expr", subject.range.slice(self.text));
                self.pred(p, e.range)
            }
            Subject::Literal => self.unparsed(e.range, "comparison of constants"),
            Subject::Several => self.field_to_field(e, op, cs, negative, subject, values),
        }
    }

    /// A comparison that relates fields to each other: a `join` predicate on the first field.
    fn field_to_field(
        &mut self,
        e: &Expr,
        op: Op,
        cs: bool,
        negative: bool,
        subject: &Expr,
        values: &[Expr],
    ) -> Condition {
        let mut fields = Vec::new();
        subject.fields(&mut fields);
        let lhs_count = fields.len();
        for v in values {
            v.fields(&mut fields);
        }
        let Some(first) = fields.first().map(|s| (*s).to_string()) else {
            return self.unparsed(e.range, "comparison of constants");
        };
        let mut others: Vec<String> = Vec::new();
        for f in fields.iter().skip(1) {
            if *f != first && !others.iter().any(|o| o == f) {
                others.push((*f).to_string());
            }
        }
        let lits: Vec<Value> = values.iter().filter_map(literal).collect();
        let mut p = Predicate::new(first, op, lits)
            .kind(PredicateKind::Join)
            .case_sensitive(cs);
        p.computed = lhs_count == 0
            || !is_plain_field(subject)
            || values
                .iter()
                .any(|v| !is_plain_field(v) && literal(v).is_none());
        p = p
            .context("other_fields", others)
            .context("expr", e.range.slice(self.text));
        if negative {
            p = p.negative_op();
        }
        self.pred(p, e.range)
    }
}

enum Subject {
    /// A field, possibly through type conversions.
    Field(String),
    /// One field inside functions or arithmetic.
    Computed(String),
    Literal,
    /// More than one distinct field.
    Several,
}

fn classify(e: &Expr) -> Subject {
    match &e.kind {
        ExprKind::Field { name, .. } => Subject::Field(name.clone()),
        ExprKind::Call { name, args, .. }
            if args.len() == 1
                && TRANSPARENT
                    .iter()
                    .any(|t| name.text.eq_ignore_ascii_case(t)) =>
        {
            args.first().map_or(Subject::Literal, classify)
        }
        _ => {
            let mut fields = Vec::new();
            e.fields(&mut fields);
            match fields.first() {
                None => Subject::Literal,
                Some(f) if fields.iter().all(|x| x == f) => Subject::Computed((*f).to_string()),
                Some(_) => Subject::Several,
            }
        }
    }
}

/// A field, possibly through type conversions (`string(source.ip)`).
fn is_plain_field(e: &Expr) -> bool {
    matches!(classify(e), Subject::Field(_))
}

fn literal(e: &Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Str(s) => Some(Value::Str(s.clone())),
        ExprKind::Int(i) => Some(Value::Int(*i)),
        ExprKind::Float(f) => Some(Value::Float(*f)),
        ExprKind::Bool(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}
