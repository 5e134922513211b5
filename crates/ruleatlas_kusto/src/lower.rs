//! Lowering a Kusto query into the predicate model.
//!
//! The rule's condition is the conjunction of every filter on the way to the query's result:
//! the `where` clauses of its pipeline, of the `let` tables it reads, of both sides of its
//! joins (an anti-join's right side under a NOT) and of `mv-apply`/`partition` subqueries;
//! `union` branches are ORed. `let` names are resolved where they are used: a scalar gives its
//! value, a `dynamic([...])` or one-column `datatable` gives its list, a tabular `let` gives
//! its filters, a function is inlined with its arguments.
//!
//! Columns are tracked through the pipeline ([`Env`]): `extend`/`project` of a plain column, a
//! bag path or a cast (`tostring(x)`) maps back to the source field; anything else the query
//! makes is `computed`; a column made by `summarize`/`count`/`make-series` is an aggregate,
//! and a comparison on it is a `threshold` predicate. Comparisons of a column with `ago()`,
//! `now()` or a `datetime()` are the query's time window, not detection logic: skipped.
//! The per-operator mapping is documented in `docs/kusto-ops.md`.

use std::collections::HashMap;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    Condition, DepthGuard, LIMITS, Lowered, Op, Predicate, PredicateKind, Unparsed, Value,
};
use ruleatlas_text::TextRange;

use crate::ast::{
    Expr, ExprKind, Function, LetValue, Operator, OperatorKind, OptionArg, Script, Statement,
};

/// What lowering needs besides the tree.
#[derive(Debug, Clone)]
pub struct LowerContext {
    /// Deepest chain of `let` references and function inlining followed.
    pub max_inline_depth: usize,
}

impl Default for LowerContext {
    fn default() -> Self {
        Self {
            max_inline_depth: LIMITS.max_inline_depth,
        }
    }
}

/// Facts about the query found while lowering.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueryInfo {
    /// Tables (and table patterns such as `Security*`, and parser functions) the query reads,
    /// in order of first use.
    pub tables: Vec<String>,
    /// URLs of `externaldata` sources.
    pub external_urls: Vec<String>,
    /// Lists whose values live outside the rule: `externaldata` URLs and `watchlist:NAME`.
    pub reference_lists: Vec<String>,
}

/// Lowers a parsed query and finishes the tree (`negated`, `exclusion`).
#[must_use]
pub fn lower(ast: &Script, ctx: &LowerContext) -> Lowered {
    let (mut l, _) = lower_with_info(ast, ctx);
    l.finish();
    l
}

/// Lowers a parsed query without calling [`Lowered::finish`] (so an adapter can add
/// predicates, then finish once), and reports the tables it reads.
#[must_use]
pub fn lower_with_info(ast: &Script, ctx: &LowerContext) -> (Lowered, QueryInfo) {
    let mut lw = Lw {
        out: Lowered::default(),
        scope: Vec::new(),
        vis: 0,
        info: QueryInfo::default(),
        inline_depth: 0,
        max_inline: ctx.max_inline_depth,
        guard: DepthGuard::default(),
        touched: Vec::new(),
        bool_cols: Vec::new(),
    };
    let mut last: Option<(&Expr, usize)> = None;
    for st in &ast.statements {
        match st {
            Statement::Let { name, value, .. } => lw.bind(name, value),
            Statement::Query(e) => last = Some((e, lw.scope.len())),
            Statement::Other { .. } => {}
        }
    }
    if let Some((e, vis)) = last {
        lw.vis = vis;
        let tab = lw.tabular(e);
        lw.out.tree = tab.cond;
    }
    (lw.out, lw.info)
}

// ----- column environment ------------------------------------------------------------------

/// Where a column's values come from.
#[derive(Debug, Clone, PartialEq)]
enum Col {
    /// A source field (possibly renamed or cast): the raw field name.
    Source(String),
    /// Made inside the query; the column name as used.
    Computed(String),
    /// An aggregate (`summarize`, `count`, `make-series`); the column name as used.
    Aggregate(String),
    /// A boolean made inside the query (`extend IsAdmin = Role in (admins)`): the column name
    /// and the index of its expression in `Lw::bool_cols`, lowered where the column filters.
    Bool(String, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
enum Fallback {
    #[default]
    Source,
    Computed,
    Aggregate,
}

/// The columns known at one point of a pipeline.
#[derive(Debug, Clone, Default)]
struct Env {
    cols: HashMap<String, Col>,
    /// What a column not in `cols` is.
    default: Fallback,
}

impl Env {
    fn lookup(&self, name: &str) -> Col {
        if let Some(c) = self.cols.get(name) {
            return c.clone();
        }
        match self.default {
            Fallback::Source => Col::Source(name.to_string()),
            Fallback::Computed => Col::Computed(name.to_string()),
            Fallback::Aggregate => Col::Aggregate(name.to_string()),
        }
    }

    fn merge(&mut self, other: &Env) {
        for (k, v) in &other.cols {
            self.cols.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// A field reference on the left of a comparison.
#[derive(Debug, Clone)]
struct FieldRef {
    raw: String,
    computed: bool,
    aggregate: bool,
}

impl FieldRef {
    fn of(col: Col) -> Self {
        match col {
            Col::Source(raw) => FieldRef {
                raw,
                computed: false,
                aggregate: false,
            },
            Col::Computed(raw) => FieldRef {
                raw,
                computed: true,
                aggregate: false,
            },
            Col::Aggregate(raw) => FieldRef {
                raw,
                computed: true,
                aggregate: true,
            },
            Col::Bool(raw, _) => FieldRef {
                raw,
                computed: true,
                aggregate: false,
            },
        }
    }

    fn to_col(&self) -> Col {
        if self.aggregate {
            Col::Aggregate(self.raw.clone())
        } else if self.computed {
            Col::Computed(self.raw.clone())
        } else {
            Col::Source(self.raw.clone())
        }
    }
}

/// The right side of a comparison, resolved.
#[derive(Debug, Clone)]
enum Vals<'a> {
    Lits(Vec<Value>),
    /// Another column.
    Field(FieldRef),
    /// A time expression (`ago(1d)`, `now()`, `datetime(...)`).
    Time,
    /// A tabular expression (the `in (subquery)` form) and its visibility.
    Tabular(&'a Expr, usize),
    /// Anything else, rendered.
    Expr(String),
}

/// A lowered tabular expression: its condition and its columns.
struct Tab {
    cond: Condition,
    env: Env,
}

impl Tab {
    fn all() -> Self {
        Tab {
            cond: Condition::Const(true),
            env: Env::default(),
        }
    }
}

// ----- operator mapping (docs/kusto-ops.md) ------------------------------------------------

/// How a Kusto comparison operator lowers.
#[derive(Debug, Clone, Copy)]
struct OpSpec {
    op: Op,
    negated: bool,
    case_sensitive: bool,
    /// Recorded as context `kusto_op` where the model's op loses meaning (`has` is a term match).
    note: Option<&'static str>,
    /// `has_all`: one predicate per value.
    all: bool,
}

const fn spec(op: Op, negated: bool, case_sensitive: bool, note: Option<&'static str>) -> OpSpec {
    OpSpec {
        op,
        negated,
        case_sensitive,
        note,
        all: false,
    }
}

/// The mapping of every comparison operator (documented in docs/kusto-ops.md).
fn op_spec(op: &str) -> Option<OpSpec> {
    let s = match op {
        "==" => spec(Op::Eq, false, true, None),
        "!=" | "<>" => spec(Op::Ne, false, true, None),
        "=~" => spec(Op::Eq, false, false, None),
        "!~" => spec(Op::Eq, true, false, None),
        "<" => spec(Op::Lt, false, false, None),
        "<=" => spec(Op::Le, false, false, None),
        ">" => spec(Op::Gt, false, false, None),
        ">=" => spec(Op::Ge, false, false, None),
        "has" | ":" => spec(Op::Contains, false, false, Some("has")),
        "!has" => spec(Op::Contains, true, false, Some("has")),
        "has_cs" => spec(Op::Contains, false, true, Some("has_cs")),
        "!has_cs" => spec(Op::Contains, true, true, Some("has_cs")),
        "hasprefix" => spec(Op::StartsWith, false, false, Some("hasprefix")),
        "!hasprefix" => spec(Op::StartsWith, true, false, Some("hasprefix")),
        "hasprefix_cs" => spec(Op::StartsWith, false, true, Some("hasprefix_cs")),
        "!hasprefix_cs" => spec(Op::StartsWith, true, true, Some("hasprefix_cs")),
        "hassuffix" => spec(Op::EndsWith, false, false, Some("hassuffix")),
        "!hassuffix" => spec(Op::EndsWith, true, false, Some("hassuffix")),
        "hassuffix_cs" => spec(Op::EndsWith, false, true, Some("hassuffix_cs")),
        "!hassuffix_cs" => spec(Op::EndsWith, true, true, Some("hassuffix_cs")),
        "contains" => spec(Op::Contains, false, false, None),
        "!contains" | "notcontains" => spec(Op::Contains, true, false, None),
        "contains_cs" | "containscs" => spec(Op::Contains, false, true, None),
        "!contains_cs" | "notcontainscs" => spec(Op::Contains, true, true, None),
        "startswith" => spec(Op::StartsWith, false, false, None),
        "!startswith" => spec(Op::StartsWith, true, false, None),
        "startswith_cs" => spec(Op::StartsWith, false, true, None),
        "!startswith_cs" => spec(Op::StartsWith, true, true, None),
        "endswith" => spec(Op::EndsWith, false, false, None),
        "!endswith" => spec(Op::EndsWith, true, false, None),
        "endswith_cs" => spec(Op::EndsWith, false, true, None),
        "!endswith_cs" => spec(Op::EndsWith, true, true, None),
        "in" | "in_cs" => spec(Op::In, false, true, None),
        "!in" | "!in_cs" => spec(Op::In, true, true, None),
        "in~" => spec(Op::In, false, false, None),
        "!in~" => spec(Op::In, true, false, None),
        "has_any" => spec(Op::Contains, false, false, Some("has_any")),
        "!has_any" => spec(Op::Contains, true, false, Some("has_any")),
        "has_any_cs" => spec(Op::Contains, false, true, Some("has_any_cs")),
        "has_all" | "has_all_cs" | "!has_all" => OpSpec {
            op: Op::Contains,
            negated: op.starts_with('!'),
            case_sensitive: op.ends_with("_cs"),
            note: Some("has_all"),
            all: true,
        },
        "matches regex" => spec(Op::RegexMatch, false, true, None),
        "!matches regex" => spec(Op::RegexMatch, true, true, None),
        _ => return None,
    };
    Some(s)
}

/// The operator with its sides swapped (`5 < x` is `x > 5`), for symmetric and ordered ops.
fn flip(op: &str) -> Option<&'static str> {
    Some(match op {
        "==" => "==",
        "!=" => "!=",
        "<>" => "<>",
        "=~" => "=~",
        "!~" => "!~",
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        _ => return None,
    })
}

/// Functions whose result is their argument's value in another type or case: a column made
/// with them maps back to the argument's field.
const TRANSPARENT_FNS: [&str; 16] = [
    "tostring",
    "todynamic",
    "parse_json",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "tobool",
    "toboolean",
    "todatetime",
    "toguid",
    "tolower",
    "toupper",
    "trim_whitespace",
    "to_utf8",
    "totimespan",
];

/// Functions that make a point in time (for recognizing time-window comparisons).
const TIME_FNS: [&str; 16] = [
    "ago",
    "now",
    "startofday",
    "startofweek",
    "startofmonth",
    "startofyear",
    "endofday",
    "endofweek",
    "endofmonth",
    "endofyear",
    "datetime_add",
    "todatetime",
    "bin",
    "floor",
    "datetime_utc_to_local",
    "unixtime_seconds_todatetime",
];

/// `evaluate` plugins that only add columns to every row.
const COLUMN_PLUGINS: [&str; 4] = ["bag_unpack", "narrow", "pivot", "python"];

const PRIVATE_V4: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// Binding of a `let` name or function parameter.
#[derive(Clone)]
struct Binding<'a> {
    name: &'a str,
    kind: Bound<'a>,
    /// How many scope entries its expression sees.
    vis: usize,
}

#[derive(Clone)]
enum Bound<'a> {
    Expr(&'a Expr),
    Func(&'a Function),
    /// A parameter with no argument and no default.
    Unset,
}

struct Lw<'a> {
    out: Lowered,
    scope: Vec<Binding<'a>>,
    /// Scope entries visible at the point being lowered.
    vis: usize,
    info: QueryInfo,
    inline_depth: usize,
    max_inline: usize,
    guard: DepthGuard,
    /// Reference lists read, in order, repeats included (to tag `in (list)` predicates).
    touched: Vec<String>,
    /// Boolean columns' expressions with the columns they saw (see [`Col::Bool`]).
    bool_cols: Vec<(&'a Expr, Env)>,
}

fn lit_value(e: &Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Str(s) => Some(Value::Str(s.clone())),
        ExprKind::Int(i) => Some(Value::Int(*i)),
        ExprKind::Real(f) => Some(Value::Float(*f)),
        ExprKind::Bool(b) => Some(Value::Bool(*b)),
        ExprKind::Timespan(t) => Some(Value::Str(t.clone())),
        ExprKind::Typed { ty, raw } if ty != "datetime" => Some(Value::number_or_string(raw)),
        ExprKind::Unary { op, expr } if op == "-" => match &expr.kind {
            ExprKind::Int(i) => Some(Value::Int(-i)),
            ExprKind::Real(f) => Some(Value::Float(-f)),
            _ => None,
        },
        _ => None,
    }
}

fn call_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Call { name, .. } => Some(name.to_ascii_lowercase()),
        _ => None,
    }
}

fn is_comparison(op: &str) -> bool {
    op_spec(op).is_some() || matches!(op, "like" | "notlike" | "!like" | "likecs" | "notlikecs")
}

impl<'a> Lw<'a> {
    fn bind(&mut self, name: &'a str, value: &'a LetValue) {
        let vis = self.scope.len();
        let kind = match value {
            LetValue::Expr(e) => Bound::Expr(e),
            LetValue::Function(f) => Bound::Func(f),
        };
        self.scope.push(Binding { name, kind, vis });
        self.vis = self.scope.len();
    }

