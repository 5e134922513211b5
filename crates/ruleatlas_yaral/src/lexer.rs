//! The YARA-L 2.0 tokenizer.
//!
//! Hand-written, one pass, byte offsets into the file text. Newlines are not tokens, but
//! every token records whether a line break precedes it: YARA-L separates statements by
//! nothing but layout, and the parser's error recovery resynchronises on line starts.
//!
//! `/` is ambiguous (division in outcome arithmetic, a regex literal elsewhere); the lexer
//! decides from the previous token, as JavaScript lexers do: after an operand it divides,
//! after an operator, `(`, `,` or a keyword it opens a regex.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_text::TextRange;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// `rule`, `and`, `re`, `metadata`... (keywords are identifiers; the parser decides).
    Ident(String),
    /// `$e`, `$user` (without the `$`).
    Var(String),
    /// `#e` (without the `#`).
    Count(String),
    /// `%list` (without the `%`).
    RefList(String),
    /// A double-quoted string, escapes decoded.
    Str(String),
    /// A back-quoted raw string.
    Raw(String),
    /// `/pattern/flags`: the pattern with `\/` unescaped, and trailing flag letters.
    Regex {
        pattern: String,
        flags: String,
    },
    Int(i64),
    Float(f64),
    /// `5m`, `1h`, `30s`, `1d` (text as written).
    Duration(String),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Bang,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Dot,
    Plus,
    Minus,
    Star,
    Slash,
    /// Something the lexer could not read (reported as a diagnostic).
    Error,
}

/// A token with its byte range and layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: TextRange,
    /// A line break (or the start of the text) comes before this token.
    pub line_start: bool,
}

