//! The Splunk vendor adapter: `splunk/security_content` detections (`detections/**.yml`)
//! with the repository's macros (`macros/*.yml`), data sources (`data_sources/*.yml`) and
//! lookups (`lookups/*.yml`).

use std::collections::HashMap;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    FileRole, Origin, ParseStatus, RuleDoc, RuleKind, Support, TechniqueRef, Vendor, VendorAdapter,
};
use ruleatlas_text::{LineColumn, LineIndex, OffsetMap};
use ruleatlas_yaml::Node;

use crate::macros::{Expansion, MacroTable};

/// What a `data_sources/*.yml` file says about a data source name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSource {
    pub name: String,
    pub source: Option<String>,
    pub sourcetype: Option<String>,
    /// `supported_TA[].name`.
    pub supported_ta: Vec<String>,
}

/// Reads Splunk security_content detections. Build with [`SplunkAdapter::new`]; the loader
/// calls `prepare` with the support files (macros, data sources, lookups) before `load`.
#[derive(Debug, Clone, Default)]
pub struct SplunkAdapter {
    macros: MacroTable,
    data_sources: HashMap<String, DataSource>,
    lookups: HashMap<String, String>,
}

fn under(path: &str, dir: &str) -> bool {
    path.starts_with(&format!("{dir}/")) || path.contains(&format!("/{dir}/"))
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yml") || path.ends_with(".yaml")
}

impl SplunkAdapter {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The macro table built by `prepare`.
    #[must_use]
    pub fn macros(&self) -> &MacroTable {
        &self.macros
    }

    /// The data sources read by `prepare`, by name.
    #[must_use]
    pub fn data_sources(&self) -> &HashMap<String, DataSource> {
        &self.data_sources
    }

    fn add_data_source(&mut self, path: &str, text: &str) -> Result<(), Diagnostic> {
        let root = ruleatlas_yaml::parse(text).map_err(|d| d.with_path(path))?;
        let Some(name) = root.get("name").and_then(Node::scalar_text) else {
            return Err(
                Diagnostic::warning("splunk-data-source", "data source without `name`")
                    .with_path(path),
            );
        };
        let tas = root
            .get("supported_TA")
            .and_then(Node::as_seq)
            .map(|s| {
                s.iter()
                    .filter_map(|t| t.get("name").and_then(Node::scalar_text))
                    .collect()
            })
            .unwrap_or_default();
        let ds = DataSource {
            name: name.clone(),
            source: root.get("source").and_then(Node::scalar_text),
            sourcetype: root.get("sourcetype").and_then(Node::scalar_text),
            supported_ta: tas,
        };
        self.data_sources.insert(name, ds);
        Ok(())
    }

    fn add_lookup(&mut self, path: &str, text: &str) -> Result<(), Diagnostic> {
        let root = ruleatlas_yaml::parse(text).map_err(|d| d.with_path(path))?;
        if let Some(name) = root.get("name").and_then(Node::scalar_text) {
            let file = root
                .get("filename")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            self.lookups.insert(name, file);
        }
        Ok(())
    }

