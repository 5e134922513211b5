//! The EQL lexer: source text to tokens with byte spans.
//!
//! Keywords are not distinguished here (EQL keywords are case-insensitive identifiers the
//! parser recognises in place), so a field named like a keyword still lexes. String tokens keep
//! their quotes; [`decode_string`] turns a token's text into its value.

use ruleatlas_text::TextRange;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A name, possibly dotted: `process.parent.name`, `where`, `startsWith`.
    Ident,
    /// A back-quoted name: `` `my field` ``.
    Backtick,
    /// `"..."` or `'...'` with escapes.
    Str,
    /// `"""..."""`, `?"..."` or `?'...'`: no escapes.
    RawStr,
    Int,
    Float,
    /// A number with a unit: `5m`, `30s`, `500ms`.
    Duration,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Pipe,
    Colon,
    /// `==`
    EqEq,
    /// `=`
    Assign,
    /// `!=`
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Tilde,
    Question,
    Bang,
    Eof,
}

/// One token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub range: TextRange,
}

/// A lexing error: an unterminated string, a character EQL does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub message: String,
    pub range: TextRange,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '@'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '@'
}

/// Splits `text` into tokens (the last one is `Eof`), stopping at the first error.
///
/// # Errors
/// An unterminated string or comment, or a character that starts no token.
pub fn tokenize(text: &str) -> Result<Vec<Token>, LexError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |message: &str, start: usize, end: usize| LexError {
        message: message.to_string(),
        range: TextRange::new(start, end),
    };
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let single = |kind| Token {
            kind,
            range: TextRange::new(start, start + 1),
        };
        let double = |kind| Token {
            kind,
            range: TextRange::new(start, start + 2),
        };
        let next = bytes.get(i + 1).copied();
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'/' if next == Some(b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if next == Some(b'*') => {
                match text[i + 2..].find("*/") {
                    Some(end) => i = i + 2 + end + 2,
                    None => return Err(err("unterminated comment", start, start + 2)),
                }
                continue;
            }
            b'"' | b'\'' => {
                let (kind, end) =
                    lex_string(text, i, false).map_err(|m| err(m, start, text.len()))?;
                out.push(Token {
                    kind,
                    range: TextRange::new(start, end),
                });
                i = end;
                continue;
            }
            b'?' if matches!(next, Some(b'"' | b'\'')) => {
                let (_, end) =
                    lex_string(text, i + 1, true).map_err(|m| err(m, start, text.len()))?;
                out.push(Token {
                    kind: TokenKind::RawStr,
                    range: TextRange::new(start, end),
                });
                i = end;
                continue;
            }
            b'`' => {
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => {
                            return Err(err("unterminated back-quoted name", start, text.len()));
                        }
                        Some(b'`') if bytes.get(j + 1) == Some(&b'`') => j += 2,
                        Some(b'`') => break,
                        Some(_) => j += 1,
                    }
                }
                out.push(Token {
                    kind: TokenKind::Backtick,
                    range: TextRange::new(start, j + 1),
                });
                i = j + 1;
                continue;
            }
            b'0'..=b'9' => {
                let (kind, end) = lex_number(bytes, i);
                out.push(Token {
                    kind,
                    range: TextRange::new(start, end),
                });
                i = end;
                continue;
            }
            _ => {}
        }
        let tok = match b {
            b'(' => single(TokenKind::LParen),
            b')' => single(TokenKind::RParen),
            b'[' => single(TokenKind::LBracket),
            b']' => single(TokenKind::RBracket),
            b',' => single(TokenKind::Comma),
            b'.' => single(TokenKind::Dot),
            b'|' => single(TokenKind::Pipe),
            b':' => single(TokenKind::Colon),
            b'=' if next == Some(b'=') => double(TokenKind::EqEq),
            b'=' => single(TokenKind::Assign),
            b'!' if next == Some(b'=') => double(TokenKind::NotEq),
            b'!' => single(TokenKind::Bang),
            b'<' if next == Some(b'=') => double(TokenKind::Le),
            b'<' if next == Some(b'>') => double(TokenKind::NotEq),
            b'<' => single(TokenKind::Lt),
            b'>' if next == Some(b'=') => double(TokenKind::Ge),
            b'>' => single(TokenKind::Gt),
            b'+' => single(TokenKind::Plus),
            b'-' => single(TokenKind::Minus),
            b'*' => single(TokenKind::Star),
            b'/' => single(TokenKind::Slash),
            b'%' => single(TokenKind::Percent),
            b'~' => single(TokenKind::Tilde),
            b'?' => single(TokenKind::Question),
            _ => {
                let c = text[i..].chars().next().unwrap_or('\0');
                if is_ident_start(c) {
                    let end = lex_ident(text, i);
                    Token {
                        kind: TokenKind::Ident,
                        range: TextRange::new(start, end),
                    }
                } else {
                    return Err(err(
                        &format!("unexpected character {c:?}"),
                        start,
                        start + c.len_utf8(),
                    ));
                }
            }
        };
        i = tok.range.end as usize;
        out.push(tok);
    }
    out.push(Token {
        kind: TokenKind::Eof,
        range: TextRange::empty(text.len()),
    });
    Ok(out)
}

