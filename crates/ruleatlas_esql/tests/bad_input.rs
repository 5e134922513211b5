//! Malformed queries: a diagnostic with a position and a reason, never a panic; the commands
//! that did parse are kept.

use ruleatlas_esql::{lower_query, parse};
use ruleatlas_text::LineIndex;

fn first_error(text: &str) -> (u32, u32, String, String) {
    let l = lower_query(text);
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error diagnostic");
    let r = d.range.expect("a range");
    let pos = LineIndex::new(text).line_column(text, r.start as usize);
    (pos.line, pos.column, d.code.clone(), d.message.clone())
}

#[test]
fn deep_parentheses_are_a_diagnostic() {
    let depth = 100_000;
    let q = format!(
        "FROM logs-* | WHERE {}process.name == \"a\"{} | WHERE user.name == \"b\"",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let (line, _, code, msg) = first_error(&q);
    assert_eq!((line, code.as_str()), (1, "limit-depth"), "{msg}");
    let l = lower_query(&q);
    // The deep WHERE is unparsed; the command after it is still read.
    assert_eq!(l.unparsed.len(), 1);
    assert!(l.predicates.iter().any(|p| p.raw_field == "user.name"));
}

#[test]
fn deep_not_arithmetic_calls_and_forks_are_diagnostics() {
    for q in [
        format!("FROM x | WHERE {}true", "NOT ".repeat(100_000)),
        format!("FROM x | WHERE a == 1{}", " + 1".repeat(100_000)),
        format!(
            "FROM x | WHERE {}a{} == 1",
            "LENGTH(".repeat(100_000),
            ")".repeat(100_000)
        ),
        format!(
            "FROM x | WHERE a IN {}1{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        ),
        format!(
            "FROM x | {}WHERE a == 1{}",
            "FORK (".repeat(100_000),
            ")".repeat(100_000)
        ),
        format!("FROM x | EVAL y = {}1", "-".repeat(100_000)),
    ] {
        let p = parse(&q);
        assert!(
            p.diagnostics.iter().any(|d| d.code == "limit-depth"),
            "{:?}",
            p.diagnostics
        );
    }
}

#[test]
fn unterminated_string_points_at_the_quote() {
    let q = "FROM logs-*\n| WHERE process.name == \"cmd.exe";
    let (line, col, code, msg) = first_error(q);
    assert_eq!(
        (line, col, code.as_str(), msg.as_str()),
        (2, 25, "esql-syntax", "unterminated string")
    );
    assert_eq!(lower_query(q).unparsed[0].reason, "syntax error");
    let (line, col, _, msg) = first_error("FROM x\n| WHERE a == \"\"\"never closed");
    assert_eq!((line, col, msg.as_str()), (2, 14, "unterminated string"));
}

#[test]
fn unknown_syntax_has_line_and_column_and_the_rest_is_kept() {
    let q = "FROM logs-*\n| WHERE process.name === \"a\"\n| WHERE user.name == \"b\"";
    let (line, col, _, msg) = first_error(q);
    assert_eq!((line, col), (2, 24), "{msg}");
    let l = lower_query(q);
    assert_eq!(l.unparsed.len(), 1);
    assert_eq!(l.unparsed[0].reason, "syntax error");
    assert_eq!(l.predicates.len(), 1, "the third command still lowers");
    let (line, col, _, msg) = first_error("FROM x | WHERE a == 1 AND");
    assert_eq!((line, col), (1, 26), "{msg}");
    let (_, _, _, msg) = first_error("FROM x | WHERE a == #");
    assert!(msg.contains("unexpected character"), "{msg}");
}

#[test]
fn empty_and_garbage_do_not_panic() {
    for q in [
        "",
        " ",
        "|",
        "(",
        ")",
        "FROM",
        "FROM x |",
        "FROM x | WHERE",
        "FROM x | STATS",
        "FROM x | FORK",
        "FROM x | FORK (",
        "`",
        "\"",
        "FROM x | WHERE a IN ()",
        "FROM x | EVAL = 1",
        "{",
        "FROM x | WHERE {",
    ] {
        let _ = lower_query(q);
    }
}
