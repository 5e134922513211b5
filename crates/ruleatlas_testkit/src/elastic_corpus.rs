//! Queries of one language out of Elastic's detection-rules TOML files, for the EQL and
//! ES|QL corpus tests (they test the parsers alone, without the Elastic adapter).

use std::path::{Path, PathBuf};

/// One query found in the corpus.
pub struct Found {
    /// Relative to the corpus root.
    pub path: String,
    pub query: String,
    /// From a `[hunt]` file rather than a `[rule]`.
    pub hunt: bool,
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

/// The queries of rules whose `language` is `language`, and the hunting queries (which name
/// no language) that `is_language` recognizes, in path order.
pub fn queries(root: &Path, language: &str, is_language: &dyn Fn(&str) -> bool) -> Vec<Found> {
    let mut files = Vec::new();
    toml_files(root, &mut files);
    let marker = format!("\"{language}\"");
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
        // Only files that can hold such a query are worth a TOML parse.
        if !text.contains(&marker) && !text.contains("[hunt]") {
            continue;
        }
        let Ok(doc) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        if let Some(rule) = doc.get("rule").and_then(|r| r.as_table())
            && rule.get("language").and_then(|l| l.as_str()) == Some(language)
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
                if is_language(q) {
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
