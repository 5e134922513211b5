//! The Sigma `condition` grammar: a hand-written lexer and a recursive-descent parser.
//!
//! ```text
//! condition   := or_expr [ '|' aggregation ]
//! or_expr     := and_expr { 'or' and_expr }
//! and_expr    := not_expr { 'and' not_expr }
//! not_expr    := 'not' not_expr | primary
//! primary     := '(' or_expr ')' | quantifier 'of' ( 'them' | pattern ) | identifier
//! quantifier  := NUMBER | 'all' | 'any'
//! aggregation := func '(' [field] ')' [ 'by' field ] cmp NUMBER | 'near' ...   (deprecated)
//! ```
//!
//! Precedence, least to most binding: `or`, `and`, `not`, `x of`, parentheses (Sigma
//! specification, "Condition"). Keywords are case-insensitive. Every recursion goes through a
//! [`DepthGuard`], so a 200,000-deep parenthesized condition is an error, not a stack overflow,
//! and the AST it leaves behind is never deeper than the guard allows.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{DepthGuard, Op, Parsed, Value};
use ruleatlas_text::TextRange;

/// A token of a condition, with its byte range in the condition text.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub range: TextRange,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A search identifier or pattern (`selection`, `filter_*`), or a keyword (`and`, `of`...):
    /// keywords are recognized by the parser, case-insensitively.
    Word(String),
    Number(f64),
    LParen,
    RParen,
    Pipe,
    Comma,
    /// `<`, `<=`, `>`, `>=`, `=`, `==`, `!=`.
    Cmp(Op),
    /// A character that has no place in a condition.
    Invalid(char),
    Eof,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '_' | '-' | '.' | '*' | '?' | '$' | '@' | '%' | ':' | '\\' | '/'
        )
}

/// Splits a condition into tokens. Never fails: unknown characters become [`TokenKind::Invalid`].
#[must_use]
pub fn lex(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let single = |kind| Token {
            kind,
            range: TextRange::new(i, i + c.len_utf8()),
        };
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(single(TokenKind::LParen)),
            ')' => out.push(single(TokenKind::RParen)),
            '|' => out.push(single(TokenKind::Pipe)),
            ',' => out.push(single(TokenKind::Comma)),
            '<' | '>' | '=' | '!' => {
                let eq = chars.peek().is_some_and(|&(_, n)| n == '=');
                let op = match (c, eq) {
                    ('<', false) => Some(Op::Lt),
                    ('<', true) => Some(Op::Le),
                    ('>', false) => Some(Op::Gt),
                    ('>', true) => Some(Op::Ge),
                    ('=', _) => Some(Op::Eq),
                    ('!', true) => Some(Op::Ne),
                    _ => None,
                };
                let mut end = i + 1;
                if eq {
                    chars.next();
                    end += 1;
                }
                let kind = op.map_or(TokenKind::Invalid(c), TokenKind::Cmp);
                out.push(Token {
                    kind,
                    range: TextRange::new(i, end),
                });
            }
            c if is_word_char(c) => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, n)) = chars.peek() {
                    if !is_word_char(n) {
                        break;
                    }
                    end = j + n.len_utf8();
                    chars.next();
                }
                let word = &text[i..end];
                let kind = if word.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && word.bytes().any(|b| b.is_ascii_digit())
                {
                    word.parse::<f64>()
                        .map_or_else(|_| TokenKind::Word(word.to_string()), TokenKind::Number)
                } else {
                    TokenKind::Word(word.to_string())
                };
                out.push(Token {
                    kind,
                    range: TextRange::new(i, end),
                });
            }
            other => out.push(single(TokenKind::Invalid(other))),
        }
    }
    out.push(Token {
        kind: TokenKind::Eof,
        range: TextRange::empty(text.len()),
    });
    out
}

/// How many of the matching search identifiers must match.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantifier {
    /// `1 of`, `any of`.
    Any,
    /// `all of`.
    All,
    /// `N of` with N > 1 (not in the specification).
    Count(u64),
}

/// What an `x of` refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum OfTarget {
    /// Every search identifier not starting with `_`.
    Them,
    /// Identifiers matching a pattern with `*` wildcards.
    Pattern(String),
}

