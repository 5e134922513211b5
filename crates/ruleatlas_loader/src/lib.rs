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
use std::sync::Mutex;
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

/// What a streaming load does with each rule as soon as its file is read (see
/// [`load_all_streaming`]).
pub struct Stream<'a> {
    /// Finishes a copy of the rule before it is emitted (field normalization). The rules of
    /// the report are left as [`load_all`] leaves them.
    pub prepare: &'a (dyn Fn(&mut RuleDoc) + Sync),
    /// Receives each finished rule under a provisional id, from the loading threads. A rule
    /// emitted and not withdrawn (see [`Revisions`]) is, field for field, the report's rule
    /// with `prepare` applied.
    pub emit: &'a (dyn Fn(LoadedRule) + Sync),
}

/// What a streaming load emitted that no longer holds once every file is read.
#[derive(Debug, Default)]
pub struct Revisions {
    /// Ids emitted earlier to take back: their rule changed when linked, or its final id is
    /// not the provisional one.
    pub withdrawn: Vec<String>,
    /// Indexes into [`LoadReport::rules`] of the rules to emit (again): changed, renamed,
    /// or never emitted because another rule held their provisional id.
    pub emit: Vec<usize>,
}

/// One document as a loading thread leaves it.
struct Loaded {
    doc: RuleDoc,
    techniques: Vec<ResolvedTechnique>,
    /// The provisional id it was emitted under, if it was.
    emitted_as: Option<String>,
}

/// The streaming side of one load: provisional ids already taken, across sources.
struct Emitter<'a> {
    stream: &'a Stream<'a>,
    claimed: Mutex<HashSet<String>>,
}

/// Loads one source with a fresh adapter: its report (without rules), its documents, and
/// the indexes of those linking changed.
fn load_source(
    source: &Source,
    factory: &AdapterFactory,
    attack: &Attack,
    progress: &(dyn Fn(Progress) + Sync),
    emitter: Option<&Emitter<'_>>,
) -> (LoadReport, Vec<Loaded>, Vec<usize>) {
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
    let source_label = source.root.to_string_lossy().into_owned();
    let results: Vec<(Vec<Loaded>, Vec<Diagnostic>)> = rule_files
        .par_iter()
        .map(|(rel, path)| {
            let (docs, diags) = match read_text(path) {
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
            let loaded = docs
                .into_iter()
                .map(|mut doc| {
                    for dg in &mut doc.lowered.diagnostics {
                        if dg.path.is_none() {
                            dg.path = Some(doc.path.clone());
                        }
                    }
                    doc.tactics = normalize_tactics(&doc.tactics, attack);
                    let techniques = resolve_techniques(&doc, attack);
                    let emitted_as = emitter.and_then(|em| {
                        let id = base_id(&doc);
                        let fresh = em.claimed.lock().is_ok_and(|mut c| c.insert(id.clone()));
                        if !fresh {
                            return None;
                        }
                        let mut rule = LoadedRule {
                            id,
                            doc: doc.clone(),
                            source: source_label.clone(),
                            commit: source.commit.clone(),
                            techniques: techniques.clone(),
                        };
                        (em.stream.prepare)(&mut rule.doc);
                        let emitted = rule.id.clone();
                        (em.stream.emit)(rule);
                        Some(emitted)
                    });
                    Loaded {
                        doc,
                        techniques,
                        emitted_as,
                    }
                })
                .collect();
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(Progress::Loaded {
                vendor,
                done: n,
                total,
            });
            (loaded, diags)
        })
        .collect();
    let count = results.iter().map(|r| r.0.len()).sum();
    let mut docs: Vec<RuleDoc> = Vec::with_capacity(count);
    let mut rest: Vec<(Vec<ResolvedTechnique>, Option<String>)> = Vec::with_capacity(count);
    let mut diagnostics: Vec<(Vendor, Diagnostic)> =
        walk_diags.into_iter().map(|d| (vendor, d)).collect();
    for (l, diags) in results {
        for one in l {
            docs.push(one.doc);
            rest.push((one.techniques, one.emitted_as));
        }
        diagnostics.extend(diags.into_iter().map(|d| (vendor, d)));
    }
    let linked = adapter.link(&mut docs);
    diagnostics.extend(linked.diagnostics.into_iter().map(|d| (vendor, d)));
    let loaded = docs
        .into_iter()
        .zip(rest)
        .map(|(doc, (techniques, emitted_as))| Loaded {
            doc,
            techniques,
            emitted_as,
        })
        .collect();
    let mut files_count = BTreeMap::new();
    files_count.insert(vendor, files.len());
    let report = LoadReport {
        rules: Vec::new(),
        diagnostics,
        files: files_count,
    };
    (report, loaded, linked.changed)
}

/// `<vendor>:<native id>`, or `<vendor>:<path>` for a rule without an id.
fn base_id(doc: &RuleDoc) -> String {
    let native = doc
        .native_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&doc.path);
    format!("{}:{}", doc.vendor.key(), native)
}

