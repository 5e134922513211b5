//! The SPL lexer. SPL has no single token grammar: each command reads its arguments its own
//! way, so the lexer runs in a [`Mode`] chosen by the parser for each command body.
//!
//! - [`Mode::Search`]: search terms. Almost everything is a word (`*\\Windows\\*`,
//!   `XmlWinEventLog:Security`, `10.0.0.0/8`); only whitespace, quotes, parentheses,
//!   comparison operators, commas, brackets and backticks break words.
//! - [`Mode::Expr`]: `eval`/`where` expressions: arithmetic operators and `.` concatenation
//!   are operators; `'single quoted'` names are fields.
//! - [`Mode::Args`]: command arguments (`rename a as b`, `rex field=x "..."`).
//!
//! In every mode `[ ... ]` is one [`Tok::Sub`] token (a subsearch, parsed recursively) and a
//! backtick pair that survived macro expansion is one [`Tok::Macro`] token.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_text::TextRange;

/// How a command body is tokenized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Search,
    Expr,
    Args,
}

/// A token kind; words and strings carry their text through the token's span.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare word (its text is the span's slice).
    Word,
    /// A double-quoted string, decoded.
    Str(String),
    /// A single-quoted field name (expression mode), decoded.
    QField(String),
    LParen,
    RParen,
    Comma,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=` or `<>`
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Dot,
    /// `[ ... ]`: the range inside the brackets.
    Sub(TextRange),
    /// `` `call` `` left by macro expansion.
    Macro,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: TextRange,
}

impl Token {
    /// The token's source text.
    #[must_use]
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        self.span.slice(src)
    }

    /// Whether this is the bare word `kw` (ASCII case-insensitive).
    #[must_use]
    pub fn is_word(&self, src: &str, kw: &str) -> bool {
        self.tok == Tok::Word && self.text(src).eq_ignore_ascii_case(kw)
    }

    /// Whether this is the bare word `kw` exactly (SPL's capitalized `AND`/`OR`/`NOT`).
    #[must_use]
    pub fn is_exact(&self, src: &str, kw: &str) -> bool {
        self.tok == Tok::Word && self.text(src) == kw
    }
}

/// Finds the `]` matching the `[` at `open`, skipping quoted strings and backtick calls.
#[must_use]
pub fn matching_bracket(text: &str, open: usize, end: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < end {
        match b[i] {
            b'\\' => i += 1,
            b'"' => i = skip_string(b, i, end).unwrap_or(end),
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the closing quote of the string opening at `i`, if any.
fn skip_string(b: &[u8], i: usize, end: usize) -> Option<usize> {
    let mut k = i + 1;
    while k < end {
        match b[k] {
            b'\\' => k += 2,
            b'"' => return Some(k),
            _ => k += 1,
        }
    }
    None
}

fn is_break(c: u8, mode: Mode, next: Option<u8>) -> bool {
    match c {
        b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'(' | b')' | b'=' | b',' | b'[' | b']' | b'`'
        | b'<' | b'>' => true,
        b'!' => next == Some(b'='),
        b'+' | b'-' | b'*' | b'/' | b'%' | b'\'' => mode == Mode::Expr,
        _ => false,
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'{' | b'}' | b'@' | b'$' | b'*')
}

