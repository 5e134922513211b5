//! The ES|QL syntax tree: a source command and processing commands, each with its range.

use ruleatlas_text::TextRange;

/// A whole query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The text the query was parsed from.
    pub source: String,
    pub commands: Vec<Command>,
}

impl Query {
    /// Index patterns of every `FROM` (and `TS`/`METRICS`), in order.
    #[must_use]
    pub fn indices(&self) -> Vec<&str> {
        let mut out = Vec::new();
        collect_indices(&self.commands, &mut out);
        out
    }
}

fn collect_indices<'a>(cmds: &'a [Command], out: &mut Vec<&'a str>) {
    for c in cmds {
        match &c.kind {
            CommandKind::From { indices, .. } => {
                out.extend(indices.iter().map(|n| n.text.as_str()))
            }
            CommandKind::Fork(branches) => branches.iter().for_each(|b| collect_indices(b, out)),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub range: TextRange,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub kind: CommandKind,
    pub range: TextRange,
}

/// `name = expr` or a bare `expr` (its column is named by its text).
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub name: Option<Name>,
    pub expr: Expr,
}

/// One aggregate of `STATS`: `name = agg(...) [WHERE cond]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub assign: Assignment,
    pub filter: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    From {
        indices: Vec<Name>,
        metadata: Vec<Name>,
    },
    Row(Vec<Assignment>),
    Where(Expr),
    Eval(Vec<Assignment>),
    Stats {
        inline: bool,
        aggregates: Vec<Aggregate>,
        by: Vec<Assignment>,
    },
    Keep(Vec<Name>),
    Drop(Vec<Name>),
    /// `old AS new` pairs (also written `new = old`).
    Rename(Vec<(Name, Name)>),
    Sort,
    Limit,
    MvExpand(Name),
    /// `GROK`/`DISSECT`: the input and the columns the pattern makes.
    Extract {
        command: &'static str,
        input: Expr,
        columns: Vec<String>,
    },
    Enrich {
        policy: Name,
        on: Option<Name>,
        columns: Vec<String>,
    },
    LookupJoin {
        index: Name,
        on: Vec<Name>,
    },
    Completion {
        column: String,
    },
    ChangePoint {
        columns: Vec<String>,
    },
    Fork(Vec<Vec<Command>>),
    Sample,
    /// Commands that add nothing we read (`SHOW`, `META`...).
    Other(String),
    /// A command we do not know: `name` as written.
    Unknown(Name),
    /// A command that failed to parse (the error is a diagnostic).
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub range: TextRange,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Field(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    /// `?name`: a value supplied at run time.
    Param(String),
    /// `7 day`, `1 hour`.
    Span(String),
    List(Vec<Expr>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Compare {
        op: CmpOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `LIKE`/`RLIKE` with one pattern or a list; `negated` for `NOT LIKE`.
    Like {
        regex: bool,
        negated: bool,
        lhs: Box<Expr>,
        patterns: Vec<Expr>,
    },
    In {
        negated: bool,
        lhs: Box<Expr>,
        list: Vec<Expr>,
    },
    IsNull {
        negated: bool,
        lhs: Box<Expr>,
    },
    /// `field : "query"` (full-text match operator).
    MatchOp {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Call {
        name: Name,
        args: Vec<Expr>,
    },
    Arith {
        op: char,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Neg(Box<Expr>),
    Cast {
        expr: Box<Expr>,
        ty: String,
    },
    /// `{ "key": value }` options of some functions and commands.
    Map,
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

impl Expr {
    #[must_use]
    pub fn new(kind: ExprKind, range: TextRange) -> Self {
        Self { kind, range }
    }

    /// Every field (column) the expression reads, in order, with duplicates.
    pub fn fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match &self.kind {
            ExprKind::Field(name) => out.push(name),
            ExprKind::Not(e)
            | ExprKind::Neg(e)
            | ExprKind::IsNull { lhs: e, .. }
            | ExprKind::Cast { expr: e, .. } => e.fields(out),
            ExprKind::And(v) | ExprKind::Or(v) | ExprKind::List(v) => {
                v.iter().for_each(|e| e.fields(out))
            }
            ExprKind::Compare { lhs, rhs, .. }
            | ExprKind::Arith { lhs, rhs, .. }
            | ExprKind::MatchOp { lhs, rhs } => {
                lhs.fields(out);
                rhs.fields(out);
            }
            ExprKind::Like {
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
            | ExprKind::Null
            | ExprKind::Param(_)
            | ExprKind::Span(_)
            | ExprKind::Map => {}
        }
    }
}
