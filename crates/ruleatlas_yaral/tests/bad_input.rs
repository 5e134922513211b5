//! Malformed input: every case yields a diagnostic with a path and line:column, never a
//! panic, and the other rules of the file are kept.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{FileRole, ParseStatus, RuleDoc, VendorAdapter};
use ruleatlas_yaral::YaralAdapter;

const GOOD: &str = r#"
rule good_rule {
  meta:
    rule_id = "good"
  events:
    $e.metadata.event_type = "USER_LOGIN"
  condition:
    $e
}
"#;

fn load(text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
    YaralAdapter::new().load("rules/bad/x.yaral", text)
}

fn all_diags(docs: &[RuleDoc], file: &[Diagnostic]) -> Vec<Diagnostic> {
    docs.iter()
        .flat_map(|d| d.lowered.diagnostics.clone())
        .chain(file.iter().cloned())
        .collect()
}

/// The first diagnostic whose message contains `needle`, checked for path and position.
fn find(diags: &[Diagnostic], needle: &str) -> Diagnostic {
    let d = diags
        .iter()
        .find(|d| d.message.contains(needle))
        .unwrap_or_else(|| panic!("no diagnostic containing {needle:?} in {diags:#?}"))
        .clone();
    assert_eq!(d.path.as_deref(), Some("rules/bad/x.yaral"), "{d}");
    assert!(d.line.is_some() && d.column.is_some(), "{d}");
    d
}

fn good_kept(docs: &[RuleDoc]) {
    let g = docs
        .iter()
        .find(|d| d.native_id.as_deref() == Some("good"))
        .expect("good rule kept");
    assert_eq!(g.status, ParseStatus::Full);
    assert_eq!(g.lowered.predicates.len(), 1);
}

#[test]
fn rule_missing_a_section() {
    let text = format!(
        "rule no_condition {{\n  meta:\n    a = \"b\"\n  events:\n    $e.metadata.event_type = \"X\"\n}}\n{GOOD}"
    );
    let (docs, file) = load(&text);
    let d = find(&all_diags(&docs, &file), "no `condition:` section");
    assert_eq!((d.line, d.column), (Some(1), Some(6)));
    assert_eq!(docs[0].status, ParseStatus::Failed);
    good_kept(&docs);

    let text =
        format!("rule no_events {{\n  meta:\n    a = \"b\"\n  condition:\n    $e\n}}\n{GOOD}");
    let (docs, file) = load(&text);
    find(&all_diags(&docs, &file), "no `events:` section");
    assert_eq!(docs[0].status, ParseStatus::Failed);
    good_kept(&docs);
}

#[test]
fn unclosed_brace_before_another_rule_and_at_end() {
    let text =
        format!("rule open_rule {{\n  events:\n    $e.x = \"1\"\n  condition:\n    $e\n{GOOD}");
    let (docs, file) = load(&text);
    let d = find(&all_diags(&docs, &file), "unclosed `{`");
    assert_eq!((d.line, d.column), (Some(1), Some(16)));
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].status, ParseStatus::Failed);
    good_kept(&docs);

    let text =
        format!("{GOOD}\nrule open_at_end {{\n  events:\n    $e.x = \"1\"\n  condition:\n    $e\n");
    let (docs, file) = load(&text);
    find(&all_diags(&docs, &file), "unclosed `{`");
    assert_eq!(docs.len(), 2);
    good_kept(&docs);
}

#[test]
fn unclosed_regex_and_string() {
    let text = format!(
        "rule bad_regex {{\n  events:\n    $e.a = \"ok\"\n    $e.x = /abc\n    $e.y = \"fine\"\n    $e.z = \"open\n  condition:\n    $e\n}}\n{GOOD}"
    );
    let (docs, file) = load(&text);
    let diags = all_diags(&docs, &file);
    let d = find(&diags, "unclosed regular expression");
    assert_eq!((d.line, d.column), (Some(4), Some(12)));
    let d = find(&diags, "unclosed string");
    assert_eq!(d.line, Some(6));
    let bad = &docs[0];
    assert_eq!(bad.status, ParseStatus::Partial);
    let fields: Vec<&str> = bad
        .lowered
        .predicates
        .iter()
        .map(|p| p.raw_field.as_str())
        .collect();
    assert_eq!(fields, vec!["a", "y"]);
    assert_eq!(bad.lowered.unparsed.len(), 2);
    assert!(
        bad.lowered
            .unparsed
            .iter()
            .all(|u| u.reason == "syntax error" && u.origin.is_some())
    );
    good_kept(&docs);
}

#[test]
fn deep_parentheses_in_events() {
    let n = 100_000;
    let text = format!(
        "rule deep {{\n  events:\n    {}$e.x = \"a\"{}\n    $e.y = \"b\"\n  condition:\n    $e\n}}\n{GOOD}",
        "(".repeat(n),
        ")".repeat(n)
    );
    let (docs, file) = load(&text);
    let d = find(&all_diags(&docs, &file), "nesting deeper than 200");
    assert_eq!(d.line, Some(3));
    let deep = &docs[0];
    assert_eq!(deep.status, ParseStatus::Partial);
    assert_eq!(
        deep.lowered
            .predicates
            .iter()
            .map(|p| p.raw_field.as_str())
            .collect::<Vec<_>>(),
        vec!["y"]
    );
    assert_eq!(deep.lowered.unparsed[0].reason, "nesting too deep");
    good_kept(&docs);
}

