//! The authoring guide of a technique (CONTRACT "The authoring guide").

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ruleatlas_model::{Op, Predicate, Value, Vendor};
use serde::Serialize;

use crate::index::{Index, IndexedRule};

/// Which rules a guide looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuideFilter {
    pub platform: Option<String>,
    pub domain: Option<String>,
    pub vendor: Option<Vendor>,
    pub severity: Option<String>,
    pub rule_status: Option<String>,
    pub include_hunts: bool,
}

impl GuideFilter {
    fn admits(&self, r: &IndexedRule) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        r.is_counted(self.include_hunts)
            && self.vendor.is_none_or(|v| r.doc.vendor == v)
            && self
                .platform
                .as_deref()
                .is_none_or(|p| r.doc.platforms.iter().any(|x| x.eq_ignore_ascii_case(p)))
            && self
                .domain
                .as_deref()
                .is_none_or(|d| r.doc.domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
            && eq(&self.severity, &r.doc.severity)
            && eq(&self.rule_status, &r.doc.rule_status)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TechniqueInfo {
    pub id: String,
    pub name: String,
    pub tactics: Vec<String>,
    pub description: String,
    /// Whether the loaded ATT&CK version knows this id.
    pub known: bool,
    pub revoked_by: Option<String>,
    pub parent: Option<String>,
    pub detection_strategies: Vec<ruleatlas_attack::DetectionStrategy>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubTechnique {
    pub id: String,
    pub name: String,
    pub rules: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldRow {
    pub field: String,
    pub rules: usize,
    /// Rules per op, as lowered (a negated op is written `not <op>`).
    pub ops: BTreeMap<String, usize>,
    pub samples: Vec<String>,
    /// Raw field names per vendor that landed in this row.
    pub raw: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueRow {
    pub field: String,
    pub op: String,
    pub value: String,
    pub negated: bool,
    pub rules: usize,
    /// Counted rules of the whole catalog with the same row key (indicators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corpus_reach: Option<usize>,
    /// The rules under this technique that use it.
    pub rule_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FalsePositiveRow {
    pub text: String,
    pub rules: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct GuideRule {
    pub id: String,
    pub vendor: String,
    pub title: String,
    pub platforms: Vec<String>,
    pub domains: Vec<String>,
    pub severity: Option<String>,
    pub rule_status: Option<String>,
    pub status: String,
    pub path: String,
    pub language: String,
    pub kind: String,
    pub building_block: bool,
    pub enabled: bool,
}

/// The guide (`guide --json`, `/api/techniques/{id}`).
#[derive(Debug, Clone, Serialize)]
pub struct Guide {
    pub technique: TechniqueInfo,
    pub rule_count: usize,
    pub vendors: BTreeMap<String, usize>,
    pub subtechniques: Vec<SubTechnique>,
    pub fields: Vec<FieldRow>,
    pub indicators: Vec<ValueRow>,
    pub exclusions: Vec<ValueRow>,
    pub false_positives: Vec<FalsePositiveRow>,
    pub rules: Vec<GuideRule>,
}

/// The normalized key of a value row: `(field, op, value, negated)`.
pub type RowKey = (String, Op, String, bool);

/// The row keys one predicate contributes (one per value; `in` values key as `eq`).
#[must_use]
pub fn row_keys(p: &Predicate) -> Vec<RowKey> {
    row_entries(p).into_iter().map(|(k, _)| k).collect()
}

/// Row keys with the value as shown: the taxonomy's indicator key (wildcards `*x*` keyed as
/// contains `x`, a path compared by file name moved to the name field...), with case folded.
fn row_entries(p: &Predicate) -> Vec<(RowKey, String)> {
    let taxonomy = ruleatlas_taxonomy::Taxonomy::builtin();
    let mut out = Vec::with_capacity(p.values.len().max(1));
    for v in &p.values {
        let (field, op, shown) = taxonomy.indicator_key(&p.field, p.op, v, true);
        let key = fold(op, &shown);
        out.push(((field, op, key, p.negated), shown));
    }
    if p.values.is_empty() {
        let op = if p.op == Op::In { Op::Eq } else { p.op };
        out.push((
            (p.field.clone(), op, String::new(), p.negated),
            String::new(),
        ));
    }
    out
}

/// Row keys fold case for every comparison but regular expressions, so that a
/// case-sensitive KQL `FAILURE` and a case-insensitive Sigma `failure` meet in one row.
fn fold(op: Op, text: &str) -> String {
    if matches!(op, Op::RegexMatch) {
        text.to_string()
    } else {
        text.to_lowercase()
    }
}

/// The normalized `(op, key value)` of one value of `field`.
#[must_use]
pub fn normalize_value(field: &str, op: Op, v: &Value) -> (Op, String) {
    let (_, op, shown) = ruleatlas_taxonomy::Taxonomy::builtin().indicator_key(field, op, v, true);
    (op, fold(op, &shown))
}

fn op_label(p: &Predicate) -> String {
    if p.negated && p.op != Op::Ne {
        format!("not {}", p.op)
    } else {
        p.op.to_string()
    }
}

/// Corpus reach: counted rules per row key over the whole catalog, computed once per index.
#[derive(Debug, Default)]
pub struct Reach {
    counts: HashMap<RowKey, usize>,
}

impl Reach {
    #[must_use]
    pub fn compute(index: &Index, include_hunts: bool) -> Reach {
        let mut counts: HashMap<RowKey, usize> = HashMap::new();
        for r in index.rules.iter().filter(|r| r.is_counted(include_hunts)) {
            let mut keys: BTreeSet<RowKey> = BTreeSet::new();
            for p in r
                .doc
                .lowered
                .predicates
                .iter()
                .filter(|p| p.kind.is_counted() && !p.exclusion)
            {
                keys.extend(row_keys(p));
            }
            for k in keys {
                *counts.entry(k).or_default() += 1;
            }
        }
        Reach { counts }
    }

    #[must_use]
    pub fn get(&self, key: &RowKey) -> usize {
        self.counts.get(key).copied().unwrap_or(0)
    }
}

/// Whether a rule belongs to technique `id` (its metadata lists the id exactly).
#[must_use]
pub fn rule_has_technique(r: &IndexedRule, id: &str) -> bool {
    r.techniques.iter().any(|t| t.id == id)
}

/// The technique row, or one made from rule metadata, or `None` when no rule and no ATT&CK
/// entry knows the id.
#[must_use]
pub fn technique_info(index: &Index, id: &str) -> Option<TechniqueInfo> {
    if let Some(t) = index.technique(id) {
        return Some(TechniqueInfo {
            id: t.id.clone(),
            name: t.name.clone(),
            tactics: t.tactics.clone(),
            description: t.description.clone(),
            known: t.known,
            revoked_by: t.revoked_by.clone(),
            parent: t.parent.clone(),
            detection_strategies: t.detection_strategies.clone(),
            url: t.url.clone(),
        });
    }
    let cited = index
        .rules
        .iter()
        .find_map(|r| r.techniques.iter().find(|t| t.id == id))?;
    Some(TechniqueInfo {
        id: id.to_string(),
        name: cited.name.clone().unwrap_or_default(),
        tactics: Vec::new(),
        description: String::new(),
        known: false,
        revoked_by: None,
        parent: id.split_once('.').map(|(p, _)| p.to_string()),
        detection_strategies: Vec::new(),
        url: None,
    })
}

/// Builds the guide of technique `id` (normalized `T1234[.001]`); `None` when unknown.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn guide(index: &Index, id: &str, filter: &GuideFilter, reach: &Reach) -> Option<Guide> {
    let technique = technique_info(index, id)?;
    let rules: Vec<&IndexedRule> = index
        .rules
        .iter()
        .filter(|r| rule_has_technique(r, id) && filter.admits(r))
        .collect();

    let mut vendors: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rules {
        *vendors.entry(r.doc.vendor.key().to_string()).or_default() += 1;
    }

    // Sub-techniques of a parent, with their counts under the same filter.
    let mut subtechniques = Vec::new();
    if !id.contains('.') {
        let prefix = format!("{id}.");
        let mut ids: BTreeSet<&str> = index
            .techniques
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .map(String::as_str)
            .collect();
        for r in &index.rules {
            ids.extend(
                r.techniques
                    .iter()
                    .filter(|t| t.id.starts_with(&prefix))
                    .map(|t| t.id.as_str()),
            );
        }
        for sub in ids {
            let n = index
                .rules
                .iter()
                .filter(|r| rule_has_technique(r, sub) && filter.admits(r))
                .count();
            let name = technique_info(index, sub)
                .map(|t| t.name)
                .unwrap_or_default();
            if index
                .technique(sub)
                .is_some_and(|t| t.revoked || t.deprecated)
                && n == 0
            {
                continue;
            }
            subtechniques.push(SubTechnique {
                id: sub.to_string(),
                name,
                rules: n,
            });
        }
    }

    // Fields.
    struct FieldAcc {
        rules: BTreeSet<usize>,
        ops: BTreeMap<String, BTreeSet<usize>>,
        values: HashMap<String, BTreeSet<usize>>,
        raw: BTreeMap<String, BTreeSet<String>>,
    }
    let mut fields: HashMap<String, FieldAcc> = HashMap::new();
    let mut indicators: HashMap<RowKey, (String, BTreeSet<usize>)> = HashMap::new();
    let mut exclusions: HashMap<RowKey, (String, BTreeSet<usize>)> = HashMap::new();
    let mut fps: HashMap<String, (String, BTreeSet<usize>)> = HashMap::new();
    for (ri, r) in rules.iter().enumerate() {
        for p in r
            .doc
            .lowered
            .predicates
            .iter()
            .filter(|p| p.kind.is_counted())
        {
            let acc = fields.entry(p.field.clone()).or_insert_with(|| FieldAcc {
                rules: BTreeSet::new(),
                ops: BTreeMap::new(),
                values: HashMap::new(),
                raw: BTreeMap::new(),
            });
            acc.rules.insert(ri);
            acc.ops.entry(op_label(p)).or_default().insert(ri);
            acc.raw
                .entry(r.doc.vendor.key().to_string())
                .or_default()
                .insert(p.raw_field.clone());
            for v in &p.values {
                acc.values.entry(v.to_text()).or_default().insert(ri);
            }
            let target = if p.exclusion {
                &mut exclusions
            } else {
                &mut indicators
            };
            for (key, shown) in row_entries(p) {
                let e = target
                    .entry(key)
                    .or_insert_with(|| (shown, BTreeSet::new()));
                e.1.insert(ri);
            }
        }
        let mut seen = BTreeSet::new();
        for fp in &r.doc.false_positives {
            let text = fp.trim();
            if text.is_empty() {
                continue;
            }
            let key = text.to_lowercase();
            if seen.insert(key.clone()) {
                fps.entry(key)
                    .or_insert_with(|| (text.to_string(), BTreeSet::new()))
                    .1
                    .insert(ri);
            }
        }
    }
    let ids_of =
        |set: &BTreeSet<usize>| set.iter().map(|&i| rules[i].id.clone()).collect::<Vec<_>>();

    let mut field_rows: Vec<FieldRow> = fields
        .into_iter()
        .map(|(field, acc)| {
            let mut values: Vec<(String, usize)> =
                acc.values.into_iter().map(|(v, s)| (v, s.len())).collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            FieldRow {
                field,
                rules: acc.rules.len(),
                ops: acc.ops.into_iter().map(|(k, s)| (k, s.len())).collect(),
                samples: values.into_iter().take(5).map(|(v, _)| v).collect(),
                raw: acc
                    .raw
                    .into_iter()
                    .map(|(k, s)| (k, s.into_iter().collect()))
                    .collect(),
            }
        })
        .collect();
    field_rows.sort_by(|a, b| b.rules.cmp(&a.rules).then_with(|| a.field.cmp(&b.field)));

    let value_rows = |m: HashMap<RowKey, (String, BTreeSet<usize>)>, with_reach: bool| {
        let mut rows: Vec<ValueRow> = m
            .into_iter()
            .map(|(key, (value, set))| ValueRow {
                corpus_reach: with_reach.then(|| reach.get(&key).max(set.len())),
                field: key.0,
                op: key.1.to_string(),
                value,
                negated: key.3,
                rules: set.len(),
                rule_ids: ids_of(&set),
            })
            .collect();
        rows.sort_by(|a, b| {
            b.rules
                .cmp(&a.rules)
                .then_with(|| a.field.cmp(&b.field))
                .then_with(|| a.op.cmp(&b.op))
                .then_with(|| a.value.cmp(&b.value))
        });
        rows
    };
    let indicators = value_rows(indicators, true);
    let exclusions = value_rows(exclusions, false);

    let mut false_positives: Vec<FalsePositiveRow> = fps
        .into_values()
        .map(|(text, set)| FalsePositiveRow {
            text,
            rules: set.len(),
        })
        .collect();
    false_positives.sort_by(|a, b| b.rules.cmp(&a.rules).then_with(|| a.text.cmp(&b.text)));

    let mut guide_rules: Vec<GuideRule> = rules
        .iter()
        .map(|r| GuideRule {
            id: r.id.clone(),
            vendor: r.doc.vendor.key().to_string(),
            title: r.doc.title.clone(),
            platforms: r.doc.platforms.clone(),
            domains: r.doc.domains.clone(),
            severity: r.doc.severity.clone(),
            rule_status: r.doc.rule_status.clone(),
            status: r.doc.status.as_str().to_string(),
            path: r.doc.path.clone(),
            language: r.doc.language.clone(),
            kind: r.doc.kind.as_str().to_string(),
            building_block: r.doc.building_block,
            enabled: r.doc.enabled,
        })
        .collect();
    guide_rules.sort_by(|a, b| {
        let va = Vendor::parse(&a.vendor).map_or(9, |v| v as usize);
        let vb = Vendor::parse(&b.vendor).map_or(9, |v| v as usize);
        va.cmp(&vb).then_with(|| a.title.cmp(&b.title))
    });

    Some(Guide {
        technique,
        rule_count: rules.len(),
        vendors,
        subtechniques,
        fields: field_rows,
        indicators,
        exclusions,
        false_positives,
        rules: guide_rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_key_as_substring_ops_and_case_folds() {
        assert_eq!(
            normalize_value("x", Op::Wildcard, &Value::str("*Mimikatz*")),
            (Op::Contains, "mimikatz".into())
        );
        assert_eq!(
            normalize_value("x", Op::Wildcard, &Value::str("FAIL*")),
            (Op::StartsWith, "fail".into())
        );
        assert_eq!(
            normalize_value("x", Op::Wildcard, &Value::str("*a*b*")),
            (Op::Wildcard, "*a*b*".into())
        );
        assert_eq!(
            normalize_value("x", Op::Eq, &Value::Int(4624)),
            (Op::Eq, "4624".into())
        );
        assert_eq!(
            normalize_value("x", Op::RegexMatch, &Value::str("A.*b")).1,
            "A.*b"
        );
    }

    #[test]
    fn a_path_compared_by_file_name_meets_the_name_field() {
        let sigma = Predicate::new(
            "process.executable",
            Op::EndsWith,
            vec![Value::str("\\rundll32.exe")],
        );
        let mut elastic = Predicate::new("process.name", Op::Eq, vec![Value::str("RUNDLL32.EXE")]);
        elastic.case_sensitive = true;
        assert_eq!(row_keys(&sigma), row_keys(&elastic));
    }

    #[test]
    fn in_gives_one_eq_row_per_value() {
        let p = Predicate::new(
            "event.code",
            Op::In,
            vec![Value::Int(4624), Value::str("4625")],
        );
        let keys = row_keys(&p);
        assert_eq!(keys.len(), 2);
        assert_eq!(
            keys[0],
            ("event.code".to_string(), Op::Eq, "4624".to_string(), false)
        );
        assert_eq!(keys[1].2, "4625");
    }
}
