//! Source text and positions.
//!
//! Every parser in RuleAtlas reports positions as byte ranges ([`TextRange`]) into the text it
//! was given. Queries usually live inside another file (a YAML block scalar, a TOML literal
//! string), so a range in the *decoded* query must be mapped back to the file that holds it:
//! [`OffsetMap`] records, for runs of decoded bytes, where they came from in the file, and
//! [`LineIndex`] turns a file offset into a 1-based line and column.

use serde::{Deserialize, Serialize};

/// A half-open byte range `start..end` into some text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, PartialOrd, Ord,
)]
pub struct TextRange {
    pub start: u32,
    pub end: u32,
}

impl TextRange {
    #[must_use]
    pub fn new(start: usize, end: usize) -> Self {
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let end = u32::try_from(end).unwrap_or(u32::MAX).max(start);
        Self { start, end }
    }

    #[must_use]
    pub fn empty(at: usize) -> Self {
        Self::new(at, at)
    }

    #[must_use]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    #[must_use]
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest range covering both.
    #[must_use]
    pub fn cover(self, other: Self) -> Self {
        Self {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The text this range covers, or `""` when it is out of bounds or splits a character.
    #[must_use]
    pub fn slice(self, text: &str) -> &str {
        text.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }

    /// Moves the range by `delta` bytes (used when a sub-text was parsed on its own).
    #[must_use]
    pub fn shift(self, delta: usize) -> Self {
        Self::new(self.start as usize + delta, self.end as usize + delta)
    }
}

/// A 1-based line and column. Columns count characters, as editors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct LineColumn {
    pub line: u32,
    pub column: u32,
}

/// Line starts of a text, for offset -> line/column lookups.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<u32>,
}

impl LineIndex {
    #[must_use]
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0u32];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
            }
        }
        Self { line_starts }
    }

    /// Line and column of a byte offset (clamped into the text).
    #[must_use]
    pub fn line_column(&self, text: &str, offset: usize) -> LineColumn {
        let offset = offset.min(text.len());
        let offset32 = u32::try_from(offset).unwrap_or(u32::MAX);
        let line = match self.line_starts.binary_search(&offset32) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts[line] as usize;
        let mut col_end = offset;
        while col_end > start && !text.is_char_boundary(col_end) {
            col_end -= 1;
        }
        let column = text.get(start..col_end).map_or(0, |s| s.chars().count());
        LineColumn {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    /// Byte offset of the start of a 1-based line, if it exists.
    #[must_use]
    pub fn line_start(&self, line: u32) -> Option<usize> {
        self.line_starts
            .get(line.checked_sub(1)? as usize)
            .map(|&s| s as usize)
    }
}

/// Maps byte offsets in a decoded string back to byte offsets in the file it was decoded from.
///
/// Built as a list of runs: decoded bytes `decoded..decoded+len` came, byte for byte, from
/// `source..source+len`. Escapes and folded line breaks end a run; a decoded byte that has no
/// source of its own (a folded newline) maps to the next run's start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetMap {
    runs: Vec<Run>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    decoded: u32,
    source: u32,
    len: u32,
}

impl OffsetMap {
    /// A map where decoded offset `i` is source offset `base + i` (a literal string).
    #[must_use]
    pub fn identity(base: usize, len: usize) -> Self {
        let mut map = Self::default();
        map.push_run(0, base, len);
        map
    }

    /// Records that `len` decoded bytes from `decoded` came verbatim from `source`.
    pub fn push_run(&mut self, decoded: usize, source: usize, len: usize) {
        let (Ok(decoded), Ok(source), Ok(len)) = (
            u32::try_from(decoded),
            u32::try_from(source),
            u32::try_from(len),
        ) else {
            return;
        };
        if let Some(last) = self.runs.last_mut()
            && last.decoded + last.len == decoded
            && last.source + last.len == source
        {
            last.len += len;
            return;
        }
        self.runs.push(Run {
            decoded,
            source,
            len,
        });
    }

    /// The source offset of a decoded offset.
    #[must_use]
    pub fn to_source(&self, decoded: usize) -> usize {
        let decoded = u32::try_from(decoded).unwrap_or(u32::MAX);
        let idx = self.runs.partition_point(|r| r.decoded <= decoded);
        if idx == 0 {
            return self.runs.first().map_or(0, |r| r.source as usize);
        }
        let run = self.runs[idx - 1];
        if decoded < run.decoded + run.len.max(1) {
            (run.source + (decoded - run.decoded)) as usize
        } else if let Some(next) = self.runs.get(idx) {
            next.source as usize
        } else {
            (run.source + run.len) as usize
        }
    }

    /// Composes `self` (decoded -> intermediate) with `outer` (intermediate -> file).
    #[must_use]
    pub fn then(&self, outer: &OffsetMap) -> OffsetMap {
        let mut runs = Vec::with_capacity(self.runs.len());
        for r in &self.runs {
            for i in 0..r.len {
                let src = outer.to_source((r.source + i) as usize);
                let mut m = OffsetMap {
                    runs: std::mem::take(&mut runs),
                };
                m.push_run((r.decoded + i) as usize, src, 1);
                runs = m.runs;
            }
        }
        OffsetMap { runs }
    }
}

/// A file's text with its line index, for turning ranges into positions.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
    pub lines: LineIndex,
}

impl SourceFile {
    #[must_use]
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let lines = LineIndex::new(&text);
        Self {
            path: path.into(),
            text,
            lines,
        }
    }

    #[must_use]
    pub fn line_column(&self, offset: usize) -> LineColumn {
        self.lines.line_column(&self.text, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "ab\nçd\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_column(text, 0), LineColumn { line: 1, column: 1 });
        assert_eq!(idx.line_column(text, 3), LineColumn { line: 2, column: 1 });
        // 'd' is byte 5 (ç is two bytes) and character column 2.
        assert_eq!(idx.line_column(text, 5), LineColumn { line: 2, column: 2 });
        assert_eq!(idx.line_column(text, 99), LineColumn { line: 3, column: 1 });
    }

    #[test]
    fn offset_map_runs_and_gaps() {
        let mut m = OffsetMap::default();
        m.push_run(0, 10, 3); // "abc" at 10..13
        m.push_run(4, 20, 2); // decoded byte 3 is a folded newline without a source
        assert_eq!(m.to_source(0), 10);
        assert_eq!(m.to_source(2), 12);
        assert_eq!(m.to_source(3), 20);
        assert_eq!(m.to_source(5), 21);
        assert_eq!(m.to_source(6), 22);
    }

    #[test]
    fn offset_map_composes() {
        let inner = OffsetMap::identity(2, 5);
        let outer = OffsetMap::identity(100, 50);
        assert_eq!(inner.then(&outer).to_source(1), 103);
    }
}
