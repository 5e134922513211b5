//! Writing a catalog atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ruleatlas_attack::Attack;
use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_loader::LoadedRule;
use ruleatlas_model::Vendor;
use rusqlite::{Connection, params};

use crate::CatalogError;
use crate::schema::{DDL, SCHEMA_VERSION};

/// What a build hands to the catalog.
pub struct BuildInput<'a> {
    pub rules: &'a [LoadedRule],
    /// Diagnostics that belong to no rule.
    pub diagnostics: &'a [(Vendor, Diagnostic)],
    pub files: &'a BTreeMap<Vendor, usize>,
    pub attack: &'a Attack,
    pub build_seconds: f64,
    /// Source descriptions (`sigma=/path@commit`).
    pub sources: Vec<String>,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "catalog".into(), |n| n.to_string_lossy().into_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    target.with_file_name(format!(".{name}.tmp-{}-{nanos}", std::process::id()))
}

/// Writes the catalog to `target` atomically: a temporary file in the same folder, fsynced,
/// then renamed over `target`. On error the temporary file is removed and `target` is left
/// as it was.
///
/// # Errors
/// Database or file errors.
pub fn write_catalog(target: &Path, input: &BuildInput<'_>) -> Result<(), CatalogError> {
    remove_stale_temp_files(target);
    let tmp = temp_path(target);
    let result = write_to(&tmp, input).and_then(|()| {
        let f = std::fs::File::open(&tmp)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, target)?;
        if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes temporary catalogs left by builds that were killed (their process is gone).
/// A temporary file of a build still running is left alone.
fn remove_stale_temp_files(target: &Path) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether a process exists. Where that cannot be told (no `/proc`), assume it does.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

fn write_to(path: &Path, input: &BuildInput<'_>) -> Result<(), CatalogError> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF;",
    )?;
    conn.execute_batch(DDL)?;
    let tx = conn.transaction()?;
    {
        let mut meta = tx.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
        meta.execute(params!["schema_version", SCHEMA_VERSION.to_string()])?;
        meta.execute(params![
            "build_seconds",
            format!("{:.3}", input.build_seconds)
        ])?;
        meta.execute(params!["ruleatlas_version", env!("CARGO_PKG_VERSION")])?;
        meta.execute(params!["sources", json(&input.sources)])?;
        meta.execute(params!["attack", json(&input.attack.sources)])?;
        let built = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        meta.execute(params!["built_at_unix", built.to_string()])?;

        let mut vendors =
            tx.prepare("INSERT INTO vendors (vendor, files, diagnostics) VALUES (?1, ?2, ?3)")?;
        for v in Vendor::ALL {
            let Some(files) = input.files.get(&v) else {
                continue;
            };
            let rule_diags: usize = input
                .rules
                .iter()
                .filter(|r| r.doc.vendor == v)
                .map(|r| r.doc.lowered.diagnostics.len())
                .sum();
            let other = input.diagnostics.iter().filter(|(dv, _)| *dv == v).count();
            vendors.execute(params![v.key(), *files as i64, (rule_diags + other) as i64])?;
        }

        let mut rule_stmt = tx.prepare(
            "INSERT INTO rules (id, vendor, native_id, kind, title, description, path, source, git_commit, severity,
             rule_status, language, query, status, deprecated, enabled, building_block, platforms, domains,
             raw_platforms, raw_domains, logsource, tactics, false_positives, refs, authors, links, tests, extra, tree)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
             ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)",
        )?;
        let mut tech_stmt = tx.prepare(
            "INSERT OR IGNORE INTO rule_techniques (rule_id, technique_id, name, known, revoked_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut pred_stmt = tx.prepare(
            "INSERT INTO predicates (rule_id, idx, field, raw_field, op, vals, case_sensitive, negated, exclusion, kind,
             computed, context, origin_path, origin_line, origin_column)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        let mut unp_stmt = tx.prepare(
            "INSERT INTO unparsed (rule_id, idx, text, reason, origin_path, origin_line, origin_column)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut diag_stmt = tx.prepare(
            "INSERT INTO diagnostics (rule_id, vendor, severity, code, message, path, line, col)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for r in input.rules {
            let d = &r.doc;
            rule_stmt.execute(params![
                r.id,
                d.vendor.key(),
                d.native_id,
                d.kind.as_str(),
                d.title,
                d.description,
                d.path,
                r.source,
                r.commit,
                d.severity,
                d.rule_status,
                d.language,
                d.query,
                d.status.as_str(),
                d.deprecated,
                d.enabled,
                d.building_block,
                json(&d.platforms),
                json(&d.domains),
                json(&d.raw_platforms),
                json(&d.raw_domains),
                json(&d.logsource),
                json(&d.tactics),
                json(&d.false_positives),
                json(&d.references),
                json(&d.authors),
                json(&d.links),
                json(&d.tests),
                json(&d.extra),
                json(&d.lowered.tree),
            ])?;
            for t in &r.techniques {
                tech_stmt.execute(params![r.id, t.id, t.name, t.known, t.revoked_by])?;
            }
            for (i, p) in d.lowered.predicates.iter().enumerate() {
                let o = p.origin.as_ref();
                pred_stmt.execute(params![
                    r.id,
                    i as i64,
                    p.field,
                    p.raw_field,
                    p.op.as_str(),
                    json(&p.values),
                    p.case_sensitive,
                    p.negated,
                    p.exclusion,
                    p.kind.as_str(),
                    p.computed,
                    json(&p.context),
                    o.map(|o| o.path.as_str()),
                    o.map(|o| i64::from(o.line)),
                    o.map(|o| i64::from(o.column)),
                ])?;
            }
            for (i, u) in d.lowered.unparsed.iter().enumerate() {
                let o = u.origin.as_ref();
                unp_stmt.execute(params![
                    r.id,
                    i as i64,
                    u.text,
                    u.reason,
                    o.map(|o| o.path.as_str()),
                    o.map(|o| i64::from(o.line)),
                    o.map(|o| i64::from(o.column)),
                ])?;
            }
            for dg in &d.lowered.diagnostics {
                insert_diag(&mut diag_stmt, Some(&r.id), d.vendor, dg)?;
            }
        }
        for (v, dg) in input.diagnostics {
            insert_diag(&mut diag_stmt, None, *v, dg)?;
        }
        write_techniques(&tx, input)?;
    }
    tx.commit()?;
    conn.close().map_err(|(_, e)| CatalogError::Sqlite(e))?;
    Ok(())
}