impl Token {
    /// The identifier text, if this is an identifier.
    #[must_use]
    pub fn ident(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Ident(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is the identifier `word` (ASCII case-insensitive).
    #[must_use]
    pub fn is_word(&self, word: &str) -> bool {
        self.ident().is_some_and(|s| s.eq_ignore_ascii_case(word))
    }
}

/// Tokens and lexical errors of a text.
#[derive(Debug, Clone, Default)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Words after which `/` opens a regex rather than dividing.
const REGEX_AFTER_WORDS: &[&str] = &[
    "and", "or", "not", "in", "regex", "any", "all", "if", "return",
];

/// Splits `text` into tokens. Never fails: unreadable input becomes `Error` tokens plus
/// diagnostics.
#[must_use]
pub fn lex(text: &str) -> Lexed {
    let mut lx = Lexer {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        out: Lexed::default(),
        newline: true,
    };
    lx.run();
    lx.out
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Lexed,
    newline: bool,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn peek(&self, off: usize) -> Option<u8> {
        self.bytes.get(self.pos + off).copied()
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let line_start = std::mem::replace(&mut self.newline, false);
        self.out.tokens.push(Token {
            kind,
            span: TextRange::new(start, self.pos),
            line_start,
        });
    }

    fn error(&mut self, start: usize, message: impl Into<String>) {
        self.out.diagnostics.push(
            Diagnostic::error("yaral-syntax", message)
                .with_range(TextRange::new(start, self.pos.max(start + 1))),
        );
        self.push(TokenKind::Error, start);
    }

    /// Whether a `/` here starts a regex (previous token is not an operand).
    fn regex_allowed(&self) -> bool {
        match self.out.tokens.last().map(|t| &t.kind) {
            None => true,
            Some(TokenKind::Ident(w)) => {
                REGEX_AFTER_WORDS.iter().any(|k| w.eq_ignore_ascii_case(k))
            }
            Some(
                TokenKind::Var(_)
                | TokenKind::Count(_)
                | TokenKind::RefList(_)
                | TokenKind::Str(_)
                | TokenKind::Raw(_)
                | TokenKind::Regex { .. }
                | TokenKind::Int(_)
                | TokenKind::Float(_)
                | TokenKind::Duration(_)
                | TokenKind::RParen
                | TokenKind::RBracket,
            ) => false,
            Some(_) => true,
        }
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            let start = self.pos;
            match b {
                b'\n' => {
                    self.newline = true;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | 0x0c | 0x0b => self.pos += 1,
                // A byte-order mark (U+FEFF, three bytes) is layout, not text.
                0xef if self.text[self.pos..].starts_with('\u{feff}') => self.pos += 3,
                b'/' if self.peek(1) == Some(b'/') => {
                    while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'/' if self.peek(1) == Some(b'*') => self.block_comment(),
                b'/' if self.regex_allowed() => self.regex(),
                b'"' => self.string(),
                b'`' => self.raw_string(),
                b'$' | b'#' | b'%' => {
                    self.pos += 1;
                    let name_start = self.pos;
                    while self.pos < self.bytes.len() && is_ident_char(self.bytes[self.pos]) {
                        self.pos += 1;
                    }
                    let name = self.text[name_start..self.pos].to_string();
                    if name.is_empty() {
                        self.error(start, format!("`{}` must be followed by a name", b as char));
                    } else {
                        let kind = match b {
                            b'$' => TokenKind::Var(name),
                            b'#' => TokenKind::Count(name),
                            _ => TokenKind::RefList(name),
                        };
                        self.push(kind, start);
                    }
                }
                b'0'..=b'9' => self.number(),
                _ if is_ident_start(b) => {
                    while self.pos < self.bytes.len() && is_ident_char(self.bytes[self.pos]) {
                        self.pos += 1;
                    }
                    self.push(
                        TokenKind::Ident(self.text[start..self.pos].to_string()),
                        start,
                    );
                }
                _ => self.punct(start, b),
            }
        }
    }

    fn punct(&mut self, start: usize, b: u8) {
        let two = self.peek(1);
        let (kind, len) = match (b, two) {
            (b'!', Some(b'=')) => (TokenKind::Ne, 2),
            (b'>', Some(b'=')) => (TokenKind::Ge, 2),
            (b'<', Some(b'=')) => (TokenKind::Le, 2),
            (b'=', Some(b'=')) => (TokenKind::Eq, 2),
            (b'<', Some(b'>')) => (TokenKind::Ne, 2),
            (b'=', _) => (TokenKind::Eq, 1),
            (b'!', _) => (TokenKind::Bang, 1),
            (b'>', _) => (TokenKind::Gt, 1),
            (b'<', _) => (TokenKind::Lt, 1),
            (b'(', _) => (TokenKind::LParen, 1),
            (b')', _) => (TokenKind::RParen, 1),
            (b'[', _) => (TokenKind::LBracket, 1),
            (b']', _) => (TokenKind::RBracket, 1),
            (b'{', _) => (TokenKind::LBrace, 1),
            (b'}', _) => (TokenKind::RBrace, 1),
            (b',', _) => (TokenKind::Comma, 1),
            (b':', _) => (TokenKind::Colon, 1),
            (b'.', _) => (TokenKind::Dot, 1),
            (b'+', _) => (TokenKind::Plus, 1),
            (b'-', _) => (TokenKind::Minus, 1),
            (b'*', _) => (TokenKind::Star, 1),
            (b'/', _) => (TokenKind::Slash, 1),
            _ => {
                // Skip one whole character (it may be multi-byte).
                let ch_len = self.text[start..].chars().next().map_or(1, char::len_utf8);
                self.pos += ch_len;
                let ch = &self.text[start..self.pos];
                self.error(start, format!("unexpected character `{ch}`"));
                return;
            }
        };
        self.pos += len;
        self.push(kind, start);
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(b'*'), Some(b'/')) => {
                    self.pos += 2;
                    return;
                }
                (Some(b), _) => {
                    if b == b'\n' {
                        self.newline = true;
                    }
                    self.pos += 1;
                }
                (None, _) => {
                    self.out.diagnostics.push(
                        Diagnostic::error("yaral-syntax", "unclosed block comment `/*`")
                            .with_range(TextRange::new(start, start + 2)),
                    );
                    return;
                }
            }
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(b) = self.peek(0) else {
                self.error(start, "unclosed string literal");
                return;
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    self.push(TokenKind::Str(value), start);
                    return;
                }
                b'\n' => {
                    self.error(start, "unclosed string literal (line ends inside it)");
                    return;
                }
                b'\\' => {
                    let next = self.text[self.pos + 1..].chars().next();
                    match next {
                        Some('"') => value.push('"'),
                        Some('\\') => value.push('\\'),
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some('r') => value.push('\r'),
                        Some('\n') | None => {
                            self.pos += 1;
                            continue;
                        }
                        // Unknown escapes stay as written (`"\d+"` handed to re.regex).
                        Some(c) => {
                            value.push('\\');
                            value.push(c);
                        }
                    }
                    self.pos += 1 + next.map_or(0, char::len_utf8);
                }
                _ => {
                    let ch = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    value.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
    }

    fn raw_string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let body_start = self.pos;
        while let Some(b) = self.peek(0) {
            if b == b'`' {
                let value = self.text[body_start..self.pos].to_string();
                self.pos += 1;
                if value.contains('\n') {
                    // A raw string may span lines; keep layout information right.
                    let line_start = std::mem::replace(&mut self.newline, false);
                    self.out.tokens.push(Token {
                        kind: TokenKind::Raw(value),
                        span: TextRange::new(start, self.pos),
                        line_start,
                    });
                } else {
                    self.push(TokenKind::Raw(value), start);
                }
                return;
            }
            self.pos += 1;
        }
        self.pos = start + 1;
        self.error(start, "unclosed back-quoted string");
        // Resume after the line so the rest of the file still lexes.
        while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn regex(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let mut pattern = String::new();
        let mut in_class = false;
        loop {
            let Some(b) = self.peek(0) else {
                self.error(start, "unclosed regular expression `/`");
                return;
            };
            match b {
                b'\n' => {
                    self.error(
                        start,
                        "unclosed regular expression `/` (line ends inside it)",
                    );
                    return;
                }
                b'\\' => {
                    match self.text[self.pos + 1..].chars().next() {
                        Some('/') => pattern.push('/'),
                        Some('\n') | None => pattern.push('\\'),
                        Some(c) => {
                            pattern.push('\\');
                            pattern.push(c);
                        }
                    }
                    let next_len = self.text[self.pos + 1..]
                        .chars()
                        .next()
                        .filter(|c| *c != '\n')
                        .map_or(0, char::len_utf8);
                    self.pos += 1 + next_len;
                }
                b'[' => {
                    in_class = true;
                    pattern.push('[');
                    self.pos += 1;
                }
                b']' => {
                    in_class = false;
                    pattern.push(']');
                    self.pos += 1;
                }
                b'/' if !in_class => {
                    self.pos += 1;
                    let flag_start = self.pos;
                    while self
                        .peek(0)
                        .is_some_and(|c| matches!(c, b'i' | b's' | b'm'))
                    {
                        self.pos += 1;
                    }
                    // Flags only when the letters end there (`/x/is`), not `/x/important`.
                    if self.peek(0).is_some_and(is_ident_char) {
                        self.pos = flag_start;
                    }
                    let flags = self.text[flag_start..self.pos].to_string();
                    self.push(TokenKind::Regex { pattern, flags }, start);
                    return;
                }
                _ => {
                    let ch = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    pattern.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut is_float = false;
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            is_float = true;
            self.pos += 1;
            while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        // A duration: digits followed directly by a unit letter and nothing else.
        if !is_float
            && let Some(u) = self.peek(0)
            && matches!(u, b's' | b'm' | b'h' | b'd')
            && !self.peek(1).is_some_and(is_ident_char)
        {
            self.pos += 1;
            self.push(
                TokenKind::Duration(self.text[start..self.pos].to_string()),
                start,
            );
            return;
        }
        if self.peek(0).is_some_and(is_ident_char) {
            while self.peek(0).is_some_and(is_ident_char) {
                self.pos += 1;
            }
            let t = self.text[start..self.pos].to_string();
            self.error(start, format!("malformed number `{t}`"));
            return;
        }
        let t = &self.text[start..self.pos];
        let kind = if is_float {
            t.parse::<f64>().map_or(TokenKind::Error, TokenKind::Float)
        } else {
            match t.parse::<i64>() {
                Ok(i) => TokenKind::Int(i),
                Err(_) => t.parse::<f64>().map_or(TokenKind::Error, TokenKind::Float),
            }
        };
        self.push(kind, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(t: &str) -> Vec<TokenKind> {
        lex(t).tokens.into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn regex_versus_division() {
        assert_eq!(
            kinds("$e.f = /a\\/b/ nocase"),
            vec![
                TokenKind::Var("e".into()),
                TokenKind::Dot,
                TokenKind::Ident("f".into()),
                TokenKind::Eq,
                TokenKind::Regex {
                    pattern: "a/b".into(),
                    flags: String::new()
                },
                TokenKind::Ident("nocase".into()),
            ]
        );
        assert_eq!(
            kinds("$x / 2"),
            vec![
                TokenKind::Var("x".into()),
                TokenKind::Slash,
                TokenKind::Int(2)
            ]
        );
    }

    #[test]
    fn strings_durations_comments() {
        assert_eq!(
            kinds("\"C:\\\\Win\\\"x\" `a\\b` 5m 10 // c\n /* d */ #e %list 1.5"),
            vec![
                TokenKind::Str("C:\\Win\"x".into()),
                TokenKind::Raw("a\\b".into()),
                TokenKind::Duration("5m".into()),
                TokenKind::Int(10),
                TokenKind::Count("e".into()),
                TokenKind::RefList("list".into()),
                TokenKind::Float(1.5),
            ]
        );
    }

    #[test]
    fn unclosed_things_are_errors() {
        for t in ["$e.f = /abc\n", "\"abc", "`abc", "/* x"] {
            let l = lex(t);
            assert!(!l.diagnostics.is_empty(), "{t}");
        }
    }

    #[test]
    fn line_starts_are_recorded() {
        let l = lex("a\n  b c");
        let ls: Vec<bool> = l.tokens.iter().map(|t| t.line_start).collect();
        assert_eq!(ls, vec![true, true, false]);
    }
}
