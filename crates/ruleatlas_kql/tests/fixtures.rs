//! KQL fixture tests: every case in `tests/fixtures/*.fixture` lists its query and the
//! predicates (and optionally the tree) expected, written by hand from Kibana's docs.

use ruleatlas_model::{Condition, Lowered};

fn tree(c: &Condition) -> String {
    let list = |v: &[Condition]| v.iter().map(tree).collect::<Vec<_>>().join(",");
    match c {
        Condition::And(v) => format!("And({})", list(v)),
        Condition::Or(v) => format!("Or({})", list(v)),
        Condition::Not(b) => format!("Not({})", tree(b)),
        Condition::Pred(i) => format!("P{i}"),
        Condition::Unparsed(i) => format!("U{i}"),
        Condition::Const(b) => format!("Const({b})"),
    }
}

fn check(query: &str, expected: &[String], expected_tree: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut l: Lowered = ruleatlas_kql::lower_query(query);
    l.finish();
    let got: Vec<String> = l.predicates.iter().map(ruleatlas_testkit::pred).collect();
    if got != expected {
        problems.push(format!(
            "query: {query}\n  expected: {expected:#?}\n  got: {got:#?}"
        ));
    }
    if !l.unparsed.is_empty() || l.diagnostics.iter().any(|d| d.is_error()) {
        problems.push(format!(
            "query: {query}\n  unexpected errors: {:?} {:?}",
            l.unparsed, l.diagnostics
        ));
    }
    if let Some(t) = expected_tree {
        let got = tree(&l.tree);
        if got != t {
            problems.push(format!("query: {query}\n  expected tree {t}, got {got}"));
        }
    }
    problems
}

#[test]
fn kibana_docs_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut problems = Vec::new();
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("fixture") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("fixture");
        for block in text.split("\n\n") {
            let mut query = None;
            let mut preds = Vec::new();
            let mut t = None;
            for line in block.lines() {
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                if let Some(q) = line.strip_prefix("query: ") {
                    query = Some(q.to_string());
                } else if let Some(tr) = line.strip_prefix("tree: ") {
                    t = Some(tr.to_string());
                } else {
                    preds.push(line.to_string());
                }
            }
            if let Some(q) = query {
                cases += 1;
                problems.extend(check(&q, &preds, t.as_deref()));
            }
        }
    }
    assert!(cases > 30, "only {cases} cases read");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
