//! Lowering: from the SPL tree to the predicate model.
//!
//! A pipeline's filters are ANDed in order. Between filters, commands change what a field
//! name means, and the lowering tracks it in a [`State`]: `rename a as b` (and the
//! `drop_dm_object_name` built-in, which is `rename X.* AS *`) makes `b` a name for the
//! source field `a`; `eval`, `rex`, `iplocation` make computed columns; `stats`, `tstats`
//! and friends make aggregates (a later comparison on one is a `threshold`); `lookup`
//! outputs and `inputlookup` rows are lookup content (a filter on them is unparsed).

use std::collections::HashMap;

use ruleatlas_model::{Condition, Lowered, Op, Predicate, PredicateKind, Unparsed, Value};
use ruleatlas_text::TextRange;

use crate::ast::{
    Agg, Ast, BinOp, CmpOp, CommandBody, EKind, ENode, Pipeline, SKind, SNode, SValue,
};
use crate::macros::UNKNOWN_MACRO;

/// What lowering needs besides the tree.
#[derive(Debug, Clone, Default)]
pub struct LowerContext {
    /// Macro calls that macro expansion left in the text: offset of the opening backtick in
    /// the parsed text -> reason (`unknown macro`, `macro cycle`...). A call not listed here
    /// is an `unknown macro`.
    pub macro_failures: HashMap<usize, String>,
}

/// Lowers a parsed query. Calls [`Lowered::finish`].
#[must_use]
pub fn lower(ast: &Ast, ctx: &LowerContext) -> Lowered {
    let mut l = Lowerer {
        src: &ast.text,
        ctx,
        out: Lowered::default(),
        subsearches: 0,
    };
    let mut st = State::default();
    let tree = l.pipeline(&ast.pipeline, &mut st);
    let mut out = l.out;
    out.tree = tree;
    out.finish();
    out
}

/// The data models a query reads (`tstats ... from datamodel=X.Y`, `from datamodel X.Y`,
/// `datamodel X Y search`), including subsearches.
#[must_use]
pub fn datamodels(ast: &Ast) -> Vec<String> {
    let mut out = Vec::new();
    collect_datamodels(&ast.pipeline, &mut out, 0);
    out
}

fn collect_datamodels(p: &Pipeline, out: &mut Vec<String>, depth: usize) {
    if depth > ruleatlas_model::LIMITS.max_depth {
        return;
    }
    for c in &p.commands {
        match &c.body {
            CommandBody::Tstats {
                datamodel: Some(d), ..
            }
            | CommandBody::DataModel { name: d }
                if !d.is_empty() && !out.contains(d) =>
            {
                out.push(d.clone());
            }
            CommandBody::Join { sub: Some(s), .. } => collect_datamodels(s, out, depth + 1),
            CommandBody::Append(subs) => subs
                .iter()
                .for_each(|s| collect_datamodels(s, out, depth + 1)),
            _ => {}
        }
    }
}

/// What a column name stands for at some point of the pipeline.
#[derive(Debug, Clone, PartialEq)]
enum Info {
    /// A field of the events, by its raw name.
    Source(String),
    /// Made inside the query.
    Computed,
    /// An aggregate of a statistical command.
    Aggregate,
    /// Read from a lookup's content.
    Lookup(String),
}

#[derive(Debug, Clone, Default)]
struct State {
    fields: HashMap<String, Info>,
    /// Wildcard renames in order: (from pattern, to pattern), one `*` each.
    wild: Vec<(String, String)>,
    /// Set when events are a lookup's rows (`inputlookup`).
    lookup_source: Option<String>,
    /// After a transforming command the columns are exactly `fields`: a wildcard rename
    /// renames those and nothing else.
    closed: bool,
}

fn wild_match<'a>(pat: &str, name: &'a str) -> Option<&'a str> {
    let (pre, post) = pat.split_once('*')?;
    if name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post) {
        Some(&name[pre.len()..name.len() - post.len()])
    } else {
        None
    }
}

