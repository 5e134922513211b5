//! Rule metadata: id, title, status, level, tags (ATT&CK), logsource, false positives...

use ruleatlas_model::{RuleDoc, TechniqueRef};
use ruleatlas_yaml::{Node, Value as Y};

/// Converts a YAML node to JSON (bounded depth: deeper levels become `null`).
#[must_use]
pub fn to_json(n: &Node) -> serde_json::Value {
    to_json_depth(n, 0)
}

fn to_json_depth(n: &Node, depth: usize) -> serde_json::Value {
    use serde_json::Value as J;
    if depth > 64 {
        return J::Null;
    }
    match &n.value {
        Y::Null => J::Null,
        Y::Bool(b) => J::Bool(*b),
        Y::Int(i) => J::from(*i),
        Y::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Y::Str(s) => J::String(s.clone()),
        Y::Seq(items) => J::Array(items.iter().map(|i| to_json_depth(i, depth + 1)).collect()),
        Y::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.scalar_text().unwrap_or_default(),
                        to_json_depth(v, depth + 1),
                    )
                })
                .collect(),
        ),
    }
}

/// `attack.t1234.001` -> `T1234.001`, when the tag names a technique.
fn technique_of(rest: &str) -> Option<String> {
    let rest = rest.strip_prefix('t').or_else(|| rest.strip_prefix('T'))?;
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    if main.len() != 4 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match sub {
        Some(s) if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("T{main}.{s}"))
        }
        Some(_) => None,
        None => Some(format!("T{main}")),
    }
}

/// ATT&CK object ids that are not tactics: groups, software, mitigations, data sources, tactics by id.
fn is_attack_object_id(rest: &str) -> bool {
    let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
    letters > 0
        && letters <= 2
        && rest.len() > letters
        && rest.bytes().skip(letters).all(|b| b.is_ascii_digit())
}

/// Fills the metadata of `doc` from a (merged) Sigma document.
pub fn fill(doc: &mut RuleDoc, y: &Node) {
    doc.language = "sigma".to_string();
    doc.native_id = y
        .get("id")
        .and_then(Node::scalar_text)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    doc.title = y
        .get("title")
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    doc.description = y.get("description").and_then(Node::scalar_text);
    doc.severity = y.get("level").and_then(Node::scalar_text);
    doc.rule_status = y.get("status").and_then(Node::scalar_text);
    if doc
        .rule_status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("deprecated"))
        || in_deprecated_folder(&doc.path)
    {
        doc.deprecated = true;
    }
    if let Some(r) = y.get("references") {
        doc.references = r.string_list();
    }
    if let Some(fp) = y.get("falsepositives") {
        doc.false_positives = fp
            .string_list()
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .collect();
    }
    if let Some(a) = y.get("author") {
        doc.authors = match &a.value {
            Y::Seq(_) => a.string_list(),
            _ => a
                .scalar_text()
                .map(|s| {
                    s.split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        };
    }
    let mut other_tags = Vec::new();
    if let Some(tags) = y.get("tags") {
        for tag in tags.string_list() {
            let t = tag.trim();
            let lower = t.to_ascii_lowercase();
            if let Some(rest) = lower.strip_prefix("attack.") {
                if let Some(id) = technique_of(rest) {
                    if !doc.techniques.iter().any(|x| x.id == id) {
                        doc.techniques.push(TechniqueRef::id(id));
                    }
                    continue;
                }
                if !is_attack_object_id(rest) && !rest.is_empty() {
                    let tactic = t["attack.".len()..].to_string();
                    if !doc.tactics.contains(&tactic) {
                        doc.tactics.push(tactic);
                    }
                    continue;
                }
            }
            other_tags.push(serde_json::Value::String(t.to_string()));
        }
    }
    if !other_tags.is_empty() {
        doc.extra
            .insert("tags".into(), serde_json::Value::Array(other_tags));
    }
    if let Some(ls) = y.get("logsource").and_then(Node::as_map) {
        for (k, v) in ls {
            let Some(key) = k.scalar_text() else { continue };
            let Some(val) = v.scalar_text() else { continue };
            match key.as_str() {
                "product" => {
                    doc.add_logsource("product", val.clone());
                    if !doc.raw_platforms.contains(&val) {
                        doc.raw_platforms.push(val);
                    }
                }
                "category" | "service" => {
                    doc.add_logsource(&key, val.clone());
                    let d = format!("{key}:{val}");
                    if !doc.raw_domains.contains(&d) {
                        doc.raw_domains.push(d);
                    }
                }
                "definition" => {
                    doc.extra.insert(
                        "logsource_definition".into(),
                        serde_json::Value::String(val),
                    );
                }
                _ => doc.add_logsource(&key, val),
            }
        }
    }
    for key in [
        "name", "related", "fields", "date", "modified", "license", "taxonomy", "scope", "generate",
    ] {
        if let Some(v) = y.get(key) {
            doc.extra.insert(key.into(), to_json(v));
        }
    }
}

/// Whether a path lies in a `deprecated` / `_deprecated` folder.
#[must_use]
pub fn in_deprecated_folder(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts
        .iter()
        .any(|p| p.eq_ignore_ascii_case("deprecated") || p.eq_ignore_ascii_case("_deprecated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techniques_from_tags() {
        assert_eq!(technique_of("t1059.001").as_deref(), Some("T1059.001"));
        assert_eq!(technique_of("t1685").as_deref(), Some("T1685"));
        assert_eq!(technique_of("t12"), None);
        assert_eq!(technique_of("defense-evasion"), None);
        assert!(is_attack_object_id("g0016"));
        assert!(is_attack_object_id("s0002"));
        assert!(!is_attack_object_id("stealth"));
        assert!(!is_attack_object_id("defense-impairment"));
    }

    #[test]
    fn deprecated_folders() {
        assert!(in_deprecated_folder("deprecated/windows/x.yml"));
        assert!(in_deprecated_folder("rules/_deprecated/x.yml"));
        assert!(!in_deprecated_folder("rules/windows/deprecated.yml"));
    }
}
