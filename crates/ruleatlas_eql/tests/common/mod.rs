//! Reading EQL queries out of the Elastic corpus (detection-rules TOML).

use std::path::{Path, PathBuf};

/// One query found in the corpus.
pub struct Found {
    pub path: String,
    pub query: String,
    pub hunt: bool,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

/// Whether a hunting query's text is EQL (`category where`, `sequence`, `sample`).
pub fn looks_like_eql(q: &str) -> bool {
    let mut words = q.split_whitespace();
    let first = words.next().unwrap_or("").to_ascii_lowercase();
    let second = words.next().unwrap_or("").to_ascii_lowercase();
    matches!(first.as_str(), "sequence" | "sample") || second == "where"
}

/// EQL queries of rules (`language = "eql"`) and of hunts (detected from the text).
pub fn eql_queries(root: &Path) -> Vec<Found> {
    let mut files = Vec::new();
    walk(root, &mut files);
    let mut out = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        // Only files that can hold EQL are worth a TOML parse.
        if !text.contains("\"eql\"") && !text.contains("[hunt]") {
            continue;
        }
        let Ok(doc) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        if let Some(rule) = doc.get("rule").and_then(|r| r.as_table())
            && rule.get("language").and_then(|l| l.as_str()) == Some("eql")
            && let Some(q) = rule.get("query").and_then(|q| q.as_str())
        {
            out.push(Found {
                path: rel.clone(),
                query: q.to_string(),
                hunt: false,
            });
        }
        if let Some(hunt) = doc.get("hunt").and_then(|h| h.as_table())
            && let Some(qs) = hunt.get("query").and_then(|q| q.as_array())
        {
            for q in qs.iter().filter_map(|q| q.as_str()) {
                if looks_like_eql(q) {
                    out.push(Found {
                        path: rel.clone(),
                        query: q.to_string(),
                        hunt: true,
                    });
                }
            }
        }
    }
    out
}
