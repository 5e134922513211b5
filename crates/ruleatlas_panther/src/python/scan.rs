//! A cheap scan of Python source for how deep its syntax tree would be, run BEFORE parsing.
//!
//! `ruff_python_parser` grows its stack while parsing, but the tree it returns is dropped (and
//! walked by our lowering) recursively: `[[[...]]]`, `f(f(...))`, `not not ...` or `a.b.c...`
//! 100,000 levels deep would overflow the stack there. This scan tracks brackets (also inside
//! f-string replacement fields), indentation, and chains that nest without brackets (attribute
//! and call chains, unary and binary operators, conditional expressions) and estimates the
//! tree depth from above, without recursion.

/// Where the source first gets too deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeepAt {
    pub offset: usize,
    pub max: usize,
}

enum Frame {
    /// Code inside a bracket (or the top level when `close == 0`); `fstring` marks a
    /// replacement field `{...}` of an f-string.
    Code {
        close: u8,
        chain: usize,
        fstring: bool,
    },
    /// The literal part of an f-string.
    FStr { quote: u8, triple: bool },
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn is_string_prefix(word: &[u8]) -> Option<bool> {
    // Returns Some(is_fstring) when `word` is a string prefix.
    if word.is_empty() || word.len() > 2 {
        return None;
    }
    let mut f = false;
    for &c in word {
        match c.to_ascii_lowercase() {
            b'r' | b'b' | b'u' => {}
            b'f' | b't' => f = true,
            _ => return None,
        }
    }
    Some(f)
}

/// Scans `src` and fails at the first point where the estimated tree depth exceeds `max`.
///
/// # Errors
/// [`TooDeepAt`] with the byte offset where the limit was crossed.
#[allow(clippy::too_many_lines)]
pub fn check_depth(src: &str, max: usize) -> Result<(), TooDeepAt> {
    let b = src.as_bytes();
    let n = b.len();
    let mut frames: Vec<Frame> = vec![Frame::Code {
        close: 0,
        chain: 0,
        fstring: false,
    }];
    let mut indents: Vec<usize> = vec![0];
    let mut at_line_start = true;
    let mut i = 0usize;
    // Sum of chains and frames, recomputed incrementally.
    let depth = |frames: &Vec<Frame>, indents: &Vec<usize>| -> usize {
        let mut d = indents.len() - 1;
        for f in frames {
            d += 1;
            if let Frame::Code { chain, .. } = f {
                d += chain;
            }
        }
        d
    };
    macro_rules! check {
        ($at:expr) => {
            if depth(&frames, &indents) > max {
                return Err(TooDeepAt { offset: $at, max });
            }
        };
    }
    macro_rules! bump {
        () => {
            if let Some(Frame::Code { chain, .. }) = frames.last_mut() {
                *chain += 1;
            }
        };
    }
    macro_rules! reset {
        () => {
            if let Some(Frame::Code { chain, .. }) = frames.last_mut() {
                *chain = 0;
            }
        };
    }
    while i < n {
        // Inside the literal part of an f-string.
        if let Some(Frame::FStr { quote, triple }) = frames.last() {
            let (quote, triple) = (*quote, *triple);
            let c = b[i];
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == quote {
                if !triple {
                    frames.pop();
                    i += 1;
                    continue;
                }
                if i + 2 < n && b[i + 1] == quote && b[i + 2] == quote {
                    frames.pop();
                    i += 3;
                    continue;
                }
            }
            if c == b'\n' && !triple {
                frames.pop();
                i += 1;
                continue;
            }
            if c == b'{' {
                if i + 1 < n && b[i + 1] == b'{' {
                    i += 2;
                    continue;
                }
                frames.push(Frame::Code {
                    close: b'}',
                    chain: 0,
                    fstring: true,
                });
                check!(i);
                i += 1;
                continue;
            }
            if c == b'}' && i + 1 < n && b[i + 1] == b'}' {
                i += 2;
                continue;
            }
            i += 1;
            continue;
        }
        let in_brackets = frames.len() > 1;
        if at_line_start && !in_brackets {
            // Measure indentation of a logical line; blank and comment lines do not count.
            let mut w = 0usize;
            let mut j = i;
            while j < n && (b[j] == b' ' || b[j] == b'\t' || b[j] == b'\x0c') {
                w += if b[j] == b'\t' { 8 } else { 1 };
                j += 1;
            }
            if j >= n {
                break;
            }
            if b[j] == b'\n' || b[j] == b'\r' || b[j] == b'#' {
                while j < n && b[j] != b'\n' {
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            while indents.last().is_some_and(|&top| top > w) {
                indents.pop();
            }
            if indents.last().is_some_and(|&top| w > top) {
                indents.push(w);
            }
            if indents.is_empty() {
                indents.push(w);
            }
            at_line_start = false;
            i = j;
            check!(i);
            continue;
        }
        let c = b[i];
        match c {
            b'#' => {
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'\\' => {
                // Line continuation (or a stray backslash).
                i += 1;
                if i < n && b[i] == b'\r' {
                    i += 1;
                }
                if i < n && b[i] == b'\n' {
                    i += 1;
                }
            }
            b'\n' => {
                if !in_brackets {
                    reset!();
                    at_line_start = true;
                }
                i += 1;
            }
            b'\'' | b'"' => {
                i = skip_string(b, i, false, &mut frames);
                check!(i.min(n));
            }
            b'(' | b'[' | b'{' => {
                bump!();
                let close = match c {
                    b'(' => b')',
                    b'[' => b']',
                    _ => b'}',
                };
                frames.push(Frame::Code {
                    close,
                    chain: 0,
                    fstring: false,
                });
                check!(i);
                i += 1;
            }
            b')' | b']' | b'}' => {
                if frames.len() > 1
                    && let Some(Frame::Code { close, fstring, .. }) = frames.last()
                {
                    let was_fstring = *fstring;
                    if *close == c || was_fstring {
                        frames.pop();
                    }
                }
                i += 1;
            }
            b',' | b';' => {
                reset!();
                i += 1;
            }
            b':' => {
                reset!();
                i += 1;
                if i < n && b[i] == b'=' {
                    i += 1;
                }
            }
            b'=' => {
                if i + 1 < n && b[i + 1] == b'=' {
                    bump!();
                    check!(i);
                    i += 2;
                } else {
                    reset!();
                    i += 1;
                }
            }
            b'.' => {
                if i + 1 < n && b[i + 1].is_ascii_digit() {
                    i = skip_number(b, i);
                } else {
                    bump!();
                    check!(i);
                    i += 1;
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'@' | b'&' | b'|' | b'^' | b'~' | b'<' | b'>'
            | b'!' => {
                // Augmented assignment (`+=`) starts a new expression.
                let mut j = i + 1;
                while j < n && matches!(b[j], b'*' | b'/' | b'<' | b'>') && j < i + 3 {
                    j += 1;
                }
                if j < n && b[j] == b'=' && !matches!(c, b'<' | b'>' | b'!') {
                    reset!();
                    i = j + 1;
                } else {
                    bump!();
                    check!(i);
                    i = if j < n && b[j] == b'=' { j + 1 } else { j };
                }
            }
            b'0'..=b'9' => i = skip_number(b, i),
            c if is_ident_byte(c) => {
                let start = i;
                while i < n && is_ident_byte(b[i]) {
                    i += 1;
                }
                let word = &b[start..i];
                if i < n
                    && (b[i] == b'\'' || b[i] == b'"')
                    && let Some(f) = is_string_prefix(word)
                {
                    i = skip_string(b, i, f, &mut frames);
                    check!(i.min(n));
                    continue;
                }
                match word {
                    b"not" | b"lambda" | b"await" | b"if" | b"else" | b"elif" => {
                        bump!();
                        check!(start);
                    }
                    b"and" | b"or" | b"for" | b"in" | b"return" | b"yield" | b"async" => reset!(),
                    _ => {}
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn skip_number(b: &[u8], mut i: usize) -> usize {
    let n = b.len();
    while i < n {
        let c = b[i];
        let exponent_sign =
            (c == b'+' || c == b'-') && i > 0 && (b[i - 1] == b'e' || b[i - 1] == b'E');
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Skips a string literal starting at the quote at `i`; an f-string pushes a frame instead.
fn skip_string(b: &[u8], i: usize, fstring: bool, frames: &mut Vec<Frame>) -> usize {
    let n = b.len();
    let quote = b[i];
    let triple = i + 2 < n && b[i + 1] == quote && b[i + 2] == quote;
    let mut j = if triple { i + 3 } else { i + 1 };
    if fstring {
        frames.push(Frame::FStr { quote, triple });
        return j;
    }
    while j < n {
        let c = b[j];
        if c == b'\\' {
            j += 2;
            continue;
        }
        if c == quote {
            if !triple {
                return j + 1;
            }
            if j + 2 < n && b[j + 1] == quote && b[j + 2] == quote {
                return j + 3;
            }
        }
        if c == b'\n' && !triple {
            return j + 1;
        }
        j += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_code_passes() {
        let src = "import re\nX = {'a': [1, 2, (3, 4)]}\n\ndef rule(event):\n    if event.get('a', {}).get('b') == 'c':\n        return False\n    return f\"{event.get('x')}\" in X\n";
        assert_eq!(check_depth(src, 200), Ok(()));
    }

    #[test]
    fn deep_shapes_fail() {
        let n = 100_000;
        let shapes = [
            format!("x = {}{}\n", "[".repeat(n), "]".repeat(n)),
            format!("x = {}1{}\n", "f(".repeat(n), ")".repeat(n)),
            format!("x = {}y\n", "not ".repeat(n)),
            format!("x = a{}\n", ".b".repeat(n)),
            format!("x = f\"{}\"\n", "{f'".repeat(150)),
            format!("x = 1{}\n", " + 1".repeat(n)),
            format!("x = {}1\n", "-".repeat(n)),
        ];
        for s in &shapes {
            assert!(check_depth(s, 200).is_err(), "{}", &s[..40.min(s.len())]);
        }
    }

    #[test]
    fn long_flat_lists_pass() {
        let items: Vec<String> = (0..5000).map(|i| format!("re.compile('a{i}')")).collect();
        let src = format!("X = [{}]\n", items.join(", "));
        assert_eq!(check_depth(&src, 200), Ok(()));
    }
}
