//! A product's own vocabulary, namespaced by log type (`data/log_type_namespaces.toml`).
//!
//! `AWS.CloudTrail` `eventName` becomes `aws::eventName`, `Okta.SystemLog` `eventType`
//! becomes `okta::eventType`: the CONTRACT keeps event names and types per product so that
//! vendors meet on one row. The table is data, loaded once.

use std::sync::OnceLock;

use ruleatlas_model::Lowered;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Table {
    namespace: Vec<Entry>,
}

/// One row of the table.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    /// A log-type name or prefix ending with `.`.
    pub log_type: String,
    pub namespace: String,
    pub fields: Vec<String>,
}

const DATA: &str = include_str!("../data/log_type_namespaces.toml");

/// The table (empty if the embedded file failed to parse, which a test guards against).
#[must_use]
pub fn table() -> &'static [Entry] {
    static T: OnceLock<Vec<Entry>> = OnceLock::new();
    T.get_or_init(|| {
        toml::from_str::<Table>(DATA)
            .map(|t| t.namespace)
            .unwrap_or_default()
    })
}

fn matches(entry: &Entry, log_type: &str) -> bool {
    if entry.log_type.ends_with('.') {
        log_type.starts_with(&entry.log_type)
    } else {
        log_type == entry.log_type
    }
}

/// The namespaced name of `raw_field` for a rule on `log_types`, when every log type that
/// has it as vocabulary agrees on one namespace.
#[must_use]
pub fn namespaced(raw_field: &str, log_types: &[String]) -> Option<String> {
    let mut found: Option<&str> = None;
    for lt in log_types {
        for e in table().iter().filter(|e| matches(e, lt)) {
            if e.fields.iter().any(|f| f == raw_field) {
                match found {
                    Some(ns) if ns != e.namespace => return None,
                    _ => found = Some(&e.namespace),
                }
            }
        }
    }
    found.map(|ns| format!("{ns}::{raw_field}"))
}

/// Sets `field` of every predicate whose raw field is product vocabulary.
pub fn apply(lowered: &mut Lowered, log_types: &[String]) {
    for p in &mut lowered.predicates {
        if let Some(f) = namespaced(&p.raw_field, log_types) {
            p.field = f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_and_maps() {
        assert!(table().len() >= 10);
        let aws = vec!["AWS.CloudTrail".to_string()];
        assert_eq!(
            namespaced("eventName", &aws).as_deref(),
            Some("aws::eventName")
        );
        assert_eq!(namespaced("sourceIPAddress", &aws), None);
        let okta = vec!["Okta.SystemLog".to_string()];
        assert_eq!(
            namespaced("eventType", &okta).as_deref(),
            Some("okta::eventType")
        );
        assert_eq!(namespaced("eventType", &[]), None);
    }
}
