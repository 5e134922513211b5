//! Lucene `query_string` syntax: lexer, parser, syntax tree and lowering into the predicate
//! model.
//!
//! Follows Lucene's classic query parser as Elasticsearch's `query_string` documents it:
//! `field:value`, `+required`, `-prohibited`, `!` / `NOT`, `AND`/`&&`, `OR`/`||` (operators
//! in upper case only: a lowercase `or` is a term), grouping `(...)` and `field:(a b)`,
//! phrases `"a b"`, wildcards `*`/`?`, regular expressions `/.../`, ranges `[a TO b]`,
//! `{a TO b}`, mixed brackets and `*` ends, `field:>10` comparisons, `_exists_:field`,
//! escapes `\x`, boosts `^2` and fuzziness `~`.
//!
//! Clauses combine with Lucene's own rules (`QueryParserBase.addClause`), not with a
//! boolean precedence: `a AND b OR c` makes `a` and `b` required and `c` optional. Lowering
//! then reads the boolean query: required clauses are ANDed, prohibited ones are ANDed
//! under NOT, and optional ones are ORed only when nothing is required (otherwise they only
//! affect scoring and filter nothing). Optional plain values of one field form one `in`.
//!
//! Values as in KQL: `eq`/`in`/`wildcard`/`regex_match` are case-sensitive (exact match on
//! keyword fields); free text (`_text`) is not. Boosts are dropped (they change scores, not
//! matches); fuzzy terms and phrases with a proximity slop match more than their text and
//! become unparsed ("fuzzy query not supported", "proximity search not supported").

pub mod ast;
pub mod lexer;
mod lower;
mod parser;

pub use lower::{LowerContext, TEXT_FIELD, lower, term_value};
pub use parser::{DefaultOperator, parse, parse_with};

use ruleatlas_model::Lowered;

/// Parses and lowers a Lucene query; spans are relative to `text`.
#[must_use]
pub fn lower_query(text: &str) -> Lowered {
    lower_query_with(text, &LowerContext::default())
}

/// [`lower_query`] with a context.
#[must_use]
pub fn lower_query_with(text: &str, ctx: &LowerContext) -> Lowered {
    let parsed = parse(text);
    let mut l = lower(&parsed.ast, ctx);
    l.diagnostics.extend(parsed.diagnostics);
    l
}