impl State {
    fn resolve(&self, name: &str) -> Info {
        self.resolve_upto(name, self.wild.len())
    }

    /// Follows wildcard renames back to the name a column had before them (a loop, not
    /// recursion: a query may hold any number of renames).
    fn resolve_upto(&self, name: &str, mut upto: usize) -> Info {
        let mut name = name.to_string();
        'follow: loop {
            if let Some(i) = self.fields.get(&name) {
                return i.clone();
            }
            for k in (0..upto).rev() {
                let (from, to) = &self.wild[k];
                if let Some(cap) = wild_match(to, &name) {
                    name = from.replacen('*', cap, 1);
                    upto = k;
                    continue 'follow;
                }
            }
            break;
        }
        match &self.lookup_source {
            Some(l) => Info::Lookup(l.clone()),
            // A column named like a call (`IsOutlier(x)`, `dc(user)`) is made by a command.
            None if name.ends_with(')') && name.contains('(') => Info::Computed,
            None => Info::Source(name),
        }
    }

    fn rename(&mut self, from: &str, to: &str) {
        if from.contains('*') && to.contains('*') {
            let moved: Vec<(String, Info)> = self
                .fields
                .iter()
                .filter_map(|(k, v)| {
                    wild_match(from, k).map(|cap| (to.replacen('*', cap, 1), v.clone()))
                })
                .collect();
            if !self.closed {
                self.wild.push((from.to_string(), to.to_string()));
            }
            self.fields.extend(moved);
        } else {
            let info = self.resolve(from);
            self.fields.insert(to.to_string(), info);
        }
    }

    fn stats(&mut self, aggs: &[Agg], by: &[String], closes: bool) {
        let mut next = if closes {
            State {
                lookup_source: self.lookup_source.clone(),
                closed: true,
                ..State::default()
            }
        } else {
            self.clone()
        };
        for b in by {
            next.fields.insert(b.clone(), self.resolve(b));
        }
        for a in aggs {
            let info = match (a.func.as_str(), &a.field) {
                ("values" | "list" | "first" | "last" | "latest" | "earliest", Some(f)) => {
                    self.resolve(f)
                }
                _ => Info::Aggregate,
            };
            next.fields.insert(a.column.clone(), info);
        }
        *self = next;
    }
}

struct Lowerer<'a> {
    src: &'a str,
    ctx: &'a LowerContext,
    out: Lowered,
    subsearches: usize,
}

/// An operand of an expression comparison.
enum Operand {
    Field {
        raw: String,
        computed: bool,
        aggregate: bool,
        ci: bool,
    },
    Lit(Value),
    Lookup,
    Bad,
}

fn value_of(text: &str) -> Value {
    if let Value::Int(i) = Value::number_or_string(text) {
        return Value::Int(i);
    }
    if text.contains('.')
        && !text.ends_with('.')
        && text.bytes().any(|c| c.is_ascii_digit())
        && text
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-')
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_string())
}

