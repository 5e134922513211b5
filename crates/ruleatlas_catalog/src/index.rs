//! The catalog in memory.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use ruleatlas_attack::{DetectionStrategy, Tactic};
use ruleatlas_diagnostics::{Diagnostic, Severity};
use ruleatlas_loader::ResolvedTechnique;
use ruleatlas_model::{
    Condition, Lowered, Op, Origin, ParseStatus, Predicate, PredicateKind, RuleDoc, RuleKind,
    Unparsed, Vendor,
};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::CatalogError;
use crate::guide::Reach;
use crate::schema::SCHEMA_VERSION;

/// A rule as the catalog holds it.
#[derive(Debug, Clone)]
pub struct IndexedRule {
    pub id: String,
    pub source: String,
    pub commit: Option<String>,
    pub doc: RuleDoc,
    pub techniques: Vec<ResolvedTechnique>,
}

impl IndexedRule {
    /// Counted in guides and coverage (CONTRACT "What counts as a rule").
    #[must_use]
    pub fn is_counted(&self, include_hunts: bool) -> bool {
        !self.doc.deprecated
            && (self.doc.kind == RuleKind::Rule
                || (include_hunts && self.doc.kind == RuleKind::Hunt))
    }
}

/// A technique row (from ATT&CK, or cited by rules and unknown to the loaded version).
#[derive(Debug, Clone, Serialize)]
pub struct TechniqueRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tactics: Vec<String>,
    pub platforms: Vec<String>,
    pub parent: Option<String>,
    pub revoked_by: Option<String>,
    pub revoked: bool,
    pub deprecated: bool,
    pub known: bool,
    pub detection_strategies: Vec<DetectionStrategy>,
    pub url: Option<String>,
}

/// Everything in a catalog, loaded once.
#[derive(Debug, Default)]
pub struct Index {
    /// Sorted by id.
    pub rules: Vec<IndexedRule>,
    pub by_id: HashMap<String, usize>,
    pub techniques: BTreeMap<String, TechniqueRow>,
    /// Tactics in matrix order, with `known = false` for ids newer than the bundles.
    pub tactics: Vec<(Tactic, bool)>,
    pub meta: BTreeMap<String, String>,
    /// Files per vendor.
    pub files: BTreeMap<Vendor, usize>,
    /// Diagnostics that belong to no rule.
    pub other_diagnostics: Vec<(Vendor, Diagnostic)>,
    reach_rules: OnceLock<Reach>,
    reach_with_hunts: OnceLock<Reach>,
}

fn parse_json<T: DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

