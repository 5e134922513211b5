//! The Kusto syntax tree. Every node carries the byte range of its source text.

use ruleatlas_text::TextRange;

/// A whole query: statements separated by `;`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    pub statements: Vec<Statement>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `let name = value`.
    Let {
        name: String,
        value: LetValue,
        span: TextRange,
    },
    /// A tabular (or scalar) expression.
    Query(Expr),
    /// `set`, `declare`, `alias`, `restrict`, `pattern`...: no effect on which events match.
    Other { keyword: String, span: TextRange },
}

/// What a `let` binds.
#[derive(Debug, Clone, PartialEq)]
pub enum LetValue {
    Expr(Expr),
    Function(Function),
}

/// A user-defined function or view: `(a:string, T:(*)) { statements }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub params: Vec<Param>,
    pub body: Vec<Statement>,
    pub span: TextRange,
}

/// A function parameter, with its default value if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub default: Option<Expr>,
}

/// An expression, scalar or tabular.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: TextRange,
}

/// A query operator option such as `kind=inner` or `hint.strategy=shuffle`.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionArg {
    pub name: String,
    pub value: Expr,
}

/// The kinds of expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A column, table, `let` name or parameter (also `['bracketed name']`).
    Name(String),
    Str(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Null,
    /// A timespan literal as written (`1d`).
    Timespan(String),
    /// `datetime(...)`, `timespan(...)`, `guid(...)`, `typeof(...)`... with the raw text inside.
    Typed {
        ty: String,
        raw: String,
    },
    /// `dynamic(...)`: an array, a property bag, a literal or null.
    Dynamic(Box<Expr>),
    /// `[a, b]` inside `dynamic(...)`.
    Array(Vec<Expr>),
    /// `{"k": v}` inside `dynamic(...)`.
    Bag(Vec<(String, Expr)>),
    /// `*` (in `project *`, `arg_max(x, *)`, `where * has "x"`).
    Star,
    /// A parenthesized list `(a, b, c)` (the right side of `in`, `has_any`...).
    List(Vec<Expr>),
    Unary {
        op: String,
        expr: Box<Expr>,
    },
    /// A binary operator; `op` is lower-cased (`==`, `has`, `!in~`, `and`, `matches regex`).
    Binary {
        op: String,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `a and b and c` / `a or b or c`, flattened (op is `and` or `or`).
    Logical {
        op: String,
        items: Vec<Expr>,
    },
    Between {
        negated: bool,
        lhs: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    Member {
        base: Box<Expr>,
        name: String,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// `name = value` (a named argument).
    Assign {
        name: String,
        value: Box<Expr>,
    },
    /// `source | op | op`.
    Pipe {
        source: Box<Expr>,
        ops: Vec<Operator>,
    },
    /// `union [options] t1, t2, (subquery)` as a source.
    Union {
        options: Vec<OptionArg>,
        tables: Vec<Expr>,
    },
    /// `datatable(cols)[values]`.
    Datatable {
        columns: Vec<String>,
        values: Vec<Expr>,
    },
    /// `externaldata(cols)[urls] with (...)`.
    ExternalData {
        urls: Vec<String>,
    },
    /// `search [kind=...] [in (tables)] predicate` as a source.
    Search {
        tables: Vec<Expr>,
        pred: Box<Expr>,
    },
    /// `find [in (tables)] where predicate`.
    Find {
        tables: Vec<Expr>,
        pred: Box<Expr>,
    },
    /// `evaluate plugin(...)` as a source.
    Evaluate(Box<Expr>),
    /// `print`, `range`: sources that read no table.
    Generated(String),
    /// Something that did not parse; a diagnostic was recorded.
    Error,
}

/// `name = expr`, `(a, b) = expr` or a bare `expr` in `extend`, `project`, `summarize`...
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub names: Vec<String>,
    pub value: Expr,
    pub span: TextRange,
}

/// A tabular operator after `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// The operator name as written, lower-cased (`where`, `project-away`, `mv-apply`).
    pub name: String,
    pub kind: OperatorKind,
    pub span: TextRange,
}

/// What the operator does, as far as filtering goes.
#[derive(Debug, Clone, PartialEq)]
pub enum OperatorKind {
    /// `where` / `filter`.
    Where(Expr),
    Extend(Vec<Assignment>),
    Project(Vec<Assignment>),
    ProjectRename(Vec<Assignment>),
    Summarize {
        aggs: Vec<Assignment>,
        by: Vec<Assignment>,
    },
    /// `join` and `lookup`.
    Join {
        options: Vec<OptionArg>,
        right: Box<Expr>,
        on: Vec<Expr>,
        lookup: bool,
    },
    Union {
        options: Vec<OptionArg>,
        tables: Vec<Expr>,
    },
    /// `parse`, `parse-where`, `parse-kv`: the columns it makes.
    Parse {
        source: Expr,
        columns: Vec<String>,
        filters: bool,
    },
    MvExpand(Vec<Assignment>),
    MvApply {
        items: Vec<Assignment>,
        ops: Vec<Operator>,
    },
    /// `partition by col (subquery)`.
    Partition {
        ops: Vec<Operator>,
    },
    /// `make-series`: the columns it makes.
    MakeSeries {
        columns: Vec<String>,
    },
    Evaluate(Expr),
    /// `search` inside a pipeline.
    Search(Expr),
    /// `invoke f(...)`.
    Invoke(Expr),
    /// Operators that keep every row they are given (or only reorder/limit them):
    /// `take`, `limit`, `top`, `sort`, `order`, `project-away`, `distinct`, `count`, `as`...
    Passthrough,
    /// Known operators that can drop rows and are not lowered (`scan`, `fork`...); source text.
    Unsupported(String),
    /// An operator name Kusto does not have (a diagnostic was recorded); its source text.
    Unknown(String),
}
