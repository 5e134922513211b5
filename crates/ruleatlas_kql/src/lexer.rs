//! KQL tokens.
//!
//! Kibana's grammar (`kuery.peg`) is scannerless; here a small lexer splits the text into
//! words, quoted strings and punctuation, and the parser glues adjacent words back into one
//! literal (Kibana's unquoted literals may contain spaces: `message: hello world`).

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_text::TextRange;

/// A range operator of `field >= value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// The kind of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    LParen,
    RParen,
    LBrace,
    RBrace,
    Colon,
    Range(RangeOp),
    Or,
    And,
    Not,
    /// A quoted string, decoded (`\"`, `\\`, `\t`, `\uXXXX`).
    Quoted(String),
    /// An unquoted word (no whitespace), decoded.
    Word(Word),
}

/// An unquoted word: its decoded text and, where it holds an unescaped `*`, its wildcard form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    /// Decoded text; unescaped and escaped `*` both appear as `*`.
    pub text: String,
    /// Wildcard pattern (see [`ruleatlas_model::wildcard::encode_pattern`]): unescaped `*`
    /// is the wildcard; literal `*`, `?` (KQL has no `?` wildcard) and backslashes before
    /// them are escaped.
    pub pattern: String,
    /// Whether the word holds an unescaped `*`.
    pub wildcard: bool,
}

/// A token with its byte range and whether whitespace came right before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: TextRange,
    pub space_before: bool,
}

