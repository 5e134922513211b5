//! Malformed Lucene queries: diagnostics with a range, unparsed leaves, no panic.

use ruleatlas_model::ParseStatus;

fn lower(q: &str) -> ruleatlas_model::Lowered {
    let mut l = ruleatlas_lucene::lower_query(q);
    l.finish();
    l
}

#[test]
fn hundred_thousand_nested_parentheses() {
    let n = 100_000;
    for q in [
        format!("{}a:b{}", "(".repeat(n), ")".repeat(n)),
        format!("f:{}a{}", "(".repeat(n), ")".repeat(n)),
    ] {
        let l = lower(&q);
        assert!(
            l.diagnostics
                .iter()
                .any(|d| d.code == "limit-depth" && d.range.is_some())
        );
        assert_eq!(l.status(), ParseStatus::Partial);
    }
}

#[test]
fn unclosed_constructs() {
    for q in [
        "a:\"b", "a:[1 TO", "a:/x", "(a:b", "a:[1 2]", "a:b )", "a:b AND", "a:>", "^2", "a:b ]",
    ] {
        let l = lower(q);
        assert!(
            l.diagnostics
                .iter()
                .any(|d| d.is_error() && d.range.is_some()),
            "{q}: {:?}",
            l.diagnostics
        );
        assert_eq!(l.status(), ParseStatus::Partial, "{q}: {l:?}");
    }
}