    fn lookup(&self, name: &str) -> Option<Binding<'a>> {
        self.scope[..self.vis.min(self.scope.len())]
            .iter()
            .rev()
            .find(|b| b.name == name)
            .cloned()
    }

    fn unparsed(
        &mut self,
        text: impl Into<String>,
        reason: impl Into<String>,
        span: TextRange,
    ) -> Condition {
        self.out
            .unparsed(Unparsed::new(text, reason).with_span(span))
    }

    /// Runs `f` with the visibility of a binding, guarding the chain of dereferences.
    fn with_vis<T>(&mut self, vis: usize, fallback: T, f: impl FnOnce(&mut Self) -> T) -> T {
        if self.inline_depth >= self.max_inline {
            return fallback;
        }
        let saved = self.vis;
        self.inline_depth += 1;
        self.vis = vis;
        let r = f(self);
        self.vis = saved;
        self.inline_depth -= 1;
        r
    }

    fn too_deep(&mut self, span: TextRange) -> Tab {
        let u = self.unparsed("", "let or function nesting too deep", span);
        Tab {
            cond: u,
            env: Env::default(),
        }
    }

    fn add_table(&mut self, name: &str) {
        if !self.info.tables.iter().any(|t| t == name) {
            self.info.tables.push(name.to_string());
        }
    }

    // ----- tabular expressions ---------------------------------------------------------------

    fn tabular(&mut self, e: &'a Expr) -> Tab {
        if self.guard.enter().is_err() {
            return self.too_deep(e.span);
        }
        let t = self.tabular_inner(e);
        self.guard.leave();
        t
    }

    fn tabular_inner(&mut self, e: &'a Expr) -> Tab {
        match &e.kind {
            ExprKind::Name(n) => match self.lookup(n) {
                Some(Binding {
                    kind: Bound::Expr(x),
                    vis,
                    ..
                }) => {
                    let fallback = Tab {
                        cond: Condition::Const(true),
                        env: Env::default(),
                    };
                    let ok = self.inline_depth < self.max_inline;
                    if !ok {
                        return self.too_deep(e.span);
                    }
                    self.with_vis(vis, fallback, |s| s.tabular(x))
                }
                Some(Binding {
                    kind: Bound::Func(f),
                    vis,
                    ..
                }) => self.inline(f, vis, &[], e.span),
                Some(Binding {
                    kind: Bound::Unset, ..
                }) => Tab::all(),
                None => {
                    self.add_table(n);
                    Tab::all()
                }
            },
            ExprKind::Member { base, name } => {
                // database("x").Table, cluster("c").database("d").Table
                if matches!(base.kind, ExprKind::Call { .. } | ExprKind::Member { .. }) {
                    self.add_table(name);
                }
                Tab::all()
            }
            ExprKind::Call { name, args } => self.call_source(name, args, e.span),
            ExprKind::Pipe { source, ops } => {
                let mut t = self.tabular(source);
                for op in ops {
                    t = self.operator(t, op);
                }
                t
            }
            ExprKind::Union { tables, .. } => {
                let mut conds = Vec::new();
                let mut envs = Vec::new();
                for x in tables {
                    let t = self.tabular(x);
                    conds.push(t.cond);
                    envs.push(t.env);
                }
                Tab {
                    cond: Condition::or(conds),
                    env: union_env(&envs),
                }
            }
            ExprKind::Datatable { .. } | ExprKind::Generated(_) => Tab::all(),
            ExprKind::ExternalData { urls } => {
                for u in urls {
                    if !self.info.external_urls.contains(u) {
                        self.info.external_urls.push(u.clone());
                    }
                    if !self.info.reference_lists.contains(u) {
                        self.info.reference_lists.push(u.clone());
                    }
                    self.touched.push(u.clone());
                }
                self.out.diagnostics.push(
                    Diagnostic::info(
                        "externaldata",
                        format!("externaldata reads {}", urls.join(", ")),
                    )
                    .with_range(e.span),
                );
                Tab::all()
            }
            ExprKind::Search { tables, pred } | ExprKind::Find { tables, pred } => {
                let mut envs = Vec::new();
                let mut conds = Vec::new();
                for t in tables {
                    let tab = self.tabular(t);
                    envs.push(tab.env);
                    conds.push(tab.cond);
                }
                let env = union_env(&envs);
                let src = if conds.is_empty() {
                    Condition::Const(true)
                } else {
                    Condition::or(conds)
                };
                let c = if matches!(e.kind, ExprKind::Search { .. }) {
                    self.search_pred(pred, &env)
                } else {
                    self.boolean(pred, &env)
                };
                Tab {
                    cond: Condition::and(vec![src, c]),
                    env,
                }
            }
            ExprKind::Evaluate(_) => Tab {
                cond: Condition::Const(true),
                env: Env {
                    cols: HashMap::new(),
                    default: Fallback::Computed,
                },
            },
            ExprKind::List(items) => {
                // `(T1), (T2)` read as one parenthesized list: treat like a union.
                let conds: Vec<Condition> = items.iter().map(|x| self.tabular(x).cond).collect();
                Tab {
                    cond: Condition::or(conds),
                    env: Env::default(),
                }
            }
            ExprKind::Error => {
                let u = self.unparsed("", "syntax error", e.span);
                Tab {
                    cond: u,
                    env: Env::default(),
                }
            }
            _ => Tab::all(),
        }
    }

