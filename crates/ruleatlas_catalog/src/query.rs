//! Rule objects, technique lists, field listings and search over an [`Index`].

use std::collections::{BTreeMap, BTreeSet};

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{Condition, Predicate, Unparsed, Vendor};
use serde::Serialize;

use crate::guide::rule_has_technique;
use crate::index::{Index, IndexedRule};

/// `rule --json`, `/api/rules/{vendor}/{id}`, one `export --format jsonl` line.
#[derive(Debug, Clone, Serialize)]
pub struct RuleJson<'a> {
    pub id: &'a str,
    pub vendor: &'a str,
    pub kind: &'a str,
    pub title: &'a str,
    pub path: &'a str,
    pub commit: Option<&'a str>,
    pub source: &'a str,
    pub severity: Option<&'a str>,
    pub rule_status: Option<&'a str>,
    pub language: &'a str,
    pub query: &'a str,
    pub techniques: Vec<&'a str>,
    pub technique_names: BTreeMap<&'a str, Option<&'a str>>,
    pub tactics: &'a [String],
    pub platforms: &'a [String],
    pub domains: &'a [String],
    pub raw_platforms: &'a [String],
    pub raw_domains: &'a [String],
    pub logsource: &'a BTreeMap<String, Vec<String>>,
    pub deprecated: bool,
    pub enabled: bool,
    pub building_block: bool,
    pub status: &'a str,
    pub description: Option<&'a str>,
    pub false_positives: &'a [String],
    pub references: &'a [String],
    pub authors: &'a [String],
    pub links: &'a [String],
    pub predicates: &'a [Predicate],
    pub unparsed: &'a [Unparsed],
    pub tree: &'a Condition,
    pub diagnostics: &'a [Diagnostic],
    pub extra: &'a serde_json::Map<String, serde_json::Value>,
}

#[must_use]
pub fn rule_json(r: &IndexedRule) -> RuleJson<'_> {
    let d = &r.doc;
    RuleJson {
        id: &r.id,
        vendor: d.vendor.key(),
        kind: d.kind.as_str(),
        title: &d.title,
        path: &d.path,
        commit: r.commit.as_deref(),
        source: &r.source,
        severity: d.severity.as_deref(),
        rule_status: d.rule_status.as_deref(),
        language: &d.language,
        query: &d.query,
        techniques: r.techniques.iter().map(|t| t.id.as_str()).collect(),
        technique_names: r
            .techniques
            .iter()
            .map(|t| (t.id.as_str(), t.name.as_deref()))
            .collect(),
        tactics: &d.tactics,
        platforms: &d.platforms,
        domains: &d.domains,
        raw_platforms: &d.raw_platforms,
        raw_domains: &d.raw_domains,
        logsource: &d.logsource,
        deprecated: d.deprecated,
        enabled: d.enabled,
        building_block: d.building_block,
        status: d.status.as_str(),
        description: d.description.as_deref(),
        false_positives: &d.false_positives,
        references: &d.references,
        authors: &d.authors,
        links: &d.links,
        predicates: &d.lowered.predicates,
        unparsed: &d.lowered.unparsed,
        tree: &d.lowered.tree,
        diagnostics: &d.lowered.diagnostics,
        extra: &d.extra,
    }
}

/// Finds a rule by full id (`sigma:...`), or by the vendor's own id when unambiguous.
#[must_use]
pub fn find_rule<'a>(index: &'a Index, id: &str) -> Option<&'a IndexedRule> {
    if let Some(r) = index.rule(id) {
        return Some(r);
    }
    let mut hits = index
        .rules
        .iter()
        .filter(|r| r.doc.native_id.as_deref() == Some(id));
    let first = hits.next()?;
    hits.next().is_none().then_some(first)
}

/// One technique in `techniques --json`.
#[derive(Debug, Clone, Serialize)]
pub struct TechniqueSummary {
    pub id: String,
    pub name: String,
    pub tactics: Vec<String>,
    pub known: bool,
    pub revoked_by: Option<String>,
    pub rules: usize,
    pub vendors: BTreeMap<String, usize>,
}

