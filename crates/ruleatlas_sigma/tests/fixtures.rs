//! Fixture rules written from the Sigma specification, each `x.yml` with a hand-written
//! `x.expected`: per document `== id`, its kind, status, links, then one line per predicate in
//! `ruleatlas_testkit::pred` form and one per unparsed reason.

use std::path::Path;

use ruleatlas_model::{RuleDoc, VendorAdapter};
use ruleatlas_sigma::SigmaAdapter;
use ruleatlas_testkit::pred;

fn fixtures_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn render(docs: &[&RuleDoc]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str(&format!(
            "== {}\n",
            d.native_id.clone().unwrap_or_else(|| d.title.clone())
        ));
        out.push_str(&format!("kind {}\n", d.kind.as_str()));
        out.push_str(&format!("status {}\n", d.status.as_str()));
        if !d.links.is_empty() {
            out.push_str(&format!("links {}\n", d.links.join(", ")));
        }
        for p in &d.lowered.predicates {
            out.push_str(&format!("pred {}\n", pred(p)));
        }
        for u in &d.lowered.unparsed {
            out.push_str(&format!("unparsed {}\n", u.reason));
        }
    }
    out
}

/// Loads every fixture file as one repository (so `link` sees them all).
fn load_all() -> (
    Vec<(String, String)>,
    Vec<RuleDoc>,
    Vec<ruleatlas_diagnostics::Diagnostic>,
) {
    let adapter = SigmaAdapter::new();
    let mut names: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    let mut files = Vec::new();
    for n in names {
        let text = std::fs::read_to_string(fixtures_dir().join(&n)).expect("read fixture");
        let rel = format!("rules/fixtures/{n}");
        let (d, g) = adapter.load(&rel, &text);
        docs.extend(d);
        diags.extend(g);
        files.push((n, rel));
    }
    diags.extend(adapter.link(&mut docs).diagnostics);
    (files, docs, diags)
}

