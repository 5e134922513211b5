//! Fixture tests: every `tests/fixtures/detections/**/X.yml` has a hand-written
//! `X.expected` next to it (written from the Splunk Search Reference, not from our output).
//!
//! Expectation lines:
//! - `!status full|partial|failed`, `!deprecated`, `!logsource KEY V1,V2`
//! - a predicate in `ruleatlas_testkit::pred` form, optionally followed by ` @path:line:col`
//!   (its origin); predicates are compared in order and all must be listed
//! - `!unparsed REASON | TEXT` (all unparsed fragments, in order)
//! - `!diag PATH[:LINE:COL] CODE` (such a diagnostic must exist)

use std::path::{Path, PathBuf};

use ruleatlas_model::{Condition, ParseStatus, VendorAdapter};
use ruleatlas_spl::SplunkAdapter;
use ruleatlas_testkit::{RunResult, pred, run_adapter};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn run() -> RunResult {
    let mut a = SplunkAdapter::new();
    run_adapter(&mut a, &root())
}

fn expected_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            expected_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "expected") {
            out.push(p);
        }
    }
}

fn check_one(run: &RunResult, rel: &str, expected: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(doc) = run.by_path(rel) else {
        return vec![format!("{rel}: no document")];
    };
    let mut want_preds: Vec<(String, Option<String>)> = Vec::new();
    let mut want_unparsed: Vec<String> = Vec::new();
    for line in expected.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(s) = line.strip_prefix("!status ") {
            if doc.status.as_str() != s {
                errs.push(format!("{rel}: status {} != {s}", doc.status.as_str()));
            }
        } else if line == "!deprecated" {
            if !doc.deprecated {
                errs.push(format!("{rel}: not deprecated"));
            }
        } else if let Some(rest) = line.strip_prefix("!logsource ") {
            let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
            let want: Vec<String> = v.split(',').map(str::to_string).collect();
            if doc.logsource.get(k) != Some(&want) {
                errs.push(format!(
                    "{rel}: logsource {k} = {:?}, want {want:?}",
                    doc.logsource.get(k)
                ));
            }
        } else if let Some(rest) = line.strip_prefix("!unparsed ") {
            want_unparsed.push(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("!diag ") {
            let (loc, code) = rest.rsplit_once(' ').unwrap_or((rest, ""));
            let all = doc.lowered.diagnostics.iter().chain(run.diagnostics.iter());
            let found = all.clone().any(|d| {
                let at = match (d.line, d.column) {
                    (Some(l), Some(c)) => format!("{}:{l}:{c}", d.path.as_deref().unwrap_or("")),
                    _ => d.path.clone().unwrap_or_default(),
                };
                d.code == code
                    && (at == loc
                        || (!loc.contains(':') && at.starts_with(loc) && d.line.is_some()))
            });
            if !found {
                let have: Vec<String> = all.map(ToString::to_string).collect();
                errs.push(format!("{rel}: no diagnostic {rest}; have {have:#?}"));
            }
        } else {
            let (p, origin) = match line.rsplit_once(" @") {
                Some((p, o)) => (p.to_string(), Some(o.to_string())),
                None => (line.to_string(), None),
            };
            want_preds.push((p, origin));
        }
    }
    let got: Vec<String> = doc.lowered.predicates.iter().map(pred).collect();
    let want: Vec<String> = want_preds.iter().map(|(p, _)| p.clone()).collect();
    if got != want {
        errs.push(format!(
            "{rel}: predicates differ\n  got:\n    {}\n  want:\n    {}",
            got.join("\n    "),
            want.join("\n    ")
        ));
    } else {
        for ((_, origin), p) in want_preds.iter().zip(&doc.lowered.predicates) {
            if let Some(o) = origin {
                let have = p
                    .origin
                    .as_ref()
                    .map(|x| format!("{}:{}:{}", x.path, x.line, x.column))
                    .unwrap_or_default();
                if &have != o {
                    errs.push(format!("{rel}: origin of {} is {have}, want {o}", pred(p)));
                }
            }
        }
    }
    let got_u: Vec<String> = doc
        .lowered
        .unparsed
        .iter()
        .map(|u| format!("{} | {}", u.reason, u.text))
        .collect();
    if got_u != want_unparsed {
        errs.push(format!(
            "{rel}: unparsed differ\n  got:  {got_u:#?}\n  want: {want_unparsed:#?}"
        ));
    }
    errs
}

#[test]
fn every_fixture_matches_its_expectation() {
    let run = run();
    let mut files = Vec::new();
    expected_files(&root().join("detections"), &mut files);
    files.sort();
    assert!(files.len() >= 15, "fixtures missing: {files:?}");
    let mut errs = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(root())
            .expect("under root")
            .with_extension("yml")
            .to_string_lossy()
            .replace('\\', "/");
        let expected = std::fs::read_to_string(f).expect("readable");
        errs.extend(check_one(&run, &rel, &expected));
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

#[test]
fn metadata_is_read() {
    let run = run();
    let d = run.by_path("endpoint/search_basics.yml").expect("doc");
    assert_eq!(
        d.native_id.as_deref(),
        Some("00000000-0000-4000-8000-000000000001")
    );
    assert_eq!(d.title, "Fixture Search Basics");
    assert_eq!(d.language, "spl");
    assert_eq!(d.rule_status.as_deref(), Some("production"));
    assert_eq!(
        d.techniques
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        vec!["T1059.001"]
    );
    assert_eq!(d.raw_domains, vec!["endpoint"]);
    assert_eq!(d.raw_platforms, vec!["Fixture EDR"]);
    assert_eq!(d.authors, vec!["RuleAtlas Tests", "Example Org"]);
    assert_eq!(d.false_positives, vec!["Administrators running scripts."]);
    assert_eq!(d.references.len(), 1);
    assert_eq!(d.extra.get("type").and_then(|v| v.as_str()), Some("TTP"));
    assert_eq!(
        d.extra.get("required_fields"),
        Some(&serde_json::json!(["process_name", "user"]))
    );
    assert_eq!(
        d.extra.get("analytic_story"),
        Some(&serde_json::json!(["Fixture Story"]))
    );
    assert_eq!(
        d.logsource.get("data_source"),
        Some(&vec!["Fixture EDR".to_string()])
    );
    assert_eq!(
        d.logsource.get("supported_ta"),
        Some(&vec!["Fixture Add-on".to_string()])
    );
    let st = d.logsource.get("sourcetype").expect("sourcetypes");
    assert!(
        st.contains(&"edr:process".to_string()) && st.contains(&"WinEventLog:Security".to_string()),
        "{st:?}"
    );
    assert!(!d.deprecated);
    for kind in ["Anomaly", "Hunting"] {
        assert!(
            run.docs.iter().any(
                |d| d.extra.get("type").and_then(|v| v.as_str()) == Some(kind)
                    && d.kind == ruleatlas_model::RuleKind::Rule
            )
        );
    }
}

#[test]
fn search_or_binds_tighter_than_and_but_where_and_binds_tighter() {
    let m = ruleatlas_spl::MacroTable::new();
    let a = ruleatlas_spl::analyze("a=1 OR b=2 c=3 | where d=4 OR e=5 AND f=6", &m);
    let t = &a.lowered.tree;
    let expected = Condition::And(vec![
        Condition::Or(vec![Condition::Pred(0), Condition::Pred(1)]),
        Condition::Pred(2),
        Condition::Or(vec![
            Condition::Pred(3),
            Condition::And(vec![Condition::Pred(4), Condition::Pred(5)]),
        ]),
    ]);
    assert_eq!(t, &expected);
}

fn deep_rule(search: &str) -> String {
    format!(
        "name: Deep\nid: 00000000-0000-4000-8000-000000000099\nstatus: production\ntype: TTP\nsearch: '{search}'\ntags:\n  mitre_attack_id:\n  - T1059\n"
    )
}

#[test]
fn deep_nesting_is_a_diagnostic_and_other_rules_are_kept() {
    let mut a = SplunkAdapter::new();
    let _ = a.prepare(&ruleatlas_model::Support::default());
    let n = 100_000;
    let cases = [
        format!(
            "x=1 | search {}a=1{} | stats count",
            "(".repeat(n),
            ")".repeat(n)
        ),
        format!("x=1 | where {}a=1{}", "(".repeat(n), ")".repeat(n)),
        format!("x=1 | search {}a=1", "NOT ".repeat(n)),
        format!("x=1 | search {}a=1{}", "[search ".repeat(n), "]".repeat(n)),
    ];
    for q in &cases {
        let (docs, _) = a.load("detections/deep.yml", &deep_rule(q));
        let d = &docs[0];
        assert_eq!(d.status, ParseStatus::Partial);
        let diag = d
            .lowered
            .diagnostics
            .iter()
            .find(|d| d.message.contains("nesting deeper"))
            .expect("depth diagnostic");
        // Regression (robustness): hitting the depth limit is a `limit-*` diagnostic.
        assert_eq!(diag.code, "limit-depth");
        assert_eq!(diag.path.as_deref(), Some("detections/deep.yml"));
        assert_eq!(diag.line, Some(5));
        assert!(diag.column.is_some_and(|c| c > 10));
        assert_eq!(pred(&d.lowered.predicates[0]), r#"x eq [1]"#);
    }
    // Long flat chains are fine; long left-nested arithmetic is bounded like nesting.
    // (10,000 terms: LIMITS.max_predicates is 20,000.)
    let long_and = format!("x=1 | where {}", vec!["a=1"; 10_000].join(" AND "));
    let (docs, _) = a.load("detections/long.yml", &deep_rule(&long_and));
    assert_eq!(docs[0].status, ParseStatus::Full);
    assert_eq!(docs[0].lowered.predicates.len(), 10_001);
    let long_sum = format!("x=1 | where {} > 1", vec!["a"; n].join("+"));
    let (docs, _) = a.load("detections/sum.yml", &deep_rule(&long_sum));
    assert!(
        docs[0]
            .lowered
            .diagnostics
            .iter()
            .any(|d| d.message.contains("nesting deeper"))
    );
    // (Half of `n`: 100,000 renames are 1.8 MB, over LIMITS.max_query_bytes.)
    let renames = format!("x=1 {} | search b=1", "| rename a* as a* ".repeat(n / 2));
    let (docs, _) = a.load("detections/renames.yml", &deep_rule(&renames));
    assert_eq!(docs[0].status, ParseStatus::Full);
    let (docs, _) = a.load("detections/ok.yml", &deep_rule("x=1"));
    assert_eq!(docs[0].status, ParseStatus::Full);
}

#[test]
fn roles_and_sniff() {
    let a = SplunkAdapter::new();
    use ruleatlas_model::FileRole;
    assert_eq!(a.role("detections/endpoint/x.yml"), FileRole::Rule);
    assert_eq!(a.role("detections/deprecated/x.yml"), FileRole::Rule);
    assert_eq!(a.role("macros/okta.yml"), FileRole::Support);
    assert_eq!(a.role("data_sources/okta.yml"), FileRole::Support);
    assert_eq!(a.role("lookups/x.yml"), FileRole::Support);
    assert_eq!(a.role("stories/x.yml"), FileRole::Ignore);
    assert_eq!(a.role("lookups/x.csv"), FileRole::Ignore);
    let text = std::fs::read_to_string(root().join("detections/endpoint/search_basics.yml"))
        .expect("fixture");
    assert!(a.sniff("x.yml", &text));
    assert!(!a.sniff("x.yml", "title: x\ndetection:\n  sel: {}\n"));
}

#[test]
fn not_a_detection_gives_no_document() {
    let a = SplunkAdapter::new();
    let (docs, diags) = a.load("detections/x.yml", "- a\n- b\n");
    assert!(docs.is_empty());
    assert_eq!(diags[0].line, Some(1));
}
