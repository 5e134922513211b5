//! Build and coverage figures (`stats --json`).

use std::collections::BTreeMap;

use ruleatlas_model::{ParseStatus, RuleKind, Vendor};
use serde::Serialize;

use crate::index::Index;

#[derive(Debug, Clone, Default, Serialize)]
pub struct LanguageStats {
    pub rules: usize,
    pub full: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VendorStats {
    pub files: usize,
    /// Counted rules: not deprecated, kind `rule`.
    pub rules: usize,
    pub full: usize,
    pub partial: usize,
    pub failed: usize,
    pub no_query: usize,
    pub deprecated: usize,
    pub hunts: usize,
    pub queries: usize,
    pub diagnostics: usize,
    /// Parse coverage in percent: `full / (rules - no_query)`.
    pub coverage: f64,
    pub languages: BTreeMap<String, LanguageStats>,
    pub unparsed_reasons: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub rules: usize,
    pub predicates: usize,
    pub techniques: usize,
    pub build_seconds: f64,
    /// Technique ids cited by rules that the loaded ATT&CK version does not know.
    pub unknown_techniques: Vec<String>,
    pub vendors: BTreeMap<String, VendorStats>,
}

/// Parse coverage in percent.
#[must_use]
pub fn coverage(full: usize, rules: usize, no_query: usize) -> f64 {
    let with_query = rules.saturating_sub(no_query);
    if with_query == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let c = full as f64 * 100.0 / with_query as f64;
    (c * 100.0).round() / 100.0
}

/// The figures of a catalog.
#[must_use]
pub fn stats(index: &Index) -> Stats {
    let mut vendors: BTreeMap<String, VendorStats> = BTreeMap::new();
    for (v, files) in &index.files {
        vendors.entry(v.key().to_string()).or_default().files = *files;
    }
    let mut rules = 0;
    let mut predicates = 0;
    let mut techniques = std::collections::BTreeSet::new();
    let mut unknown = std::collections::BTreeSet::new();
    for r in &index.rules {
        let vs = vendors.entry(r.doc.vendor.key().to_string()).or_default();
        vs.diagnostics += r.doc.lowered.diagnostics.len();
        if r.doc.deprecated {
            vs.deprecated += 1;
            continue;
        }
        match r.doc.kind {
            RuleKind::Hunt => {
                vs.hunts += 1;
                continue;
            }
            RuleKind::Query => {
                vs.queries += 1;
                continue;
            }
            RuleKind::Rule => {}
        }
        rules += 1;
        predicates += r.doc.lowered.predicates.len();
        vs.rules += 1;
        match r.doc.status {
            ParseStatus::Full => vs.full += 1,
            ParseStatus::Partial => vs.partial += 1,
            ParseStatus::Failed => vs.failed += 1,
            ParseStatus::NoQuery => vs.no_query += 1,
        }
        let lang = vs
            .languages
            .entry(if r.doc.language.is_empty() {
                "unknown".into()
            } else {
                r.doc.language.clone()
            })
            .or_default();
        lang.rules += 1;
        if r.doc.status == ParseStatus::Full {
            lang.full += 1;
        }
        for u in &r.doc.lowered.unparsed {
            *vs.unparsed_reasons.entry(u.reason.clone()).or_default() += 1;
        }
        for t in &r.techniques {
            techniques.insert(t.id.clone());
            if !t.known {
                unknown.insert(t.id.clone());
            }
        }
    }
    for (v, d) in &index.other_diagnostics {
        vendors.entry(v.key().to_string()).or_default().diagnostics += 1;
        let _ = d;
    }
    for vs in vendors.values_mut() {
        vs.coverage = coverage(vs.full, vs.rules, vs.no_query);
    }
    let build_seconds = index
        .meta
        .get("build_seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // Vendors in contract order.
    let mut ordered = BTreeMap::new();
    for v in Vendor::ALL {
        if let Some(s) = vendors.remove(v.key()) {
            ordered.insert(v.key().to_string(), s);
        }
    }
    Stats {
        rules,
        predicates,
        techniques: techniques.len(),
        build_seconds,
        unknown_techniques: unknown.into_iter().collect(),
        vendors: ordered,
    }
}
