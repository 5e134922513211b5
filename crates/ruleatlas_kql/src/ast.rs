//! The KQL syntax tree. Every node has a byte range into the parsed text.

use ruleatlas_text::TextRange;

pub use crate::lexer::RangeOp;

/// A parsed query; `root` is `None` for an empty query (which matches everything).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ast {
    pub root: Option<Query>,
    /// Errors that left no [`Query::Error`] node (an unclosed bracket or quote): the tree
    /// was read as if it were closed, and lowering adds an unparsed leaf for each.
    pub dangling: Vec<(String, TextRange)>,
}

/// A literal: a field name or a value, quoted or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    /// Decoded text.
    pub text: String,
    /// For an unquoted literal with an unescaped `*`: the wildcard pattern (literal `*`/`?`
    /// escaped with a backslash).
    pub pattern: Option<String>,
    pub quoted: bool,
    pub span: TextRange,
}

impl Literal {
    /// `field: *`: the exists query.
    #[must_use]
    pub fn is_exists(&self) -> bool {
        !self.quoted && self.pattern.as_deref() == Some("*")
    }

    /// Neither a wildcard nor `*`.
    #[must_use]
    pub fn is_plain(&self) -> bool {
        self.pattern.is_none()
    }
}

/// A query expression (`OrQuery` and below in Kibana's grammar).
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Or {
        items: Vec<Query>,
        span: TextRange,
    },
    And {
        items: Vec<Query>,
        span: TextRange,
    },
    Not {
        inner: Box<Query>,
        span: TextRange,
    },
    /// `field: value` or `field: (a or b)`.
    Field {
        field: Literal,
        values: Values,
        span: TextRange,
    },
    /// `field: { sub: value }`.
    Nested {
        field: Literal,
        query: Box<Query>,
        span: TextRange,
    },
    /// `field >= value`.
    Range {
        field: Literal,
        op: RangeOp,
        value: Literal,
        span: TextRange,
    },
    /// A value without a field: free text.
    Text {
        value: Literal,
        span: TextRange,
    },
    /// Text that did not parse (a diagnostic says why).
    Error {
        text: String,
        span: TextRange,
    },
}

impl Query {
    #[must_use]
    pub fn span(&self) -> TextRange {
        match self {
            Query::Or { span, .. }
            | Query::And { span, .. }
            | Query::Not { span, .. }
            | Query::Field { span, .. }
            | Query::Nested { span, .. }
            | Query::Range { span, .. }
            | Query::Text { span, .. }
            | Query::Error { span, .. } => *span,
        }
    }
}

/// The right-hand side of `field:`: one value or a boolean list of values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Or { items: Vec<Values>, span: TextRange },
    And { items: Vec<Values>, span: TextRange },
    Not { inner: Box<Values>, span: TextRange },
    One(Literal),
    Error { text: String, span: TextRange },
}

impl Values {
    #[must_use]
    pub fn span(&self) -> TextRange {
        match self {
            Values::Or { span, .. }
            | Values::And { span, .. }
            | Values::Not { span, .. }
            | Values::Error { span, .. } => *span,
            Values::One(l) => l.span,
        }
    }
}
