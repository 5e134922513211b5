//! The predicate model: one shape for what every rule language filters on.
//!
//! Each language crate parses its query into its own AST and *lowers* it into a [`Lowered`]:
//! a condition tree of And/Or/Not over predicates (by index into `predicates`) and unparsed
//! fragments (by index into `unparsed`). The flat predicate list is the tree's leaves; after
//! lowering, [`Lowered::finish`] derives each predicate's `negated` and `exclusion` from its
//! position in the tree, so languages never compute them by hand.
//!
//! A vendor adapter ([`VendorAdapter`]) turns one rule *file* (text, no I/O) into
//! [`RuleDoc`]s: metadata plus the lowered query. The loader walks repositories and calls it.

mod adapter;
mod guard;
mod predicate;
mod rule;
pub mod wildcard;

pub use adapter::{FileRole, Linked, Support, VendorAdapter};
pub use guard::{DepthGuard, LIMITS, Limits};
pub use predicate::{
    Condition, Lowered, Op, Origin, ParseStatus, Parsed, Predicate, PredicateKind, Unparsed, Value,
};
pub use rule::{RuleDoc, RuleKind, RuleTest, TechniqueRef, Vendor};
