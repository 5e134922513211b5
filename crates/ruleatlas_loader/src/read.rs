//! Bounded, defensive file reading.

use std::io::Read;
use std::path::Path;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::LIMITS;
use ruleatlas_text::LineIndex;

/// Why a file could not be read as rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    NotAFile(String),
    TooLarge { bytes: u64, limit: u64 },
    Empty,
    Binary,
    NotUtf8 { line: u32, column: u32 },
    Io(String),
}

impl ReadError {
    /// The diagnostic for `rel_path`.
    #[must_use]
    pub fn into_diagnostic(self, rel_path: &str) -> Diagnostic {
        let d = match self {
            ReadError::NotAFile(kind) => {
                Diagnostic::error("unreadable", format!("not a regular file ({kind})"))
            }
            ReadError::TooLarge { bytes, limit } => Diagnostic::error(
                "limit-file-size",
                format!("file is {bytes} bytes, over the {limit}-byte limit"),
            ),
            ReadError::Empty => Diagnostic::error("empty", "empty file"),
            ReadError::Binary => Diagnostic::error("binary", "binary file (NUL bytes)"),
            ReadError::NotUtf8 { line, column } => {
                let mut d = Diagnostic::error("encoding", "not valid UTF-8");
                d.line = Some(line);
                d.column = Some(column);
                d
            }
            ReadError::Io(msg) => Diagnostic::error("unreadable", msg),
        };
        let needs_pos = d.line.is_none();
        let mut d = d.with_path(rel_path);
        if needs_pos {
            d.line = Some(1);
            d.column = Some(1);
        }
        d
    }
}

/// Reads a file as UTF-8 text (BOM stripped), refusing non-files (FIFOs, devices), files over
/// [`LIMITS.max_file_bytes`], empty and binary files, and invalid UTF-8.
///
/// # Errors
/// A [`ReadError`] naming the reason.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| ReadError::Io(e.to_string()))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "a FIFO, socket or device"
        };
        return Err(ReadError::NotAFile(kind.to_string()));
    }
    if meta.len() > LIMITS.max_file_bytes {
        return Err(ReadError::TooLarge {
            bytes: meta.len(),
            limit: LIMITS.max_file_bytes,
        });
    }
    let file = std::fs::File::open(path).map_err(|e| ReadError::Io(e.to_string()))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may have grown since `metadata`: never read past the limit.
    file.take(LIMITS.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if bytes.len() as u64 > LIMITS.max_file_bytes {
        return Err(ReadError::TooLarge {
            bytes: bytes.len() as u64,
            limit: LIMITS.max_file_bytes,
        });
    }
    decode(bytes)
}

/// Decodes file bytes as rule text.
///
/// # Errors
/// Empty, binary or invalid UTF-8 content.
pub fn decode(bytes: Vec<u8>) -> Result<String, ReadError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::Empty);
    }
    if bytes.contains(&0) {
        return Err(ReadError::Binary);
    }
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            if s.starts_with('\u{feff}') {
                s.drain(..3);
            }
            Ok(s)
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..valid]);
            let pos = LineIndex::new(&prefix).line_column(&prefix, prefix.len());
            Err(ReadError::NotUtf8 {
                line: pos.line,
                column: pos.column,
            })
        }
    }
}