/// Tokenizes `text[start..end]` in `mode`. Errors (unterminated strings, unbalanced
/// brackets) are diagnostics with ranges in `text`; tokenizing goes on after them.
#[must_use]
pub fn lex(text: &str, start: usize, end: usize, mode: Mode) -> (Vec<Token>, Vec<Diagnostic>) {
    let b = text.as_bytes();
    let mut toks = Vec::new();
    let mut diags = Vec::new();
    let mut i = start;
    let end = end.min(b.len());
    while i < end {
        let c = b[i];
        let next = b.get(i + 1).copied().filter(|_| i + 1 < end);
        let one = |tok: Tok, len: usize| Token {
            tok,
            span: TextRange::new(i, i + len),
        };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
            }
            b'"' => {
                let close = skip_string(b, i, end);
                if close.is_none() {
                    diags.push(
                        Diagnostic::error("spl-syntax", "unterminated string: missing closing \"")
                            .with_range(TextRange::new(i, i + 1)),
                    );
                }
                let stop = close.unwrap_or(end);
                let raw = text.get(i + 1..stop).unwrap_or("");
                toks.push(Token {
                    tok: Tok::Str(unescape(raw)),
                    span: TextRange::new(i, (stop + 1).min(end)),
                });
                i = stop + 1;
            }
            b'\'' if mode == Mode::Expr => {
                let close = text[i + 1..end].find('\'').map(|k| i + 1 + k);
                if close.is_none() {
                    diags.push(
                        Diagnostic::error(
                            "spl-syntax",
                            "unterminated field name: missing closing '",
                        )
                        .with_range(TextRange::new(i, i + 1)),
                    );
                }
                let stop = close.unwrap_or(end);
                toks.push(Token {
                    tok: Tok::QField(text[i + 1..stop].to_string()),
                    span: TextRange::new(i, (stop + 1).min(end)),
                });
                i = stop + 1;
            }
            b'`' => {
                let close = text[i + 1..end].find('`').map_or(end, |k| i + 1 + k + 1);
                toks.push(Token {
                    tok: Tok::Macro,
                    span: TextRange::new(i, close),
                });
                i = close;
            }
            b'[' => {
                if let Some(close) = matching_bracket(text, i, end) {
                    toks.push(Token {
                        tok: Tok::Sub(TextRange::new(i + 1, close)),
                        span: TextRange::new(i, close + 1),
                    });
                    i = close + 1;
                } else {
                    diags.push(
                        Diagnostic::error("spl-syntax", "unbalanced bracket: `[` is never closed")
                            .with_range(TextRange::new(i, i + 1)),
                    );
                    toks.push(Token {
                        tok: Tok::Sub(TextRange::new(i + 1, end)),
                        span: TextRange::new(i, end),
                    });
                    i = end;
                }
            }
            b']' => {
                diags.push(
                    Diagnostic::error("spl-syntax", "unbalanced bracket: `]` without `[`")
                        .with_range(TextRange::new(i, i + 1)),
                );
                i += 1;
            }
            b'(' => {
                toks.push(one(Tok::LParen, 1));
                i += 1;
            }
            b')' => {
                toks.push(one(Tok::RParen, 1));
                i += 1;
            }
            b',' => {
                toks.push(one(Tok::Comma, 1));
                i += 1;
            }
            b'=' if next == Some(b'=') => {
                toks.push(one(Tok::EqEq, 2));
                i += 2;
            }
            b'=' => {
                toks.push(one(Tok::Eq, 1));
                i += 1;
            }
            b'!' if next == Some(b'=') => {
                toks.push(one(Tok::Ne, 2));
                i += 2;
            }
            b'<' if next == Some(b'=') => {
                toks.push(one(Tok::Le, 2));
                i += 2;
            }
            b'<' if next == Some(b'>') && mode == Mode::Expr => {
                toks.push(one(Tok::Ne, 2));
                i += 2;
            }
            b'<' => {
                toks.push(one(Tok::Lt, 1));
                i += 1;
            }
            b'>' if next == Some(b'=') => {
                toks.push(one(Tok::Ge, 2));
                i += 2;
            }
            b'>' => {
                toks.push(one(Tok::Gt, 1));
                i += 1;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' if mode == Mode::Expr => {
                let tok = match c {
                    b'+' => Tok::Plus,
                    b'-' => Tok::Minus,
                    b'*' => Tok::Star,
                    b'/' => Tok::Slash,
                    _ => Tok::Percent,
                };
                toks.push(one(tok, 1));
                i += 1;
            }
            b'.' if mode == Mode::Expr && !next.is_some_and(|c| c.is_ascii_digit()) => {
                toks.push(one(Tok::Dot, 1));
                i += 1;
            }
            _ => {
                let s = i;
                while i < end {
                    let n = b.get(i + 1).copied().filter(|_| i + 1 < end);
                    if b[i] == b'\\' && mode != Mode::Expr && n.is_some() {
                        // An escaped character is part of the word (`*\"privileged\":true*`).
                        i += 2;
                        continue;
                    }
                    if is_break(b[i], mode, n)
                        || (mode == Mode::Expr && b[i] == b'.' && !n.is_some_and(is_ident))
                    {
                        break;
                    }
                    i += 1;
                }
                if i == s {
                    // A lone break character with no rule above (cannot happen; be safe).
                    i += 1;
                    continue;
                }
                // In expressions a lone `.` between spaces is concatenation.
                if mode == Mode::Expr && &text[s..i] == "." {
                    toks.push(Token {
                        tok: Tok::Dot,
                        span: TextRange::new(s, i),
                    });
                } else {
                    toks.push(Token {
                        tok: Tok::Word,
                        span: TextRange::new(s, i),
                    });
                }
            }
        }
    }
    (toks, diags)
}

/// Decodes a double-quoted string body: `\"` and `\\` lose their backslash; any other
/// backslash is kept, as Splunk does (regexes and Windows paths stay as written).
#[must_use]
pub fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('"') => {
                    out.push('"');
                    chars.next();
                }
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, mode: Mode) -> Vec<String> {
        let (t, _) = lex(text, 0, text.len(), mode);
        t.iter()
            .map(|t| match &t.tok {
                Tok::Word => format!("W({})", t.text(text)),
                Tok::Str(s) => format!("S({s})"),
                Tok::QField(s) => format!("Q({s})"),
                Tok::Sub(r) => format!("Sub({})", r.slice(text)),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn search_words_keep_paths_and_wildcards() {
        assert_eq!(
            kinds(
                r#"process_path=*\Windows\* dest_port!=443 "a b"=x [search y]"#,
                Mode::Search
            ),
            vec![
                "W(process_path)",
                "Eq",
                r"W(*\Windows\*)",
                "W(dest_port)",
                "Ne",
                "W(443)",
                "S(a b)",
                "Eq",
                "W(x)",
                "Sub(search y)"
            ]
        );
    }

    #[test]
    fn expr_operators() {
        assert_eq!(
            kinds("a.b-1 == 'x y' . \"s\\\"\"", Mode::Expr),
            vec!["W(a.b)", "Minus", "W(1)", "EqEq", "Q(x y)", "Dot", "S(s\")"]
        );
    }

    #[test]
    fn concatenation_without_spaces_and_escaped_quotes() {
        assert_eq!(
            kinds("a.\", \".b", Mode::Expr),
            vec!["W(a)", "Dot", "S(, )", "Dot", "W(b)"]
        );
        assert_eq!(
            kinds(r#"x=*\"p\":true*"#, Mode::Search),
            vec!["W(x)", "Eq", r#"W(*\"p\":true*)"#]
        );
    }

    #[test]
    fn unterminated_things_are_diagnostics() {
        let (_, d) = lex("a=\"open [b", 0, 10, Mode::Search);
        assert_eq!(d.len(), 1);
        let (_, d) = lex("a [b c", 0, 6, Mode::Search);
        assert_eq!(d.len(), 1);
    }
}
