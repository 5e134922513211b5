//! Hostile and broken input: each case is one located diagnostic, never a panic, and the good
//! rules beside it are kept.

use ruleatlas_model::{LIMITS, ParseStatus, VendorAdapter};
use ruleatlas_sigma::SigmaAdapter;
use ruleatlas_testkit::run_adapter;

const GOOD: &str = "title: Good\nid: good-1\nlogsource:\n  product: windows\ndetection:\n  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n";

fn load(
    text: &str,
) -> (
    Vec<ruleatlas_model::RuleDoc>,
    Vec<ruleatlas_diagnostics::Diagnostic>,
) {
    SigmaAdapter::new().load("rules/windows/bad.yml", text)
}

#[test]
fn broken_yaml_is_a_failed_rule_with_line_and_column() {
    let (docs, _) = load("title: x\ndetection:\n  sel:\n    a: [1, 2\n  condition: sel\n");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].status, ParseStatus::Failed);
    let d = &docs[0].lowered.diagnostics[0];
    assert_eq!(d.code, "yaml");
    assert_eq!(d.path.as_deref(), Some("rules/windows/bad.yml"));
    assert!(d.line.is_some_and(|l| l >= 4) && d.column.is_some(), "{d}");
}

#[test]
fn binary_file_is_a_failed_rule() {
    let (docs, _) = load("title: x\n\0\0\u{1}\u{2}");
    assert_eq!(docs[0].status, ParseStatus::Failed);
    let d = &docs[0].lowered.diagnostics[0];
    assert_eq!(
        (d.code.as_str(), d.line, d.column),
        ("binary", Some(2), Some(1))
    );
}