/// Every technique with counted rules (or every ATT&CK technique with `all`).
#[must_use]
pub fn techniques(index: &Index, include_hunts: bool, all: bool) -> Vec<TechniqueSummary> {
    let mut per: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for r in index.rules.iter().filter(|r| r.is_counted(include_hunts)) {
        for t in &r.techniques {
            *per.entry(t.id.as_str())
                .or_default()
                .entry(r.doc.vendor.key().to_string())
                .or_default() += 1;
        }
    }
    let mut ids: BTreeSet<&str> = per.keys().copied().collect();
    if all {
        ids.extend(
            index
                .techniques
                .values()
                .filter(|t| !t.revoked && !t.deprecated)
                .map(|t| t.id.as_str()),
        );
    }
    ids.into_iter()
        .map(|id| {
            let vendors = per.get(id).cloned().unwrap_or_default();
            let row = index.technique(id);
            let name = row
                .map(|t| t.name.clone())
                .filter(|n| !n.is_empty())
                .or_else(|| {
                    index.rules.iter().find_map(|r| {
                        r.techniques
                            .iter()
                            .find(|t| t.id == id)
                            .and_then(|t| t.name.clone())
                    })
                });
            TechniqueSummary {
                id: id.to_string(),
                name: name.unwrap_or_default(),
                tactics: row.map(|t| t.tactics.clone()).unwrap_or_default(),
                known: row.is_some_and(|t| t.known),
                revoked_by: row.and_then(|t| t.revoked_by.clone()),
                rules: vendors.values().sum(),
                vendors,
            }
        })
        .collect()
}

/// One canonical (or unmapped raw) field in `fields --json`.
#[derive(Debug, Clone, Serialize)]
pub struct FieldSummary {
    pub field: String,
    pub rules: usize,
    pub vendors: BTreeMap<String, usize>,
    pub raw: BTreeMap<String, Vec<String>>,
    /// Whether the taxonomy knows this field as a canonical name (else it is a raw name).
    pub canonical: bool,
}

/// Details of one field (`fields FIELD`, `/fields/{field}`).
#[derive(Debug, Clone, Serialize)]
pub struct FieldDetail {
    #[serde(flatten)]
    pub summary: FieldSummary,
    pub samples: Vec<(String, usize)>,
    pub ops: BTreeMap<String, usize>,
    pub techniques: Vec<(String, usize)>,
    pub rule_ids: Vec<String>,
}

/// Fields used by counted rules (filter and threshold predicates), most rules first.
#[must_use]
pub fn fields(index: &Index) -> Vec<FieldSummary> {
    struct Acc {
        rules: BTreeSet<usize>,
        vendors: BTreeMap<String, BTreeSet<usize>>,
        raw: BTreeMap<String, BTreeSet<String>>,
        canonical: bool,
    }
    let mut map: BTreeMap<&str, Acc> = BTreeMap::new();
    for (i, r) in index
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_counted(false))
    {
        for p in r
            .doc
            .lowered
            .predicates
            .iter()
            .filter(|p| p.kind.is_counted())
        {
            let a = map.entry(p.field.as_str()).or_insert_with(|| Acc {
                rules: BTreeSet::new(),
                vendors: BTreeMap::new(),
                raw: BTreeMap::new(),
                canonical: false,
            });
            a.rules.insert(i);
            a.vendors
                .entry(r.doc.vendor.key().to_string())
                .or_default()
                .insert(i);
            a.raw
                .entry(r.doc.vendor.key().to_string())
                .or_default()
                .insert(p.raw_field.clone());
            a.canonical |= p.field != p.raw_field;
        }
    }
    let mut out: Vec<FieldSummary> = map
        .into_iter()
        .map(|(f, a)| FieldSummary {
            field: f.to_string(),
            rules: a.rules.len(),
            vendors: a.vendors.into_iter().map(|(k, v)| (k, v.len())).collect(),
            raw: a
                .raw
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
            canonical: a.canonical || ruleatlas_taxonomy::Taxonomy::builtin().is_canonical(f),
        })
        .collect();
    out.sort_by(|a, b| b.rules.cmp(&a.rules).then_with(|| a.field.cmp(&b.field)));
    out
}

