//! The Kusto lexer: source text -> tokens with byte spans.
//!
//! Strings are decoded here (escapes, verbatim `@"..."`, obfuscated `h'...'`, multi-line
//! ```` ``` ```` blocks) so the parser sees values, not quoting. Negated word operators
//! (`!has`, `!in~`, `!startswith_cs`) and `in~` are single tokens; hyphenated operator names
//! (`project-away`) are joined by the parser, which knows where an operator name can stand.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_text::TextRange;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    /// A name or keyword, possibly a negated word operator (`!has`) or `in~`.
    Ident,
    /// A string literal; its decoded value is in [`Token::value`].
    Str,
    Int,
    Real,
    /// A timespan literal such as `1d`, `30m`, `100ms`.
    Timespan,
    /// Punctuation or a symbolic operator; the text is the source slice.
    Punct,
    Eof,
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokKind,
    pub span: TextRange,
    /// Decoded value of a string literal.
    pub value: Option<String>,
}

impl Token {
    /// The token's source text.
    #[must_use]
    pub fn text<'s>(&self, src: &'s str) -> &'s str {
        self.span.slice(src)
    }
}

const PUNCT: [&str; 30] = [
    "==", "!=", "<>", "<=", ">=", "=~", "!~", "..", "=>", "|", "(", ")", "[", "]", "{", "}", ",",
    ";", ":", ".", "=", "<", ">", "+", "-", "*", "/", "%", "?", "!",
];

const TIMESPAN_UNITS: [&str; 28] = [
    "d",
    "day",
    "days",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "m",
    "min",
    "minute",
    "minutes",
    "s",
    "sec",
    "second",
    "seconds",
    "ms",
    "milli",
    "millis",
    "millisecond",
    "milliseconds",
    "microsecond",
    "microseconds",
    "tick",
    "ticks",
    "nanosecond",
    "nanoseconds",
    "micro",
];

