//! Lowering a YARA-L rule into the predicate model.
//!
//! - `events:` is the AND of its statements. Each statement belongs to the one event
//!   variable it filters (`$e.metadata.event_type = "USER_LOGIN"` gives a predicate on
//!   `metadata.event_type` with `context.event = "$e"`); statements naming several event
//!   variables (joins) are shared.
//! - `condition:` decides how the event variables combine: `$e` stands for that variable's
//!   statements, `$e1 or $e2` keeps the alternative, `!$e` is an `absence` predicate (the
//!   absent event's own filters stay, marked `context.absent = true`), `#e > 5` and
//!   `$outcome > 10` are `threshold` predicates.
//! - Placeholders (`$user`) bound to a field are `join` predicates; a comparison of a
//!   placeholder with a constant is lowered on the field(s) the placeholder is bound to.
//! - Conditions inside `outcome:` expressions (`if(cond, ...)`) are `scoring` predicates.
//!   They cannot drop events, so they sit in the tree under `Or(true, ...)` (reachable, never
//!   filtering) and anything in them we cannot read is skipped silently.
//! - Map access keeps its key as written: `security_result.detection_fields["key"]`;
//!   repeated `key`/`value` pairs stay `labels.key` / `labels.value`.

use std::collections::{BTreeMap, BTreeSet};

use ruleatlas_model::{
    Condition, DepthGuard, Lowered, Op, Predicate, PredicateKind, Unparsed, Value,
};
use ruleatlas_text::TextRange;

use crate::ast::{CmpOp, Expr, ExprKind, InKind, Quantifier, Rule, RuleFile, Stmt};

/// What lowering needs beyond the syntax tree. Nothing today: YARA-L rules are
/// self-contained (reference lists are named, not expanded).
#[derive(Debug, Clone, Default)]
pub struct LowerContext {}

/// Lowers every rule of a file; a file with several rules matches when any rule does.
/// The result is not finished: call [`Lowered::finish`] once.
#[must_use]
pub fn lower(ast: &RuleFile, ctx: &LowerContext) -> Lowered {
    let mut out = Lowered::default();
    let mut alts = Vec::new();
    for rule in &ast.rules {
        let l = lower_rule(rule, ctx);
        alts.push(out.absorb(l));
    }
    out.tree = match alts.len() {
        0 => Condition::Const(true),
        1 => alts.pop().unwrap_or(Condition::Const(true)),
        _ => Condition::or(alts),
    };
    out
}

/// Lowers one rule (`text` offsets stay file offsets). Not finished: call
/// [`Lowered::finish`] once after any additions.
#[must_use]
pub fn lower_rule(rule: &Rule, _ctx: &LowerContext) -> Lowered {
    let mut lw = Lowerer::new(rule);
    lw.run(rule);
    lw.l
}

/// An event field a predicate applies to.
struct Target {
    field: String,
    var: String,
    fold_case: bool,
    placeholder: Option<String>,
}

struct Lowerer<'r> {
    l: Lowered,
    guard: DepthGuard,
    event_vars: BTreeSet<String>,
    outcome_vars: BTreeSet<String>,
    /// Placeholder -> the expressions it is bound to in `events:`.
    bindings: BTreeMap<String, Vec<&'r Expr>>,
    /// Placeholders being substituted (to stop `$a = $b`, `$b = $a` loops).
    substituting: Vec<String>,
    /// Inside an outcome expression: predicates are `scoring`, unreadable parts are skipped.
    scoring: bool,
}

