//! Spans point at the text predicates came from, also inside `KQL("...")`.

use ruleatlas_esql::lower_query;

#[test]
fn predicate_spans_cover_their_comparison() {
    let q = "FROM logs-*\n| WHERE process.name == \"a\" AND KQL(\"\"\"user.name: root\"\"\")\n| STATS c = COUNT(*) BY host.id\n| WHERE c > 5";
    let l = lower_query(q);
    let texts: Vec<&str> = l
        .predicates
        .iter()
        .map(|p| p.span.expect("span").slice(q))
        .collect();
    assert_eq!(texts[0], "process.name == \"a\"");
    assert!(texts[1].starts_with("user.name"), "{texts:?}");
    assert_eq!(texts[2], "c > 5");
}