/// A node of the condition AST, with its byte range in the condition text.
#[derive(Debug, Clone, PartialEq)]
pub struct CondNode {
    pub kind: CondKind,
    pub range: TextRange,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CondKind {
    And(Vec<CondNode>),
    Or(Vec<CondNode>),
    Not(Box<CondNode>),
    /// A search identifier.
    Ident(String),
    /// `1 of selection_*`, `all of them`...
    Of(Quantifier, OfTarget),
}

/// A deprecated pipe aggregation: `count(field) by group > 10`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub function: String,
    pub field: Option<String>,
    pub group_by: Option<String>,
    pub op: Op,
    pub value: Value,
    pub range: TextRange,
}

/// A parsed condition: the search expression and an optional deprecated aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionAst {
    pub expr: Option<CondNode>,
    pub aggregation: Option<Aggregation>,
    /// A deprecated `| near ...` clause, kept as text (not lowered).
    pub near: Option<(String, TextRange)>,
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    guard: DepthGuard,
}

type PResult<T> = Result<T, Diagnostic>;

fn err(range: TextRange, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error("sigma-condition", msg).with_range(range)
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.pos.min(last)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn peek_keyword_at(&self, offset: usize, kw: &str) -> bool {
        matches!(self.tokens.get(self.pos + offset).map(|t| &t.kind), Some(TokenKind::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn parse_condition(&mut self) -> PResult<ConditionAst> {
        let expr = self.parse_or()?;
        let mut ast = ConditionAst {
            expr: Some(expr),
            aggregation: None,
            near: None,
        };
        if matches!(self.peek().kind, TokenKind::Pipe) {
            let pipe = self.bump();
            if self.peek_keyword("near") {
                let start = self.peek().range.start as usize;
                let range = TextRange::new(start, self.text.len());
                ast.near = Some((range.slice(self.text).trim().to_string(), range));
                self.pos = self.tokens.len() - 1;
            } else {
                ast.aggregation = Some(self.parse_aggregation(pipe.range)?);
            }
        }
        let t = self.peek().clone();
        match t.kind {
            TokenKind::Eof => Ok(ast),
            TokenKind::RParen => Err(err(t.range, "unbalanced ')'")),
            _ => Err(err(
                t.range,
                format!("unexpected '{}'", t.range.slice(self.text)),
            )),
        }
    }

    fn parse_or(&mut self) -> PResult<CondNode> {
        let first = self.parse_and()?;
        let mut items = vec![first];
        while self.peek_keyword("or") {
            self.bump();
            items.push(self.parse_and()?);
        }
        Ok(combine(items, CondKind::Or))
    }

    fn parse_and(&mut self) -> PResult<CondNode> {
        let first = self.parse_not()?;
        let mut items = vec![first];
        while self.peek_keyword("and") {
            self.bump();
            items.push(self.parse_not()?);
        }
        Ok(combine(items, CondKind::And))
    }

    fn enter(&mut self, at: TextRange) -> PResult<()> {
        self.guard
            .enter()
            .map_err(|e| Diagnostic::error("limit-depth", format!("condition {e}")).with_range(at))
    }

    fn parse_not(&mut self) -> PResult<CondNode> {
        if self.peek_keyword("not") {
            let not = self.bump();
            self.enter(not.range)?;
            let inner = self.parse_not();
            self.guard.leave();
            let inner = inner?;
            let range = not.range.cover(inner.range);
            return Ok(CondNode {
                kind: CondKind::Not(Box::new(inner)),
                range,
            });
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> PResult<CondNode> {
        let t = self.peek().clone();
        match &t.kind {
            TokenKind::LParen => {
                self.bump();
                self.enter(t.range)?;
                let inner = self.parse_or();
                self.guard.leave();
                let mut inner = inner?;
                let close = self.peek().clone();
                if close.kind != TokenKind::RParen {
                    return Err(err(t.range, "'(' is never closed"));
                }
                self.bump();
                inner.range = t.range.cover(close.range);
                Ok(inner)
            }
            TokenKind::Number(n) if self.peek_keyword_at(1, "of") => {
                let n = *n;
                if n.fract() != 0.0 || n < 1.0 {
                    return Err(err(
                        t.range,
                        format!("invalid count '{}' before 'of'", t.range.slice(self.text)),
                    ));
                }
                self.bump();
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let q = if (n - 1.0).abs() < f64::EPSILON {
                    Quantifier::Any
                } else {
                    Quantifier::Count(n as u64)
                };
                self.parse_of(q, t.range)
            }
            TokenKind::Word(w)
                if self.peek_keyword_at(1, "of")
                    && (w.eq_ignore_ascii_case("all") || w.eq_ignore_ascii_case("any")) =>
            {
                let q = if w.eq_ignore_ascii_case("all") {
                    Quantifier::All
                } else {
                    Quantifier::Any
                };
                self.bump();
                self.parse_of(q, t.range)
            }
            TokenKind::Word(w) => {
                if ["and", "or", "not", "of"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(err(
                        t.range,
                        format!("expected a search identifier, found '{w}'"),
                    ));
                }
                self.bump();
                Ok(CondNode {
                    kind: CondKind::Ident(w.clone()),
                    range: t.range,
                })
            }
            TokenKind::Number(_) => {
                // A purely numeric search identifier (`1`) is unusual but legal YAML.
                self.bump();
                Ok(CondNode {
                    kind: CondKind::Ident(t.range.slice(self.text).to_string()),
                    range: t.range,
                })
            }
            TokenKind::Eof => Err(err(
                t.range,
                "condition ends where a search identifier was expected",
            )),
            TokenKind::RParen => Err(err(t.range, "unexpected ')'")),
            _ => Err(err(
                t.range,
                format!("unexpected '{}'", t.range.slice(self.text)),
            )),
        }
    }

    fn parse_of(&mut self, q: Quantifier, start: TextRange) -> PResult<CondNode> {
        self.bump(); // `of`
        let t = self.bump();
        let target = match &t.kind {
            TokenKind::Word(w) if w.eq_ignore_ascii_case("them") => OfTarget::Them,
            TokenKind::Word(w)
                if !["and", "or", "not"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                OfTarget::Pattern(w.clone())
            }
            TokenKind::Number(_) => OfTarget::Pattern(t.range.slice(self.text).to_string()),
            _ => {
                return Err(err(
                    t.range,
                    "expected 'them' or a search identifier pattern after 'of'",
                ));
            }
        };
        Ok(CondNode {
            kind: CondKind::Of(q, target),
            range: start.cover(t.range),
        })
    }

    fn parse_aggregation(&mut self, pipe: TextRange) -> PResult<Aggregation> {
        let f = self.bump();
        let TokenKind::Word(function) = f.kind else {
            return Err(err(f.range, "expected an aggregation function after '|'"));
        };
        let function = function.to_ascii_lowercase();
        if !["count", "min", "max", "avg", "sum"].contains(&function.as_str()) {
            return Err(err(
                f.range,
                format!("unknown aggregation function '{function}'"),
            ));
        }
        let mut field = None;
        if matches!(self.peek().kind, TokenKind::LParen) {
            self.bump();
            if let TokenKind::Word(w) = &self.peek().kind {
                field = Some(w.clone());
                self.bump();
            }
            let close = self.bump();
            if close.kind != TokenKind::RParen {
                return Err(err(close.range, "expected ')' after the aggregation field"));
            }
        }
        let mut group_by = None;
        if self.peek_keyword("by") {
            self.bump();
            let g = self.bump();
            match g.kind {
                TokenKind::Word(w) => group_by = Some(w),
                _ => return Err(err(g.range, "expected a field after 'by'")),
            }
        }
        let c = self.bump();
        let TokenKind::Cmp(op) = c.kind else {
            return Err(err(
                c.range,
                "expected a comparison (<, <=, >, >=, =) in the aggregation",
            ));
        };
        let v = self.bump();
        let value = match v.kind {
            #[allow(clippy::cast_possible_truncation)]
            TokenKind::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::Int(n as i64),
            TokenKind::Number(n) => Value::Float(n),
            _ => return Err(err(v.range, "expected a number in the aggregation")),
        };
        Ok(Aggregation {
            function,
            field,
            group_by,
            op,
            value,
            range: pipe.cover(v.range),
        })
    }
}

fn combine(mut items: Vec<CondNode>, make: fn(Vec<CondNode>) -> CondKind) -> CondNode {
    if items.len() == 1 {
        return items.pop().unwrap_or(CondNode {
            kind: CondKind::Or(Vec::new()),
            range: TextRange::default(),
        });
    }
    let range = items
        .iter()
        .map(|n| n.range)
        .reduce(TextRange::cover)
        .unwrap_or_default();
    CondNode {
        kind: make(items),
        range,
    }
}

/// Parses one condition string. On an error the AST has no expression and the diagnostic
/// (code `sigma-condition`, or `limit-depth`) carries the range of the offending token.
#[must_use]
pub fn parse_condition(text: &str) -> Parsed<ConditionAst> {
    let mut p = Parser {
        text,
        tokens: lex(text),
        pos: 0,
        guard: DepthGuard::default(),
    };
    if let Some(bad) = p
        .tokens
        .iter()
        .find(|t| matches!(t.kind, TokenKind::Invalid(_)))
    {
        let d = err(
            bad.range,
            format!("unexpected character '{}'", bad.range.slice(text)),
        );
        return Parsed {
            ast: ConditionAst {
                expr: None,
                aggregation: None,
                near: None,
            },
            diagnostics: vec![d],
        };
    }
    match p.parse_condition() {
        Ok(ast) => Parsed {
            ast,
            diagnostics: Vec::new(),
        },
        Err(d) => Parsed {
            ast: ConditionAst {
                expr: None,
                aggregation: None,
                near: None,
            },
            diagnostics: vec![d],
        },
    }
}

/// Whether a search identifier matches an `x of` pattern (`*` matches any run of characters).
#[must_use]
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative glob match with backtracking on the last `*`.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && (p[pi] == n[ni] || p[pi] == '?') {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Prints a condition back (for tests and diagnostics): fully parenthesized.
#[must_use]
pub fn print(node: &CondNode) -> String {
    match &node.kind {
        CondKind::And(v) => format!(
            "({})",
            v.iter().map(print).collect::<Vec<_>>().join(" and ")
        ),
        CondKind::Or(v) => format!("({})", v.iter().map(print).collect::<Vec<_>>().join(" or ")),
        CondKind::Not(b) => format!("not {}", print(b)),
        CondKind::Ident(s) => s.clone(),
        CondKind::Of(q, t) => {
            let q = match q {
                Quantifier::Any => "1".to_string(),
                Quantifier::All => "all".to_string(),
                Quantifier::Count(n) => n.to_string(),
            };
            let t = match t {
                OfTarget::Them => "them",
                OfTarget::Pattern(p) => p,
            };
            format!("{q} of {t}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        let parsed = parse_condition(s);
        assert!(
            parsed.diagnostics.is_empty(),
            "{s}: {:?}",
            parsed.diagnostics
        );
        parsed.ast.expr.as_ref().map(print).unwrap_or_default()
    }

    #[test]
    fn precedence_not_and_or() {
        assert_eq!(p("a or b and not c"), "(a or (b and not c))");
        assert_eq!(p("(a or b) and c"), "((a or b) and c)");
        assert_eq!(p("not a and b"), "(not a and b)");
        assert_eq!(p("a AND NOT b OR c"), "((a and not b) or c)");
    }

    #[test]
    fn quantifiers() {
        assert_eq!(
            p("1 of selection_* and not all of filter*"),
            "(1 of selection_* and not all of filter*)"
        );
        assert_eq!(p("any of them"), "1 of them");
        assert_eq!(p("all of them"), "all of them");
        assert_eq!(p("2 of sel*"), "2 of sel*");
    }

    #[test]
    fn ranges_point_at_tokens() {
        let parsed = parse_condition("sel and (x");
        assert_eq!(parsed.diagnostics[0].range, Some(TextRange::new(8, 9)));
        let parsed = parse_condition("sel and (x or");
        assert_eq!(parsed.diagnostics[0].range, Some(TextRange::new(13, 13)));
        let parsed = parse_condition("sel and )");
        assert_eq!(parsed.diagnostics[0].range, Some(TextRange::new(8, 9)));
        let parsed = parse_condition("sel # x");
        assert_eq!(parsed.diagnostics[0].range, Some(TextRange::new(4, 5)));
    }

    #[test]
    fn aggregation() {
        let parsed = parse_condition("selection | count(User) by Host > 10");
        let agg = parsed.ast.aggregation.expect("aggregation");
        assert_eq!(agg.function, "count");
        assert_eq!(agg.field.as_deref(), Some("User"));
        assert_eq!(agg.group_by.as_deref(), Some("Host"));
        assert_eq!(agg.op, Op::Gt);
        assert_eq!(agg.value, Value::Int(10));
    }

    #[test]
    fn deep_nesting_is_a_diagnostic() {
        let deep = format!("{}sel{}", "(".repeat(200_000), ")".repeat(200_000));
        let parsed = parse_condition(&deep);
        assert_eq!(parsed.diagnostics[0].code, "limit-depth");
        let nots = format!("{}sel", "not ".repeat(100_000));
        assert_eq!(parse_condition(&nots).diagnostics[0].code, "limit-depth");
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("selection_*", "selection_img"));
        assert!(pattern_matches("sel*", "sel"));
        assert!(pattern_matches("*_main*", "filter_main_x"));
        assert!(!pattern_matches("filter_*", "selection"));
        assert!(pattern_matches("exact", "exact"));
    }
}
