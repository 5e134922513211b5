//! Symbolic execution of `def rule(event):` into a condition tree.
//!
//! Statements are followed in order with an environment of symbolic values (`Sym`):
//! event lookups become fields, literals stay literals, comparisons become lowered
//! conditions. An `if` whose branch returns splits the path: `if A: return False` leaves
//! `not A` on the rest of the function (an exclusion), `if A: return True` makes the result
//! `A or rest`. What the function returns on each path (`Ret`) becomes the tree. Helper
//! functions (same file, global helpers, data-model methods) are inlined with a depth limit
//! and a recursion check; anything not understood becomes an `Unparsed` leaf naming it.

use std::collections::HashMap;
use std::rc::Rc;

use ruff_python_ast::{self as ast, BoolOp, CmpOp, Expr, Number, Operator, Stmt, UnaryOp};
use ruff_text_size::Ranged;
use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    Condition, DepthGuard, LIMITS, Lowered, Op, Origin, Predicate, PredicateKind, Unparsed, Value,
};
use ruleatlas_text::TextRange;

use super::{Ast, LowerContext, UdmMapping};

/// Statements followed before giving up on one rule (bounds path duplication).
const MAX_STEPS: usize = 20_000;
/// Sequential branches kept on one path before the rest becomes unparsed.
const MAX_GUARDS: usize = 200;
/// Constant sequences longer than this are not unrolled in loops and comprehensions.
const MAX_UNROLL: usize = 256;

const STDLIB: &[&str] = &[
    "re",
    "fnmatch",
    "ipaddress",
    "json",
    "datetime",
    "time",
    "math",
    "collections",
    "typing",
    "logging",
    "os",
    "urllib",
    "string",
    "difflib",
    "base64",
    "hashlib",
    "functools",
    "itertools",
    "random",
    "uuid",
    "urllib.parse",
    "dateutil",
    "ast",
    "sys",
];

const BUILTINS: &[&str] = &[
    "any",
    "all",
    "bool",
    "str",
    "int",
    "float",
    "len",
    "isinstance",
    "set",
    "frozenset",
    "list",
    "tuple",
    "sorted",
    "dict",
    "min",
    "max",
    "sum",
    "abs",
    "round",
    "getattr",
    "hasattr",
    "print",
    "repr",
    "type",
    "range",
    "enumerate",
    "zip",
    "map",
    "filter",
    "reversed",
    "next",
    "iter",
];

/// Python's `ipaddress` private ranges (`is_private`).
const PRIVATE_NETS: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/29",
    "192.0.0.170/31",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::1/128",
    "::/128",
    "::ffff:0:0/96",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2001:10::/28",
    "fc00::/7",
    "fe80::/10",
];

#[derive(Debug, Clone, PartialEq)]
struct FieldRef {
    path: Vec<String>,
    /// `.lower()` / `.upper()` applied: comparisons are case-insensitive.
    ci: bool,
    range: ruff_text_size::TextRange,
}

