//! Fixture cases under `tests/fixtures/*.cases`: a query and its predicates, written by hand
//! from the EQL syntax reference.

use ruleatlas_eql::lower_query;

struct Case {
    name: String,
    query: String,
    expected: Vec<String>,
}

fn cases(text: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for block in text.split("\n=== ").skip(1) {
        let (name, rest) = block.split_once('\n').expect("case name line");
        let (query, expected) = rest.split_once("\n---\n").expect("--- separator");
        let expected = expected
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        out.push(Case {
            name: name.to_string(),
            query: query.to_string(),
            expected,
        });
    }
    out
}

#[test]
fn fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut failures = Vec::new();
    let mut count = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cases"))
    {
        let text = std::fs::read_to_string(path).expect("read");
        for case in cases(&format!("\n{text}")) {
            count += 1;
            let mut l = lower_query(&case.query);
            l.finish();
            let mut got: Vec<String> = l.predicates.iter().map(ruleatlas_testkit::pred).collect();
            got.extend(l.unparsed.iter().map(|u| format!("unparsed: {}", u.reason)));
            if got != case.expected {
                failures.push(format!(
                    "{} / {}\n  expected:\n    {}\n  got:\n    {}\n  diagnostics: {:?}",
                    path.display(),
                    case.name,
                    case.expected.join("\n    "),
                    got.join("\n    "),
                    l.diagnostics
                ));
            }
        }
    }
    assert!(count > 20, "too few cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
