//! Reads Lucene queries (one per line) on stdin and prints, per query, one JSON line with
//! every term of the syntax tree as `[field, kind, text, prohibited]`, for comparison with
//! another parser (`bench/lucene_luqum.py`).

use std::io::BufRead;

use ruleatlas_lucene::ast::{Occur, Query, Term};

fn walk(q: &Query, negated: bool, out: &mut Vec<serde_json::Value>) {
    match q {
        Query::Bool { clauses, .. } => {
            for c in clauses {
                walk(&c.query, negated ^ (c.occur == Occur::MustNot), out);
            }
        }
        Query::Term { field, term, .. } => {
            let field = field.clone().unwrap_or_default();
            let (kind, text) = match term {
                Term::Word(w) => ("word", w.text.clone()),
                Term::Phrase { text, slop: None } => ("phrase", text.clone()),
                Term::Phrase {
                    text,
                    slop: Some(_),
                } => ("proximity", text.clone()),
                Term::Regex(r) => ("regex", r.clone()),
                Term::Fuzzy { text, .. } => ("fuzzy", text.clone()),
                Term::Compare { op, value } => {
                    let op = match op {
                        ruleatlas_lucene::ast::CompareOp::Lt => "<",
                        ruleatlas_lucene::ast::CompareOp::Le => "<=",
                        ruleatlas_lucene::ast::CompareOp::Gt => ">",
                        ruleatlas_lucene::ast::CompareOp::Ge => ">=",
                    };
                    ("compare", format!("{op}{}", value.text))
                }
                Term::Range {
                    lower,
                    upper,
                    incl_lower,
                    incl_upper,
                } => {
                    let b = |x: &Option<ruleatlas_lucene::ast::Bound>| {
                        x.as_ref().map_or("*".to_string(), |b| b.text.clone())
                    };
                    let l = if *incl_lower { '[' } else { '{' };
                    let u = if *incl_upper { ']' } else { '}' };
                    ("range", format!("{l}{} TO {}{u}", b(lower), b(upper)))
                }
            };
            out.push(serde_json::json!([field, kind, text, negated]));
        }
        Query::Error { text, .. } => out.push(serde_json::json!(["", "error", text, negated])),
    }
}

fn main() {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let parsed = ruleatlas_lucene::parse(&line);
        let mut out = Vec::new();
        if let Some(root) = &parsed.ast.root {
            walk(root, false, &mut out);
        }
        println!("{}", serde_json::Value::Array(out));
    }
}