/// Details of one field; `None` when no counted rule uses it.
#[must_use]
pub fn field_detail(index: &Index, field: &str) -> Option<FieldDetail> {
    let summary = fields(index).into_iter().find(|f| f.field == field)?;
    let mut samples: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut ops: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut techniques: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut rule_ids = Vec::new();
    for (i, r) in index
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_counted(false))
    {
        let preds: Vec<&Predicate> = r
            .doc
            .lowered
            .predicates
            .iter()
            .filter(|p| p.kind.is_counted() && p.field == field)
            .collect();
        if preds.is_empty() {
            continue;
        }
        rule_ids.push(r.id.clone());
        for p in preds {
            ops.entry(p.op.to_string()).or_default().insert(i);
            for v in &p.values {
                samples.entry(v.to_text()).or_default().insert(i);
            }
        }
        for t in &r.techniques {
            techniques.entry(t.id.clone()).or_default().insert(i);
        }
    }
    let mut samples: Vec<(String, usize)> =
        samples.into_iter().map(|(k, v)| (k, v.len())).collect();
    samples.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    samples.truncate(25);
    let mut techniques: Vec<(String, usize)> =
        techniques.into_iter().map(|(k, v)| (k, v.len())).collect();
    techniques.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    techniques.truncate(25);
    Some(FieldDetail {
        summary,
        samples,
        ops: ops.into_iter().map(|(k, v)| (k, v.len())).collect(),
        techniques,
        rule_ids,
    })
}

/// A parsed search: free words match title and id; `field:`, `value:`, `vendor:`,
/// `technique:` narrow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub words: Vec<String>,
    pub fields: Vec<String>,
    pub values: Vec<String>,
    pub vendor: Option<Vendor>,
    pub technique: Option<String>,
}

impl SearchQuery {
    #[must_use]
    pub fn parse(q: &str) -> Self {
        let mut s = SearchQuery::default();
        for term in split_terms(q) {
            let lower = term.to_lowercase();
            if let Some(f) = term.strip_prefix("field:") {
                s.fields.push(f.to_string());
            } else if let Some(v) = term.strip_prefix("value:") {
                s.values.push(v.to_lowercase());
            } else if let Some(v) = lower.strip_prefix("vendor:") {
                s.vendor = Vendor::parse(v);
            } else if let Some(t) = lower.strip_prefix("technique:") {
                s.technique = Some(t.to_uppercase());
            } else if !term.is_empty() {
                s.words.push(lower);
            }
        }
        s
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
            && self.fields.is_empty()
            && self.values.is_empty()
            && self.vendor.is_none()
            && self.technique.is_none()
    }
}

fn split_terms(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Rules matching a search, grouped by vendor in contract order; at most `limit` per vendor.
#[must_use]
pub fn search<'a>(
    index: &'a Index,
    q: &SearchQuery,
    limit: usize,
) -> Vec<(Vendor, Vec<&'a IndexedRule>)> {
    if q.is_empty() {
        return Vec::new();
    }
    let mut groups: BTreeMap<Vendor, Vec<&IndexedRule>> = BTreeMap::new();
    for r in &index.rules {
        if q.vendor.is_some_and(|v| v != r.doc.vendor) {
            continue;
        }
        if q.technique
            .as_deref()
            .is_some_and(|t| !rule_has_technique(r, t))
        {
            continue;
        }
        let hay = format!(
            "{} {} {}",
            r.doc.title.to_lowercase(),
            r.id.to_lowercase(),
            r.doc.path.to_lowercase()
        );
        if !q.words.iter().all(|w| hay.contains(w.as_str())) {
            continue;
        }
        let preds = &r.doc.lowered.predicates;
        let field_ok = q.fields.iter().all(|f| {
            preds
                .iter()
                .any(|p| p.field.eq_ignore_ascii_case(f) || p.raw_field.eq_ignore_ascii_case(f))
        });
        if !field_ok {
            continue;
        }
        let value_ok = q.values.iter().all(|v| {
            preds.iter().any(|p| {
                (q.fields.is_empty()
                    || q.fields.iter().any(|f| {
                        p.field.eq_ignore_ascii_case(f) || p.raw_field.eq_ignore_ascii_case(f)
                    }))
                    && p.values
                        .iter()
                        .any(|x| x.to_text().to_lowercase().contains(v.as_str()))
            })
        });
        if !value_ok {
            continue;
        }
        let g = groups.entry(r.doc.vendor).or_default();
        if g.len() < limit {
            g.push(r);
        }
    }
    groups.into_iter().collect()
}