/// Splits `src` into tokens (ending with one `Eof`) and lexical diagnostics.
#[must_use]
pub fn lex(src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        toks: Vec::new(),
        diags: Vec::new(),
    };
    lx.run();
    (lx.toks, lx.diags)
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    toks: Vec<Token>,
    diags: Vec<Diagnostic>,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        self.bytes.get(self.pos + k).copied()
    }

    fn cur_char(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn push(&mut self, kind: TokKind, start: usize, value: Option<String>) {
        self.toks.push(Token {
            kind,
            span: TextRange::new(start, self.pos),
            value,
        });
    }

    fn error(&mut self, start: usize, end: usize, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::error("kusto-syntax", msg).with_range(TextRange::new(start, end)));
    }

    fn run(&mut self) {
        while let Some(c) = self.cur_char() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
                continue;
            }
            if c == '/' && self.peek(1) == Some(b'/') {
                while let Some(b) = self.peek(0) {
                    if b == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
                continue;
            }
            // Obfuscated strings: h'..', H"..", h@'..'.
            if (c == 'h' || c == 'H') && matches!(self.peek(1), Some(b'\'' | b'"' | b'@')) {
                let next2 = self.peek(2);
                if self.peek(1) != Some(b'@') || matches!(next2, Some(b'\'' | b'"')) {
                    self.pos += 1;
                    self.string(start);
                    continue;
                }
            }
            if c == '@' && matches!(self.peek(1), Some(b'\'' | b'"')) {
                self.string(start);
                continue;
            }
            if c == '\'' || c == '"' {
                self.string(start);
                continue;
            }
            if (c == '`' && self.src[self.pos..].starts_with("```"))
                || self.src[self.pos..].starts_with("~~~")
            {
                self.multiline(start);
                continue;
            }
            if c.is_ascii_digit() {
                self.number(start);
                continue;
            }
            if c == '!'
                && self.src[self.pos + 1..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphabetic)
            {
                self.pos += 1;
                self.ident_tail();
                self.tilde_suffix(start);
                self.push(TokKind::Ident, start, None);
                continue;
            }
            if is_ident_start(c) {
                self.pos += c.len_utf8();
                self.ident_tail();
                self.tilde_suffix(start);
                self.push(TokKind::Ident, start, None);
                continue;
            }
            if let Some(p) = PUNCT.iter().find(|p| self.src[self.pos..].starts_with(**p)) {
                self.pos += p.len();
                self.push(TokKind::Punct, start, None);
                continue;
            }
            self.pos += c.len_utf8();
            self.error(start, self.pos, format!("unexpected character {c:?}"));
        }
        // End of input sits right after the last token, so "found end of query" points at the
        // query's last line rather than past it.
        let end = self.toks.last().map_or(0, |t| t.span.end as usize);
        self.toks.push(Token {
            kind: TokKind::Eof,
            span: TextRange::empty(end),
            value: None,
        });
    }

    fn ident_tail(&mut self) {
        while let Some(c) = self.cur_char() {
            if !is_ident_continue(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    /// `in~` and `!in~` are one token.
    fn tilde_suffix(&mut self, start: usize) {
        let word = &self.src[start..self.pos];
        if self.peek(0) == Some(b'~')
            && (word.eq_ignore_ascii_case("in") || word.eq_ignore_ascii_case("!in"))
        {
            self.pos += 1;
        }
    }

    fn number(&mut self, start: usize) {
        let mut kind = TokKind::Int;
        if self.peek(0) == Some(b'0') && matches!(self.peek(1), Some(b'x' | b'X')) {
            self.pos += 2;
            while self.peek(0).is_some_and(|b| b.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            self.push(kind, start, None);
            return;
        }
        while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            kind = TokKind::Real;
            self.pos += 1;
            while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let (a, b) = (self.peek(1), self.peek(2));
            let digits_at = if matches!(a, Some(b'+' | b'-')) { b } else { a };
            if digits_at.is_some_and(|b| b.is_ascii_digit()) {
                kind = TokKind::Real;
                self.pos += if matches!(a, Some(b'+' | b'-')) { 2 } else { 1 };
                while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
        // A unit right after the number makes a timespan (1d, 30m, 1.5h, 100ms).
        let unit_start = self.pos;
        let mut end = unit_start;
        while self.bytes.get(end).is_some_and(u8::is_ascii_alphabetic) {
            end += 1;
        }
        if end > unit_start {
            let unit = &self.src[unit_start..end];
            let follows_ident = self
                .bytes
                .get(end)
                .is_some_and(|b| b.is_ascii_digit() || *b == b'_');
            if !follows_ident && TIMESPAN_UNITS.iter().any(|u| u.eq_ignore_ascii_case(unit)) {
                self.pos = end;
                self.push(TokKind::Timespan, start, None);
                return;
            }
        }
        self.push(kind, start, None);
    }

    /// A quoted string starting at `self.pos` (optionally after `@`); `start` includes any prefix.
    fn string(&mut self, start: usize) {
        let verbatim = self.peek(0) == Some(b'@');
        if verbatim {
            self.pos += 1;
        }
        let Some(quote) = self.peek(0) else { return };
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(c) = self.cur_char() else {
                self.error(start, self.pos, "unterminated string literal");
                self.push(TokKind::Str, start, Some(value));
                return;
            };
            if c == '\n' {
                self.error(start, self.pos, "unterminated string literal");
                self.push(TokKind::Str, start, Some(value));
                return;
            }
            self.pos += c.len_utf8();
            if c as u32 == u32::from(quote) {
                if verbatim && self.peek(0) == Some(quote) {
                    self.pos += 1;
                    value.push(c);
                    continue;
                }
                break;
            }
            if c == '\\' && !verbatim {
                let Some(e) = self.cur_char() else { continue };
                self.pos += e.len_utf8();
                match e {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    '0' => value.push('\0'),
                    'u' => {
                        let hex = self.src.get(self.pos..self.pos + 4).unwrap_or("");
                        if let Some(ch) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                        {
                            value.push(ch);
                            self.pos += 4;
                        } else {
                            value.push('u');
                        }
                    }
                    '\n' => {
                        self.error(start, self.pos, "unterminated string literal");
                        self.push(TokKind::Str, start, Some(value));
                        return;
                    }
                    other => value.push(other),
                }
                continue;
            }
            value.push(c);
        }
        self.push(TokKind::Str, start, Some(value));
    }

    fn multiline(&mut self, start: usize) {
        let fence = &self.src[self.pos..self.pos + 3];
        self.pos += 3;
        if let Some(i) = self.src[self.pos..].find(fence) {
            let value = self.src[self.pos..self.pos + i].to_string();
            self.pos += i + 3;
            self.push(TokKind::Str, start, Some(value));
        } else {
            let value = self.src[self.pos..].to_string();
            self.pos = self.src.len();
            self.error(start, start + 3, "unterminated multi-line string literal");
            self.push(TokKind::Str, start, Some(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokKind, String)> {
        lex(src)
            .0
            .iter()
            .map(|t| {
                (
                    t.kind,
                    t.value.clone().unwrap_or_else(|| t.text(src).to_string()),
                )
            })
            .collect()
    }

    #[test]
    fn strings_and_operators() {
        let k = kinds(r#"x !has 'a\'b' and y in~ (@"c:\x""y", h'secret') | where z !in~ ("q")"#);
        let texts: Vec<&str> = k.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "x", "!has", "a'b", "and", "y", "in~", "(", "c:\\x\"y", ",", "secret", ")", "|",
                "where", "z", "!in~", "(", "q", ")", ""
            ]
        );
    }

    #[test]
    fn numbers_and_timespans() {
        let k = kinds("1d 30m 1.5h 100ms 42 3.14 1e3 0x1F 10sec");
        let kinds: Vec<TokKind> = k.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            vec![
                TokKind::Timespan,
                TokKind::Timespan,
                TokKind::Timespan,
                TokKind::Timespan,
                TokKind::Int,
                TokKind::Real,
                TokKind::Real,
                TokKind::Int,
                TokKind::Timespan,
                TokKind::Eof
            ]
        );
    }

    #[test]
    fn comments_and_multiline() {
        let k = kinds("a // comment\n```line1\nline2``` b");
        assert_eq!(k[1].1, "line1\nline2");
        assert_eq!(k[2].1, "b");
    }

    #[test]
    fn unterminated_string_is_an_error() {
        let (_, d) = lex("x == 'abc\n| where y");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].range, Some(TextRange::new(5, 9)));
    }
}
