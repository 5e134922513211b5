//! Reading rule repositories.
//!
//! The loader is where I/O happens: it walks each source folder, reads files with bounded
//! sizes (a broken, binary, oversized or unreadable rule file becomes a `failed` rule with a
//! diagnostic, never a panic), hands support files to the vendor's [`VendorAdapter`], loads
//! rule files in parallel, links them, assigns `<vendor>:<id>` ids (later duplicates get `~2`,
//! `~3`...) and resolves ATT&CK technique references.

mod read;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use ruleatlas_attack::{Attack, normalize_technique_id};
use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{FileRole, RuleDoc, Support, Vendor, VendorAdapter};
use serde::{Deserialize, Serialize};

pub use read::{ReadError, read_text};

/// One repository (or folder) of one vendor's rules.
#[derive(Debug, Clone)]
pub struct Source {
    pub vendor: Vendor,
    pub root: PathBuf,
    /// The commit the files were read at, when the source is a git checkout.
    pub commit: Option<String>,
    /// Only these files (relative paths) are loaded as rules; support files are still read
    /// from the whole tree (used by `check`).
    pub only: Option<HashSet<String>>,
}

impl Source {
    #[must_use]
    pub fn new(vendor: Vendor, root: impl Into<PathBuf>) -> Self {
        Self {
            vendor,
            root: root.into(),
            commit: None,
            only: None,
        }
    }
}

/// Makes a fresh adapter for a vendor (each source gets its own: macro tables differ).
pub type AdapterFactory = dyn Fn(Vendor) -> Box<dyn VendorAdapter> + Sync;

/// A technique a rule belongs to, after ATT&CK resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedTechnique {
    pub id: String,
    /// The name the rule states, or ATT&CK's.
    pub name: Option<String>,
    /// Whether the loaded ATT&CK version knows the id (always `false` without bundles).
    pub known: bool,
    /// The replacement of a revoked id.
    pub revoked_by: Option<String>,
}

/// A rule with its final id.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    pub id: String,
    pub doc: RuleDoc,
    /// The source root it came from (display).
    pub source: String,
    pub commit: Option<String>,
    pub techniques: Vec<ResolvedTechnique>,
}

/// Per-vendor file counts and the diagnostics that belong to no rule.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub rules: Vec<LoadedRule>,
    /// Diagnostics not attached to a rule (non-rule files, walk errors, link problems).
    pub diagnostics: Vec<(Vendor, Diagnostic)>,
    /// Files looked at per vendor (rules and support).
    pub files: BTreeMap<Vendor, usize>,
}

/// Progress of a load, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// A vendor's rule files were listed: `total` files to load.
    Listed { vendor: Vendor, total: usize },
    /// One more rule file loaded.
    Loaded {
        vendor: Vendor,
        done: usize,
        total: usize,
    },
}

fn rel_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Lists files under `root` (sorted, symlinks followed, loops reported).
fn list_files(root: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if root.is_file() {
        out.push(root.to_path_buf());
        return out;
    }
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(true)
        .follow_links(true)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build();
    for entry in walker {
        match entry {
            Ok(e) => {
                if e.file_type().is_some_and(|t| !t.is_dir()) {
                    out.push(e.into_path());
                }
            }
            Err(err) => {
                let msg = err.to_string();
                let path = match &err {
                    ignore::Error::WithPath { path, .. } => Some(rel_path(root, path)),
                    _ => None,
                };
                let code = if msg.contains("loop") {
                    "symlink-loop"
                } else {
                    "walk"
                };
                let mut d = Diagnostic::error(code, msg);
                if let Some(p) = path {
                    d = d.with_path(p);
                }
                diags.push(d);
            }
        }
    }
    out
}