fn severity(s: &str) -> Severity {
    match s {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

impl Index {
    /// Opens a catalog read-only and loads it.
    ///
    /// # Errors
    /// A missing file, another schema version, or a database error.
    pub fn open(path: &Path) -> Result<Index, CatalogError> {
        if !path.is_file() {
            return Err(CatalogError::NotACatalog(format!(
                "{} does not exist (run `ruleatlas build` first)",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mut index = Index::default();
        {
            let mut stmt = conn.prepare("SELECT key, value FROM meta").map_err(|_| {
                CatalogError::NotACatalog(format!("{} has no meta table", path.display()))
            })?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (k, v) = row?;
                index.meta.insert(k, v);
            }
        }
        let version = index
            .meta
            .get("schema_version")
            .and_then(|v| v.parse::<i64>().ok());
        if version != Some(SCHEMA_VERSION) {
            return Err(CatalogError::NotACatalog(format!(
                "schema version {version:?}, this ruleatlas reads version {SCHEMA_VERSION}: rebuild the catalog"
            )));
        }
        index.load_vendors(&conn)?;
        index.load_rules(&conn)?;
        index.load_techniques(&conn)?;
        Ok(index)
    }

    fn load_vendors(&mut self, conn: &Connection) -> Result<(), CatalogError> {
        let mut stmt = conn.prepare("SELECT vendor, files FROM vendors")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (v, n) = row?;
            if let Some(v) = Vendor::parse(&v) {
                self.files.insert(v, usize::try_from(n).unwrap_or(0));
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    fn load_rules(&mut self, conn: &Connection) -> Result<(), CatalogError> {
        let mut stmt = conn.prepare(
            "SELECT id, vendor, native_id, kind, title, description, path, source, git_commit, severity, rule_status,
             language, query, status, deprecated, enabled, building_block, platforms, domains, raw_platforms,
             raw_domains, logsource, tactics, false_positives, refs, authors, links, tests, extra, tree
             FROM rules ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let vendor: String = r.get(1)?;
            let mut doc = RuleDoc::new(
                Vendor::parse(&vendor).unwrap_or(Vendor::Sigma),
                r.get::<_, String>(6)?,
            );
            doc.native_id = r.get(2)?;
            doc.kind = RuleKind::parse(&r.get::<_, String>(3)?).unwrap_or_default();
            doc.title = r.get(4)?;
            doc.description = r.get(5)?;
            doc.severity = r.get(9)?;
            doc.rule_status = r.get(10)?;
            doc.language = r.get(11)?;
            doc.query = r.get(12)?;
            doc.status =
                ParseStatus::parse(&r.get::<_, String>(13)?).unwrap_or(ParseStatus::Failed);
            doc.deprecated = r.get(14)?;
            doc.enabled = r.get(15)?;
            doc.building_block = r.get(16)?;
            doc.platforms = parse_json(&r.get::<_, String>(17)?);
            doc.domains = parse_json(&r.get::<_, String>(18)?);
            doc.raw_platforms = parse_json(&r.get::<_, String>(19)?);
            doc.raw_domains = parse_json(&r.get::<_, String>(20)?);
            doc.logsource = parse_json(&r.get::<_, String>(21)?);
            doc.tactics = parse_json(&r.get::<_, String>(22)?);
            doc.false_positives = parse_json(&r.get::<_, String>(23)?);
            doc.references = parse_json(&r.get::<_, String>(24)?);
            doc.authors = parse_json(&r.get::<_, String>(25)?);
            doc.links = parse_json(&r.get::<_, String>(26)?);
            doc.tests = parse_json(&r.get::<_, String>(27)?);
            doc.extra = parse_json(&r.get::<_, String>(28)?);
            doc.lowered.tree =
                serde_json::from_str(&r.get::<_, String>(29)?).unwrap_or(Condition::Const(true));
            Ok(IndexedRule {
                id: r.get(0)?,
                source: r.get(7)?,
                commit: r.get(8)?,
                doc,
                techniques: Vec::new(),
            })
        })?;
        for row in rows {
            let rule = row?;
            self.by_id.insert(rule.id.clone(), self.rules.len());
            self.rules.push(rule);
        }

        let mut stmt = conn.prepare(
            "SELECT rule_id, field, raw_field, op, vals, case_sensitive, negated, exclusion, kind, computed, context,
             origin_path, origin_line, origin_column FROM predicates ORDER BY rule_id, idx",
        )?;
        let rows = stmt.query_map([], |r| {
            let op = Op::parse(&r.get::<_, String>(3)?).unwrap_or(Op::Match);
            let mut p = Predicate::new(
                r.get::<_, String>(2)?,
                op,
                parse_json(&r.get::<_, String>(4)?),
            );
            p.field = r.get(1)?;
            p.case_sensitive = r.get(5)?;
            p.negated = r.get(6)?;
            p.exclusion = r.get(7)?;
            p.kind = PredicateKind::parse(&r.get::<_, String>(8)?).unwrap_or_default();
            p.computed = r.get(9)?;
            p.context = parse_json(&r.get::<_, String>(10)?);
            p.origin = origin(r.get(11)?, r.get(12)?, r.get(13)?);
            Ok((r.get::<_, String>(0)?, p))
        })?;
        for row in rows {
            let (id, p) = row?;
            if let Some(&i) = self.by_id.get(&id) {
                self.rules[i].doc.lowered.predicates.push(p);
            }
        }

        let mut stmt = conn.prepare(
            "SELECT rule_id, text, reason, origin_path, origin_line, origin_column FROM unparsed ORDER BY rule_id, idx",
        )?;
        let rows = stmt.query_map([], |r| {
            let mut u = Unparsed::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?);
            u.origin = origin(r.get(3)?, r.get(4)?, r.get(5)?);
            Ok((r.get::<_, String>(0)?, u))
        })?;
        for row in rows {
            let (id, u) = row?;
            if let Some(&i) = self.by_id.get(&id) {
                self.rules[i].doc.lowered.unparsed.push(u);
            }
        }

        let mut stmt = conn.prepare(
            "SELECT rule_id, vendor, severity, code, message, path, line, col FROM diagnostics",
        )?;
        let rows = stmt.query_map([], |r| {
            let mut d = Diagnostic::new(
                severity(&r.get::<_, String>(2)?),
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            );
            d.path = r.get(5)?;
            d.line = r.get(6)?;
            d.column = r.get(7)?;
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?, d))
        })?;
        for row in rows {
            let (rule, vendor, d) = row?;
            match rule.and_then(|id| self.by_id.get(&id).copied()) {
                Some(i) => self.rules[i].doc.lowered.diagnostics.push(d),
                None => self
                    .other_diagnostics
                    .push((Vendor::parse(&vendor).unwrap_or(Vendor::Sigma), d)),
            }
        }

        let mut stmt = conn.prepare(
            "SELECT rule_id, technique_id, name, known, revoked_by FROM rule_techniques",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                ResolvedTechnique {
                    id: r.get(1)?,
                    name: r.get(2)?,
                    known: r.get(3)?,
                    revoked_by: r.get(4)?,
                },
            ))
        })?;
        for row in rows {
            let (id, t) = row?;
            if let Some(&i) = self.by_id.get(&id) {
                self.rules[i].techniques.push(t);
            }
        }
        for r in &mut self.rules {
            r.techniques.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Ok(())
    }

    fn load_techniques(&mut self, conn: &Connection) -> Result<(), CatalogError> {
        let mut stmt = conn.prepare(
            "SELECT id, name, description, tactics, platforms, parent, revoked_by, revoked, deprecated, known,
             detection_strategies, url FROM techniques",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TechniqueRow {
                id: r.get(0)?,
                name: r.get(1)?,
                description: r.get(2)?,
                tactics: parse_json(&r.get::<_, String>(3)?),
                platforms: parse_json(&r.get::<_, String>(4)?),
                parent: r.get(5)?,
                revoked_by: r.get(6)?,
                revoked: r.get(7)?,
                deprecated: r.get(8)?,
                known: r.get(9)?,
                detection_strategies: parse_json(&r.get::<_, String>(10)?),
                url: r.get(11)?,
            })
        })?;
        for row in rows {
            let t = row?;
            self.techniques.insert(t.id.clone(), t);
        }
        let mut stmt =
            conn.prepare("SELECT id, shortname, name, domain, known FROM tactics ORDER BY ord")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                Tactic {
                    id: r.get(0)?,
                    shortname: r.get(1)?,
                    name: r.get(2)?,
                    domain: r.get(3)?,
                },
                r.get::<_, bool>(4)?,
            ))
        })?;
        for row in rows {
            self.tactics.push(row?);
        }
        Ok(())
    }

    #[must_use]
    pub fn rule(&self, id: &str) -> Option<&IndexedRule> {
        self.by_id.get(id).map(|&i| &self.rules[i])
    }

    /// The technique, or a row made from rule metadata for an id the catalog does not list.
    #[must_use]
    pub fn technique(&self, id: &str) -> Option<&TechniqueRow> {
        self.techniques.get(id)
    }

    /// Corpus reach over counted rules (with hunts when asked), computed on first use.
    pub fn reach(&self, include_hunts: bool) -> &Reach {
        let cell = if include_hunts {
            &self.reach_with_hunts
        } else {
            &self.reach_rules
        };
        cell.get_or_init(|| Reach::compute(self, include_hunts))
    }

    /// The lowered query of a rule (predicates, unparsed, tree).
    #[must_use]
    pub fn lowered(&self, id: &str) -> Option<&Lowered> {
        self.rule(id).map(|r| &r.doc.lowered)
    }
}

fn origin(path: Option<String>, line: Option<u32>, column: Option<u32>) -> Option<Origin> {
    Some(Origin {
        path: path?,
        line: line.unwrap_or(1),
        column: column.unwrap_or(1),
    })
}