    /// A call in source position: `materialize(...)`, a `let` function, or a function defined
    /// outside the query (an ASIM parser such as `_Im_Dns(...)`), read as a table.
    fn call_source(&mut self, name: &str, args: &'a [Expr], span: TextRange) -> Tab {
        let lower = name.to_ascii_lowercase();
        if lower == "_getwatchlist" {
            let name = args.first().map(render).unwrap_or_default();
            let name = name.trim_matches('"').to_string();
            let list = format!("watchlist:{name}");
            if !self.info.reference_lists.contains(&list) {
                self.info.reference_lists.push(list.clone());
            }
            self.touched.push(list);
            self.add_table("Watchlist");
            return Tab::all();
        }
        if matches!(
            lower.as_str(),
            "materialize" | "view" | "toscalar" | "table"
        ) && let Some(a) = args.first()
        {
            if lower == "table"
                && let ExprKind::Str(t) = &a.kind
            {
                self.add_table(t);
                return Tab::all();
            }
            return self.tabular(a);
        }
        match self.lookup(name) {
            Some(Binding {
                kind: Bound::Func(f),
                vis,
                ..
            }) => self.inline(f, vis, args, span),
            Some(Binding {
                kind: Bound::Expr(x),
                vis,
                ..
            }) => self.with_vis(vis, Tab::all(), |s| s.tabular(x)),
            _ => {
                self.add_table(name);
                let mut conds = Vec::new();
                for a in args {
                    conds.push(self.parser_param(name, a));
                }
                Tab {
                    cond: Condition::and(conds),
                    env: Env::default(),
                }
            }
        }
    }

    /// A named argument of a parser function (`_Im_Dns(domain_has_any=list)`): a filter on
    /// the parameter's field, by the ASIM naming convention of its suffix.
    fn parser_param(&mut self, func: &str, a: &'a Expr) -> Condition {
        let ExprKind::Assign { name, value } = &a.kind else {
            return match self.values(a, &Env::default()) {
                Vals::Time => Condition::Const(true),
                _ => self.unparsed(
                    render(a),
                    format!("parser function argument: {func}"),
                    a.span,
                ),
            };
        };
        let lname = name.to_ascii_lowercase();
        if matches!(
            lname.as_str(),
            "starttime" | "endtime" | "pack" | "disabled"
        ) {
            return Condition::Const(true);
        }
        let vals = self.values(value, &Env::default());
        let (field, op, note) = if let Some(f) = lname.strip_suffix("_has_any_prefix") {
            (f, Op::StartsWith, Some("has_any_prefix"))
        } else if let Some(f) = lname.strip_suffix("_has_any") {
            (f, Op::Contains, Some("has_any"))
        } else if let Some(f) = lname.strip_suffix("_has_all") {
            (f, Op::Contains, Some("has_all"))
        } else if let Some(f) = lname.strip_suffix("_in") {
            (f, Op::In, None)
        } else {
            (lname.as_str(), Op::Eq, None)
        };
        let mut subquery = None;
        let values = match vals {
            Vals::Time => return Condition::Const(true),
            Vals::Lits(v) => v,
            Vals::Field(f) => vec![Value::Str(f.raw)],
            Vals::Expr(t) => vec![Value::Str(t)],
            // The list comes from a query (`toscalar(... make_list(...))`): its values are not
            // in the rule.
            Vals::Tabular(x, _) => {
                subquery = Some(render(x));
                Vec::new()
            }
        };
        // An empty list means "no filter" for ASIM parameters.
        if values.is_empty() && subquery.is_none() {
            return Condition::Const(true);
        }
        let mut p = Predicate::new(field, op, values)
            .with_span(a.span)
            .context("parser_param", name.as_str());
        if let Some(q) = subquery {
            p = p.context("subquery", q);
        }
        if let Some(n) = note {
            p = p.context("kusto_op", n);
        }
        self.out.pred(p)
    }

    /// Inlines a `let` function with its arguments.
    fn inline(&mut self, f: &'a Function, fvis: usize, args: &'a [Expr], span: TextRange) -> Tab {
        if self.inline_depth >= self.max_inline {
            return self.too_deep(span);
        }
        let saved_len = self.scope.len();
        let saved_vis = self.vis;
        let call_vis = self.vis;
        self.inline_depth += 1;
        for (i, p) in f.params.iter().enumerate() {
            let named = args.iter().find_map(|a| match &a.kind {
                ExprKind::Assign { name, value } if name == &p.name => Some(&**value),
                _ => None,
            });
            let positional = args
                .get(i)
                .filter(|a| !matches!(a.kind, ExprKind::Assign { .. }));
            let (kind, vis) = match (named.or(positional), &p.default) {
                (Some(a), _) => (Bound::Expr(a), call_vis),
                (None, Some(d)) => (Bound::Expr(d), fvis),
                (None, None) => (Bound::Unset, call_vis),
            };
            self.scope.push(Binding {
                name: &p.name,
                kind,
                vis,
            });
        }
        self.vis = self.scope.len();
        let mut last = None;
        for st in &f.body {
            match st {
                Statement::Let { name, value, .. } => self.bind(name, value),
                Statement::Query(e) => last = Some((e, self.scope.len())),
                Statement::Other { .. } => {}
            }
        }
        let t = match last {
            Some((e, vis)) => {
                self.vis = vis;
                self.tabular(e)
            }
            None => Tab::all(),
        };
        self.scope.truncate(saved_len);
        self.vis = saved_vis;
        self.inline_depth -= 1;
        t
    }

    // ----- operators ---------------------------------------------------------------------------

