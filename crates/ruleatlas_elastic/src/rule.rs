//! A rule file (`[metadata]` + `[rule]`): metadata, query, filters and what the rule type adds.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{Condition, Lowered, ParseStatus, RuleDoc, RuleKind, Unparsed, Vendor};
use toml::de::DeTable;

use crate::filters::{FileCtx, lower_filters};
use crate::meta::{json_list, read_tags, read_threat};
use crate::tomlstr::{as_str, as_table, get, strings, to_json};
use crate::types::{new_terms, threat_match, threshold};
use crate::{File, is_deprecated_path, top};

pub(crate) fn load_rule(file: &File<'_>, root: &DeTable<'_>, rule: &DeTable<'_>) -> RuleDoc {
    let mut doc = RuleDoc::new(Vendor::Elastic, file.path);
    let metadata = get(root, "metadata").and_then(as_table);
    let meta_str = |k: &str| {
        metadata
            .and_then(|m| get(m, k))
            .and_then(as_str)
            .map(str::to_string)
    };
    let rstr = |k: &str| get(rule, k).and_then(as_str).map(str::to_string);

    doc.kind = RuleKind::Rule;
    doc.native_id = rstr("rule_id");
    let mut out = Lowered::default();
    if doc.native_id.is_none() {
        let at = file.lines.line_column(file.text, 0);
        let d = Diagnostic::warning("missing-id", "rule without rule_id");
        out.diagnostics.push(d.with_path(file.path).at(at));
    }
    doc.title = rstr("name").unwrap_or_else(|| {
        file.path
            .rsplit('/')
            .next()
            .unwrap_or(file.path)
            .to_string()
    });
    doc.description = rstr("description");
    doc.severity = rstr("severity");
    doc.rule_status = meta_str("maturity");
    doc.deprecated =
        is_deprecated_path(file.path) || doc.rule_status.as_deref() == Some("deprecated");
    doc.building_block =
        top(file.path) == "rules_building_block" || get(rule, "building_block_type").is_some();
    if let Some(e) = get(rule, "enabled").and_then(|v| v.get_ref().as_bool()) {
        doc.enabled = e;
    }
    doc.false_positives = strings(get(rule, "false_positives"))
        .into_iter()
        .map(|s| s.trim().to_string())
        .collect();
    doc.references = strings(get(rule, "references"));
    doc.authors = strings(get(rule, "author"));
    for i in strings(get(rule, "index")) {
        doc.add_logsource("index", i);
    }
    for i in strings(metadata.and_then(|m| get(m, "integration"))) {
        doc.add_logsource("integration", i);
    }
    let tags = strings(get(rule, "tags"));
    read_tags(&mut doc, &tags);
    read_threat(&mut doc, rule);

    let rule_type = rstr("type").unwrap_or_else(|| "query".to_string());
    doc.extra.insert("type".into(), rule_type.clone().into());
    if !tags.is_empty() {
        doc.extra.insert("tags".into(), json_list(&tags));
    }
    for k in [
        "risk_score",
        "building_block_type",
        "from",
        "interval",
        "max_signals",
        "timestamp_override",
    ] {
        if let Some(v) = get(rule, k) {
            doc.extra.insert(k.into(), to_json(v.get_ref()));
        }
    }
    for k in [
        "creation_date",
        "updated_date",
        "deprecation_date",
        "min_stack_version",
    ] {
        if let Some(v) = meta_str(k) {
            doc.extra.insert(k.into(), v.into());
        }
    }

    if rule_type == "machine_learning" {
        doc.language = "machine_learning".into();
        for k in ["machine_learning_job_id", "anomaly_threshold"] {
            if let Some(v) = get(rule, k) {
                doc.extra.insert(k.into(), to_json(v.get_ref()));
            }
        }
        doc.lowered = out;
        doc.status = ParseStatus::NoQuery;
        return doc;
    }

    let language = rstr("language").unwrap_or_else(|| match rule_type.as_str() {
        "eql" => "eql".into(),
        "esql" => "esql".into(),
        _ => "kuery".into(),
    });
    doc.language = language.clone();
    let mut parts = Vec::new();
    match get(rule, "query") {
        Some(q) => {
            doc.query = as_str(q).unwrap_or_default().to_string();
            if language == "esql" {
                for i in ruleatlas_esql::indices(&doc.query) {
                    doc.add_logsource("index", i);
                }
            }
            let l = file.lower_query(q, &language, &[]);
            parts.push(out.absorb(l));
        }
        None => {
            let mut u = Unparsed::new("(no query)", "rule has no query");
            u.origin = Some(file.origin(0));
            parts.push(out.unparsed(u));
        }
    }
    let fc = FileCtx {
        path: file.path,
        text: file.text,
        lines: file.lines,
        context: &[],
    };
    if let Some(f) = get(rule, "filters") {
        parts.push(lower_filters(f, &fc, &mut out));
    }
    match rule_type.as_str() {
        "threshold" => parts.push(threshold(file, rule, &mut out)),
        "new_terms" => parts.push(new_terms(file, rule, &mut out, &mut doc)),
        "threat_match" => parts.push(threat_match(file, rule, &mut out, &mut doc)),
        "query" | "eql" | "esql" | "saved_query" => {}
        other => {
            let mut u = Unparsed::new(other, format!("rule type not supported: {other}"));
            u.origin = get(rule, "type").map(|v| file.origin(v.span().start));
            parts.push(out.unparsed(u));
        }
    }
    out.tree = Condition::and(parts);
    out.finish();
    doc.lowered = out;
    doc.settle_status();
    doc
}
