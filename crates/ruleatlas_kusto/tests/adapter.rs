//! The Sentinel YAML adapter: metadata, origins, trigger thresholds and bad input.

use ruleatlas_kusto::KustoAdapter;
use ruleatlas_model::{FileRole, ParseStatus, RuleDoc, VendorAdapter};
use ruleatlas_testkit::preds;

const MFA: &str = include_str!("fixtures/rules/Detections/SigninLogs/MfaDenySpike.yaml");
const OKTA: &str = include_str!("fixtures/rules/Solutions/Okta/Analytic Rules/OktaPushBurst.yaml");

fn load_one(path: &str, text: &str) -> RuleDoc {
    let (mut docs, diags) = KustoAdapter::new().load(path, text);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn rule_with_query(query: &str) -> String {
    let mut s = String::from(
        "id: 11111111-2222-3333-4444-555555555555\nname: Bad\nseverity: Low\nqueryFrequency: 1h\nquery: |\n",
    );
    for l in query.lines() {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s.push_str("kind: Scheduled\n");
    s
}

#[test]
fn metadata_predicates_and_origins() {
    let doc = load_one("Detections/SigninLogs/MfaDenySpike.yaml", MFA);
    assert_eq!(
        doc.native_id.as_deref(),
        Some("6f0b1c3e-1d2a-4c1e-9a51-2f1e0c9d7a01")
    );
    assert_eq!(doc.title, "Repeated MFA denials followed by a success");
    assert_eq!(doc.severity.as_deref(), Some("Medium"));
    assert_eq!(doc.rule_status.as_deref(), Some("Available"));
    assert_eq!(doc.language, "kql");
    let techniques: Vec<&str> = doc.techniques.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(techniques, vec!["T1621", "T1110.003"]);
    assert_eq!(doc.tactics, vec!["credential-access"]);
    assert_eq!(
        doc.logsource.get("table"),
        Some(&vec!["SigninLogs".to_string()])
    );
    assert_eq!(
        doc.logsource.get("connector"),
        Some(&vec!["AzureActiveDirectory".to_string()])
    );
    assert!(doc.raw_platforms.contains(&"SigninLogs".to_string()));
    assert!(doc.raw_platforms.contains(&"azure".to_string()));
    assert_eq!(doc.raw_domains, vec!["identity"]);
    assert_eq!(doc.authors, vec!["RuleAtlas"]);
    assert_eq!(
        doc.extra.get("kind").and_then(|v| v.as_str()),
        Some("Scheduled")
    );
    assert_eq!(
        doc.extra.get("queryFrequency").and_then(|v| v.as_str()),
        Some("1h")
    );
    assert_eq!(doc.status, ParseStatus::Full, "{:?}", doc.lowered);
    assert_eq!(
        preds(&doc),
        vec![
            "ResultType in [500121,50074] cs",
            "Status contains [\"MFA denied\"] kusto_op=\"has\"",
            "Denies ge [5] computed threshold",
            "ResultType eq [0] cs",
            "AuthenticationRequirement eq [\"multiFactorAuthentication\"]",
            "UserPrincipalName eq [\"UserPrincipalName\"] cs join join_kind=\"inner\"",
        ]
    );
    // `| where ResultType in (denyCodes)` is line 25 of the file, the field at column 11.
    let o = doc.lowered.predicates[0].origin.as_ref().expect("origin");
    assert_eq!(
        (o.path.as_str(), o.line, o.column),
        ("Detections/SigninLogs/MfaDenySpike.yaml", 25, 11)
    );
    let o = doc.lowered.predicates[3].origin.as_ref().expect("origin");
    assert_eq!((o.line, o.column), (31, 15));
}

#[test]
fn trigger_threshold_keep_plus_and_case_variant_kind() {
    let doc = load_one("Solutions/Okta/Analytic Rules/OktaPushBurst.yaml", OKTA);
    assert_eq!(doc.extra.get("kind").and_then(|v| v.as_str()), Some("NRT"));
    assert_eq!(
        preds(&doc),
        vec![
            "eventType_s in [\"system.push.send_factor_verify_push\",\"user.mfa.okta_verify.deny_push\"]",
            "client_ipAddress_s starts_with [\"10.\"] negated exclusion",
            "pushes gt [10] computed threshold",
            "_result_count ge [3] computed threshold trigger=true",
        ]
    );
    let trig = doc.lowered.predicates[3].origin.as_ref().expect("origin");
    assert_eq!((trig.line, trig.column), (12, 19));
    assert_eq!(doc.raw_domains, vec!["identity"]);
}

#[test]
fn crlf_files_map_origins() {
    let crlf = MFA.replace('\n', "\r\n");
    let doc = load_one("x/MfaDenySpike.yaml", &crlf);
    assert_eq!(doc.status, ParseStatus::Full);
    let o = doc.lowered.predicates[0].origin.as_ref().expect("origin");
    assert_eq!((o.line, o.column), (25, 11));
}

#[test]
fn gt_zero_trigger_is_not_a_predicate() {
    let doc = load_one(
        "a.yaml",
        &rule_with_query("T | where A == 1")
            .replace("kind:", "triggerOperator: gt\ntriggerThreshold: 0\nkind:"),
    );
    assert_eq!(preds(&doc), vec!["A eq [1] cs"]);
}

fn assert_located(doc: &RuleDoc, code: &str, needle: &str, line: u32) {
    let d = doc
        .lowered
        .diagnostics
        .iter()
        .find(|d| d.code == code && d.message.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "no {code} diagnostic with {needle:?}: {:?}",
                doc.lowered.diagnostics
            )
        });
    assert_eq!(d.path.as_deref(), Some(doc.path.as_str()));
    assert_eq!(d.line, Some(line), "{d}");
    assert!(d.column.is_some(), "{d}");
}

