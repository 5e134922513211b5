//! Malformed KQL: every case yields diagnostics with a range and an unparsed leaf, never a
//! panic or a stack overflow.

use ruleatlas_model::ParseStatus;

fn lower(q: &str) -> ruleatlas_model::Lowered {
    let mut l = ruleatlas_kql::lower_query(q);
    l.finish();
    l
}

#[test]
fn hundred_thousand_nested_parentheses() {
    let n = 100_000;
    let q = format!("{}a: b{}", "(".repeat(n), ")".repeat(n));
    let l = lower(&q);
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.code == "limit-depth" && d.range.is_some()),
        "{:?}",
        l.diagnostics
    );
    assert_eq!(l.status(), ParseStatus::Partial);
    assert!(!l.unparsed.is_empty());
}

#[test]
fn deep_nesting_in_value_lists_and_nots() {
    let n = 100_000;
    let q = format!("a: {}b{}", "(".repeat(n), ")".repeat(n));
    let l = lower(&q);
    assert!(l.diagnostics.iter().any(|d| d.code == "limit-depth"));
    let q = format!("{}a: b", "not ".repeat(n));
    let l = lower(&q);
    assert!(l.diagnostics.iter().any(|d| d.code == "limit-depth"));
    let q = format!("{}a: b", "x: {".repeat(n));
    let l = lower(&q);
    assert!(l.diagnostics.iter().any(|d| d.code == "limit-depth"));
}

#[test]
fn unclosed_quote_and_parenthesis() {
    let l = lower("process.name: \"cmd.exe");
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("diagnostic");
    assert_eq!(d.range.map(|r| r.start), Some(14));
    let l = lower("process.name: (a or b");
    assert!(l.diagnostics.iter().any(|d| d.message.contains("unclosed")));
}

#[test]
fn unknown_syntax_keeps_the_rest() {
    // `a:b:c` is not KQL; the readable part stays, the rest is unparsed.
    let l = lower("event.category: process and a: b: c and process.name: x");
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.is_error() && d.range.is_some())
    );
    assert_eq!(l.unparsed.len(), 1, "{:?}", l.unparsed);
    assert_eq!(l.unparsed[0].reason, "kql syntax error");
    assert!(l.predicates.iter().any(|p| p.raw_field == "event.category"));
    // Stray operators and brackets.
    for q in [
        ") a: b", "a: b )", "and", "a: (", "a >", ": x", "a: b or", "{}", "a:{b:c",
    ] {
        let l = lower(q);
        assert!(
            l.diagnostics.iter().any(|d| d.is_error()),
            "{q}: {:?}",
            l.diagnostics
        );
        assert!(!l.unparsed.is_empty(), "{q}: {l:?}");
    }
}

#[test]
fn unclosed_brackets_make_the_query_partial() {
    for q in ["process.name: (a or b", "(a: b", "x: { y: z", "a: \"b"] {
        let l = lower(q);
        assert_eq!(l.status(), ParseStatus::Partial, "{q}");
        assert!(
            l.diagnostics
                .iter()
                .any(|d| d.is_error() && d.range.is_some()),
            "{q}"
        );
    }
}
