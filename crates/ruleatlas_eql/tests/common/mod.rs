//! EQL queries out of the Elastic corpus (detection-rules TOML).

use std::path::Path;

pub use ruleatlas_testkit::elastic_corpus::Found;

/// Whether a hunting query's text is EQL (`category where`, `sequence`, `sample`).
pub fn looks_like_eql(q: &str) -> bool {
    let mut words = q.split_whitespace();
    let first = words.next().unwrap_or("").to_ascii_lowercase();
    let second = words.next().unwrap_or("").to_ascii_lowercase();
    matches!(first.as_str(), "sequence" | "sample") || second == "where"
}

/// EQL queries of rules (`language = "eql"`) and of hunts (detected from the text).
pub fn eql_queries(root: &Path) -> Vec<Found> {
    ruleatlas_testkit::elastic_corpus::queries(root, "eql", &looks_like_eql)
}