fn insert_diag(
    stmt: &mut rusqlite::Statement<'_>,
    rule_id: Option<&str>,
    vendor: Vendor,
    d: &Diagnostic,
) -> Result<(), CatalogError> {
    let sev = match d.severity {
        ruleatlas_diagnostics::Severity::Error => "error",
        ruleatlas_diagnostics::Severity::Warning => "warning",
        ruleatlas_diagnostics::Severity::Info => "info",
    };
    stmt.execute(params![
        rule_id,
        vendor.key(),
        sev,
        d.code,
        d.message,
        d.path,
        d.line,
        d.column
    ])?;
    Ok(())
}

/// Techniques: every one of the bundles, plus ids rules cite that the bundles lack
/// (`known = 0`, named from rule metadata, placed under the tactics those rules state).
fn write_techniques(
    tx: &rusqlite::Transaction<'_>,
    input: &BuildInput<'_>,
) -> Result<(), CatalogError> {
    let mut stmt = tx.prepare(
        "INSERT OR REPLACE INTO techniques (id, name, description, tactics, platforms, domains, parent, revoked_by,
         revoked, deprecated, known, detection_strategies, url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for t in input.attack.techniques.values() {
        stmt.execute(params![
            t.id,
            t.name,
            t.description,
            json(&t.tactics),
            json(&t.platforms),
            json(&t.domains),
            t.parent,
            t.revoked_by,
            t.revoked,
            t.deprecated,
            true,
            json(&t.detection_strategies),
            t.url,
        ])?;
    }
    // Unknown ids: name and tactics from the rules that cite them.
    let mut unknown: BTreeMap<&str, (Option<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for r in input.rules {
        for t in r.techniques.iter().filter(|t| !t.known) {
            let e = unknown
                .entry(t.id.as_str())
                .or_insert((None, BTreeSet::new()));
            if e.0.is_none() {
                e.0 = t.name.as_deref();
            }
            e.1.extend(r.doc.tactics.iter().map(String::as_str));
        }
    }
    let empty: Vec<String> = Vec::new();
    for (id, (name, tactics)) in &unknown {
        let parent = id.split_once('.').map(|(p, _)| p);
        stmt.execute(params![
            id,
            name.unwrap_or(""),
            "",
            json(&tactics),
            json(&empty),
            json(&empty),
            parent,
            Option::<String>::None,
            false,
            false,
            false,
            json(&empty),
            Option::<String>::None,
        ])?;
    }
    let mut tac = tx.prepare("INSERT INTO tactics (ord, id, shortname, name, domain, known) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    let mut ord = 0i64;
    for t in &input.attack.tactics {
        tac.execute(params![ord, t.id, t.shortname, t.name, t.domain, true])?;
        ord += 1;
    }
    // Tactics rules cite that the bundles lack (ATT&CK v19 `stealth`, `defense-impairment`).
    let known: BTreeSet<&str> = input
        .attack
        .tactics
        .iter()
        .map(|t| t.shortname.as_str())
        .collect();
    let cited: BTreeSet<&str> = input
        .rules
        .iter()
        .flat_map(|r| r.doc.tactics.iter().map(String::as_str))
        .filter(|t| !known.contains(t) && !t.is_empty())
        .collect();
    for t in cited {
        let name = t
            .split(['-', '_'])
            .map(capitalize)
            .collect::<Vec<_>>()
            .join(" ");
        tac.execute(params![ord, "", t, name, "enterprise-attack", false])?;
        ord += 1;
    }
    Ok(())
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}
