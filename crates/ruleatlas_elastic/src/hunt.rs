//! Hunts (`hunting/**.toml`, `[hunt]`): several queries, the language of each read from its
//! text, ORed.

use ruleatlas_model::{Condition, Lowered, RuleDoc, RuleKind, TechniqueRef, Unparsed, Vendor};
use toml::de::{DeTable, DeValue};

use crate::meta::{add_technique, json_list};
use crate::tomlstr::{SValue, as_str, get, strings};
use crate::{File, is_deprecated_path};

/// A first line that is only a Markdown fence tag (`sql`, `esql`...) copied with the query:
/// its length in bytes (with the newline), or 0.
#[must_use]
pub fn fence_tag_len(query: &str) -> usize {
    let Some(nl) = query.find('\n') else { return 0 };
    let first = query[..nl].trim();
    let tag = !first.is_empty()
        && first.len() <= 12
        && first.chars().all(|c| c.is_ascii_alphabetic() || c == '|')
        && matches!(
            first.to_lowercase().as_str(),
            "sql" | "esql" | "es|ql" | "eql" | "kql" | "kuery" | "osquery"
        );
    if tag { nl + 1 } else { 0 }
}

/// The language of a hunt query, from its text.
#[must_use]
pub fn detect_language(query: &str) -> &'static str {
    let t = query.trim_start();
    let first: String = t
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_lowercase();
    match first.as_str() {
        "from" | "row" | "show" => "esql",
        "select" | "with" => "sql",
        "sequence" | "sample" => "eql",
        _ => {
            let words: Vec<String> = t
                .split_whitespace()
                .take(3)
                .map(str::to_lowercase)
                .collect();
            if words.get(1).map(String::as_str) == Some("where") {
                "eql"
            } else {
                "unknown"
            }
        }
    }
}

pub(crate) fn load_hunt(file: &File<'_>, hunt: &DeTable<'_>) -> RuleDoc {
    let mut doc = RuleDoc::new(Vendor::Elastic, file.path);
    let hstr = |k: &str| get(hunt, k).and_then(as_str).map(str::to_string);
    doc.kind = RuleKind::Hunt;
    doc.native_id = hstr("uuid");
    doc.title = hstr("name").unwrap_or_else(|| {
        file.path
            .rsplit('/')
            .next()
            .unwrap_or(file.path)
            .to_string()
    });
    doc.description = hstr("description").map(|s| s.trim().to_string());
    doc.deprecated = is_deprecated_path(file.path);
    doc.references = strings(get(hunt, "references"));
    doc.authors = strings(get(hunt, "author"));
    for i in strings(get(hunt, "integration")) {
        doc.add_logsource("integration", i);
    }
    for m in strings(get(hunt, "mitre")) {
        add_technique(&mut doc, TechniqueRef::id(m.trim().to_uppercase()));
    }
    let declared = strings(get(hunt, "language"));
    if !declared.is_empty() {
        doc.extra.insert("languages".into(), json_list(&declared));
    }
    let notes = strings(get(hunt, "notes"));
    if !notes.is_empty() {
        doc.extra.insert("notes".into(), json_list(&notes));
    }
    let queries: Vec<&SValue<'_>> = match get(hunt, "query") {
        Some(v) => match v.get_ref() {
            DeValue::Array(a) => a.iter().collect(),
            _ => vec![v],
        },
        None => Vec::new(),
    };
    let mut out = Lowered::default();
    let mut alternatives = Vec::new();
    let mut langs: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for q in queries {
        let full = as_str(q).unwrap_or_default();
        let skip = fence_tag_len(full);
        let text = &full[skip..];
        texts.push(text.trim().to_string());
        let lang = detect_language(text);
        langs.push(lang.to_string());
        let l = match lang {
            "sql" => {
                let mut l = Lowered::default();
                let mut u = Unparsed::new(text.trim(), "osquery SQL not supported");
                u.origin = Some(file.origin(q.span().start));
                l.tree = l.unparsed(u);
                l
            }
            "unknown" => {
                let mut l = Lowered::default();
                let mut u = Unparsed::new(text.trim(), "query language not recognized");
                u.origin = Some(file.origin(q.span().start));
                l.tree = l.unparsed(u);
                l
            }
            other => {
                if other == "esql" {
                    for i in ruleatlas_esql::indices(text) {
                        doc.add_logsource("index", i);
                    }
                }
                file.lower_query_from(q, skip, other, &[])
            }
        };
        alternatives.push(out.absorb(l));
    }
    doc.language = langs.first().cloned().unwrap_or_default();
    doc.extra
        .insert("query_languages".into(), json_list(&langs));
    doc.query = texts.join("\n\n");
    if alternatives.is_empty() {
        let mut u = Unparsed::new("(no query)", "hunt has no query");
        u.origin = Some(file.origin(0));
        alternatives.push(out.unparsed(u));
    }
    out.tree = Condition::or(alternatives);
    out.finish();
    doc.lowered = out;
    doc.settle_status();
    doc
}
