//! The SPL syntax tree. Every node carries the byte range it was parsed from.

use ruleatlas_text::TextRange;

/// A parsed query: one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    /// The text that was parsed (spans index into it).
    pub text: String,
    pub pipeline: Pipeline,
}

/// Commands joined by `|`. A pipeline that starts with `|` begins with a generating command
/// (`tstats`, `inputlookup`...); otherwise its first command is an implicit `search`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub commands: Vec<Command>,
    pub span: TextRange,
}

/// One command of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The command name as written, lower-cased (`search` for the implicit first search).
    pub name: String,
    pub span: TextRange,
    pub body: CommandBody,
}

/// An aggregation of a statistical command: `dc(_raw) as mfa_prompts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Agg {
    /// Function name, lower-cased (`count`, `dc`, `values`...).
    pub func: String,
    /// The plain field argument, if the argument is one field (`values(x)` -> `x`).
    pub field: Option<String>,
    /// The column it makes: the alias, or the call as written (`count`, `dc(user)`).
    pub column: String,
    pub span: TextRange,
}

/// What a command does, as far as filtering is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandBody {
    /// `search` (also the implicit first command): a search-language expression.
    Search(Option<SNode>),
    /// `where <expr>`.
    Where(ENode),
    /// `eval a=..., b=...`.
    Eval(Vec<(String, ENode)>),
    /// `stats`-like commands (`stats`, `eventstats`, `streamstats`, `chart`, `timechart`,
    /// `top`, `rare`, `transaction`): their aggregates become columns; `closes` when the
    /// command replaces events by its result rows.
    Stats {
        aggs: Vec<Agg>,
        by: Vec<String>,
        closes: bool,
    },
    /// `tstats`/`mstats`: a generating statistics command with a search-language `where`.
    Tstats {
        datamodel: Option<String>,
        aggs: Vec<Agg>,
        filter: Option<SNode>,
        by: Vec<String>,
    },
    /// `from datamodel=X.Y` / `from datamodel:X.Y` / `datamodel X Y search`.
    DataModel { name: String },
    /// `rename a as b, ...` (`*` wildcards allowed).
    Rename(Vec<(String, String)>),
    /// `lookup name in-fields OUTPUT out-fields`: the outputs come from the lookup's content.
    Lookup { name: String, outputs: Vec<String> },
    /// `inputlookup name [where ...]`: events are the lookup's rows (added to the current
    /// ones with `append=t`).
    InputLookup {
        name: String,
        filter: Option<SNode>,
        append: bool,
    },
    /// `regex [field=|field!=] "re"`.
    Regex {
        field: String,
        negated: bool,
        pattern: String,
        span: TextRange,
    },
    /// Commands that make new columns (`rex`, `spath output=`, `iplocation`...): the listed
    /// columns are computed; `aliases` are plain copies (`spath output=a path=b`).
    Columns {
        computed: Vec<String>,
        aliases: Vec<(String, String)>,
    },
    /// `join [...] [subsearch]`; `inner` when events without a match are dropped.
    Join {
        sub: Option<Box<Pipeline>>,
        inner: bool,
    },
    /// `append [...]`, `union`, `multisearch`: more events from other searches.
    Append(Vec<Pipeline>),
    /// `appendpipe [...]`: a sub-pipeline over the current results, appended.
    AppendPipe(Option<Box<Pipeline>>),
    /// A command that cannot drop events and makes no column we track.
    Passthrough,
    /// A known command that can drop events and is not lowered.
    Unsupported,
    /// A command this parser does not know.
    Unknown,
    /// A macro call left after expansion, in command position.
    Macro,
    /// The command did not parse; `message` says why.
    Error { message: String },
}

/// A search-language node.
#[derive(Debug, Clone, PartialEq)]
pub struct SNode {
    pub kind: SKind,
    pub span: TextRange,
}

/// Comparison operators of the search language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A value in the search language, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct SValue {
    pub text: String,
    pub quoted: bool,
}

/// Search-language node kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum SKind {
    And(Vec<SNode>),
    Or(Vec<SNode>),
    Not(Box<SNode>),
    /// `field=value`, `field!=value`, `field>5`...
    Cmp {
        field: String,
        op: CmpOp,
        value: SValue,
    },
    /// `field IN (a, b)`.
    In {
        field: String,
        values: Vec<SValue>,
    },
    /// A bare term or phrase (`TERM(x)`, `"a b"`, `error`).
    Term(SValue),
    /// A time modifier (`earliest=-24h`): selects a time range, not events by content.
    TimeModifier,
    /// `[ subsearch ]`.
    Subsearch(Box<Pipeline>),
    /// A macro call left by expansion.
    Macro,
    /// A part that did not parse.
    Error(String),
}

/// An `eval`/`where` expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct ENode {
    pub kind: EKind,
    pub span: TextRange,
}

/// Binary operators of expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    Xor,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
}

/// Expression node kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum EKind {
    Num(String),
    Str(String),
    Field(String),
    Call {
        name: String,
        args: Vec<ENode>,
    },
    /// `a AND b AND c` (also OR, XOR): flat, however long the chain.
    Logic {
        op: BinOp,
        items: Vec<ENode>,
    },
    /// Other binary operators (comparisons, arithmetic, `LIKE`).
    Binary {
        op: BinOp,
        lhs: Box<ENode>,
        rhs: Box<ENode>,
    },
    Not(Box<ENode>),
    Neg(Box<ENode>),
    /// `x IN (a, b)`.
    In {
        lhs: Box<ENode>,
        list: Vec<ENode>,
    },
    /// A macro call left by expansion.
    Macro,
    Error(String),
}