/// Loads one source with a fresh adapter.
pub fn load_source(
    source: &Source,
    factory: &AdapterFactory,
    progress: &(dyn Fn(Progress) + Sync),
) -> LoadReport {
    let vendor = source.vendor;
    let mut adapter = factory(vendor);
    let mut walk_diags = Vec::new();
    let files = list_files(&source.root, &mut walk_diags);
    let root: &Path = if source.root.is_file() {
        source.root.parent().unwrap_or(Path::new(""))
    } else {
        &source.root
    };

    let mut support = Support::default();
    let mut rule_files = Vec::new();
    for path in &files {
        let rel = rel_path(root, path);
        match adapter.role(&rel) {
            FileRole::Support => match read_text(path) {
                Ok(text) => {
                    support.files.insert(rel, text);
                }
                Err(e) => walk_diags.push(e.into_diagnostic(&rel)),
            },
            FileRole::Rule => {
                if source.only.as_ref().is_none_or(|only| only.contains(&rel)) {
                    rule_files.push((rel, path.clone()));
                }
            }
            FileRole::Ignore => {}
        }
    }
    // `check` may name a file the adapter would not pick by path: load it anyway.
    if let Some(only) = &source.only {
        for rel in only {
            if !rule_files.iter().any(|(r, _)| r == rel) {
                rule_files.push((rel.clone(), root.join(rel)));
            }
        }
    }
    walk_diags.extend(adapter.prepare(&support));
    let adapter = adapter;
    let total = rule_files.len();
    progress(Progress::Listed { vendor, total });
    let done = AtomicUsize::new(0);
    let results: Vec<(Vec<RuleDoc>, Vec<Diagnostic>)> = rule_files
        .par_iter()
        .map(|(rel, path)| {
            let out = match read_text(path) {
                Ok(text) => {
                    // An adapter bug must not take the whole build down.
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        adapter.load(rel, &text)
                    })) {
                        Ok(r) => r,
                        Err(_) => (
                            vec![RuleDoc::failed(
                                vendor,
                                rel.clone(),
                                Diagnostic::error(
                                    "internal",
                                    "the reader crashed on this file (a bug: please report it)",
                                ),
                            )],
                            Vec::new(),
                        ),
                    }
                }
                Err(e) => (
                    vec![RuleDoc::failed(vendor, rel.clone(), e.into_diagnostic(rel))],
                    Vec::new(),
                ),
            };
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(Progress::Loaded {
                vendor,
                done: n,
                total,
            });
            out
        })
        .collect();
    let mut docs = Vec::new();
    let mut diagnostics: Vec<(Vendor, Diagnostic)> =
        walk_diags.into_iter().map(|d| (vendor, d)).collect();
    for (mut d, diags) in results {
        for doc in &mut d {
            for dg in &mut doc.lowered.diagnostics {
                if dg.path.is_none() {
                    dg.path = Some(doc.path.clone());
                }
            }
        }
        docs.extend(d);
        diagnostics.extend(diags.into_iter().map(|d| (vendor, d)));
    }
    diagnostics.extend(adapter.link(&mut docs).into_iter().map(|d| (vendor, d)));
    let source_label = source.root.to_string_lossy().into_owned();
    let rules = docs
        .into_iter()
        .map(|doc| LoadedRule {
            id: String::new(),
            doc,
            source: source_label.clone(),
            commit: source.commit.clone(),
            techniques: Vec::new(),
        })
        .collect();
    let mut files_count = BTreeMap::new();
    files_count.insert(vendor, files.len());
    LoadReport {
        rules,
        diagnostics,
        files: files_count,
    }
}

/// Loads every source, assigns ids and resolves ATT&CK (with an empty [`Attack`] when no
/// bundles were given: names then come from rule metadata).
pub fn load_all(
    sources: &[Source],
    factory: &AdapterFactory,
    attack: &Attack,
    progress: &(dyn Fn(Progress) + Sync),
) -> LoadReport {
    let mut report = LoadReport::default();
    for s in sources {
        let r = load_source(s, factory, progress);
        report.rules.extend(r.rules);
        report.diagnostics.extend(r.diagnostics);
        for (v, n) in r.files {
            *report.files.entry(v).or_default() += n;
        }
    }
    assign_ids(&mut report.rules);
    for r in &mut report.rules {
        r.techniques = resolve_techniques(&r.doc, attack);
        r.doc.tactics = normalize_tactics(&r.doc.tactics, attack);
    }
    report
}

