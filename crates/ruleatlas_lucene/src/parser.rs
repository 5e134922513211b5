//! Parser after Lucene's classic `QueryParser`: a query is a list of clauses, each with an
//! optional conjunction before it (`AND`/`&&`, `OR`/`||`) and modifiers (`+`, `-`, `!`,
//! `NOT`); `addClause` turns them into MUST / SHOULD / MUST_NOT exactly as Lucene does.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{DepthGuard, LIMITS, Parsed};
use ruleatlas_text::TextRange;

use crate::ast::{Ast, Clause, Occur, Query, Term};
use crate::lexer::{Token, TokenKind, tokenize};

/// The operator between clauses that have none (`a b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultOperator {
    /// Elasticsearch's default for `query_string`.
    #[default]
    Or,
    And,
}

/// Parses a query with the default operator OR.
#[must_use]
pub fn parse(text: &str) -> Parsed<Ast> {
    parse_with(text, DefaultOperator::Or)
}

/// Parses a query.
#[must_use]
pub fn parse_with(text: &str, default_operator: DefaultOperator) -> Parsed<Ast> {
    let (tokens, diagnostics) = tokenize(text);
    let dangling = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.range.map(|r| (slice(text, r), r)))
        .collect();
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
        guard: DepthGuard::default(),
        diags: diagnostics,
        dangling,
        default_operator,
    };
    let root = if p.tokens.is_empty() {
        None
    } else {
        let mut q = p.query(None);
        while p.pos < p.tokens.len() {
            // Only a stray `)` stops the top-level clause list.
            let start = p.tokens[p.pos].span.start as usize;
            p.error(p.pos, "unexpected ')'");
            p.pos += 1;
            let rest = p.query(None);
            let err_span = TextRange::new(start, start + 1);
            let span = q.span().cover(rest.span());
            q = Query::Bool {
                clauses: vec![
                    Clause {
                        occur: Occur::Must,
                        query: q,
                    },
                    Clause {
                        occur: Occur::Must,
                        query: Query::Error {
                            text: ")".into(),
                            span: err_span,
                        },
                    },
                    Clause {
                        occur: Occur::Must,
                        query: rest,
                    },
                ],
                span,
            };
        }
        Some(q)
    };
    Parsed {
        ast: Ast {
            root,
            dangling: p.dangling,
        },
        diagnostics: p.diags,
    }
}