fn collect_fields<'e>(e: &'e Expr, out: &mut Vec<(&'e str, &'e Expr)>, depth: usize) {
    if depth > 256 {
        return;
    }
    match &e.kind {
        ExprKind::Field { var, .. } => out.push((var, e)),
        ExprKind::Or(v) | ExprKind::And(v) | ExprKind::List(v) | ExprKind::Call { args: v, .. } => {
            for i in v {
                collect_fields(i, out, depth + 1);
            }
        }
        ExprKind::Not(i)
        | ExprKind::Nocase(i)
        | ExprKind::Neg(i)
        | ExprKind::Quant { expr: i, .. } => {
            collect_fields(i, out, depth + 1);
        }
        ExprKind::In { expr, .. } => collect_fields(expr, out, depth + 1),
        ExprKind::Compare { lhs, rhs, .. } => {
            collect_fields(lhs, out, depth + 1);
            collect_fields(rhs, out, depth + 1);
        }
        ExprKind::Sum { first, rest } => {
            collect_fields(first, out, depth + 1);
            for (_, i) in rest {
                collect_fields(i, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn collect_placeholders(e: &Expr, out: &mut BTreeSet<String>, depth: usize) {
    if depth > 256 {
        return;
    }
    match &e.kind {
        ExprKind::Var(v) => {
            out.insert(v.clone());
        }
        ExprKind::Call { args: v, .. } | ExprKind::List(v) => {
            for i in v {
                collect_placeholders(i, out, depth + 1);
            }
        }
        ExprKind::Neg(i) => collect_placeholders(i, out, depth + 1),
        ExprKind::Sum { first, rest } => {
            collect_placeholders(first, out, depth + 1);
            for (_, i) in rest {
                collect_placeholders(i, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// A constant operand: its value, or a regex pattern with its flags.
enum Lit {
    Value(Value),
    Regex { pattern: String, insensitive: bool },
    Null,
}

fn literal(e: &Expr) -> Option<Lit> {
    Some(match &e.kind {
        ExprKind::Str(s) | ExprKind::Raw(s) => Lit::Value(Value::Str(s.clone())),
        // A bare word is an unquoted enum value; a dotted one is a UDM path (search syntax).
        ExprKind::Word(s) if !s.contains('.') => Lit::Value(Value::Str(s.clone())),
        ExprKind::Int(i) => Lit::Value(Value::Int(*i)),
        ExprKind::Float(f) => Lit::Value(Value::Float(*f)),
        ExprKind::Bool(b) => Lit::Value(Value::Bool(*b)),
        ExprKind::Duration(d) => Lit::Value(Value::Str(d.clone())),
        ExprKind::Null => Lit::Null,
        ExprKind::Regex { pattern, flags } => Lit::Regex {
            pattern: pattern.clone(),
            insensitive: flags.contains('i') || pattern.starts_with("(?i)"),
        },
        _ => return None,
    })
}

fn cmp_to_op(op: CmpOp) -> Op {
    match op {
        CmpOp::Eq => Op::Eq,
        CmpOp::Ne => Op::Ne,
        CmpOp::Gt => Op::Gt,
        CmpOp::Ge => Op::Ge,
        CmpOp::Lt => Op::Lt,
        CmpOp::Le => Op::Le,
    }
}

/// YARA-L's function namespaces: a call into one of them computes a value a rule may
/// compare (`timestamp.get_hour`, `re.capture`, `math.abs`...).
fn is_value_function(name: &str) -> bool {
    const NAMESPACES: &[&str] = &[
        "arrays",
        "bytes",
        "cast",
        "hash",
        "math",
        "net",
        "re",
        "strings",
        "timestamp",
        "window",
        "group",
    ];
    name.split_once('.')
        .is_some_and(|(ns, f)| !f.is_empty() && NAMESPACES.contains(&ns))
}

/// Boolean functions lowered to an operator on their first argument.
fn bool_function_op(name: &str) -> Option<Op> {
    Some(match name {
        "re.regex" => Op::RegexMatch,
        "strings.contains" => Op::Contains,
        "strings.starts_with" => Op::StartsWith,
        "strings.ends_with" => Op::EndsWith,
        "net.ip_in_range_cidr" => Op::Cidr,
        // Any element of the array equals the value.
        "arrays.contains" => Op::Eq,
        _ => return None,
    })
}

fn var_ref(v: &str) -> String {
    format!("${v}")
}

impl<'r> Lowerer<'r> {
    fn new(rule: &'r Rule) -> Self {
        let mut event_vars = BTreeSet::new();
        let mut bindings: BTreeMap<String, Vec<&'r Expr>> = BTreeMap::new();
        let stmts: Vec<&Expr> = rule
            .events
            .iter()
            .flat_map(|s| &s.stmts)
            .filter_map(|s| match s {
                Stmt::Expr(e) => Some(e),
                Stmt::Error { .. } => None,
            })
            .collect();
        for e in &stmts {
            let mut fields = Vec::new();
            collect_fields(e, &mut fields, 0);
            for (v, _) in fields {
                event_vars.insert(v.to_string());
            }
        }
        for e in &stmts {
            if let ExprKind::Compare {
                op: CmpOp::Eq,
                lhs,
                rhs,
                ..
            } = &e.kind
            {
                for (a, b) in [(lhs, rhs), (rhs, lhs)] {
                    if let ExprKind::Var(v) = &a.kind
                        && !event_vars.contains(v)
                        && !matches!(b.kind, ExprKind::Var(_))
                        && literal(b).is_none()
                    {
                        bindings.entry(v.clone()).or_default().push(b);
                    }
                }
            }
        }
        let outcome_vars = rule
            .outcome
            .iter()
            .flat_map(|o| &o.assigns)
            .map(|a| a.var.clone())
            .collect();
        Self {
            l: Lowered::default(),
            guard: DepthGuard::default(),
            event_vars,
            outcome_vars,
            bindings,
            substituting: Vec::new(),
            scoring: false,
        }
    }

    fn unparsed(&mut self, text: &str, reason: impl Into<String>, span: TextRange) -> Condition {
        if self.scoring {
            return Condition::Const(true);
        }
        self.l.unparsed(Unparsed::new(text, reason).with_span(span))
    }

    fn run(&mut self, rule: &'r Rule) {
        let src_stmts: Vec<&'r Stmt> = rule.events.iter().flat_map(|s| &s.stmts).collect();
        // Per event variable: its statements' conditions; statements over several (or no)
        // event variables are shared.
        let mut groups: BTreeMap<String, Vec<Condition>> = BTreeMap::new();
        let mut shared: Vec<Condition> = Vec::new();
        for stmt in src_stmts {
            match stmt {
                Stmt::Expr(e) => {
                    let mut fields = Vec::new();
                    collect_fields(e, &mut fields, 0);
                    let vars: BTreeSet<&str> = fields.iter().map(|(v, _)| *v).collect();
                    let c = self.bool_expr(e);
                    if vars.len() == 1
                        && let Some(v) = vars.into_iter().next()
                    {
                        groups.entry(v.to_string()).or_default().push(c);
                    } else {
                        shared.push(c);
                    }
                }
                Stmt::Error {
                    span,
                    message,
                    text,
                } => {
                    let c = self.l.unparsed(
                        Unparsed::new(text.clone(), syntax_reason(message)).with_span(*span),
                    );
                    shared.push(c);
                }
            }
        }
        let mut top: Vec<Condition> = Vec::new();
        let mut used: BTreeSet<String> = BTreeSet::new();
        if let Some(cond) = &rule.condition {
            for stmt in &cond.stmts {
                match stmt {
                    Stmt::Expr(e) => {
                        let c = self.condition_expr(e, &mut groups, &mut used);
                        top.push(c);
                    }
                    Stmt::Error {
                        span,
                        message,
                        text,
                    } => {
                        let c = self.l.unparsed(
                            Unparsed::new(text.clone(), syntax_reason(message)).with_span(*span),
                        );
                        top.push(c);
                    }
                }
            }
        }
        // Event variables the condition does not name still filter their events.
        let rest: Vec<Condition> = std::mem::take(&mut groups)
            .into_iter()
            .filter(|(v, _)| !used.contains(v))
            .flat_map(|(_, g)| g)
            .collect();
        let mut all = shared;
        all.extend(rest);
        all.extend(top);
        if let Some(o) = &rule.outcome {
            let scoring = self.outcome(o);
            all.extend(scoring);
        }
        self.l.tree = Condition::and(all);
    }
}

/// A short, stable reason for a statement that did not parse.
fn syntax_reason(message: &str) -> String {
    if message.starts_with("nesting deeper") {
        "nesting too deep".to_string()
    } else {
        "syntax error".to_string()
    }
}

// The lowering proper lives in the impl blocks below, split by section.
impl<'r> Lowerer<'r> {
    /// A `condition:` expression.
    fn condition_expr(
        &mut self,
        e: &Expr,
        groups: &mut BTreeMap<String, Vec<Condition>>,
        used: &mut BTreeSet<String>,
    ) -> Condition {
        if self.guard.enter().is_err() {
            return self
                .l
                .unparsed(Unparsed::new("…", "nesting too deep").with_span(e.span));
        }
        let c = self.condition_inner(e, groups, used);
        self.guard.leave();
        c
    }

    fn take_group(
        &mut self,
        v: &str,
        groups: &mut BTreeMap<String, Vec<Condition>>,
        used: &mut BTreeSet<String>,
    ) -> Condition {
        // A variable named several times (`($e and $r > 5) or #e > 9`) brings its filters
        // each time: the same leaves, so `finish` sees one predicate once.
        used.insert(v.to_string());
        groups
            .get(v)
            .map_or(Condition::Const(true), |g| Condition::and(g.clone()))
    }

    fn condition_inner(
        &mut self,
        e: &Expr,
        groups: &mut BTreeMap<String, Vec<Condition>>,
        used: &mut BTreeSet<String>,
    ) -> Condition {
        match &e.kind {
            ExprKind::And(items) => {
                let v = items
                    .iter()
                    .map(|i| self.condition_expr(i, groups, used))
                    .collect();
                Condition::and(v)
            }
            ExprKind::Or(items) => {
                let v = items
                    .iter()
                    .map(|i| self.condition_expr(i, groups, used))
                    .collect();
                Condition::or(v)
            }
            ExprKind::Var(v) if self.outcome_vars.contains(v) && !self.event_vars.contains(v) => {
                let p = Predicate::new(var_ref(v), Op::Eq, vec![Value::Bool(true)])
                    .kind(PredicateKind::Threshold)
                    .computed(true)
                    .with_span(e.span);
                self.l.pred(p)
            }
            ExprKind::Var(v) => self.take_group(v, groups, used),
            ExprKind::Not(inner) => match &inner.kind {
                ExprKind::Var(v) if !self.outcome_vars.contains(v) => {
                    let before = self.l.predicates.len();
                    let g = self.take_group(v, groups, used);
                    for p in &mut self.l.predicates[before..] {
                        p.context
                            .insert("absent".into(), serde_json::Value::Bool(true));
                    }
                    // The group's predicates were lowered earlier; mark them by context.
                    let ev = var_ref(v);
                    for p in &mut self.l.predicates {
                        if p.context.get("event").and_then(|x| x.as_str()) == Some(ev.as_str()) {
                            p.context
                                .insert("absent".into(), serde_json::Value::Bool(true));
                        }
                    }
                    let abs = Predicate::new(ev.clone(), Op::Exists, vec![Value::Bool(false)])
                        .kind(PredicateKind::Absence)
                        .context("event", ev)
                        .with_span(e.span);
                    let a = self.l.pred(abs);
                    Condition::and(vec![a, g])
                }
                _ => {
                    let c = self.condition_expr(inner, groups, used);
                    Condition::not(c)
                }
            },
            ExprKind::Compare { op, lhs, rhs, .. } => {
                let (subject, value, op) = match (literal(lhs), literal(rhs)) {
                    (None, Some(Lit::Value(v))) => (lhs.as_ref(), v, *op),
                    (Some(Lit::Value(v)), None) => (rhs.as_ref(), v, op.flip()),
                    // `$a > $b`, `#e > #f`: a threshold between aggregates.
                    (None, None)
                        if matches!(lhs.kind, ExprKind::Var(_) | ExprKind::Count(_))
                            && matches!(rhs.kind, ExprKind::Var(_) | ExprKind::Count(_)) =>
                    {
                        let p = Predicate::new(
                            lhs.to_string(),
                            cmp_to_op(*op),
                            vec![Value::Str(rhs.to_string())],
                        )
                        .kind(PredicateKind::Threshold)
                        .computed(true)
                        .with_span(e.span);
                        return self.l.pred(p);
                    }
                    _ => {
                        return self.unparsed(
                            &e.to_string(),
                            "condition comparison not supported",
                            e.span,
                        );
                    }
                };
                match &subject.kind {
                    ExprKind::Count(v) => {
                        let mut p = Predicate::new(format!("#{v}"), cmp_to_op(op), vec![value])
                            .kind(PredicateKind::Threshold)
                            .with_span(e.span);
                        if self.event_vars.contains(v) {
                            p = p.context("event", var_ref(v));
                        }
                        let t = self.l.pred(p);
                        if self.event_vars.contains(v) {
                            let g = self.take_group(v, groups, used);
                            Condition::and(vec![g, t])
                        } else {
                            t
                        }
                    }
                    ExprKind::Var(v) => {
                        let p = Predicate::new(var_ref(v), cmp_to_op(op), vec![value])
                            .kind(PredicateKind::Threshold)
                            .computed(self.outcome_vars.contains(v))
                            .with_span(e.span);
                        self.l.pred(p)
                    }
                    _ => {
                        self.unparsed(&e.to_string(), "condition comparison not supported", e.span)
                    }
                }
            }
            _ => self.unparsed(&e.to_string(), "condition expression not supported", e.span),
        }
    }

    /// Scoring predicates from `if(...)` conditions in `outcome:`.
    fn outcome(&mut self, o: &crate::ast::OutcomeSection) -> Vec<Condition> {
        let mut out = Vec::new();
        for a in &o.assigns {
            let Some(e) = &a.expr else { continue };
            let mut conds = Vec::new();
            find_if_conditions(e, &mut conds, 0);
            if conds.is_empty() {
                continue;
            }
            self.scoring = true;
            let before = self.l.predicates.len();
            let parts: Vec<Condition> = conds.iter().map(|c| self.bool_expr(c)).collect();
            self.scoring = false;
            for p in &mut self.l.predicates[before..] {
                p.kind = PredicateKind::Scoring;
                p.context
                    .insert("outcome".into(), serde_json::Value::String(var_ref(&a.var)));
            }
            let parts: Vec<Condition> = parts
                .into_iter()
                .filter(|c| !matches!(c, Condition::Const(_)))
                .collect();
            if !parts.is_empty() {
                // Or(true, ...): reachable from the tree, never filtering.
                out.push(Condition::Or(vec![
                    Condition::Const(true),
                    Condition::and(parts),
                ]));
            }
        }
        out
    }
}

fn find_if_conditions<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>, depth: usize) {
    if depth > 256 {
        return;
    }
    match &e.kind {
        ExprKind::Call { name, args } => {
            if name.eq_ignore_ascii_case("if") {
                if let Some(c) = args.first() {
                    out.push(c);
                }
                for a in args.iter().skip(1) {
                    find_if_conditions(a, out, depth + 1);
                }
            } else {
                for a in args {
                    find_if_conditions(a, out, depth + 1);
                }
            }
        }
        ExprKind::Sum { first, rest } => {
            find_if_conditions(first, out, depth + 1);
            for (_, i) in rest {
                find_if_conditions(i, out, depth + 1);
            }
        }
        ExprKind::Neg(i) => find_if_conditions(i, out, depth + 1),
        _ => {}
    }
}

/// Which predicate a comparison or call makes once its field is known.
#[derive(Clone)]
struct PredSpec {
    op: Op,
    values: Vec<Value>,
    negative_op: bool,
    kind: PredicateKind,
    /// `nocase` or a regex `i` flag.
    nocase: bool,
    context: Vec<(&'static str, serde_json::Value)>,
    span: TextRange,
}

impl PredSpec {
    fn new(op: Op, values: Vec<Value>, span: TextRange) -> Self {
        Self {
            op,
            values,
            negative_op: false,
            kind: PredicateKind::Filter,
            nocase: false,
            context: Vec::new(),
            span,
        }
    }
}

// Events (and scoring) expressions.
impl<'r> Lowerer<'r> {
    /// A boolean expression of `events:` (or an `if` condition in `outcome:`).
    fn bool_expr(&mut self, e: &Expr) -> Condition {
        if self.guard.enter().is_err() {
            return self.unparsed(&e.to_string(), "nesting too deep", e.span);
        }
        let c = self.bool_inner(e);
        self.guard.leave();
        c
    }

    fn bool_inner(&mut self, e: &Expr) -> Condition {
        match &e.kind {
            ExprKind::Or(items) => {
                let v = items.iter().map(|i| self.bool_expr(i)).collect();
                Condition::or(v)
            }
            ExprKind::And(items) => {
                let v = items.iter().map(|i| self.bool_expr(i)).collect();
                Condition::and(v)
            }
            ExprKind::Not(inner) => {
                let c = self.bool_expr(inner);
                Condition::not(c)
            }
            ExprKind::Quant { quantifier, expr } => {
                let before = self.l.predicates.len();
                let c = self.bool_expr(expr);
                let q = match quantifier {
                    Quantifier::Any => "any",
                    Quantifier::All => "all",
                };
                for p in &mut self.l.predicates[before..] {
                    p.context
                        .insert("quantifier".into(), serde_json::Value::String(q.into()));
                }
                c
            }
            ExprKind::Nocase(inner) => {
                let before = self.l.predicates.len();
                let c = self.bool_expr(inner);
                for p in &mut self.l.predicates[before..] {
                    p.case_sensitive = false;
                }
                c
            }
            ExprKind::Compare {
                op,
                lhs,
                rhs,
                nocase,
            } => self.compare(e, *op, lhs, rhs, *nocase),
            ExprKind::In {
                expr,
                kind,
                list,
                nocase,
            } => {
                let op = match kind {
                    InKind::Plain => Op::In,
                    InKind::Regex => Op::RegexMatch,
                    InKind::Cidr => Op::Cidr,
                };
                let mut spec = PredSpec::new(op, Vec::new(), e.span);
                spec.nocase = *nocase;
                spec.context
                    .push(("reference_list", serde_json::Value::String(list.clone())));
                self.on_subject(expr, &spec, e)
            }
            ExprKind::Call { name, args } => self.bool_call(e, name, args, false),
            ExprKind::Field { .. } => {
                // A bare boolean field.
                let spec = PredSpec::new(Op::Eq, vec![Value::Bool(true)], e.span);
                self.on_subject(e, &spec, e)
            }
            ExprKind::Bool(b) => Condition::Const(*b),
            _ => self.unparsed(&e.to_string(), "expression is not a condition", e.span),
        }
    }

    /// `re.regex(x, "p")`, `strings.contains(x, "s")`, `net.ip_in_range_cidr(x, "c")`...
    fn bool_call(&mut self, whole: &Expr, name: &str, args: &[Expr], nocase: bool) -> Condition {
        let lname = name.to_ascii_lowercase();
        let Some(op) = bool_function_op(&lname) else {
            return self.unparsed(
                &whole.to_string(),
                format!("function not supported: {lname}"),
                whole.span,
            );
        };
        let (Some(subject), Some(arg)) = (args.first(), args.get(1)) else {
            return self.unparsed(
                &whole.to_string(),
                format!("wrong arguments to {lname}"),
                whole.span,
            );
        };
        let value = match literal(arg) {
            Some(Lit::Value(v)) if matches!(v, Value::Str(_)) || lname == "arrays.contains" => v,
            Some(Lit::Regex { pattern, .. }) => Value::Str(pattern),
            // `net.ip_in_range_cidr($e.ip, %ranges)`: the values live in a list.
            None if matches!(arg.kind, ExprKind::RefList(_)) => {
                let mut spec = PredSpec::new(op, Vec::new(), whole.span);
                spec.nocase = nocase;
                if let ExprKind::RefList(list) = &arg.kind {
                    spec.context
                        .push(("reference_list", serde_json::Value::String(list.clone())));
                }
                return self.on_subject(subject, &spec, whole);
            }
            _ => {
                // A pattern from a placeholder or another field: a join.
                let spec = PredSpec {
                    kind: PredicateKind::Join,
                    ..PredSpec::new(op, vec![Value::Str(arg.to_string())], whole.span)
                };
                return self.on_subject(subject, &spec, whole);
            }
        };
        let mut spec = PredSpec::new(op, vec![value], whole.span);
        spec.nocase = nocase
            || matches!(
                literal(arg),
                Some(Lit::Regex {
                    insensitive: true,
                    ..
                })
            );
        if lname == "arrays.contains" {
            spec.context
                .push(("quantifier", serde_json::Value::String("any".into())));
        }
        self.on_subject(subject, &spec, whole)
    }

    fn compare(
        &mut self,
        whole: &Expr,
        op: CmpOp,
        lhs: &Expr,
        rhs: &Expr,
        nocase: bool,
    ) -> Condition {
        // `$e.f = %table.column`: the value is one of a data table's (or list's) entries.
        for (subject, other) in [(lhs, rhs), (rhs, lhs)] {
            if let ExprKind::RefList(list) = &other.kind
                && matches!(op, CmpOp::Eq | CmpOp::Ne)
                && !matches!(subject.kind, ExprKind::RefList(_))
            {
                let mut spec = PredSpec::new(Op::In, Vec::new(), whole.span);
                spec.nocase = nocase;
                spec.negative_op = op == CmpOp::Ne;
                spec.context
                    .push(("reference_list", serde_json::Value::String(list.clone())));
                return self.on_subject(subject, &spec, whole);
            }
        }
        let (subject, lit, op) = match (literal(lhs), literal(rhs)) {
            (None, Some(l)) => (lhs, l, op),
            (Some(l), None) => (rhs, l, op.flip()),
            (None, None) => return self.join(whole, op, lhs, rhs),
            (Some(_), Some(_)) => {
                return self.unparsed(
                    &whole.to_string(),
                    "comparison between constants",
                    whole.span,
                );
            }
        };
        // A boolean function compared with true/false.
        if let (ExprKind::Call { name, args }, Lit::Value(Value::Bool(b))) = (&subject.kind, &lit)
            && bool_function_op(&name.to_ascii_lowercase()).is_some()
            && matches!(op, CmpOp::Eq | CmpOp::Ne)
        {
            let before = self.l.predicates.len();
            let c = self.bool_call(subject, name, args, nocase);
            if (op == CmpOp::Eq) != *b {
                // `f(...) = false` is a negative operator, not a NOT clause.
                for p in &mut self.l.predicates[before..] {
                    p.negated = !p.negated;
                }
            }
            return c;
        }
        if let ExprKind::Count(v) = &subject.kind {
            let Lit::Value(value) = lit else {
                return self.unparsed(
                    &whole.to_string(),
                    "count compared with a non-number",
                    whole.span,
                );
            };
            let mut p = Predicate::new(format!("#{v}"), cmp_to_op(op), vec![value])
                .kind(PredicateKind::Threshold)
                .with_span(whole.span);
            if self.event_vars.contains(v) {
                p = p.context("event", var_ref(v));
            }
            return self.l.pred(p);
        }
        let spec = match lit {
            Lit::Value(v) => {
                let mut s = PredSpec::new(cmp_to_op(op), vec![v], whole.span);
                s.nocase = nocase;
                s
            }
            Lit::Regex {
                pattern,
                insensitive,
            } => {
                let mut s = PredSpec::new(Op::RegexMatch, vec![Value::Str(pattern)], whole.span);
                s.nocase = nocase || insensitive;
                match op {
                    CmpOp::Eq => {}
                    CmpOp::Ne => s.negative_op = true,
                    _ => {
                        return self.unparsed(
                            &whole.to_string(),
                            "regex with an ordering operator",
                            whole.span,
                        );
                    }
                }
                s
            }
            Lit::Null => {
                let exists = op == CmpOp::Ne;
                PredSpec::new(Op::Exists, vec![Value::Bool(exists)], whole.span)
            }
        };
        self.on_subject(subject, &spec, whole)
    }

    /// A comparison with no constant side: field to field, field to placeholder, or a
    /// placeholder bound to a computed value.
    fn join(&mut self, whole: &Expr, op: CmpOp, lhs: &Expr, rhs: &Expr) -> Condition {
        let has_field = |e: &Expr| {
            let mut f = Vec::new();
            collect_fields(e, &mut f, 0);
            !f.is_empty()
        };
        // The subject: a plain field first, then a side holding a field.
        let direct = |e: &Expr| matches!(e.kind, ExprKind::Field { .. });
        let (subject, other, op) = if direct(lhs) {
            (lhs, rhs, op)
        } else if direct(rhs) {
            (rhs, lhs, op.flip())
        } else if has_field(lhs) {
            (lhs, rhs, op)
        } else if has_field(rhs) {
            (rhs, lhs, op.flip())
        } else {
            // No field at all (`$a = $b`, `$x = strings.concat($a, $b)`).
            let p = Predicate::new(
                lhs.to_string(),
                cmp_to_op(op),
                vec![Value::Str(rhs.to_string())],
            )
            .kind(PredicateKind::Join)
            .case_sensitive(true)
            .with_span(whole.span);
            return self.l.pred(p);
        };
        let spec = PredSpec {
            kind: PredicateKind::Join,
            ..PredSpec::new(
                cmp_to_op(op),
                vec![Value::Str(other.to_string())],
                whole.span,
            )
        };
        match &subject.kind {
            ExprKind::Field { .. } => self.on_subject(subject, &spec, whole),
            ExprKind::Call { name, .. }
                if matches!(
                    name.to_ascii_lowercase().as_str(),
                    "strings.to_lower" | "strings.to_upper" | "strings.coalesce"
                ) =>
            {
                self.on_subject(subject, &spec, whole)
            }
            _ => {
                // A computed side (`re.capture(...)`, arithmetic): the join is on its first field.
                let mut fields = Vec::new();
                collect_fields(subject, &mut fields, 0);
                let Some((_, field)) = fields.first() else {
                    return self.unparsed(
                        &whole.to_string(),
                        "comparison not supported",
                        whole.span,
                    );
                };
                let mut spec = spec;
                spec.values = vec![Value::Str(whole.to_string())];
                if let ExprKind::Call { name, .. } = &subject.kind {
                    spec.context.push((
                        "function",
                        serde_json::Value::String(name.to_ascii_lowercase()),
                    ));
                }
                let field: &Expr = field;
                self.on_subject(field, &spec, whole)
            }
        }
    }

    /// Applies `spec` to the field(s) `subject` stands for: a field, a case-folded field
    /// (`strings.to_lower(x)`), any of several (`strings.coalesce(a, b)`), or the fields a
    /// placeholder is bound to.
    fn on_subject(&mut self, subject: &Expr, spec: &PredSpec, whole: &Expr) -> Condition {
        let target = Target {
            field: String::new(),
            var: String::new(),
            fold_case: false,
            placeholder: None,
        };
        self.on_subject_with(subject, spec, whole, &target)
    }

    fn on_subject_with(
        &mut self,
        subject: &Expr,
        spec: &PredSpec,
        whole: &Expr,
        outer: &Target,
    ) -> Condition {
        if self.guard.enter().is_err() {
            return self.unparsed(&whole.to_string(), "nesting too deep", whole.span);
        }
        let c = self.on_subject_inner(subject, spec, whole, outer);
        self.guard.leave();
        c
    }

    fn on_subject_inner(
        &mut self,
        subject: &Expr,
        spec: &PredSpec,
        whole: &Expr,
        outer: &Target,
    ) -> Condition {
        match &subject.kind {
            ExprKind::Field { var, path } => {
                let t = Target {
                    field: Expr::path_text(path),
                    var: var.clone(),
                    fold_case: outer.fold_case,
                    placeholder: outer.placeholder.clone(),
                };
                let p = self.make_pred(&t, spec);
                self.l.pred(p)
            }
            // A UDM path without an event variable (`metadata.event_type = "X"`).
            ExprKind::Word(path) if path.contains('.') => {
                let t = Target {
                    field: path.clone(),
                    var: String::new(),
                    ..clone_target(outer)
                };
                let mut p = self.make_pred(&t, spec);
                p.context.remove("event");
                self.l.pred(p)
            }
            ExprKind::Call { name, args } => {
                let lname = name.to_ascii_lowercase();
                match (lname.as_str(), args.as_slice()) {
                    ("strings.to_lower" | "strings.to_upper", [inner]) => {
                        let t = Target {
                            fold_case: true,
                            ..clone_target(outer)
                        };
                        self.on_subject_with(inner, spec, whole, &t)
                    }
                    ("strings.coalesce", items) if !items.is_empty() => {
                        let v = items
                            .iter()
                            .map(|i| self.on_subject_with(i, spec, whole, outer))
                            .collect();
                        Condition::or(v)
                    }
                    _ if is_value_function(&lname) => self.computed(subject, spec, outer),
                    _ => self.unparsed(
                        &whole.to_string(),
                        format!("function not supported: {lname}"),
                        whole.span,
                    ),
                }
            }
            ExprKind::Sum { .. } | ExprKind::Neg(_) => self.computed(subject, spec, outer),
            ExprKind::Var(v) if !self.event_vars.contains(v) => {
                let Some(bound) = self.bindings.get(v).cloned() else {
                    // A placeholder given a constant (`$x = "abc"`): it binds, it does not
                    // read an event field; keep it as a join on the placeholder.
                    let mut p = Predicate::new(var_ref(v), spec.op, spec.values.clone())
                        .kind(PredicateKind::Join)
                        .with_span(spec.span);
                    if spec.negative_op {
                        p = p.negative_op();
                    }
                    return self.l.pred(p);
                };
                if self.substituting.contains(v) {
                    return self.unparsed(
                        &whole.to_string(),
                        "placeholder bound to itself",
                        whole.span,
                    );
                }
                self.substituting.push(v.clone());
                let t = Target {
                    placeholder: Some(var_ref(v)),
                    ..clone_target(outer)
                };
                let mut parts = Vec::new();
                for b in bound {
                    parts.push(self.on_subject_with(b, spec, whole, &t));
                }
                self.substituting.pop();
                Condition::and(parts)
            }
            _ => self.unparsed(&whole.to_string(), "comparison not supported", whole.span),
        }
    }

    /// A comparison on a value computed inside the rule (`timestamp.get_hour($e.x) < 6`,
    /// `timestamp.current_seconds() - $e.x > 86400`): the expression is the field.
    fn computed(&mut self, subject: &Expr, spec: &PredSpec, outer: &Target) -> Condition {
        let mut fields = Vec::new();
        collect_fields(subject, &mut fields, 0);
        let vars: BTreeSet<&str> = fields.iter().map(|(v, _)| *v).collect();
        let mut var = fields
            .first()
            .map(|(v, _)| (*v).to_string())
            .unwrap_or_default();
        let mut placeholder = outer.placeholder.clone();
        if var.is_empty() {
            // `timestamp.get_hour($ts)` with `$ts` bound to `$e.metadata.event_timestamp.seconds`.
            let mut phs = BTreeSet::new();
            collect_placeholders(subject, &mut phs, 0);
            for ph in phs {
                let bound_var = self.bindings.get(&ph).and_then(|b| {
                    b.iter().find_map(|e| match &e.kind {
                        ExprKind::Field { var, .. } => Some(var.clone()),
                        _ => None,
                    })
                });
                if let Some(v) = bound_var {
                    var = v;
                    placeholder = Some(var_ref(&ph));
                    break;
                }
            }
        }
        let t = Target {
            field: subject.to_string(),
            var,
            placeholder,
            ..clone_target(outer)
        };
        let mut p = self.make_pred(&t, spec).computed(true);
        if t.var.is_empty() {
            p.context.remove("event");
        }
        // Arithmetic over two events (`$b.ts - $a.ts < 300`) relates events: a join.
        if vars.len() >= 2 && p.kind == PredicateKind::Filter {
            p.kind = PredicateKind::Join;
        }
        if let ExprKind::Call { name, .. } = &subject.kind {
            p = p.context("function", name.to_ascii_lowercase());
        }
        self.l.pred(p)
    }

    fn make_pred(&self, t: &Target, spec: &PredSpec) -> Predicate {
        // Case matters for text: string values, regexes, reference lists; not for numbers
        // or CIDR ranges.
        let textual = spec.op != Op::Cidr && spec.values.iter().all(|v| matches!(v, Value::Str(_)));
        let mut p = Predicate::new(t.field.clone(), spec.op, spec.values.clone())
            .case_sensitive(textual && !(spec.nocase || t.fold_case))
            .kind(spec.kind)
            .context("event", var_ref(&t.var))
            .with_span(spec.span);
        if spec.negative_op {
            p = p.negative_op();
        }
        if let Some(ph) = &t.placeholder {
            p = p.context("placeholder", ph.clone());
        }
        for (k, v) in &spec.context {
            p = p.context(k, v.clone());
        }
        p
    }
}

fn clone_target(t: &Target) -> Target {
    Target {
        field: t.field.clone(),
        var: t.var.clone(),
        fold_case: t.fold_case,
        placeholder: t.placeholder.clone(),
    }
}

#[cfg(test)]
mod tests {
    use ruleatlas_model::{Condition, Lowered};

    use crate::{LowerContext, lower, parse};

    fn lowered(src: &str) -> Lowered {
        let p = parse(src);
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        let mut l = lower(&p.ast, &LowerContext::default());
        l.finish();
        l
    }

    #[test]
    fn condition_or_keeps_alternatives() {
        let l = lowered(
            "rule r { events:\n $a.x = \"1\"\n $b.y = \"2\"\n $a.k = $k\n $b.k = $k\n condition:\n $a or $b\n}",
        );
        // Joins of each variable stay with it; the condition is an Or of the two groups.
        let Condition::Or(alts) = &l.tree else {
            panic!("{:?}", l.tree)
        };
        assert_eq!(alts.len(), 2);
        assert_eq!(
            alts[0],
            Condition::And(vec![Condition::Pred(0), Condition::Pred(2)])
        );
        assert_eq!(
            alts[1],
            Condition::And(vec![Condition::Pred(1), Condition::Pred(3)])
        );
    }

    #[test]
    fn absence_is_not_a_negation() {
        let l =
            lowered("rule r { events:\n $a.x = \"1\"\n $m.y = \"2\"\n condition:\n $a and !$m\n}");
        assert!(l.predicates.iter().all(|p| !p.negated && !p.exclusion));
        assert_eq!(l.predicates[2].raw_field, "$m");
        assert_eq!(l.predicates[2].kind.as_str(), "absence");
    }

    #[test]
    fn scoring_never_filters() {
        let l = lowered(
            "rule r { events:\n $e.x = \"1\"\n outcome:\n $s = max(if(not $e.y = \"2\", 5))\n condition:\n $e\n}",
        );
        // The scoring predicate is reachable under Or(true, ...), negated by its own NOT,
        // and not an exclusion.
        let Condition::And(top) = &l.tree else {
            panic!("{:?}", l.tree)
        };
        assert!(matches!(&top[1], Condition::Or(v) if v[0] == Condition::Const(true)));
        assert!(l.predicates[1].negated && !l.predicates[1].exclusion);
        assert_eq!(l.predicates[1].kind.as_str(), "scoring");
    }

    #[test]
    fn several_rules_are_alternatives() {
        let l = lowered(
            "rule a { events:\n $e.x = \"1\"\n condition:\n $e\n}\nrule b { events:\n $e.y = \"2\"\n condition:\n $e\n}",
        );
        assert_eq!(
            l.tree,
            Condition::Or(vec![Condition::Pred(0), Condition::Pred(1)])
        );
    }
}