    /// Lowers one detection's `search` (with macros) into `doc`, mapping every position back
    /// to the detection file (through the YAML decoding) or to the macro file it came from.
    fn lower_search(&self, doc: &mut RuleDoc, file: &str, node: &Node, query: &str) {
        let map = match (node.offset, &node.value) {
            (Some(off), ruleatlas_yaml::Value::Str(_)) => {
                ruleatlas_yaml::scalar_offset_map(file, off, query)
            }
            (Some(off), _) => OffsetMap::identity(off, query.len()),
            (None, _) => OffsetMap::identity(0, query.len()),
        };
        let lines = LineIndex::new(file);
        let analysis = crate::analyze(query, &self.macros);
        let mut lowered = analysis.lowered;
        let ex = &analysis.expansion;
        let place = |offset: usize| -> (Option<(String, String)>, LineColumn) {
            let loc = ex.loc(offset);
            if loc.src > 0
                && let Some(def) = self.macros.def(loc.src as usize - 1)
            {
                return (
                    Some((def.name.clone(), def.path.clone())),
                    def.position(loc.off as usize),
                );
            }
            (
                None,
                lines.line_column(file, map.to_source(loc.off as usize)),
            )
        };
        for p in &mut lowered.predicates {
            if let Some(span) = p.span {
                let (mac, pos) = place(span.start as usize);
                if let Some((name, mpath)) = mac {
                    p.context
                        .entry("macro".to_string())
                        .or_insert_with(|| serde_json::Value::from(name));
                    p.origin = Some(Origin::new(
                        if mpath.is_empty() {
                            doc.path.clone()
                        } else {
                            mpath
                        },
                        pos,
                    ));
                }
            }
        }
        for u in &mut lowered.unparsed {
            if let Some(span) = u.span
                && let (Some((_, mpath)), pos) = place(span.start as usize)
                && !mpath.is_empty()
            {
                u.origin = Some(Origin::new(mpath, pos));
            }
        }
        for d in &mut lowered.diagnostics {
            if let Some(r) = d.range
                && let (Some((_, mpath)), pos) = place(r.start as usize)
                && !mpath.is_empty()
            {
                d.path = Some(mpath);
                d.line = Some(pos.line);
                d.column = Some(pos.column);
            }
        }
        let path = doc.path.clone();
        lowered.resolve_origins(&path, &|offset| place(offset).1);
        // Log-source hints from what the query filters on and the data models it reads.
        for p in &lowered.predicates {
            let key = match p.raw_field.as_str() {
                "sourcetype" => "sourcetype",
                "index" => "index",
                "source" => "source",
                "eventtype" => "eventtype",
                _ => continue,
            };
            if matches!(
                p.op,
                ruleatlas_model::Op::Eq | ruleatlas_model::Op::In | ruleatlas_model::Op::Wildcard
            ) && !p.negated
            {
                for v in &p.values {
                    doc.add_logsource(key, v.to_text());
                }
            }
        }
        for dm in &analysis.datamodels {
            if let Some((model, _)) = dm.split_once('.') {
                doc.add_logsource("datamodel", model);
            }
            doc.add_logsource("datamodel", dm.clone());
        }
        if ex.text != query {
            doc.extra.insert(
                "expanded_search".into(),
                serde_json::Value::from(ex.text.clone()),
            );
        }
        doc.lowered = lowered;
        doc.settle_status();
    }
}

fn string_list(node: Option<&Node>) -> Vec<String> {
    node.map(Node::string_list).unwrap_or_default()
}

fn json_list(v: &[String]) -> serde_json::Value {
    serde_json::Value::Array(
        v.iter()
            .map(|s| serde_json::Value::from(s.clone()))
            .collect(),
    )
}

/// `T1059.001` from ` t1059.001 `.
fn technique_id(raw: &str) -> String {
    raw.trim().to_ascii_uppercase()
}

impl VendorAdapter for SplunkAdapter {
    fn vendor(&self) -> Vendor {
        Vendor::Splunk
    }

    fn role(&self, rel_path: &str) -> FileRole {
        if !is_yaml(rel_path) {
            return FileRole::Ignore;
        }
        if under(rel_path, "detections") {
            FileRole::Rule
        } else if under(rel_path, "macros")
            || under(rel_path, "data_sources")
            || under(rel_path, "lookups")
        {
            FileRole::Support
        } else {
            FileRole::Ignore
        }
    }

