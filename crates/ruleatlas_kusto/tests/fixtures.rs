//! Hand-written fixtures: every operator and statement, with expected predicates.

use ruleatlas_kusto::{LowerContext, lower, parse};
use ruleatlas_testkit::pred;

struct Case {
    name: String,
    query: String,
    preds: Vec<String>,
    unparsed: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("fixtures/operators.kqltest");
    let mut out: Vec<Case> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            out.push(Case {
                name: name.to_string(),
                query: String::new(),
                preds: Vec::new(),
                unparsed: Vec::new(),
            });
            continue;
        }
        let Some(case) = out.last_mut() else { continue };
        if let Some(p) = line.strip_prefix("-> ") {
            case.preds.push(p.to_string());
        } else if let Some(u) = line.strip_prefix("!> ") {
            case.unparsed.push(u.to_string());
        } else if !line.trim().is_empty() {
            case.query.push_str(line);
            case.query.push('\n');
        }
    }
    out
}

#[test]
fn fixtures_lower_as_documented() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} fixtures", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let parsed = parse(&c.query);
        let l = lower(&parsed.ast, &LowerContext::default());
        let got: Vec<String> = l.predicates.iter().map(pred).collect();
        let got_u: Vec<String> = l.unparsed.iter().map(|u| u.reason.clone()).collect();
        if got != c.preds || got_u != c.unparsed {
            failures.push(format!(
                "## {}\n{}expected:\n  {}\n  !{:?}\ngot:\n  {}\n  !{:?}\n",
                c.name,
                c.query,
                c.preds.join("\n  "),
                c.unparsed,
                got.join("\n  "),
                got_u
            ));
        }
        // Fixtures other than the unknown-operator one are valid Kusto.
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
        if !c.name.contains("unknown operator") && !errors.is_empty() {
            failures.push(format!(
                "## {}: unexpected syntax errors {errors:?}",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every query of `syntax.kqltest` parses without error (Microsoft's parser agrees: see
/// bench/results/kusto_oracle.txt), except the ones named "unknown operator".
#[test]
fn syntax_fixtures_parse() {
    let text = include_str!("fixtures/syntax.kqltest");
    let mut failures = Vec::new();
    let mut n = 0;
    for case in text.split("\n## ").skip(1) {
        let (name, query) = case.split_once('\n').unwrap_or((case, ""));
        n += 1;
        let parsed = parse(query);
        let lowered = lower(&parsed.ast, &LowerContext::default());
        let expect_error = name.contains("unknown operator");
        if parsed.has_errors() != expect_error {
            failures.push(format!("## {name}: {:?}", parsed.diagnostics));
        }
        if !expect_error
            && !lowered
                .unparsed
                .iter()
                .all(|u| u.reason.starts_with("operator not supported"))
        {
            failures.push(format!(
                "## {name}: unexpected unparsed {:?}",
                lowered.unparsed
            ));
        }
    }
    assert!(n >= 60, "only {n} syntax fixtures");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tables_read_are_reported() {
    let q = "let x = A1 | where a == 1;\nunion isfuzzy=true x, (Security* | where b == 2)\n| join (DeviceProcessEvents) on c";
    let p = parse(q);
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let (_, info) = ruleatlas_kusto::lower_with_info(&p.ast, &LowerContext::default());
    assert_eq!(info.tables, vec!["A1", "Security*", "DeviceProcessEvents"]);
}

#[test]
fn origins_point_into_the_query() {
    let q = "T\n| where A == 1\n| where B has \"x\"";
    let p = parse(q);
    let l = lower(&p.ast, &LowerContext::default());
    let starts: Vec<u32> = l
        .predicates
        .iter()
        .filter_map(|p| p.span.map(|s| s.start))
        .collect();
    assert_eq!(starts, vec![10, 25]);
}

/// Every prefix of every fixture query, and every query with one character removed, parses and
/// lowers without a panic (truncated strings, `dynamic(`, dangling `|`...).
#[test]
fn truncated_and_damaged_queries_do_not_panic() {
    let mut n = 0usize;
    for c in cases() {
        let q = c.query.as_str();
        let cuts: Vec<usize> = q.char_indices().map(|(i, _)| i).collect();
        for &i in &cuts {
            let prefix = &q[..i];
            let p = parse(prefix);
            let _ = lower(&p.ast, &LowerContext::default());
            let mut damaged = String::from(&q[..i]);
            damaged.push_str(q[i..].get(1..).unwrap_or(""));
            if q.is_char_boundary(i + 1) {
                let p = parse(&damaged);
                let _ = lower(&p.ast, &LowerContext::default());
            }
            n += 1;
        }
    }
    assert!(n > 1000, "{n}");
}
