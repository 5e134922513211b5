//! Recursive-descent parser over the tokens, following Kibana's precedence:
//! `not` binds tighter than `and`, which binds tighter than `or`.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{DepthGuard, Parsed};
use ruleatlas_text::TextRange;

use crate::ast::{Ast, Literal, Query, Values};
use crate::lexer::{Token, TokenKind, tokenize};

/// Parses a KQL query. Never fails: unreadable parts become [`Query::Error`] nodes with a
/// diagnostic each.
#[must_use]
pub fn parse(text: &str) -> Parsed<Ast> {
    let (tokens, diagnostics) = tokenize(text);
    let mut dangling: Vec<(String, TextRange)> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.range.map(|r| (p_text(text, r), r)))
        .collect();
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
        guard: DepthGuard::default(),
        diags: diagnostics,
        dangling: Vec::new(),
    };
    let root = if p.tokens.is_empty() {
        None
    } else {
        let mut q = p.or_query();
        if p.pos < p.tokens.len() {
            let start = p.tokens[p.pos].span.start as usize;
            p.error(p.pos, &format!("unexpected {}", p.describe(p.pos)));
            let end = text.len();
            p.pos = p.tokens.len();
            let span = TextRange::new(start, end);
            let err = Query::Error {
                text: p_text(text, span),
                span,
            };
            let span = q.span().cover(err.span());
            q = Query::And {
                items: vec![q, err],
                span,
            };
        }
        Some(q)
    };
    dangling.append(&mut p.dangling);
    Parsed {
        ast: Ast { root, dangling },
        diagnostics: p.diags,
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    guard: DepthGuard,
    diags: Vec<Diagnostic>,
    dangling: Vec<(String, TextRange)>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&TokenKind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn at(&self, k: &TokenKind) -> bool {
        self.peek() == Some(k)
    }

    fn end_offset(&self) -> usize {
        self.tokens
            .get(self.pos.saturating_sub(1))
            .map_or(0, |t| t.span.end as usize)
    }

    fn here(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.text.len(), |t| t.span.start as usize)
    }

    fn describe(&self, i: usize) -> String {
        match self.tokens.get(i) {
            None => "end of query".to_string(),
            Some(t) => format!("'{}'", t.span.slice(self.text)),
        }
    }

    /// An error that leaves no error node: the text from the token on is kept as unparsed.
    fn unclosed(&mut self, at: usize, msg: &str) {
        self.error(at, msg);
        let start = self
            .tokens
            .get(at)
            .map_or(self.text.len(), |t| t.span.start as usize);
        let span = TextRange::new(start, self.text.len());
        self.dangling.push((p_text(self.text, span), span));
    }

    fn error(&mut self, at: usize, msg: &str) {
        let span = self
            .tokens
            .get(at)
            .map_or(TextRange::empty(self.text.len()), |t| t.span);
        self.diags
            .push(Diagnostic::error("kql-syntax", msg).with_range(span));
    }

    /// Skips to the next `and`/`or`/closing bracket at this nesting level; returns what was
    /// skipped as an error node.
    fn recover(&mut self, start: usize) -> TextRange {
        let mut nested = 0usize;
        while let Some(k) = self.peek() {
            match k {
                TokenKind::LParen | TokenKind::LBrace => nested += 1,
                TokenKind::RParen | TokenKind::RBrace if nested == 0 => break,
                TokenKind::RParen | TokenKind::RBrace => nested -= 1,
                TokenKind::Or | TokenKind::And if nested == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        TextRange::new(start, self.end_offset().max(start))
    }

    fn too_deep(&mut self) -> TextRange {
        let start = self.here();
        self.diags.push(
            Diagnostic::error(
                "limit-depth",
                format!(
                    "query nesting deeper than {} levels",
                    ruleatlas_model::LIMITS.max_depth
                ),
            )
            .with_range(TextRange::empty(start)),
        );
        self.recover(start)
    }

    fn or_query(&mut self) -> Query {
        if self.guard.enter().is_err() {
            let span = self.too_deep();
            return Query::Error {
                text: p_text(self.text, span),
                span,
            };
        }
        let mut items = vec![self.and_query()];
        while self.at(&TokenKind::Or) {
            self.pos += 1;
            items.push(self.and_query());
        }
        self.guard.leave();
        if items.len() == 1 {
            return items.pop().unwrap_or(Query::Error {
                text: String::new(),
                span: TextRange::default(),
            });
        }
        let span = cover(items.iter().map(Query::span));
        Query::Or { items, span }
    }

    fn and_query(&mut self) -> Query {
        let mut items = vec![self.not_query()];
        while self.at(&TokenKind::And) {
            self.pos += 1;
            items.push(self.not_query());
        }
        if items.len() == 1 {
            return items.pop().unwrap_or(Query::Error {
                text: String::new(),
                span: TextRange::default(),
            });
        }
        let span = cover(items.iter().map(Query::span));
        Query::And { items, span }
    }

    fn not_query(&mut self) -> Query {
        if !self.at(&TokenKind::Not) {
            return self.sub_query();
        }
        let start = self.here();
        self.pos += 1;
        if self.guard.enter().is_err() {
            let span = self.too_deep();
            return Query::Error {
                text: p_text(self.text, span),
                span,
            };
        }
        let inner = self.not_query();
        self.guard.leave();
        let span = TextRange::new(start, inner.span().end as usize);
        Query::Not {
            inner: Box::new(inner),
            span,
        }
    }

    fn sub_query(&mut self) -> Query {
        if !self.at(&TokenKind::LParen) {
            return self.expression();
        }
        let start = self.here();
        let open = self.pos;
        self.pos += 1;
        let q = self.or_query();
        if self.at(&TokenKind::RParen) {
            self.pos += 1;
        } else {
            self.unclosed(open, "unclosed '('");
        }
        let span = TextRange::new(start, self.end_offset());
        match q {
            Query::Or { items, .. } => Query::Or { items, span },
            Query::And { items, .. } => Query::And { items, span },
            other => other,
        }
    }

    fn expression(&mut self) -> Query {
        let start = self.here();
        let Some(field) = self.literal() else {
            let at = self.pos;
            let what = self.describe(at);
            self.error(at, &format!("expected a field or value, found {what}"));
            if matches!(self.peek(), Some(TokenKind::RParen | TokenKind::RBrace))
                || self.peek().is_none()
            {
                return Query::Error {
                    text: String::new(),
                    span: TextRange::empty(start),
                };
            }
            // Step over the offending token so recovery always makes progress.
            self.pos += 1;
            let span = self.recover(start);
            return Query::Error {
                text: p_text(self.text, span),
                span,
            };
        };
        match self.peek() {
            Some(TokenKind::Colon) => {
                self.pos += 1;
                if self.at(&TokenKind::LBrace) {
                    let open = self.pos;
                    self.pos += 1;
                    let query = self.or_query();
                    if self.at(&TokenKind::RBrace) {
                        self.pos += 1;
                    } else {
                        self.unclosed(open, "unclosed '{'");
                    }
                    let span = TextRange::new(start, self.end_offset());
                    return Query::Nested {
                        field,
                        query: Box::new(query),
                        span,
                    };
                }
                // `field: not value` is accepted (detection-rules' grammar allows it).
                let values = self.not_values();
                let span = TextRange::new(start, values.span().end as usize);
                Query::Field {
                    field,
                    values,
                    span,
                }
            }
            Some(TokenKind::Range(op)) => {
                let op = *op;
                self.pos += 1;
                let Some(value) = self.literal() else {
                    let at = self.pos;
                    let what = self.describe(at);
                    self.error(
                        at,
                        &format!("expected a value after a range operator, found {what}"),
                    );
                    let span = self.recover(start);
                    return Query::Error {
                        text: p_text(self.text, span),
                        span,
                    };
                };
                let span = TextRange::new(start, value.span.end as usize);
                Query::Range {
                    field,
                    op,
                    value,
                    span,
                }
            }
            _ => {
                let span = field.span;
                Query::Text { value: field, span }
            }
        }
    }

    /// A quoted string, or adjacent words joined with the whitespace between them.
    fn literal(&mut self) -> Option<Literal> {
        let tok = self.tokens.get(self.pos)?.clone();
        match tok.kind {
            TokenKind::Quoted(s) => {
                self.pos += 1;
                Some(Literal {
                    text: s,
                    pattern: None,
                    quoted: true,
                    span: tok.span,
                })
            }
            TokenKind::Word(first) => {
                self.pos += 1;
                let mut text = first.text;
                let mut pattern = first.pattern;
                let mut wildcard = first.wildcard;
                let mut end = tok.span.end as usize;
                while let Some(Token {
                    kind: TokenKind::Word(w),
                    span,
                    ..
                }) = self.tokens.get(self.pos)
                {
                    let gap = self.text.get(end..span.start as usize).unwrap_or(" ");
                    text.push_str(gap);
                    text.push_str(&w.text);
                    pattern.push_str(gap);
                    pattern.push_str(&w.pattern);
                    wildcard |= w.wildcard;
                    end = span.end as usize;
                    self.pos += 1;
                }
                let span = TextRange::new(tok.span.start as usize, end);
                Some(Literal {
                    text,
                    pattern: wildcard.then_some(pattern),
                    quoted: false,
                    span,
                })
            }
            _ => None,
        }
    }

    fn list_of_values(&mut self) -> Values {
        if !self.at(&TokenKind::LParen) {
            let start = self.here();
            return match self.literal() {
                Some(l) => Values::One(l),
                None => {
                    let at = self.pos;
                    let what = self.describe(at);
                    self.error(at, &format!("expected a value, found {what}"));
                    {
                        let span = self.recover(start);
                        Values::Error {
                            text: p_text(self.text, span),
                            span,
                        }
                    }
                }
            };
        }
        let start = self.here();
        let open = self.pos;
        self.pos += 1;
        let v = self.or_values();
        if self.at(&TokenKind::RParen) {
            self.pos += 1;
        } else {
            self.unclosed(open, "unclosed '('");
        }
        let span = TextRange::new(start, self.end_offset());
        match v {
            Values::Or { items, .. } => Values::Or { items, span },
            Values::And { items, .. } => Values::And { items, span },
            other => other,
        }
    }

    fn or_values(&mut self) -> Values {
        if self.guard.enter().is_err() {
            return {
                let span = self.too_deep();
                Values::Error {
                    text: p_text(self.text, span),
                    span,
                }
            };
        }
        let mut items = vec![self.and_values()];
        while self.at(&TokenKind::Or) {
            self.pos += 1;
            items.push(self.and_values());
        }
        self.guard.leave();
        if items.len() == 1 {
            return items.pop().unwrap_or(Values::Error {
                text: String::new(),
                span: TextRange::default(),
            });
        }
        let span = cover(items.iter().map(Values::span));
        Values::Or { items, span }
    }

    fn and_values(&mut self) -> Values {
        let mut items = vec![self.not_values()];
        while self.at(&TokenKind::And) {
            self.pos += 1;
            items.push(self.not_values());
        }
        if items.len() == 1 {
            return items.pop().unwrap_or(Values::Error {
                text: String::new(),
                span: TextRange::default(),
            });
        }
        let span = cover(items.iter().map(Values::span));
        Values::And { items, span }
    }

    fn not_values(&mut self) -> Values {
        if !self.at(&TokenKind::Not) {
            return self.list_of_values();
        }
        let start = self.here();
        self.pos += 1;
        if self.guard.enter().is_err() {
            return {
                let span = self.too_deep();
                Values::Error {
                    text: p_text(self.text, span),
                    span,
                }
            };
        }
        let inner = self.not_values();
        self.guard.leave();
        let span = TextRange::new(start, inner.span().end as usize);
        Values::Not {
            inner: Box::new(inner),
            span,
        }
    }
}

fn cover(mut spans: impl Iterator<Item = TextRange>) -> TextRange {
    let first = spans.next().unwrap_or_default();
    spans.fold(first, TextRange::cover)
}

fn p_text(text: &str, span: TextRange) -> String {
    span.slice(text).trim().to_string()
}