    fn prepare(&mut self, support: &Support) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for (path, text) in &support.files {
            let r = if under(path, "macros") {
                self.macros.add_yaml(path, text)
            } else if under(path, "data_sources") {
                self.add_data_source(path, text)
            } else if under(path, "lookups") {
                self.add_lookup(path, text)
            } else {
                Ok(())
            };
            if let Err(d) = r {
                diags.push(d);
            }
        }
        diags
    }

    fn load(&self, rel_path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        let root = match ruleatlas_yaml::parse(text) {
            Ok(r) => r,
            Err(d) => {
                return (
                    vec![RuleDoc::failed(Vendor::Splunk, rel_path, d)],
                    Vec::new(),
                );
            }
        };
        if root.as_map().is_none() || (root.get("search").is_none() && root.get("name").is_none()) {
            let d = Diagnostic::warning(
                "splunk-not-a-detection",
                "not a Splunk detection (no `name` or `search`)",
            )
            .with_path(rel_path)
            .at(LineColumn { line: 1, column: 1 });
            return (Vec::new(), vec![d]);
        }
        let mut doc = RuleDoc::new(Vendor::Splunk, rel_path);
        doc.kind = RuleKind::Rule;
        doc.language = "spl".into();
        doc.native_id = root.get("id").and_then(Node::scalar_text);
        doc.title = root
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_else(|| rel_path.to_string());
        doc.description = root.get("description").and_then(Node::scalar_text);
        doc.rule_status = root.get("status").and_then(Node::scalar_text);
        doc.deprecated = under(rel_path, "deprecated")
            || under(rel_path, "_deprecated")
            || doc
                .rule_status
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("deprecated"));
        doc.false_positives = string_list(root.get("known_false_positives"));
        doc.references = string_list(root.get("references"));
        doc.authors = root
            .get("author")
            .and_then(Node::scalar_text)
            .map(|a| {
                a.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut data_sources = string_list(root.get("data_source"));
        data_sources.extend(string_list(root.get("data_sources")));
        for dm in string_list(root.get("datamodel")) {
            doc.add_logsource("datamodel", dm);
        }
        for ds in &data_sources {
            doc.raw_platforms.push(ds.clone());
            doc.add_logsource("data_source", ds.clone());
            if let Some(info) = self.data_sources.get(ds) {
                if let Some(st) = &info.sourcetype {
                    doc.add_logsource("sourcetype", st.clone());
                }
                if let Some(s) = &info.source {
                    doc.add_logsource("source", s.clone());
                }
                for ta in &info.supported_ta {
                    doc.add_logsource("supported_ta", ta.clone());
                }
            }
        }
        for key in ["type", "version", "date", "how_to_implement"] {
            if let Some(v) = root.get(key).and_then(Node::scalar_text) {
                doc.extra.insert(key.into(), serde_json::Value::from(v));
            }
        }
        if !data_sources.is_empty() {
            doc.extra
                .insert("data_source".into(), json_list(&data_sources));
        }
        if let Some(tags) = root.get("tags") {
            doc.techniques = string_list(tags.get("mitre_attack_id"))
                .iter()
                .map(|t| TechniqueRef::id(technique_id(t)))
                .collect();
            doc.raw_domains = string_list(tags.get("security_domain"));
            for (key, out) in [
                ("analytic_story", "analytic_story"),
                ("required_fields", "required_fields"),
                ("product", "product"),
                ("cve", "cve"),
            ] {
                let v = string_list(tags.get(key));
                if !v.is_empty() {
                    doc.extra.insert(out.into(), json_list(&v));
                }
            }
            for key in ["asset_type", "confidence", "impact", "risk_score"] {
                if let Some(v) = tags.get(key).and_then(Node::scalar_text) {
                    doc.extra.insert(key.into(), serde_json::Value::from(v));
                }
            }
        }
        let Some(search) = root.get("search") else {
            doc.status = ParseStatus::NoQuery;
            return (vec![doc], Vec::new());
        };
        let Some(query) = search.scalar_text() else {
            let d = Diagnostic::error("splunk-search", "`search` is not a string").at(search.pos);
            return (
                vec![RuleDoc {
                    title: doc.title.clone(),
                    ..RuleDoc::failed(Vendor::Splunk, rel_path, d)
                }],
                Vec::new(),
            );
        };
        doc.query.clone_from(&query);
        if query.trim().is_empty() {
            doc.status = ParseStatus::NoQuery;
            return (vec![doc], Vec::new());
        }
        self.lower_search(&mut doc, text, search, &query);
        (vec![doc], Vec::new())
    }

    fn sniff(&self, rel_path: &str, text: &str) -> bool {
        is_yaml(rel_path)
            && text.lines().any(|l| l.starts_with("search:"))
            && (text.contains("mitre_attack_id")
                || text.contains("analytic_story")
                || text.contains("security_domain"))
    }
}

/// Everything [`crate::analyze`] produced, for adapters and tools.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub expansion: Expansion,
    pub lowered: ruleatlas_model::Lowered,
    pub datamodels: Vec<String>,
}
