//! YARA-L 2.0 (Google SecOps / Chronicle detection rules).
//!
//! The data path: file text -> [`lexer`] tokens -> [`parser`] syntax tree ([`ast`]) ->
//! [`mod@lower`] predicates; [`adapter::YaralAdapter`] does the same for rule files and fills
//! the rule metadata ([`meta`]).
//!
//! Decisions the rest of RuleAtlas relies on:
//! - One [`ruleatlas_model::RuleDoc`] per `rule NAME { ... }`; a file may hold several.
//!   `native_id` is `meta.rule_id`, else the rule name; `title` is `meta.rule_name`, else the
//!   rule name.
//! - Fields are UDM paths without the event variable (`metadata.event_type`), the variable in
//!   `context.event` (`"$e"`). Map access keeps the key as written:
//!   `security_result.detection_fields["key"]`; repeated `labels.key`/`labels.value` stay so.
//! - String comparisons are case-sensitive (YARA-L's default) unless `nocase`, a regex `i`
//!   flag or `(?i)`, or a `strings.to_lower/to_upper(x)` wrapper (a case-insensitive
//!   comparison on `x`). Numbers and CIDR ranges have `case_sensitive: false`.
//! - `x in %list` is `in` with `values: []` and `context.reference_list`; `in regex %l` is
//!   `regex_match`, `in cidr %l` is `cidr`, both with `values: []`; `x = %table.column` too.
//! - Placeholders: `$e.f = $user` and field-to-field comparisons are `join` predicates
//!   (values: the other side as text); a placeholder compared with a constant is lowered on
//!   the fields it is bound to, with `context.placeholder`.
//! - Computed values compared with a constant (`timestamp.get_hour($e.t) < 6`,
//!   `$b.t - $a.t > 300`) are `computed` predicates whose field is the expression as written
//!   (a join when two events take part); functions outside YARA-L's namespaces are unparsed.
//! - `condition:` gives the tree: `$e` is its events' statements, `#e > 5` and
//!   `$outcome > 10` are `threshold`, `!$e` an `absence` predicate (the absent event's
//!   filters stay as filters with `context.absent`). `if(...)` conditions in `outcome:` are
//!   `scoring` predicates under `Or(true, ...)`: reachable, never filtering.
//! - ATT&CK: see [`meta`]; a technique named but given no id is
//!   `TechniqueRef { id: "", name: Some(..) }` for the loader to resolve through the bundles.
//! - Logsource hints: `metadata.product_name` -> `product`, `vendor_name` -> `vendor`,
//!   `log_type` -> `log_type`, `event_type` -> `event_type` (from positive filters), and meta
//!   `data_source`, `product`, `service`, `category`; `raw_platforms` from meta `platform`,
//!   `product`, `data_source` and the product/vendor/log-type values; `raw_domains` from
//!   `data_source` and log types.
//!
//! ```
//! let parsed = ruleatlas_yaral::parse(r#"rule r {
//!   meta:
//!     author = "me"
//!   events:
//!     $e.metadata.event_type = "USER_LOGIN"
//!   condition:
//!     $e
//! }"#);
//! assert!(parsed.diagnostics.is_empty());
//! let mut lowered = ruleatlas_yaral::lower(&parsed.ast, &Default::default());
//! lowered.finish();
//! assert_eq!(lowered.predicates[0].raw_field, "metadata.event_type");
//! ```

pub mod adapter;
pub mod ast;
pub mod lexer;
pub mod lower;
pub mod meta;
pub mod parser;

pub use adapter::YaralAdapter;
pub use ast::RuleFile as Ast;
pub use lower::{LowerContext, lower, lower_rule};
pub use meta::{tactics_from_meta, technique_refs_from_meta};
pub use parser::parse;