    fn operator(&mut self, t: Tab, op: &'a Operator) -> Tab {
        let Tab { cond, mut env } = t;
        let mut conds = vec![cond];
        match &op.kind {
            OperatorKind::Where(e) => conds.push(self.boolean(e, &env)),
            OperatorKind::Extend(items)
            | OperatorKind::Project(items)
            | OperatorKind::MvExpand(items) => {
                let mut next = env.clone();
                for a in items {
                    let col = self.classify(&a.value, &env);
                    if a.names.len() == 1 {
                        next.cols
                            .insert(a.names[0].clone(), named(col, &a.names[0]));
                    } else if a.names.is_empty() {
                        if let Some(n) = plain_name(&a.value) {
                            next.cols.insert(n.to_string(), col);
                        }
                    } else {
                        for n in &a.names {
                            next.cols.insert(n.clone(), Col::Computed(n.clone()));
                        }
                    }
                }
                env = next;
            }
            OperatorKind::ProjectRename(items) => {
                let mut next = env.clone();
                for a in items {
                    if let (Some(n), Some(old)) = (a.names.first(), plain_name(&a.value)) {
                        next.cols.insert(n.clone(), env.lookup(old));
                    }
                }
                env = next;
            }
            OperatorKind::Summarize { aggs, by } => {
                let keeps_rows = aggs.iter().any(|a| {
                    matches!(call_name(&a.value).as_deref(), Some("arg_max" | "arg_min" | "take_any" | "any"))
                        && matches!(&a.value.kind, ExprKind::Call { args, .. } if args.iter().any(|x| matches!(x.kind, ExprKind::Star)))
                });
                let mut next = if keeps_rows {
                    env.clone()
                } else {
                    Env {
                        cols: HashMap::new(),
                        default: Fallback::Aggregate,
                    }
                };
                for b in by {
                    let col = self.classify(&b.value, &env);
                    let name = b
                        .names
                        .first()
                        .map(String::as_str)
                        .or_else(|| plain_name(&b.value))
                        .or_else(|| bin_name(&b.value));
                    if let Some(n) = name {
                        next.cols.insert(n.to_string(), named(col, n));
                    }
                }
                for a in aggs {
                    for n in &a.names {
                        next.cols.insert(n.clone(), Col::Aggregate(n.clone()));
                    }
                }
                env = next;
            }
            OperatorKind::MakeSeries { columns } => {
                let mut next = Env {
                    cols: HashMap::new(),
                    default: Fallback::Aggregate,
                };
                for c in columns {
                    next.cols.insert(c.clone(), Col::Aggregate(c.clone()));
                }
                env = next;
            }
            OperatorKind::Join {
                options,
                right,
                on,
                lookup,
            } => {
                let kind = option_text(options, "kind")
                    .unwrap_or(if *lookup { "leftouter" } else { "innerunique" })
                    .to_ascii_lowercase();
                let (c, e2) = self.join(
                    Tab {
                        cond: Condition::and(std::mem::take(&mut conds)),
                        env,
                    },
                    &kind,
                    right,
                    on,
                );
                conds.push(c);
                env = e2;
            }
            OperatorKind::Union { tables, .. } => {
                let mut branches = vec![Condition::and(std::mem::take(&mut conds))];
                let mut envs = vec![env];
                for x in tables {
                    let t = self.tabular(x);
                    envs.push(t.env);
                    branches.push(t.cond);
                }
                env = union_env(&envs);
                conds.push(Condition::or(branches));
            }
            OperatorKind::Parse {
                source,
                columns,
                filters,
            } => {
                for c in columns {
                    env.cols.insert(c.clone(), Col::Computed(c.clone()));
                }
                if *filters {
                    conds.push(self.unparsed(
                        format!("parse-where {}", render(source)),
                        "operator not supported: parse-where",
                        op.span,
                    ));
                }
            }
            OperatorKind::MvApply { items, ops } => {
                let mut sub = env.clone();
                for a in items {
                    let col = self.classify(&a.value, &env);
                    let name = a
                        .names
                        .first()
                        .map(String::as_str)
                        .or_else(|| plain_name(&a.value));
                    if let Some(n) = name {
                        sub.cols.insert(n.to_string(), named(col, n));
                    }
                }
                let mut st = Tab {
                    cond: Condition::Const(true),
                    env: sub,
                };
                for o in ops {
                    st = self.operator(st, o);
                }
                conds.push(st.cond);
                // A summarize inside mv-apply aggregates one row's array: per-row computed
                // values, not thresholds over events.
                for (k, v) in st.env.cols {
                    let v = match v {
                        Col::Aggregate(n) => Col::Computed(n),
                        other => other,
                    };
                    env.cols.insert(k, v);
                }
            }
            OperatorKind::Partition { ops } => {
                let mut st = Tab {
                    cond: Condition::Const(true),
                    env: env.clone(),
                };
                for o in ops {
                    st = self.operator(st, o);
                }
                conds.push(st.cond);
                env = st.env;
            }
            OperatorKind::Evaluate(call) => {
                let name = call_name(call).unwrap_or_default();
                if matches!(name.as_str(), "ipv4_lookup" | "ipv6_lookup")
                    && let ExprKind::Call { args, .. } = &call.kind
                {
                    conds.push(self.ip_lookup(&name, args, &env, call.span));
                } else if COLUMN_PLUGINS.contains(&name.as_str()) {
                    env.default = Fallback::Computed;
                } else {
                    env = Env {
                        cols: HashMap::new(),
                        default: Fallback::Computed,
                    };
                }
            }
            OperatorKind::Search(pred) => conds.push(self.search_pred(pred, &env)),
            OperatorKind::Invoke(call) => {
                conds.push(self.unparsed(
                    format!("invoke {}", render(call)),
                    "operator not supported: invoke",
                    op.span,
                ));
            }
            OperatorKind::Passthrough => {
                if op.name == "count" {
                    env = Env {
                        cols: HashMap::new(),
                        default: Fallback::Aggregate,
                    };
                }
            }
            OperatorKind::Unsupported(text) => {
                conds.push(self.unparsed(
                    text.clone(),
                    format!("operator not supported: {}", op.name),
                    op.span,
                ));
            }
            OperatorKind::Unknown(text) => {
                conds.push(self.unparsed(
                    text.clone(),
                    format!("unknown operator: {}", op.name),
                    op.span,
                ));
            }
        }
        Tab {
            cond: Condition::and(conds),
            env,
        }
    }

    /// `evaluate ipv4_lookup(LookupTable, SourceIp, IpRangeColumn [, return_unmatched])`.
    fn ip_lookup(&mut self, name: &str, args: &'a [Expr], env: &Env, span: TextRange) -> Condition {
        let unmatched = args.get(3).is_some_and(|a| matches!(a.kind, ExprKind::Bool(true)))
            || args.iter().any(|a| matches!(&a.kind, ExprKind::Assign { name, value } if name == "return_unmatched" && matches!(value.kind, ExprKind::Bool(true))));
        let Some(table) = args.first() else {
            return Condition::Const(true);
        };
        let t = self.tabular(table);
        let (Some(key), Some(range)) = (args.get(1), args.get(2)) else {
            return t.cond;
        };
        let (Some(k), Some(r)) = (self.field(key, env), self.field(range, &t.env)) else {
            return t.cond;
        };
        let p = Predicate::new(k.raw, Op::Cidr, vec![Value::Str(r.raw)])
            .kind(PredicateKind::Join)
            .with_span(span)
            .context("kusto_op", name);
        let key = self.out.pred(p);
        if unmatched {
            Condition::Const(true)
        } else {
            Condition::and(vec![t.cond, key])
        }
    }

    fn join(&mut self, left: Tab, kind: &str, right: &'a Expr, on: &'a [Expr]) -> (Condition, Env) {
        let p0 = self.out.predicates.len();
        let r = self.tabular(right);
        let p1 = self.out.predicates.len();
        let inner = matches!(kind, "inner" | "innerunique" | "leftsemi" | "rightsemi");
        if !inner {
            for p in &mut self.out.predicates[p0..p1] {
                p.context.insert("join_kind".to_string(), kind.into());
            }
        }
        let mut keys = Vec::new();
        for k in on {
            self.join_keys(k, &left.env, &r.env, kind, &mut keys);
        }
        let mut env = left.env.clone();
        env.merge(&r.env);
        // A column neither side names is most likely a raw column of a joined table.
        if r.env.default == Fallback::Source {
            env.default = Fallback::Source;
        }
        let cond = match kind {
            "leftanti" | "anti" | "leftantisemi" => {
                let mut inner_c = vec![r.cond];
                inner_c.extend(keys);
                Condition::and(vec![left.cond, Condition::not(Condition::and(inner_c))])
            }
            "rightanti" | "rightantisemi" => {
                let mut inner_c = vec![left.cond];
                inner_c.extend(keys);
                Condition::and(vec![Condition::not(Condition::and(inner_c)), r.cond])
            }
            _ => {
                let mut all = vec![left.cond, r.cond];
                all.extend(keys);
                Condition::and(all)
            }
        };
        (cond, env)
    }

    fn join_keys(
        &mut self,
        k: &'a Expr,
        lenv: &Env,
        renv: &Env,
        kind: &str,
        out: &mut Vec<Condition>,
    ) {
        match &k.kind {
            ExprKind::Logical { op, items } if op == "and" => {
                for i in items {
                    self.join_keys(i, lenv, renv, kind, out);
                }
            }
            ExprKind::Name(n) => {
                let l = FieldRef::of(lenv.lookup(n));
                let r = FieldRef::of(renv.lookup(n));
                let p = Predicate::new(l.raw, Op::Eq, vec![Value::Str(r.raw)])
                    .kind(PredicateKind::Join)
                    .computed(l.computed)
                    .case_sensitive(true)
                    .with_span(k.span)
                    .context("join_kind", kind);
                out.push(self.out.pred(p));
            }
            ExprKind::Binary { op, lhs, rhs } if op == "==" => {
                let side = |e: &Expr| match &e.kind {
                    ExprKind::Member { base, name } => match &base.kind {
                        ExprKind::Name(b) if b == "$left" => Some((true, name.clone())),
                        ExprKind::Name(b) if b == "$right" => Some((false, name.clone())),
                        _ => None,
                    },
                    _ => None,
                };
                let (a, b) = match (side(lhs), side(rhs)) {
                    (Some((true, a)), Some((_, b))) | (Some((false, b)), Some((_, a))) => (a, b),
                    _ => (
                        plain_name(lhs).unwrap_or("").to_string(),
                        plain_name(rhs).unwrap_or("").to_string(),
                    ),
                };
                let l = FieldRef::of(lenv.lookup(&a));
                let r = FieldRef::of(renv.lookup(&b));
                let p = Predicate::new(l.raw, Op::Eq, vec![Value::Str(r.raw)])
                    .kind(PredicateKind::Join)
                    .computed(l.computed)
                    .case_sensitive(true)
                    .with_span(k.span)
                    .context("join_kind", kind);
                out.push(self.out.pred(p));
            }
            _ => {
                let u = self.unparsed(render(k), "unsupported join condition", k.span);
                out.push(u);
            }
        }
    }

    // ----- columns and values ------------------------------------------------------------------

    /// Where a column made by `extend`/`project`/`mv-expand`/`summarize by` comes from.
    fn classify(&mut self, e: &'a Expr, env: &Env) -> Col {
        if is_boolean_expr(e) {
            self.bool_cols.push((e, env.clone()));
            return Col::Bool(render(e), self.bool_cols.len() - 1);
        }
        match &e.kind {
            // A plain rename keeps what the column is (a boolean stays one).
            ExprKind::Name(n) if self.lookup(n).is_none() => env.lookup(n),
            ExprKind::Name(_) | ExprKind::Member { .. } | ExprKind::Index { .. } => self
                .field(e, env)
                .map_or_else(|| Col::Computed(render(e)), |f| f.to_col()),
            ExprKind::Call { name, args } => {
                let lname = name.to_ascii_lowercase();
                if TRANSPARENT_FNS.contains(&lname.as_str()) && args.len() == 1 {
                    return self.classify(&args[0], env);
                }
                if (lname == "column_ifexists" || lname == "columnifexists")
                    && let Some(ExprKind::Str(c)) = args.first().map(|a| &a.kind)
                {
                    return env.lookup(c);
                }
                Col::Computed(render(e))
            }
            _ => Col::Computed(render(e)),
        }
    }

