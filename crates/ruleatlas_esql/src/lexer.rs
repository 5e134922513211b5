//! The ES|QL lexer: source text to tokens with byte spans.
//!
//! Keywords are identifiers the parser recognises in place (case-insensitively). Dotted names
//! (`process.parent.name`) are one token. Index patterns in `FROM` (`logs-*`,
//! `.alerts-security.*`) are glued by the parser from adjacent tokens.

use ruleatlas_text::TextRange;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Ident,
    /// `` `name` `` (doubled backticks escape one).
    Backtick,
    /// `"..."` with escapes.
    Str,
    /// `"""..."""`, no escapes.
    RawStr,
    Int,
    Float,
    /// `?`, `?name`, `?1`, `??name`.
    Param,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Dot,
    Pipe,
    Colon,
    /// `::`
    Cast,
    EqEq,
    Assign,
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
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub range: TextRange,
}

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

/// Splits `text` into tokens (the last one is `Eof`).
///
/// # Errors
/// An unterminated string, back-quoted name or comment; a character that starts no token.
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
        let next = bytes.get(i + 1).copied();
        let mut push = |kind, len: usize| {
            out.push(Token {
                kind,
                range: TextRange::new(start, start + len),
            });
            start + len
        };
        i = match b {
            b' ' | b'\t' | b'\r' | b'\n' => i + 1,
            b'/' if next == Some(b'/') => text[i..].find('\n').map_or(text.len(), |n| i + n),
            b'/' if next == Some(b'*') => match text[i + 2..].find("*/") {
                Some(end) => i + 2 + end + 2,
                None => return Err(err("unterminated comment", start, start + 2)),
            },
            b'"' if text[i..].starts_with("\"\"\"") => match text[i + 3..].find("\"\"\"") {
                Some(off) => {
                    let mut end = i + 3 + off + 3;
                    while bytes.get(end) == Some(&b'"') {
                        end += 1;
                    }
                    push(TokenKind::RawStr, end - start)
                }
                None => return Err(err("unterminated string", start, text.len())),
            },
            b'"' => {
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None | Some(b'\n' | b'\r') => {
                            return Err(err("unterminated string", start, j));
                        }
                        Some(b'\\') => j += 2,
                        Some(b'"') => break,
                        Some(_) => j += 1,
                    }
                }
                push(TokenKind::Str, j + 1 - start)
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
                push(TokenKind::Backtick, j + 1 - start)
            }
            b'?' => {
                let mut j = i + 1;
                if bytes.get(j) == Some(&b'?') {
                    j += 1;
                }
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                push(TokenKind::Param, j - start)
            }
            b'0'..=b'9' => {
                let mut j = i;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                let mut kind = TokenKind::Int;
                if j + 1 < bytes.len() && bytes[j] == b'.' && bytes[j + 1].is_ascii_digit() {
                    j += 1;
                    while j < bytes.len() && bytes[j].is_ascii_digit() {
                        j += 1;
                    }
                    kind = TokenKind::Float;
                }
                if j < bytes.len() && (bytes[j] == b'e' || bytes[j] == b'E') {
                    let mut k = j + 1;
                    if k < bytes.len() && (bytes[k] == b'+' || bytes[k] == b'-') {
                        k += 1;
                    }
                    if k < bytes.len() && bytes[k].is_ascii_digit() {
                        while k < bytes.len() && bytes[k].is_ascii_digit() {
                            k += 1;
                        }
                        j = k;
                        kind = TokenKind::Float;
                    }
                }
                push(kind, j - start)
            }
            b'(' => push(TokenKind::LParen, 1),
            b')' => push(TokenKind::RParen, 1),
            b'[' => push(TokenKind::LBracket, 1),
            b']' => push(TokenKind::RBracket, 1),
            b'{' => push(TokenKind::LBrace, 1),
            b'}' => push(TokenKind::RBrace, 1),
            b',' => push(TokenKind::Comma, 1),
            b'.' => push(TokenKind::Dot, 1),
            b'|' => push(TokenKind::Pipe, 1),
            b':' if next == Some(b':') => push(TokenKind::Cast, 2),
            b':' => push(TokenKind::Colon, 1),
            b'=' if next == Some(b'=') => push(TokenKind::EqEq, 2),
            b'=' => push(TokenKind::Assign, 1),
            b'!' if next == Some(b'=') => push(TokenKind::NotEq, 2),
            b'<' if next == Some(b'=') => push(TokenKind::Le, 2),
            b'<' => push(TokenKind::Lt, 1),
            b'>' if next == Some(b'=') => push(TokenKind::Ge, 2),
            b'>' => push(TokenKind::Gt, 1),
            b'+' => push(TokenKind::Plus, 1),
            b'-' => push(TokenKind::Minus, 1),
            b'*' => push(TokenKind::Star, 1),
            b'/' => push(TokenKind::Slash, 1),
            b'%' => push(TokenKind::Percent, 1),
            _ => {
                let c = text[i..].chars().next().unwrap_or('\0');
                if !is_ident_start(c) {
                    return Err(err(
                        &format!("unexpected character {c:?}"),
                        start,
                        start + c.len_utf8(),
                    ));
                }
                let end = lex_ident(text, i);
                push(TokenKind::Ident, end - start)
            }
        };
    }
    out.push(Token {
        kind: TokenKind::Eof,
        range: TextRange::empty(text.len()),
    });
    Ok(out)
}

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

/// The value of a string token's text (quotes included).
#[must_use]
pub fn decode_string(tok: &str) -> String {
    if tok.starts_with("\"\"\"") && tok.len() >= 6 {
        return tok[3..tok.len() - 3].to_string();
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
            Some(c @ ('"' | '\\')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        use TokenKind::*;
        let k: Vec<_> = tokenize(r#"FROM logs-* | WHERE x.y == "a\"b" AND z::long >= ?p // c"#)
            .expect("lexes")
            .into_iter()
            .map(|t| t.kind)
            .collect();
        assert_eq!(
            k,
            vec![
                Ident, Ident, Minus, Star, Pipe, Ident, Ident, EqEq, Str, Ident, Ident, Cast,
                Ident, Ge, Param, Eof
            ]
        );
        assert_eq!(decode_string(r#""a\"b\\c""#), "a\"b\\c");
        assert_eq!(decode_string(r#""""a\b""""#), "a\\b");
    }
}