fn slice(text: &str, r: TextRange) -> String {
    r.slice(text).trim().to_string()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Conj {
    None,
    And,
    Or,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Modifier {
    None,
    Req,
    Not,
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    guard: DepthGuard,
    diags: Vec<Diagnostic>,
    dangling: Vec<(String, TextRange)>,
    default_operator: DefaultOperator,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&TokenKind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn peek_at(&self, n: usize) -> Option<&TokenKind> {
        self.tokens.get(self.pos + n).map(|t| &t.kind)
    }

    fn here(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.text.len(), |t| t.span.start as usize)
    }

    fn end_offset(&self) -> usize {
        self.tokens
            .get(self.pos.saturating_sub(1))
            .map_or(0, |t| t.span.end as usize)
    }

    fn error(&mut self, at: usize, msg: &str) {
        let span = self
            .tokens
            .get(at)
            .map_or(TextRange::empty(self.text.len()), |t| t.span);
        self.diags
            .push(Diagnostic::error("lucene-syntax", msg).with_range(span));
    }

    /// `Query := (Conjunction Modifiers Clause)*` up to `)` or the end.
    fn query(&mut self, field: Option<&str>) -> Query {
        let start = self.here();
        let mut clauses: Vec<Clause> = Vec::new();
        loop {
            let conj = match self.peek() {
                None | Some(TokenKind::RParen) => break,
                Some(TokenKind::And) => {
                    self.pos += 1;
                    Conj::And
                }
                Some(TokenKind::Or) => {
                    self.pos += 1;
                    Conj::Or
                }
                _ => Conj::None,
            };
            let m = match self.peek() {
                Some(TokenKind::Plus) => {
                    self.pos += 1;
                    Modifier::Req
                }
                Some(TokenKind::Minus | TokenKind::Bang | TokenKind::Not) => {
                    self.pos += 1;
                    Modifier::Not
                }
                _ => Modifier::None,
            };
            if matches!(self.peek(), None | Some(TokenKind::RParen)) {
                if conj != Conj::None || m != Modifier::None {
                    let at = self.pos.saturating_sub(1);
                    self.error(at, "operator without a clause after it");
                    let span = self
                        .tokens
                        .get(at)
                        .map_or_else(TextRange::default, |t| t.span);
                    clauses.push(Clause {
                        occur: Occur::Must,
                        query: Query::Error {
                            text: slice(self.text, span),
                            span,
                        },
                    });
                }
                break;
            }
            let q = self.clause(field);
            self.add_clause(&mut clauses, conj, m, q);
        }
        let span = TextRange::new(start, self.end_offset().max(start));
        Query::Bool { clauses, span }
    }

    /// Lucene's `QueryParserBase.addClause`.
    fn add_clause(&self, clauses: &mut Vec<Clause>, conj: Conj, m: Modifier, query: Query) {
        if let Some(last) = clauses.last_mut() {
            if conj == Conj::And && last.occur != Occur::MustNot {
                last.occur = Occur::Must;
            }
            if self.default_operator == DefaultOperator::And
                && conj == Conj::Or
                && last.occur != Occur::MustNot
            {
                last.occur = Occur::Should;
            }
        }
        let prohibited = m == Modifier::Not;
        let required = match self.default_operator {
            DefaultOperator::Or => m == Modifier::Req || (conj == Conj::And && !prohibited),
            DefaultOperator::And => !prohibited && conj != Conj::Or,
        };
        let occur = if prohibited {
            Occur::MustNot
        } else if required {
            Occur::Must
        } else {
            Occur::Should
        };
        clauses.push(Clause { occur, query });
    }

    /// `Clause := [field ':'] (Term | '(' Query ')' ['^' boost])`.
    fn clause(&mut self, field: Option<&str>) -> Query {
        let start = self.here();
        let mut field_name: Option<String> = field.map(str::to_string);
        if let (Some(TokenKind::Term(w)), Some(TokenKind::Colon)) = (self.peek(), self.peek_at(1)) {
            field_name = Some(w.text.clone());
            self.pos += 2;
        }
        if self.peek() == Some(&TokenKind::LParen) {
            let open = self.pos;
            self.pos += 1;
            if self.guard.enter().is_err() {
                return self.too_deep(start);
            }
            let inner = self.query(field_name.as_deref());
            self.guard.leave();
            if self.peek() == Some(&TokenKind::RParen) {
                self.pos += 1;
            } else {
                self.error(open, "unclosed '('");
                let s = self.tokens[open].span.start as usize;
                let span = TextRange::new(s, self.text.len());
                self.dangling.push((slice(self.text, span), span));
            }
            if self.peek() == Some(&TokenKind::Boost) {
                self.pos += 1;
            }
            let span = TextRange::new(start, self.end_offset());
            return match inner {
                Query::Bool { clauses, .. } => Query::Bool { clauses, span },
                other => other,
            };
        }
        self.term(start, field_name)
    }

    fn too_deep(&mut self, start: usize) -> Query {
        self.diags.push(
            Diagnostic::error(
                "limit-depth",
                format!("query nesting deeper than {} levels", LIMITS.max_depth),
            )
            .with_range(TextRange::empty(start)),
        );
        // Skip the whole nested group.
        let mut nested = 1usize;
        while let Some(k) = self.peek() {
            match k {
                TokenKind::LParen => nested += 1,
                TokenKind::RParen => {
                    nested -= 1;
                    if nested == 0 {
                        self.pos += 1;
                        break;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        let span = TextRange::new(start, self.end_offset().max(start));
        Query::Error {
            text: slice(self.text, span),
            span,
        }
    }

    fn term(&mut self, start: usize, field: Option<String>) -> Query {
        let Some(tok) = self.tokens.get(self.pos).cloned() else {
            self.error(self.pos, "expected a term, found end of query");
            return Query::Error {
                text: String::new(),
                span: TextRange::empty(start),
            };
        };
        self.pos += 1;
        let term = match tok.kind {
            TokenKind::Term(w) => {
                if let Some(TokenKind::Tilde(d)) = self.peek() {
                    let distance = d.clone();
                    self.pos += 1;
                    Term::Fuzzy {
                        text: w.text,
                        distance,
                    }
                } else {
                    Term::Word(w)
                }
            }
            TokenKind::Quoted(text) => {
                let mut slop = None;
                if let Some(TokenKind::Tilde(d)) = self.peek() {
                    slop = Some(d.clone().unwrap_or_default());
                    self.pos += 1;
                }
                Term::Phrase { text, slop }
            }
            TokenKind::Regex(r) => Term::Regex(r),
            TokenKind::Range {
                lower,
                upper,
                incl_lower,
                incl_upper,
            } => Term::Range {
                lower,
                upper,
                incl_lower,
                incl_upper,
            },
            TokenKind::Compare(op) => match self.tokens.get(self.pos).map(|t| t.kind.clone()) {
                Some(TokenKind::Term(w)) => {
                    self.pos += 1;
                    Term::Compare {
                        op,
                        value: crate::ast::Bound {
                            text: w.text,
                            quoted: false,
                        },
                    }
                }
                Some(TokenKind::Quoted(s)) => {
                    self.pos += 1;
                    Term::Compare {
                        op,
                        value: crate::ast::Bound {
                            text: s,
                            quoted: true,
                        },
                    }
                }
                _ => {
                    self.error(self.pos - 1, "expected a value after a comparison");
                    let span = TextRange::new(start, self.end_offset());
                    return Query::Error {
                        text: slice(self.text, span),
                        span,
                    };
                }
            },
            _ => {
                let msg = format!("unexpected '{}'", tok.span.slice(self.text));
                self.error(self.pos - 1, &msg);
                let span = TextRange::new(start, self.end_offset());
                return Query::Error {
                    text: slice(self.text, span),
                    span,
                };
            }
        };
        if self.peek() == Some(&TokenKind::Boost) {
            self.pos += 1;
        }
        let span = TextRange::new(start, self.end_offset());
        Query::Term { field, term, span }
    }
}
