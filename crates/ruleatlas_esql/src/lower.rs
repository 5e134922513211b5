//! Lowering: an ES|QL pipeline to the predicate model.
//!
//! The pipeline is walked in order with a table of the columns commands made: `EVAL`,
//! `STATS`, `GROK`, `DISSECT`, `ENRICH`, `COMPLETION`... make computed columns; `RENAME a AS b`
//! and `EVAL b = a` make aliases, so a later filter on `b` is a filter on `a`. Every `WHERE` is
//! ANDed into the tree. A filter on an aggregate (a `STATS` output, or a column computed from
//! one) is a `threshold` predicate. ES|QL's `==`, `IN`, `LIKE` and `RLIKE` are case-sensitive;
//! `TO_LOWER(x) == "a"` compares `x` case-insensitively.

use std::collections::HashMap;

use ruleatlas_model::{
    Condition, DepthGuard, Lowered, Op, Predicate, PredicateKind, Unparsed, Value,
};
use ruleatlas_text::TextRange;

use crate::ast::{Assignment, CmpOp, Command, CommandKind, Expr, ExprKind, Query};

/// What lowering needs besides the tree (nothing yet; kept for symmetry with other languages).
#[derive(Debug, Clone, Default)]
pub struct LowerContext {}

/// Type conversions: a filter through them is a filter on the field itself.
const TRANSPARENT: &[&str] = &[
    "to_string",
    "to_str",
    "to_ip",
    "to_long",
    "to_integer",
    "to_int",
    "to_double",
    "to_dbl",
    "to_keyword",
    "to_version",
    "to_datetime",
    "to_dt",
    "to_boolean",
    "to_bool",
    "to_unsigned_long",
    "to_ul",
    "to_ulong",
    "to_cartesianpoint",
    "mv_first",
];

/// Case folding: `TO_LOWER(x) == "a"` is a case-insensitive comparison of `x`.
const FOLDING: &[&str] = &["to_lower", "to_upper"];

#[derive(Debug, Clone)]
enum Col {
    /// Another name for a source field.
    Alias(String),
    /// Made inside the query; `aggregate` when it holds (or derives from) an aggregate.
    Computed { expr: String, aggregate: bool },
}

/// A filter's subject, resolved through the column table.
struct Resolved {
    field: String,
    computed: bool,
    aggregate: bool,
    expr: Option<String>,
}

struct Lowerer<'a> {
    text: &'a str,
    out: Lowered,
    columns: HashMap<String, Col>,
    guard: DepthGuard,
    context: Option<(String, serde_json::Value)>,
}

/// Lowers a parsed query. Does not call [`Lowered::finish`]: the caller does.
#[must_use]
pub fn lower(ast: &Query, _ctx: &LowerContext) -> Lowered {
    let mut l = Lowerer {
        text: &ast.source,
        out: Lowered::default(),
        columns: HashMap::new(),
        guard: DepthGuard::default(),
        context: None,
    };
    let tree = l.pipeline(&ast.commands);
    l.out.tree = tree;
    l.out
}

enum Subject {
    Field { name: String, folded: bool },
    Computed(String),
    Constant,
    Several,
}

