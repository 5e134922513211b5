//! The text of a `wildcard` value, shared by every language that has wildcards.

/// Writes a wildcard pattern in the convention every RuleAtlas `wildcard` value follows
/// (Sigma's): `*` and `?` are wildcards; `\*`, `\?` are a literal star and question mark;
/// a literal backslash is written `\\` when a `*`, `?` or `\` follows it and `\` otherwise
/// (`C:\Windows\\*.exe` is `C:\Windows\` then anything then `.exe`).
///
/// `pieces` are characters with `true` for a wildcard.
#[must_use]
pub fn encode_pattern(pieces: &[(char, bool)]) -> String {
    let mut out = String::with_capacity(pieces.len() + 4);
    for (i, &(c, wild)) in pieces.iter().enumerate() {
        if wild {
            out.push(c);
            continue;
        }
        match c {
            '*' | '?' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => {
                let next_special = pieces
                    .get(i + 1)
                    .is_some_and(|&(n, w)| w || matches!(n, '*' | '?' | '\\'));
                out.push('\\');
                if next_special {
                    out.push('\\');
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_pattern;

    fn pieces(spec: &[(&str, bool)]) -> Vec<(char, bool)> {
        spec.iter()
            .flat_map(|(s, w)| s.chars().map(move |c| (c, *w)))
            .collect()
    }

    #[test]
    fn stars_questions_and_backslashes() {
        // `C:\Windows\` + anything + `.exe`: the backslash before the wildcard doubles.
        let p = pieces(&[("C:\\Windows\\", false), ("*", true), (".exe", false)]);
        assert_eq!(encode_pattern(&p), "C:\\Windows\\\\*.exe");
        // A literal star and question mark are escaped; a lone backslash stays single.
        let p = pieces(&[("a*b?c\\d", false), ("?", true)]);
        assert_eq!(encode_pattern(&p), "a\\*b\\?c\\d?");
        // A literal backslash before a literal backslash doubles too.
        let p = pieces(&[("x\\\\y", false)]);
        assert_eq!(encode_pattern(&p), "x\\\\\\y");
    }
}