/// A dotted name: segments joined by `.` when the dot is followed by a name character.
fn lex_ident(text: &str, start: usize) -> usize {
    let mut end = start;
    let mut chars = text[start..].char_indices().peekable();
    while let Some((off, c)) = chars.next() {
        if is_ident_continue(c) {
            end = start + off + c.len_utf8();
        } else if c == '.' {
            match chars.peek() {
                Some(&(_, n)) if is_ident_continue(n) => end = start + off + 1,
                _ => break,
            }
        } else {
            break;
        }
    }
    end
}

fn lex_number(bytes: &[u8], start: usize) -> (TokenKind, usize) {
    let mut i = start;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let mut kind = TokenKind::Int;
    if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        kind = TokenKind::Float;
    }
    if i < bytes.len() && bytes[i].is_ascii_alphabetic() {
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        kind = TokenKind::Duration;
    }
    (kind, i)
}

/// Lexes a string starting at `start` (its opening quote); returns its kind and end offset.
fn lex_string(text: &str, start: usize, raw: bool) -> Result<(TokenKind, usize), &'static str> {
    let bytes = text.as_bytes();
    let q = bytes[start];
    if q == b'"' && text[start..].starts_with("\"\"\"") {
        return match text[start + 3..].find("\"\"\"") {
            Some(off) => {
                // A raw string ends at the last of a run of quotes (`""""` closes with one inside).
                let mut end = start + 3 + off + 3;
                while bytes.get(end) == Some(&b'"') {
                    end += 1;
                }
                Ok((TokenKind::RawStr, end))
            }
            None => Err("unterminated string"),
        };
    }
    let mut j = start + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if !raw => j += 2,
            b'\n' | b'\r' if !raw => return Err("unterminated string"),
            c if c == q => {
                return Ok((
                    if raw {
                        TokenKind::RawStr
                    } else {
                        TokenKind::Str
                    },
                    j + 1,
                ));
            }
            _ => j += 1,
        }
    }
    Err("unterminated string")
}

/// The value of a string token's text (quotes included).
///
/// # Errors
/// An unknown escape sequence.
pub fn decode_string(tok: &str) -> Result<String, String> {
    if let Some(rest) = tok.strip_prefix('?') {
        return Ok(rest
            .get(1..rest.len().saturating_sub(1))
            .unwrap_or("")
            .to_string());
    }
    if tok.starts_with("\"\"\"") && tok.len() >= 6 {
        return Ok(tok[3..tok.len() - 3].to_string());
    }
    let inner = tok.get(1..tok.len().saturating_sub(1)).unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('0') => out.push('\0'),
            Some(c @ ('"' | '\'' | '\\')) => out.push(c),
            Some('u') => {
                let rest = chars.as_str();
                let (hex, consumed) = if let Some(r) = rest.strip_prefix('{') {
                    let close = r.find('}').ok_or("unterminated \\u{...} escape")?;
                    (&r[..close], close + 2)
                } else {
                    (rest.get(..4).ok_or("short \\u escape")?, 4)
                };
                let cp = u32::from_str_radix(hex, 16)
                    .map_err(|_| format!("bad unicode escape \\u{hex}"))?;
                out.push(char::from_u32(cp).ok_or_else(|| format!("bad unicode escape \\u{hex}"))?);
                chars = rest[consumed..].chars();
            }
            // Python's EQL keeps unknown escapes as written (`\d` in a regex).
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        tokenize(s)
            .expect("lexes")
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn tokens_of_a_query() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"process where ?process.name like~ ("a*", "b") and x.y != 5m"#),
            vec![
                Ident, Ident, Question, Ident, Ident, Tilde, LParen, Str, Comma, Str, RParen,
                Ident, Ident, NotEq, Duration, Eof
            ]
        );
    }

    #[test]
    fn strings_decode() {
        assert_eq!(decode_string(r#""a\\b\"c\n""#).expect("ok"), "a\\b\"c\n");
        assert_eq!(decode_string(r#""""C:\x""""#).expect("ok"), "C:\\x");
        assert_eq!(decode_string(r#"?"C:\x""#).expect("ok"), "C:\\x");
        assert_eq!(decode_string(r#""\u{41}\u0042""#).expect("ok"), "AB");
    }

    #[test]
    fn unterminated_string_is_an_error() {
        let e = tokenize("process where a : \"abc").expect_err("fails");
        assert_eq!(e.message, "unterminated string");
        assert_eq!(e.range.start, 18);
    }
}
