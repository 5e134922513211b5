//! Panther SQL (Snowflake dialect): scheduled and saved queries.
//!
//! [`parse`] reads the query with `sqlparser`'s Snowflake dialect (its recursion limit bounds
//! the tree); [`lower`] lowers every `WHERE` (of the main query, CTEs, derived tables and set
//! operations) and every `HAVING` (as `threshold` predicates). Panther's time macros
//! (`p_occurs_since(...)`...) are time windows and are skipped; Jinja-templated queries are
//! reported, not guessed.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    Condition, DepthGuard, Lowered, Op, Parsed, Predicate, PredicateKind, Unparsed, Value,
};
use ruleatlas_text::{LineIndex, TextRange};
use sqlparser::ast::{
    self as sa, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, InTarget,
    JsonPathElem, SetExpr, Spanned, Statement, TableFactor, UnaryOperator,
};
use sqlparser::dialect::SnowflakeDialect;
use sqlparser::parser::Parser;

/// A parsed query: its statements and text (for spans).
#[derive(Debug, Default)]
pub struct Ast {
    pub statements: Vec<Statement>,
    pub text: String,
}

/// What lowering SQL needs (nothing yet; kept for the crate interface).
#[derive(Debug, Default, Clone)]
pub struct LowerContext;

/// Panther macros that only bound time.
const TIME_MACROS: &[&str] = &[
    "p_occurs_since",
    "p_occurs_between",
    "p_occurs_after",
    "p_occurs_before",
    "p_occurs_around",
];

/// Parses Snowflake SQL.
#[must_use]
pub fn parse(text: &str) -> Parsed<Ast> {
    let mut diagnostics = Vec::new();
    if let Some(i) = text.find("{{").or_else(|| text.find("{%")) {
        diagnostics.push(
            Diagnostic::error("sql", "templated SQL (Jinja) is not supported")
                .with_range(TextRange::empty(i)),
        );
        return Parsed {
            ast: Ast {
                statements: Vec::new(),
                text: text.to_string(),
            },
            diagnostics,
        };
    }
    let dialect = SnowflakeDialect {};
    let cleaned = blank_time_macros(text);
    let res = Parser::new(&dialect)
        .with_recursion_limit(64)
        .try_with_sql(&cleaned)
        .and_then(|mut p| p.parse_statements());
    match res {
        Ok(statements) => Parsed {
            ast: Ast {
                statements,
                text: text.to_string(),
            },
            diagnostics,
        },
        Err(e) => {
            let msg = e.to_string();
            let idx = LineIndex::new(text);
            let off = error_offset(&msg, text, &idx).unwrap_or(0);
            diagnostics.push(Diagnostic::error("sql", msg).with_range(TextRange::empty(off)));
            Parsed {
                ast: Ast {
                    statements: Vec::new(),
                    text: text.to_string(),
                },
                diagnostics,
            }
        }
    }
}

