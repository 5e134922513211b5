//! ATT&CK references in `meta:` (and the `outcome:` copies some rules keep).
//!
//! The shapes rules use:
//! - `mitre_attack_url = "https://attack.mitre.org/techniques/T1078/004/"` -> `T1078.004`
//!   (also under `/versions/v14/`, with or without the trailing slash);
//! - `technique = "T1003.001"`, `mitre_attack_technique_id = "T1078"` -> ids;
//! - `mitre_attack_technique = "Valid Accounts: Cloud Accounts"` -> a name. When the rule
//!   also gives exactly one id, the name is attached to it; a name with no id becomes
//!   `TechniqueRef { id: "", name: Some(name) }`, which the loader resolves to an id through
//!   the ATT&CK bundles;
//! - `mitre = "Execution, t1204, t1059"` (Sigma-converted rules): ids anywhere in the list
//!   (`t1204`, `T1059`, `1059`, `attack.t1112`), tactic names -> tactics, the rest ignored;
//! - `tactic = "TA0006"`, `mitre_attack_tactic = "Credential Access, Persistence"` -> tactics.
//!
//! Tactic names become ATT&CK short names (`credential-access`); `TA` ids stay as written.

use ruleatlas_model::TechniqueRef;

/// ATT&CK tactic short names (v18, plus the v19 additions).
const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
    "stealth",
    "defense-impairment",
];

/// A technique id written on its own: `T1234`, `t1234.001`, `T1234/001`, `attack.t1234`,
/// or four bare digits (`1059`, as in `mitre = "Execution, t1204, 1059"`).
#[must_use]
pub fn parse_technique_id(token: &str) -> Option<String> {
    let t = token.trim().trim_matches(|c| c == '"' || c == '\'');
    let lower = t.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("attack.")
        .or_else(|| lower.strip_prefix("mitre."))
        .unwrap_or(&lower);
    let rest = rest.strip_prefix('t').unwrap_or(rest);
    let b = rest.as_bytes();
    if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let main = &rest[..4];
    match &b[4..] {
        [] => Some(format!("T{main}")),
        [b'.' | b'/', d @ ..] if d.len() == 3 && d.iter().all(u8::is_ascii_digit) => {
            Some(format!("T{main}.{}", &rest[5..8]))
        }
        [b'/'] => Some(format!("T{main}")),
        _ => None,
    }
}

