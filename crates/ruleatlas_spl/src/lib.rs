//! Splunk SPL: security_content detections, macro expansion, a pipeline parser and lowering
//! into the predicate model.
//!
//! The data's path through this crate:
//!
//! 1. [`MacroTable::expand`] (`macros`): `` `okta` ``, `` `name(a,b)` `` with `$arg$`
//!    substitution, nested macros, cycle and argument-count checks, the built-in
//!    `drop_dm_object_name(X)` (`rename X.* AS *`) and empty `*_filter` hooks. Every byte of
//!    the expanded text remembers whether it came from the query or from a macro file.
//! 2. [`parse`] (`lexer`, `parser`, `ast`): the pipeline, each command with its own syntax;
//!    the search language (OR binds tighter than AND) and `eval`/`where` expressions (Pratt).
//! 3. [`lower`] (`lower`): filters ANDed along the pipeline, with field meaning tracked
//!    across `rename`, `eval`, `stats`/`tstats` (thresholds), `lookup` (unparsed) and
//!    subsearches (`context.subsearch`).
//! 4. [`SplunkAdapter`] (`adapter`): YAML detections, metadata, and positions mapped back
//!    through the YAML string decoding or into the macro file (`context.macro`).
//!
//! ```
//! let mut macros = ruleatlas_spl::MacroTable::new();
//! macros.insert("okta", &[], r#"eventtype=okta_log OR sourcetype="OktaIM2:log""#);
//! let a = ruleatlas_spl::analyze("`okta` eventType=x | stats count by user | where count > 2", &macros);
//! let p: Vec<String> = a.lowered.predicates.iter().map(|p| format!("{} {} {}", p.raw_field, p.op, p.values[0].to_text())).collect();
//! assert_eq!(p, ["eventtype eq okta_log", "sourcetype eq OktaIM2:log", "eventType eq x", "count gt 2"]);
//! ```

mod adapter;
pub mod ast;
pub mod lexer;
mod lower;
pub mod macros;
mod parser;

pub use adapter::{Analysis, DataSource, SplunkAdapter};
pub use ast::Ast;
pub use lower::{LowerContext, datamodels, lower};
pub use macros::{Expansion, MacroDef, MacroTable};
pub use parser::{named_groups, parse};

/// Expands macros in `query`, parses and lowers it. Spans in the result index the expanded
/// text ([`Expansion::text`]); diagnostics of all three steps are in `lowered.diagnostics`.
#[must_use]
pub fn analyze(query: &str, macros: &MacroTable) -> Analysis {
    if query.len() > ruleatlas_model::LIMITS.max_query_bytes {
        return too_long(query);
    }
    let expansion = macros.expand(query);
    let parsed = parse(&expansion.text);
    let ctx = LowerContext {
        macro_failures: expansion.failures.iter().cloned().collect(),
    };
    let mut lowered = lower(&parsed.ast, &ctx);
    let mut diags = expansion.diagnostics.clone();
    diags.extend(parsed.diagnostics);
    diags.append(&mut lowered.diagnostics);
    lowered.diagnostics = diags;
    let datamodels = datamodels(&parsed.ast);
    Analysis {
        expansion,
        lowered,
        datamodels,
    }
}

/// A search over `LIMITS.max_query_bytes`: not parsed; one unparsed leaf and a diagnostic.
fn too_long(query: &str) -> Analysis {
    let limit = ruleatlas_model::LIMITS.max_query_bytes;
    let reason = format!("query longer than {limit} bytes");
    let mut cut = 200.min(query.len());
    while !query.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut lowered = ruleatlas_model::Lowered::default();
    let u = ruleatlas_model::Unparsed::new(format!("{} ...", &query[..cut]), reason.clone())
        .with_span(ruleatlas_text::TextRange::empty(0));
    lowered.tree = lowered.unparsed(u);
    lowered.diagnostics.push(
        ruleatlas_diagnostics::Diagnostic::error("limit-query-size", reason)
            .with_range(ruleatlas_text::TextRange::empty(0)),
    );
    Analysis {
        expansion: Expansion::default(),
        lowered,
        datamodels: Vec::new(),
    }
}

#[cfg(test)]
mod limit_tests {
    /// Regression (robustness): a search over the query-size limit is not parsed; it is one
    /// unparsed leaf with a `limit-query-size` diagnostic.
    #[test]
    fn query_over_the_size_limit_is_a_diagnostic() {
        let q = format!(
            "index=main {}",
            "x=1 ".repeat(ruleatlas_model::LIMITS.max_query_bytes / 4)
        );
        let a = super::analyze(&q, &super::MacroTable::new());
        assert!(a.lowered.predicates.is_empty());
        assert_eq!(a.lowered.unparsed.len(), 1);
        assert!(
            a.lowered
                .diagnostics
                .iter()
                .any(|d| d.code == "limit-query-size")
        );
    }
}

#[cfg(test)]
mod predicate_limit_tests {
    /// Regression (robustness): a rule over `LIMITS.max_predicates` gets a `limit-predicates`
    /// diagnostic besides the unparsed leaves `Lowered::pred` makes of the rest.
    #[test]
    fn too_many_predicates_is_a_diagnostic() {
        let n = ruleatlas_model::LIMITS.max_predicates + 1;
        let terms: Vec<String> = (0..n).map(|i| format!("f{i}=x")).collect();
        let a = super::analyze(
            &format!("index=main {}", terms.join(" ")),
            &super::MacroTable::new(),
        );
        assert!(
            a.lowered
                .diagnostics
                .iter()
                .any(|d| d.code == "limit-predicates")
        );
    }
}
