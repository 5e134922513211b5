//! A Sigma file: YAML documents, rule collections (`action: global` / `reset` / `repeat`) merged
//! into the documents they apply to, and each document's kind.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{DepthGuard, Parsed};
use ruleatlas_yaml::{Node, Value as Y};

/// What a Sigma document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocKind {
    /// A rule with a `detection:` section.
    Rule,
    /// A correlation rule (`correlation:`).
    Correlation,
    /// A Sigma filter (`filter:` with `rules:`).
    Filter,
    /// Not a rule (the reason says why).
    NotARule(String),
}

/// One Sigma document after collection actions were applied.
#[derive(Debug, Clone)]
pub struct SigmaDocument {
    /// The document as it applies (global parts merged in).
    pub yaml: Node,
    pub kind: DocKind,
    /// Indexes (into [`SigmaFile::sections`]) of the YAML documents merged into this one, in order.
    pub parts: Vec<usize>,
}

/// Where a query section (`detection:`, `correlation:`, `filter:`) starts in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionStart {
    /// 1-based line of the key.
    pub line: u32,
    /// Byte offset of the key.
    pub offset: usize,
}

/// A parsed Sigma file.
#[derive(Debug, Clone, Default)]
pub struct SigmaFile {
    /// How many YAML documents the file holds.
    pub yaml_documents: usize,
    /// Per YAML document (as written), where its query sections start.
    pub sections: Vec<Vec<SectionStart>>,
    /// The documents that are rules, correlations, filters (or were meant to be).
    pub documents: Vec<SigmaDocument>,
}

/// Deep-merges `src` into `dest` the way Sigma rule collections do: maps merge key by key,
/// anything else is replaced. Returns `false` when nesting exceeds the depth limit.
fn merge(dest: &mut Node, src: &Node, guard: &mut DepthGuard) -> bool {
    if guard.enter().is_err() {
        return false;
    }
    let mut ok = true;
    match (&mut dest.value, &src.value) {
        (Y::Map(d), Y::Map(s)) => {
            for (k, v) in s {
                if k.as_str() == Some("action") {
                    continue;
                }
                match d.iter_mut().find(|(dk, _)| dk.value == k.value) {
                    Some((_, dv))
                        if matches!(dv.value, Y::Map(_)) && matches!(v.value, Y::Map(_)) =>
                    {
                        ok &= merge(dv, v, guard);
                    }
                    Some((_, dv)) => *dv = v.clone(),
                    None => d.push((k.clone(), v.clone())),
                }
            }
        }
        _ => *dest = src.clone(),
    }
    guard.leave();
    ok
}

fn without_action(mut n: Node) -> Node {
    if let Y::Map(entries) = &mut n.value {
        entries.retain(|(k, _)| k.as_str() != Some("action"));
    }
    n
}

fn sections(doc: &Node) -> Vec<SectionStart> {
    doc.as_map()
        .unwrap_or_default()
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), Some("detection" | "correlation" | "filter")))
        .filter_map(|(k, _)| {
            Some(SectionStart {
                line: k.pos.line,
                offset: k.offset?,
            })
        })
        .collect()
}

fn classify(y: &Node) -> DocKind {
    if y.as_map().is_none() {
        return DocKind::NotARule("not a YAML mapping".to_string());
    }
    if y.get("correlation").is_some() {
        return DocKind::Correlation;
    }
    if y.get("detection").is_some() {
        return DocKind::Rule;
    }
    if y.get("filter")
        .is_some_and(|f| f.get("rules").is_some() || f.get("condition").is_some())
    {
        return DocKind::Filter;
    }
    if y.get("title").is_some() || y.get("logsource").is_some() {
        return DocKind::NotARule("no detection, correlation or filter section".to_string());
    }
    DocKind::NotARule("not a Sigma rule".to_string())
}

/// Whether a YAML text has more than one document: a `---` line after content, or a `...` end
/// marker. (Block scalars are indented, so such lines at column 0 are always markers.)
fn is_multi_document(text: &str) -> bool {
    let mut content = false;
    for line in text.lines() {
        let marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t', '\r']))
        };
        if marker("---") {
            if content {
                return true;
            }
            content = true;
        } else if marker("...") {
            return true;
        } else if !content
            && !line.trim().is_empty()
            && !line.trim_start().starts_with('#')
            && !line.starts_with('%')
        {
            content = true;
        }
    }
    false
}

