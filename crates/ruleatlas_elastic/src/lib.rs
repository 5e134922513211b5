//! elastic/detection-rules: reads TOML rule files (`rules/**.toml`,
//! `rules_building_block/**.toml`) and hunts (`hunting/**.toml`) into [`RuleDoc`]s.
//!
//! The TOML is parsed with `toml::de::DeTable`, which keeps the byte range of every value;
//! each query string is decoded again here ([`tomlstr::string_map`]) so a predicate found
//! inside a `'''` query points at its line and column in the `.toml` file.
//!
//! A rule's condition is the AND of its query (KQL, Lucene, EQL or ES|QL, lowered by the
//! language crates), its Kibana filters ([`filters`]), and what its type adds:
//! - `threshold`: a `threshold` predicate `count ge N` (and `cardinality(field) ge N`), the
//!   group-by fields as `join` predicates (`exists`, context `group_by`);
//! - `new_terms`: the new-terms fields as `join` predicates (`exists`, context `new_terms`
//!   and `history_window_start`);
//! - `threat_match`: the `threat_query` and `threat_filters` (context `threat_query: true`)
//!   and the `threat_mapping` as `join` predicates (`field eq [threat field]`), entries of
//!   one mapping ANDed, mappings ORed;
//! - `machine_learning`: no query (`no_query`).
//!
//! Hunts (`[hunt]`) hold several queries; the language of each is read from its text
//! (ES|QL starts with `from` and pipes, osquery SQL with `select`, EQL has `where` or
//! `sequence`) and the queries are ORed.

pub mod filters;
mod hunt;
mod meta;
mod rule;
pub mod tomlstr;
mod types;

pub use hunt::{detect_language, fence_tag_len};

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    FileRole, LIMITS, Lowered, Origin, RuleDoc, RuleKind, Support, Unparsed, Vendor, VendorAdapter,
};
use ruleatlas_text::{LineIndex, TextRange};
use toml::de::DeTable;

use crate::tomlstr::{SValue, as_str, as_table, get, string_map};

/// The Elastic vendor adapter. Does no I/O.
#[derive(Debug, Default, Clone)]
pub struct ElasticAdapter;

impl ElasticAdapter {
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

/// The top folder of a path (`rules`, `rules_building_block`, `hunting`).
pub(crate) fn top(rel_path: &str) -> &str {
    rel_path.split('/').next().unwrap_or("")
}

pub(crate) fn is_deprecated_path(rel_path: &str) -> bool {
    rel_path
        .split('/')
        .any(|s| s == "_deprecated" || s == "deprecated")
}

impl VendorAdapter for ElasticAdapter {
    fn vendor(&self) -> Vendor {
        Vendor::Elastic
    }

    fn role(&self, rel_path: &str) -> FileRole {
        let toml = std::path::Path::new(rel_path)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if toml && matches!(top(rel_path), "rules" | "rules_building_block" | "hunting") {
            FileRole::Rule
        } else {
            FileRole::Ignore
        }
    }

    fn prepare(&mut self, _support: &Support) -> Vec<Diagnostic> {
        Vec::new()
    }

    fn load(&self, rel_path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        load_file(rel_path, text)
    }

    fn sniff(&self, rel_path: &str, text: &str) -> bool {
        let toml = std::path::Path::new(rel_path)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        toml && text.lines().any(|l| {
            let l = l.trim();
            l == "[rule]" || l == "[hunt]"
        })
    }
}

/// Reads one file (the adapter's `load`).
#[must_use]
pub fn load_file(rel_path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
    let lines = LineIndex::new(text);
    let doc = match DeTable::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let off = e.span().map_or(0, |s| s.start);
            let msg = e.message().trim().to_string();
            let d = Diagnostic::error("toml", format!("invalid TOML: {msg}"))
                .at(lines.line_column(text, off));
            let mut doc = RuleDoc::failed(Vendor::Elastic, rel_path, d);
            doc.kind = if top(rel_path) == "hunting" {
                RuleKind::Hunt
            } else {
                RuleKind::Rule
            };
            doc.deprecated = is_deprecated_path(rel_path);
            return (vec![doc], Vec::new());
        }
    };
    let root = doc.get_ref();
    let file = File {
        path: rel_path,
        text,
        lines: &lines,
    };
    if let Some(hunt) = get(root, "hunt").and_then(as_table) {
        return (vec![hunt::load_hunt(&file, hunt)], Vec::new());
    }
    if let Some(rule) = get(root, "rule").and_then(as_table) {
        return (vec![rule::load_rule(&file, root, rule)], Vec::new());
    }
    let d = Diagnostic::warning("not-a-rule", "no [rule] or [hunt] table: not a rule file")
        .with_path(rel_path)
        .at(lines.line_column(text, 0));
    (Vec::new(), vec![d])
}

