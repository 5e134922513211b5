//! Adapter fixtures: rule and hunt files written by hand from detection-rules' schema and
//! Kibana's documentation. Each `<name>.toml` with a `<name>.expected` lists the expected
//! predicates (`ruleatlas_testkit::pred` form plus `@line:column` of the origin in the file).

use std::path::{Path, PathBuf};

use ruleatlas_elastic::ElasticAdapter;
use ruleatlas_model::{FileRole, ParseStatus, RuleDoc, RuleKind, VendorAdapter};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(rel: &str) -> RuleDoc {
    let text = std::fs::read_to_string(fixtures().join(rel)).expect("fixture");
    let adapter = ElasticAdapter::new();
    assert_eq!(adapter.role(rel), FileRole::Rule, "{rel}");
    let (mut docs, diags) = adapter.load(rel, &text);
    assert!(diags.is_empty(), "{rel}: {diags:?}");
    assert_eq!(docs.len(), 1, "{rel}");
    docs.remove(0)
}

fn described(doc: &RuleDoc) -> Vec<String> {
    doc.lowered
        .predicates
        .iter()
        .map(|p| {
            let o = p.origin.as_ref().expect("every predicate has an origin");
            assert_eq!(o.path, doc.path);
            format!("{} @{}:{}", ruleatlas_testkit::pred(p), o.line, o.column)
        })
        .collect()
}

fn check_expected(rel: &str) -> RuleDoc {
    let doc = load(rel);
    let exp_path = fixtures().join(rel).with_extension("expected");
    let expected: Vec<String> = std::fs::read_to_string(&exp_path)
        .expect("expected file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(
        described(&doc),
        expected,
        "{rel}: unparsed {:?}",
        doc.lowered.unparsed
    );
    doc
}

#[test]
fn kql_query_rule_metadata_and_predicates() {
    let doc = check_expected("rules/windows/kql_query.toml");
    assert_eq!(doc.status, ParseStatus::Full);
    assert_eq!(
        doc.native_id.as_deref(),
        Some("11111111-1111-1111-1111-111111111111")
    );
    assert_eq!(doc.kind, RuleKind::Rule);
    assert_eq!(doc.title, "Suspicious Office Child");
    assert_eq!(doc.language, "kuery");
    assert_eq!(doc.severity.as_deref(), Some("medium"));
    assert_eq!(doc.rule_status.as_deref(), Some("production"));
    assert!(!doc.deprecated && !doc.building_block && doc.enabled);
    // T1059 carries a sub-technique: it counts only for T1059.001; t1204 is upper-cased.
    let ids: Vec<&str> = doc.techniques.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["T1059.001", "T1204"]);
    assert_eq!(doc.techniques[0].name.as_deref(), Some("PowerShell"));
    assert_eq!(doc.tactics, ["execution", "defense-evasion"]);
    assert_eq!(doc.raw_platforms, ["Windows", "Linux", "Elastic Defend"]);
    assert_eq!(doc.raw_domains, ["Endpoint"]);
    assert_eq!(
        doc.logsource["index"],
        ["logs-endpoint.events.process-*", "winlogbeat-*"]
    );
    assert_eq!(doc.logsource["integration"], ["endpoint", "windows"]);
    assert_eq!(doc.logsource["data_source"], ["Elastic Defend"]);
    assert_eq!(doc.false_positives, ["Admin scripts."]);
    assert_eq!(doc.references, ["https://example.com/a"]);
    assert_eq!(doc.authors, ["Elastic"]);
    assert_eq!(doc.extra["risk_score"], serde_json::json!(47));
    assert_eq!(doc.extra["type"], serde_json::json!("query"));
    assert!(doc.query.starts_with("event.category:process"));
}

#[test]
fn kibana_filters_are_anded_and_negated_ones_are_exclusions() {
    let doc = check_expected("rules/windows/filters.toml");
    assert_eq!(doc.status, ParseStatus::Full, "{:?}", doc.lowered.unparsed);
    let doc = load("rules/windows/filter_unknown.toml");
    assert_eq!(doc.status, ParseStatus::Partial);
    assert_eq!(
        doc.lowered.unparsed[0].reason,
        "filter shape not supported: script"
    );
    let o = doc.lowered.unparsed[0].origin.as_ref().expect("origin");
    // The `script` key of the `[rule.filters.script.script]` header.
    assert_eq!((o.line, o.column), (18, 15));
}

#[test]
fn threshold_rule() {
    let doc = check_expected("rules/windows/threshold.toml");
    assert_eq!(doc.status, ParseStatus::Full);
}

#[test]
fn new_terms_rule() {
    let doc = check_expected("rules/windows/new_terms.toml");
    assert_eq!(
        doc.extra["history_window_start"],
        serde_json::json!("now-14d")
    );
}

