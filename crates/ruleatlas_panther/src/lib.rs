//! Panther (panther-analysis) rules in the predicate model.
//!
//! A Panther rule is a YAML file (`AnalysisType`, `RuleID`, `LogTypes`, `Reports`, `Tests`...)
//! whose detection is either the `rule(event)` function of the Python file it names
//! (`Filename`), a YAML `Detection:` of match expressions, a correlation of other rules, or a
//! SQL query (`scheduled_rule` + `scheduled_query`). This crate reads all four:
//!
//! - [`python`]: a depth pre-scan, `ruff_python_parser`, and a symbolic execution of
//!   `rule(event)` that follows guards and branches, inlines helpers and resolves data models;
//! - [`detection`]: YAML match expressions (`Key`/`DeepKey`/`KeyPath`, every `Condition`,
//!   `All`/`Any`/`OnlyOne`/`None`, list comprehensions);
//! - [`correlation`]: `Sequence`/`Group` correlation rules (links, absence, join criteria);
//! - [`sql`]: the `WHERE`/`HAVING` clauses of Snowflake queries;
//! - [`eval`]: an evaluator of a lowered tree on one event, for rules' own `Tests:`;
//! - [`PantherAdapter`]: the [`ruleatlas_model::VendorAdapter`] tying them together.

pub mod adapter;
pub mod correlation;
pub mod detection;
pub mod eval;
pub mod namespaces;
pub mod python;
pub mod sql;

pub use adapter::PantherAdapter;
pub use eval::evaluate;
pub use python::{Ast, LowerContext, lower, parse};