#[test]
fn fixtures_match_hand_written_expectations() {
    let (files, docs, _) = load_all();
    let mut failures = Vec::new();
    for (name, rel) in &files {
        let expected_path = fixtures_dir().join(name.replace(".yml", ".expected"));
        let expected =
            std::fs::read_to_string(&expected_path).expect("every fixture has an .expected file");
        let mine: Vec<&RuleDoc> = docs.iter().filter(|d| &d.path == rel).collect();
        let got = render(&mine);
        if got.trim() != expected.trim() {
            failures.push(format!("--- {name}: expected\n{expected}\n--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn doc<'a>(docs: &'a [RuleDoc], id: &str) -> &'a RuleDoc {
    docs.iter()
        .find(|d| d.native_id.as_deref() == Some(id))
        .expect("document")
}

#[test]
fn metadata_of_a_rule() {
    let (_, docs, _) = load_all();
    let d = doc(&docs, "00000000-0000-4000-8000-000000000001");
    assert_eq!(d.title, "Every modifier of the Sigma specification");
    assert_eq!(d.language, "sigma");
    assert_eq!(d.severity.as_deref(), Some("high"));
    assert_eq!(d.rule_status.as_deref(), Some("experimental"));
    let techniques: Vec<&str> = d.techniques.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(techniques, ["T1059.001", "T1685"]);
    assert_eq!(d.tactics, ["execution", "stealth", "defense-impairment"]);
    assert_eq!(d.raw_platforms, ["windows"]);
    assert_eq!(d.raw_domains, ["category:process_creation"]);
    assert_eq!(
        d.logsource.get("product").map(Vec::as_slice),
        Some(&["windows".to_string()][..])
    );
    assert_eq!(d.false_positives, ["Administrators", "Software installers"]);
    assert_eq!(d.authors, ["RuleAtlas", "Tester Two"]);
    assert_eq!(d.references.len(), 1);
    assert!(!d.deprecated);
    let tags = d.extra.get("tags").expect("other tags").to_string();
    assert_eq!(
        tags,
        r#"["attack.g0016","cve.2024-0001","detection.threat-hunting"]"#
    );
    assert!(d.extra.contains_key("logsource_definition"));
    // The query shown is the detection block as written.
    assert!(
        d.query.starts_with("detection:\n    sel_contains:"),
        "{}",
        d.query
    );
    assert!(
        d.query.trim_end().ends_with("condition: 1 of them"),
        "{}",
        d.query
    );

    let v = doc(&docs, "00000000-0000-4000-8000-000000000002");
    assert_eq!(v.raw_domains, ["service:auditd"]);
    assert_eq!(v.raw_platforms, ["linux"]);
}

#[test]
fn collection_documents_inherit_global_metadata() {
    let (_, docs, _) = load_all();
    let d = doc(&docs, "00000000-0000-4000-8000-000000000021");
    assert_eq!(d.title, "Whoami execution (collection)");
    assert_eq!(d.severity.as_deref(), Some("medium"));
    assert_eq!(d.techniques[0].id, "T1033");
    assert_eq!(
        d.logsource.get("service").map(Vec::as_slice),
        Some(&["sysmon".to_string()][..])
    );
    // The query shows the global detection block and the document's own.
    assert_eq!(d.query.matches("detection:").count(), 2, "{}", d.query);
    // A predicate from the global document points at the global document's line.
    let contains = &d.lowered.predicates[0];
    assert_eq!(
        contains.origin.as_ref().map(|o| (o.line, o.column)),
        Some((10, 31))
    );
    let reset = doc(&docs, "00000000-0000-4000-8000-000000000023");
    assert!(reset.techniques.is_empty());
    assert_eq!(reset.severity, None);
}

#[test]
fn origins_point_at_values() {
    let (_, docs, _) = load_all();
    let d = doc(&docs, "00000000-0000-4000-8000-000000000002");
    let at = |field: &str, op: &str| {
        let p = d
            .lowered
            .predicates
            .iter()
            .find(|p| p.raw_field == field && p.op.as_str() == op)
            .expect("predicate");
        let o = p.origin.as_ref().expect("origin");
        assert_eq!(o.path, "rules/fixtures/values.yml");
        (o.line, o.column)
    };
    // `- 'event::clear'` at line 9, the value after `- `.
    assert_eq!(at("_text", "match"), (9, 11));
    assert_eq!(at("EventID", "in"), (18, 15));
    assert_eq!(at("LogonType", "eq"), (20, 20));
    // A null points at its key.
    assert_eq!(at("PasswordLastSet", "exists"), (30, 9));
}

#[test]
fn condition_errors_have_positions() {
    let (_, docs, _) = load_all();
    let d = doc(&docs, "00000000-0000-4000-8000-000000000015");
    let diag = d
        .lowered
        .diagnostics
        .iter()
        .find(|g| g.message.contains("missing"))
        .expect("undefined identifier diagnostic");
    assert_eq!((diag.line, diag.column), (Some(82), Some(30)));
    assert_eq!(diag.path.as_deref(), Some("rules/fixtures/conditions.yml"));
}

#[test]
fn link_reports_unknown_and_self_references() {
    let (_, _, diags) = load_all();
    let msgs: Vec<String> = diags
        .iter()
        .filter(|d| d.code == "sigma-link")
        .map(ToString::to_string)
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("unknown rule reference: no_such_rule")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("refers to itself")),
        "{msgs:?}"
    );
    // Each at the reference it is about.
    let expected = [
        "rules/fixtures/correlations.yml:97:11: warning[sigma-link]: unknown rule reference: no_such_rule",
        "rules/fixtures/correlations.yml:98:11: warning[sigma-link]: rule refers to itself: 00000000-0000-4000-8000-000000000036",
        "rules/fixtures/correlations_extended.yml:46:16: warning[sigma-link]: unknown rule reference: other_rule",
    ];
    assert_eq!(msgs, expected);
}

#[test]
fn correlation_cycles_terminate_with_a_diagnostic() {
    let text = "title: A\nid: a\nname: ca\ncorrelation:\n  type: event_count\n  rules: [cb]\n  timespan: 1h\n  condition: {gte: 2}\n---\ntitle: B\nid: b\nname: cb\ncorrelation:\n  type: event_count\n  rules: [ca]\n  timespan: 1h\n  condition: {gte: 2}\n";
    let adapter = SigmaAdapter::new();
    let (mut docs, _) = adapter.load("rules/cycle.yml", text);
    let diags = adapter.link(&mut docs).diagnostics;
    assert_eq!(docs[0].links, ["b"]);
    assert_eq!(docs[1].links, ["a"]);
    assert!(
        diags.iter().any(|d| d.message.contains("cycle")),
        "{diags:?}"
    );
}