#[test]
fn threat_match_rule() {
    let doc = check_expected("rules/windows/threat_match.toml");
    assert_eq!(doc.status, ParseStatus::Full);
    assert_eq!(doc.logsource["threat_index"], ["logs-ti_*"]);
}

#[test]
fn machine_learning_rule_has_no_query() {
    let doc = load("rules/windows/ml.toml");
    assert_eq!(doc.status, ParseStatus::NoQuery);
    assert!(doc.lowered.predicates.is_empty());
    assert_eq!(
        doc.extra["machine_learning_job_id"],
        serde_json::json!("rare_process")
    );
}

#[test]
fn lucene_rule_in_deprecated_folder() {
    let doc = check_expected("rules/_deprecated/lucene.toml");
    assert!(doc.deprecated);
    assert_eq!(doc.language, "lucene");
    assert_eq!(doc.rule_status.as_deref(), Some("deprecated"));
}

#[test]
fn eql_building_block_goes_to_the_eql_crate() {
    let doc = load("rules_building_block/eql_bb.toml");
    assert!(doc.building_block);
    assert_eq!(doc.language, "eql");
    // Whatever stage the EQL parser is at, the query is either lowered or unparsed, and
    // every position lies inside the query string (line 13).
    assert!(!doc.lowered.predicates.is_empty() || !doc.lowered.unparsed.is_empty());
    for p in &doc.lowered.predicates {
        assert_eq!(p.origin.as_ref().map(|o| o.line), Some(13), "{p:?}");
    }
}

#[test]
fn hunt_with_three_languages() {
    let doc = load("hunting/linux/queries/hunt.toml");
    assert_eq!(doc.kind, RuleKind::Hunt);
    assert_eq!(
        doc.native_id.as_deref(),
        Some("aaaaaaaa-0000-0000-0000-000000000001")
    );
    let ids: Vec<&str> = doc.techniques.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["T1053.003", "T1053.005"]);
    assert_eq!(
        doc.extra["query_languages"],
        serde_json::json!(["esql", "sql", "eql"])
    );
    assert_eq!(doc.language, "esql");
    assert_eq!(doc.logsource["integration"], ["endpoint"]);
    // The ES|QL `FROM` pattern is a log-source hint.
    assert_eq!(doc.logsource["index"], ["logs-endpoint.events.file-*"]);
    let sql = doc
        .lowered
        .unparsed
        .iter()
        .find(|u| u.reason == "osquery SQL not supported")
        .expect("sql unparsed");
    assert_eq!(sql.origin.as_ref().map(|o| o.line), Some(18));
    assert_eq!(doc.status, ParseStatus::Partial);
    assert!(matches!(
        doc.lowered.tree,
        ruleatlas_model::Condition::Or(_)
    ));
}

#[test]
fn language_detection() {
    use ruleatlas_elastic::detect_language;
    assert_eq!(detect_language("from logs-* | where a == 1"), "esql");
    assert_eq!(detect_language("FROM logs-*\n| STATS c = count()"), "esql");
    assert_eq!(detect_language("  SELECT * FROM processes"), "sql");
    assert_eq!(
        detect_language("sequence by host.id [process where true]"),
        "eql"
    );
    assert_eq!(
        detect_language("process where process.name == \"x\""),
        "eql"
    );
    assert_eq!(detect_language("hello"), "unknown");
}

#[test]
fn roles() {
    let a = ElasticAdapter::new();
    assert_eq!(a.role("rules/windows/x.toml"), FileRole::Rule);
    assert_eq!(a.role("rules_building_block/x.toml"), FileRole::Rule);
    assert_eq!(a.role("hunting/aws/queries/x.toml"), FileRole::Rule);
    assert_eq!(a.role("hunting/aws/docs/x.md"), FileRole::Ignore);
    assert_eq!(a.role("detection_rules/etc/x.toml"), FileRole::Ignore);
    assert!(a.sniff("x.toml", "[metadata]\n[rule]\nname = 'x'\n"));
    assert!(!a.sniff("x.yml", "title: x"));
}

#[test]
fn hunt_query_with_a_fence_tag() {
    let doc = load("hunting/linux/queries/fenced.toml");
    assert_eq!(doc.extra["query_languages"], serde_json::json!(["esql"]));
    assert!(doc.query.starts_with("from logs-endpoint"));
    assert!(
        doc.lowered
            .unparsed
            .iter()
            .all(|u| u.reason != "query language not recognized")
    );
    // Positions skip the tag line: the WHERE clause is on line 13 of the file.
    for p in &doc.lowered.predicates {
        assert_eq!(p.origin.as_ref().map(|o| o.line), Some(13), "{p:?}");
    }
}
