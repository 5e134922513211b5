//! Rule metadata: ATT&CK (`[[rule.threat]]`) and the `Domain:`/`OS:`/`Data Source:`/`Tactic:`
//! tags.

use ruleatlas_model::{RuleDoc, TechniqueRef};
use toml::de::{DeTable, DeValue};

use crate::tomlstr::{as_array, as_str, as_table, get, get_path, to_json};

/// `Defense Evasion` -> `defense-evasion` (ATT&CK's tactic short names).
pub(crate) fn tactic_key(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
}

pub(crate) fn push_unique(v: &mut Vec<String>, s: String) {
    if !s.is_empty() && !v.contains(&s) {
        v.push(s);
    }
}

pub(crate) fn technique_ref(t: &DeTable<'_>) -> Option<TechniqueRef> {
    let id = get(t, "id").and_then(as_str)?.trim().to_uppercase();
    let name = get(t, "name").and_then(as_str).map(str::to_string);
    Some(TechniqueRef { id, name })
}

pub(crate) fn add_technique(doc: &mut RuleDoc, t: TechniqueRef) {
    if !doc.techniques.iter().any(|x| x.id == t.id) {
        doc.techniques.push(t);
    }
}

/// `[[rule.threat]]`: tactics, and techniques (a technique with sub-techniques counts only
/// for those).
pub(crate) fn read_threat(doc: &mut RuleDoc, rule: &DeTable<'_>) {
    let Some(threats) = get(rule, "threat").and_then(as_array) else {
        return;
    };
    for th in threats.iter().filter_map(as_table) {
        let framework = get(th, "framework")
            .and_then(as_str)
            .unwrap_or("MITRE ATT&CK");
        if framework != "MITRE ATT&CK" {
            let mut fw: Vec<serde_json::Value> = doc
                .extra
                .get("other_frameworks")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            fw.push(to_json(&DeValue::Table(th.clone())));
            doc.extra
                .insert("other_frameworks".into(), serde_json::Value::Array(fw));
            continue;
        }
        if let Some(name) = get_path(th, &["tactic", "name"]).and_then(as_str) {
            push_unique(&mut doc.tactics, tactic_key(name));
        }
        let Some(techs) = get(th, "technique").and_then(as_array) else {
            continue;
        };
        for tech in techs.iter().filter_map(as_table) {
            let subs: Vec<TechniqueRef> = get(tech, "subtechnique")
                .and_then(as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(as_table)
                        .filter_map(technique_ref)
                        .collect()
                })
                .unwrap_or_default();
            if subs.is_empty() {
                if let Some(t) = technique_ref(tech) {
                    add_technique(doc, t);
                }
            } else {
                for s in subs {
                    add_technique(doc, s);
                }
            }
        }
    }
}

/// `Domain: X`, `OS: X`, `Data Source: X`, `Tactic: X` tags.
pub(crate) fn read_tags(doc: &mut RuleDoc, tags: &[String]) {
    for tag in tags {
        let Some((k, v)) = tag.split_once(':') else {
            continue;
        };
        let v = v.trim().to_string();
        match k.trim() {
            "Domain" => push_unique(&mut doc.raw_domains, v),
            "OS" => push_unique(&mut doc.raw_platforms, v),
            "Data Source" => {
                doc.add_logsource("data_source", v.clone());
                push_unique(&mut doc.raw_platforms, v);
            }
            "Tactic" => push_unique(&mut doc.tactics, tactic_key(&v)),
            _ => {}
        }
    }
}

pub(crate) fn json_list(v: &[String]) -> serde_json::Value {
    serde_json::Value::Array(v.iter().cloned().map(serde_json::Value::String).collect())
}
