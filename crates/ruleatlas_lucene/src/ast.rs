//! The Lucene query syntax tree. Every node has a byte range into the parsed text.

use ruleatlas_text::TextRange;

pub use crate::lexer::{Bound, CompareOp, Word};

/// A parsed query; `root` is `None` for an empty query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ast {
    pub root: Option<Query>,
    /// Errors that left no [`Query::Error`] node (an unclosed parenthesis, quote, range):
    /// lowering adds an unparsed leaf for each.
    pub dangling: Vec<(String, TextRange)>,
}

/// How a clause takes part in its boolean query (Lucene's `BooleanClause.Occur`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occur {
    Must,
    Should,
    MustNot,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub occur: Occur,
    pub query: Query,
}

/// What a term clause compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Word(Word),
    /// `"a phrase"`, with the proximity slop of `"a b"~2`.
    Phrase {
        text: String,
        slop: Option<String>,
    },
    /// `/regex/`.
    Regex(String),
    /// `[a TO b]`, `{a TO *]`...
    Range {
        lower: Option<Bound>,
        upper: Option<Bound>,
        incl_lower: bool,
        incl_upper: bool,
    },
    /// `field:>10`.
    Compare {
        op: CompareOp,
        value: Bound,
    },
    /// `term~` / `term~2`: fuzzy.
    Fuzzy {
        text: String,
        distance: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// A parenthesized group or the whole query: clauses after Lucene's conjunction rules.
    Bool {
        clauses: Vec<Clause>,
        span: TextRange,
    },
    /// A term, with its field (`None`: the default field).
    Term {
        field: Option<String>,
        term: Term,
        span: TextRange,
    },
    /// Text that did not parse.
    Error { text: String, span: TextRange },
}

impl Query {
    #[must_use]
    pub fn span(&self) -> TextRange {
        match self {
            Query::Bool { span, .. } | Query::Term { span, .. } | Query::Error { span, .. } => {
                *span
            }
        }
    }
}
