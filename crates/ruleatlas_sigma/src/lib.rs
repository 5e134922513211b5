//! Sigma rules: YAML detections, the condition grammar, correlation rules and filters.
//!
//! The path of the data, file by file:
//!
//! - [`document`]: the YAML documents of a file (with a position on every node), rule
//!   collections (`action: global` / `reset` / `repeat`) merged the way the Sigma 1.0
//!   specification says, and each document's kind (rule, correlation, filter).
//! - [`condition`]: a hand-written lexer and recursive-descent parser for `condition:`
//!   (`and or not ( )`, `1 of x*`, `all of them`, the deprecated `| count() by x > n`), with a
//!   depth guard.
//! - [`modifiers`]: `field|contains|all` keys and the specification's wildcard escaping.
//! - `detection`: search identifiers lowered into the predicate model (maps AND, lists OR,
//!   a value list one `in`, `|contains` with a list one `contains`, `|all` one per value,
//!   keywords `_text match`, `null` `exists [false]`), then combined by the condition tree.
//! - `correlation`: `correlation:` sections (thresholds, group-by joins, rule links).
//! - [`SigmaAdapter`]: the [`ruleatlas_model::VendorAdapter`] over SigmaHQ-style folders.
//!
//! Values are kept as written: modifiers that change what a backend searches for (`base64`,
//! `base64offset`, `wide`/`utf16*`, `windash`) leave the value alone and are recorded in the
//! predicate's context (`{"modifier": "base64offset"}`); `expand` marks `{"placeholder": true}`.
//! Sigma matches case-insensitively except `re` (unless `|i`) and `|cased`.

mod adapter;
pub mod condition;
mod correlation;
mod detection;
pub mod document;
mod meta;
pub mod modifiers;

pub use adapter::{LoweredDocument, SigmaAdapter, lower_document};
pub use detection::LowerContext;
pub use document::{DocKind, SigmaDocument, SigmaFile};

use ruleatlas_model::{Lowered, Parsed};

/// Parses a Sigma file: every YAML document, collection actions applied.
#[must_use]
pub fn parse(text: &str) -> Parsed<SigmaFile> {
    document::parse(text)
}

/// Lowers one document of a parsed file (see [`lower_document`] for links and extras).
#[must_use]
pub fn lower(doc: &SigmaDocument, ctx: &LowerContext) -> Lowered {
    lower_document(doc, ctx).lowered
}