/// Technique ids found anywhere in a text: `t` + four digits (not inside a longer number),
/// optionally `.`/`/` + three digits. Used for lists like `attackt1496` or URLs.
#[must_use]
pub fn find_technique_ids(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if (b[i] == b't' || b[i] == b'T')
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && b.len() >= i + 5
            && b[i + 1..i + 5].iter().all(u8::is_ascii_digit)
            && b.get(i + 5).is_none_or(|c| !c.is_ascii_digit())
        {
            let main = &text[i + 1..i + 5];
            let mut id = format!("T{main}");
            let mut end = i + 5;
            if let Some(&sep) = b.get(i + 5)
                && (sep == b'.' || sep == b'/')
                && b.len() >= i + 9
                && b[i + 6..i + 9].iter().all(u8::is_ascii_digit)
                && b.get(i + 9).is_none_or(|c| !c.is_ascii_digit())
            {
                id.push('.');
                id.push_str(&text[i + 6..i + 9]);
                end = i + 9;
            }
            if !out.contains(&id) {
                out.push(id);
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// Ids in an ATT&CK URL: `.../techniques/T1078/004/` -> `T1078.004`.
#[must_use]
pub fn technique_ids_from_url(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("/techniques/") {
        let start = from + pos + "/techniques/".len();
        let tail = &text[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == ',' || c == '"' || c == '?' || c == '#')
            .unwrap_or(tail.len());
        let seg = tail[..end].trim_end_matches('/');
        if let Some(id) = parse_technique_id(seg)
            && !out.contains(&id)
        {
            out.push(id);
        }
        from = start;
    }
    out
}

/// A tactic as an ATT&CK short name, if the text names one (`Command and Control`,
/// `command_and_control`, `Defense_Evasion`, `command&control`, `attack.execution`).
#[must_use]
pub fn tactic_short_name(text: &str) -> Option<String> {
    let mut t = text.trim().to_ascii_lowercase();
    for prefix in ["attack.", "attck.", "atatck.", "mitre."] {
        if let Some(r) = t.strip_prefix(prefix) {
            t = r.to_string();
        }
    }
    let t = t.replace('&', " and ");
    let slug: Vec<&str> = t.split([' ', '_', '-']).filter(|s| !s.is_empty()).collect();
    let slug = slug.join("-");
    TACTICS
        .iter()
        .find(|s| **s == slug)
        .map(|s| (*s).to_string())
}

fn is_tactic_id(t: &str) -> bool {
    let u = t.trim().to_ascii_uppercase();
    u.len() == 6 && u.starts_with("TA") && u[2..].bytes().all(|b| b.is_ascii_digit())
}

fn split_list(v: &str) -> impl Iterator<Item = &str> {
    v.split([',', ';', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn attack_tags(v: &str) -> impl Iterator<Item = &str> {
    split_list(v).filter(|p| p.to_ascii_lowercase().starts_with("attack."))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyClass {
    Tactic,
    Url,
    Technique,
    Mixed,
    /// Sigma-style `tags = "attack.t1059.001, attack.execution"`: only `attack.` tokens.
    Tags,
    Other,
}

fn classify(key: &str, value: &str) -> KeyClass {
    let k = key.to_ascii_lowercase();
    if k == "tags" || k == "tag" {
        return KeyClass::Tags;
    }
    let attackish = k.contains("mitre")
        || k.contains("attack")
        || k.contains("technique")
        || k.contains("tactic");
    if !attackish {
        return KeyClass::Other;
    }
    if k.contains("tactic") {
        KeyClass::Tactic
    } else if k.contains("url") || value.to_ascii_lowercase().contains("/techniques/") {
        KeyClass::Url
    } else if k.contains("technique") {
        KeyClass::Technique
    } else if k.contains("version") {
        KeyClass::Other
    } else {
        KeyClass::Mixed
    }
}

fn push_id(refs: &mut Vec<TechniqueRef>, id: String) {
    if !refs.iter().any(|r| r.id == id) {
        refs.push(TechniqueRef::id(id));
    }
}

/// The techniques a rule's `meta:` names, from `(key, value)` pairs in order.
///
/// ```
/// use ruleatlas_yaral::technique_refs_from_meta;
/// let refs = technique_refs_from_meta([
///     ("mitre_attack_technique", "Valid Accounts: Cloud Accounts"),
///     ("mitre_attack_url", "https://attack.mitre.org/techniques/T1078/004/"),
/// ]);
/// assert_eq!(refs[0].id, "T1078.004");
/// assert_eq!(refs[0].name.as_deref(), Some("Valid Accounts: Cloud Accounts"));
/// ```
#[must_use]
pub fn technique_refs_from_meta<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<TechniqueRef> {
    let mut ids: Vec<TechniqueRef> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (key, value) in pairs {
        match classify(key, value) {
            KeyClass::Url => {
                for id in technique_ids_from_url(value) {
                    push_id(&mut ids, id);
                }
            }
            KeyClass::Technique => {
                for part in split_list(value) {
                    if let Some(id) = parse_technique_id(part) {
                        push_id(&mut ids, id);
                    } else if part.to_ascii_lowercase().contains("/techniques/") {
                        for id in technique_ids_from_url(part) {
                            push_id(&mut ids, id);
                        }
                    } else if !names.iter().any(|n| n == part) {
                        names.push(part.to_string());
                    }
                }
            }
            KeyClass::Mixed => {
                for part in split_list(value) {
                    let found = parse_technique_id(part)
                        .map_or_else(|| find_technique_ids(part), |id| vec![id]);
                    for id in found {
                        push_id(&mut ids, id);
                    }
                }
            }
            KeyClass::Tags => {
                for part in attack_tags(value) {
                    if let Some(id) = parse_technique_id(part) {
                        push_id(&mut ids, id);
                    }
                }
            }
            KeyClass::Tactic | KeyClass::Other => {}
        }
    }
    match (ids.len(), names.len()) {
        (_, 0) => ids,
        (0, _) => names
            .into_iter()
            .map(|n| TechniqueRef {
                id: String::new(),
                name: Some(n),
            })
            .collect(),
        (1, 1) => {
            ids[0].name = names.pop();
            ids
        }
        // Ids are authoritative; names that cannot be paired with one are left out.
        _ => ids,
    }
}

/// The tactics a rule's `meta:` names: `TA` ids as written (upper-cased), names as ATT&CK
/// short names, from `tactic`/`mitre_attack_tactic` keys and tactic words in `mitre` lists.
#[must_use]
pub fn tactics_from_meta<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if !out.contains(&t) {
            out.push(t);
        }
    };
    for (key, value) in pairs {
        match classify(key, value) {
            KeyClass::Tactic => {
                for part in split_list(value) {
                    if is_tactic_id(part) {
                        push(part.to_ascii_uppercase());
                    } else if let Some(t) = tactic_short_name(part) {
                        push(t);
                    } else {
                        push(part.to_string());
                    }
                }
            }
            KeyClass::Tags => {
                for part in attack_tags(value) {
                    if let Some(t) = tactic_short_name(part) {
                        push(t);
                    }
                }
            }
            KeyClass::Mixed => {
                for part in split_list(value) {
                    if is_tactic_id(part) {
                        push(part.to_ascii_uppercase());
                    } else if let Some(t) = tactic_short_name(part) {
                        push(t);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(refs: &[TechniqueRef]) -> Vec<String> {
        refs.iter().map(|r| r.id.clone()).collect()
    }

    #[test]
    fn url_shapes() {
        for (url, want) in [
            (
                "https://attack.mitre.org/techniques/T1078/004/",
                "T1078.004",
            ),
            ("https://attack.mitre.org/techniques/T1621", "T1621"),
            ("https://attack.mitre.org/techniques/T1621/", "T1621"),
            (
                "https://attack.mitre.org/versions/v14/techniques/T1562/001/",
                "T1562.001",
            ),
        ] {
            assert_eq!(
                ids(&technique_refs_from_meta([("mitre_attack_url", url)])),
                vec![want],
                "{url}"
            );
        }
    }

    #[test]
    fn technique_and_mitre_lists() {
        let r = technique_refs_from_meta([("technique", "T1003.001"), ("tactic", "TA0006")]);
        assert_eq!(ids(&r), vec!["T1003.001"]);
        let r = technique_refs_from_meta([("mitre", "Execution, t1204, t1059")]);
        assert_eq!(ids(&r), vec!["T1204", "T1059"]);
        let r = technique_refs_from_meta([("mitre", "Execution, t1204, 1059")]);
        assert_eq!(ids(&r), vec!["T1204", "T1059"]);
        let r = technique_refs_from_meta([("mitre", "Impact, attackt1496")]);
        assert_eq!(ids(&r), vec!["T1496"]);
        let r = technique_refs_from_meta([("mitre", "atatck.t1112, atatck.defense_evasion")]);
        assert_eq!(ids(&r), vec!["T1112"]);
        let r = technique_refs_from_meta([("mitre", "car.2013-05-009")]);
        assert!(r.is_empty());
        let r = technique_refs_from_meta([(
            "mitre",
            "CSC4, CSC4.8, GDPR Art 32.1, ISO 27002-2013 A.9.1.1",
        )]);
        assert!(r.is_empty());
        let r = technique_refs_from_meta([("mitre", "collection, t1560.001, exfiltration, t1020")]);
        assert_eq!(ids(&r), vec!["T1560.001", "T1020"]);
    }

    #[test]
    fn names_pair_with_ids_or_stand_alone() {
        let r = technique_refs_from_meta([("mitre_attack_technique", "Valid Accounts")]);
        assert_eq!(
            r,
            vec![TechniqueRef {
                id: String::new(),
                name: Some("Valid Accounts".into())
            }]
        );
        let r = technique_refs_from_meta([("mitre_attack_technique", "T1033")]);
        assert_eq!(ids(&r), vec!["T1033"]);
        let r = technique_refs_from_meta([
            (
                "mitre_attack_technique",
                "Multi-Factor Authentication Request Generation",
            ),
            (
                "mitre_attack_url",
                "https://attack.mitre.org/techniques/T1621/",
            ),
            ("mitre_attack_version", "v13.1"),
        ]);
        assert_eq!(r[0].id, "T1621");
        assert_eq!(
            r[0].name.as_deref(),
            Some("Multi-Factor Authentication Request Generation")
        );
        assert_eq!(r.len(), 1);
        // Unrelated keys are ignored.
        assert!(
            technique_refs_from_meta([("reference", "t1234 is not here"), ("author", "x")])
                .is_empty()
        );
    }

    #[test]
    fn tactics() {
        let t = tactics_from_meta([
            ("tactic", "TA0006"),
            ("mitre_attack_tactic", "Credential Access, Defense Evasion"),
            ("mitre", "command&control, T1105, Defense_Evasion, tool.x"),
        ]);
        assert_eq!(
            t,
            vec![
                "TA0006",
                "credential-access",
                "defense-evasion",
                "command-and-control"
            ]
        );
    }

    #[test]
    fn sigma_style_tags() {
        let pairs = [("tags", "attack.t1059.001, attack.execution, impact, vt")];
        assert_eq!(ids(&technique_refs_from_meta(pairs)), vec!["T1059.001"]);
        assert_eq!(tactics_from_meta(pairs), vec!["execution"]);
        assert!(technique_refs_from_meta([("tags", "vt, tor")]).is_empty());
        assert!(tactics_from_meta([("tags", "impact, collection")]).is_empty());
    }
}
