//! MITRE ATT&CK from STIX 2.1 bundles.
//!
//! Reads `attack-pattern` (techniques and sub-techniques), `x-mitre-tactic`, `x-mitre-matrix`
//! (tactic order), `x-mitre-detection-strategy` and the `subtechnique-of`, `revoked-by` and
//! `detects` relationships. Works on the reduced bundles in `shared/attack` and on MITRE's
//! full files alike. Several bundles (enterprise, mobile, ICS) merge into one [`Attack`].

use std::collections::{BTreeMap, HashMap};

use ruleatlas_diagnostics::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A technique or sub-technique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Technique {
    /// `T1621` or `T1078.004`.
    pub id: String,
    pub name: String,
    pub description: String,
    /// Tactic short names (`credential-access`).
    pub tactics: Vec<String>,
    pub platforms: Vec<String>,
    /// `enterprise-attack`, `mobile-attack`, `ics-attack`.
    pub domains: Vec<String>,
    /// The parent technique id of a sub-technique.
    pub parent: Option<String>,
    /// The id that replaces a revoked technique.
    pub revoked_by: Option<String>,
    pub revoked: bool,
    pub deprecated: bool,
    pub detection_strategies: Vec<DetectionStrategy>,
    pub url: Option<String>,
}

/// An ATT&CK detection strategy (`DET0103`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionStrategy {
    pub id: String,
    pub name: String,
}

/// A tactic, in matrix order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tactic {
    /// `TA0006`.
    pub id: String,
    /// `credential-access`.
    pub shortname: String,
    pub name: String,
    pub domain: String,
}

/// Everything loaded from the bundles.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attack {
    pub techniques: BTreeMap<String, Technique>,
    pub tactics: Vec<Tactic>,
    /// Matrices seen, with their version, for display.
    pub sources: Vec<String>,
}

fn external_id(o: &Json) -> Option<(String, Option<String>)> {
    o.get("external_references")?
        .as_array()?
        .iter()
        .find_map(|r| {
            let src = r.get("source_name")?.as_str()?;
            if src.starts_with("mitre") {
                let id = r.get("external_id")?.as_str()?.to_string();
                let url = r.get("url").and_then(Json::as_str).map(str::to_string);
                Some((id, url))
            } else {
                None
            }
        })
}

