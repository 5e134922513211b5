//! Dumps, for every EQL query of an Elastic corpus folder, the fields our lowering reads
//! (predicate raw fields, `by` keys, fields related through `join` predicates), one JSON
//! object a line; `bench/eql_agreement.py` compares them with Python EQL's `Field` nodes.
//!
//! `cargo run --release -p ruleatlas_eql --example fields -- <corpus/elastic> [--preds]`
//! The time spent parsing and lowering (files already read) goes to stderr.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use ruleatlas_model::Lowered;

fn fields_of(l: &Lowered, text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in &l.predicates {
        // The event category (`process where`) is not a field in Python EQL's tree.
        let implicit = p.raw_field == "event.category"
            && p.span
                .is_some_and(|s| s.slice(text) != "event.category" && !s.slice(text).contains(' '));
        if !implicit {
            out.insert(p.raw_field.clone());
        }
        if let Some(others) = p.context.get("other_fields").and_then(|o| o.as_array()) {
            out.extend(others.iter().filter_map(|o| o.as_str()).map(str::to_string));
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(root) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: fields <corpus/elastic> [--preds]");
        std::process::exit(2);
    };
    let show_preds = args.iter().any(|a| a == "--preds");
    let read_start = Instant::now();
    let found = common::eql_queries(std::path::Path::new(root));
    let read = read_start.elapsed();
    let start = Instant::now();
    let lowered: Vec<Lowered> = found
        .iter()
        .map(|f| {
            let mut l = ruleatlas_eql::lower_query(&f.query);
            l.finish();
            l
        })
        .collect();
    let elapsed = start.elapsed();
    for (f, l) in found.iter().zip(&lowered) {
        let ok = !l.diagnostics.iter().any(|d| d.is_error());
        let mut obj = serde_json::json!({
            "path": f.path,
            "hunt": f.hunt,
            "query": f.query,
            "ok": ok,
            "full": ok && l.unparsed.is_empty() && !l.predicates.is_empty(),
            "fields": fields_of(l, &f.query),
        });
        if show_preds {
            obj["preds"] = l.predicates.iter().map(ruleatlas_testkit::pred).collect();
            obj["unparsed"] = l
                .unparsed
                .iter()
                .map(|u| format!("{} :: {}", u.reason, u.text))
                .collect();
            obj["diagnostics"] = l.diagnostics.iter().map(ToString::to_string).collect();
        }
        println!("{obj}");
    }
    eprintln!(
        "parsed+lowered {} EQL queries in {:.3} ms (finding them: reading and TOML-parsing files {:.1} ms)",
        found.len(),
        elapsed.as_secs_f64() * 1000.0,
        read.as_secs_f64() * 1000.0
    );
}