    /// The field a scalar expression reads, if it is one (a column, a bag path, a cast of
    /// one, or a computation over columns, which is `computed`).
    fn field(&mut self, e: &'a Expr, env: &Env) -> Option<FieldRef> {
        match &e.kind {
            ExprKind::Name(n) => {
                if self.lookup(n).is_some() {
                    return None;
                }
                Some(FieldRef::of(env.lookup(n)))
            }
            ExprKind::Member { base, name } => {
                if let ExprKind::Name(b) = &base.kind
                    && (b == "$left" || b == "$right")
                {
                    return Some(FieldRef::of(env.lookup(name)));
                }
                let mut f = self.field(base, env)?;
                f.raw = format!("{}.{}", f.raw, name);
                Some(f)
            }
            ExprKind::Index { base, index } => {
                let mut f = self.field(base, env)?;
                match &index.kind {
                    ExprKind::Int(i) => f.raw = format!("{}[{}]", f.raw, i),
                    ExprKind::Str(k) if k.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                        f.raw = format!("{}.{}", f.raw, k);
                    }
                    _ => f.raw = format!("{}[{}]", f.raw, render(index)),
                }
                Some(f)
            }
            ExprKind::Call { name, args } => {
                let lname = name.to_ascii_lowercase();
                if TRANSPARENT_FNS.contains(&lname.as_str()) && args.len() == 1 {
                    return self.field(&args[0], env);
                }
                if (lname == "column_ifexists" || lname == "columnifexists")
                    && let Some(ExprKind::Str(c)) = args.first().map(|a| &a.kind)
                {
                    return Some(FieldRef::of(env.lookup(c)));
                }
                if lname == "toscalar" {
                    // A query's single value (`toscalar(eps) > 1000`): a comparison on an
                    // aggregate.
                    return Some(FieldRef {
                        raw: render(e),
                        computed: true,
                        aggregate: true,
                    });
                }
                let reads_column = args.iter().any(|a| self.reads_column(a));
                let aggregate = args.iter().any(|a| self.reads_aggregate(a, env));
                reads_column.then(|| FieldRef {
                    raw: render(e),
                    computed: true,
                    aggregate,
                })
            }
            ExprKind::Binary { op, lhs, rhs }
                if matches!(op.as_str(), "+" | "-" | "*" | "/" | "%") =>
            {
                let reads = self.reads_column(lhs) || self.reads_column(rhs);
                let aggregate = self.reads_aggregate(lhs, env) || self.reads_aggregate(rhs, env);
                reads.then(|| FieldRef {
                    raw: render(e),
                    computed: true,
                    aggregate,
                })
            }
            _ => None,
        }
    }

    /// Whether an expression reads an aggregate column (`array_length(set_X) > 20`).
    fn reads_aggregate(&self, e: &Expr, env: &Env) -> bool {
        match &e.kind {
            ExprKind::Name(n) => {
                self.lookup(n).is_none() && matches!(env.lookup(n), Col::Aggregate(_))
            }
            ExprKind::Member { base, .. } | ExprKind::Index { base, .. } => {
                self.reads_aggregate(base, env)
            }
            ExprKind::Call { args, .. } => args.iter().any(|a| self.reads_aggregate(a, env)),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.reads_aggregate(lhs, env) || self.reads_aggregate(rhs, env)
            }
            ExprKind::Unary { expr, .. } => self.reads_aggregate(expr, env),
            _ => false,
        }
    }

    /// Whether an expression reads a column (rather than only literals and `let` values).
    fn reads_column(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Name(n) => self.lookup(n).is_none(),
            ExprKind::Member { .. } | ExprKind::Index { .. } => true,
            ExprKind::Call { args, .. } => args.iter().any(|a| self.reads_column(a)),
            ExprKind::Binary { lhs, rhs, .. } => self.reads_column(lhs) || self.reads_column(rhs),
            ExprKind::Unary { expr, .. } => self.reads_column(expr),
            _ => false,
        }
    }

    /// The value side of a comparison.
    fn values(&mut self, e: &'a Expr, env: &Env) -> Vals<'a> {
        if let Some(v) = lit_value(e) {
            return Vals::Lits(vec![v]);
        }
        match &e.kind {
            ExprKind::Typed { ty, .. } if ty == "datetime" => Vals::Time,
            ExprKind::Null => Vals::Lits(Vec::new()),
            ExprKind::Dynamic(inner) => self.values(inner, env),
            ExprKind::Array(items) | ExprKind::List(items) => {
                let mut out = Vec::new();
                for i in items {
                    match self.values(i, env) {
                        Vals::Lits(v) => out.extend(v),
                        Vals::Tabular(x, vis) if items.len() == 1 => return Vals::Tabular(x, vis),
                        Vals::Time if items.len() == 1 => return Vals::Time,
                        Vals::Field(f) if items.len() == 1 => return Vals::Field(f),
                        Vals::Expr(t) if items.len() == 1 => return Vals::Expr(t),
                        Vals::Tabular(..) | Vals::Time => out.push(Value::Str(render(i))),
                        Vals::Field(f) => out.push(Value::Str(f.raw)),
                        Vals::Expr(t) => out.push(Value::Str(t)),
                    }
                }
                Vals::Lits(out)
            }
            ExprKind::Name(n) => match self.lookup(n) {
                Some(Binding {
                    kind: Bound::Expr(x),
                    vis,
                    ..
                }) => {
                    let fallback = Vals::Expr(n.clone());
                    self.with_vis(vis, fallback, |s| s.values(x, env))
                }
                Some(Binding {
                    kind: Bound::Func(_),
                    vis,
                    ..
                }) => Vals::Tabular(e, vis.max(self.vis)),
                Some(Binding {
                    kind: Bound::Unset, ..
                }) => Vals::Expr(n.clone()),
                None => Vals::Field(FieldRef::of(env.lookup(n))),
            },
            ExprKind::Datatable { columns, values } if columns.len() == 1 => {
                Vals::Lits(values.iter().filter_map(lit_value).collect())
            }
            ExprKind::Pipe { .. }
            | ExprKind::Union { .. }
            | ExprKind::Datatable { .. }
            | ExprKind::ExternalData { .. }
            | ExprKind::Search { .. } => Vals::Tabular(e, self.vis),
            ExprKind::Call { name, args } => {
                let lname = name.to_ascii_lowercase();
                if TIME_FNS.contains(&lname.as_str()) && !args.iter().any(|a| self.reads_column(a))
                {
                    return Vals::Time;
                }
                match lname.as_str() {
                    "pack_array" | "set_union" | "array_concat" => {
                        let mut out = Vec::new();
                        for a in args {
                            match self.values(a, env) {
                                Vals::Lits(v) => out.extend(v),
                                _ => return Vals::Expr(render(e)),
                            }
                        }
                        Vals::Lits(out)
                    }
                    "materialize" | "toscalar" => Vals::Tabular(e, self.vis),
                    "split" => {
                        match (args.first().map(|a| &a.kind), args.get(1).map(|a| &a.kind)) {
                            (Some(ExprKind::Str(text)), Some(ExprKind::Str(sep)))
                                if !sep.is_empty() =>
                            {
                                Vals::Lits(text.split(sep.as_str()).map(Value::str).collect())
                            }
                            _ => Vals::Expr(render(e)),
                        }
                    }
                    _ if self.lookup(name).is_some() => Vals::Tabular(e, self.vis),
                    _ => match self.field(e, env) {
                        Some(f) => Vals::Field(f),
                        None => Vals::Expr(render(e)),
                    },
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                // Each side is evaluated once: evaluating it again for `is_time` made a
                // left-nested chain (`a > > > ... b`) exponential.
                let (lv, rv) = (self.values(lhs, env), self.values(rhs, env));
                if matches!(lv, Vals::Time) || matches!(rv, Vals::Time) {
                    return Vals::Time;
                }
                if let Some(field) = self.field(e, env) {
                    return Vals::Field(field);
                }
                // `let threshold = 5 * 2;`: fold arithmetic on numbers.
                if let (Vals::Lits(a), Vals::Lits(b)) = (lv, rv)
                    && let ([a], [b]) = (a.as_slice(), b.as_slice())
                    && let Some(v) = fold(op, a, b)
                {
                    return Vals::Lits(vec![v]);
                }
                Vals::Expr(render(e))
            }
            ExprKind::Member { .. } | ExprKind::Index { .. } => match self.field(e, env) {
                Some(f) => Vals::Field(f),
                None => Vals::Expr(render(e)),
            },
            _ => Vals::Expr(render(e)),
        }
    }

    fn is_time(&mut self, e: &'a Expr) -> bool {
        matches!(self.values(e, &Env::default()), Vals::Time)
    }

    // ----- boolean expressions -----------------------------------------------------------------

    fn boolean(&mut self, e: &'a Expr, env: &Env) -> Condition {
        if self.guard.enter().is_err() {
            return self.unparsed(render(e), "expression nesting too deep", e.span);
        }
        let c = self.boolean_inner(e, env);
        self.guard.leave();
        c
    }

    fn boolean_inner(&mut self, e: &'a Expr, env: &Env) -> Condition {
        match &e.kind {
            ExprKind::Logical { op, items } => {
                let cs: Vec<Condition> = items.iter().map(|i| self.boolean(i, env)).collect();
                if op == "and" {
                    Condition::and(cs)
                } else {
                    Condition::or(cs)
                }
            }
            ExprKind::Binary { op, lhs, rhs } if is_comparison(op) => {
                self.comparison(op, lhs, rhs, e.span, env)
            }
            ExprKind::Between {
                negated,
                lhs,
                low,
                high,
            } => self.between(*negated, lhs, low, high, e.span, env),
            ExprKind::Call { name, args } => self.bool_call(name, args, e, env),
            ExprKind::Bool(b) => Condition::Const(*b),
            ExprKind::Name(n) if self.lookup(n).is_some() => match self.lookup(n) {
                Some(Binding {
                    kind: Bound::Expr(x),
                    vis,
                    ..
                }) => {
                    if let ExprKind::Bool(b) = x.kind {
                        return Condition::Const(b);
                    }
                    if self.inline_depth >= self.max_inline {
                        return self.unparsed(
                            render(e),
                            "let or function nesting too deep",
                            e.span,
                        );
                    }
                    self.with_vis(vis, Condition::Const(true), |s| s.boolean(x, env))
                }
                _ => self.unparsed(render(e), "unsupported expression", e.span),
            },
            ExprKind::Name(n) if matches!(env.lookup(n), Col::Bool(..)) => self.bool_column(n, env),
            ExprKind::Name(_) | ExprKind::Member { .. } | ExprKind::Index { .. } => {
                match self.field(e, env) {
                    Some(f) => self.make_pred(
                        &f,
                        Op::Eq,
                        vec![Value::Bool(true)],
                        false,
                        true,
                        None,
                        e.span,
                    ),
                    None => self.unparsed(render(e), "unsupported expression", e.span),
                }
            }
            ExprKind::Error => self.unparsed("", "syntax error", e.span),
            _ => self.unparsed(render(e), "unsupported expression", e.span),
        }
    }

    /// A boolean column made inside the query, used as a filter: its expression, lowered with
    /// the columns it saw.
    fn bool_column(&mut self, name: &str, env: &Env) -> Condition {
        let Col::Bool(_, i) = env.lookup(name) else {
            return Condition::Const(true);
        };
        match self.bool_cols.get(i).cloned() {
            Some((x, saved)) => self.boolean(x, &saved),
            None => Condition::Const(true),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn make_pred(
        &mut self,
        f: &FieldRef,
        op: Op,
        values: Vec<Value>,
        negated: bool,
        cs: bool,
        note: Option<&str>,
        span: TextRange,
    ) -> Condition {
        let mut p = Predicate::new(f.raw.clone(), op, values)
            .case_sensitive(cs)
            .computed(f.computed)
            .with_span(span);
        if negated {
            p = p.negative_op();
        }
        if f.aggregate {
            p = p.kind(PredicateKind::Threshold);
        }
        if let Some(n) = note {
            p = p.context("kusto_op", n);
        }
        self.out.pred(p)
    }

    fn comparison(
        &mut self,
        op: &str,
        lhs: &'a Expr,
        rhs: &'a Expr,
        span: TextRange,
        env: &Env,
    ) -> Condition {
        // `f(x) == true` / `f(x) == false` on a boolean function.
        if matches!(op, "==" | "!=" | "=~" | "<>") {
            let (call, b) = match (&lhs.kind, &rhs.kind) {
                (ExprKind::Call { .. }, ExprKind::Bool(b)) => (Some(lhs), *b),
                (ExprKind::Bool(b), ExprKind::Call { .. }) => (Some(rhs), *b),
                _ => (None, true),
            };
            // `IsAdmin == false` on a boolean column made inside the query.
            let bool_col = match (&lhs.kind, &rhs.kind) {
                (ExprKind::Name(n), ExprKind::Bool(b)) | (ExprKind::Bool(b), ExprKind::Name(n))
                    if self.lookup(n).is_none() && matches!(env.lookup(n), Col::Bool(..)) =>
                {
                    Some((n, *b))
                }
                _ => None,
            };
            if let Some((n, b)) = bool_col {
                let inner = self.bool_column(n, env);
                let positive = (op == "==" || op == "=~") == b;
                return if positive {
                    inner
                } else {
                    Condition::Or(vec![Condition::not(inner)])
                };
            }
            if let Some(c) = call
                && is_bool_fn(c)
            {
                let inner = self.boolean(c, env);
                let positive = (op == "==" || op == "=~") == b;
                // `f(x) == false` negates like a negative operator; only an explicit `not(...)`
                // is an exclusion (see `subquery_in`).
                return if positive {
                    inner
                } else {
                    Condition::Or(vec![Condition::not(inner)])
                };
            }
        }
        // `* has "x"`: a free-text match.
        if matches!(lhs.kind, ExprKind::Star) {
            let Some(s) = op_spec(op) else {
                return self.unparsed(
                    render_cmp(op, lhs, rhs),
                    format!("operator not supported: {op}"),
                    span,
                );
            };
            let f = FieldRef {
                raw: "_text".to_string(),
                computed: false,
                aggregate: false,
            };
            let vals = match self.values(rhs, env) {
                Vals::Lits(v) => v,
                _ => vec![Value::Str(render(rhs))],
            };
            return self.make_pred(
                &f,
                Op::Match,
                vals,
                s.negated,
                s.case_sensitive,
                Some(op_note(op)),
                span,
            );
        }
        let Some(mut s) = op_spec(op) else {
            return self.unparsed(
                render_cmp(op, lhs, rhs),
                format!("operator not supported: {op}"),
                span,
            );
        };
        // A comparison with a point in time is the query's time window.
        if matches!(s.op, Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne)
            && (self.is_time(rhs) || self.is_time(lhs))
        {
            return Condition::Const(true);
        }
        let (field, value_expr) = match self.field(lhs, env) {
            Some(f) => (f, rhs),
            None => match (flip(op), self.field(rhs, env)) {
                (Some(fop), Some(f)) => {
                    s = op_spec(fop).unwrap_or(s);
                    (f, lhs)
                }
                _ => {
                    // A constant condition (`hasUsers == true`, `1 == 1`) or a let value
                    // on the left of a term operator.
                    return self.unparsed(render_cmp(op, lhs, rhs), "unsupported expression", span);
                }
            },
        };
        let vals = self.values(value_expr, env);
        match vals {
            Vals::Time => Condition::Const(true),
            Vals::Lits(values) => {
                if s.all && values.len() > 1 {
                    let cs: Vec<Condition> = values
                        .into_iter()
                        .map(|v| {
                            self.make_pred(
                                &field,
                                s.op,
                                vec![v],
                                s.negated,
                                s.case_sensitive,
                                s.note,
                                span,
                            )
                        })
                        .collect();
                    Condition::and(cs)
                } else {
                    self.make_pred(
                        &field,
                        s.op,
                        values,
                        s.negated,
                        s.case_sensitive,
                        s.note,
                        span,
                    )
                }
            }
            Vals::Field(other) => {
                let c = self.make_pred(
                    &field,
                    s.op,
                    vec![Value::Str(other.raw)],
                    s.negated,
                    s.case_sensitive,
                    s.note,
                    span,
                );
                self.add_context(&c, "value_field", true);
                c
            }
            Vals::Expr(text) => {
                let c = self.make_pred(
                    &field,
                    s.op,
                    vec![Value::Str(text)],
                    s.negated,
                    s.case_sensitive,
                    s.note,
                    span,
                );
                self.add_context(&c, "value_expr", true);
                c
            }
            Vals::Tabular(x, vis)
                if s.op == Op::In || s.note.is_some_and(|n| n.starts_with("has_a")) =>
            {
                self.subquery_in(&field, s, x, vis, span)
            }
            Vals::Tabular(x, _) => {
                // `x > toscalar(...)`: a value computed by a query.
                let c = self.make_pred(
                    &field,
                    s.op,
                    vec![Value::Str(render(x))],
                    s.negated,
                    s.case_sensitive,
                    s.note,
                    span,
                );
                self.add_context(&c, "value_expr", true);
                c
            }
        }
    }

    fn add_context(&mut self, c: &Condition, key: &str, v: impl Into<serde_json::Value>) {
        if let Condition::Pred(i) = c
            && let Some(p) = self.out.predicates.get_mut(*i)
        {
            p.context.insert(key.to_string(), v.into());
        }
    }

    /// `x in (subquery)`: a semi-join. The subquery's filters belong to the rule; the key is
    /// a `join` predicate. `!in` is an anti-join: NOT (subquery filters and key).
    fn subquery_in(
        &mut self,
        field: &FieldRef,
        s: OpSpec,
        x: &'a Expr,
        vis: usize,
        span: TextRange,
    ) -> Condition {
        let lists_before = self.touched.len();
        let t = self.with_vis(vis, Tab::all(), |me| me.tabular(x));
        let mut p = Predicate::new(field.raw.clone(), s.op, Vec::new())
            .case_sensitive(s.case_sensitive)
            .computed(field.computed)
            .kind(PredicateKind::Join)
            .with_span(span)
            .context("subquery", render(x));
        if let Some(n) = s.note {
            p = p.context("kusto_op", n);
        }
        if let Some(u) = self.touched.get(lists_before) {
            p = p.context("reference_list", u.as_str());
        }
        let key = self.out.pred(p);
        let c = Condition::and(vec![t.cond, key]);
        if s.negated {
            // A negative operator, not an explicit NOT clause: CONTRACT makes `x !in (...)`
            // negated but not an exclusion. The one-branch Or keeps `finish` from reading the
            // NOT as a top-level exclusion conjunct while still negating what is inside.
            Condition::Or(vec![Condition::not(c)])
        } else {
            c
        }
    }

    fn between(
        &mut self,
        negated: bool,
        lhs: &'a Expr,
        low: &'a Expr,
        high: &'a Expr,
        span: TextRange,
        env: &Env,
    ) -> Condition {
        let Some(f) = self.field(lhs, env) else {
            return self.unparsed(render(lhs), "unsupported expression", span);
        };
        let lo = self.values(low, env);
        let hi = self.values(high, env);
        if matches!(lo, Vals::Time) || matches!(hi, Vals::Time) {
            return Condition::Const(true);
        }
        let as_vals = |v: Vals<'a>, e: &Expr| match v {
            Vals::Lits(v) => v,
            Vals::Field(f) => vec![Value::Str(f.raw)],
            _ => vec![Value::Str(render(e))],
        };
        let (lo, hi) = (as_vals(lo, low), as_vals(hi, high));
        if negated {
            let a = self.make_pred(&f, Op::Lt, lo, false, false, None, span);
            let b = self.make_pred(&f, Op::Gt, hi, false, false, None, span);
            Condition::or(vec![a, b])
        } else {
            let a = self.make_pred(&f, Op::Ge, lo, false, false, None, span);
            let b = self.make_pred(&f, Op::Le, hi, false, false, None, span);
            Condition::and(vec![a, b])
        }
    }

    fn bool_call(&mut self, name: &str, args: &'a [Expr], e: &'a Expr, env: &Env) -> Condition {
        let lname = name.to_ascii_lowercase();
        let span = e.span;
        let arg = |i: usize| args.get(i);
        match lname.as_str() {
            "not" => match arg(0) {
                Some(a) => {
                    let c = self.boolean(a, env);
                    Condition::not(c)
                }
                None => self.unparsed(render(e), "syntax error", span),
            },
            "isempty" | "isnull" | "isnotempty" | "isnotnull" => {
                let exists = lname.contains("not");
                // `isnotempty(toscalar(T))`: whether T has rows, i.e. T's filters.
                if let Some(a) = arg(0)
                    && let ExprKind::Call {
                        name: inner,
                        args: targs,
                    } = &a.kind
                    && inner.eq_ignore_ascii_case("toscalar")
                    && let Some(t) = targs.first()
                {
                    let tab = self.tabular(t);
                    return if exists {
                        tab.cond
                    } else {
                        Condition::not(tab.cond)
                    };
                }
                match arg(0).and_then(|a| self.field(a, env)) {
                    Some(f) => self.make_pred(
                        &f,
                        Op::Exists,
                        vec![Value::Bool(exists)],
                        false,
                        false,
                        None,
                        span,
                    ),
                    None => self.unparsed(render(e), "unsupported expression", span),
                }
            }
            "ipv4_is_in_range"
            | "ipv6_is_in_range"
            | "ipv4_is_in_any_range"
            | "ipv6_is_in_any_range"
            | "ipv4_is_match"
            | "ipv6_is_match" => {
                // The column is usually first; `ipv4_is_match("127.0.0.1", ClientIP)` has it second.
                let (f, rest): (FieldRef, Vec<&'a Expr>) =
                    match (arg(0).and_then(|a| self.field(a, env)), arg(1)) {
                        (Some(f), _) => (f, args[1..].iter().collect()),
                        (None, Some(a1)) if args.len() == 2 && self.field(a1, env).is_some() => {
                            let f = self.field(a1, env).unwrap_or(FieldRef {
                                raw: String::new(),
                                computed: true,
                                aggregate: false,
                            });
                            (f, vec![&args[0]])
                        }
                        _ => {
                            return self.unparsed(
                                render(e),
                                format!("function not supported: {name}"),
                                span,
                            );
                        }
                    };
                let mut values = Vec::new();
                for a in rest {
                    match self.values(a, env) {
                        Vals::Lits(v) => values.extend(v),
                        Vals::Field(g) => values.push(Value::Str(g.raw)),
                        _ => values.push(Value::Str(render(a))),
                    }
                }
                if lname.ends_with("_match") {
                    values.truncate(1);
                }
                self.make_pred(
                    &f,
                    Op::Cidr,
                    values,
                    false,
                    false,
                    Some(static_name(&lname)),
                    span,
                )
            }
            "ipv4_is_private" => match arg(0).and_then(|a| self.field(a, env)) {
                Some(f) => {
                    let values = PRIVATE_V4.iter().map(|s| Value::str(*s)).collect();
                    self.make_pred(
                        &f,
                        Op::Cidr,
                        values,
                        false,
                        false,
                        Some("ipv4_is_private"),
                        span,
                    )
                }
                None => self.unparsed(render(e), "function not supported: ipv4_is_private", span),
            },
            "has_ipv4" | "has_any_ipv4" | "has_ipv4_prefix" | "has_any_ipv4_prefix" => {
                let Some(f) = arg(0).and_then(|a| self.field(a, env)) else {
                    return self.unparsed(
                        render(e),
                        format!("function not supported: {name}"),
                        span,
                    );
                };
                let mut values = Vec::new();
                for a in &args[1..] {
                    match self.values(a, env) {
                        Vals::Lits(v) => values.extend(v),
                        _ => values.push(Value::Str(render(a))),
                    }
                }
                self.make_pred(
                    &f,
                    Op::Contains,
                    values,
                    false,
                    false,
                    Some(static_name(&lname)),
                    span,
                )
            }
            "set_has_element" | "array_index_of" => {
                // set_has_element(list, column): column in list.
                let (Some(a0), Some(a1)) = (arg(0), arg(1)) else {
                    return self.unparsed(
                        render(e),
                        format!("function not supported: {name}"),
                        span,
                    );
                };
                if let (Vals::Lits(values), Some(f)) = (self.values(a0, env), self.field(a1, env)) {
                    return self.make_pred(&f, Op::In, values, false, true, None, span);
                }
                match (self.field(a0, env), self.values(a1, env)) {
                    (Some(f), Vals::Lits(values)) => self.make_pred(
                        &f,
                        Op::Contains,
                        values,
                        false,
                        true,
                        Some("set_has_element"),
                        span,
                    ),
                    _ => self.unparsed(render(e), format!("function not supported: {name}"), span),
                }
            }
            "bag_has_key" => {
                // bag_has_key(bag, "key"): the bag's key exists.
                match (
                    arg(0).and_then(|a| self.field(a, env)),
                    arg(1).map(|a| &a.kind),
                ) {
                    (Some(mut f), Some(ExprKind::Str(k))) => {
                        f.raw = format!("{}.{k}", f.raw);
                        self.make_pred(
                            &f,
                            Op::Exists,
                            vec![Value::Bool(true)],
                            false,
                            false,
                            None,
                            span,
                        )
                    }
                    _ => self.unparsed(render(e), format!("function not supported: {name}"), span),
                }
            }
            "tobool" | "toboolean" | "column_ifexists" | "columnifexists" => {
                match self.field(e, env) {
                    Some(f) => {
                        self.make_pred(&f, Op::Eq, vec![Value::Bool(true)], false, true, None, span)
                    }
                    None => self.unparsed(render(e), "unsupported expression", span),
                }
            }
            _ => {
                if let Some(Binding {
                    kind: Bound::Func(f),
                    vis,
                    ..
                }) = self.lookup(name)
                    && f.body.len() == 1
                    && let Some(Statement::Query(body)) = f.body.first()
                    && f.params.is_empty()
                {
                    if self.inline_depth >= self.max_inline {
                        return self.unparsed(render(e), "let or function nesting too deep", span);
                    }
                    return self.with_vis(vis, Condition::Const(true), |s| s.boolean(body, env));
                }
                self.unparsed(render(e), format!("function not supported: {name}"), span)
            }
        }
    }

    /// The predicate of `search`: bare strings are free-text matches on `_text`.
    fn search_pred(&mut self, e: &'a Expr, env: &Env) -> Condition {
        if self.guard.enter().is_err() {
            return self.unparsed(render(e), "expression nesting too deep", e.span);
        }
        let c = match &e.kind {
            ExprKind::Str(s) => {
                let f = FieldRef {
                    raw: "_text".to_string(),
                    computed: false,
                    aggregate: false,
                };
                let op = if s.contains('*') {
                    Op::Wildcard
                } else {
                    Op::Match
                };
                self.make_pred(
                    &f,
                    op,
                    vec![Value::Str(s.clone())],
                    false,
                    false,
                    None,
                    e.span,
                )
            }
            ExprKind::Logical { op, items } => {
                let cs: Vec<Condition> = items.iter().map(|i| self.search_pred(i, env)).collect();
                if op == "and" {
                    Condition::and(cs)
                } else {
                    Condition::or(cs)
                }
            }
            ExprKind::Call { name, args }
                if name.eq_ignore_ascii_case("not") && args.len() == 1 =>
            {
                let c = self.search_pred(&args[0], env);
                Condition::not(c)
            }
            _ => self.boolean(e, env),
        };
        self.guard.leave();
        c
    }
}

fn op_note(op: &str) -> &'static str {
    op_spec(op).and_then(|s| s.note).unwrap_or(match op {
        "==" => "==",
        "contains" => "contains",
        _ => "match",
    })
}

fn static_name(name: &str) -> &'static str {
    const NAMES: [&str; 10] = [
        "ipv4_is_in_range",
        "ipv6_is_in_range",
        "ipv4_is_in_any_range",
        "ipv6_is_in_any_range",
        "ipv4_is_match",
        "ipv6_is_match",
        "has_ipv4",
        "has_any_ipv4",
        "has_ipv4_prefix",
        "has_any_ipv4_prefix",
    ];
    NAMES
        .iter()
        .find(|n| **n == name)
        .copied()
        .unwrap_or("function")
}

/// Functions that return a boolean and lower to predicates.
fn is_bool_fn(e: &Expr) -> bool {
    matches!(
        call_name(e).as_deref(),
        Some(
            "isempty"
                | "isnotempty"
                | "isnull"
                | "isnotnull"
                | "ipv4_is_private"
                | "ipv4_is_in_range"
                | "ipv6_is_in_range"
                | "ipv4_is_in_any_range"
                | "ipv6_is_in_any_range"
                | "ipv4_is_match"
                | "ipv6_is_match"
                | "has_ipv4"
                | "has_any_ipv4"
                | "has_ipv4_prefix"
                | "has_any_ipv4_prefix"
                | "set_has_element"
                | "bag_has_key"
                | "not"
        )
    )
}

/// The columns after a `union`: a column that all branches agree on keeps its origin; one the
/// branches disagree on is the source field of that name when any branch reads it raw (rows of
/// that branch carry the raw field), else computed (or an aggregate when every branch says so).
fn union_env(envs: &[Env]) -> Env {
    let mut out = Env {
        cols: HashMap::new(),
        default: if envs.iter().any(|e| e.default == Fallback::Source) || envs.is_empty() {
            Fallback::Source
        } else if envs.iter().all(|e| e.default == Fallback::Aggregate) {
            Fallback::Aggregate
        } else {
            Fallback::Computed
        },
    };
    let names: std::collections::BTreeSet<&String> =
        envs.iter().flat_map(|e| e.cols.keys()).collect();
    for name in names {
        let cols: Vec<Col> = envs.iter().map(|e| e.lookup(name)).collect();
        let col = if cols.windows(2).all(|w| w[0] == w[1]) {
            cols[0].clone()
        } else if cols.iter().any(|c| matches!(c, Col::Source(_))) {
            Col::Source(name.clone())
        } else if cols.iter().all(|c| matches!(c, Col::Aggregate(_))) {
            Col::Aggregate(name.clone())
        } else {
            Col::Computed(name.clone())
        };
        out.cols.insert(name.clone(), col);
    }
    out
}

/// Arithmetic on two numbers (`5 * 2`), as Kusto computes it (integer division on longs).
fn fold(op: &str, a: &Value, b: &Value) -> Option<Value> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => match op {
            "+" => x.checked_add(*y).map(Value::Int),
            "-" => x.checked_sub(*y).map(Value::Int),
            "*" => x.checked_mul(*y).map(Value::Int),
            "/" => x.checked_div(*y).map(Value::Int),
            "%" => x.checked_rem(*y).map(Value::Int),
            _ => None,
        },
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            #[allow(clippy::cast_precision_loss)]
            let f = |v: &Value| match v {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                _ => f64::NAN,
            };
            let (x, y) = (f(a), f(b));
            let r = match op {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "/" if y != 0.0 => x / y,
                _ => return None,
            };
            r.is_finite().then_some(Value::Float(r))
        }
        _ => None,
    }
}

