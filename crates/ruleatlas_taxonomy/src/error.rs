//! Errors found while reading a taxonomy file.

use std::fmt;

/// A taxonomy file that cannot be used. Every variant names the file, and validation errors
/// name the entry, so a failing test points at the line to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxonomyError {
    /// The file is not valid TOML or does not have the expected shape.
    Parse { file: &'static str, message: String },
    /// The file parsed but an entry is wrong (duplicate, conflict, cycle, unknown name).
    Invalid {
        file: &'static str,
        entry: String,
        message: String,
    },
}

impl TaxonomyError {
    pub(crate) fn invalid(
        file: &'static str,
        entry: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        TaxonomyError::Invalid {
            file,
            entry: entry.into(),
            message: message.into(),
        }
    }

    /// The entry the error is about (`field "process.name"`, `source "aws-cloudtrail"`...),
    /// empty for parse errors.
    #[must_use]
    pub fn entry(&self) -> &str {
        match self {
            TaxonomyError::Parse { .. } => "",
            TaxonomyError::Invalid { entry, .. } => entry,
        }
    }
}

impl fmt::Display for TaxonomyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaxonomyError::Parse { file, message } => write!(f, "{file}: {message}"),
            TaxonomyError::Invalid {
                file,
                entry,
                message,
            } => write!(f, "{file}: {entry}: {message}"),
        }
    }
}

impl std::error::Error for TaxonomyError {}