const SPECIAL: &[char] = &['\\', '(', ')', ':', '<', '>', '"', '*', '{', '}'];

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `text` into tokens; problems become diagnostics (the lexer always finishes).
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

    fn peek_at(&self, off: usize) -> Option<char> {
        self.text
            .get(self.pos + off..)
            .and_then(|s| s.chars().next())
    }

    fn push(&mut self, kind: TokenKind, start: usize, space_before: bool) {
        self.tokens.push(Token {
            kind,
            span: TextRange::new(start, self.pos),
            space_before,
        });
    }

    fn run(&mut self) {
        let mut space = false;
        while let Some(c) = self.peek() {
            let start = self.pos;
            if is_space(c) {
                self.pos += c.len_utf8();
                space = true;
                continue;
            }
            match c {
                '(' | ')' | '{' | '}' | ':' => {
                    self.pos += 1;
                    let kind = match c {
                        '(' => TokenKind::LParen,
                        ')' => TokenKind::RParen,
                        '{' => TokenKind::LBrace,
                        '}' => TokenKind::RBrace,
                        _ => TokenKind::Colon,
                    };
                    self.push(kind, start, space);
                }
                '<' | '>' => {
                    self.pos += 1;
                    let eq = self.peek() == Some('=');
                    if eq {
                        self.pos += 1;
                    }
                    let op = match (c, eq) {
                        ('<', false) => RangeOp::Lt,
                        ('<', true) => RangeOp::Le,
                        ('>', false) => RangeOp::Gt,
                        _ => RangeOp::Ge,
                    };
                    self.push(TokenKind::Range(op), start, space);
                }
                '"' => self.quoted(start, space),
                _ => self.word(start, space),
            }
            space = false;
        }
    }

    /// `\uXXXX` after the backslash and `u`; returns the char and the bytes consumed.
    fn unicode_escape(&self) -> Option<(char, usize)> {
        let hex = self.text.get(self.pos + 2..self.pos + 6)?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let code = u32::from_str_radix(hex, 16).ok()?;
        Some((char::from_u32(code)?, 6))
    }

    fn quoted(&mut self, start: usize, space: bool) {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.diags.push(
                    Diagnostic::error("kql-syntax", "unterminated quoted string")
                        .with_range(TextRange::new(start, self.pos)),
                );
                break;
            };
            if c == '"' {
                self.pos += 1;
                break;
            }
            if c == '\\' {
                match self.peek_at(1) {
                    Some(e @ ('"' | '\\')) => {
                        out.push(e);
                        self.pos += 2;
                        continue;
                    }
                    Some('t') => {
                        out.push('\t');
                        self.pos += 2;
                        continue;
                    }
                    Some('r') => {
                        out.push('\r');
                        self.pos += 2;
                        continue;
                    }
                    Some('n') => {
                        out.push('\n');
                        self.pos += 2;
                        continue;
                    }
                    Some('u') => {
                        if let Some((ch, n)) = self.unicode_escape() {
                            out.push(ch);
                            self.pos += n;
                            continue;
                        }
                    }
                    _ => {}
                }
            }
            // Any other character, a lone backslash included, stands for itself.
            out.push(c);
            self.pos += c.len_utf8();
        }
        self.push(TokenKind::Quoted(out), start, space);
    }

    fn word(&mut self, start: usize, space: bool) {
        let mut w = Word::default();
        let mut pieces: Vec<(char, bool)> = Vec::new();
        let mut escaped_any = false;
        while let Some(c) = self.peek() {
            if is_space(c) || (SPECIAL.contains(&c) && c != '*' && c != '\\') {
                break;
            }
            if c == '*' {
                w.text.push('*');
                pieces.push(('*', true));
                w.wildcard = true;
                self.pos += 1;
                continue;
            }
            if c == '\\' {
                escaped_any = true;
                match self.peek_at(1) {
                    Some('t') => self.lit(&mut w, &mut pieces, '\t', 2),
                    Some('r') => self.lit(&mut w, &mut pieces, '\r', 2),
                    Some('n') => self.lit(&mut w, &mut pieces, '\n', 2),
                    Some('u') if self.unicode_escape().is_some() => {
                        if let Some((ch, n)) = self.unicode_escape() {
                            self.lit(&mut w, &mut pieces, ch, n);
                        }
                    }
                    Some(e) if SPECIAL.contains(&e) => self.lit(&mut w, &mut pieces, e, 2),
                    Some(e) if e.is_alphabetic() => {
                        // `\or`, `\and`, `\not`: an escaped keyword is plain text.
                        let rest = &self.text[self.pos + 1..];
                        let kw = ["or", "and", "not"].into_iter().find(|k| {
                            rest.get(..k.len())
                                .is_some_and(|p| p.eq_ignore_ascii_case(k))
                        });
                        if let Some(k) = kw {
                            for ch in rest[..k.len()].chars() {
                                w.text.push(ch);
                                pieces.push((ch, false));
                            }
                            self.pos += 1 + k.len();
                        } else {
                            self.bad_escape(&mut w, &mut pieces);
                        }
                    }
                    _ => self.bad_escape(&mut w, &mut pieces),
                }
                continue;
            }
            self.lit(&mut w, &mut pieces, c, c.len_utf8());
        }
        w.pattern = ruleatlas_model::wildcard::encode_pattern(&pieces);
        let kind = if escaped_any {
            TokenKind::Word(w)
        } else if w.text.eq_ignore_ascii_case("or") {
            TokenKind::Or
        } else if w.text.eq_ignore_ascii_case("and") {
            TokenKind::And
        } else if w.text.eq_ignore_ascii_case("not") {
            TokenKind::Not
        } else {
            TokenKind::Word(w)
        };
        self.push(kind, start, space);
    }

    /// A backslash that escapes nothing KQL knows: Kibana rejects it; we keep it as text.
    fn bad_escape(&mut self, w: &mut Word, pieces: &mut Vec<(char, bool)>) {
        self.diags.push(
            Diagnostic::warning(
                "kql-escape",
                "backslash does not escape a special character; kept as text",
            )
            .with_range(TextRange::new(self.pos, self.pos + 1)),
        );
        self.lit(w, pieces, '\\', 1);
    }

    /// Appends a literal character (never a wildcard) and advances `len` bytes.
    fn lit(&mut self, w: &mut Word, pieces: &mut Vec<(char, bool)>, c: char, len: usize) {
        w.text.push(c);
        pieces.push((c, false));
        self.pos += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(t: &str) -> Vec<TokenKind> {
        tokenize(t).0.into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn words_keywords_and_punctuation() {
        let k = kinds("a:(b OR c) and not d >= 1");
        assert!(matches!(k[1], TokenKind::Colon));
        assert!(matches!(k[4], TokenKind::Or));
        assert!(matches!(k[7], TokenKind::And));
        assert!(matches!(k[8], TokenKind::Not));
        assert!(matches!(k[10], TokenKind::Range(RangeOp::Ge)));
    }

    #[test]
    fn escapes_in_words() {
        let k = kinds(r"C\:\\Windows\\*.exe \or");
        let TokenKind::Word(w) = &k[0] else {
            panic!("word")
        };
        assert_eq!(w.text, r"C:\Windows\*.exe");
        assert_eq!(w.pattern, r"C:\Windows\\*.exe");
        assert!(w.wildcard);
        let TokenKind::Word(w) = &k[1] else {
            panic!("escaped keyword is a word")
        };
        assert_eq!(w.text, "or");
    }

    #[test]
    fn escaped_star_is_literal() {
        let k = kinds(r"a\*b*");
        let TokenKind::Word(w) = &k[0] else {
            panic!("word")
        };
        assert_eq!(w.pattern, r"a\*b*");
    }

    #[test]
    fn quoted_strings_decode() {
        let k = kinds(r#""say \"hi\" C:\\x \d""#);
        assert_eq!(k[0], TokenKind::Quoted(r#"say "hi" C:\x \d"#.to_string()));
    }
}
