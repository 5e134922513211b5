//! The interface between the loader (which does I/O) and a vendor's rule-file reader
//! (which does none).
//!
//! The loader walks a repository, asks [`VendorAdapter::role`] what each file is, hands every
//! support file (macros, data models, `.py` files...) to [`VendorAdapter::support`], then
//! calls [`VendorAdapter::load`] on each rule file (in parallel) and finally
//! [`VendorAdapter::link`] over all documents (correlations, scheduled queries).

use std::collections::BTreeMap;

use ruleatlas_diagnostics::Diagnostic;

use crate::rule::{RuleDoc, Vendor};

/// What a file is to its vendor's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// A rule file: read with [`VendorAdapter::load`].
    Rule,
    /// A file rules depend on (macro definitions, data models, Python sources, helpers).
    Support,
    /// Not read.
    Ignore,
}

/// Support files of a repository, by relative path, as the loader read them.
#[derive(Debug, Default, Clone)]
pub struct Support {
    pub files: BTreeMap<String, String>,
}

impl Support {
    #[must_use]
    pub fn get(&self, rel_path: &str) -> Option<&str> {
        self.files.get(rel_path).map(String::as_str)
    }
}

/// What [`VendorAdapter::link`] did.
#[derive(Debug, Default, Clone)]
pub struct Linked {
    pub diagnostics: Vec<Diagnostic>,
    /// Indexes (into the slice `link` got) of every document it changed, in any order,
    /// repeats allowed.
    pub changed: Vec<usize>,
}

/// A vendor's reader of rule files. Implementations do no I/O.
pub trait VendorAdapter: Send + Sync {
    fn vendor(&self) -> Vendor;

    /// What the file at `rel_path` (relative to the repository root, `/`-separated) is.
    fn role(&self, rel_path: &str) -> FileRole;

    /// Prepares repository-wide context (macro tables, data models) from the support files.
    /// Called once, before any `load`. Problems become diagnostics.
    fn prepare(&mut self, support: &Support) -> Vec<Diagnostic>;

    /// Reads one rule file. A file that cannot be read becomes a `failed` [`RuleDoc`]; a file
    /// that is not a rule at all (a dashboard in a rule folder) yields no document and a
    /// diagnostic (returned in the second element).
    fn load(&self, rel_path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>);

    /// Links documents to each other once all are loaded (correlations, scheduled queries,
    /// filters), and says which documents it changed: the loader writes each document to the
    /// catalog as soon as it is loaded, and writes again only those.
    fn link(&self, _docs: &mut [RuleDoc]) -> Linked {
        Linked::default()
    }

    /// Whether this file's content looks like this vendor's (for `check` without `--vendor`).
    fn sniff(&self, rel_path: &str, text: &str) -> bool;
}
