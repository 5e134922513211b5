//! Fixture rules written from Google's YARA-L 2.0 documentation, each with its expected
//! metadata and predicates written by hand in `tests/fixtures/<name>.expected`.
//!
//! Expected-file lines: `rule: NATIVE_ID` starts a rule; then any of `status:`, `title:`,
//! `technique: ID | NAME`, `tactics: a, b`, `logsource: k=v ...`, `extra.KEY: JSON`,
//! `pred: <ruleatlas_testkit::pred form>`, `unparsed: REASON`. Only the kinds of line an
//! expected file uses are compared.

use std::collections::BTreeSet;
use std::path::Path;

use ruleatlas_model::{RuleDoc, VendorAdapter};
use ruleatlas_testkit::pred;
use ruleatlas_yaral::YaralAdapter;

fn actual_lines(doc: &RuleDoc, kinds: &BTreeSet<String>) -> Vec<String> {
    let mut out = vec![format!(
        "rule: {}",
        doc.native_id.clone().unwrap_or_default()
    )];
    let want = |k: &str| kinds.contains(k);
    if want("status") {
        out.push(format!("status: {}", doc.status.as_str()));
    }
    if want("title") {
        out.push(format!("title: {}", doc.title));
    }
    if want("technique") {
        for t in &doc.techniques {
            match &t.name {
                Some(n) => out.push(format!("technique: {} | {n}", t.id)),
                None => out.push(format!("technique: {}", t.id)),
            }
        }
    }
    if want("tactics") && !doc.tactics.is_empty() {
        out.push(format!("tactics: {}", doc.tactics.join(", ")));
    }
    if want("logsource") && !doc.logsource.is_empty() {
        let parts: Vec<String> = doc
            .logsource
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}")))
            .collect();
        out.push(format!("logsource: {}", parts.join(" ")));
    }
    for k in kinds.iter().filter_map(|k| k.strip_prefix("extra.")) {
        if let Some(v) = doc.extra.get(k) {
            out.push(format!("extra.{k}: {v}"));
        }
    }
    if want("pred") {
        out.extend(
            doc.lowered
                .predicates
                .iter()
                .map(|p| format!("pred: {}", pred(p))),
        );
    }
    if want("unparsed") {
        out.extend(
            doc.lowered
                .unparsed
                .iter()
                .map(|u| format!("unparsed: {}", u.reason)),
        );
    }
    out
}

fn check(path: &Path) {
    let text = std::fs::read_to_string(path).expect("fixture");
    let expected_text =
        std::fs::read_to_string(path.with_extension("expected")).expect("expected file");
    let expected: Vec<String> = expected_text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let kinds: BTreeSet<String> = expected
        .iter()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let rel = format!("rules/fixtures/{name}");
    let (docs, diags) = YaralAdapter::new().load(&rel, &text);
    assert!(diags.is_empty(), "{name}: {diags:?}");
    let actual: Vec<String> = docs.iter().flat_map(|d| actual_lines(d, &kinds)).collect();
    assert_eq!(actual, expected, "{name}:\nactual:\n{}", actual.join("\n"));
    for d in &docs {
        for p in &d.lowered.predicates {
            let o = p.origin.as_ref().expect("origin");
            assert_eq!(o.path, rel);
            assert!(o.line > 1, "{name}: {p:?}");
        }
        assert!(
            d.query.starts_with("rule ") && d.query.ends_with('}'),
            "{name}: {}",
            d.query
        );
    }
}

#[test]
fn fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaral"))
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    for f in files {
        check(&f);
    }
}

/// The demo rules shipped for `ruleatlas demo` (`examples/yaral/rules/*/`) load fully, with
/// their techniques.
#[test]
fn demo_rules() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/yaral/rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("demo dir")
        .filter_map(Result::ok)
        .flat_map(|d| {
            std::fs::read_dir(d.path())
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut n = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("demo rule");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let (docs, diags) = YaralAdapter::new().load(&format!("rules/{name}"), &text);
        assert!(diags.is_empty(), "{name}: {diags:?}");
        assert_eq!(docs.len(), 1, "{name}");
        let d = &docs[0];
        assert_eq!(
            d.status,
            ruleatlas_model::ParseStatus::Full,
            "{name}: {:?}",
            d.lowered.unparsed
        );
        assert!(
            d.lowered.diagnostics.is_empty(),
            "{name}: {:?}",
            d.lowered.diagnostics
        );
        assert!(d.techniques.iter().all(|t| t.id.starts_with('T')), "{name}");
        assert!(!d.techniques.is_empty(), "{name}");
        n += 1;
    }
    assert_eq!(n, 3);
}
