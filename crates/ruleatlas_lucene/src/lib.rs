//! lucene: lexer, parser, AST and lowering into the predicate model. (Being written.)

use ruleatlas_model::{Lowered, Unparsed};

/// Parses and lowers a lucene query; spans are relative to `text`.
#[must_use]
pub fn lower_query(text: &str) -> Lowered {
    let mut l = Lowered::default();
    l.tree = l.unparsed(Unparsed::new(text, "lucene parser not written yet"));
    l
}