pub(crate) struct File<'a> {
    pub(crate) path: &'a str,
    pub(crate) text: &'a str,
    pub(crate) lines: &'a LineIndex,
}

impl File<'_> {
    pub(crate) fn origin(&self, offset: usize) -> Origin {
        Origin::new(self.path, self.lines.line_column(self.text, offset))
    }

    /// Lowers a query string value in `language`, with origins in this file.
    fn lower_query(
        &self,
        v: &SValue<'_>,
        language: &str,
        context: &[(String, serde_json::Value)],
    ) -> Lowered {
        self.lower_query_from(v, 0, language, context)
    }

    /// [`Self::lower_query`] on the decoded string from byte `skip` on.
    pub(crate) fn lower_query_from(
        &self,
        v: &SValue<'_>,
        skip: usize,
        language: &str,
        context: &[(String, serde_json::Value)],
    ) -> Lowered {
        let Some(q) = as_str(v) else {
            let mut l = Lowered::default();
            let mut u = Unparsed::new("(query)", "query is not a string");
            u.origin = Some(self.origin(v.span().start));
            l.tree = l.unparsed(u);
            return l;
        };
        let mut l = lower_language(q.get(skip..).unwrap_or(q), language, context);
        let map = string_map(self.text, v.span(), q);
        l.resolve_origins(self.path, &|off| {
            self.lines.line_column(self.text, map.to_source(off + skip))
        });
        l
    }
}

/// Lowers `query` written in `language` (`kuery`, `lucene`, `eql`, `esql`).
#[must_use]
pub fn lower_language(
    query: &str,
    language: &str,
    context: &[(String, serde_json::Value)],
) -> Lowered {
    if query.len() > LIMITS.max_query_bytes {
        let mut l = Lowered::default();
        let reason = format!("query longer than {} bytes", LIMITS.max_query_bytes);
        let u = Unparsed::new(query, reason.clone()).with_span(TextRange::empty(0));
        l.tree = l.unparsed(u);
        l.diagnostics
            .push(Diagnostic::error("limit-query-size", reason).with_range(TextRange::empty(0)));
        return l;
    }
    let mut l = match language {
        "kuery" | "kql" => {
            let mut ctx = ruleatlas_kql::LowerContext::default();
            ctx.context.extend(context.iter().cloned());
            ruleatlas_kql::lower_query_with(query, &ctx)
        }
        "lucene" => {
            let mut ctx = ruleatlas_lucene::LowerContext::default();
            ctx.context.extend(context.iter().cloned());
            ruleatlas_lucene::lower_query_with(query, &ctx)
        }
        "eql" => with_context(ruleatlas_eql::lower_query(query), context),
        "esql" => with_context(ruleatlas_esql::lower_query(query), context),
        other => {
            let mut l = Lowered::default();
            let u = Unparsed::new(
                query.trim(),
                format!("query language not supported: {other}"),
            )
            .with_span(TextRange::new(0, query.len()));
            l.tree = l.unparsed(u);
            l
        }
    };
    if query.trim().is_empty() && l.predicates.is_empty() && l.unparsed.is_empty() {
        l.diagnostics
            .push(Diagnostic::warning("empty-query", "the query is empty"));
    }
    l
}

fn with_context(mut l: Lowered, context: &[(String, serde_json::Value)]) -> Lowered {
    for p in &mut l.predicates {
        for (k, v) in context {
            p.context.insert(k.clone(), v.clone());
        }
    }
    l
}

#[cfg(test)]
mod predicate_limit_tests {
    /// Regression (robustness): a rule over `LIMITS.max_predicates` gets a `limit-predicates`
    /// diagnostic besides the unparsed leaves `Lowered::pred` makes of the rest.
    #[test]
    fn too_many_predicates_is_a_diagnostic() {
        let n = ruleatlas_model::LIMITS.max_predicates + 1;
        let terms: Vec<String> = (0..n).map(|i| format!("f{i}:x")).collect();
        let q = "'''";
        let toml = format!(
            "[rule]\nname = \"Many\"\nrule_id = \"many\"\ntype = \"query\"\nlanguage = \"kuery\"\nquery = {q}\n{}\n{q}\n",
            terms.join(" or ")
        );
        let (docs, _) = super::load_file("rules/many.toml", &toml);
        assert!(
            docs[0]
                .lowered
                .diagnostics
                .iter()
                .any(|d| d.code == "limit-predicates"),
            "{:?}",
            docs[0].lowered.diagnostics
        );
    }
}
