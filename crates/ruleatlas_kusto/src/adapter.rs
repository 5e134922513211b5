//! Microsoft Sentinel analytic rules (YAML files with a Kusto `query:`) as [`RuleDoc`]s.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    Condition, FileRole, LIMITS, Op, Origin, ParseStatus, Predicate, PredicateKind, RuleDoc,
    Support, TechniqueRef, Value, Vendor, VendorAdapter,
};
use ruleatlas_text::{LineColumn, LineIndex, OffsetMap};
use ruleatlas_yaml::Node;

use crate::lower::{LowerContext, lower_with_info};
use crate::parser::parse;
use crate::tables::table_info;

/// Folders of the Azure-Sentinel repository that hold YAML files which are not analytic rules.
const NON_RULE_FOLDERS: [&str; 14] = [
    "hunting queries",
    "hunting-queries",
    "parsers",
    "workbooks",
    "playbooks",
    "data connectors",
    "dataconnectors",
    "sample data",
    "package",
    "tools",
    ".github",
    "watchlists",
    "summary rules",
    "exploration queries",
];

/// Keys whose presence marks a YAML mapping as an analytic rule.
const RULE_KEYS: [&str; 7] = [
    "queryFrequency",
    "queryPeriod",
    "triggerOperator",
    "requiredDataConnectors",
    "relevantTechniques",
    "tactics",
    "severity",
];

/// Rule kinds that run without a KQL query.
const NO_QUERY_KINDS: [&str; 6] = [
    "fusion",
    "mlbehavioranalytics",
    "microsoftsecurityincidentcreation",
    "threatintelligence",
    "anomaly",
    "anomalies",
];

/// Metadata kept in `extra` as written.
const EXTRA_KEYS: [&str; 12] = [
    "kind",
    "queryFrequency",
    "queryPeriod",
    "triggerOperator",
    "triggerThreshold",
    "version",
    "requiredDataConnectors",
    "entityMappings",
    "customDetails",
    "eventGroupingSettings",
    "incidentConfiguration",
    "tags",
];

/// The Sentinel analytic-rule reader.
#[derive(Debug, Default, Clone)]
pub struct KustoAdapter {
    ctx: LowerContext,
}