/// A computed column is known by its name, not by the expression that made it.
fn named(col: Col, name: &str) -> Col {
    match col {
        Col::Computed(_) => Col::Computed(name.to_string()),
        Col::Aggregate(_) => Col::Aggregate(name.to_string()),
        Col::Bool(_, i) => Col::Bool(name.to_string(), i),
        c @ Col::Source(_) => c,
    }
}

/// Whether an expression is a condition (a comparison, `and`/`or`, `not()`, a predicate
/// function), so that a column made from it can be lowered where it is used as a filter.
fn is_boolean_expr(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Logical { .. } | ExprKind::Between { .. } => true,
        ExprKind::Binary { op, .. } => is_comparison(op),
        ExprKind::Call { .. } => is_bool_fn(e),
        _ => false,
    }
}

fn plain_name(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Name(n) => Some(n),
        _ => None,
    }
}

/// `bin(TimeGenerated, 1h)` in `summarize by` names its column after the binned column.
fn bin_name(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Call { name, args }
            if name.eq_ignore_ascii_case("bin") || name.eq_ignore_ascii_case("floor") =>
        {
            args.first().and_then(plain_name)
        }
        _ => None,
    }
}

fn option_text<'o>(options: &'o [OptionArg], name: &str) -> Option<&'o str> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value.kind {
            ExprKind::Name(n) => Some(n.as_str()),
            ExprKind::Str(s) => Some(s.as_str()),
            _ => None,
        })
}