impl Lowerer<'_> {
    fn text(&self, span: TextRange) -> String {
        span.slice(self.src).to_string()
    }

    fn unparsed(&mut self, span: TextRange, reason: impl Into<String>) -> Condition {
        let u = Unparsed::new(self.text(span), reason).with_span(span);
        self.out.unparsed(u)
    }

    fn macro_call(&mut self, span: TextRange) -> Condition {
        let reason = self
            .ctx
            .macro_failures
            .get(&(span.start as usize))
            .cloned()
            .unwrap_or_else(|| UNKNOWN_MACRO.to_string());
        self.unparsed(span, reason)
    }

    fn pipeline(&mut self, p: &Pipeline, st: &mut State) -> Condition {
        let mut conj: Vec<Condition> = Vec::new();
        for (k, cmd) in p.commands.iter().enumerate() {
            match &cmd.body {
                CommandBody::Search(None)
                | CommandBody::DataModel { .. }
                | CommandBody::Passthrough
                | CommandBody::AppendPipe(_) => {}
                CommandBody::Search(Some(n)) => {
                    let c = self.search(n, st);
                    conj.push(c);
                }
                CommandBody::Where(e) => {
                    let c = self.cond(e, st);
                    conj.push(c);
                }
                CommandBody::Eval(assigns) => {
                    for (name, e) in assigns {
                        let info = self.eval_info(e, st);
                        st.fields.insert(name.clone(), info);
                    }
                }
                CommandBody::Stats { aggs, by, closes } => st.stats(aggs, by, *closes),
                CommandBody::Tstats {
                    aggs, filter, by, ..
                } => {
                    if let Some(f) = filter {
                        let c = self.search(f, st);
                        conj.push(c);
                    }
                    st.stats(aggs, by, true);
                }
                CommandBody::Rename(pairs) => {
                    for (a, b) in pairs {
                        st.rename(a, b);
                    }
                }
                CommandBody::Lookup { name, outputs } => {
                    for o in outputs {
                        st.fields.insert(o.clone(), Info::Lookup(name.clone()));
                    }
                }
                CommandBody::InputLookup { append: true, .. } => {}
                CommandBody::InputLookup {
                    name,
                    filter,
                    append: false,
                } => {
                    st.lookup_source = Some(name.clone());
                    if let Some(f) = filter {
                        let c = self.search(f, st);
                        conj.push(c);
                    }
                }
                CommandBody::Regex {
                    field,
                    negated,
                    pattern,
                    span,
                } => {
                    let c = match st.resolve(field) {
                        Info::Lookup(_) => self.unparsed(*span, "filter on lookup content"),
                        info => {
                            let (raw, computed, aggregate) = info_parts(field, &info);
                            let mut p = Predicate::new(
                                raw,
                                Op::RegexMatch,
                                vec![Value::Str(pattern.clone())],
                            )
                            .case_sensitive(true)
                            .computed(computed || aggregate)
                            .with_span(*span);
                            if *negated {
                                p = p.negative_op();
                            }
                            self.out.pred(p)
                        }
                    };
                    conj.push(c);
                }
                CommandBody::Columns { computed, aliases } => {
                    for c in computed {
                        st.fields.insert(c.clone(), Info::Computed);
                    }
                    for (o, p) in aliases {
                        let info = st.resolve(p);
                        st.fields.insert(o.clone(), info);
                    }
                }
                CommandBody::Join { sub, inner } => {
                    if let Some(sub) = sub {
                        let c = self.subsearch(sub);
                        if *inner {
                            conj.push(c);
                        }
                    }
                }
                CommandBody::Append(subs) => {
                    let mut alts = Vec::new();
                    if k > 0 {
                        alts.push(Condition::and(std::mem::take(&mut conj)));
                    }
                    for s in subs {
                        alts.push(self.subsearch(s));
                    }
                    conj = vec![Condition::or(alts)];
                }
                CommandBody::Unsupported => {
                    let c = self.unparsed(cmd.span, format!("command not supported: {}", cmd.name));
                    conj.push(c);
                }
                CommandBody::Unknown => {
                    let c = self.unparsed(cmd.span, format!("unknown command: {}", cmd.name));
                    conj.push(c);
                }
                CommandBody::Macro => {
                    let c = self.macro_call(cmd.span);
                    conj.push(c);
                }
                CommandBody::Error { .. } => {
                    let c = self.unparsed(cmd.span, "syntax error");
                    conj.push(c);
                }
            }
        }
        Condition::and(conj)
    }

    /// A subsearch: its predicates belong to the rule with `context.subsearch`; when its
    /// rows come from a lookup, the filter it makes is lookup content (unparsed).
    fn subsearch(&mut self, p: &Pipeline) -> Condition {
        self.subsearches += 1;
        let n = self.subsearches;
        let start = self.out.predicates.len();
        let mut st = State::default();
        let c = self.pipeline(p, &mut st);
        for pr in &mut self.out.predicates[start..] {
            pr.context
                .entry("subsearch".to_string())
                .or_insert_with(|| serde_json::Value::from(n));
        }
        if st.lookup_source.is_some() {
            let u = self.unparsed(p.span, "filter on lookup content");
            return Condition::and(vec![c, u]);
        }
        c
    }

    // ---- search language ------------------------------------------------------------

    fn search(&mut self, n: &SNode, st: &State) -> Condition {
        match &n.kind {
            SKind::And(items) => {
                let v = items.iter().map(|i| self.search(i, st)).collect();
                Condition::and(v)
            }
            SKind::Or(items) => {
                let v = items.iter().map(|i| self.search(i, st)).collect();
                Condition::or(v)
            }
            SKind::Not(inner) => {
                let c = self.search(inner, st);
                Condition::not(c)
            }
            SKind::Cmp { field, op, value } => self.search_cmp(field, *op, value, n.span, st),
            SKind::In { field, values } => match st.resolve(field) {
                Info::Lookup(_) => self.unparsed(n.span, "filter on lookup content"),
                info => {
                    let (raw, computed, aggregate) = info_parts(field, &info);
                    let vals = values.iter().map(|v| value_of(&v.text)).collect();
                    let p = Predicate::new(raw, Op::In, vals)
                        .computed(computed || aggregate)
                        .with_span(n.span);
                    let p = if aggregate {
                        p.kind(PredicateKind::Threshold)
                    } else {
                        p
                    };
                    self.out.pred(p)
                }
            },
            SKind::Term(v) => {
                if !v.quoted && v.text == "*" {
                    return Condition::Const(true);
                }
                if st.lookup_source.is_some() {
                    return self.unparsed(n.span, "filter on lookup content");
                }
                let p = Predicate::new("_text", Op::Match, vec![Value::Str(v.text.clone())])
                    .with_span(n.span);
                self.out.pred(p)
            }
            SKind::TimeModifier => Condition::Const(true),
            SKind::Subsearch(p) => self.subsearch(p),
            SKind::Macro => self.macro_call(n.span),
            SKind::Error(_) => self.unparsed(n.span, "syntax error"),
        }
    }

    fn search_cmp(
        &mut self,
        field: &str,
        op: CmpOp,
        value: &SValue,
        span: TextRange,
        st: &State,
    ) -> Condition {
        let info = st.resolve(field);
        if let Info::Lookup(_) = info {
            return self.unparsed(span, "filter on lookup content");
        }
        let (raw, computed, aggregate) = info_parts(field, &info);
        let v = &value.text;
        let wild = v.contains('*');
        let (op, values, negative) = match op {
            CmpOp::Eq if v == "*" => (Op::Exists, vec![Value::Bool(true)], false),
            CmpOp::Ne if v == "*" => (Op::Exists, vec![Value::Bool(false)], false),
            CmpOp::Eq if wild => (Op::Wildcard, vec![Value::Str(v.clone())], false),
            CmpOp::Ne if wild => (Op::Wildcard, vec![Value::Str(v.clone())], true),
            CmpOp::Eq => (Op::Eq, vec![value_of(v)], false),
            CmpOp::Ne => (Op::Ne, vec![value_of(v)], false),
            CmpOp::Lt => (Op::Lt, vec![value_of(v)], false),
            CmpOp::Le => (Op::Le, vec![value_of(v)], false),
            CmpOp::Gt => (Op::Gt, vec![value_of(v)], false),
            CmpOp::Ge => (Op::Ge, vec![value_of(v)], false),
        };
        let mut p = Predicate::new(raw, op, values)
            .computed(computed || aggregate)
            .with_span(span);
        if aggregate {
            p = p.kind(PredicateKind::Threshold);
        }
        if negative {
            p = p.negative_op();
        }
        self.out.pred(p)
    }

    // ---- expressions ----------------------------------------------------------------

    fn eval_info(&self, e: &ENode, st: &State) -> Info {
        if let EKind::Field(f) = &e.kind {
            return st.resolve(f);
        }
        let mut refs = Vec::new();
        field_refs(e, &mut refs, 0);
        let mut out = Info::Computed;
        for r in refs {
            match st.resolve(&r) {
                Info::Lookup(l) => return Info::Lookup(l),
                Info::Aggregate => out = Info::Aggregate,
                _ => {}
            }
        }
        out
    }

    fn operand(&self, e: &ENode, st: &State) -> Operand {
        match &e.kind {
            EKind::Field(f) => match st.resolve(f) {
                Info::Lookup(_) => Operand::Lookup,
                info => {
                    let (raw, computed, aggregate) = info_parts(f, &info);
                    Operand::Field {
                        raw,
                        computed,
                        aggregate,
                        ci: false,
                    }
                }
            },
            EKind::Num(n) => Operand::Lit(value_of(n)),
            EKind::Str(s) => Operand::Lit(value_of(s)),
            EKind::Neg(inner) => match &inner.kind {
                EKind::Num(n) => Operand::Lit(value_of(&format!("-{n}"))),
                _ => self.computed_operand(e, st),
            },
            EKind::Call { name, args }
                if (name == "lower" || name == "upper") && args.len() == 1 =>
            {
                match self.operand(&args[0], st) {
                    Operand::Field {
                        raw,
                        computed,
                        aggregate,
                        ..
                    } => Operand::Field {
                        raw,
                        computed,
                        aggregate,
                        ci: true,
                    },
                    other => other,
                }
            }
            EKind::Macro => Operand::Bad,
            EKind::Error(_) => Operand::Bad,
            _ => self.computed_operand(e, st),
        }
    }

    /// An expression over fields (`len(x)`, `mvcount(y)`, `a+b`): a computed column named by
    /// its text; an aggregate when it uses one.
    fn computed_operand(&self, e: &ENode, st: &State) -> Operand {
        let mut refs = Vec::new();
        field_refs(e, &mut refs, 0);
        let mut aggregate = false;
        for r in &refs {
            match st.resolve(r) {
                Info::Lookup(_) => return Operand::Lookup,
                Info::Aggregate => aggregate = true,
                _ => {}
            }
        }
        if refs.is_empty() {
            // `relative_time(now(), "-1d")`: a value computed without fields, as written.
            return Operand::Lit(Value::Str(self.text(e.span)));
        }
        let text = self.text(e.span);
        let raw = match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            Some(inner) if balanced(inner) => inner.trim().to_string(),
            _ => text,
        };
        Operand::Field {
            raw,
            computed: true,
            aggregate,
            ci: false,
        }
    }

    fn cond(&mut self, e: &ENode, st: &State) -> Condition {
        match &e.kind {
            EKind::Logic {
                op: BinOp::And,
                items,
            } => {
                let v = items.iter().map(|i| self.cond(i, st)).collect();
                Condition::and(v)
            }
            EKind::Logic {
                op: BinOp::Or,
                items,
            } => {
                let v = items.iter().map(|i| self.cond(i, st)).collect();
                Condition::or(v)
            }
            EKind::Not(inner) => {
                let c = self.cond(inner, st);
                Condition::not(c)
            }
            EKind::Binary {
                op: BinOp::Like,
                lhs,
                rhs,
            } => self.call_pred(e.span, Op::Wildcard, lhs, &[rhs], st),
            EKind::Binary { op, lhs, rhs } => match op {
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    self.compare(*op, lhs, rhs, e.span, st)
                }
                _ => self.unparsed(e.span, "expression not supported"),
            },
            EKind::In { lhs, list } => {
                let refs: Vec<&ENode> = list.iter().collect();
                self.call_pred(e.span, Op::In, lhs, &refs, st)
            }
            EKind::Call { name, args } => self.call_cond(name, args, e.span, st),
            EKind::Macro => self.macro_call(e.span),
            _ => self.unparsed(e.span, "expression not supported"),
        }
    }

    fn call_cond(&mut self, name: &str, args: &[ENode], span: TextRange, st: &State) -> Condition {
        match (name, args) {
            ("like", [f, p]) => self.call_pred(span, Op::Wildcard, f, &[p], st),
            ("match", [f, p]) => self.call_pred(span, Op::RegexMatch, f, &[p], st),
            ("cidrmatch", [c, f]) => self.call_pred(span, Op::Cidr, f, &[c], st),
            ("in", [f, rest @ ..]) if !rest.is_empty() => {
                let refs: Vec<&ENode> = rest.iter().collect();
                self.call_pred(span, Op::In, f, &refs, st)
            }
            ("isnull", [f]) => self.exists(span, f, false, st),
            ("isnotnull", [f]) => self.exists(span, f, true, st),
            ("true", []) => Condition::Const(true),
            ("false", []) => Condition::Const(false),
            (
                "searchmatch",
                [
                    ENode {
                        kind: EKind::Str(q),
                        ..
                    },
                ],
            ) => self.searchmatch(q, span, st),
            _ => self.unparsed(span, format!("function not supported: {name}")),
        }
    }

    /// `searchmatch("...")`: the string is a search; its predicates point at the call.
    fn searchmatch(&mut self, q: &str, span: TextRange, st: &State) -> Condition {
        let parsed = crate::parser::parse(q);
        let Some(cmd) = parsed.ast.pipeline.commands.first() else {
            return Condition::Const(true);
        };
        let CommandBody::Search(node) = &cmd.body else {
            return self.unparsed(span, "syntax error");
        };
        let Some(node) = node else {
            return Condition::Const(true);
        };
        let mut inner = Lowerer {
            src: q,
            ctx: self.ctx,
            out: Lowered::default(),
            subsearches: 0,
        };
        let tree = inner.search(node, st);
        let mut sub = inner.out;
        for p in &mut sub.predicates {
            p.span = Some(span);
        }
        for u in &mut sub.unparsed {
            u.span = Some(span);
        }
        sub.tree = tree;
        self.out.absorb(sub)
    }

    fn exists(&mut self, span: TextRange, f: &ENode, yes: bool, st: &State) -> Condition {
        match self.operand(f, st) {
            Operand::Field {
                raw,
                computed,
                aggregate,
                ..
            } => {
                let mut p = Predicate::new(raw, Op::Exists, vec![Value::Bool(yes)])
                    .computed(computed || aggregate)
                    .with_span(span);
                if aggregate {
                    p = p.kind(PredicateKind::Threshold);
                }
                self.out.pred(p)
            }
            Operand::Lookup => self.unparsed(span, "filter on lookup content"),
            Operand::Lit(_) | Operand::Bad => self.unparsed(span, "expression not supported"),
        }
    }

    /// `like(f, p)`, `match(f, re)`, `cidrmatch(c, f)`, `in(f, ...)`, `f IN (...)`.
    fn call_pred(
        &mut self,
        span: TextRange,
        op: Op,
        f: &ENode,
        vals: &[&ENode],
        st: &State,
    ) -> Condition {
        let mut values = Vec::new();
        let mut join = false;
        for v in vals {
            match &v.kind {
                EKind::Str(s) if op == Op::In => values.push(value_of(s)),
                EKind::Str(s) => values.push(Value::Str(s.clone())),
                EKind::Num(n) => values.push(value_of(n)),
                EKind::Macro => return self.macro_call(v.span),
                EKind::Field(f) if op == Op::In => {
                    // A member that is another column: a field-to-field comparison.
                    join = true;
                    values.push(Value::Str(f.clone()));
                }
                _ => return self.unparsed(span, format!("{op} with a non-literal value")),
            }
        }
        match self.operand(f, st) {
            Operand::Field {
                raw,
                computed,
                aggregate,
                ci,
            } => {
                let cs = !ci && op != Op::Cidr && values.iter().any(|v| matches!(v, Value::Str(_)));
                let mut p = Predicate::new(raw, op, values)
                    .case_sensitive(cs)
                    .computed(computed || aggregate)
                    .with_span(span);
                if join {
                    p = p.kind(PredicateKind::Join);
                } else if aggregate {
                    p = p.kind(PredicateKind::Threshold);
                }
                self.out.pred(p)
            }
            Operand::Lookup => self.unparsed(span, "filter on lookup content"),
            Operand::Lit(_) | Operand::Bad => self.unparsed(span, "expression not supported"),
        }
    }

    fn compare(
        &mut self,
        op: BinOp,
        lhs: &ENode,
        rhs: &ENode,
        span: TextRange,
        st: &State,
    ) -> Condition {
        let (l, r) = (self.operand(lhs, st), self.operand(rhs, st));
        let (field, lit, op) = match (l, r) {
            (Operand::Lookup, _) | (_, Operand::Lookup) => {
                return self.unparsed(span, "filter on lookup content");
            }
            (Operand::Bad, _) | (_, Operand::Bad) => {
                return self.unparsed(span, "expression not supported");
            }
            (f @ Operand::Field { .. }, Operand::Lit(v)) => (f, v, op),
            (Operand::Lit(v), f @ Operand::Field { .. }) => (f, v, flip(op)),
            (Operand::Lit(_), Operand::Lit(_)) => return Condition::Const(true),
            (
                Operand::Field {
                    raw,
                    computed,
                    aggregate,
                    ..
                },
                Operand::Field {
                    raw: other,
                    computed: c2,
                    aggregate: a2,
                    ..
                },
            ) => {
                let p = Predicate::new(raw, bin_op(op), vec![Value::Str(other)])
                    .computed(computed || aggregate || c2 || a2)
                    .kind(PredicateKind::Join)
                    .with_span(span);
                return self.out.pred(p);
            }
        };
        let Operand::Field {
            raw,
            computed,
            aggregate,
            ci,
        } = field
        else {
            return self.unparsed(span, "expression not supported");
        };
        let cs = !ci && matches!(lit, Value::Str(_));
        let mut p = Predicate::new(raw, bin_op(op), vec![lit])
            .case_sensitive(cs)
            .computed(computed || aggregate)
            .with_span(span);
        if aggregate {
            p = p.kind(PredicateKind::Threshold);
        }
        self.out.pred(p)
    }
}

