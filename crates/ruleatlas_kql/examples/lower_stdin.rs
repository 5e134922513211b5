//! Reads KQL queries as JSON strings, one per line, on stdin and prints each one's
//! predicates (`ruleatlas_testkit::pred` form) as a JSON array line (a debugging aid for
//! comparing with other KQL parsers).

use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Ok(query) = serde_json::from_str::<String>(&line) else {
            println!("[]");
            continue;
        };
        let mut l = ruleatlas_kql::lower_query(&query);
        l.finish();
        let preds: Vec<serde_json::Value> = l
            .predicates
            .iter()
            .map(|p| serde_json::json!([p.raw_field, p.op.as_str(), p.values, p.negated]))
            .collect();
        let errors = l.unparsed.len();
        println!(
            "{}",
            serde_json::json!({"preds": preds, "unparsed": errors})
        );
    }
}
