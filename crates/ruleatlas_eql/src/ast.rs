//! The EQL syntax tree. Every node carries the byte range it was parsed from.

use ruleatlas_text::TextRange;

/// A whole query: a body (event query, sequence, sample) and its pipes.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The text the query was parsed from (lowering quotes expressions from it).
    pub source: String,
    pub body: Body,
    pub pipes: Vec<Pipe>,
    pub range: TextRange,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Event(EventQuery),
    /// `sequence` (and Python EQL's `join`, read the same way).
    Sequence(Sequence),
    Sample(Sample),
    /// No body (only pipes) or a body that failed to parse.
    Missing,
}

/// `category where condition`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    /// The event category as written (`process`, `any`), with its range.
    pub category: Name,
    pub condition: Expr,
    pub range: TextRange,
}

/// A name with its range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub range: TextRange,
}

/// `sequence [by keys] [with maxspan=...] step+ [until step]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    /// `join` instead of `sequence`.
    pub is_join: bool,
    pub by: Vec<Expr>,
    pub maxspan: Option<Name>,
    pub steps: Vec<Step>,
    pub until: Option<Box<Step>>,
    pub range: TextRange,
}

/// `sample by keys step+`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub by: Vec<Expr>,
    pub steps: Vec<Step>,
    pub range: TextRange,
}

/// One bracketed step: `[event query] [with runs=N] [by keys]`, `![...]` for a missing event.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `None` when the step's query failed to parse (the error is a diagnostic).
    pub query: Option<EventQuery>,
    pub by: Vec<Expr>,
    pub runs: Option<i64>,
    /// `![...]`: the sequence matches only when no such event occurs.
    pub missing: bool,
    pub range: TextRange,
}

/// `| name args`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    pub name: Name,
    pub args: Vec<Expr>,
    pub range: TextRange,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub range: TextRange,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A field; `optional` for `?field`.
    Field {
        name: String,
        optional: bool,
    },
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// `==`, `!=`, `<`, `<=`, `>`, `>=` (and `=` as `==`).
    Compare {
        op: CmpOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `:`, `like`, `regex` with one pattern or a list; `~` makes `like`/`regex` case-insensitive.
    Match {
        op: MatchOp,
        insensitive: bool,
        negated: bool,
        lhs: Box<Expr>,
        patterns: Vec<Expr>,
    },
    /// `in`, `in~`, `not in`.
    In {
        insensitive: bool,
        negated: bool,
        lhs: Box<Expr>,
        list: Vec<Expr>,
    },
    /// `name(args)` or `name~(args)`.
    Call {
        name: Name,
        insensitive: bool,
        args: Vec<Expr>,
    },
    Arith {
        op: ArithOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Neg(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `:`: case-insensitive equality, wildcards allowed.
    Colon,
    Like,
    Regex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl Expr {
    #[must_use]
    pub fn new(kind: ExprKind, range: TextRange) -> Self {
        Self { kind, range }
    }

    /// Every field this expression reads, in order, with duplicates.
    pub fn fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match &self.kind {
            ExprKind::Field { name, .. } => out.push(name),
            ExprKind::Not(e) | ExprKind::Neg(e) => e.fields(out),
            ExprKind::And(v) | ExprKind::Or(v) => v.iter().for_each(|e| e.fields(out)),
            ExprKind::Compare { lhs, rhs, .. } | ExprKind::Arith { lhs, rhs, .. } => {
                lhs.fields(out);
                rhs.fields(out);
            }
            ExprKind::Match {
                lhs,
                patterns: list,
                ..
            }
            | ExprKind::In { lhs, list, .. } => {
                lhs.fields(out);
                list.iter().for_each(|e| e.fields(out));
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|e| e.fields(out)),
            ExprKind::Str(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Null => {}
        }
    }
}
