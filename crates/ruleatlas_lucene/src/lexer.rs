//! Lucene `query_string` tokens, after Lucene's classic `QueryParser.jj` token rules.
//!
//! A term starts with any character but whitespace and `+ - ! ( ) : ^ [ ] " { } ~ * ? \ /`
//! (`*` and `?` start wildcard terms) and continues with those plus `+`, `-`; a backslash
//! escapes any character. `AND`/`&&`, `OR`/`||`, `NOT` are operators only in upper case.
//! A range (`[a TO b]`, `{a TO *}`) and a regular expression (`/.../`) are single tokens.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_text::TextRange;

/// `>`, `>=`, `<`, `<=` after a colon (an Elasticsearch extension: `age:>10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A term's text and wildcard form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    /// Decoded text (escapes removed).
    pub text: String,
    /// Wildcard pattern (see [`ruleatlas_model::wildcard::encode_pattern`]).
    pub pattern: String,
    /// Whether the term holds an unescaped `*` or `?`.
    pub wildcard: bool,
}

/// One end of a range: `None` for `*` (unbounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub text: String,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    Plus,
    Minus,
    Bang,
    And,
    Or,
    Not,
    LParen,
    RParen,
    Colon,
    /// `^2`: a boost (ignored; it does not change which events match).
    Boost,
    /// `~` or `~2` after a term (fuzzy) or a phrase (proximity).
    Tilde(Option<String>),
    Compare(CompareOp),
    Term(Word),
    Quoted(String),
    Regex(String),
    Range {
        lower: Option<Bound>,
        upper: Option<Bound>,
        incl_lower: bool,
        incl_upper: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: TextRange,
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

fn ends_term(c: char) -> bool {
    is_space(c)
        || matches!(
            c,
            '!' | '(' | ')' | ':' | '^' | '[' | ']' | '"' | '{' | '}' | '~' | '/'
        )
}

/// Splits `text` into tokens; problems become diagnostics.
#[must_use]
pub fn tokenize(text: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lx = Lexer {
        text,
        pos: 0,
        tokens: Vec::new(),
        diags: Vec::new(),
    };
    lx.run();
    (lx.tokens, lx.diags)
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    diags: Vec<Diagnostic>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: TextRange::new(start, self.pos),
        });
    }

    fn error(&mut self, start: usize, msg: &str) {
        self.diags.push(
            Diagnostic::error("lucene-syntax", msg).with_range(TextRange::new(start, self.pos)),
        );
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if is_space(c) {
                self.pos += c.len_utf8();
                continue;
            }
            let rest = self.rest();
            if rest.starts_with("&&") || rest.starts_with("||") {
                self.pos += 2;
                let k = if c == '&' {
                    TokenKind::And
                } else {
                    TokenKind::Or
                };
                self.push(k, start);
                continue;
            }
            match c {
                '+' | '-' | '!' | '(' | ')' | ':' => {
                    self.pos += 1;
                    let k = match c {
                        '+' => TokenKind::Plus,
                        '-' => TokenKind::Minus,
                        '!' => TokenKind::Bang,
                        '(' => TokenKind::LParen,
                        ')' => TokenKind::RParen,
                        _ => TokenKind::Colon,
                    };
                    self.push(k, start);
                }
                '^' => {
                    self.pos += 1;
                    self.number();
                    self.push(TokenKind::Boost, start);
                }
                '~' => {
                    self.pos += 1;
                    let n = self.number();
                    self.push(TokenKind::Tilde(n), start);
                }
                '>' | '<' => {
                    self.pos += 1;
                    let eq = self.peek() == Some('=');
                    if eq {
                        self.pos += 1;
                    }
                    let op = match (c, eq) {
                        ('<', false) => CompareOp::Lt,
                        ('<', true) => CompareOp::Le,
                        ('>', false) => CompareOp::Gt,
                        _ => CompareOp::Ge,
                    };
                    self.push(TokenKind::Compare(op), start);
                }
                '"' => {
                    let s = self.quoted();
                    self.push(TokenKind::Quoted(s), start);
                }
                '/' => self.regex(start),
                '[' | '{' => self.range(start, c == '['),
                ']' | '}' => {
                    self.pos += 1;
                    self.error(start, &format!("unexpected '{c}'"));
                }
                _ => {
                    let w = self.word();
                    let kind = if !w.wildcard && w.text.len() == self.pos - start {
                        match w.text.as_str() {
                            "AND" => TokenKind::And,
                            "OR" => TokenKind::Or,
                            "NOT" => TokenKind::Not,
                            _ => TokenKind::Term(w),
                        }
                    } else {
                        TokenKind::Term(w)
                    };
                    self.push(kind, start);
                }
            }
        }
    }

    /// An optional number after `^` or `~`.
    fn number(&mut self) -> Option<String> {
        let len = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .count();
        if len == 0 {
            return None;
        }
        let n = self.rest()[..len].to_string();
        self.pos += len;
        Some(n)
    }

    fn word(&mut self) -> Word {
        let mut w = Word::default();
        let mut pieces: Vec<(char, bool)> = Vec::new();
        while let Some(c) = self.peek() {
            if ends_term(c) {
                break;
            }
            let rest = self.rest();
            if rest.starts_with("&&") || rest.starts_with("||") {
                break;
            }
            match c {
                '\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(e) => {
                            self.pos += e.len_utf8();
                            w.text.push(e);
                            pieces.push((e, false));
                        }
                        None => {
                            self.error(self.pos - 1, "backslash at end of query");
                        }
                    }
                }
                '*' | '?' => {
                    self.pos += 1;
                    w.text.push(c);
                    pieces.push((c, true));
                    w.wildcard = true;
                }
                _ => {
                    self.pos += c.len_utf8();
                    w.text.push(c);
                    pieces.push((c, false));
                }
            }
        }
        w.pattern = ruleatlas_model::wildcard::encode_pattern(&pieces);
        w
    }

    /// A quoted string from the opening quote; `\` escapes any character.
    fn quoted(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.error(start, "unterminated quoted string");
                return out;
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return out,
                '\\' => {
                    if let Some(e) = self.peek() {
                        self.pos += e.len_utf8();
                        out.push(e);
                    }
                }
                _ => out.push(c),
            }
        }
    }

    fn regex(&mut self, start: usize) {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.error(start, "unterminated regular expression");
                break;
            };
            self.pos += c.len_utf8();
            match c {
                '/' => break,
                '\\' => {
                    // `\/` is an escaped slash; other escapes belong to the regex syntax.
                    match self.peek() {
                        Some('/') => {
                            self.pos += 1;
                            out.push('/');
                        }
                        Some(e) => {
                            self.pos += e.len_utf8();
                            out.push('\\');
                            out.push(e);
                        }
                        None => out.push('\\'),
                    }
                }
                _ => out.push(c),
            }
        }
        self.push(TokenKind::Regex(out), start);
    }

    /// `[lower TO upper]` with `[`/`{` and `]`/`}` choosing inclusive or exclusive ends.
    fn range(&mut self, start: usize, incl_lower: bool) {
        self.pos += 1;
        let mut parts: Vec<Bound> = Vec::new();
        let mut saw_to = false;
        let incl_upper = loop {
            let Some(c) = self.peek() else {
                self.error(start, "unterminated range");
                break true;
            };
            if is_space(c) {
                self.pos += c.len_utf8();
                continue;
            }
            if c == ']' || c == '}' {
                self.pos += 1;
                break c == ']';
            }
            if c == '"' {
                let s = self.quoted();
                parts.push(Bound {
                    text: s,
                    quoted: true,
                });
                continue;
            }
            // Range "goop": anything up to whitespace or a closing bracket.
            let len = self
                .rest()
                .find(|ch: char| is_space(ch) || ch == ']' || ch == '}')
                .unwrap_or(self.rest().len());
            let goop = self.rest()[..len].to_string();
            self.pos += len;
            if goop == "TO" && parts.len() == 1 && !saw_to {
                saw_to = true;
            } else {
                parts.push(Bound {
                    text: goop,
                    quoted: false,
                });
            }
        };
        if parts.len() != 2 || !saw_to {
            self.error(start, "a range needs `[lower TO upper]`");
        }
        let mut it = parts.into_iter();
        let star = |b: Option<Bound>| b.filter(|b| b.quoted || b.text != "*");
        let lower = star(it.next());
        let upper = star(it.next());
        self.push(
            TokenKind::Range {
                lower,
                upper,
                incl_lower,
                incl_upper,
            },
            start,
        );
    }
}