impl Lowerer<'_> {
    fn unparsed(&mut self, range: TextRange, reason: impl Into<String>) -> Condition {
        let u = Unparsed::new(range.slice(self.text), reason).with_span(range);
        self.out.unparsed(u)
    }

    fn pred(&mut self, mut p: Predicate, range: TextRange) -> Condition {
        if let Some((k, v)) = &self.context {
            p.context.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.out.pred(p.with_span(range))
    }

    fn resolve(&self, name: &str) -> Resolved {
        match self.columns.get(name) {
            Some(Col::Alias(f)) => Resolved {
                field: f.clone(),
                computed: false,
                aggregate: false,
                expr: None,
            },
            Some(Col::Computed { expr, aggregate }) => Resolved {
                field: name.to_string(),
                computed: true,
                aggregate: *aggregate,
                expr: Some(expr.clone()),
            },
            None => Resolved {
                field: name.to_string(),
                computed: false,
                aggregate: false,
                expr: None,
            },
        }
    }

    fn is_aggregate_expr(&self, e: &Expr) -> bool {
        let mut fields = Vec::new();
        e.fields(&mut fields);
        fields.iter().any(|f| {
            matches!(
                self.columns.get(*f),
                Some(Col::Computed {
                    aggregate: true,
                    ..
                })
            )
        })
    }

    fn define(&mut self, a: &Assignment, aggregate: bool) {
        let name = a.name.as_ref().map_or_else(
            || a.expr.range.slice(self.text).to_string(),
            |n| n.text.clone(),
        );
        let col = match &a.expr.kind {
            ExprKind::Field(f) if !aggregate => match self.columns.get(f) {
                Some(c) => c.clone(),
                None => Col::Alias(f.clone()),
            },
            _ => Col::Computed {
                expr: a.expr.range.slice(self.text).to_string(),
                aggregate: aggregate || self.is_aggregate_expr(&a.expr),
            },
        };
        self.columns.insert(name, col);
    }

    fn computed(&mut self, name: &str, expr: &str) {
        self.columns.insert(
            name.to_string(),
            Col::Computed {
                expr: expr.to_string(),
                aggregate: false,
            },
        );
    }

    fn pipeline(&mut self, cmds: &[Command]) -> Condition {
        let mut parts = Vec::new();
        for c in cmds {
            match &c.kind {
                CommandKind::Where(e) => parts.push(self.expr(e)),
                CommandKind::Eval(assigns) | CommandKind::Row(assigns) => {
                    for a in assigns {
                        self.define(a, false);
                    }
                }
                CommandKind::Stats {
                    inline,
                    aggregates,
                    by,
                } => {
                    let mut filters = Vec::new();
                    for agg in aggregates {
                        if let Some(f) = &agg.filter {
                            let name = agg.assign.name.as_ref().map_or_else(
                                || agg.assign.expr.range.slice(self.text).to_string(),
                                |n| n.text.clone(),
                            );
                            self.context = Some(("aggregate".into(), name.into()));
                            filters.push(self.expr(f));
                            self.context = None;
                        }
                    }
                    if !filters.is_empty() {
                        // Each aggregate counts the rows its own filter keeps: rows matter
                        // when any of the filters holds.
                        parts.push(Condition::or(filters));
                    }
                    if !*inline {
                        // Only the aggregates and the groups survive a STATS.
                        let kept: HashMap<String, Col> = by
                            .iter()
                            .filter_map(|b| match (&b.name, &b.expr.kind) {
                                (None, ExprKind::Field(f)) => Some((
                                    f.clone(),
                                    self.columns
                                        .get(f)
                                        .cloned()
                                        .unwrap_or(Col::Alias(f.clone())),
                                )),
                                _ => None,
                            })
                            .collect();
                        let mut old = std::mem::replace(&mut self.columns, kept);
                        std::mem::swap(&mut self.columns, &mut old);
                        let kept_cols = old;
                        for b in by.iter().filter(|b| b.name.is_some()) {
                            self.define(b, false);
                        }
                        let named: Vec<(String, Col)> = by
                            .iter()
                            .filter_map(|b| {
                                b.name.as_ref().and_then(|n| {
                                    self.columns
                                        .get(&n.text)
                                        .cloned()
                                        .map(|c| (n.text.clone(), c))
                                })
                            })
                            .collect();
                        self.columns = kept_cols;
                        self.columns.extend(named);
                    } else {
                        for b in by.iter().filter(|b| b.name.is_some()) {
                            self.define(b, false);
                        }
                    }
                    for agg in aggregates {
                        self.define(&agg.assign, true);
                    }
                }
                CommandKind::Rename(pairs) => {
                    for (old, new) in pairs {
                        let col = self
                            .columns
                            .remove(&old.text)
                            .unwrap_or_else(|| Col::Alias(old.text.clone()));
                        self.columns.insert(new.text.clone(), col);
                    }
                }
                CommandKind::Extract {
                    command, columns, ..
                } => {
                    for col in columns {
                        self.computed(col, command);
                    }
                }
                CommandKind::Enrich {
                    policy, columns, ..
                } => {
                    for col in columns {
                        self.computed(col, &format!("enrich {}", policy.text));
                    }
                }
                CommandKind::Completion { column } => self.computed(column, "completion"),
                CommandKind::ChangePoint { columns } => {
                    for col in columns {
                        self.computed(col, "change_point");
                    }
                }
                CommandKind::LookupJoin { index, on } => {
                    for key in on {
                        let r = self.resolve(&key.text);
                        let p = Predicate::new(r.field, Op::Eq, Vec::new())
                            .kind(PredicateKind::Join)
                            .computed(r.computed)
                            .context("lookup", index.text.clone());
                        parts.push(self.pred(p, key.range));
                    }
                }
                CommandKind::Fork(branches) => {
                    let saved = self.columns.clone();
                    let mut alts = Vec::new();
                    let mut merged = saved.clone();
                    for (i, b) in branches.iter().enumerate() {
                        self.columns = saved.clone();
                        self.context = Some(("fork".into(), (i + 1).into()));
                        alts.push(self.pipeline(b));
                        self.context = None;
                        merged.extend(self.columns.drain());
                    }
                    self.columns = merged;
                    self.computed("_fork", "fork");
                    parts.push(Condition::or(alts));
                }
                CommandKind::Unknown(name) => {
                    let reason = format!("unknown command: {}", name.text.to_ascii_lowercase());
                    parts.push(self.unparsed(c.range, reason));
                }
                CommandKind::Error => parts.push(self.unparsed(c.range, "syntax error")),
                CommandKind::From { .. }
                | CommandKind::Keep(_)
                | CommandKind::Drop(_)
                | CommandKind::Sort
                | CommandKind::Limit
                | CommandKind::MvExpand(_)
                | CommandKind::Sample
                | CommandKind::Other(_) => {}
            }
        }
        Condition::and(parts)
    }

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
            ExprKind::Field(_) | ExprKind::Cast { .. } => self.operator(
                e,
                Op::Eq,
                false,
                false,
                e,
                &[Expr::new(ExprKind::Bool(true), e.range)],
            ),
            ExprKind::Compare { op, lhs, rhs } => self.compare(e, *op, lhs, rhs),
            ExprKind::Like {
                regex,
                negated,
                lhs,
                patterns,
            } => {
                let op = if *regex { Op::RegexMatch } else { Op::Wildcard };
                self.operator(e, op, true, *negated, lhs, patterns)
            }
            // `true IN (a, b)`: any of the boolean expressions holds.
            ExprKind::In { negated, lhs, list } if matches!(lhs.kind, ExprKind::Bool(_)) => {
                let want = matches!(lhs.kind, ExprKind::Bool(true));
                let alts = list
                    .iter()
                    .map(|i| {
                        let c = self.expr(i);
                        if want { c } else { Condition::not(c) }
                    })
                    .collect();
                let any = Condition::or(alts);
                if *negated { Condition::not(any) } else { any }
            }
            ExprKind::In { negated, lhs, list } => {
                self.operator(e, Op::In, true, *negated, lhs, list)
            }
            ExprKind::IsNull { negated, lhs } => self.operator(
                e,
                Op::Exists,
                false,
                false,
                lhs,
                &[Expr::new(ExprKind::Bool(*negated), e.range)],
            ),
            ExprKind::MatchOp { lhs, rhs } => {
                self.operator(e, Op::Match, false, false, lhs, std::slice::from_ref(rhs))
            }
            ExprKind::Call { name, args } => self.call(e, &name.text, args),
            _ => self.unparsed(e.range, "constant condition"),
        }
    }

    fn compare(&mut self, e: &Expr, op: CmpOp, lhs: &Expr, rhs: &Expr) -> Condition {
        let (lhs, rhs, op) = if is_constant(lhs) && !is_constant(rhs) {
            (rhs, lhs, flip(op))
        } else {
            (lhs, rhs, op)
        };
        if matches!(rhs.kind, ExprKind::Null) {
            // `x == null` is never true in ES|QL (three-valued logic); keep what was meant.
            let exists = op == CmpOp::Ne;
            return self.operator(
                e,
                Op::Exists,
                false,
                false,
                lhs,
                &[Expr::new(ExprKind::Bool(exists), rhs.range)],
            );
        }
        // `LOCATE(x, "s") > 0`: x contains "s".
        if let ExprKind::Call { name, args } = &lhs.kind
            && name.text.eq_ignore_ascii_case("locate")
            && let [subject, needle] = args.as_slice()
            && let ExprKind::Int(n) = rhs.kind
        {
            let found = match op {
                CmpOp::Gt if n == 0 => Some(true),
                CmpOp::Ge if n == 1 => Some(true),
                CmpOp::Ne if n == 0 => Some(true),
                CmpOp::Eq if n == 0 => Some(false),
                CmpOp::Le if n == 0 => Some(false),
                CmpOp::Lt if n == 1 => Some(false),
                _ => None,
            };
            if let Some(found) = found {
                return self.operator(
                    e,
                    Op::Contains,
                    true,
                    !found,
                    subject,
                    std::slice::from_ref(needle),
                );
            }
        }
        let model_op = match op {
            CmpOp::Eq => Op::Eq,
            CmpOp::Ne => Op::Ne,
            CmpOp::Lt => Op::Lt,
            CmpOp::Le => Op::Le,
            CmpOp::Gt => Op::Gt,
            CmpOp::Ge => Op::Ge,
        };
        self.operator(
            e,
            model_op,
            matches!(op, CmpOp::Eq | CmpOp::Ne),
            false,
            lhs,
            std::slice::from_ref(rhs),
        )
    }

    fn call(&mut self, e: &Expr, name: &str, args: &[Expr]) -> Condition {
        let lower = name.to_ascii_lowercase();
        if lower == "kql" || lower == "qstr" {
            return self.embedded_query(e, &lower, args);
        }
        let (op, cs) = match lower.as_str() {
            "starts_with" => (Op::StartsWith, true),
            "ends_with" => (Op::EndsWith, true),
            "contains" => (Op::Contains, true),
            "cidr_match" => (Op::Cidr, false),
            "mv_contains" => (Op::Eq, true),
            "match" | "match_phrase" | "multi_match" => (Op::Match, false),
            _ => return self.unparsed(e.range, format!("function not supported: {lower}")),
        };
        let Some((subject, rest)) = args.split_first() else {
            return self.unparsed(e.range, format!("function without arguments: {lower}"));
        };
        // Options maps (`{"fuzziness": 1}`) do not filter.
        let rest: Vec<Expr> = rest
            .iter()
            .filter(|a| !matches!(a.kind, ExprKind::Map))
            .cloned()
            .collect();
        if rest.is_empty() {
            return self.unparsed(e.range, format!("function without a pattern: {lower}"));
        }
        let rest = match rest.as_slice() {
            [
                Expr {
                    kind: ExprKind::List(items),
                    ..
                },
            ] => items.clone(),
            _ => rest,
        };
        self.operator(e, op, cs, false, subject, &rest)
    }

    /// `KQL("...")`: the string is a KQL query; its predicates join ours, spans shifted.
    fn embedded_query(&mut self, e: &Expr, lang: &str, args: &[Expr]) -> Condition {
        let [
            Expr {
                kind: ExprKind::Str(q),
                range,
            },
        ] = args
        else {
            return self.unparsed(e.range, format!("function not supported: {lang}"));
        };
        if lang != "kql" {
            return self.unparsed(e.range, format!("function not supported: {lang}"));
        }
        let lit = range.slice(self.text);
        let offset = range.start as usize + if lit.starts_with("\"\"\"") { 3 } else { 1 };
        let mut l = ruleatlas_kql::lower_query(q);
        for p in &mut l.predicates {
            p.span = p.span.map(|s| s.shift(offset));
        }
        for u in &mut l.unparsed {
            u.span = u.span.map(|s| s.shift(offset));
        }
        for d in &mut l.diagnostics {
            d.range = d.range.map(|s| s.shift(offset));
        }
        self.out.absorb(l)
    }

    fn classify(&self, e: &Expr) -> Subject {
        match &e.kind {
            ExprKind::Field(name) => Subject::Field {
                name: name.clone(),
                folded: false,
            },
            ExprKind::Cast { expr, .. } => self.classify(expr),
            ExprKind::Call { name, args } if args.len() == 1 => {
                let n = name.text.to_ascii_lowercase();
                let inner = args.first().map_or(Subject::Constant, |a| self.classify(a));
                if TRANSPARENT.contains(&n.as_str()) {
                    return inner;
                }
                if FOLDING.contains(&n.as_str())
                    && let Subject::Field { name, .. } = inner
                {
                    return Subject::Field { name, folded: true };
                }
                self.classify_general(e)
            }
            _ => self.classify_general(e),
        }
    }

    fn classify_general(&self, e: &Expr) -> Subject {
        let mut fields = Vec::new();
        e.fields(&mut fields);
        match fields.first() {
            None => Subject::Constant,
            Some(f) if fields.iter().all(|x| x == f) => Subject::Computed((*f).to_string()),
            Some(_) => Subject::Several,
        }
    }

    /// `subject op values`: the common shape of every filter.
    fn operator(
        &mut self,
        e: &Expr,
        op: Op,
        cs: bool,
        negative: bool,
        subject: &Expr,
        values: &[Expr],
    ) -> Condition {
        let values = match values {
            [
                Expr {
                    kind: ExprKind::List(items),
                    ..
                },
            ] => items.as_slice(),
            v => v,
        };
        let lits: Option<Vec<Value>> = values.iter().map(|v| self.value(v)).collect();
        let Some(lits) = lits else {
            return self.field_to_field(e, op, negative, subject, values);
        };
        let cs = cs && lits.iter().any(|v| matches!(v, Value::Str(_)));
        let (name, folded, through) = match self.classify(subject) {
            Subject::Field { name, folded } => (name, folded, None),
            Subject::Computed(name) => (
                name,
                false,
                Some(subject.range.slice(self.text).to_string()),
            ),
            Subject::Constant => return self.unparsed(e.range, "comparison of constants"),
            Subject::Several => return self.field_to_field(e, op, negative, subject, values),
        };
        let r = self.resolve(&name);
        let mut p = Predicate::new(r.field, op, lits).case_sensitive(cs && !folded);
        if negative {
            p = p.negative_op();
        }
        if r.computed || through.is_some() {
            p = p.computed(true);
        }
        if r.aggregate {
            p = p.kind(PredicateKind::Threshold);
        }
        if let Some(x) = through.or(r.expr) {
            p = p.context("expr", x);
        }
        self.pred(p, e.range)
    }

    fn field_to_field(
        &mut self,
        e: &Expr,
        op: Op,
        negative: bool,
        subject: &Expr,
        values: &[Expr],
    ) -> Condition {
        let mut fields = Vec::new();
        subject.fields(&mut fields);
        for v in values {
            v.fields(&mut fields);
        }
        let Some(first) = fields.first().map(|s| (*s).to_string()) else {
            return self.unparsed(e.range, "comparison of constants");
        };
        let mut others: Vec<String> = Vec::new();
        for f in fields.iter().skip(1) {
            let r = self.resolve(f).field;
            if *f != first && !others.contains(&r) {
                others.push(r);
            }
        }
        let r = self.resolve(&first);
        let aggregate = r.aggregate || self.is_aggregate_expr(e);
        let lits: Vec<Value> = values.iter().filter_map(|v| self.value(v)).collect();
        let mut p = Predicate::new(r.field, op, lits)
            .kind(if aggregate {
                PredicateKind::Threshold
            } else {
                PredicateKind::Join
            })
            .computed(true)
            .context("other_fields", others)
            .context("expr", e.range.slice(self.text));
        if negative {
            p = p.negative_op();
        }
        self.pred(p, e.range)
    }

    /// A value: a literal, or a constant expression kept as written (`now() - 7 day`, `?param`).
    fn value(&self, e: &Expr) -> Option<Value> {
        match &e.kind {
            ExprKind::Str(s) => Some(Value::Str(s.clone())),
            ExprKind::Int(i) => Some(Value::Int(*i)),
            ExprKind::Float(f) => Some(Value::Float(*f)),
            ExprKind::Bool(b) => Some(Value::Bool(*b)),
            ExprKind::Null => None,
            _ if is_constant(e) => Some(Value::Str(e.range.slice(self.text).to_string())),
            _ => None,
        }
    }
}

fn is_constant(e: &Expr) -> bool {
    let mut fields = Vec::new();
    e.fields(&mut fields);
    fields.is_empty() && !matches!(e.kind, ExprKind::Null)
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