#[test]
fn empty_file_is_a_diagnostic_not_a_rule() {
    for text in ["", "   \n\n", "\u{feff}"] {
        let (docs, diags) = load(text);
        assert!(docs.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!((diags[0].line, diags[0].column), (Some(1), Some(1)));
    }
}

#[test]
fn non_utf8_bytes_are_reported() {
    let bytes = [GOOD.as_bytes(), b"description: caf\xe9\n"].concat();
    let text = String::from_utf8_lossy(&bytes);
    let (docs, diags) = load(&text);
    assert_eq!(docs.len(), 1, "the rule is still read");
    assert_eq!(docs[0].status, ParseStatus::Full);
    let enc: Vec<_> = diags.iter().filter(|d| d.code == "encoding").collect();
    assert_eq!(enc.len(), 1);
    assert_eq!((enc[0].line, enc[0].column), (Some(9), Some(17)));
}

#[test]
fn oversized_file_is_a_failed_rule() {
    let big = format!(
        "{GOOD}description: '{}'\n",
        "x".repeat(usize::try_from(LIMITS.max_file_bytes).unwrap_or(0))
    );
    let (docs, _) = load(&big);
    assert_eq!(docs[0].status, ParseStatus::Failed);
    assert_eq!(docs[0].lowered.diagnostics[0].code, "limit-file-size");
}

#[test]
fn deep_condition_is_a_diagnostic_not_a_stack_overflow() {
    let depth = 200_000;
    let text = format!(
        "title: Deep\nid: deep\nlogsource:\n  product: windows\ndetection:\n  sel:\n    A: 1\n  condition: {}sel{}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let (docs, _) = load(&text);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].status, ParseStatus::Partial);
    assert_eq!(
        docs[0].lowered.unparsed[0].reason,
        "condition too deeply nested"
    );
    let d = docs[0]
        .lowered
        .diagnostics
        .iter()
        .find(|d| d.code == "limit-depth")
        .expect("limit diagnostic");
    // The guard trips on the 201st parenthesis: line 8, column 14 + 200.
    assert_eq!((d.line, d.column), (Some(8), Some(214)));
    let nots = format!(
        "title: Deep\nid: deep\nlogsource:\n  product: windows\ndetection:\n  sel:\n    A: 1\n  condition: {}sel\n",
        "not ".repeat(100_000)
    );
    let (docs, _) = load(&nots);
    assert_eq!(
        docs[0].lowered.unparsed[0].reason,
        "condition too deeply nested"
    );
}

#[test]
fn deep_yaml_is_a_failed_rule() {
    let text = format!("title: x\ndetection: {}\n", "[".repeat(100_000));
    let (docs, _) = load(&text);
    assert_eq!(docs[0].status, ParseStatus::Failed);
    assert!(docs[0].lowered.diagnostics[0].line.is_some());
}

#[test]
fn yaml_without_detection_is_not_a_rule() {
    let (docs, diags) = load("title: Just metadata\nlogsource:\n  product: windows\n");
    assert!(docs.is_empty());
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "not-a-rule");
    assert_eq!((diags[0].line, diags[0].column), (Some(1), Some(1)));
    let (docs, diags) = load("- a\n- b\n");
    assert!(docs.is_empty());
    assert_eq!(diags.len(), 1);
}

#[test]
fn malformed_detection_parts_are_unparsed_with_positions() {
    let text = "title: x\nid: x\nlogsource:\n  product: windows\ndetection:\n  sel:\n    A|contains:\n      nested: map\n    B: 1\n  empty:\n  condition: sel and empty and (\n";
    let (docs, _) = load(text);
    let d = &docs[0];
    assert_eq!(d.status, ParseStatus::Partial);
    let reasons: Vec<&str> = d
        .lowered
        .unparsed
        .iter()
        .map(|u| u.reason.as_str())
        .collect();
    assert_eq!(reasons, ["condition syntax error"]);
    let diag = d
        .lowered
        .diagnostics
        .iter()
        .find(|g| g.code == "sigma-condition")
        .expect("diag");
    assert_eq!((diag.line, diag.column), (Some(11), Some(33)));

    let text = "title: x\nid: x\nlogsource:\n  product: windows\ndetection:\n  sel:\n    A|contains:\n      nested: map\n    B: 1\n  empty:\n  condition: sel or empty\n";
    let (docs, _) = load(text);
    let reasons: Vec<&str> = docs[0]
        .lowered
        .unparsed
        .iter()
        .map(|u| u.reason.as_str())
        .collect();
    assert_eq!(reasons, ["map as a field value", "empty search identifier"]);
    let origins: Vec<(u32, u32)> = docs[0]
        .lowered
        .unparsed
        .iter()
        .filter_map(|u| u.origin.as_ref().map(|o| (o.line, o.column)))
        .collect();
    assert_eq!(origins, [(8, 7), (10, 3)]);
}

#[test]
fn a_repository_with_bad_files_keeps_its_good_rules() {
    let root = std::env::temp_dir().join(format!("ruleatlas_sigma_bad_{}", std::process::id()));
    let rules = root.join("rules/windows");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("good.yml"), GOOD).expect("write");
    std::fs::write(rules.join("broken.yml"), "title: [unclosed\n").expect("write");
    std::fs::write(rules.join("binary.yml"), [0u8, 159, 146, 150, 0, 1]).expect("write");
    std::fs::write(rules.join("empty.yml"), "").expect("write");
    std::fs::write(rules.join("notes.yml"), "title: no detection\n").expect("write");
    #[cfg(unix)]
    {
        let _ = std::os::unix::fs::symlink(&rules, rules.join("loop"));
    }
    let mut adapter = SigmaAdapter::new();
    let result = run_adapter(&mut adapter, &root);
    let _ = std::fs::remove_dir_all(&root);
    let good = result.by_id("good-1").expect("good rule kept");
    assert_eq!(good.status, ParseStatus::Full);
    let failed: Vec<&str> = result
        .docs
        .iter()
        .filter(|d| d.status == ParseStatus::Failed)
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(
        failed,
        ["rules/windows/binary.yml", "rules/windows/broken.yml"]
    );
    assert_eq!(result.diagnostics.len(), 2, "{:?}", result.diagnostics);
    for d in result
        .docs
        .iter()
        .flat_map(|d| &d.lowered.diagnostics)
        .chain(&result.diagnostics)
    {
        assert!(
            d.path.is_some() && d.line.is_some() && d.column.is_some(),
            "{d}"
        );
    }
}

#[test]
fn byte_order_mark_and_crlf_keep_positions() {
    let text = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
    let (docs, diags) = load(&text);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(docs[0].status, ParseStatus::Full);
    let o = docs[0].lowered.predicates[0]
        .origin
        .as_ref()
        .expect("origin");
    assert_eq!((o.line, o.column), (7, 21));
    assert!(
        docs[0].query.starts_with("detection:"),
        "{:?}",
        docs[0].query
    );
    assert!(
        docs[0].query.ends_with("condition: sel"),
        "{:?}",
        docs[0].query
    );
}
