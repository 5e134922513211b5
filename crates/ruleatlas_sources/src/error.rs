//! Errors that say what went wrong and what to do next.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why the configuration, a source or the cache could not be used.
///
/// Every message names the file, entry or directory at fault and ends with what to do next.
/// Nothing partial is ever returned alongside an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourcesError {
    /// The configuration file could not be read or parsed, or a value in it is invalid.
    Config { file: PathBuf, message: String },
    /// One `[[source]]` entry is invalid or could not be read.
    Source {
        file: PathBuf,
        index: usize,
        label: String,
        message: String,
    },
    /// The cache directory holds something unusable (a half export, a broken clone).
    Cache { path: PathBuf, message: String },
    /// A file system operation failed.
    Io { path: PathBuf, message: String },
}

impl SourcesError {
    pub(crate) fn config(file: &Path, message: impl Into<String>) -> Self {
        SourcesError::Config {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }
    pub(crate) fn io(path: &Path, err: &std::io::Error) -> Self {
        SourcesError::Io {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
    pub(crate) fn cache(path: &Path, message: impl Into<String>) -> Self {
        SourcesError::Cache {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SourcesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourcesError::Config { file, message } => write!(f, "{}: {message}", file.display()),
            SourcesError::Source {
                file,
                index,
                label,
                message,
            } => {
                write!(
                    f,
                    "{}: [[source]] #{index} ({label}): {message}",
                    file.display()
                )
            }
            SourcesError::Cache { path, message } => {
                write!(f, "corrupt cache at {}: {message}", path.display())
            }
            SourcesError::Io { path, message } => {
                write!(
                    f,
                    "{}: {message} (check that the path is writable and the disk is not full)",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for SourcesError {}
