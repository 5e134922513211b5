//! Kibana Query Language (KQL, `kuery`): lexer, parser, syntax tree and lowering into the
//! predicate model.
//!
//! The grammar follows Kibana's `kuery.peg`: `or` < `and` < `not` in precedence,
//! `(...)` grouping, `field: value`, `field: (a or b and not c)`, `field: { sub: value }`
//! (nested fields, lowered to the raw field `field.sub`), `field < <= > >= value`, quoted
//! phrases with `\"`, `\\`, `\t`, `\n`, `\r`, `\uXXXX` escapes, and unquoted literals where a
//! backslash escapes `\ ( ) : < > " * { }`, whitespace (`\t`...) and the keywords (`\or`).
//! Unquoted literals may contain spaces (`message: hello world` is one value), as in Kibana.
//! Keywords are case-insensitive.
//!
//! Lowering:
//! - `field: value` is `eq`; an unquoted value with an unescaped `*` is `wildcard`, its
//!   pattern written as [`ruleatlas_model::wildcard::encode_pattern`] says (`*`/`?`
//!   wildcards, `\*`/`\?` literal, `\\` for a backslash before them; KQL itself has no `?`
//!   wildcard); `field: *` is `exists [true]`; a quoted value is an exact phrase, `eq`, even
//!   when it holds `*`.
//! - `field: (a or b or c)` with plain values is one `in`; wildcard members stay separate
//!   predicates ORed with it; `and`/`not` inside the list keep their meaning.
//! - A value without a field is free text: `_text match` (or `_text wildcard`); a bare `*`
//!   matches everything.
//! - Numbers (`4624`, `1.5`) become numbers, unquoted `true`/`false` booleans.
//!
//! **Case sensitivity.** Kibana's documentation says that for keyword, numeric, date and
//! boolean fields "the value must be an exact match, including punctuation and case"; only
//! `text` fields are analyzed. ECS fields that rules filter on are keywords, so values
//! compared with `eq`, `in` and `wildcard` are marked `case_sensitive: true`. Free text
//! (`_text`), `exists` and range comparisons are marked case-insensitive.
//!
//! Errors never abort: each unreadable part becomes an `Unparsed` leaf ("kql syntax error")
//! with a diagnostic; nesting deeper than `LIMITS.max_depth` is a `limit-depth` diagnostic.

pub mod ast;
pub mod lexer;
mod lower;
mod parser;

pub use lower::{LowerContext, TEXT_FIELD, literal_value, lower};
pub use parser::parse;

use ruleatlas_model::Lowered;

/// Parses and lowers a KQL query; spans are relative to `text`.
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
