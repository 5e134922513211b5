//! Diagnostics: what went wrong (or looked odd) while reading a rule, and where.
//!
//! Parsers produce diagnostics with a byte [`TextRange`] into the text they parsed; the vendor
//! adapter that knows the file resolves them to a path, line and column with
//! [`Diagnostic::locate`]. A diagnostic never stops a build: it is stored in the catalog.

use ruleatlas_text::{LineColumn, TextRange};
use serde::{Deserialize, Serialize};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file or query could not be read; a rule built from it is `failed` or `partial`.
    Error,
    /// Something was read but looks wrong (an unknown key, a duplicate id).
    Warning,
    /// Worth knowing (an ATT&CK id unknown to the loaded version).
    Info,
}

/// One diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A short stable code, e.g. `yaml`, `sigma-condition`, `limit-depth`, `duplicate-id`.
    pub code: String,
    pub message: String,
    /// The file the diagnostic is about, relative to its repository when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<u32>,
    /// Byte range in the text that was parsed (not the file); resolved by [`Self::locate`].
    #[serde(skip)]
    pub range: Option<TextRange>,
}

impl Diagnostic {
    #[must_use]
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity,
            code: code.into(),
            message: message.into(),
            path: None,
            line: None,
            column: None,
            range: None,
        }
    }

    #[must_use]
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    #[must_use]
    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    #[must_use]
    pub fn info(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Info, code, message)
    }

    /// Attaches a range in the parsed text.
    #[must_use]
    pub fn with_range(mut self, range: TextRange) -> Self {
        self.range = Some(range);
        self
    }

    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    #[must_use]
    pub fn at(mut self, pos: LineColumn) -> Self {
        self.line = Some(pos.line);
        self.column = Some(pos.column);
        self
    }

    /// Resolves the range (if any, and if no line is set yet) into a line and column with
    /// `locate`, which maps an offset in the parsed text to a file position, and sets the path.
    pub fn locate(&mut self, path: &str, locate: &dyn Fn(usize) -> LineColumn) {
        if self.path.is_none() {
            self.path = Some(path.to_string());
        }
        if self.line.is_none()
            && let Some(r) = self.range
        {
            let pos = locate(r.start as usize);
            self.line = Some(pos.line);
            self.column = Some(pos.column);
        }
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{p}")?;
            if let (Some(l), Some(c)) = (self.line, self.column) {
                write!(f, ":{l}:{c}")?;
            }
            write!(f, ": ")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        write!(f, "{sev}[{}]: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_path_line_column_and_code() {
        let mut d = Diagnostic::error("yaml", "mapping values are not allowed here")
            .with_range(TextRange::new(5, 6));
        d.locate("rules/x.yml", &|off| LineColumn {
            line: 2,
            column: u32::try_from(off).unwrap_or(0),
        });
        assert_eq!(
            d.to_string(),
            "rules/x.yml:2:5: error[yaml]: mapping values are not allowed here"
        );
    }
}
