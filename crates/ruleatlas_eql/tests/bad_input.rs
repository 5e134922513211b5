//! Malformed queries: a diagnostic with a position and a reason, never a panic.

use ruleatlas_eql::{lower_query, parse};
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
        "process where {}process.name : \"a\"{}",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let (line, col, code, msg) = first_error(&q);
    assert_eq!((line, code.as_str()), (1, "limit-depth"), "{msg}");
    assert!(col > 14, "points into the parentheses: {col}");
    let l = lower_query(&q);
    assert_eq!(l.unparsed.len(), 1);
    assert_eq!(l.unparsed[0].reason, "nesting too deep");
}

#[test]
fn deep_not_and_arithmetic_and_calls_are_diagnostics() {
    for q in [
        format!("process where {}true", "not ".repeat(100_000)),
        format!("process where x == 1{}", " + 1".repeat(100_000)),
        format!(
            "process where {}x{} == 1",
            "length(".repeat(100_000),
            ")".repeat(100_000)
        ),
        format!("process where x : {}1{}", "-".repeat(100_000), ""),
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
    let (line, col, code, msg) = first_error("process where\n  process.name : \"cmd.exe and true");
    assert_eq!(
        (line, col, code.as_str(), msg.as_str()),
        (2, 18, "eql-syntax", "unterminated string")
    );
    let l = lower_query("process where\n  process.name : \"cmd.exe and true");
    assert_eq!(l.unparsed[0].reason, "syntax error");
}

#[test]
fn unknown_syntax_has_line_and_column() {
    let (line, col, _, msg) = first_error("process where\n process.name ~= \"a\"");
    assert_eq!((line, col), (2, 15), "{msg}");
    let (line, col, _, msg) = first_error("process where process.name : \"a\" )");
    assert_eq!((line, col), (1, 34), "{msg}");
    assert!(msg.contains("expected"), "{msg}");
    let (line, col, _, msg) = first_error("process where a : # ");
    assert_eq!((line, col), (1, 19), "{msg}");
    let (_, _, _, msg) = first_error("sequence with foo=1 [process where true]");
    assert!(msg.contains("unknown sequence parameter"), "{msg}");
}

#[test]
fn empty_and_garbage_do_not_panic() {
    for q in [
        "",
        " ",
        "|",
        "[",
        "sequence",
        "sequence [",
        "process where",
        "process where (",
        "`",
        "?",
        "\"",
        "\"\"\"",
        "process where a in ()",
    ] {
        let l = lower_query(q);
        assert!(!l.unparsed.is_empty() || !l.diagnostics.is_empty(), "{q:?}");
    }
}
