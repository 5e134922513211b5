//! Mapping offsets in a decoded YAML scalar back to the file.
//!
//! YAML decodes scalars: block scalars drop indentation, folded and flow scalars turn line
//! breaks into spaces, quotes are doubled (`''`) or escaped (`\"`). Rather than re-implement
//! every style, we align the decoded value against the scalar's source: equal characters are
//! matched, source-only characters (indentation, quotes, escape backslashes, line breaks) are
//! skipped, and decoded-only whitespace (a folded line break) takes the current source
//! position. The result is exact for ordinary text and within a character or two at escapes.

use ruleatlas_text::OffsetMap;

/// Builds the decoded-offset -> file-offset map of the scalar that starts at byte `start` of
/// `source` (its first character: an indicator `|`/`>`, a quote, or the first plain char) and
/// decodes to `decoded`.
#[must_use]
pub fn scalar_offset_map(source: &str, start: usize, decoded: &str) -> OffsetMap {
    let mut map = OffsetMap::default();
    let Some(rest) = source.get(start..) else {
        return OffsetMap::identity(start.min(source.len()), decoded.len());
    };
    // Skip a block scalar's header line, or an opening quote.
    let body_start = match rest.as_bytes().first() {
        Some(b'|' | b'>') => rest.find('\n').map_or(rest.len(), |i| i + 1),
        Some(b'\'' | b'"') => 1,
        _ => 0,
    };
    let mut src = rest[body_start..].char_indices().peekable();
    let base = start + body_start;
    for (j, dc) in decoded.char_indices() {
        loop {
            match src.peek().copied() {
                None => {
                    map.push_run(j, source.len(), 0);
                    break;
                }
                Some((i, sc)) if sc == dc => {
                    map.push_run(j, base + i, dc.len_utf8());
                    src.next();
                    break;
                }
                Some((i, _)) if dc.is_whitespace() => {
                    // A line break or space the decoder made: it sits where the source is.
                    map.push_run(j, base + i, 0);
                    break;
                }
                Some(_) => {
                    src.next();
                }
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn check(yaml: &str, key: &str, needle: &str, expect_line_col: (u32, u32)) {
        let doc = parse(yaml).expect("valid yaml");
        let node = doc.get(key).expect("key");
        let decoded = node.as_str().expect("string");
        let map = scalar_offset_map(yaml, node.offset.expect("offset"), decoded);
        let at = decoded.find(needle).expect("needle in decoded");
        let idx = ruleatlas_text::LineIndex::new(yaml);
        let pos = idx.line_column(yaml, map.to_source(at));
        assert_eq!(
            (pos.line, pos.column),
            expect_line_col,
            "{needle} in {decoded:?}"
        );
    }

    #[test]
    fn literal_block() {
        let y = "query: |\n  SigninLogs\n  | where ResultType == 50074\n";
        check(y, "query", "ResultType", (3, 11));
    }

    #[test]
    fn single_quoted_folded_with_doubled_quotes() {
        let y = "search: '`okta` eventType=''x''\n  | stats count by user'\n";
        check(y, "search", "eventType", (1, 17));
        check(y, "search", "stats", (2, 5));
    }

    #[test]
    fn double_quoted_with_escapes() {
        let y = "q: \"a \\\"b\\\" process.name: cmd\"\n";
        check(y, "q", "process.name", (1, 13));
    }

    #[test]
    fn plain_multiline() {
        let y = "q: a and\n  b or c\n";
        check(y, "q", "b or", (2, 3));
    }
}
