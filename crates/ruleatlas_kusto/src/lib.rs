//! Kusto Query Language (KQL) for Microsoft Sentinel analytic rules.
//!
//! The path of a query through this crate:
//!
//! 1. [`lexer`]: source text -> tokens with byte spans (strings decoded, `!has`, `in~` as one
//!    token, timespans such as `1d`).
//! 2. [`parser`]: tokens -> [`ast::Script`] (statements, pipelines, scalar expressions), with
//!    every error as a diagnostic carrying a span, recovery at `|` and `;`, and nesting bounded
//!    by [`ruleatlas_model::DepthGuard`].
//! 3. [`lower`]: the AST -> [`ruleatlas_model::Lowered`]: `let` names resolved where used,
//!    `where` filters as predicates, `join`/`union`/`lookup`/`mv-apply` subqueries folded in,
//!    columns made inside the query marked `computed`, filters on aggregates as `threshold`.
//! 4. [`KustoAdapter`]: Sentinel YAML analytic rules -> [`ruleatlas_model::RuleDoc`]s.
//!
//! The operator mapping is written down in `docs/kusto-ops.md`.

mod adapter;
pub mod ast;
pub mod lexer;
mod lower;
pub mod parser;
pub mod tables;

pub use adapter::{KustoAdapter, load_rule, normalize_technique};
pub use lower::{LowerContext, QueryInfo, lower, lower_with_info, render};
pub use parser::parse;
