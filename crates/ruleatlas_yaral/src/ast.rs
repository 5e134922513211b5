//! The YARA-L 2.0 syntax tree. Every node carries its byte range in the file text.
//!
//! Boolean and arithmetic chains are n-ary (`And(vec)`, `Sum`) so that a long flat chain
//! (`a or b or c ...`, thousands of terms in Sigma-converted rules) does not become a deep
//! tree; nesting depth is bounded by the parser's [`ruleatlas_model::DepthGuard`], which also
//! keeps dropping the tree safe.

use ruleatlas_text::TextRange;

/// A parsed file: zero or more rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleFile {
    pub rules: Vec<Rule>,
}

/// The sections a rule may have, in the order the language requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SectionKind {
    Meta,
    Events,
    Match,
    Outcome,
    Condition,
    Options,
}

impl SectionKind {
    #[must_use]
    pub fn from_word(w: &str) -> Option<Self> {
        Some(match w {
            "meta" => Self::Meta,
            "events" => Self::Events,
            "match" => Self::Match,
            "outcome" => Self::Outcome,
            "condition" => Self::Condition,
            "options" => Self::Options,
            _ => return None,
        })
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Events => "events",
            Self::Match => "match",
            Self::Outcome => "outcome",
            Self::Condition => "condition",
            Self::Options => "options",
        }
    }
}

/// `rule name { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub name_span: TextRange,
    /// From `rule` to the closing `}` (or as far as the rule was read).
    pub span: TextRange,
    /// The closing `}` was found.
    pub closed: bool,
    pub meta: Option<KeyValueSection>,
    pub events: Option<ExprSection>,
    pub match_section: Option<MatchSection>,
    pub outcome: Option<OutcomeSection>,
    pub condition: Option<ExprSection>,
    pub options: Option<KeyValueSection>,
}

/// `meta:` and `options:`: `key = value` lines.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValueSection {
    pub span: TextRange,
    pub entries: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    pub key: String,
    /// The value as text (strings decoded, numbers and words as written).
    pub value: String,
    pub span: TextRange,
}

/// `events:` and `condition:`: statements, implicitly ANDed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprSection {
    pub span: TextRange,
    pub stmts: Vec<Stmt>,
}

/// One statement of `events:` / `condition:`.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Expr(Expr),
    /// A statement that did not parse; the parser resumed after it.
    Error {
        span: TextRange,
        message: String,
        text: String,
    },
}

/// `match: $a, $b over 5m [before|after $e]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchSection {
    pub span: TextRange,
    /// The grouping variables (`$user`) or fields as written.
    pub vars: Vec<String>,
    /// The window (`5m`), when given.
    pub window: Option<String>,
    /// The section's text as written.
    pub text: String,
}

/// `outcome:`: `$var = expression` assignments.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeSection {
    pub span: TextRange,
    pub assigns: Vec<OutcomeAssign>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeAssign {
    pub var: String,
    pub span: TextRange,
    /// `None` when the expression did not parse (a diagnostic says why).
    pub expr: Option<Expr>,
}

/// An expression with its range.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: TextRange,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    /// The operator with its sides swapped (`5 < #e` is `#e > 5`).
    #[must_use]
    pub fn flip(self) -> Self {
        match self {
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            other => other,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

/// `in %list`, `in regex %list`, `in cidr %list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InKind {
    Plain,
    Regex,
    Cidr,
}

/// `any` / `all` over a repeated field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// One step of a field path after the event variable.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSeg {
    /// `.name`
    Name(String),
    /// `["key"]` (map access) or `[0]` (array index), as written inside the brackets.
    Index(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    /// `not x` / `!x`.
    Not(Box<Expr>),
    Quant {
        quantifier: Quantifier,
        expr: Box<Expr>,
    },
    Compare {
        op: CmpOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        nocase: bool,
    },
    In {
        expr: Box<Expr>,
        kind: InKind,
        list: String,
        nocase: bool,
    },
    /// A boolean expression followed by `nocase` (`re.regex(...) nocase`).
    Nocase(Box<Expr>),
    /// `a + b - c`: the first term and the rest with their operators.
    Sum {
        first: Box<Expr>,
        rest: Vec<(ArithOp, Expr)>,
    },
    /// `-x`.
    Neg(Box<Expr>),
    /// `re.regex(...)`, `max(...)`, `if(...)`.
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// `$e.principal.ip`, `$e.labels["k"]`: an event (or entity) variable with a path.
    Field {
        var: String,
        path: Vec<PathSeg>,
    },
    /// `$x` alone: a placeholder, an event variable (in `condition:`), an outcome variable.
    Var(String),
    /// `#e`.
    Count(String),
    /// `%list` as a value.
    RefList(String),
    Str(String),
    Raw(String),
    Regex {
        pattern: String,
        flags: String,
    },
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Duration(String),
    /// A bare word (an unquoted enum value).
    Word(String),
    /// `[a, b]`.
    List(Vec<Expr>),
}

impl Expr {
    #[must_use]
    pub fn new(kind: ExprKind, span: TextRange) -> Self {
        Self { kind, span }
    }

    /// The field path after the variable (`metadata.event_type`, `labels["k"]`).
    #[must_use]
    pub fn path_text(path: &[PathSeg]) -> String {
        let mut s = String::new();
        for seg in path {
            match seg {
                PathSeg::Name(n) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(n);
                }
                PathSeg::Index(i) => {
                    s.push('[');
                    s.push_str(i);
                    s.push(']');
                }
            }
        }
        s
    }
}

