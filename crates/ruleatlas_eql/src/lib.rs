//! Elastic's Event Query Language (EQL): lexer, parser, syntax tree and lowering.
//!
//! The path of a query: [`lexer::tokenize`] (tokens with byte spans) -> [`parser`] (recursive
//! descent for `sequence`/`sample`/steps/pipes, precedence climbing for expressions, depth
//! bounded by [`ruleatlas_model::DepthGuard`]) -> [`ast::Query`] -> [`lower()`] -> [`Lowered`].
//!
//! What lowering makes of the language (Elasticsearch semantics, the EQL syntax reference):
//!
//! | EQL | predicate |
//! |---|---|
//! | `process where ...` | `event.category eq ["process"]` (`any` adds nothing) |
//! | `f : "x"` / `f : "x*"` / `f : ("a", "b")` | `eq` / `wildcard` / `in`, case-insensitive |
//! | `f == "x"`, `f != "x"` | `eq`, `ne`, case-sensitive |
//! | `f like "a*"`, `like~`, `regex`, `regex~` | `wildcard`, `regex_match` (`~`: case-insensitive) |
//! | `f in (...)`, `in~`, `f not in (...)` | `in` (the last with `negated`) |
//! | `f != null`, `f == null` | `exists [true]`, `exists [false]` |
//! | `startsWith`, `endsWith`, `stringContains`, `cidrMatch`, `wildcard`, `match` | `starts_with`, `ends_with`, `contains`, `cidr`, `wildcard`, `regex_match` |
//! | `length(f) > 5`, `substring(f, 0, 3) : "x"` | a `computed` predicate on `f`, `context.expr` |
//! | `f1 == f2`, `startsWith(f1, f2)` | a `join` predicate on `f1`, `context.other_fields` |
//! | `sequence by k [a] by x [b] by y until [c]` | `join` predicates for keys; `context.step`, `until` under NOT |
//! | `with runs=N`, `with maxspan=5m`, `![...]` | `context.runs`, `context.maxspan` (step 1), kind `absence` |
//! | `\| filter c` | ANDed; after `\| count` a filter on `count` is a `threshold` |
//! | `\| head`, `\| tail`, `\| sort`, `\| unique` | nothing (they do not say what is looked for) |

pub mod ast;
pub mod lexer;
mod lower;
pub mod parser;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{Condition, Lowered, Parsed, Unparsed};
use ruleatlas_text::TextRange;

pub use lower::{LowerContext, lower};

/// Parses an EQL query. Errors are diagnostics (codes `eql-syntax`, `limit-depth`) with the
/// byte range they are about; the tree keeps whatever parsed (a failed step has no query).
#[must_use]
pub fn parse(text: &str) -> Parsed<ast::Query> {
    if text.len() > ruleatlas_model::LIMITS.max_query_bytes {
        return Parsed {
            ast: missing(text),
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
            ast: missing(text),
            diagnostics: vec![Diagnostic::error("eql-syntax", e.message).with_range(e.range)],
        },
    }
}

fn missing(text: &str) -> ast::Query {
    ast::Query {
        source: text.to_string(),
        body: ast::Body::Missing,
        pipes: Vec::new(),
        range: TextRange::new(0, text.len()),
    }
}

/// Parses and lowers an EQL query; spans are relative to `text`.
///
/// A query that did not parse lowers to one unparsed fragment (reason `syntax error`) plus
/// its diagnostics. [`Lowered::finish`] is left to the caller, which may add more to the tree.
#[must_use]
pub fn lower_query(text: &str) -> Lowered {
    let parsed = parse(text);
    let mut l = if matches!(parsed.ast.body, ast::Body::Missing) && parsed.has_errors() {
        let mut l = Lowered::default();
        let reason = match parsed.diagnostics.first() {
            Some(d) if d.code == "limit-depth" => "nesting too deep",
            _ => "syntax error",
        };
        l.tree =
            l.unparsed(Unparsed::new(text.trim(), reason).with_span(TextRange::new(0, text.len())));
        l
    } else {
        let mut l = lower(&parsed.ast, &LowerContext::default());
        if parsed.has_errors() && l.unparsed.is_empty() {
            // An error the tree does not show (a bad pipe, trailing text): keep it visible.
            let d = parsed.diagnostics.iter().find(|d| d.is_error());
            let range = d
                .and_then(|d| d.range)
                .unwrap_or_else(|| TextRange::new(0, text.len()));
            let u = l.unparsed(Unparsed::new(range.slice(text), "syntax error").with_span(range));
            l.tree = Condition::and(vec![
                std::mem::replace(&mut l.tree, Condition::Const(true)),
                u,
            ]);
        }
        l
    };
    l.diagnostics.extend(parsed.diagnostics);
    l
}