fn info_parts(name: &str, info: &Info) -> (String, bool, bool) {
    match info {
        Info::Source(raw) => (raw.clone(), false, false),
        Info::Computed | Info::Lookup(_) => (name.to_string(), true, false),
        Info::Aggregate => (name.to_string(), true, true),
    }
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        other => other,
    }
}

fn bin_op(op: BinOp) -> Op {
    match op {
        BinOp::Ne => Op::Ne,
        BinOp::Lt => Op::Lt,
        BinOp::Le => Op::Le,
        BinOp::Gt => Op::Gt,
        BinOp::Ge => Op::Ge,
        _ => Op::Eq,
    }
}

fn field_refs(e: &ENode, out: &mut Vec<String>, depth: usize) {
    if depth > ruleatlas_model::LIMITS.max_depth {
        return;
    }
    match &e.kind {
        EKind::Field(f) => out.push(f.clone()),
        EKind::Call { args, .. } => args.iter().for_each(|a| field_refs(a, out, depth + 1)),
        EKind::Logic { items, .. } => items.iter().for_each(|a| field_refs(a, out, depth + 1)),
        EKind::Binary { lhs, rhs, .. } => {
            field_refs(lhs, out, depth + 1);
            field_refs(rhs, out, depth + 1);
        }
        EKind::Not(x) | EKind::Neg(x) => field_refs(x, out, depth + 1),
        EKind::In { lhs, list } => {
            field_refs(lhs, out, depth + 1);
            list.iter().for_each(|a| field_refs(a, out, depth + 1));
        }
        EKind::Num(_) | EKind::Str(_) | EKind::Macro | EKind::Error(_) => {}
    }
}

/// Whether parentheses balance in `s` (so that outer parentheses can be dropped).
fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}