#[test]
fn deep_prefixes_calls_and_long_chains() {
    let n = 100_000;
    for body in [
        format!("{}$e.x = \"a\"", "not ".repeat(n)),
        format!("{}$e.x = \"a\"", "!".repeat(n)),
        format!("$e.x = {}1", "-".repeat(n)),
        format!("{}$e.x{}", "strings.to_lower(".repeat(n), ")".repeat(n)),
        format!("$e.x = \"a\"{}", " nocase".repeat(n)),
        format!("$e.x in %a{}", " in %b".repeat(n)),
    ] {
        let text = format!(
            "rule deep {{\n  events:\n    {body}\n    $e.y = \"b\"\n  condition:\n    $e\n}}\n{GOOD}"
        );
        let (docs, file) = load(&text);
        assert!(!all_diags(&docs, &file).is_empty());
        good_kept(&docs);
    }
    // Long but flat: fine, and fully lowered.
    let chain: Vec<String> = (0..20_000).map(|i| format!("$e.x = \"{i}\"")).collect();
    let text = format!(
        "rule long {{\n  events:\n    {}\n  condition:\n    $e\n}}",
        chain.join(" or ")
    );
    let (docs, file) = load(&text);
    assert!(file.is_empty());
    assert_eq!(docs[0].status, ParseStatus::Full);
    assert_eq!(docs[0].lowered.predicates.len(), 20_000);
    // Deep nesting in `outcome:` and `condition:` as well.
    let text = format!(
        "rule deep_outcome {{\n  events:\n    $e.y = \"b\"\n  outcome:\n    $r = max({}1{})\n  condition:\n    {}$e{}\n}}\n{GOOD}",
        "(".repeat(n),
        ")".repeat(n),
        "(".repeat(n),
        ")".repeat(n)
    );
    let (docs, file) = load(&text);
    find(&all_diags(&docs, &file), "nesting deeper");
    good_kept(&docs);
}

#[test]
fn not_a_rule() {
    let (docs, file) = load("This is not a rule.\nJust some notes.\n");
    assert!(docs.is_empty());
    let d = find(&file, "no YARA-L rule");
    assert_eq!((d.line, d.column), (Some(1), Some(1)));

    let adapter = YaralAdapter::new();
    let dash = "lookml:\n- dashboard: our_dashboard\n  elements: []\n";
    assert_eq!(
        adapter.role("rules/community/dashboards/Our Dashboard.yaml"),
        FileRole::Rule
    );
    let (docs, file) = adapter.load("rules/community/dashboards/Our Dashboard.yaml", dash);
    assert!(docs.is_empty());
    assert_eq!(file.len(), 1);
    assert_eq!(
        file[0].path.as_deref(),
        Some("rules/community/dashboards/Our Dashboard.yaml")
    );
    assert_eq!(file[0].line, Some(1));
    assert_eq!(adapter.role("LICENSE"), FileRole::Ignore);
    assert_eq!(adapter.role("README.md"), FileRole::Ignore);
    assert_eq!(adapter.role("tools/config.yaml"), FileRole::Ignore);
    assert_eq!(adapter.role("rules/community/okta/x.yaral"), FileRole::Rule);
    // Older revisions stored rules without an extension: read, and sniffed.
    assert_eq!(
        adapter.role("community/okta/okta_user_account_lockout"),
        FileRole::Rule
    );
    let (docs, file) = adapter.load("community/okta/okta_user_account_lockout", GOOD);
    assert_eq!((docs.len(), file.len()), (1, 0));
    let (docs, file) = adapter.load("community/okta/OWNERS", "alice\nbob\n");
    assert_eq!((docs.len(), file.len()), (0, 1));
}

#[test]
fn junk_between_rules_and_bad_meta() {
    let text = format!(
        "garbage here {{ }}\n{GOOD}\n@@@\nrule meta_bad {{\n  meta:\n    = \"x\"\n    ok = \"y\"\n  events:\n    $e.a = 1\n  condition:\n    $e\n}}"
    );
    let (docs, file) = load(&text);
    let diags = all_diags(&docs, &file);
    let d = find(&diags, "expected `rule NAME {`");
    assert_eq!((d.line, d.column), (Some(1), Some(1)));
    find(&diags, "unexpected character `@`");
    find(&diags, "expected `key = \"value\"`");
    good_kept(&docs);
    let m = docs
        .iter()
        .find(|d| d.native_id.as_deref() == Some("meta_bad"))
        .expect("meta_bad");
    assert_eq!(m.status, ParseStatus::Full);
    assert_eq!(m.extra.get("ok").and_then(|v| v.as_str()), Some("y"));
}

#[test]
fn sniff() {
    let a = YaralAdapter::new();
    assert!(a.sniff("x.txt", GOOD));
    assert!(!a.sniff(
        "x.yar",
        "rule plain_yara { strings: $a = \"x\" condition: $a }"
    ));
    assert!(!a.sniff("x.yml", "title: sigma\ndetection:\n  condition: sel\n"));
}

#[test]
fn bom_and_crlf() {
    let text = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
    let (docs, file) = load(&text);
    assert!(file.is_empty(), "{file:?}");
    assert!(
        docs[0].lowered.diagnostics.is_empty(),
        "{:?}",
        docs[0].lowered.diagnostics
    );
    good_kept(&docs);
    let o = docs[0].lowered.predicates[0]
        .origin
        .as_ref()
        .expect("origin");
    assert_eq!((o.line, o.column), (6, 5));
}