#[test]
fn unterminated_string_is_a_located_failure() {
    let doc = load_one(
        "bad/unterminated.yaml",
        &rule_with_query("T\n| where A == \"abc\n| where B == 1"),
    );
    assert_eq!(doc.status, ParseStatus::Failed);
    assert_located(&doc, "kusto-syntax", "unterminated string", 7);
}

#[test]
fn unterminated_dynamic_is_a_located_failure() {
    let doc = load_one(
        "bad/dynamic.yaml",
        &rule_with_query("let l = dynamic([\"a\", \"b\";\nT | where A in (l)"),
    );
    assert_eq!(doc.status, ParseStatus::Failed);
    assert!(
        doc.lowered
            .diagnostics
            .iter()
            .any(|d| d.code == "kusto-syntax" && d.line == Some(6)),
        "{:?}",
        doc.lowered.diagnostics
    );
    let doc = load_one(
        "bad/dynamic2.yaml",
        &rule_with_query("T | where A in (dynamic("),
    );
    assert_eq!(doc.status, ParseStatus::Failed);
    assert_located(&doc, "kusto-syntax", "expected", 6);
}

#[test]
fn unknown_operator_is_located_and_the_rest_kept() {
    let doc = load_one(
        "bad/unknown.yaml",
        &rule_with_query("T\n| where A == 1\n| frobnicate B\n| where C == 2"),
    );
    assert_eq!(doc.status, ParseStatus::Failed);
    assert_located(&doc, "kusto-syntax", "unknown operator: frobnicate", 8);
    assert_eq!(preds(&doc), vec!["A eq [1] cs", "C eq [2] cs"]);
    assert_eq!(
        doc.lowered.unparsed[0].reason,
        "unknown operator: frobnicate"
    );
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_crash() {
    let q = format!(
        "T | where {}A == 1{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let doc = load_one("bad/deep.yaml", &rule_with_query(&q));
    assert_eq!(doc.status, ParseStatus::Failed);
    assert_located(&doc, "limit-depth", "nesting deeper than", 6);
    let q = format!("T | where {}", "not(".repeat(100_000));
    let doc = load_one("bad/deep2.yaml", &rule_with_query(&q));
    assert_eq!(doc.status, ParseStatus::Failed);
    // Long left-nested chains: members, indexes, arithmetic, unary minus, dynamic arrays.
    for (name, q) in [
        (
            "members",
            format!("T | where A{} == 1", ".b".repeat(100_000)),
        ),
        (
            "indexes",
            format!("T | where A{} == 1", "[0]".repeat(100_000)),
        ),
        ("sums", format!("T | where A{} > 1", " + 1".repeat(100_000))),
        ("minus", format!("T | where A == {}1", "-".repeat(100_000))),
        (
            "dynamic",
            format!("T | where A in (dynamic({}))", "[".repeat(100_000)),
        ),
        (
            "lets",
            (0..5_000)
                .map(|i| format!("let a{} = a{} | where x == {i};\n", i + 1, i))
                .collect::<String>()
                + "a5000",
        ),
    ] {
        let doc = load_one(&format!("bad/{name}.yaml"), &rule_with_query(&q));
        assert!(
            doc.status == ParseStatus::Failed || doc.status == ParseStatus::Partial,
            "{name}: {:?}",
            doc.status
        );
    }
}

#[test]
fn yaml_without_query_is_a_located_failure() {
    let text = "id: 11111111-2222-3333-4444-555555555555\nname: No query\nseverity: Low\nqueryFrequency: 1h\n";
    let doc = load_one("bad/noquery.yaml", text);
    assert_eq!(doc.status, ParseStatus::Failed);
    assert_eq!(
        doc.native_id.as_deref(),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_located(&doc, "kusto-no-query", "query", 1);
    // A YAML that is not a rule at all: no document, a diagnostic.
    let (docs, diags) = KustoAdapter::new().load(
        "Solutions/X/ReleaseNotes.yaml",
        "version: 3\nnotes: hello\n",
    );
    assert!(docs.is_empty());
    assert_eq!(diags[0].line, Some(1));
    assert_eq!(
        diags[0].path.as_deref(),
        Some("Solutions/X/ReleaseNotes.yaml")
    );
}

#[test]
fn built_in_kinds_without_query_are_no_query() {
    let text = "id: 28b42356-45af-40a6-a0b4-a554cdfd5d8a\nname: Advanced Multistage Attack Detection\nkind: Fusion\nseverity: High\n";
    let doc = load_one("Detections/Fusion/fusion.yaml", text);
    assert_eq!(doc.status, ParseStatus::NoQuery);
    assert_eq!(doc.title, "Advanced Multistage Attack Detection");
}

#[test]
fn deprecated_folders_and_names() {
    let doc = load_one("Solutions/Legacy IOC/Deprecated Analytic Rules/x.yaml", MFA);
    assert!(doc.deprecated);
    let doc = load_one(
        "Detections/x.yaml",
        &MFA.replace(
            "name: Repeated MFA denials followed by a success",
            "name: '[Deprecated] Repeated MFA denials followed by a success'",
        ),
    );
    assert!(doc.deprecated);
    let doc = load_one("Detections/x.yaml", MFA);
    assert!(!doc.deprecated);
}

#[test]
fn invalid_yaml_is_a_located_failure() {
    let text = "id: x\nname: Broken\nquery: |\n  T | where A == 1\n bad: : indentation\n";
    let doc = load_one("bad/broken.yaml", text);
    assert_eq!(doc.status, ParseStatus::Failed);
    let d = &doc.lowered.diagnostics[0];
    assert_eq!(d.code, "yaml");
    assert!(d.line.is_some() && d.column.is_some(), "{d}");
    assert_eq!(d.path.as_deref(), Some("bad/broken.yaml"));
}

#[test]
fn bad_files_do_not_stop_the_others() {
    let dir = std::env::temp_dir().join(format!("ruleatlas_kusto_bad_{}", std::process::id()));
    let rules = dir.join("Detections");
    std::fs::create_dir_all(&rules).expect("temp dir");
    std::fs::write(rules.join("a_good.yaml"), MFA).expect("write");
    std::fs::write(
        rules.join("b_unterminated.yaml"),
        rule_with_query("T | where A == 'x"),
    )
    .expect("write");
    std::fs::write(
        rules.join("c_deep.yaml"),
        rule_with_query(&format!("T | where {}A", "(".repeat(100_000))),
    )
    .expect("write");
    std::fs::write(
        rules.join("d_noquery.yaml"),
        "id: y\nname: n\nseverity: Low\n",
    )
    .expect("write");
    std::fs::write(rules.join("e_broken.yaml"), "id: [\n").expect("write");
    std::fs::write(rules.join("f_good.yaml"), OKTA).expect("write");
    let mut adapter = KustoAdapter::new();
    let run = ruleatlas_testkit::run_adapter(&mut adapter, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let status: Vec<(String, ParseStatus)> = run
        .docs
        .iter()
        .map(|d| (d.path.clone(), d.status))
        .collect();
    assert_eq!(
        status,
        vec![
            ("Detections/a_good.yaml".to_string(), ParseStatus::Full),
            (
                "Detections/b_unterminated.yaml".to_string(),
                ParseStatus::Failed
            ),
            ("Detections/c_deep.yaml".to_string(), ParseStatus::Failed),
            ("Detections/d_noquery.yaml".to_string(), ParseStatus::Failed),
            ("Detections/e_broken.yaml".to_string(), ParseStatus::Failed),
            ("Detections/f_good.yaml".to_string(), ParseStatus::Full),
        ]
    );
}

#[test]
fn roles_and_sniffing() {
    let a = KustoAdapter::new();
    assert_eq!(a.role("Detections/SigninLogs/x.yaml"), FileRole::Rule);
    assert_eq!(
        a.role("Solutions/Okta/Analytic Rules/x.yml"),
        FileRole::Rule
    );
    assert_eq!(
        a.role("Solutions/Okta/Hunting Queries/x.yaml"),
        FileRole::Ignore
    );
    assert_eq!(a.role("Detections/x.json"), FileRole::Ignore);
    assert!(a.sniff("x.yaml", MFA));
    assert!(!a.sniff("x.yaml", "title: sigma\ndetection:\n  sel: {}\n"));
}