impl FieldRef {
    fn child(&self, key: &str, range: ruff_text_size::TextRange) -> Self {
        let mut path = self.path.clone();
        path.push(key.to_string());
        Self {
            path,
            ci: self.ci,
            range,
        }
    }
    fn name(&self) -> String {
        self.path.join(".")
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Unk {
    text: String,
    reason: String,
    origin: Option<Origin>,
    span: Option<TextRange>,
}

#[derive(Debug, Clone, Copy)]
struct FuncRef<'a> {
    def: &'a ast::StmtFunctionDef,
    module: usize,
}

impl PartialEq for FuncRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.def, other.def) && self.module == other.module
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Sym<'a> {
    Event,
    Field(FieldRef),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    NoneV,
    Seq(Vec<Sym<'a>>),
    Dict(Vec<(Sym<'a>, Sym<'a>)>),
    Cond(Condition),
    Regex {
        pattern: String,
        ci: bool,
    },
    IpAddr(FieldRef),
    IpNet(Vec<String>),
    Module(String),
    Import {
        module: String,
        name: String,
    },
    Builtin(String),
    Func(FuncRef<'a>),
    Method {
        recv: Box<Sym<'a>>,
        name: String,
    },
    IfExp(Condition, Box<Sym<'a>>, Box<Sym<'a>>),
    /// `len(field)`: only its comparisons with 0 and 1 (emptiness) are understood.
    Len(FieldRef),
    /// `event.udm(...)` on a rule of several log types whose data models differ.
    PerLogType(Vec<(String, Sym<'a>)>, ruff_text_size::TextRange),
    /// Mutually exclusive cases (a constant dict looked up by an event field) and a default.
    Cases(Vec<(Condition, Sym<'a>)>, Box<Sym<'a>>),
    Unknown(Box<Unk>),
}

impl Sym<'_> {
    fn is_literal(&self) -> bool {
        matches!(
            self,
            Sym::Str(_) | Sym::Int(_) | Sym::Float(_) | Sym::Bool(_) | Sym::NoneV
        )
    }
    fn to_value(&self) -> Option<Value> {
        match self {
            Sym::Str(s) => Some(Value::Str(s.clone())),
            Sym::Int(i) => Some(Value::Int(*i)),
            Sym::Float(f) => Some(Value::Float(*f)),
            Sym::Bool(b) => Some(Value::Bool(*b)),
            _ => None,
        }
    }
    /// A falsy literal used as a default (`x or ""`, `x or {}`).
    fn is_falsy_default(&self) -> bool {
        match self {
            Sym::Str(s) => s.is_empty(),
            Sym::Int(0) | Sym::Bool(false) | Sym::NoneV => true,
            Sym::Seq(v) => v.is_empty(),
            Sym::Dict(v) => v.is_empty(),
            _ => false,
        }
    }
}

type Env<'a> = HashMap<String, Sym<'a>>;

/// What a block does on each path: return a value, fall through (with the environment at
/// that point), or continue with the rest of the enclosing block (`Cont`, after splitting).
#[derive(Debug, Clone)]
enum Ret<'a> {
    Leaf(Sym<'a>),
    Branch(Condition, Box<Ret<'a>>, Box<Ret<'a>>),
    Fall(Env<'a>),
    Cont,
    /// `continue` / `break`: leaves the loop body (the enclosing loop turns it into `Fall`).
    Skip(Env<'a>),
}

struct ModuleRef<'a> {
    ast: &'a Ast,
    path: &'a str,
}

struct Lowerer<'a> {
    ctx: &'a LowerContext,
    out: Lowered,
    modules: Vec<ModuleRef<'a>>,
    module_ids: HashMap<String, usize>,
    module_envs: HashMap<usize, Rc<Env<'a>>>,
    cur: usize,
    guard: DepthGuard,
    stack: Vec<(usize, String)>,
    steps: usize,
    truthy_memo: HashMap<(usize, String, u32, u32), Condition>,
    unparsed_memo: HashMap<UnparsedKey, Condition>,
}

type UnparsedKey = (String, String, Option<(String, u32, u32)>);

/// Lowers the `rule` function of `ast`.
pub(crate) fn lower_rule(ast: &Ast, ctx: &LowerContext) -> Lowered {
    let mut lw = Lowerer {
        ctx,
        out: Lowered::default(),
        modules: vec![ModuleRef {
            ast,
            path: &ctx.path,
        }],
        module_ids: HashMap::new(),
        module_envs: HashMap::new(),
        cur: 0,
        guard: DepthGuard::default(),
        stack: Vec::new(),
        steps: 0,
        truthy_memo: HashMap::new(),
        unparsed_memo: HashMap::new(),
    };
    let Some(module) = ast.module.as_ref() else {
        lw.out.tree = Condition::Const(false);
        return lw.out;
    };
    let mut rule_def = None;
    let mut rule_other = None;
    for stmt in &module.body {
        match stmt {
            Stmt::FunctionDef(f) if f.name.as_str() == "rule" => rule_def = Some(f),
            Stmt::Assign(a)
                if a.targets
                    .iter()
                    .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == "rule")) =>
            {
                rule_other = Some(a.range);
            }
            _ => {}
        }
    }
    let Some(def) = rule_def else {
        let d = match rule_other {
            Some(r) => Diagnostic::error("panther-rule", "`rule` is not a function")
                .with_range(TextRange::new(r.start().to_usize(), r.end().to_usize())),
            None => Diagnostic::error("panther-rule", "no `def rule(event):` in the Python file")
                .with_range(TextRange::empty(0)),
        };
        lw.out.diagnostics.push(d);
        lw.out.tree = Condition::Const(false);
        return lw.out;
    };
    let mut env = Env::new();
    let params = all_params(&def.parameters);
    for (i, p) in params.iter().enumerate() {
        let v = if i == 0 { Sym::Event } else { Sym::NoneV };
        env.insert(p.parameter.name.as_str().to_string(), v);
    }
    let ret = lw.exec_block(&def.body, env);
    let tree = lw.truthy_ret(&ret);
    let tree = lw.normalize(tree, 0);
    lw.out.tree = tree;
    compact(&mut lw.out);
    lw.out
}

fn all_params(p: &ast::Parameters) -> Vec<&ast::ParameterWithDefault> {
    p.posonlyargs.iter().chain(p.args.iter()).collect()
}

fn tr(r: ruff_text_size::TextRange) -> TextRange {
    TextRange::new(r.start().to_usize(), r.end().to_usize())
}

// ---------------------------------------------------------------------------------------------
// Condition helpers

fn and_(items: Vec<Condition>) -> Condition {
    if items.contains(&Condition::Const(false)) {
        return Condition::Const(false);
    }
    Condition::and(items)
}

fn not_(c: Condition) -> Condition {
    Condition::not(c)
}

fn ite(c: Condition, t: Condition, f: Condition) -> Condition {
    use Condition::Const;
    match (&c, &t, &f) {
        (Const(true), _, _) => t,
        (Const(false), _, _) => f,
        // `a and b` as a value is `b if a else a`: (a ∧ t) ∨ (¬a ∧ a) = a ∧ t.
        _ if f == c => and_(vec![c, t]),
        _ if t == c => or_plain(vec![c, f]),
        (_, Const(true), Const(false)) => c,
        (_, Const(false), Const(true)) => not_(c),
        (_, Const(true), _) => or_plain(vec![c, f]),
        (_, Const(false), _) => and_(vec![not_(c), f]),
        (_, _, Const(false)) => and_(vec![c, t]),
        (_, _, Const(true)) => or_plain(vec![not_(c), t]),
        _ if t == f => t,
        _ => or_plain(vec![and_(vec![c.clone(), t]), and_(vec![not_(c), f])]),
    }
}

fn or_plain(items: Vec<Condition>) -> Condition {
    if items.contains(&Condition::Const(true)) {
        return Condition::Const(true);
    }
    let items: Vec<Condition> = items
        .into_iter()
        .filter(|c| *c != Condition::Const(false))
        .collect();
    Condition::or(items)
}

/// Keeps only predicates and fragments reachable from the tree, in tree order.
pub(crate) fn compact(l: &mut Lowered) {
    fn walk(c: &Condition, p: &mut Vec<usize>, u: &mut Vec<usize>) {
        match c {
            Condition::And(v) | Condition::Or(v) => v.iter().for_each(|x| walk(x, p, u)),
            Condition::Not(x) => walk(x, p, u),
            Condition::Pred(i) => {
                if !p.contains(i) {
                    p.push(*i);
                }
            }
            Condition::Unparsed(i) => {
                if !u.contains(i) {
                    u.push(*i);
                }
            }
            Condition::Const(_) => {}
        }
    }
    fn remap(c: &Condition, pm: &HashMap<usize, usize>, um: &HashMap<usize, usize>) -> Condition {
        match c {
            Condition::And(v) => Condition::And(v.iter().map(|x| remap(x, pm, um)).collect()),
            Condition::Or(v) => Condition::Or(v.iter().map(|x| remap(x, pm, um)).collect()),
            Condition::Not(x) => Condition::Not(Box::new(remap(x, pm, um))),
            Condition::Pred(i) => Condition::Pred(pm.get(i).copied().unwrap_or(*i)),
            Condition::Unparsed(i) => Condition::Unparsed(um.get(i).copied().unwrap_or(*i)),
            Condition::Const(b) => Condition::Const(*b),
        }
    }
    let mut p = Vec::new();
    let mut u = Vec::new();
    walk(&l.tree, &mut p, &mut u);
    let pm: HashMap<usize, usize> = p.iter().enumerate().map(|(new, old)| (*old, new)).collect();
    let um: HashMap<usize, usize> = u.iter().enumerate().map(|(new, old)| (*old, new)).collect();
    let preds = p
        .iter()
        .filter_map(|i| l.predicates.get(*i).cloned())
        .collect();
    let unparsed = u
        .iter()
        .filter_map(|i| l.unparsed.get(*i).cloned())
        .collect();
    l.tree = remap(&l.tree, &pm, &um);
    l.predicates = preds;
    l.unparsed = unparsed;
}

fn mergeable(op: Op) -> Option<Op> {
    match op {
        Op::Eq | Op::In => Some(Op::In),
        Op::Contains | Op::StartsWith | Op::EndsWith | Op::Wildcard | Op::RegexMatch | Op::Cidr => {
            Some(op)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------

impl<'a> Lowerer<'a> {
    fn module(&self) -> &ModuleRef<'a> {
        &self.modules[self.cur]
    }

    fn origin(&self, r: ruff_text_size::TextRange) -> Origin {
        let m = self.module();
        Origin::new(
            m.path,
            m.ast.lines.line_column(&m.ast.text, r.start().to_usize()),
        )
    }

    fn text_of(&self, r: ruff_text_size::TextRange) -> String {
        let m = self.module();
        let s = m
            .ast
            .text
            .get(r.start().to_usize()..r.end().to_usize())
            .unwrap_or("");
        let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if one.len() > 200 {
            let mut cut = 200;
            while !one.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}…", &one[..cut])
        } else {
            one
        }
    }

    fn unk(&self, r: ruff_text_size::TextRange, reason: impl Into<String>) -> Sym<'a> {
        Sym::Unknown(Box::new(Unk {
            text: self.text_of(r),
            reason: reason.into(),
            origin: Some(self.origin(r)),
            span: if self.cur == 0 { Some(tr(r)) } else { None },
        }))
    }

    fn unparsed(&mut self, u: &Unk) -> Condition {
        let key = (
            u.text.clone(),
            u.reason.clone(),
            u.origin
                .as_ref()
                .map(|o| (o.path.clone(), o.line, o.column)),
        );
        if let Some(c) = self.unparsed_memo.get(&key) {
            return c.clone();
        }
        let mut up = Unparsed::new(u.text.clone(), u.reason.clone());
        up.origin.clone_from(&u.origin);
        up.span = u.span;
        let c = self.out.unparsed(up);
        self.unparsed_memo.insert(key, c.clone());
        c
    }

    fn pred(
        &mut self,
        f: &FieldRef,
        op: Op,
        values: Vec<Value>,
        neg_op: bool,
        r: ruff_text_size::TextRange,
    ) -> Condition {
        let mut p = Predicate::new(f.name(), op, values).case_sensitive(!f.ci);
        if matches!(
            op,
            Op::Exists | Op::Cidr | Op::Gt | Op::Ge | Op::Lt | Op::Le
        ) {
            p.case_sensitive = false;
        }
        if neg_op {
            p = p.negative_op();
        }
        p.origin = Some(self.origin(r));
        if self.cur == 0 {
            p.span = Some(tr(r));
        }
        self.out.pred(p)
    }

    fn pred_kind(
        &mut self,
        f: &FieldRef,
        op: Op,
        values: Vec<Value>,
        kind: PredicateKind,
        r: ruff_text_size::TextRange,
    ) -> Condition {
        let c = self.pred(f, op, values, false, r);
        if let Condition::Pred(i) = c
            && let Some(p) = self.out.predicates.get_mut(i)
        {
            p.kind = kind;
        }
        c
    }

    /// An OR that merges predicates on one field with one op into a multi-valued predicate.
    fn or_merge(&mut self, items: Vec<Condition>) -> Condition {
        let flat = match or_plain(items) {
            Condition::Or(v) => v,
            other => return other,
        };
        let mut out: Vec<Condition> = Vec::new();
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new(); // (position in out, pred indices)
        for c in flat {
            if let Condition::Pred(i) = c
                && let Some(p) = self.out.predicates.get(i)
                && let Some(mop) = mergeable(p.op)
                && !p.negated
                && p.kind == PredicateKind::Filter
            {
                let key = |q: &Predicate| {
                    (
                        q.raw_field.clone(),
                        mergeable(q.op),
                        q.case_sensitive,
                        q.context.clone(),
                    )
                };
                let k = key(p);
                let _ = mop;
                if let Some(g) = groups.iter_mut().find(|(_, idx)| {
                    idx.first()
                        .and_then(|j| self.out.predicates.get(*j))
                        .is_some_and(|q| key(q) == k)
                }) {
                    g.1.push(i);
                    continue;
                }
                groups.push((out.len(), vec![i]));
                out.push(Condition::Pred(i));
                continue;
            }
            out.push(c);
        }
        for (pos, idx) in groups {
            if idx.len() < 2 {
                continue;
            }
            let Some(first) = idx
                .first()
                .and_then(|j| self.out.predicates.get(*j))
                .cloned()
            else {
                continue;
            };
            let mut merged = first.clone();
            merged.op = mergeable(first.op).unwrap_or(first.op);
            merged.values.clear();
            for j in &idx {
                if let Some(q) = self.out.predicates.get(*j) {
                    for v in &q.values {
                        if !merged.values.contains(v) {
                            merged.values.push(v.clone());
                        }
                    }
                }
            }
            if merged.op == Op::In && merged.values.len() == 1 {
                merged.op = Op::Eq;
            }
            let c = self.out.pred(merged);
            out[pos] = c;
        }
        // Drop the now-merged leaves.
        let mut kept = Vec::new();
        let mut seen_pos = std::collections::HashSet::new();
        for c in out {
            if let Condition::Pred(i) = c
                && !seen_pos.insert(i)
            {
                continue;
            }
            kept.push(c);
        }
        Condition::or(kept)
    }

    /// Merges sibling predicates under every OR (`a == x or a == y` is `a in [x, y]`).
    fn normalize(&mut self, c: Condition, depth: usize) -> Condition {
        if depth > LIMITS.max_depth {
            return c;
        }
        match c {
            Condition::And(v) => {
                let v = v
                    .into_iter()
                    .map(|x| self.normalize(x, depth + 1))
                    .collect();
                and_(v)
            }
            Condition::Or(v) => {
                let v = v
                    .into_iter()
                    .map(|x| self.normalize(x, depth + 1))
                    .collect();
                self.or_merge(v)
            }
            Condition::Not(x) => not_(self.normalize(*x, depth + 1)),
            other => other,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Modules and names

    fn helper_module(&mut self, name: &str) -> Option<usize> {
        if let Some(id) = self.module_ids.get(name) {
            return Some(*id);
        }
        let m = self.ctx.repo.helpers.get(name)?;
        let m: &'a super::PyModule = m;
        self.modules.push(ModuleRef {
            ast: &m.ast,
            path: &m.path,
        });
        let id = self.modules.len() - 1;
        self.module_ids.insert(name.to_string(), id);
        Some(id)
    }

    fn module_env(&mut self, id: usize) -> Rc<Env<'a>> {
        if let Some(e) = self.module_envs.get(&id) {
            return Rc::clone(e);
        }
        self.module_envs.insert(id, Rc::new(Env::new()));
        let saved = self.cur;
        self.cur = id;
        let mut env = Env::new();
        let body: &'a [Stmt] = self.modules[id].ast.body();
        self.module_stmts(body, &mut env, 0);
        self.cur = saved;
        let rc = Rc::new(env);
        self.module_envs.insert(id, Rc::clone(&rc));
        rc
    }

    fn module_stmts(&mut self, body: &'a [Stmt], env: &mut Env<'a>, depth: usize) {
        for stmt in body {
            match stmt {
                Stmt::FunctionDef(f) => {
                    env.insert(
                        f.name.as_str().to_string(),
                        Sym::Func(FuncRef {
                            def: f,
                            module: self.cur,
                        }),
                    );
                }
                Stmt::Import(_) | Stmt::ImportFrom(_) => bind_imports(stmt, env),
                Stmt::Assign(a) => {
                    let v = self.eval(&a.value, env);
                    assign_targets(&a.targets, v, env, self);
                }
                Stmt::AnnAssign(a) => {
                    if let Some(v) = &a.value {
                        let v = self.eval(v, env);
                        assign_targets(std::slice::from_ref(&*a.target), v, env, self);
                    }
                }
                Stmt::Try(t) if depth < 3 => self.module_stmts(&t.body, env, depth + 1),
                Stmt::If(i) if depth < 3 => self.module_stmts(&i.body, env, depth + 1),
                _ => {}
            }
        }
    }

    fn lookup(&mut self, name: &str, env: &Env<'a>, r: ruff_text_size::TextRange) -> Sym<'a> {
        let found = match env.get(name) {
            Some(v) => Some(v.clone()),
            None => {
                let me = self.module_env(self.cur);
                me.get(name).cloned()
            }
        };
        match found {
            Some(Sym::Import { module, name: n }) => self.resolve_import(&module, &n, 0),
            Some(v) => v,
            None if BUILTINS.contains(&name) => Sym::Builtin(name.to_string()),
            None => self.unk(r, format!("undefined name: {name}")),
        }
    }

    fn resolve_import(&mut self, module: &str, name: &str, depth: usize) -> Sym<'a> {
        // `deep_get`/`deep_walk` are Panther's documented lookups: understood, never inlined.
        if STDLIB.contains(&module) || depth > 4 || matches!(name, "deep_get" | "deep_walk") {
            return Sym::Import {
                module: module.to_string(),
                name: name.to_string(),
            };
        }
        let last = module.rsplit('.').next().unwrap_or(module);
        let Some(id) = self
            .helper_module(module)
            .or_else(|| self.helper_module(last))
        else {
            return Sym::Import {
                module: module.to_string(),
                name: name.to_string(),
            };
        };
        let env = self.module_env(id);
        match env.get(name).cloned() {
            Some(Sym::Import {
                module: m2,
                name: n2,
            }) => self.resolve_import(&m2, &n2, depth + 1),
            Some(v) => v,
            None => Sym::Import {
                module: module.to_string(),
                name: name.to_string(),
            },
        }
    }

    // -----------------------------------------------------------------------------------------
    // Statements

    #[allow(clippy::too_many_lines)]
    fn exec_block(&mut self, stmts: &'a [Stmt], env: Env<'a>) -> Ret<'a> {
        // Blocks nest (if bodies, loops, inlined helpers): they share the expression depth.
        if self.guard.enter().is_err() {
            let r = stmts
                .first()
                .map_or_else(ruff_text_size::TextRange::default, Ranged::range);
            return Ret::Leaf(self.unk(r, "nesting too deep"));
        }
        let r = self.exec_block_inner(stmts, env);
        self.guard.leave();
        r
    }

    #[allow(clippy::too_many_lines)]
    fn exec_block_inner(&mut self, stmts: &'a [Stmt], mut env: Env<'a>) -> Ret<'a> {
        let mut prefix: Vec<Ret<'a>> = Vec::new();
        let mut fin: Option<Ret<'a>> = None;
        for stmt in stmts {
            self.steps += 1;
            if self.steps > MAX_STEPS || prefix.len() > MAX_GUARDS {
                fin = Some(Ret::Leaf(
                    self.unk(stmt.range(), "control flow too complex"),
                ));
                break;
            }
            match stmt {
                Stmt::Return(r) => {
                    let v = match &r.value {
                        Some(e) => self.eval(e, &env),
                        None => Sym::NoneV,
                    };
                    fin = Some(Ret::Leaf(v));
                    break;
                }
                Stmt::Raise(_) => {
                    fin = Some(Ret::Leaf(Sym::Bool(false)));
                    break;
                }
                Stmt::Break(_) | Stmt::Continue(_) => {
                    fin = Some(Ret::Skip(std::mem::take(&mut env)));
                    break;
                }
                Stmt::If(s) => {
                    self.bind_walrus(&s.test, &mut env, 0);
                    let r = self.exec_if(s, &env);
                    match self.split(r) {
                        Err(done) => {
                            fin = Some(done);
                            break;
                        }
                        Ok((r, e)) => {
                            if !matches!(r, Ret::Cont) {
                                prefix.push(r);
                            }
                            env = e;
                        }
                    }
                }
                Stmt::For(s) => {
                    let r = self.exec_for(s, &env);
                    match self.split(r) {
                        Err(done) => {
                            fin = Some(done);
                            break;
                        }
                        Ok((r, e)) => {
                            if !matches!(r, Ret::Cont) {
                                prefix.push(r);
                            }
                            env = e;
                        }
                    }
                }
                Stmt::Try(t) => {
                    let r = self.exec_block(&t.body, env.clone());
                    match self.split(r) {
                        Err(done) => {
                            fin = Some(done);
                            break;
                        }
                        Ok((r, e)) => {
                            if !matches!(r, Ret::Cont) {
                                prefix.push(r);
                            }
                            env = e;
                        }
                    }
                }
                Stmt::With(w) => {
                    let r = self.exec_block(&w.body, env.clone());
                    match self.split(r) {
                        Err(done) => {
                            fin = Some(done);
                            break;
                        }
                        Ok((r, e)) => {
                            if !matches!(r, Ret::Cont) {
                                prefix.push(r);
                            }
                            env = e;
                        }
                    }
                }
                Stmt::While(w) => {
                    fin = Some(Ret::Leaf(self.unk(w.range, "while loop not supported")));
                    break;
                }
                Stmt::Match(m) => {
                    fin = Some(Ret::Leaf(
                        self.unk(m.range, "match statement not supported"),
                    ));
                    break;
                }
                Stmt::Assert(a) => {
                    let c = self.cond(&a.test, &env);
                    prefix.push(Ret::Branch(
                        c,
                        Box::new(Ret::Cont),
                        Box::new(Ret::Leaf(Sym::Bool(false))),
                    ));
                }
                Stmt::Assign(a) => {
                    let v = self.eval(&a.value, &env);
                    assign_targets(&a.targets, v, &mut env, self);
                }
                Stmt::AnnAssign(a) => {
                    if let Some(v) = &a.value {
                        let v = self.eval(v, &env);
                        assign_targets(std::slice::from_ref(&*a.target), v, &mut env, self);
                    }
                }
                Stmt::AugAssign(a) => {
                    if let Expr::Name(n) = &*a.target {
                        let u = self.unk(a.range, "augmented assignment");
                        env.insert(n.id.as_str().to_string(), u);
                    }
                }
                Stmt::FunctionDef(f) => {
                    env.insert(
                        f.name.as_str().to_string(),
                        Sym::Func(FuncRef {
                            def: f,
                            module: self.cur,
                        }),
                    );
                }
                Stmt::Import(_) | Stmt::ImportFrom(_) => bind_imports(stmt, &mut env),
                _ => {}
            }
        }
        let mut result = fin.unwrap_or(Ret::Fall(env));
        while let Some(p) = prefix.pop() {
            result = substitute(p, &result);
        }
        result
    }

    /// Splits a block result into the part that continues (`Cont` leaves) and the merged
    /// environment of the paths that fall through; `Err` when no path falls through.
    fn split(&mut self, r: Ret<'a>) -> Result<(Ret<'a>, Env<'a>), Ret<'a>> {
        match merge_falls(&r) {
            None => Err(r),
            Some(env) => Ok((falls_to_cont(r), env)),
        }
    }

    fn exec_if(&mut self, s: &'a ast::StmtIf, env: &Env<'a>) -> Ret<'a> {
        let mut clauses: Vec<(Option<&'a Expr>, &'a [Stmt])> = vec![(Some(&*s.test), &s.body[..])];
        for c in &s.elif_else_clauses {
            clauses.push((c.test.as_ref(), &c.body[..]));
        }
        let conds: Vec<Option<Condition>> = clauses
            .iter()
            .map(|(t, _)| t.map(|e| self.cond(e, env)))
            .collect();
        let mut acc = Ret::Fall(env.clone());
        for ((_, body), c) in clauses.iter().zip(conds).rev() {
            match c {
                None => acc = self.exec_block(body, env.clone()),
                Some(Condition::Const(true)) => acc = self.exec_block(body, env.clone()),
                Some(Condition::Const(false)) => {}
                Some(c) => {
                    let b = self.exec_block(body, env.clone());
                    acc = Ret::Branch(c, Box::new(b), Box::new(acc));
                }
            }
        }
        acc
    }

    fn exec_for(&mut self, s: &'a ast::StmtFor, env: &Env<'a>) -> Ret<'a> {
        let iter = self.eval(&s.iter, env);
        self.exec_for_over(s, iter, env)
    }

    fn exec_for_over(&mut self, s: &'a ast::StmtFor, iter: Sym<'a>, env: &Env<'a>) -> Ret<'a> {
        // A helper returning `[]` on some paths and a field on others: loop on each path.
        if let Sym::IfExp(c, a, b) = iter {
            let ra = self.exec_for_over(s, *a, env);
            let rb = self.exec_for_over(s, *b, env);
            return Ret::Branch(c, Box::new(ra), Box::new(rb));
        }
        let items = match iter {
            Sym::Seq(items) if items.len() <= MAX_UNROLL => items,
            Sym::Dict(items) if items.len() <= MAX_UNROLL => {
                items.into_iter().map(|(k, _)| k).collect()
            }
            other => {
                // One symbolic iteration over an event list: element fields are matched
                // against any element.
                let mut e = env.clone();
                self.bind_element(&s.target, other, s.iter.range(), &mut e);
                let r = self.exec_block(&s.body, e);
                return skips_to_falls(r);
            }
        };
        let mut acc = if s.orelse.is_empty() {
            Ret::Fall(env.clone())
        } else {
            self.exec_block(&s.orelse, env.clone())
        };
        for item in items.into_iter().rev() {
            let mut e = env.clone();
            assign_targets(std::slice::from_ref(&*s.target), item, &mut e, self);
            let r = skips_to_falls(self.exec_block(&s.body, e));
            acc = substitute(falls_to_cont(r), &acc);
        }
        acc
    }

    /// Binds a loop target to an element of a non-constant iterable: a field stays the
    /// field (any element); `for k, v in field.items()` binds `v` to it and `k` to unknown.
    fn bind_element(
        &mut self,
        target: &'a Expr,
        iter: Sym<'a>,
        r: ruff_text_size::TextRange,
        env: &mut Env<'a>,
    ) {
        let value = match iter {
            v @ (Sym::Field(_) | Sym::Unknown(_)) => v,
            _ => self.unk(r, "loop over unsupported iterable"),
        };
        match target {
            Expr::Name(n) => {
                env.insert(n.id.as_str().to_string(), value);
            }
            other => {
                let names = target_names(other);
                let last = names.len().saturating_sub(1);
                for (i, n) in names.into_iter().enumerate() {
                    let v = if i == last && matches!(value, Sym::Field(_)) {
                        value.clone()
                    } else {
                        self.unk(other.range(), "loop target unpacking")
                    };
                    env.insert(n, v);
                }
            }
        }
    }

    /// Binds the targets of `:=` in an `if` test (`if (x := event.get("a")) and x == 1:`).
    fn bind_walrus(&mut self, e: &'a Expr, env: &mut Env<'a>, depth: usize) {
        if depth > 8 {
            return;
        }
        match e {
            Expr::Named(n) => {
                let v = self.eval(&n.value, env);
                if let Expr::Name(t) = &*n.target {
                    env.insert(t.id.as_str().to_string(), v);
                }
            }
            Expr::BoolOp(b) => {
                for v in &b.values {
                    self.bind_walrus(v, env, depth + 1);
                }
            }
            Expr::UnaryOp(u) => self.bind_walrus(&u.operand, env, depth + 1),
            Expr::Compare(c) => self.bind_walrus(&c.left, env, depth + 1),
            _ => {}
        }
    }

    fn ret_to_sym(&mut self, r: Ret<'a>) -> Sym<'a> {
        match r {
            Ret::Leaf(s) => s,
            Ret::Fall(_) | Ret::Cont | Ret::Skip(_) => Sym::NoneV,
            Ret::Branch(c, t, f) => {
                let t = self.ret_to_sym(*t);
                let f = self.ret_to_sym(*f);
                if t == f {
                    t
                } else {
                    match c {
                        Condition::Const(true) => t,
                        Condition::Const(false) => f,
                        c => Sym::IfExp(c, Box::new(t), Box::new(f)),
                    }
                }
            }
        }
    }

    fn truthy_ret(&mut self, r: &Ret<'a>) -> Condition {
        match r {
            Ret::Leaf(s) => self.truthy(s.clone()),
            Ret::Fall(_) | Ret::Cont | Ret::Skip(_) => Condition::Const(false),
            Ret::Branch(c, t, f) => {
                let t = self.truthy_ret(t);
                let f = self.truthy_ret(f);
                ite(c.clone(), t, f)
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Expressions

    fn truthy(&mut self, s: Sym<'a>) -> Condition {
        match s {
            Sym::Cond(c) => c,
            Sym::Bool(b) => Condition::Const(b),
            Sym::NoneV => Condition::Const(false),
            Sym::Str(s) => Condition::Const(!s.is_empty()),
            Sym::Int(i) => Condition::Const(i != 0),
            Sym::Float(f) => Condition::Const(f != 0.0),
            Sym::Seq(v) => Condition::Const(!v.is_empty()),
            Sym::Dict(v) => Condition::Const(!v.is_empty()),
            Sym::Field(f) | Sym::IpAddr(f) | Sym::Len(f) => {
                let key = (
                    self.cur,
                    f.name(),
                    f.range.start().to_u32(),
                    f.range.end().to_u32(),
                );
                if let Some(c) = self.truthy_memo.get(&key) {
                    return c.clone();
                }
                let r = f.range;
                let c = self.pred(&f, Op::Exists, vec![Value::Bool(true)], false, r);
                self.truthy_memo.insert(key, c.clone());
                c
            }
            Sym::IfExp(c, a, b) => {
                let a = self.truthy(*a);
                let b = self.truthy(*b);
                ite(c, a, b)
            }
            Sym::PerLogType(alts, r) => self.per_log_type(alts, r, &mut |lw, v| lw.truthy(v)),
            Sym::Cases(alts, d) => self.cases(alts, *d, &mut |lw, v| lw.truthy(v)),
            Sym::Unknown(u) => self.unparsed(&u),
            Sym::Import { name, .. } => {
                let u = Unk {
                    text: name.clone(),
                    reason: format!("global helper not available: {name}"),
                    origin: None,
                    span: None,
                };
                self.unparsed(&u)
            }
            Sym::Event
            | Sym::Regex { .. }
            | Sym::IpNet(_)
            | Sym::Module(_)
            | Sym::Builtin(_)
            | Sym::Func(_)
            | Sym::Method { .. } => Condition::Const(true),
        }
    }

    fn cond(&mut self, e: &'a Expr, env: &Env<'a>) -> Condition {
        if self.guard.enter().is_err() {
            let u = self.unk(e.range(), "nesting too deep");
            let Sym::Unknown(u) = u else {
                return Condition::Const(false);
            };
            return self.unparsed(&u);
        }
        let c = match e {
            Expr::BoolOp(b) => {
                let items: Vec<Condition> = b.values.iter().map(|v| self.cond(v, env)).collect();
                match b.op {
                    BoolOp::And => and_(items),
                    BoolOp::Or => self.or_merge(items),
                }
            }
            Expr::UnaryOp(u) if u.op == UnaryOp::Not => {
                let c = self.cond(&u.operand, env);
                not_(c)
            }
            _ => {
                let s = self.eval(e, env);
                self.truthy(s)
            }
        };
        self.guard.leave();
        c
    }

    fn eval(&mut self, e: &'a Expr, env: &Env<'a>) -> Sym<'a> {
        if self.guard.enter().is_err() {
            return self.unk(e.range(), "nesting too deep");
        }
        let s = self.eval_inner(e, env);
        self.guard.leave();
        s
    }

    #[allow(clippy::too_many_lines)]
    fn eval_inner(&mut self, e: &'a Expr, env: &Env<'a>) -> Sym<'a> {
        match e {
            Expr::StringLiteral(s) => Sym::Str(s.value.to_str().to_string()),
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => i
                    .as_i64()
                    .map_or_else(|| self.unk(n.range, "integer too large"), Sym::Int),
                Number::Float(f) => Sym::Float(*f),
                Number::Complex { .. } => self.unk(n.range, "complex number"),
            },
            Expr::BooleanLiteral(b) => Sym::Bool(b.value),
            Expr::NoneLiteral(_) => Sym::NoneV,
            Expr::Name(n) => self.lookup(n.id.as_str(), env, n.range),
            Expr::List(l) => Sym::Seq(l.elts.iter().map(|x| self.eval(x, env)).collect()),
            Expr::Tuple(t) => Sym::Seq(t.elts.iter().map(|x| self.eval(x, env)).collect()),
            Expr::Set(s) => Sym::Seq(s.elts.iter().map(|x| self.eval(x, env)).collect()),
            Expr::Dict(d) => {
                let mut items = Vec::new();
                for it in &d.items {
                    let Some(k) = &it.key else {
                        return self.unk(d.range, "dict unpacking");
                    };
                    let k = self.eval(k, env);
                    let v = self.eval(&it.value, env);
                    items.push((k, v));
                }
                Sym::Dict(items)
            }
            Expr::Compare(c) => Sym::Cond(self.compare_chain(c, env)),
            Expr::BoolOp(b) => {
                let vals: Vec<Sym<'a>> = b.values.iter().map(|v| self.eval(v, env)).collect();
                if vals
                    .iter()
                    .all(|v| matches!(v, Sym::Cond(_) | Sym::Bool(_)))
                {
                    let items: Vec<Condition> = vals.into_iter().map(|v| self.truthy(v)).collect();
                    return Sym::Cond(match b.op {
                        BoolOp::And => and_(items),
                        BoolOp::Or => self.or_merge(items),
                    });
                }
                // Value semantics: `a or b` is `a if a else b`; a falsy literal default is dropped.
                let mut vals = vals;
                if b.op == BoolOp::Or
                    && vals.len() > 1
                    && vals.last().is_some_and(Sym::is_falsy_default)
                {
                    vals.pop();
                }
                let mut acc = match vals.pop() {
                    Some(v) => v,
                    None => return Sym::NoneV,
                };
                while let Some(v) = vals.pop() {
                    let c = self.truthy(v.clone());
                    acc = match b.op {
                        BoolOp::Or => Sym::IfExp(c, Box::new(v), Box::new(acc)),
                        BoolOp::And => Sym::IfExp(c, Box::new(acc), Box::new(v)),
                    };
                }
                acc
            }
            Expr::UnaryOp(u) => match u.op {
                UnaryOp::Not => {
                    let c = self.cond(&u.operand, env);
                    Sym::Cond(not_(c))
                }
                UnaryOp::USub => match self.eval(&u.operand, env) {
                    Sym::Int(i) => Sym::Int(-i),
                    Sym::Float(f) => Sym::Float(-f),
                    _ => self.unk(u.range, "operator not supported: -"),
                },
                UnaryOp::UAdd => self.eval(&u.operand, env),
                UnaryOp::Invert => self.unk(u.range, "operator not supported: ~"),
            },
            Expr::If(i) => {
                let c = self.cond(&i.test, env);
                let a = self.eval(&i.body, env);
                let b = self.eval(&i.orelse, env);
                match c {
                    Condition::Const(true) => a,
                    Condition::Const(false) => b,
                    c => Sym::IfExp(c, Box::new(a), Box::new(b)),
                }
            }
            Expr::Attribute(a) => {
                let base = self.eval(&a.value, env);
                let attr = a.attr.as_str();
                match base {
                    Sym::Module(m) => match self.resolve_import(&m, attr, 0) {
                        Sym::Import { module, name } => Sym::Import { module, name },
                        other => other,
                    },
                    Sym::Import { module, name } if STDLIB.contains(&module.as_str()) => {
                        Sym::Import {
                            module: format!("{module}.{name}"),
                            name: attr.to_string(),
                        }
                    }
                    Sym::IpAddr(f) => self.ip_property(&f, attr, a.range),
                    Sym::Unknown(u) => Sym::Unknown(u),
                    other => Sym::Method {
                        recv: Box::new(other),
                        name: attr.to_string(),
                    },
                }
            }
            Expr::Subscript(s) => {
                let base = self.eval(&s.value, env);
                if matches!(&*s.slice, Expr::Slice(_)) {
                    return match base {
                        Sym::Field(f) => Sym::Field(f),
                        _ => self.unk(s.range, "slice not supported"),
                    };
                }
                let key = self.eval(&s.slice, env);
                match (base, key) {
                    (Sym::Event, Sym::Str(k)) => Sym::Field(FieldRef {
                        path: vec![k],
                        ci: false,
                        range: s.range,
                    }),
                    (Sym::Field(f), Sym::Str(k)) => Sym::Field(f.child(&k, s.range)),
                    (Sym::Field(mut f), Sym::Int(_)) => {
                        f.range = s.range;
                        Sym::Field(f)
                    }
                    (Sym::Seq(items), Sym::Int(i)) => {
                        let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                        let idx = if i < 0 { len + i } else { i };
                        usize::try_from(idx)
                            .ok()
                            .and_then(|i| items.get(i).cloned())
                            .unwrap_or_else(|| self.unk(s.range, "index out of range"))
                    }
                    (Sym::Dict(items), Sym::Field(f)) => {
                        self.dict_lookup(&f, items, Sym::NoneV, s.range)
                    }
                    (Sym::Dict(items), k) if k.is_literal() => items
                        .into_iter()
                        .find(|(kk, _)| *kk == k)
                        .map_or_else(|| self.unk(s.range, "missing constant key"), |(_, v)| v),
                    (Sym::Unknown(u), _) | (_, Sym::Unknown(u)) => Sym::Unknown(u),
                    _ => self.unk(s.range, "subscript not supported"),
                }
            }
            Expr::Call(c) => self.eval_call(c, env),
            Expr::FString(f) => {
                let has_expr = f.value.elements().any(|el| !el.is_literal());
                if has_expr {
                    self.unk(f.range, "f-string not supported")
                } else {
                    let s: String = f
                        .value
                        .elements()
                        .filter_map(|el| el.as_literal().map(|l| l.value.to_string()))
                        .collect();
                    Sym::Str(s)
                }
            }
            Expr::BinOp(b) => {
                let l = self.eval(&b.left, env);
                let r = self.eval(&b.right, env);
                match (b.op, l, r) {
                    (Operator::Add, Sym::Str(a), Sym::Str(c)) => Sym::Str(a + &c),
                    (Operator::Add | Operator::BitOr, Sym::Seq(mut a), Sym::Seq(c)) => {
                        for x in c {
                            if !a.contains(&x) {
                                a.push(x);
                            }
                        }
                        Sym::Seq(a)
                    }
                    (Operator::BitOr, a @ Sym::Import { .. }, c @ Sym::Import { .. }) => {
                        Sym::Seq(vec![a, c])
                    }
                    (Operator::Add, Sym::Int(a), Sym::Int(c)) => Sym::Int(a.saturating_add(c)),
                    (Operator::Mult, Sym::Int(a), Sym::Int(c)) => Sym::Int(a.saturating_mul(c)),
                    (_, Sym::Unknown(u), _) | (_, _, Sym::Unknown(u)) => Sym::Unknown(u),
                    (op, _, _) => {
                        self.unk(b.range, format!("operator not supported: {}", op.as_str()))
                    }
                }
            }
            // `(x := value)`: the value; `x` was bound by `bind_walrus` before the statement.
            Expr::Named(n) => self.eval(&n.value, env),
            Expr::Lambda(l) => self.unk(l.range, "lambda not supported"),
            Expr::Generator(ast::ExprGenerator {
                elt,
                generators,
                range,
                ..
            })
            | Expr::ListComp(ast::ExprListComp {
                elt,
                generators,
                range,
                ..
            })
            | Expr::SetComp(ast::ExprSetComp {
                elt,
                generators,
                range,
                ..
            }) => self.const_comprehension(elt, generators, env, *range),
            Expr::DictComp(g) => self.unk(g.range, "dict comprehension not supported here"),
            other => self.unk(other.range(), "expression not supported"),
        }
    }

    /// A comprehension over a constant sequence with constant results
    /// (`[x.lower() for x in NAMES]`) is a constant sequence; others are not understood.
    fn const_comprehension(
        &mut self,
        elt: &'a Expr,
        generators: &'a [ast::Comprehension],
        env: &Env<'a>,
        range: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        let [g] = generators else {
            return self.unk(range, "comprehension with several loops");
        };
        let target = &g.target;
        let items = match self.eval(&g.iter, env) {
            Sym::Seq(items) if items.len() <= MAX_UNROLL => items,
            Sym::Dict(items) if items.len() <= MAX_UNROLL => {
                items.into_iter().map(|(k, _)| k).collect()
            }
            Sym::Unknown(u) => return Sym::Unknown(u),
            _ => return self.unk(range, "comprehension over an event value"),
        };
        let mut out = Vec::new();
        for item in items {
            let mut e = env.clone();
            assign_targets(std::slice::from_ref(target), item, &mut e, self);
            let mut keep = true;
            for cond in &g.ifs {
                match self.cond(cond, &e) {
                    Condition::Const(true) => {}
                    Condition::Const(false) => keep = false,
                    _ => return self.unk(range, "comprehension with an event-dependent filter"),
                }
            }
            if !keep {
                continue;
            }
            let v = self.eval(elt, &e);
            if !v.is_literal() && !matches!(v, Sym::Seq(_) | Sym::IpNet(_) | Sym::Regex { .. }) {
                return self.unk(range, "comprehension with event-dependent values");
            }
            out.push(v);
        }
        Sym::Seq(out)
    }

    fn ip_property(&mut self, f: &FieldRef, attr: &str, r: ruff_text_size::TextRange) -> Sym<'a> {
        let nets: Vec<Value> = PRIVATE_NETS.iter().map(|s| Value::str(*s)).collect();
        match attr {
            "is_private" => Sym::Cond(self.pred(f, Op::Cidr, nets, false, r)),
            "is_global" => Sym::Cond(self.pred(f, Op::Cidr, nets, true, r)),
            "is_loopback" => Sym::Cond(self.pred(
                f,
                Op::Cidr,
                vec![Value::str("127.0.0.0/8"), Value::str("::1/128")],
                false,
                r,
            )),
            "is_link_local" => Sym::Cond(self.pred(
                f,
                Op::Cidr,
                vec![Value::str("169.254.0.0/16"), Value::str("fe80::/10")],
                false,
                r,
            )),
            "is_multicast" => Sym::Cond(self.pred(
                f,
                Op::Cidr,
                vec![Value::str("224.0.0.0/4"), Value::str("ff00::/8")],
                false,
                r,
            )),
            _ => self.unk(r, format!("attribute not supported: {attr}")),
        }
    }

    fn compare_chain(&mut self, c: &'a ast::ExprCompare, env: &Env<'a>) -> Condition {
        let mut left = self.eval(&c.left, env);
        let mut items = Vec::new();
        for (op, comp) in c.ops.iter().zip(c.comparators.iter()) {
            let right = self.eval(comp, env);
            items.push(self.compare(left, *op, right.clone(), c.range));
            left = right;
        }
        and_(items)
    }

    fn compare(
        &mut self,
        l: Sym<'a>,
        op: CmpOp,
        r: Sym<'a>,
        range: ruff_text_size::TextRange,
    ) -> Condition {
        if let Sym::IfExp(c, a, b) = l {
            let ca = self.compare(*a, op, r.clone(), range);
            let cb = self.compare(*b, op, r, range);
            return ite(c, ca, cb);
        }
        if let Sym::IfExp(c, a, b) = r {
            let ca = self.compare(l.clone(), op, *a, range);
            let cb = self.compare(l, op, *b, range);
            return ite(c, ca, cb);
        }
        if let Sym::Cases(alts, d) = l {
            return self.cases(alts, *d, &mut |lw, v| lw.compare(v, op, r.clone(), range));
        }
        if let Sym::Cases(alts, d) = r {
            return self.cases(alts, *d, &mut |lw, v| lw.compare(l.clone(), op, v, range));
        }
        if let Sym::PerLogType(alts, pr) = l {
            return self.per_log_type(alts, pr, &mut |lw, v| lw.compare(v, op, r.clone(), range));
        }
        if let Sym::PerLogType(alts, pr) = r {
            return self.per_log_type(alts, pr, &mut |lw, v| lw.compare(l.clone(), op, v, range));
        }
        if let Sym::Unknown(u) = &l {
            return self.unparsed(u);
        }
        if let Sym::Unknown(u) = &r {
            return self.unparsed(u);
        }
        for s in [&l, &r] {
            if let Sym::Import { name, .. } = s {
                let u = self.unk(range, format!("global helper not available: {name}"));
                return self.truthy(u);
            }
        }
        if let Some(c) = self.length_test(&l, op, &r, range) {
            return c;
        }
        match op {
            CmpOp::Eq | CmpOp::Is => self.equality(l, r, false, range),
            CmpOp::NotEq | CmpOp::IsNot => self.equality(l, r, true, range),
            CmpOp::In => self.membership(l, r, false, range),
            CmpOp::NotIn => self.membership(l, r, true, range),
            CmpOp::Lt | CmpOp::LtE | CmpOp::Gt | CmpOp::GtE => self.ordering(l, op, r, range),
        }
    }

    /// `len(x) > 0`, `len(x) == 0`... as `exists`; other lengths are not understood.
    fn length_test(
        &mut self,
        l: &Sym<'a>,
        op: CmpOp,
        r: &Sym<'a>,
        range: ruff_text_size::TextRange,
    ) -> Option<Condition> {
        let (f, n, op) = match (l, r) {
            (Sym::Len(f), Sym::Int(n)) => (f, *n, op),
            (Sym::Int(n), Sym::Len(f)) => {
                let flipped = match op {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::LtE => CmpOp::GtE,
                    CmpOp::Gt => CmpOp::Lt,
                    CmpOp::GtE => CmpOp::LtE,
                    other => other,
                };
                (f, *n, flipped)
            }
            (Sym::Len(_), _) | (_, Sym::Len(_)) => {
                let u = self.unk(range, "length comparison not supported");
                return Some(self.truthy(u));
            }
            _ => return None,
        };
        let non_empty = match (op, n) {
            (CmpOp::Gt | CmpOp::NotEq | CmpOp::IsNot, 0) | (CmpOp::GtE, 1) => true,
            (CmpOp::Eq | CmpOp::Is | CmpOp::LtE, 0) | (CmpOp::Lt, 1) => false,
            _ => {
                let u = self.unk(range, "length comparison not supported");
                return Some(self.truthy(u));
            }
        };
        let f = f.clone();
        Some(self.pred(&f, Op::Exists, vec![Value::Bool(non_empty)], false, range))
    }

    fn equality(
        &mut self,
        l: Sym<'a>,
        r: Sym<'a>,
        neg: bool,
        range: ruff_text_size::TextRange,
    ) -> Condition {
        match (l, r) {
            (Sym::Field(f), Sym::NoneV) | (Sym::NoneV, Sym::Field(f)) => {
                self.pred(&f, Op::Exists, vec![Value::Bool(neg)], false, range)
            }
            (Sym::Field(f), v) | (v, Sym::Field(f)) if v.is_literal() => {
                let Some(val) = v.to_value() else {
                    return Condition::Const(false);
                };
                self.pred(
                    &f,
                    if neg { Op::Ne } else { Op::Eq },
                    vec![val],
                    false,
                    range,
                )
            }
            (Sym::Field(f), Sym::Seq(v)) | (Sym::Seq(v), Sym::Field(f)) if v.is_empty() => {
                self.pred(&f, Op::Exists, vec![Value::Bool(neg)], false, range)
            }
            (Sym::Field(f), Sym::Dict(v)) | (Sym::Dict(v), Sym::Field(f)) if v.is_empty() => {
                self.pred(&f, Op::Exists, vec![Value::Bool(neg)], false, range)
            }
            (Sym::Field(a), Sym::Field(b)) => self.pred_kind(
                &a,
                if neg { Op::Ne } else { Op::Eq },
                vec![Value::Str(b.name())],
                PredicateKind::Join,
                range,
            ),
            (Sym::Cond(c), Sym::Bool(b)) | (Sym::Bool(b), Sym::Cond(c)) => {
                if b == neg {
                    not_(c)
                } else {
                    c
                }
            }
            // `re.search(...) is not None`
            (Sym::Cond(c), Sym::NoneV) | (Sym::NoneV, Sym::Cond(c)) => {
                if neg {
                    c
                } else {
                    not_(c)
                }
            }
            (a, b) if a.is_literal() && b.is_literal() => Condition::Const((a == b) != neg),
            _ => {
                let u = self.unk(range, "comparison not supported");
                self.truthy(u)
            }
        }
    }

    fn ordering(
        &mut self,
        l: Sym<'a>,
        op: CmpOp,
        r: Sym<'a>,
        range: ruff_text_size::TextRange,
    ) -> Condition {
        let to_op = |op: CmpOp| match op {
            CmpOp::Lt => Op::Lt,
            CmpOp::LtE => Op::Le,
            CmpOp::Gt => Op::Gt,
            _ => Op::Ge,
        };
        let flip = |op: CmpOp| match op {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtE => CmpOp::GtE,
            CmpOp::Gt => CmpOp::Lt,
            _ => CmpOp::LtE,
        };
        match (l, r) {
            (Sym::Field(f), v) if v.to_value().is_some() => {
                let val = v.to_value().unwrap_or(Value::Int(0));
                self.pred(&f, to_op(op), vec![val], false, range)
            }
            (v, Sym::Field(f)) if v.to_value().is_some() => {
                let val = v.to_value().unwrap_or(Value::Int(0));
                self.pred(&f, to_op(flip(op)), vec![val], false, range)
            }
            (Sym::Int(a), Sym::Int(b)) => Condition::Const(match op {
                CmpOp::Lt => a < b,
                CmpOp::LtE => a <= b,
                CmpOp::Gt => a > b,
                _ => a >= b,
            }),
            _ => {
                let u = self.unk(range, "comparison not supported");
                self.truthy(u)
            }
        }
    }

    fn membership(
        &mut self,
        l: Sym<'a>,
        r: Sym<'a>,
        neg: bool,
        range: ruff_text_size::TextRange,
    ) -> Condition {
        match (l, r) {
            (Sym::Field(f), Sym::Seq(items)) => {
                if items.is_empty() {
                    return Condition::Const(neg);
                }
                let nets: Vec<String> = items
                    .iter()
                    .filter_map(|i| {
                        if let Sym::IpNet(n) = i {
                            Some(n.clone())
                        } else {
                            None
                        }
                    })
                    .flatten()
                    .collect();
                if !nets.is_empty() && nets.len() >= items.len() {
                    return self.pred(
                        &f,
                        Op::Cidr,
                        nets.into_iter().map(Value::Str).collect(),
                        neg,
                        range,
                    );
                }
                let vals: Option<Vec<Value>> = items
                    .iter()
                    .filter(|i| !matches!(i, Sym::NoneV))
                    .map(Sym::to_value)
                    .collect();
                match vals {
                    Some(vals) => self.pred(&f, Op::In, vals, neg, range),
                    None => {
                        let u = self.unk(range, "membership in a non-constant list");
                        self.truthy(u)
                    }
                }
            }
            (Sym::Field(f), Sym::Dict(items)) => {
                let vals: Option<Vec<Value>> = items.iter().map(|(k, _)| k.to_value()).collect();
                match vals {
                    Some(vals) if !vals.is_empty() => self.pred(&f, Op::In, vals, neg, range),
                    Some(_) => Condition::Const(neg),
                    None => {
                        let u = self.unk(range, "membership in a non-constant dict");
                        self.truthy(u)
                    }
                }
            }
            (Sym::IpAddr(f) | Sym::Field(f), Sym::IpNet(nets)) => self.pred(
                &f,
                Op::Cidr,
                nets.into_iter().map(Value::Str).collect(),
                neg,
                range,
            ),
            (Sym::IpAddr(f), Sym::Seq(items)) => {
                let nets: Vec<Value> = items
                    .iter()
                    .flat_map(|i| match i {
                        Sym::IpNet(n) => n.clone(),
                        Sym::Str(s) => vec![s.clone()],
                        _ => Vec::new(),
                    })
                    .map(Value::Str)
                    .collect();
                self.pred(&f, Op::Cidr, nets, neg, range)
            }
            (v, Sym::Field(f)) if v.to_value().is_some() => {
                let val = v.to_value().unwrap_or(Value::Int(0));
                self.pred(&f, Op::Contains, vec![val], neg, range)
            }
            (Sym::Str(k), Sym::Event) => {
                let f = FieldRef {
                    path: vec![k],
                    ci: false,
                    range,
                };
                self.pred(&f, Op::Exists, vec![Value::Bool(!neg)], false, range)
            }
            (a, Sym::Seq(items)) if a.is_literal() => Condition::Const(items.contains(&a) != neg),
            (a, Sym::Dict(items)) if a.is_literal() => {
                Condition::Const(items.iter().any(|(k, _)| *k == a) != neg)
            }
            (Sym::Str(a), Sym::Str(b)) => Condition::Const(b.contains(&a) != neg),
            _ => {
                let u = self.unk(range, "membership test not supported");
                self.truthy(u)
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Calls

    fn eval_call(&mut self, c: &'a ast::ExprCall, env: &Env<'a>) -> Sym<'a> {
        if let Expr::Name(n) = &*c.func
            && matches!(n.id.as_str(), "any" | "all")
            && !env.contains_key(n.id.as_str())
            && c.arguments.args.len() == 1
        {
            let is_any = n.id.as_str() == "any";
            return Sym::Cond(self.any_all(is_any, &c.arguments.args[0], env, c.range()));
        }
        let f = self.eval(&c.func, env);
        if let Sym::Unknown(u) = f {
            return Sym::Unknown(u);
        }
        let mut args = Vec::new();
        for a in &c.arguments.args {
            if let Expr::Starred(s) = a {
                // `f(*path)` with a constant sequence spreads it.
                match self.eval(&s.value, env) {
                    Sym::Seq(items) => {
                        args.extend(items);
                        continue;
                    }
                    _ => return self.unk(s.range, "star arguments not supported"),
                }
            }
            args.push(self.eval(a, env));
        }
        let mut kwargs = Vec::new();
        for k in &c.arguments.keywords {
            if let Some(name) = &k.arg {
                kwargs.push((name.as_str().to_string(), self.eval(&k.value, env)));
            }
        }
        self.apply(f, args, kwargs, c.range())
    }

    fn apply(
        &mut self,
        f: Sym<'a>,
        args: Vec<Sym<'a>>,
        kwargs: Vec<(String, Sym<'a>)>,
        r: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        // A value with one alternative per log type flows through library calls one by one.
        if matches!(f, Sym::Import { .. } | Sym::Builtin(_))
            && let Some(i) = args.iter().position(|a| matches!(a, Sym::PerLogType(..)))
        {
            let Sym::PerLogType(alts, pr) = args[i].clone() else {
                return Sym::NoneV;
            };
            let mut mapped = Vec::new();
            for (lt, v) in alts {
                let mut a = args.clone();
                a[i] = v;
                mapped.push((lt, self.apply(f.clone(), a, kwargs.clone(), r)));
            }
            return Sym::PerLogType(mapped, pr);
        }
        match f {
            Sym::Method { recv, name } => self.call_method(*recv, &name, args, &kwargs, r),
            Sym::Import { module, name } => self.call_import(&module, &name, args, &kwargs, r),
            Sym::Builtin(name) => self.call_builtin(&name, args, r),
            Sym::Func(fr) => self.inline(fr, args, kwargs, r),
            Sym::Unknown(u) => Sym::Unknown(u),
            _ => self.unk(r, "call of a non-function"),
        }
    }

    fn inline(
        &mut self,
        fr: FuncRef<'a>,
        args: Vec<Sym<'a>>,
        kwargs: Vec<(String, Sym<'a>)>,
        r: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        let name = fr.def.name.as_str().to_string();
        if self
            .stack
            .iter()
            .any(|(m, n)| *m == fr.module && *n == name)
        {
            let msg = format!("recursion between helpers: {name}");
            let mut d = Diagnostic::warning("python-recursion", msg);
            if self.cur == 0 {
                d = d.with_range(tr(r));
            }
            if !self.out.diagnostics.iter().any(|x| x.message == d.message) {
                self.out.diagnostics.push(d);
            }
            return self.unk(r, format!("recursive helper: {name}"));
        }
        if self.stack.len() >= LIMITS.max_inline_depth {
            return self.unk(r, format!("helper inlining too deep: {name}"));
        }
        let mut env = Env::new();
        let params = all_params(&fr.def.parameters);
        let mut args = args.into_iter();
        let saved = self.cur;
        for p in &params {
            let pname = p.parameter.name.as_str();
            let v = match args.next() {
                Some(v) => v,
                None => match kwargs.iter().find(|(k, _)| k == pname) {
                    Some((_, v)) => v.clone(),
                    None => match &p.default {
                        Some(d) => {
                            self.cur = fr.module;
                            let v = self.eval(d, &Env::new());
                            self.cur = saved;
                            v
                        }
                        None => Sym::NoneV,
                    },
                },
            };
            env.insert(pname.to_string(), v);
        }
        for p in &fr.def.parameters.kwonlyargs {
            let pname = p.parameter.name.as_str();
            let v = kwargs
                .iter()
                .find(|(k, _)| k == pname)
                .map_or(Sym::NoneV, |(_, v)| v.clone());
            env.insert(pname.to_string(), v);
        }
        self.cur = fr.module;
        self.stack.push((fr.module, name));
        let ret = self.exec_block(&fr.def.body, env);
        let s = self.ret_to_sym(ret);
        self.stack.pop();
        self.cur = saved;
        s
    }

    /// `MAPPING.get(event_field, default)`: the value for each constant key, chosen by the
    /// field (`field == k1 ? v1 : field == k2 ? v2 : default`).
    fn dict_lookup(
        &mut self,
        f: &FieldRef,
        items: Vec<(Sym<'a>, Sym<'a>)>,
        default: Sym<'a>,
        r: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        const MAX_KEYS: usize = 64;
        if items.len() > MAX_KEYS || items.iter().any(|(k, _)| k.to_value().is_none()) {
            return self.unk(r, "lookup in a constant dict keyed by an event value");
        }
        let mut alts = Vec::new();
        for (k, v) in items {
            let Some(kv) = k.to_value() else { continue };
            let c = self.pred(f, Op::Eq, vec![kv], false, r);
            alts.push((c, v));
        }
        Sym::Cases(alts, Box::new(default))
    }

    /// OR over exclusive cases of `case and f(value)`, plus `none of them and f(default)`.
    fn cases(
        &mut self,
        alts: Vec<(Condition, Sym<'a>)>,
        default: Sym<'a>,
        f: &mut dyn FnMut(&mut Self, Sym<'a>) -> Condition,
    ) -> Condition {
        let guards: Vec<Condition> = alts.iter().map(|(c, _)| c.clone()).collect();
        let mut items = Vec::new();
        for (c, v) in alts {
            let x = f(self, v);
            items.push(and_(vec![c, x]));
        }
        let d = f(self, default);
        if d != Condition::Const(false) {
            items.push(and_(vec![not_(self.or_merge(guards)), d]));
        }
        self.or_merge(items)
    }

    fn field_from_keys(
        &mut self,
        base: FieldRef,
        keys: &[Sym<'a>],
        r: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        let mut f = base;
        for k in keys {
            match k {
                Sym::Str(s) => f = f.child(s, r),
                Sym::Int(_) => {}
                Sym::Unknown(u) => return Sym::Unknown(u.clone()),
                _ => return self.unk(r, "non-constant key"),
            }
        }
        f.range = r;
        Sym::Field(f)
    }

    fn deep_get(&mut self, args: Vec<Sym<'a>>, r: ruff_text_size::TextRange) -> Sym<'a> {
        let mut it = args.into_iter();
        match it.next() {
            Some(Sym::Event) => {
                let keys: Vec<Sym<'a>> = it.collect();
                self.field_from_keys(
                    FieldRef {
                        path: Vec::new(),
                        ci: false,
                        range: r,
                    },
                    &keys,
                    r,
                )
            }
            Some(Sym::Field(f)) => {
                let keys: Vec<Sym<'a>> = it.collect();
                self.field_from_keys(f, &keys, r)
            }
            Some(Sym::Unknown(u)) => Sym::Unknown(u),
            _ => self.unk(r, "deep_get on a non-event value"),
        }
    }

    #[allow(clippy::too_many_lines)]
    fn call_method(
        &mut self,
        recv: Sym<'a>,
        name: &str,
        args: Vec<Sym<'a>>,
        kwargs: &[(String, Sym<'a>)],
        r: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        let _ = kwargs;
        if let Sym::PerLogType(alts, pr) = recv {
            let mapped = alts
                .into_iter()
                .map(|(lt, v)| (lt, self.call_method(v, name, args.clone(), kwargs, r)))
                .collect();
            return Sym::PerLogType(mapped, pr);
        }
        match recv {
            Sym::Event => match name {
                "get" => match args.first() {
                    Some(Sym::Str(k)) => Sym::Field(FieldRef {
                        path: vec![k.clone()],
                        ci: false,
                        range: r,
                    }),
                    Some(Sym::Unknown(u)) => Sym::Unknown(u.clone()),
                    _ => self.unk(r, "event.get with a non-constant key"),
                },
                "deep_get" | "deep_walk" => self.field_from_keys(
                    FieldRef {
                        path: Vec::new(),
                        ci: false,
                        range: r,
                    },
                    &args,
                    r,
                ),
                "udm" => match args.first() {
                    Some(Sym::Str(k)) => {
                        let k = k.clone();
                        self.udm(&k, r)
                    }
                    _ => self.unk(r, "event.udm with a non-constant name"),
                },
                _ => self.unk(r, format!("event method not supported: {name}")),
            },
            Sym::Field(f) => match name {
                "get" | "deep_get" | "deep_walk" => {
                    let keys: Vec<Sym<'a>> = if name == "get" {
                        args.into_iter().take(1).collect()
                    } else {
                        args
                    };
                    self.field_from_keys(f, &keys, r)
                }
                "lower" | "upper" | "casefold" => Sym::Field(FieldRef {
                    ci: true,
                    range: r,
                    ..f
                }),
                "strip" | "lstrip" | "rstrip" | "copy" | "keys" | "values" | "items" => {
                    Sym::Field(FieldRef { range: r, ..f })
                }
                "startswith" | "endswith" => {
                    let vals = match args.first() {
                        Some(Sym::Str(s)) => vec![Value::Str(s.clone())],
                        Some(Sym::Seq(items)) => {
                            let v: Option<Vec<Value>> = items.iter().map(Sym::to_value).collect();
                            match v {
                                Some(v) => v,
                                None => {
                                    return self.unk(r, format!("{name} with non-constant values"));
                                }
                            }
                        }
                        Some(Sym::Unknown(u)) => return Sym::Unknown(u.clone()),
                        _ => return self.unk(r, format!("{name} with non-constant values")),
                    };
                    let op = if name == "startswith" {
                        Op::StartsWith
                    } else {
                        Op::EndsWith
                    };
                    Sym::Cond(self.pred(&f, op, vals, false, r))
                }
                _ => self.unk(r, format!("method not supported: {name}")),
            },
            Sym::Str(s) => match name {
                "lower" | "casefold" => Sym::Str(s.to_lowercase()),
                "upper" => Sym::Str(s.to_uppercase()),
                "strip" => Sym::Str(s.trim().to_string()),
                _ => self.unk(r, format!("method not supported: {name}")),
            },
            Sym::Regex { pattern, ci } => match name {
                "search" | "match" | "fullmatch" | "findall" | "finditer" => match args.first() {
                    Some(Sym::Field(f)) => {
                        let f = FieldRef {
                            ci: f.ci || ci,
                            ..f.clone()
                        };
                        Sym::Cond(self.regex_pred(&f, pattern, name, r))
                    }
                    Some(Sym::Unknown(u)) => Sym::Unknown(u.clone()),
                    _ => self.unk(r, "regex on a non-field value"),
                },
                _ => self.unk(r, format!("method not supported: {name}")),
            },
            Sym::Dict(items) => match name {
                "keys" => Sym::Seq(items.into_iter().map(|(k, _)| k).collect()),
                "items" => Sym::Seq(
                    items
                        .into_iter()
                        .map(|(k, v)| Sym::Seq(vec![k, v]))
                        .collect(),
                ),
                "values" => Sym::Seq(items.into_iter().map(|(_, v)| v).collect()),
                "get" => match args.first() {
                    Some(k) if k.is_literal() => items
                        .into_iter()
                        .find(|(kk, _)| kk == k)
                        .map(|(_, v)| v)
                        .unwrap_or_else(|| args.get(1).cloned().unwrap_or(Sym::NoneV)),
                    Some(Sym::Field(f)) => {
                        let default = args.get(1).cloned().unwrap_or(Sym::NoneV);
                        let f = f.clone();
                        self.dict_lookup(&f, items, default, r)
                    }
                    _ => self.unk(r, "lookup in a constant dict keyed by an event value"),
                },
                _ => self.unk(r, format!("method not supported: {name}")),
            },
            Sym::Unknown(u) => Sym::Unknown(u),
            Sym::Import { name: n, .. } => self.unk(r, format!("global helper not available: {n}")),
            _ => self.unk(r, format!("method not supported: {name}")),
        }
    }

    /// A regex predicate; `re.match` / `re.fullmatch` anchor it (context `anchor`), the
    /// pattern itself stays as written.
    fn regex_pred(
        &mut self,
        f: &FieldRef,
        pattern: String,
        method: &str,
        r: ruff_text_size::TextRange,
    ) -> Condition {
        let c = self.pred(f, Op::RegexMatch, vec![Value::Str(pattern)], false, r);
        let anchor = match method {
            "match" => Some("start"),
            "fullmatch" => Some("full"),
            _ => None,
        };
        if let (Some(a), Condition::Pred(i)) = (anchor, &c)
            && let Some(p) = self.out.predicates.get_mut(*i)
        {
            p.context.insert("anchor".into(), a.into());
        }
        c
    }

    fn regex_flags_ci(s: Option<&Sym<'a>>) -> bool {
        match s {
            Some(Sym::Import { name, .. }) => matches!(name.as_str(), "I" | "IGNORECASE"),
            Some(Sym::Seq(items)) => items.iter().any(|i| Self::regex_flags_ci(Some(i))),
            _ => false,
        }
    }

    #[allow(clippy::too_many_lines)]
    fn call_import(
        &mut self,
        module: &str,
        name: &str,
        args: Vec<Sym<'a>>,
        kwargs: &[(String, Sym<'a>)],
        r: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        let kw = |k: &str| kwargs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match (module, name) {
            (_, "deep_get" | "deep_walk") if !STDLIB.contains(&module) => {
                return self.deep_get(args, r);
            }
            ("re", "compile") => {
                return match args.first() {
                    Some(Sym::Str(p)) => {
                        let ci = Self::regex_flags_ci(args.get(1).or(kw("flags").as_ref()));
                        Sym::Regex {
                            pattern: p.clone(),
                            ci,
                        }
                    }
                    _ => self.unk(r, "re.compile of a non-constant pattern"),
                };
            }
            ("re", "search" | "match" | "fullmatch" | "findall" | "finditer") => {
                let (pattern, pci) = match args.first() {
                    Some(Sym::Str(p)) => (p.clone(), false),
                    Some(Sym::Regex { pattern, ci }) => (pattern.clone(), *ci),
                    _ => return self.unk(r, "regex with a non-constant pattern"),
                };
                let ci = pci || Self::regex_flags_ci(args.get(2).or(kw("flags").as_ref()));
                return match args.get(1) {
                    Some(Sym::Field(f)) => {
                        let f = FieldRef {
                            ci: f.ci || ci,
                            ..f.clone()
                        };
                        Sym::Cond(self.regex_pred(&f, pattern, name, r))
                    }
                    Some(Sym::Unknown(u)) => Sym::Unknown(u.clone()),
                    Some(Sym::Str(s)) => match regex::Regex::new(&pattern) {
                        Ok(re) => Sym::Bool(re.is_match(s)),
                        Err(_) => self.unk(r, "regex not supported"),
                    },
                    _ => self.unk(r, "regex on a non-field value"),
                };
            }
            ("fnmatch", "fnmatch" | "fnmatchcase") => {
                return match (args.first(), args.get(1)) {
                    (Some(Sym::Field(f)), Some(Sym::Str(p))) => {
                        let f = f.clone();
                        Sym::Cond(self.pred(
                            &f,
                            Op::Wildcard,
                            vec![Value::Str(p.clone())],
                            false,
                            r,
                        ))
                    }
                    (Some(Sym::Unknown(u)), _) | (_, Some(Sym::Unknown(u))) => {
                        Sym::Unknown(u.clone())
                    }
                    _ => self.unk(r, "fnmatch with a non-constant pattern"),
                };
            }
            ("ipaddress", "ip_address" | "IPv4Address" | "IPv6Address") => {
                return match args.into_iter().next() {
                    Some(Sym::Field(f)) => Sym::IpAddr(f),
                    Some(Sym::Str(s)) => Sym::Str(s),
                    Some(Sym::Unknown(u)) => Sym::Unknown(u),
                    _ => self.unk(r, "ip_address of a non-field value"),
                };
            }
            ("ipaddress", "ip_network" | "IPv4Network" | "IPv6Network") => {
                return match args.into_iter().next() {
                    Some(Sym::Str(s)) => Sym::IpNet(vec![s]),
                    Some(Sym::Unknown(u)) => Sym::Unknown(u),
                    _ => self.unk(r, "ip_network of a non-constant value"),
                };
            }
            _ => {}
        }
        if STDLIB.contains(&module)
            || module
                .split('.')
                .next()
                .is_some_and(|m| STDLIB.contains(&m))
        {
            return self.unk(r, format!("function not supported: {module}.{name}"));
        }
        // A global helper: inline it when the repository has it.
        match self.resolve_import(module, name, 0) {
            Sym::Func(fr) => return self.inline(fr, args, kwargs.to_vec(), r),
            Sym::Import { .. } => {}
            other => return other,
        }
        // Documented helpers of panther_base_helpers, when the module is not in the repository.
        match (name, args.first(), args.get(1)) {
            ("is_ip_in_network", Some(Sym::Field(f)), Some(Sym::Seq(nets))) => {
                let vals: Option<Vec<Value>> = nets.iter().map(Sym::to_value).collect();
                if let Some(vals) = vals {
                    let f = f.clone();
                    return Sym::Cond(self.pred(&f, Op::Cidr, vals, false, r));
                }
            }
            ("pattern_match", Some(Sym::Field(f)), Some(Sym::Str(p))) => {
                let f = f.clone();
                return Sym::Cond(self.pred(
                    &f,
                    Op::Wildcard,
                    vec![Value::Str(p.clone())],
                    false,
                    r,
                ));
            }
            ("pattern_match_list", Some(Sym::Field(f)), Some(Sym::Seq(ps))) => {
                let vals: Option<Vec<Value>> = ps.iter().map(Sym::to_value).collect();
                if let Some(vals) = vals {
                    let f = f.clone();
                    return Sym::Cond(self.pred(&f, Op::Wildcard, vals, false, r));
                }
            }
            _ => {}
        }
        self.unk(r, format!("global helper not available: {name}"))
    }

    fn call_builtin(
        &mut self,
        name: &str,
        args: Vec<Sym<'a>>,
        r: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        let first = args.into_iter().next();
        match (name, first) {
            ("str" | "int" | "float", Some(Sym::Field(f))) => {
                Sym::Field(FieldRef { range: r, ..f })
            }
            ("str", Some(s @ Sym::Str(_))) => s,
            ("str", Some(Sym::Int(i))) => Sym::Str(i.to_string()),
            ("int", Some(Sym::Str(s))) => s
                .trim()
                .parse::<i64>()
                .map_or_else(|_| self.unk(r, "int() of a non-number"), Sym::Int),
            ("int" | "float", Some(v @ (Sym::Int(_) | Sym::Float(_)))) => v,
            ("bool", Some(v)) => Sym::Cond(self.truthy(v)),
            ("len", Some(Sym::Field(f))) => Sym::Len(FieldRef { range: r, ..f }),
            (
                "set" | "frozenset" | "list" | "tuple" | "sorted",
                Some(v @ (Sym::Seq(_) | Sym::Field(_))),
            ) => v,
            ("set" | "frozenset" | "list" | "tuple", None) => Sym::Seq(Vec::new()),
            ("set" | "frozenset" | "list" | "tuple", Some(Sym::Dict(items))) => {
                Sym::Seq(items.into_iter().map(|(k, _)| k).collect())
            }
            (_, Some(Sym::Unknown(u))) => Sym::Unknown(u),
            _ => self.unk(r, format!("function not supported: {name}")),
        }
    }

    fn any_all(
        &mut self,
        is_any: bool,
        arg: &'a Expr,
        env: &Env<'a>,
        r: ruff_text_size::TextRange,
    ) -> Condition {
        let combine = |lw: &mut Self, items: Vec<Condition>| {
            if is_any {
                lw.or_merge(items)
            } else {
                and_(items)
            }
        };
        match arg {
            Expr::List(ast::ExprList { elts, .. })
            | Expr::Tuple(ast::ExprTuple { elts, .. })
            | Expr::Set(ast::ExprSet { elts, .. }) => {
                let items: Vec<Condition> = elts.iter().map(|e| self.cond(e, env)).collect();
                combine(self, items)
            }
            Expr::Generator(ast::ExprGenerator {
                elt, generators, ..
            })
            | Expr::ListComp(ast::ExprListComp {
                elt, generators, ..
            })
            | Expr::SetComp(ast::ExprSetComp {
                elt, generators, ..
            }) => {
                let [g] = &generators[..] else {
                    let u = self.unk(r, "comprehension with several loops");
                    return self.truthy(u);
                };
                let iter = self.eval(&g.iter, env);
                self.comprehension_over(is_any, elt, g, iter, env, r)
            }
            other => {
                let v = self.eval(other, env);
                match v {
                    Sym::Seq(items) => {
                        let conds: Vec<Condition> =
                            items.into_iter().map(|i| self.truthy(i)).collect();
                        combine(self, conds)
                    }
                    Sym::Unknown(u) => self.unparsed(&u),
                    _ => {
                        let u = self.unk(
                            r,
                            if is_any {
                                "any() of a non-list"
                            } else {
                                "all() of a non-list"
                            },
                        );
                        self.truthy(u)
                    }
                }
            }
        }
    }

    /// `any(elt for target in iter if ...)` / `all(...)` over an evaluated iterable.
    fn comprehension_over(
        &mut self,
        is_any: bool,
        elt: &'a Expr,
        g: &'a ast::Comprehension,
        iter: Sym<'a>,
        env: &Env<'a>,
        r: ruff_text_size::TextRange,
    ) -> Condition {
        let target = &g.target;
        let items = match iter {
            // A helper returning `[]` on some paths and a field on others.
            Sym::IfExp(c, a, b) => {
                let ca = self.comprehension_over(is_any, elt, g, *a, env, r);
                let cb = self.comprehension_over(is_any, elt, g, *b, env, r);
                return ite(c, ca, cb);
            }
            Sym::Seq(items) if items.len() <= MAX_UNROLL => items,
            Sym::Dict(items) if items.len() <= MAX_UNROLL => {
                items.into_iter().map(|(k, _)| k).collect()
            }
            Sym::Field(f) => {
                if !is_any {
                    let u = self.unk(r, "all() over an event list");
                    return self.truthy(u);
                }
                let mut e = env.clone();
                self.bind_element(target, Sym::Field(f), g.iter.range(), &mut e);
                let mut parts: Vec<Condition> = g.ifs.iter().map(|i| self.cond(i, &e)).collect();
                parts.push(self.cond(elt, &e));
                return and_(parts);
            }
            Sym::Unknown(u) => return self.unparsed(&u),
            _ => {
                let u = self.unk(g.iter.range(), "comprehension over unsupported iterable");
                return self.truthy(u);
            }
        };
        let mut conds = Vec::new();
        for item in items {
            let mut e = env.clone();
            assign_targets(std::slice::from_ref(target), item, &mut e, self);
            let ifs: Vec<Condition> = g.ifs.iter().map(|i| self.cond(i, &e)).collect();
            let body = self.cond(elt, &e);
            conds.push(if is_any {
                and_(ifs.into_iter().chain(std::iter::once(body)).collect())
            } else {
                or_plain(vec![not_(and_(ifs)), body])
            });
        }
        if is_any {
            self.or_merge(conds)
        } else {
            and_(conds)
        }
    }

    /// `event.udm(name)`: resolved through the data model of each of the rule's log types;
    /// when they differ, one alternative per log type (guarded by `p_log_type`).
    fn udm(&mut self, name: &str, r: ruff_text_size::TextRange) -> Sym<'a> {
        let repo = &self.ctx.repo;
        let mut alts: Vec<(String, Sym<'a>)> = Vec::new();
        for lt in &self.ctx.log_types {
            let Some(dm) = repo.data_models.get(lt) else {
                continue;
            };
            let dm: &'a super::DataModel = dm;
            let v = match dm.mappings.get(name) {
                Some(UdmMapping::Path(p)) => Sym::Field(FieldRef {
                    path: json_path(p),
                    ci: false,
                    range: r,
                }),
                Some(UdmMapping::Method(m)) => self.udm_method(dm, m, r),
                None => continue,
            };
            alts.push((lt.clone(), v));
        }
        let mut distinct: Vec<&Sym<'a>> = Vec::new();
        for (_, v) in &alts {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        match distinct.len() {
            0 => self.unk(r, format!("unresolved data model field: {name}")),
            1 => distinct[0].clone(),
            _ => Sym::PerLogType(alts, r),
        }
    }

    fn udm_method(
        &mut self,
        dm: &'a super::DataModel,
        m: &str,
        r: ruff_text_size::TextRange,
    ) -> Sym<'a> {
        let Some(module) = dm.module.as_ref() else {
            return self.unk(r, format!("data model method not available: {m}"));
        };
        let module: &'a super::PyModule = module;
        let key = format!("\u{0}dm:{}", module.path);
        let id = match self.module_ids.get(&key) {
            Some(id) => *id,
            None => {
                self.modules.push(ModuleRef {
                    ast: &module.ast,
                    path: &module.path,
                });
                let id = self.modules.len() - 1;
                self.module_ids.insert(key, id);
                id
            }
        };
        let env = self.module_env(id);
        match env.get(m).cloned() {
            Some(Sym::Func(fr)) => self.inline(fr, vec![Sym::Event], Vec::new(), r),
            _ => self.unk(r, format!("data model method not available: {m}")),
        }
    }

    /// One alternative per log type: `p_log_type == lt and <cond of its value>`, OR-ed.
    fn per_log_type(
        &mut self,
        alts: Vec<(String, Sym<'a>)>,
        r: ruff_text_size::TextRange,
        f: &mut dyn FnMut(&mut Self, Sym<'a>) -> Condition,
    ) -> Condition {
        let lt_field = FieldRef {
            path: vec!["p_log_type".to_string()],
            ci: false,
            range: r,
        };
        let mut items = Vec::new();
        for (lt, v) in alts {
            let guard = self.pred(&lt_field, Op::Eq, vec![Value::Str(lt)], false, r);
            let c = f(self, v);
            items.push(and_(vec![guard, c]));
        }
        or_plain(items)
    }
}

/// `$.a.b[0].c` / `a.b` -> `["a", "b", "c"]`.
pub(crate) fn json_path(p: &str) -> Vec<String> {
    let p = p.trim().trim_start_matches('$').trim_start_matches('.');
    let mut out = Vec::new();
    for seg in p.split('.') {
        let mut s = seg;
        // Drop list indexes and wildcards: the lookup walks every element.
        if let Some(i) = s.find('[') {
            let inside = &s[i..];
            s = &s[..i];
            if !s.is_empty() {
                out.push(s.to_string());
            }
            for part in inside.split('[').filter(|x| !x.is_empty()) {
                let part = part
                    .trim_end_matches(']')
                    .trim_matches(|c| c == '\'' || c == '"');
                if !part.is_empty() && part != "*" && part.parse::<i64>().is_err() {
                    out.push(part.to_string());
                }
            }
            continue;
        }
        if !s.is_empty() {
            out.push(s.to_string());
        }
    }
    out
}

fn target_names(e: &Expr) -> Vec<String> {
    match e {
        Expr::Name(n) => vec![n.id.as_str().to_string()],
        Expr::Tuple(t) => t.elts.iter().flat_map(target_names).collect(),
        Expr::List(t) => t.elts.iter().flat_map(target_names).collect(),
        _ => Vec::new(),
    }
}

fn assign_targets<'a>(targets: &'a [Expr], v: Sym<'a>, env: &mut Env<'a>, lw: &Lowerer<'a>) {
    for t in targets {
        match t {
            Expr::Name(n) => {
                env.insert(n.id.as_str().to_string(), v.clone());
            }
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }) => {
                if let Sym::Seq(items) = &v
                    && items.len() == elts.len()
                {
                    for (e, item) in elts.iter().zip(items) {
                        assign_targets(std::slice::from_ref(e), item.clone(), env, lw);
                    }
                } else {
                    for n in target_names(t) {
                        env.insert(
                            n,
                            lw.unk(t.range(), "tuple unpacking of a non-constant value"),
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

fn bind_imports<'a>(stmt: &Stmt, env: &mut Env<'a>) {
    match stmt {
        Stmt::Import(i) => {
            for a in &i.names {
                let full = a.name.as_str().to_string();
                let bind = a.asname.as_ref().map_or_else(
                    || full.split('.').next().unwrap_or(&full).to_string(),
                    |n| n.as_str().to_string(),
                );
                let module = if a.asname.is_some() {
                    full.clone()
                } else {
                    bind.clone()
                };
                env.insert(bind, Sym::Module(module));
            }
        }
        Stmt::ImportFrom(i) => {
            let module = i
                .module
                .as_ref()
                .map_or_else(String::new, |m| m.as_str().to_string());
            for a in &i.names {
                let name = a.name.as_str().to_string();
                let bind = a
                    .asname
                    .as_ref()
                    .map_or_else(|| name.clone(), |n| n.as_str().to_string());
                env.insert(
                    bind,
                    Sym::Import {
                        module: module.clone(),
                        name,
                    },
                );
            }
        }
        _ => {}
    }
}

fn merge_falls<'a>(r: &Ret<'a>) -> Option<Env<'a>> {
    match r {
        Ret::Leaf(_) | Ret::Cont | Ret::Skip(_) => None,
        Ret::Fall(e) => Some(e.clone()),
        Ret::Branch(c, t, f) => match (merge_falls(t), merge_falls(f)) {
            (Some(a), Some(b)) => Some(merge_env(c, a, b)),
            (Some(a), None) => Some(a),
            (None, b) => b,
        },
    }
}

fn merge_env<'a>(c: &Condition, mut a: Env<'a>, b: Env<'a>) -> Env<'a> {
    for (k, vb) in b {
        match a.remove(&k) {
            Some(va) if va == vb => {
                a.insert(k, va);
            }
            Some(va) => {
                a.insert(k, Sym::IfExp(c.clone(), Box::new(va), Box::new(vb)));
            }
            None => {
                a.insert(k, vb);
            }
        }
    }
    a
}

/// At the loop: `continue`/`break` go on with the next iteration (or after the loop).
fn skips_to_falls(r: Ret<'_>) -> Ret<'_> {
    match r {
        Ret::Skip(e) => Ret::Fall(e),
        Ret::Branch(c, t, f) => Ret::Branch(
            c,
            Box::new(skips_to_falls(*t)),
            Box::new(skips_to_falls(*f)),
        ),
        other => other,
    }
}

fn falls_to_cont(r: Ret<'_>) -> Ret<'_> {
    match r {
        Ret::Fall(_) => Ret::Cont,
        Ret::Branch(c, t, f) => {
            Ret::Branch(c, Box::new(falls_to_cont(*t)), Box::new(falls_to_cont(*f)))
        }
        other => other,
    }
}

fn substitute<'a>(r: Ret<'a>, k: &Ret<'a>) -> Ret<'a> {
    match r {
        Ret::Cont => k.clone(),
        Ret::Branch(c, t, f) => {
            Ret::Branch(c, Box::new(substitute(*t, k)), Box::new(substitute(*f, k)))
        }
        other => other,
    }
}
