//! Python `rule(event)` analysis.
//!
//! [`parse`] checks the nesting depth with a cheap scan ([`scan::check_depth`]) and only then
//! hands the text to `ruff_python_parser`; [`lower`] follows the control flow of
//! `def rule(event):` symbolically (guards, if/elif/else, local variables, helper functions,
//! global helpers, data models) and builds the condition tree.

pub(crate) mod lower;
pub mod scan;

use std::collections::BTreeMap;
use std::sync::Arc;

use ruff_python_ast::ModModule;
use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{LIMITS, Lowered, Parsed};
use ruleatlas_text::{LineIndex, TextRange};

/// A parsed Python file: its text, line index and syntax tree.
#[derive(Debug)]
pub struct Ast {
    pub text: String,
    pub lines: LineIndex,
    /// `None` when the file was not handed to the parser (too deep).
    pub module: Option<ModModule>,
}

impl Ast {
    /// The statements of the module (none when it was not parsed).
    #[must_use]
    pub fn body(&self) -> &[ruff_python_ast::Stmt] {
        self.module.as_ref().map_or(&[], |m| &m.body[..])
    }
}

/// Parses Python source. Errors (too deep, syntax errors) are diagnostics with a range;
/// a syntax error still yields ruff's recovered tree.
#[must_use]
pub fn parse(text: &str) -> Parsed<Ast> {
    let lines = LineIndex::new(text);
    let mut diagnostics = Vec::new();
    if let Err(at) = scan::check_depth(text, LIMITS.max_depth) {
        diagnostics.push(
            Diagnostic::error(
                "limit-depth",
                format!("python nesting deeper than {} levels; not parsed", at.max),
            )
            .with_range(TextRange::empty(at.offset)),
        );
        return Parsed {
            ast: Ast {
                text: text.to_string(),
                lines,
                module: None,
            },
            diagnostics,
        };
    }
    let parsed =
        ruff_python_parser::parse_unchecked_source(text, ruff_python_ast::PySourceType::Python);
    for e in parsed.errors() {
        let r = e.location;
        diagnostics.push(
            Diagnostic::error("python-syntax", format!("syntax error: {}", e.error))
                .with_range(TextRange::new(r.start().to_usize(), r.end().to_usize())),
        );
    }
    let module = parsed.into_syntax();
    Parsed {
        ast: Ast {
            text: text.to_string(),
            lines,
            module: Some(module),
        },
        diagnostics,
    }
}

/// A Python module the lowering may inline from (a global helper, a data model's methods).
#[derive(Debug)]
pub struct PyModule {
    /// Path relative to the repository root.
    pub path: String,
    pub ast: Ast,
}

impl PyModule {
    /// Parses a support file; problems are returned as diagnostics (with the path set).
    #[must_use]
    pub fn parse(path: &str, text: &str) -> (Self, Vec<Diagnostic>) {
        let parsed = parse(text);
        let mut diags = parsed.diagnostics;
        let lines = parsed.ast.lines.clone();
        for d in &mut diags {
            d.locate(path, &|off| lines.line_column(text, off));
        }
        (
            Self {
                path: path.to_string(),
                ast: parsed.ast,
            },
            diags,
        )
    }
}

/// How a data model maps a unified field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdmMapping {
    /// A field path (`userAgent`, `$.responseElements.user.userName`).
    Path(String),
    /// A function of the data model's Python file.
    Method(String),
}

/// A data model (`data_models/*.yml`) for one or more log types.
#[derive(Debug, Default)]
pub struct DataModel {
    pub id: String,
    pub mappings: BTreeMap<String, UdmMapping>,
    /// The data model's Python file, when the repository has it.
    pub module: Option<Arc<PyModule>>,
    /// The `.py` the data model names, for messages.
    pub filename: Option<String>,
}

/// Repository-wide context: global helper modules and data models.
#[derive(Debug, Default)]
pub struct Repo {
    /// Python modules by module name (`panther_base_helpers`).
    pub helpers: BTreeMap<String, Arc<PyModule>>,
    /// Data models by log type (`AWS.CloudTrail`).
    pub data_models: BTreeMap<String, Arc<DataModel>>,
}

/// What lowering a rule's Python needs.
#[derive(Debug, Clone, Default)]
pub struct LowerContext {
    /// The `.py` path, for origins.
    pub path: String,
    /// The rule's `LogTypes` (for `event.udm(...)`).
    pub log_types: Vec<String>,
    pub repo: Arc<Repo>,
}

/// Lowers the `rule` function of a parsed file into a condition tree.
#[must_use]
pub fn lower(ast: &Ast, ctx: &LowerContext) -> Lowered {
    lower::lower_rule(ast, ctx)
}