fn write_str_lit(f: &mut std::fmt::Formatter<'_>, s: &str) -> std::fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl Expr {
    fn needs_parens_in(&self, parent_is_and: bool) -> bool {
        match self.kind {
            ExprKind::Or(_) => true,
            ExprKind::And(_) => !parent_is_and,
            _ => false,
        }
    }

    fn fmt_child(&self, f: &mut std::fmt::Formatter<'_>, parent_is_and: bool) -> std::fmt::Result {
        if self.needs_parens_in(parent_is_and) {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

/// Prints an expression back as YARA-L (used for unparsed fragments and join values).
impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ExprKind::Or(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    e.fmt_child(f, true)?;
                }
                Ok(())
            }
            ExprKind::And(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    e.fmt_child(f, true)?;
                }
                Ok(())
            }
            ExprKind::Not(e) => {
                f.write_str("not ")?;
                e.fmt_child(f, false)
            }
            ExprKind::Quant { quantifier, expr } => {
                f.write_str(match quantifier {
                    Quantifier::Any => "any ",
                    Quantifier::All => "all ",
                })?;
                expr.fmt_child(f, false)
            }
            ExprKind::Compare {
                op,
                lhs,
                rhs,
                nocase,
            } => {
                write!(f, "{lhs} {} {rhs}", op.as_str())?;
                if *nocase {
                    f.write_str(" nocase")?;
                }
                Ok(())
            }
            ExprKind::In {
                expr,
                kind,
                list,
                nocase,
            } => {
                write!(f, "{expr} in ")?;
                match kind {
                    InKind::Plain => {}
                    InKind::Regex => f.write_str("regex ")?,
                    InKind::Cidr => f.write_str("cidr ")?,
                }
                write!(f, "%{list}")?;
                if *nocase {
                    f.write_str(" nocase")?;
                }
                Ok(())
            }
            ExprKind::Nocase(e) => write!(f, "{e} nocase"),
            ExprKind::Sum { first, rest } => {
                write!(f, "{first}")?;
                for (op, e) in rest {
                    let o = match op {
                        ArithOp::Add => "+",
                        ArithOp::Sub => "-",
                        ArithOp::Mul => "*",
                        ArithOp::Div => "/",
                    };
                    if matches!(e.kind, ExprKind::Sum { .. }) {
                        write!(f, " {o} ({e})")?;
                    } else {
                        write!(f, " {o} {e}")?;
                    }
                }
                Ok(())
            }
            ExprKind::Neg(e) => write!(f, "-{e}"),
            ExprKind::Call { name, args } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            ExprKind::Field { var, path } => write!(f, "${var}.{}", Expr::path_text(path)),
            ExprKind::Var(v) => write!(f, "${v}"),
            ExprKind::Count(v) => write!(f, "#{v}"),
            ExprKind::RefList(v) => write!(f, "%{v}"),
            ExprKind::Str(s) => write_str_lit(f, s),
            ExprKind::Raw(s) => write!(f, "`{s}`"),
            ExprKind::Regex { pattern, flags } => {
                write!(f, "/{}/{flags}", pattern.replace('/', "\\/"))
            }
            ExprKind::Int(i) => write!(f, "{i}"),
            ExprKind::Float(x) => write!(f, "{x}"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Null => f.write_str("null"),
            ExprKind::Duration(d) | ExprKind::Word(d) => f.write_str(d),
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, a) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("]")
            }
        }
    }
}