/// Panther's time macros (`p_occurs_since(1 hour)`) are not always valid SQL; they only bound
/// time, so each call is replaced by `TRUE` padded to the same length (offsets stay valid).
fn blank_time_macros(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = text.as_bytes().to_vec();
    let mut from = 0;
    while let Some(i) = lower[from..].find("p_occurs_").map(|i| i + from) {
        let bytes = lower.as_bytes();
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        if j >= bytes.len() || bytes[j] != b'(' {
            from = j.max(i + 1);
            continue;
        }
        let mut depth = 0usize;
        let mut k = j;
        while k < bytes.len() {
            match bytes[k] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        if k >= bytes.len() {
            break;
        }
        for (n, b) in out[i..=k].iter_mut().enumerate() {
            if *b != b'\n' {
                *b = if n < 4 { b"TRUE"[n] } else { b' ' };
            }
        }
        from = k + 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn error_offset(msg: &str, text: &str, idx: &LineIndex) -> Option<usize> {
    let l = msg.find("Line: ")?;
    let rest = &msg[l + 6..];
    let line: u32 = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let c = rest.find("Column: ")?;
    let col: usize = rest[c + 8..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let start = idx.line_start(line)?;
    let line_text = &text[start..];
    Some(
        start
            + line_text
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(0, |(i, _)| i),
    )
}

/// Lowers every WHERE and HAVING of the query.
#[must_use]
pub fn lower(ast: &Ast, _ctx: &LowerContext) -> Lowered {
    let mut lw = Lower {
        out: Lowered::default(),
        idx: LineIndex::new(&ast.text),
        text: &ast.text,
        guard: DepthGuard::default(),
    };
    let mut items = Vec::new();
    for st in &ast.statements {
        if let Statement::Query(q) = st {
            lw.query(q, &mut items);
        }
    }
    lw.out.tree = if items.is_empty() {
        Condition::Const(true)
    } else {
        Condition::and(items)
    };
    lw.out
}

/// SQL `LIKE` wildcards (`%`, `_`) as glob wildcards (`*`, `?`).
fn like_to_glob(p: &str) -> String {
    p.chars()
        .map(|ch| match ch {
            '%' => '*',
            '_' => '?',
            other => other,
        })
        .collect()
}

struct Lower<'t> {
    out: Lowered,
    idx: LineIndex,
    text: &'t str,
    guard: DepthGuard,
}

enum Operand {
    Col(String, bool),
    Lit(Value),
    Null,
    Agg(String),
    Time,
    Other,
}

impl Lower<'_> {
    fn range(&self, e: &impl Spanned) -> Option<TextRange> {
        let s = e.span();
        if s.start.line == 0 {
            return None;
        }
        let line = u32::try_from(s.start.line).ok()?;
        let start = self.idx.line_start(line)?;
        let col = usize::try_from(s.start.column).ok()?;
        let off = start
            + self.text[start..]
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(0, |(i, _)| i);
        Some(TextRange::empty(off))
    }

    fn unparsed(&mut self, e: &Expr, reason: impl Into<String>) -> Condition {
        let mut u = Unparsed::new(e.to_string(), reason);
        u.span = self.range(e);
        self.out.unparsed(u)
    }

    fn query(&mut self, q: &sa::Query, items: &mut Vec<Condition>) {
        if self.guard.enter().is_err() {
            return;
        }
        if let Some(w) = &q.with {
            for cte in &w.cte_tables {
                self.query(&cte.query, items);
            }
        }
        self.set_expr(&q.body, items);
        self.guard.leave();
    }

    fn set_expr(&mut self, s: &SetExpr, items: &mut Vec<Condition>) {
        if self.guard.enter().is_err() {
            return;
        }
        match s {
            SetExpr::Select(sel) => {
                for t in &sel.from {
                    self.table(&t.relation, items);
                    for j in &t.joins {
                        self.table(&j.relation, items);
                    }
                }
                if let Some(w) = &sel.selection {
                    let c = self.cond(w, false);
                    items.push(c);
                }
                if let Some(h) = &sel.having {
                    let c = self.cond(h, true);
                    items.push(c);
                }
            }
            SetExpr::Query(q) => self.query(q, items),
            SetExpr::SetOperation { left, right, .. } => {
                let mut l = Vec::new();
                let mut r = Vec::new();
                self.set_expr(left, &mut l);
                self.set_expr(right, &mut r);
                items.push(Condition::or(vec![Condition::and(l), Condition::and(r)]));
            }
            _ => {}
        }
        self.guard.leave();
    }

    fn table(&mut self, t: &TableFactor, items: &mut Vec<Condition>) {
        if let TableFactor::Derived { subquery, .. } = t {
            self.query(subquery, items);
        }
    }

    fn column(e: &Expr) -> Option<String> {
        match e {
            Expr::Identifier(i) => Some(i.value.clone()),
            Expr::CompoundIdentifier(parts) => {
                let names: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
                // `alias.col` -> `col`; longer paths keep everything after the qualifier.
                Some(if names.len() >= 2 {
                    names[1..].join(".")
                } else {
                    names.join(".")
                })
            }
            Expr::JsonAccess { value, path } => {
                let mut base = match &**value {
                    Expr::Function(f) if Self::func_name(f) == "parse_json" => {
                        Self::args(f).first().and_then(|x| Self::column(x))?
                    }
                    other => Self::column(other)?,
                };
                for el in &path.path {
                    match el {
                        JsonPathElem::Dot { key, .. } => {
                            base.push('.');
                            base.push_str(key);
                        }
                        JsonPathElem::Bracket { key } => {
                            if let Expr::Value(v) = key
                                && let sa::Value::SingleQuotedString(s)
                                | sa::Value::DoubleQuotedString(s) = &v.value
                            {
                                base.push('.');
                                base.push_str(s);
                            }
                        }
                        _ => {}
                    }
                }
                Some(base)
            }
            Expr::Nested(x) => Self::column(x),
            Expr::Cast { expr, .. } => Self::column(expr),
            _ => None,
        }
    }

    fn args(f: &sa::Function) -> Vec<&Expr> {
        match &f.args {
            FunctionArguments::List(l) => l
                .args
                .iter()
                .filter_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Some(x),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn array_literal(&self, e: &Expr) -> Option<Vec<Value>> {
        let items: Vec<&Expr> = match e {
            Expr::Function(f) if Self::func_name(f) == "array_construct" => Self::args(f),
            Expr::Array(a) => a.elem.iter().collect(),
            _ => return None,
        };
        items
            .into_iter()
            .map(|x| match self.operand(x) {
                Operand::Lit(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    fn func_name(f: &sa::Function) -> String {
        f.name.to_string().to_ascii_lowercase()
    }

    fn operand(&self, e: &Expr) -> Operand {
        if let Some(c) = Self::column(e) {
            if c.starts_with("p_event_time") || c.starts_with("p_occurs") {
                return Operand::Time;
            }
            return Operand::Col(c, false);
        }
        match e {
            Expr::Value(v) => match &v.value {
                sa::Value::Number(n, _) => Operand::Lit(Value::number_or_string(n)),
                sa::Value::SingleQuotedString(s) | sa::Value::DoubleQuotedString(s) => {
                    Operand::Lit(Value::Str(s.clone()))
                }
                sa::Value::Boolean(b) => Operand::Lit(Value::Bool(*b)),
                sa::Value::Null => Operand::Null,
                _ => Operand::Other,
            },
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match self.operand(expr) {
                Operand::Lit(Value::Int(i)) => Operand::Lit(Value::Int(-i)),
                Operand::Lit(Value::Float(f)) => Operand::Lit(Value::Float(-f)),
                _ => Operand::Other,
            },
            Expr::Function(f) => {
                let name = Self::func_name(f);
                let arg = match &f.args {
                    FunctionArguments::List(l) => l.args.first(),
                    _ => None,
                };
                let arg_expr = match arg {
                    Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(x))) => Some(x),
                    _ => None,
                };
                match name.as_str() {
                    "lower" | "upper" => match arg_expr.map(|x| self.operand(x)) {
                        Some(Operand::Col(c, _)) => Operand::Col(c, true),
                        _ => Operand::Other,
                    },
                    "coalesce" | "nvl" | "ifnull" | "to_varchar" | "to_char" | "trim" => {
                        match arg_expr.map(|x| self.operand(x)) {
                            Some(Operand::Col(c, ci)) => Operand::Col(c, ci),
                            _ => Operand::Other,
                        }
                    }
                    "count"
                    | "sum"
                    | "min"
                    | "max"
                    | "avg"
                    | "count_if"
                    | "approx_count_distinct" => Operand::Agg(name),
                    "current_timestamp" | "dateadd" | "timestampadd" | "current_date"
                    | "sysdate" | "getdate" | "timeadd" => Operand::Time,
                    _ => Operand::Other,
                }
            }
            Expr::Nested(x) => self.operand(x),
            Expr::Cast { expr, .. } => self.operand(expr),
            _ => Operand::Other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn pred(
        &mut self,
        e: &Expr,
        field: &str,
        op: Op,
        values: Vec<Value>,
        cs: bool,
        neg: bool,
        threshold: bool,
    ) -> Condition {
        let mut p = Predicate::new(field, op, values).case_sensitive(cs);
        if neg {
            p = p.negative_op();
        }
        if threshold {
            p = p.kind(PredicateKind::Threshold);
        }
        p.span = self.range(e);
        self.out.pred(p)
    }

    fn cond(&mut self, e: &Expr, having: bool) -> Condition {
        if self.guard.enter().is_err() {
            return self.unparsed(e, "nesting too deep");
        }
        let c = self.cond_inner(e, having);
        self.guard.leave();
        c
    }

    #[allow(clippy::too_many_lines)]
    fn cond_inner(&mut self, e: &Expr, having: bool) -> Condition {
        match e {
            Expr::Nested(x) => self.cond(x, having),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                let l = self.cond(left, having);
                let r = self.cond(right, having);
                Condition::and(vec![l, r])
            }
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Or,
                right,
            } => {
                let l = self.cond(left, having);
                let r = self.cond(right, having);
                Condition::or(vec![l, r])
            }
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr,
            } => Condition::not(self.cond(expr, having)),
            Expr::BinaryOp { left, op, right } => {
                let (mut opx, flip) = match op {
                    BinaryOperator::Eq => (Op::Eq, Op::Eq),
                    BinaryOperator::NotEq => (Op::Ne, Op::Ne),
                    BinaryOperator::Gt => (Op::Gt, Op::Lt),
                    BinaryOperator::GtEq => (Op::Ge, Op::Le),
                    BinaryOperator::Lt => (Op::Lt, Op::Gt),
                    BinaryOperator::LtEq => (Op::Le, Op::Ge),
                    other => return self.unparsed(e, format!("operator not supported: {other}")),
                };
                let (l, r) = (self.operand(left), self.operand(right));
                let (field, ci, val, agg) = match (l, r) {
                    (Operand::Time, _) | (_, Operand::Time) => return Condition::Const(true),
                    (Operand::Col(c, ci), Operand::Lit(v)) => (c, ci, v, false),
                    (Operand::Lit(v), Operand::Col(c, ci)) => {
                        opx = flip;
                        (c, ci, v, false)
                    }
                    (Operand::Agg(a), Operand::Lit(v)) => (a, false, v, true),
                    (Operand::Lit(v), Operand::Agg(a)) => {
                        opx = flip;
                        (a, false, v, true)
                    }
                    (Operand::Col(c, _), Operand::Null) => {
                        return self.pred(
                            e,
                            &c,
                            Op::Exists,
                            vec![Value::Bool(opx == Op::Ne)],
                            false,
                            false,
                            false,
                        );
                    }
                    (Operand::Col(a, _), Operand::Col(b, _)) => {
                        let c = self.pred(e, &a, opx, vec![Value::Str(b)], true, false, false);
                        if let Condition::Pred(i) = c
                            && let Some(p) = self.out.predicates.get_mut(i)
                        {
                            p.kind = PredicateKind::Join;
                        }
                        return c;
                    }
                    _ => return self.unparsed(e, "comparison with an expression"),
                };
                let cs = !ci && matches!(opx, Op::Eq | Op::Ne);
                self.pred(e, &field, opx, vec![val], cs, false, having || agg)
            }
            Expr::Like {
                negated,
                expr,
                pattern,
                ..
            }
            | Expr::ILike {
                negated,
                expr,
                pattern,
                ..
            } => {
                let cs = matches!(e, Expr::Like { .. });
                let Operand::Col(c, ci) = self.operand(expr) else {
                    return self.unparsed(e, "LIKE on an expression");
                };
                // `LIKE ANY ('a%', 'b%')` has a tuple of patterns.
                let pats: Vec<&Expr> = match &**pattern {
                    Expr::Tuple(items) => items.iter().collect(),
                    Expr::Nested(x) => vec![&**x],
                    other => vec![other],
                };
                let mut vals = Vec::new();
                for p in pats {
                    let Operand::Lit(Value::Str(p)) = self.operand(p) else {
                        return self.unparsed(e, "LIKE with an expression");
                    };
                    vals.push(p);
                }
                let all_plain = vals.iter().all(|p| !p.contains(['%', '_']));
                let vals: Vec<Value> = vals
                    .into_iter()
                    .map(|p| Value::Str(if all_plain { p } else { like_to_glob(&p) }))
                    .collect();
                let op = match (all_plain, vals.len()) {
                    (true, 1) => Op::Eq,
                    (true, _) => Op::In,
                    _ => Op::Wildcard,
                };
                self.pred(e, &c, op, vals, cs && !ci, *negated, false)
            }
            Expr::RLike {
                negated,
                expr,
                pattern,
                ..
            } => match (self.operand(expr), self.operand(pattern)) {
                (Operand::Col(c, ci), Operand::Lit(Value::Str(p))) => self.pred(
                    e,
                    &c,
                    Op::RegexMatch,
                    vec![Value::Str(p)],
                    !ci,
                    *negated,
                    false,
                ),
                _ => self.unparsed(e, "RLIKE with an expression"),
            },
            Expr::In {
                expr,
                target,
                negated,
                ..
            } => {
                let InTarget::List(list) = target else {
                    return self.unparsed(e, "IN subquery not supported");
                };
                let Operand::Col(c, ci) = self.operand(expr) else {
                    return self.unparsed(e, "IN on an expression");
                };
                let mut vals = Vec::new();
                for x in list {
                    match self.operand(x) {
                        Operand::Lit(v) => vals.push(v),
                        _ => return self.unparsed(e, "IN list with an expression"),
                    }
                }
                self.pred(e, &c, Op::In, vals, !ci, *negated, false)
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let Operand::Col(c, _) = self.operand(expr) else {
                    if matches!(self.operand(expr), Operand::Time) {
                        return Condition::Const(true);
                    }
                    return self.unparsed(e, "BETWEEN on an expression");
                };
                match (self.operand(low), self.operand(high)) {
                    (Operand::Lit(a), Operand::Lit(b)) => {
                        let l = self.pred(e, &c, Op::Ge, vec![a], false, false, having);
                        let h = self.pred(e, &c, Op::Le, vec![b], false, false, having);
                        let both = Condition::and(vec![l, h]);
                        if *negated { Condition::not(both) } else { both }
                    }
                    (Operand::Time, _) | (_, Operand::Time) => Condition::Const(true),
                    _ => self.unparsed(e, "BETWEEN with an expression"),
                }
            }
            Expr::IsNull(x) | Expr::IsNotNull(x) => {
                let exists = matches!(e, Expr::IsNotNull(_));
                match self.operand(x) {
                    Operand::Col(c, _) => self.pred(
                        e,
                        &c,
                        Op::Exists,
                        vec![Value::Bool(exists)],
                        false,
                        false,
                        false,
                    ),
                    Operand::Time => Condition::Const(true),
                    _ => self.unparsed(e, "IS NULL on an expression"),
                }
            }
            Expr::IsTrue(x) | Expr::IsFalse(x) => match self.operand(x) {
                Operand::Col(c, _) => self.pred(
                    e,
                    &c,
                    Op::Eq,
                    vec![Value::Bool(matches!(e, Expr::IsTrue(_)))],
                    false,
                    false,
                    false,
                ),
                _ => self.unparsed(e, "IS TRUE on an expression"),
            },
            Expr::Function(f) => {
                let name = Self::func_name(f);
                if TIME_MACROS.contains(&name.as_str()) {
                    return Condition::Const(true);
                }
                let args = Self::args(f);
                match (name.as_str(), args.as_slice()) {
                    // ARRAY_CONTAINS('x'::VARIANT, col): the array holds the value.
                    ("array_contains", [v, arr])
                        if Self::column(v).is_some() && self.array_literal(arr).is_some() =>
                    {
                        let c = Self::column(v).unwrap_or_default();
                        let vals = self.array_literal(arr).unwrap_or_default();
                        self.pred(e, &c, Op::In, vals, true, false, false)
                    }
                    ("array_contains", [v, arr]) => match (self.operand(v), Self::column(arr)) {
                        (Operand::Lit(val), Some(c)) => {
                            self.pred(e, &c, Op::Contains, vec![val], true, false, false)
                        }
                        _ => self.unparsed(e, format!("function not supported: {name}")),
                    },
                    // ARRAYS_OVERLAP(col, ARRAY_CONSTRUCT(...)): some element is one of the values.
                    ("arrays_overlap", [a, b]) => {
                        let (col, arr) = match (Self::column(a), Self::column(b)) {
                            (Some(c), None) => (c, b),
                            (None, Some(c)) => (c, a),
                            _ => {
                                return self.unparsed(e, format!("function not supported: {name}"));
                            }
                        };
                        match self.array_literal(arr) {
                            Some(vals) => self.pred(e, &col, Op::In, vals, true, false, false),
                            None => self.unparsed(e, format!("function not supported: {name}")),
                        }
                    }
                    _ => self.unparsed(e, format!("function not supported: {name}")),
                }
            }
            Expr::Value(v) if matches!(v.value, sa::Value::Boolean(true)) => Condition::Const(true),
            _ => match self.operand(e) {
                Operand::Col(c, _) => {
                    self.pred(e, &c, Op::Eq, vec![Value::Bool(true)], false, false, false)
                }
                _ => self.unparsed(e, "expression not supported"),
            },
        }
    }
}
