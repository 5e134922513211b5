//! The catalog.
//!
//! A build writes one SQLite file ([`write::write_catalog`]): rules, their techniques,
//! predicates, unparsed fragments, diagnostics, ATT&CK techniques and tactics, and build
//! figures. It is written to a temporary file beside the target and renamed over it, so a
//! killed build never damages the previous catalog. The schema is documented in
//! `docs/catalog.md`.
//!
//! Readers open it read-only and load it into an [`Index`] held in memory; stats, guides,
//! searches and field listings are computed from the index ([`guide`], [`stats`]).

pub mod guide;
mod index;
pub mod query;
mod schema;
pub mod stats;
pub mod write;

pub use index::{Index, IndexedRule, TechniqueRow};
pub use write::{BuildInput, CatalogWriter, RuleJson, write_catalog};

/// Errors of the catalog.
#[derive(Debug)]
pub enum CatalogError {
    Sqlite(rusqlite::Error),
    Io(std::io::Error),
    /// The file is not a RuleAtlas catalog (or of another schema version).
    NotACatalog(String),
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogError::Sqlite(e) => write!(f, "catalog database error: {e}"),
            CatalogError::Io(e) => write!(f, "catalog file error: {e}"),
            CatalogError::NotACatalog(m) => write!(f, "not a RuleAtlas catalog: {m}"),
        }
    }
}

impl std::error::Error for CatalogError {}

impl From<rusqlite::Error> for CatalogError {
    fn from(e: rusqlite::Error) -> Self {
        CatalogError::Sqlite(e)
    }
}

impl From<std::io::Error> for CatalogError {
    fn from(e: std::io::Error) -> Self {
        CatalogError::Io(e)
    }
}