/// Parses a Sigma file (one or more YAML documents).
///
/// A YAML error gives an empty file and the diagnostic (code `yaml`, with line and column).
#[must_use]
pub fn parse(text: &str) -> Parsed<SigmaFile> {
    // Most files hold one document; the single-document reader is cheaper.
    let result = if is_multi_document(text) {
        ruleatlas_yaml::parse_multi(text)
    } else {
        ruleatlas_yaml::parse(text).map(|n| vec![n])
    };
    let raw = match result {
        Ok(docs) => docs,
        Err(d) => {
            return Parsed {
                ast: SigmaFile::default(),
                diagnostics: vec![d],
            };
        }
    };
    let mut diagnostics = Vec::new();
    let mut documents: Vec<SigmaDocument> = Vec::new();
    let mut global: Option<(Node, Vec<usize>)> = None;
    let mut previous: Option<usize> = None;
    let yaml_documents = raw.len();
    let section_starts = raw.iter().map(sections).collect();
    for (i, doc) in raw.into_iter().enumerate() {
        if doc.is_null() {
            continue; // an empty document (`---` at the end)
        }
        let action = doc
            .get("action")
            .and_then(Node::as_str)
            .map(str::to_ascii_lowercase);
        match action.as_deref() {
            Some("global") => {
                let (mut g, mut parts) = global.take().unwrap_or_else(|| {
                    (
                        Node {
                            value: Y::Map(Vec::new()),
                            pos: doc.pos,
                            offset: doc.offset,
                        },
                        Vec::new(),
                    )
                });
                if !merge(&mut g, &doc, &mut DepthGuard::default()) {
                    diagnostics.push(
                        Diagnostic::error("limit-depth", "global document nested too deeply")
                            .at(doc.pos),
                    );
                }
                parts.push(i);
                global = Some((g, parts));
            }
            Some("reset") => global = None,
            Some("repeat") => {
                let Some(prev) = previous.and_then(|p| documents.get(p)) else {
                    diagnostics.push(
                        Diagnostic::error(
                            "sigma-collection",
                            "action: repeat without a previous rule document",
                        )
                        .at(doc.pos),
                    );
                    continue;
                };
                let mut y = prev.yaml.clone();
                if !merge(&mut y, &doc, &mut DepthGuard::default()) {
                    diagnostics.push(
                        Diagnostic::error("limit-depth", "document nested too deeply").at(doc.pos),
                    );
                }
                let mut parts = prev.parts.clone();
                parts.push(i);
                previous = Some(documents.len());
                documents.push(SigmaDocument {
                    kind: classify(&y),
                    yaml: y,
                    parts,
                });
            }
            Some(other) => {
                diagnostics.push(
                    Diagnostic::warning("sigma-collection", format!("unknown action: {other}"))
                        .at(doc.pos),
                );
            }
            None => {
                let (y, parts) = match &global {
                    Some((g, gparts)) => {
                        let mut y = g.clone();
                        y.pos = doc.pos;
                        y.offset = doc.offset;
                        if !merge(&mut y, &doc, &mut DepthGuard::default()) {
                            diagnostics.push(
                                Diagnostic::error("limit-depth", "document nested too deeply")
                                    .at(doc.pos),
                            );
                        }
                        let mut parts = gparts.clone();
                        parts.push(i);
                        (y, parts)
                    }
                    None => (without_action(doc), vec![i]),
                };
                previous = Some(documents.len());
                documents.push(SigmaDocument {
                    kind: classify(&y),
                    yaml: y,
                    parts,
                });
            }
        }
    }
    if documents.is_empty()
        && let Some((g, parts)) = global
    {
        // A lone global document: nothing applies it; report it as not a rule.
        documents.push(SigmaDocument {
            yaml: g,
            kind: DocKind::NotARule("only a global action document".into()),
            parts,
        });
    }
    Parsed {
        ast: SigmaFile {
            yaml_documents,
            sections: section_starts,
            documents,
        },
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_merges_into_each_document() {
        let text = "action: global\ntitle: T\ndetection:\n  sel:\n    A: 1\n  condition: sel\n---\nlogsource:\n  product: windows\ndetection:\n  sel2:\n    B: 2\n---\nlogsource:\n  product: linux\n";
        let parsed = parse(text);
        assert!(parsed.diagnostics.is_empty());
        let docs = &parsed.ast.documents;
        assert_eq!(docs.len(), 2);
        let det = docs[0].yaml.get("detection").expect("detection");
        assert!(
            det.get("sel").is_some() && det.get("sel2").is_some() && det.get("condition").is_some()
        );
        assert_eq!(docs[0].parts, vec![0, 1]);
        assert!(
            docs[1]
                .yaml
                .get("detection")
                .and_then(|d| d.get("sel2"))
                .is_none()
        );
        assert!(docs[0].yaml.get("action").is_none());
    }

    #[test]
    fn multi_document_detection() {
        assert!(!is_multi_document("title: x\n"));
        assert!(!is_multi_document("# c\n---\ntitle: x\n"));
        assert!(!is_multi_document("a: |\n  ---\n"));
        assert!(is_multi_document("a: 1\n---\nb: 2\n"));
        assert!(is_multi_document("---\na: 1\n---\nb: 2\n"));
        assert!(is_multi_document("a: 1\n...\n"));
        assert!(!is_multi_document("a: '---'\n"));
    }

    #[test]
    fn repeat_and_reset() {
        let text = "title: A\ndetection:\n  sel:\n    X: 1\n  condition: sel\n---\naction: repeat\ntitle: B\n---\naction: reset\n---\naction: repeat\n";
        let parsed = parse(text);
        let docs = &parsed.ast.documents;
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].yaml.get("title").and_then(Node::as_str), Some("B"));
        assert!(docs[1].yaml.get("detection").is_some());
        assert_eq!(docs[2].yaml.get("title").and_then(Node::as_str), Some("B"));
    }
}