/// Tactics as ATT&CK short names: `Credential Access`, `credential_access`,
/// `CredentialAccess` and `TA0006` all become `credential-access`.
#[must_use]
pub fn normalize_tactics(raw: &[String], attack: &Attack) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        let short = if let Some(s) = attack.tactic_shortname(t) {
            s.to_string()
        } else if t.len() == 6 && t[..2].eq_ignore_ascii_case("TA") {
            // A tactic id the bundles do not have: keep it as written.
            t.to_uppercase()
        } else {
            let mut s = String::new();
            let mut prev_lower = false;
            for c in t.chars() {
                if c.is_uppercase() && prev_lower {
                    s.push('-');
                }
                prev_lower = c.is_lowercase() || c.is_ascii_digit();
                if c == ' ' || c == '_' || c == '-' {
                    if !s.ends_with('-') {
                        s.push('-');
                    }
                    prev_lower = false;
                } else {
                    s.extend(c.to_lowercase());
                }
            }
            s.trim_matches('-').to_string()
        };
        if !out.contains(&short) {
            out.push(short);
        }
    }
    out
}

/// `<vendor>:<native id>`; a rule without an id uses its path. Later duplicates (in path
/// order within a vendor) become `<id>~2`, `~3`..., each with a warning on the rule.
pub fn assign_ids(rules: &mut [LoadedRule]) {
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by(|&a, &b| {
        (rules[a].doc.vendor, &rules[a].source, &rules[a].doc.path).cmp(&(
            rules[b].doc.vendor,
            &rules[b].source,
            &rules[b].doc.path,
        ))
    });
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut first_path: HashMap<String, String> = HashMap::new();
    for i in order {
        let doc = &rules[i].doc;
        let native = doc
            .native_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map_or_else(|| doc.path.clone(), str::to_string);
        let base = format!("{}:{}", doc.vendor.key(), native);
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            first_path.insert(base.clone(), doc.path.clone());
            rules[i].id = base;
        } else {
            let id = format!("{base}~{n}");
            let first = first_path.get(&base).cloned().unwrap_or_default();
            let path = rules[i].doc.path.clone();
            rules[i].doc.lowered.diagnostics.push(
                Diagnostic::warning(
                    "duplicate-id",
                    format!("id {base} is also used by {first}; this rule is {id}"),
                )
                .with_path(path),
            );
            rules[i].id = id;
        }
    }
}

/// Resolves a rule's technique references: ids as written (upper-cased), names looked up in
/// ATT&CK for name-only references, unknown ids kept and flagged, revoked ids with their
/// replacement.
#[must_use]
pub fn resolve_techniques(doc: &RuleDoc, attack: &Attack) -> Vec<ResolvedTechnique> {
    let mut out: Vec<ResolvedTechnique> = Vec::new();
    for t in &doc.techniques {
        let id = if t.id.trim().is_empty() {
            // A name-only reference ("Valid Accounts: Cloud Accounts").
            match t.name.as_deref().and_then(|n| attack.find_by_name(n)) {
                Some(found) => found.id.clone(),
                None => continue,
            }
        } else {
            match normalize_technique_id(&t.id) {
                Some(id) => id,
                None => continue,
            }
        };
        if out.iter().any(|r| r.id == id) {
            continue;
        }
        let known = attack.technique(&id);
        out.push(ResolvedTechnique {
            name: known.map(|k| k.name.clone()).or_else(|| t.name.clone()),
            known: known.is_some(),
            revoked_by: known.and_then(|k| k.revoked_by.clone()),
            id,
        });
    }
    out
}

#[cfg(test)]
mod tests;