impl KustoAdapter {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

fn is_yaml(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

impl VendorAdapter for KustoAdapter {
    fn vendor(&self) -> Vendor {
        Vendor::Kusto
    }

    fn role(&self, rel_path: &str) -> FileRole {
        if !is_yaml(rel_path) {
            return FileRole::Ignore;
        }
        let mut dirs: Vec<&str> = rel_path.split('/').collect();
        dirs.pop();
        if dirs
            .iter()
            .any(|d| NON_RULE_FOLDERS.iter().any(|n| d.eq_ignore_ascii_case(n)))
        {
            return FileRole::Ignore;
        }
        FileRole::Rule
    }

    fn prepare(&mut self, _support: &Support) -> Vec<Diagnostic> {
        Vec::new()
    }

    fn load(&self, rel_path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        load_rule(&self.ctx, rel_path, text)
    }

    fn sniff(&self, rel_path: &str, text: &str) -> bool {
        if !is_yaml(rel_path) && !rel_path.is_empty() {
            return false;
        }
        let has_query = text.lines().any(|l| l.starts_with("query:"));
        has_query
            && RULE_KEYS
                .iter()
                .any(|k| text.lines().any(|l| l.starts_with(&format!("{k}:"))))
    }
}

fn at(d: Diagnostic, pos: LineColumn, path: &str) -> Diagnostic {
    d.at(pos).with_path(path)
}

/// Reads one Sentinel YAML file.
#[must_use]
pub fn load_rule(ctx: &LowerContext, path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
    let start = LineColumn { line: 1, column: 1 };
    if text.len() as u64 > LIMITS.max_file_bytes {
        let d = at(
            Diagnostic::error("limit-file-size", "file larger than the size limit"),
            start,
            path,
        );
        return (vec![RuleDoc::failed(Vendor::Kusto, path, d)], Vec::new());
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = match ruleatlas_yaml::parse(text) {
        Ok(r) => r,
        Err(mut d) => {
            if d.line.is_none() {
                d = d.at(start);
            }
            return (vec![RuleDoc::failed(Vendor::Kusto, path, d)], Vec::new());
        }
    };
    if root.as_map().is_none() {
        let d = at(
            Diagnostic::warning("not-a-rule", "not a Sentinel analytic rule (no mapping)"),
            start,
            path,
        );
        return (Vec::new(), vec![d]);
    }
    let rule_like =
        root.get_ci("id").is_some() && RULE_KEYS.iter().any(|k| root.get_ci(k).is_some());
    let Some(qnode) = root.get_ci("query") else {
        // Fusion, ML behavior analytics, incident-creation and TI-matching rules are built in:
        // they have no query (CONTRACT status `no_query`).
        let kind = text_of(&root, "kind")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if root.get_ci("id").is_some() && NO_QUERY_KINDS.contains(&kind.as_str()) {
            let mut doc = RuleDoc::new(Vendor::Kusto, path);
            fill_metadata(&mut doc, &root, path);
            doc.status = ParseStatus::NoQuery;
            return (vec![doc], Vec::new());
        }
        let d = Diagnostic::error("kusto-no-query", "analytic rule without a `query:`");
        if rule_like {
            let mut doc = RuleDoc::failed(Vendor::Kusto, path, at(d, root.pos, path));
            fill_metadata(&mut doc, &root, path);
            return (vec![doc], Vec::new());
        }
        let d = at(
            Diagnostic::warning(
                "not-a-rule",
                "YAML without `query:`: not a Sentinel analytic rule",
            ),
            root.pos,
            path,
        );
        return (Vec::new(), vec![d]);
    };
    let Some(query) = qnode.as_str() else {
        let d = at(
            Diagnostic::error("kusto-no-query", "`query:` is not a string"),
            qnode.pos,
            path,
        );
        let mut doc = RuleDoc::failed(Vendor::Kusto, path, d);
        fill_metadata(&mut doc, &root, path);
        return (vec![doc], Vec::new());
    };

    let mut doc = RuleDoc::new(Vendor::Kusto, path);
    fill_metadata(&mut doc, &root, path);
    doc.query = query.to_string();

    let lines = LineIndex::new(text);
    let map = match qnode.offset {
        Some(off) => ruleatlas_yaml::scalar_offset_map(text, off, query),
        None => {
            let base = lines.line_start(qnode.pos.line).unwrap_or(0);
            OffsetMap::identity(base, query.len())
        }
    };

    let parsed = parse(query);
    let failed = parsed.has_errors();
    let (mut lowered, info) = lower_with_info(&parsed.ast, ctx);
    lowered.diagnostics.splice(0..0, parsed.diagnostics);

    if let Some(c) = trigger_threshold(&root, path, &mut lowered) {
        lowered.tree = Condition::and(vec![
            std::mem::replace(&mut lowered.tree, Condition::Const(true)),
            c,
        ]);
    }
    lowered.resolve_origins(path, &|off| lines.line_column(text, map.to_source(off)));
    lowered.finish();
    doc.lowered = lowered;
    if failed {
        doc.status = ParseStatus::Failed;
    }
    doc.settle_status();

    for t in &info.tables {
        add_table(&mut doc, t);
    }
    if !info.external_urls.is_empty() {
        doc.extra.insert(
            "externaldata".to_string(),
            info.external_urls.clone().into(),
        );
    }
    (vec![doc], Vec::new())
}

fn add_unique(v: &mut Vec<String>, s: &str) {
    if !s.is_empty() && !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// A table the rule reads: logsource `table`, raw platform, and the mapped platform/domain.
fn add_table(doc: &mut RuleDoc, table: &str) {
    doc.add_logsource("table", table);
    add_unique(&mut doc.raw_platforms, table);
    if let Some(info) = table_info(table) {
        add_unique(&mut doc.raw_platforms, &info.platform);
        add_unique(&mut doc.raw_domains, &info.domain);
    }
}

fn text_of(root: &Node, key: &str) -> Option<String> {
    root.get_ci(key)
        .and_then(Node::scalar_text)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `CredentialAccess` -> `credential-access` (ATT&CK tactic short names).
fn kebab(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.trim().chars().enumerate() {
        if c.is_uppercase() && i > 0 && !out.ends_with('-') {
            out.push('-');
        }
        if c == ' ' || c == '_' {
            if !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// URLs cited in a description (`Ref: https://...`, markdown links): Sentinel rules have no
/// references field, their references live in the text.
fn urls_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        let Some(at) = token.find("https://").or_else(|| token.find("http://")) else {
            continue;
        };
        let url = token[at..].trim_end_matches(|c: char| {
            matches!(c, '\'' | '"' | '.' | ',' | ')' | ']' | ';' | '>')
        });
        if url.len() > "https://".len() {
            add_unique(&mut out, url);
        }
    }
    out
}

/// `t1078.004`, ` T1078 `, `T1078.004 - Cloud Accounts` -> `T1078.004`.
#[must_use]
pub fn normalize_technique(s: &str) -> Option<String> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 5 || !(b[0] == b'T' || b[0] == b't') || !b[1..5].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut id = format!("T{}", &s[1..5]);
    if b.len() >= 9 && b[5] == b'.' && b[6..9].iter().all(u8::is_ascii_digit) {
        id.push_str(&s[5..9]);
    }
    Some(id)
}

fn fill_metadata(doc: &mut RuleDoc, root: &Node, path: &str) {
    doc.native_id = text_of(root, "id");
    doc.title = text_of(root, "name").unwrap_or_else(|| {
        let file = path.rsplit('/').next().unwrap_or(path);
        file.rsplit_once('.')
            .map_or(file, |(stem, _)| stem)
            .to_string()
    });
    doc.description = text_of(root, "description");
    if let Some(desc) = &doc.description {
        doc.references = urls_in(desc);
    }
    doc.severity = text_of(root, "severity");
    doc.rule_status = text_of(root, "status");
    doc.language = "kql".to_string();
    for key in ["relevantTechniques", "subTechniques", "techniques"] {
        if let Some(n) = root.get_ci(key) {
            for t in n.string_list() {
                for part in t.split(',') {
                    if let Some(id) = normalize_technique(part)
                        && !doc.techniques.iter().any(|x| x.id == id)
                    {
                        doc.techniques.push(TechniqueRef::id(id));
                    }
                }
            }
        }
    }
    if let Some(n) = root.get_ci("tactics") {
        for t in n.string_list() {
            add_unique(&mut doc.tactics, &kebab(&t));
        }
    }
    if let Some(conns) = root.get_ci("requiredDataConnectors").and_then(Node::as_seq) {
        for c in conns {
            if let Some(id) = c.get_ci("connectorId").and_then(Node::scalar_text) {
                let id = id.trim().to_string();
                doc.add_logsource("connector", id.clone());
                add_unique(&mut doc.raw_platforms, &id);
            }
            if let Some(types) = c.get_ci("dataTypes") {
                for t in types.string_list() {
                    let raw = t.trim();
                    add_unique(&mut doc.raw_platforms, raw);
                    // `OfficeActivity (Exchange)` reads the table OfficeActivity.
                    let table = raw.split(" (").next().unwrap_or(raw).trim();
                    add_table(doc, table);
                }
            }
        }
    }
    if let Some(author) = root
        .get_ci("metadata")
        .and_then(|m| m.get_ci("author"))
        .and_then(|a| a.get_ci("name"))
    {
        for a in author.string_list() {
            add_unique(&mut doc.authors, a.trim());
        }
    }
    // `deprecated/`, `_deprecated/`, and Sentinel's `Deprecated Analytic Rules/`.
    let mut dirs: Vec<&str> = path.split('/').collect();
    dirs.pop();
    let deprecated_path = dirs
        .iter()
        .any(|d| d.to_ascii_lowercase().contains("deprecated"));
    let deprecated_name = doc.title.to_ascii_lowercase().starts_with("[deprecated]");
    let deprecated_status = doc
        .rule_status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("deprecated"));
    doc.deprecated = deprecated_path || deprecated_name || deprecated_status;
    if let Some(e) = root.get_ci("enabled").and_then(Node::as_bool) {
        doc.enabled = e;
    }
    for key in EXTRA_KEYS {
        if let Some(n) = root.get_ci(key)
            && let Ok(v) = serde_json::to_value(n.to_json())
        {
            let v = match (key, v) {
                ("kind", serde_json::Value::String(s)) => {
                    serde_json::Value::String(s.trim().to_string())
                }
                (_, v) => v,
            };
            doc.extra.insert(key.to_string(), v);
        }
    }
}

/// `triggerOperator`/`triggerThreshold` as a `threshold` predicate on the result count, when
/// it narrows beyond "any result" (`gt 0`, `ge 1` and `ne 0` do not).
fn trigger_threshold(
    root: &Node,
    path: &str,
    lowered: &mut ruleatlas_model::Lowered,
) -> Option<Condition> {
    let op_node = root.get_ci("triggerOperator")?;
    let th_node = root.get_ci("triggerThreshold")?;
    let op_text = op_node.scalar_text()?.trim().to_ascii_lowercase();
    let n = match &th_node.value {
        ruleatlas_yaml::Value::Int(i) => *i,
        ruleatlas_yaml::Value::Str(s) => s.trim().parse().ok()?,
        ruleatlas_yaml::Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            #[allow(clippy::cast_possible_truncation)]
            let i = *f as i64;
            i
        }
        _ => return None,
    };
    let (op, negated) = match op_text.as_str() {
        "gt" | "greaterthan" => (Op::Gt, false),
        "ge" | "greaterthanorequal" => (Op::Ge, false),
        "lt" | "lessthan" => (Op::Lt, false),
        "le" | "lessthanorequal" => (Op::Le, false),
        "eq" | "equal" => (Op::Eq, false),
        "ne" | "notequal" => (Op::Ne, false),
        _ => {
            lowered.diagnostics.push(
                Diagnostic::warning(
                    "kusto-trigger",
                    format!("unknown triggerOperator {op_text:?}"),
                )
                .at(op_node.pos)
                .with_path(path),
            );
            return None;
        }
    };
    let any_result = matches!(
        (op, negated, n),
        (Op::Gt, false, 0) | (Op::Ge, false, 1) | (Op::Ne, false, 0)
    );
    if any_result {
        return None;
    }
    let mut p = Predicate::new("_result_count", op, vec![Value::Int(n)])
        .kind(PredicateKind::Threshold)
        .computed(true)
        .context("trigger", true);
    p.origin = Some(Origin::new(path, th_node.pos));
    if negated {
        p = p.negative_op();
    }
    Some(lowered.pred(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_ids_are_normalized() {
        assert_eq!(
            normalize_technique(" t1078.004 ").as_deref(),
            Some("T1078.004")
        );
        assert_eq!(normalize_technique("T1110").as_deref(), Some("T1110"));
        assert_eq!(
            normalize_technique("T1078.004 - Cloud Accounts").as_deref(),
            Some("T1078.004")
        );
        assert_eq!(normalize_technique("CredentialAccess"), None);
    }

    #[test]
    fn references_come_from_the_description() {
        let d = "'MFA fatigue. \n Ref: https://sec.okta.com/everythingisyes.' See [Blog](http://a.example/x/y)).";
        assert_eq!(
            urls_in(d),
            vec![
                "https://sec.okta.com/everythingisyes",
                "http://a.example/x/y"
            ]
        );
    }

    #[test]
    fn tactics_become_kebab_case() {
        assert_eq!(kebab("CredentialAccess"), "credential-access");
        assert_eq!(kebab("CommandAndControl"), "command-and-control");
        assert_eq!(kebab("Impact"), "impact");
    }

    #[test]
    fn roles() {
        let a = KustoAdapter::new();
        assert_eq!(a.role("Detections/SigninLogs/x.yaml"), FileRole::Rule);
        assert_eq!(
            a.role("Solutions/Okta/Analytic Rules/x.yaml"),
            FileRole::Rule
        );
        assert_eq!(
            a.role("Solutions/Okta/Hunting Queries/x.yaml"),
            FileRole::Ignore
        );
        assert_eq!(
            a.role("Solutions/Okta/Data/Solution_Okta.json"),
            FileRole::Ignore
        );
    }
}