fn load(
    sources: &[Source],
    factory: &AdapterFactory,
    attack: &Attack,
    progress: &(dyn Fn(Progress) + Sync),
    emitter: Option<&Emitter<'_>>,
) -> (LoadReport, Revisions) {
    let mut report = LoadReport::default();
    let mut emitted: Vec<Option<String>> = Vec::new();
    let mut changed: Vec<bool> = Vec::new();
    for s in sources {
        let (r, loaded, linked) = load_source(s, factory, attack, progress, emitter);
        let offset = report.rules.len();
        let source_label = s.root.to_string_lossy().into_owned();
        changed.resize(offset + loaded.len(), false);
        for i in linked {
            if let Some(c) = changed.get_mut(offset + i) {
                *c = true;
            }
        }
        for l in loaded {
            emitted.push(l.emitted_as);
            report.rules.push(LoadedRule {
                id: String::new(),
                doc: l.doc,
                source: source_label.clone(),
                commit: s.commit.clone(),
                techniques: l.techniques,
            });
        }
        report.diagnostics.extend(r.diagnostics);
        for (v, n) in r.files {
            *report.files.entry(v).or_default() += n;
        }
    }
    assign_ids(&mut report.rules);
    let mut revisions = Revisions::default();
    if emitter.is_some() {
        for (i, r) in report.rules.iter().enumerate() {
            let current = emitted[i].as_deref() == Some(r.id.as_str()) && !changed[i];
            if !current {
                if let Some(e) = emitted[i].take() {
                    revisions.withdrawn.push(e);
                }
                revisions.emit.push(i);
            }
        }
    }
    (report, revisions)
}

/// Loads every source, assigns ids and resolves ATT&CK (with an empty [`Attack`] when no
/// bundles were given: names then come from rule metadata).
pub fn load_all(
    sources: &[Source],
    factory: &AdapterFactory,
    attack: &Attack,
    progress: &(dyn Fn(Progress) + Sync),
) -> LoadReport {
    load(sources, factory, attack, progress, None).0
}

/// Like [`load_all`], and also hands each rule to `stream.emit` as soon as its file is read,
/// finished by `stream.prepare`, under a provisional id (`<vendor>:<native id>`), so that a
/// catalog can be written while the other files are still being read. Linking and final ids
/// come once every file is read; the [`Revisions`] say which emitted rules to take back and
/// which rules to emit (again) for the result to be exactly the report's rules.
pub fn load_all_streaming(
    sources: &[Source],
    factory: &AdapterFactory,
    attack: &Attack,
    progress: &(dyn Fn(Progress) + Sync),
    stream: &Stream<'_>,
) -> (LoadReport, Revisions) {
    let emitter = Emitter {
        stream,
        claimed: Mutex::new(HashSet::new()),
    };
    load(sources, factory, attack, progress, Some(&emitter))
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
        let base = base_id(&rules[i].doc);
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            first_path.insert(base.clone(), rules[i].doc.path.clone());
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
