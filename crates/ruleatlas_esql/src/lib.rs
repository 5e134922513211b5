//! Elasticsearch's ES|QL: lexer, parser, syntax tree and lowering into the predicate model.
//!
//! The path of a query: [`lexer::tokenize`] -> [`parser`] (commands by recursive descent,
//! expressions by precedence climbing, depth bounded by [`ruleatlas_model::DepthGuard`]) ->
//! [`ast::Query`] -> [`lower()`] -> [`Lowered`].
//!
//! | ES\|QL | predicate |
//! |---|---|
//! | `FROM logs-*, .alerts-* METADATA _id` | none; [`ast::Query::indices`] / [`indices`] give the patterns |
//! | `WHERE x == "a"`, `!=`, `<`... | `eq` (case-sensitive), `ne`, `lt`... |
//! | `x IN (...)`, `x NOT IN (...)` | `in` (negated) |
//! | `x LIKE "a*"`, `LIKE ("a*", "b")`, `NOT LIKE`, `RLIKE` | `wildcard`, `regex_match` |
//! | `x IS NULL`, `x IS NOT NULL` | `exists [false]`, `exists [true]` |
//! | `TO_LOWER(x) == "a"` | `eq` on `x`, case-insensitive |
//! | `STARTS_WITH`, `ENDS_WITH`, `CIDR_MATCH`, `LOCATE(x, "s") > 0`, `MV_CONTAINS`, `x : "q"` | `starts_with`, `ends_with`, `cidr`, `contains`, `eq`, `match` |
//! | `KQL("...")` | the KQL query's predicates (ruleatlas_kql) |
//! | `LENGTH(x) > 5` | `computed` predicate on `x`, `context.expr` |
//! | a column made by `EVAL`/`STATS`/`GROK`/`DISSECT`/`ENRICH`/`COMPLETION` | `computed`, `context.expr` |
//! | `RENAME a AS b`, `EVAL b = a` then a filter on `b` | a filter on `a` |
//! | `WHERE` on a `STATS` aggregate | `threshold` |
//! | `STATS c = COUNT(*) WHERE cond` | `cond` with `context.aggregate` |
//! | `LOOKUP JOIN idx ON k` | `join` predicate on `k` |
//! | `FORK (...) (...)` | OR of the branches, `context.fork` |
//! | `KEEP`, `DROP`, `SORT`, `LIMIT`, `MV_EXPAND`, `SAMPLE` | nothing |
//! | an unknown command | unparsed `unknown command: name` |

pub mod ast;
pub mod lexer;
mod lower;
pub mod parser;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{Lowered, Parsed, Unparsed};
use ruleatlas_text::TextRange;

pub use lower::{LowerContext, lower};

/// Parses an ES|QL query. Errors are diagnostics (`esql-syntax`, `limit-depth`) with ranges;
/// a command that failed is kept as [`ast::CommandKind::Error`] and the rest still parses.
#[must_use]
pub fn parse(text: &str) -> Parsed<ast::Query> {
    let empty = || ast::Query {
        source: text.to_string(),
        commands: Vec::new(),
    };
    if text.len() > ruleatlas_model::LIMITS.max_query_bytes {
        return Parsed {
            ast: empty(),
            diagnostics: vec![
                Diagnostic::error("limit-query-size", "query longer than the size limit")
                    .with_range(TextRange::empty(0)),
            ],
        };
    }
    match lexer::tokenize(text) {
        Ok(toks) => {
            let mut p = parser::Parser::new(text, toks);
            let ast = p.parse_query();
            Parsed {
                ast,
                diagnostics: p.diagnostics,
            }
        }
        Err(e) => Parsed {
            ast: empty(),
            diagnostics: vec![Diagnostic::error("esql-syntax", e.message).with_range(e.range)],
        },
    }
}

/// The index patterns a query reads (`FROM a, b`), for the adapter's log-source hints.
#[must_use]
pub fn indices(text: &str) -> Vec<String> {
    parse(text)
        .ast
        .indices()
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// Parses and lowers an ES|QL query; spans are relative to `text`. A query whose text did not
/// even tokenize lowers to one unparsed fragment. [`Lowered::finish`] is left to the caller.
#[must_use]
pub fn lower_query(text: &str) -> Lowered {
    let parsed = parse(text);
    let mut l = if parsed.ast.commands.is_empty() && parsed.has_errors() {
        let mut l = Lowered::default();
        let reason = match parsed.diagnostics.first() {
            Some(d) if d.code == "limit-depth" => "nesting too deep",
            _ => "syntax error",
        };
        l.tree =
            l.unparsed(Unparsed::new(text.trim(), reason).with_span(TextRange::new(0, text.len())));
        l
    } else {
        lower(&parsed.ast, &LowerContext::default())
    };
    l.diagnostics.extend(parsed.diagnostics);
    l
}
