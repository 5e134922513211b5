//! Spans of predicates point at the text they came from (the adapter maps them to line:column).

use ruleatlas_eql::lower_query;

#[test]
fn predicate_spans_cover_their_comparison() {
    let q = "sequence by host.id\n  [process where process.name : \"a\" and not startsWith(process.args, \"-x\")]\n  [file where file.path like \"/tmp/*\"]";
    let l = lower_query(q);
    let texts: Vec<&str> = l
        .predicates
        .iter()
        .map(|p| p.span.expect("span").slice(q))
        .collect();
    assert_eq!(
        texts,
        vec![
            "host.id",
            "process",
            "process.name : \"a\"",
            "startsWith(process.args, \"-x\")",
            "file",
            "file.path like \"/tmp/*\""
        ]
    );
}