fn str_list(o: &Json, key: &str) -> Vec<String> {
    o.get(key)
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn s(o: &Json, key: &str) -> String {
    o.get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

fn line_column(line: usize, column: usize) -> ruleatlas_text::LineColumn {
    ruleatlas_text::LineColumn {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

impl Attack {
    /// Merges one STIX bundle (JSON text) into `self`.
    ///
    /// # Errors
    /// When the text is not a JSON object with an `objects` array.
    pub fn add_bundle(&mut self, source: &str, text: &str) -> Result<(), Diagnostic> {
        let bundle: Json = serde_json::from_str(text).map_err(|e| {
            Diagnostic::error("attack", format!("not a STIX bundle: {e}"))
                .with_path(source)
                .at(line_column(e.line(), e.column()))
        })?;
        let objects = bundle
            .get("objects")
            .and_then(Json::as_array)
            .ok_or_else(|| {
                Diagnostic::error("attack", "not a STIX bundle: no `objects` array")
                    .with_path(source)
            })?;

        let mut by_stix: HashMap<&str, String> = HashMap::new();
        let mut tactic_by_stix: HashMap<&str, Tactic> = HashMap::new();
        let mut strategies: HashMap<&str, DetectionStrategy> = HashMap::new();
        let mut matrix_order: Vec<&str> = Vec::new();
        for o in objects {
            let ty = o.get("type").and_then(Json::as_str).unwrap_or_default();
            let stix = o.get("id").and_then(Json::as_str).unwrap_or_default();
            match ty {
                "attack-pattern" => {
                    let Some((id, url)) = external_id(o) else {
                        continue;
                    };
                    let tactics = o
                        .get("kill_chain_phases")
                        .and_then(Json::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|p| p.get("phase_name").and_then(Json::as_str))
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    let parent = id.split_once('.').map(|(p, _)| p.to_string());
                    let t = Technique {
                        id: id.clone(),
                        name: s(o, "name"),
                        description: s(o, "description"),
                        tactics,
                        platforms: str_list(o, "x_mitre_platforms"),
                        domains: str_list(o, "x_mitre_domains"),
                        parent,
                        revoked_by: None,
                        revoked: o.get("revoked").and_then(Json::as_bool).unwrap_or(false),
                        deprecated: o
                            .get("x_mitre_deprecated")
                            .and_then(Json::as_bool)
                            .unwrap_or(false),
                        detection_strategies: Vec::new(),
                        url,
                    };
                    by_stix.insert(stix, id.clone());
                    // A revoked duplicate must not shadow the live object with the same id.
                    match self.techniques.get(&id) {
                        Some(existing) if !existing.revoked && t.revoked => {}
                        _ => {
                            self.techniques.insert(id, t);
                        }
                    }
                }
                "x-mitre-tactic" => {
                    let Some((id, _)) = external_id(o) else {
                        continue;
                    };
                    let domain = str_list(o, "x_mitre_domains")
                        .into_iter()
                        .next()
                        .unwrap_or_default();
                    tactic_by_stix.insert(
                        stix,
                        Tactic {
                            id,
                            shortname: s(o, "x_mitre_shortname"),
                            name: s(o, "name"),
                            domain,
                        },
                    );
                }
                "x-mitre-matrix" => {
                    matrix_order.extend(
                        o.get("tactic_refs")
                            .and_then(Json::as_array)
                            .map(|a| a.iter().filter_map(Json::as_str).collect::<Vec<_>>())
                            .unwrap_or_default(),
                    );
                    self.sources
                        .push(format!("{} {}", s(o, "name"), s(o, "x_mitre_version")));
                }
                "x-mitre-detection-strategy" => {
                    let Some((id, _)) = external_id(o) else {
                        continue;
                    };
                    strategies.insert(
                        stix,
                        DetectionStrategy {
                            id,
                            name: s(o, "name"),
                        },
                    );
                }
                _ => {}
            }
        }
        for o in objects {
            if o.get("type").and_then(Json::as_str) != Some("relationship") {
                continue;
            }
            let rel = o
                .get("relationship_type")
                .and_then(Json::as_str)
                .unwrap_or_default();
            let src = o
                .get("source_ref")
                .and_then(Json::as_str)
                .unwrap_or_default();
            let dst = o
                .get("target_ref")
                .and_then(Json::as_str)
                .unwrap_or_default();
            match rel {
                "subtechnique-of" => {
                    if let (Some(child), Some(parent)) = (by_stix.get(src), by_stix.get(dst))
                        && let Some(t) = self.techniques.get_mut(child)
                    {
                        t.parent = Some(parent.clone());
                    }
                }
                "revoked-by" => {
                    if let (Some(old), Some(new)) = (by_stix.get(src), by_stix.get(dst))
                        && let Some(t) = self.techniques.get_mut(old)
                        && t.revoked
                    {
                        t.revoked_by = Some(new.clone());
                    }
                }
                "detects" => {
                    if let (Some(strategy), Some(tech)) = (strategies.get(src), by_stix.get(dst))
                        && let Some(t) = self.techniques.get_mut(tech)
                        && !t.detection_strategies.contains(strategy)
                    {
                        t.detection_strategies.push(strategy.clone());
                    }
                }
                _ => {}
            }
        }
        let mut ordered: Vec<Tactic> = matrix_order
            .iter()
            .filter_map(|r| tactic_by_stix.remove(r))
            .collect();
        let mut rest: Vec<Tactic> = tactic_by_stix.into_values().collect();
        rest.sort_by(|a, b| a.id.cmp(&b.id));
        ordered.extend(rest);
        for t in ordered {
            if !self
                .tactics
                .iter()
                .any(|x| x.id == t.id && x.domain == t.domain)
            {
                self.tactics.push(t);
            }
        }
        Ok(())
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.techniques.is_empty()
    }

    #[must_use]
    pub fn technique(&self, id: &str) -> Option<&Technique> {
        self.techniques.get(id)
    }

    /// Sub-techniques of a technique, by id.
    pub fn subtechniques<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Technique> + 'a {
        let prefix = format!("{id}.");
        self.techniques
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(_, t)| t)
    }

    /// Finds a technique by name: `"Valid Accounts: Cloud Accounts"` (parent: sub-technique)
    /// or `"Valid Accounts"`; case-insensitive; live enterprise techniques first.
    #[must_use]
    pub fn find_by_name(&self, name: &str) -> Option<&Technique> {
        let name = name.trim();
        let (parent_name, sub_name) = match name.split_once(':') {
            Some((p, s)) => (p.trim(), Some(s.trim())),
            None => (name, None),
        };
        let live = |t: &Technique| !t.revoked && !t.deprecated;
        let mut parents: Vec<&Technique> = self
            .techniques
            .values()
            .filter(|t| t.parent.is_none() && t.name.eq_ignore_ascii_case(parent_name))
            .collect();
        // Names repeat across domains (ICS "Valid Accounts" is T0859).
        parents.sort_by_key(|t| {
            (
                !live(t),
                !t.domains.iter().any(|d| d == "enterprise-attack"),
            )
        });
        match sub_name {
            Some(sub) => parents.iter().find_map(|p| {
                self.subtechniques(&p.id)
                    .find(|t| t.name.eq_ignore_ascii_case(sub))
            }),
            None => parents.first().copied(),
        }
    }

    /// Tactic short name of a tactic id (`TA0006` -> `credential-access`).
    #[must_use]
    pub fn tactic_shortname(&self, id: &str) -> Option<&str> {
        self.tactics
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(id))
            .map(|t| t.shortname.as_str())
    }
}

/// Normalizes a technique id as rules write it (`t1059.001`, `T1059/001`, `attack.t1059`)
/// to `T1059.001`; `None` when it is not one.
#[must_use]
pub fn normalize_technique_id(raw: &str) -> Option<String> {
    let s = raw.trim().trim_start_matches("attack.").trim_matches('/');
    let s = s.strip_prefix('t').or_else(|| s.strip_prefix('T'))?;
    let s = s.replace('/', ".");
    let (main, sub) = match s.split_once('.') {
        Some((m, sub)) => (m.to_string(), Some(sub.to_string())),
        None => (s.clone(), None),
    };
    if main.len() != 4 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match sub {
        Some(sub) if sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("T{main}.{sub}"))
        }
        Some(_) => None,
        None => Some(format!("T{main}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_ids() {
        assert_eq!(
            normalize_technique_id("attack.t1059.001").as_deref(),
            Some("T1059.001")
        );
        assert_eq!(
            normalize_technique_id("T1078/004").as_deref(),
            Some("T1078.004")
        );
        assert_eq!(normalize_technique_id("t1621").as_deref(), Some("T1621"));
        assert_eq!(normalize_technique_id("credential_access"), None);
        assert_eq!(normalize_technique_id("T12"), None);
    }

    #[test]
    fn not_a_bundle_is_a_diagnostic() {
        let mut a = Attack::default();
        assert!(a.add_bundle("x.json", "{").is_err());
        assert!(a.add_bundle("x.json", "{\"a\": 1}").is_err());
    }

    #[test]
    fn real_bundles() {
        let Some(shared) = ruleatlas_testkit::shared_dir() else {
            return;
        };
        let mut a = Attack::default();
        for f in [
            "enterprise-attack.json",
            "mobile-attack.json",
            "ics-attack.json",
        ] {
            let text = std::fs::read_to_string(shared.join("attack").join(f)).expect("bundle");
            a.add_bundle(f, &text).expect("valid bundle");
        }
        let t = a.technique("T1621").expect("T1621");
        assert_eq!(t.name, "Multi-Factor Authentication Request Generation");
        assert_eq!(t.tactics, vec!["credential-access".to_string()]);
        assert!(!t.detection_strategies.is_empty());
        let sub = a.technique("T1078.004").expect("sub");
        assert_eq!(sub.parent.as_deref(), Some("T1078"));
        assert_eq!(
            a.find_by_name("Valid Accounts: Cloud Accounts")
                .map(|t| t.id.as_str()),
            Some("T1078.004")
        );
        assert_eq!(
            a.find_by_name("valid accounts").map(|t| t.id.as_str()),
            Some("T1078")
        );
        assert!(a.subtechniques("T1078").count() >= 4);
        assert!(
            a.techniques
                .values()
                .any(|t| t.revoked && t.revoked_by.is_some())
        );
        assert_eq!(
            a.tactics.first().map(|t| t.shortname.as_str()),
            Some("reconnaissance")
        );
        assert_eq!(a.tactic_shortname("TA0006"), Some("credential-access"));
    }
}