fn render_cmp(op: &str, lhs: &Expr, rhs: &Expr) -> String {
    format!("{} {} {}", render(lhs), op, render(rhs))
}

/// Compact Kusto text of an expression (for values that are expressions and unparsed text).
#[must_use]
pub fn render(e: &Expr) -> String {
    let mut s = String::new();
    render_into(e, &mut s, 0);
    s
}

fn render_list(items: &[Expr], out: &mut String, depth: usize) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        render_into(x, out, depth + 1);
    }
}

fn render_into(e: &Expr, out: &mut String, depth: usize) {
    use std::fmt::Write;
    if depth > LIMITS.max_depth * 2 || out.len() > 2_000 {
        out.push('…');
        return;
    }
    match &e.kind {
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
        ExprKind::Int(i) => {
            let _ = write!(out, "{i}");
        }
        ExprKind::Real(f) => {
            let _ = write!(out, "{f}");
        }
        ExprKind::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        ExprKind::Null => out.push_str("null"),
        ExprKind::Timespan(t) => out.push_str(t),
        ExprKind::Typed { ty, raw } => {
            let _ = write!(out, "{ty}({raw})");
        }
        ExprKind::Dynamic(inner) => {
            out.push_str("dynamic(");
            render_into(inner, out, depth + 1);
            out.push(')');
        }
        ExprKind::Array(items) => {
            out.push('[');
            render_list(items, out, depth);
            out.push(']');
        }
        ExprKind::Bag(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{k:?}: ");
                render_into(v, out, depth + 1);
            }
            out.push('}');
        }
        ExprKind::Star => out.push('*'),
        ExprKind::List(items) => {
            out.push('(');
            render_list(items, out, depth);
            out.push(')');
        }
        ExprKind::Unary { op, expr } => {
            out.push_str(op);
            render_into(expr, out, depth + 1);
        }
        ExprKind::Binary { op, lhs, rhs } => {
            render_into(lhs, out, depth + 1);
            let _ = write!(out, " {op} ");
            render_into(rhs, out, depth + 1);
        }
        ExprKind::Logical { op, items } => {
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    let _ = write!(out, " {op} ");
                }
                render_into(x, out, depth + 1);
            }
        }
        ExprKind::Between {
            negated,
            lhs,
            low,
            high,
        } => {
            render_into(lhs, out, depth + 1);
            out.push_str(if *negated {
                " !between ("
            } else {
                " between ("
            });
            render_into(low, out, depth + 1);
            out.push_str(" .. ");
            render_into(high, out, depth + 1);
            out.push(')');
        }
        ExprKind::Member { base, name } => {
            render_into(base, out, depth + 1);
            out.push('.');
            out.push_str(name);
        }
        ExprKind::Index { base, index } => {
            render_into(base, out, depth + 1);
            out.push('[');
            render_into(index, out, depth + 1);
            out.push(']');
        }
        ExprKind::Call { name, args } => {
            out.push_str(name);
            out.push('(');
            render_list(args, out, depth);
            out.push(')');
        }
        ExprKind::Assign { name, value } => {
            let _ = write!(out, "{name}=");
            render_into(value, out, depth + 1);
        }
        ExprKind::Pipe { source, ops } => {
            render_into(source, out, depth + 1);
            for o in ops {
                let _ = write!(out, " | {} ...", o.name);
            }
        }
        ExprKind::Union { tables, .. } => {
            out.push_str("union ");
            render_list(tables, out, depth);
        }
        ExprKind::Datatable { columns, .. } => {
            let _ = write!(out, "datatable({})[...]", columns.join(", "));
        }
        ExprKind::ExternalData { urls } => {
            let _ = write!(out, "externaldata[{}]", urls.join(", "));
        }
        ExprKind::Search { pred, .. } => {
            out.push_str("search ");
            render_into(pred, out, depth + 1);
        }
        ExprKind::Find { pred, .. } => {
            out.push_str("find where ");
            render_into(pred, out, depth + 1);
        }
        ExprKind::Evaluate(c) => {
            out.push_str("evaluate ");
            render_into(c, out, depth + 1);
        }
        ExprKind::Generated(w) => out.push_str(w),
        ExprKind::Error => out.push_str("<error>"),
    }
}
