//! ES|QL queries out of the Elastic corpus (detection-rules TOML).

use std::path::Path;

pub use ruleatlas_testkit::elastic_corpus::Found;

/// Whether a hunting query's text is ES|QL: its first word (after comments) is a source command.
pub fn looks_like_esql(q: &str) -> bool {
    let first = q
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("//"))
        .and_then(|l| l.trim_start_matches('|').split_whitespace().next())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(first.as_str(), "from" | "row" | "ts" | "metrics" | "show")
}

/// ES|QL queries of rules (`language = "esql"`) and of hunts (detected from the text).
pub fn esql_queries(root: &Path) -> Vec<Found> {
    ruleatlas_testkit::elastic_corpus::queries(root, "esql", &looks_like_esql)
}
