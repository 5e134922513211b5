//! Field normalization across vendors, and the platform/domain vocabulary.
//!
//! Sigma's `Image`, Elastic's `process.executable`, Splunk's `Processes.process_path` and
//! Defender's `FolderPath` are one concept; a guide that shows them as four rows is four
//! guides glued together. This crate holds the knowledge that makes them one row, as data
//! people can review: `data/fields.toml` (canonical fields and each vendor's names for them)
//! and `data/platforms.toml` (the platform and domain vocabulary, and the *log sources* that
//! both files refer to). Both are embedded in the binary and validated by tests.
//!
//! Why log sources: a raw name often means different things on different logs. Elastic's
//! `event.action` is the CloudTrail API name on `aws.cloudtrail`, the Okta event type on
//! `okta.system`, and the endpoint action elsewhere. A mapping may therefore hold only `on`
//! named sources; a source is a set of per-vendor conditions over the rule's log-source
//! hints (`RuleDoc.logsource`, the raw platforms and domains, and hints read from selector
//! predicates such as `sourcetype=...` or `metadata.product_name = "Okta"`). The same sources
//! give every rule its platforms and domains.
//!
//! Resolution of one raw field, best first: a mapping whose source matches (the most
//! specific clause wins), an unconditional mapping, the raw name itself when it is a
//! canonical (ECS) name, and for Splunk a data-model name without its prefix
//! (`Processes.process_name` as `process_name` with the hint `datamodel = Processes`).
//! Then aliases redirect. Unmapped fields keep their raw name.
//!
//! See `docs/fields.md` and `docs/platforms.md`.

mod error;
mod glob;
mod schema;
mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use ruleatlas_model::{Op, Predicate, RuleDoc, Value, Vendor};

pub use error::TaxonomyError;

const FIELDS_FILE: &str = "fields.toml";
const PLATFORMS_FILE: &str = "platforms.toml";

/// The taxonomy files shipped in the binary.
pub const BUILTIN_FIELDS: &str = include_str!("../data/fields.toml");
pub const BUILTIN_PLATFORMS: &str = include_str!("../data/platforms.toml");

/// A value normalizer a field asks for in indicator keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRule {
    /// Registry hives to their short form (`HKEY_LOCAL_MACHINE\` -> `HKLM\`).
    RegistryPath,
}

/// One vendor name for a canonical field, possibly only on some log sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMapping {
    pub vendor: Vendor,
    pub raw: String,
    /// Source names (from `platforms.toml`) the mapping is limited to; empty = everywhere.
    pub sources: Vec<String>,
}

/// A canonical field: its name, what it means, and every vendor's names for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalField {
    pub name: String,
    pub description: String,
    /// The ECS slot a product-namespaced field occupies (`event.action` for `aws::eventName`).
    pub ecs: Option<String>,
    /// Other names that mean this field everywhere (they redirect here).
    pub aliases: Vec<String>,
    /// The field that holds this path's file name (`process.name` for `process.executable`).
    pub basename: Option<String>,
    pub values: Option<ValueRule>,
    /// Raw names per vendor, sorted, conditional ones included.
    pub raw: BTreeMap<Vendor, Vec<String>>,
    /// Every mapping in file order, with its log-source condition.
    pub mappings: Vec<RawMapping>,
}

/// A named log source: per-vendor conditions, and the platforms/domains it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub name: String,
    pub description: String,
    pub platforms: Vec<String>,
    pub domains: Vec<String>,
    clauses: BTreeMap<Vendor, Vec<Clause>>,
}

/// All of `(key, globs)` must hold; a key holds when any hint value matches any glob.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause(Vec<(String, Vec<String>)>);

#[derive(Debug, Clone)]
struct Rule {
    field: usize,
    /// Indexes into `sources`; empty = unconditional.
    sources: Vec<usize>,
    /// Generated (Windows event data): below every explicit mapping.
    weak: bool,
}

#[derive(Debug, Clone)]
struct Hint {
    vendor: Vendor,
    fields: Vec<String>,
    key: String,
}

/// Raw names per vendor key, as a file writes them.
type VendorNames = BTreeMap<String, Vec<String>>;

/// Log-source hints of one rule (or one YARA-L event), by key.
type Context = BTreeMap<String, Vec<String>>;

/// The field taxonomy and the platform/domain vocabulary.
#[derive(Debug)]
pub struct Taxonomy {
    fields: Vec<CanonicalField>,
    by_name: HashMap<String, usize>,
    /// Alias -> the field it redirects to (chains already followed).
    redirects: HashMap<String, usize>,
    rules: Vec<Rule>,
    index: HashMap<(Vendor, String), Vec<usize>>,
    /// Sigma field names are matched ignoring case (its cloud rules mix `ResultType` and
    /// `resultType`); other languages' names are case-sensitive.
    folded: HashMap<(Vendor, String), Vec<usize>>,
    sources: Vec<LogSource>,
    hints: Vec<Hint>,
    splunk_prefixes: Vec<String>,
    platforms: BTreeMap<String, String>,
    domains: BTreeMap<String, String>,
    /// Fields that some path field names as its `basename`.
    basename_fields: BTreeSet<String>,
}

impl Taxonomy {
    /// The taxonomy embedded in the binary. Tests guarantee the files are valid, so a parse
    /// error here is a build defect and panics.
    #[must_use]
    #[allow(clippy::panic)]
    pub fn builtin() -> &'static Taxonomy {
        static BUILTIN: OnceLock<Taxonomy> = OnceLock::new();
        BUILTIN.get_or_init(
            || match Taxonomy::from_toml(BUILTIN_FIELDS, BUILTIN_PLATFORMS) {
                Ok(t) => t,
                Err(e) => panic!("the builtin taxonomy is invalid: {e}"),
            },
        )
    }

    /// Reads and validates a taxonomy (`fields.toml` text, `platforms.toml` text).
    ///
    /// # Errors
    /// Invalid TOML, an unknown vendor, source, platform or domain, a duplicate or conflicting
    /// mapping, or an alias cycle: the error names the entry.
    pub fn from_toml(fields: &str, platforms: &str) -> Result<Taxonomy, TaxonomyError> {
        let pf: schema::PlatformsFile =
            toml::from_str(platforms).map_err(|e| TaxonomyError::Parse {
                file: PLATFORMS_FILE,
                message: e.to_string(),
            })?;
        let ff: schema::FieldsFile = toml::from_str(fields).map_err(|e| TaxonomyError::Parse {
            file: FIELDS_FILE,
            message: e.to_string(),
        })?;
        let (sources, hints) = build_sources(&pf)?;
        let mut t = Taxonomy {
            fields: Vec::new(),
            by_name: HashMap::new(),
            redirects: HashMap::new(),
            rules: Vec::new(),
            index: HashMap::new(),
            folded: HashMap::new(),
            sources,
            hints,
            splunk_prefixes: ff.splunk_datamodel_prefixes.clone(),
            platforms: pf.platforms,
            domains: pf.domains,
            basename_fields: BTreeSet::new(),
        };
        t.build_fields(&ff)?;
        Ok(t)
    }

    fn build_fields(&mut self, ff: &schema::FieldsFile) -> Result<(), TaxonomyError> {
        let source_ix: HashMap<String, usize> = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        // Pass 1: names.
        for f in &ff.field {
            let entry = format!("field \"{}\"", f.name);
            if f.name.trim().is_empty() {
                return Err(TaxonomyError::invalid(
                    FIELDS_FILE,
                    entry,
                    "empty field name",
                ));
            }
            if self.by_name.contains_key(&f.name) {
                return Err(TaxonomyError::invalid(FIELDS_FILE, entry, "defined twice"));
            }
            self.by_name.insert(f.name.clone(), self.fields.len());
            let values = match f.values.as_deref() {
                None => None,
                Some("registry_path") => Some(ValueRule::RegistryPath),
                Some(other) => {
                    return Err(TaxonomyError::invalid(
                        FIELDS_FILE,
                        entry,
                        format!("unknown value rule \"{other}\" (known: registry_path)"),
                    ));
                }
            };
            self.fields.push(CanonicalField {
                name: f.name.clone(),
                description: f.description.clone(),
                ecs: f.ecs.clone(),
                aliases: f.aliases.clone(),
                basename: f.basename.clone(),
                values,
                raw: BTreeMap::new(),
                mappings: Vec::new(),
            });
        }
        for name in &ff.ecs_fields {
            if self.by_name.contains_key(name) {
                return Err(TaxonomyError::invalid(
                    FIELDS_FILE,
                    format!("ecs_fields \"{name}\""),
                    "listed twice (or also a [[field]])",
                ));
            }
            self.by_name.insert(name.clone(), self.fields.len());
            self.fields.push(CanonicalField {
                name: name.clone(),
                description: "ECS field (no cross-vendor mapping yet)".to_string(),
                ecs: None,
                aliases: Vec::new(),
                basename: None,
                values: None,
                raw: BTreeMap::new(),
                mappings: Vec::new(),
            });
        }
        // Pass 2: basenames and aliases.
        for f in &ff.field {
            let entry = format!("field \"{}\"", f.name);
            if let Some(b) = &f.basename {
                if !self.by_name.contains_key(b) {
                    return Err(TaxonomyError::invalid(
                        FIELDS_FILE,
                        entry,
                        format!("basename \"{b}\" is not a field"),
                    ));
                }
                self.basename_fields.insert(b.clone());
            }
        }
        self.build_redirects(ff)?;
        // Pass 3: mappings.
        let mut seen: HashMap<(Vendor, String, Vec<usize>), usize> = HashMap::new();
        for (fi, f) in ff.field.iter().enumerate() {
            let entry = format!("field \"{}\"", f.name);
            let mut groups: Vec<(Vec<usize>, &VendorNames)> = vec![(Vec::new(), &f.vendors)];
            for on in &f.on {
                let mut ids = Vec::new();
                for s in on.source.to_vec() {
                    let Some(&i) = source_ix.get(&s) else {
                        return Err(TaxonomyError::invalid(
                            FIELDS_FILE,
                            entry,
                            format!("unknown source \"{s}\" (define it in platforms.toml)"),
                        ));
                    };
                    ids.push(i);
                }
                ids.sort_unstable();
                ids.dedup();
                groups.push((ids, &on.vendors));
            }
            for (ids, vendors) in groups {
                for (vkey, names) in vendors {
                    let Some(vendor) = Vendor::parse(vkey).filter(|v| v.key() == vkey) else {
                        return Err(TaxonomyError::invalid(
                            FIELDS_FILE,
                            entry,
                            format!(
                                "unknown vendor \"{vkey}\" (known: sigma elastic splunk kusto yaral panther)"
                            ),
                        ));
                    };
                    for raw in names {
                        let key = (vendor, raw.clone(), ids.clone());
                        if let Some(&other) = seen.get(&key) {
                            let on = self.source_names(&ids).join(", ");
                            let where_ = if on.is_empty() {
                                String::new()
                            } else {
                                format!(" on {on}")
                            };
                            let msg = if other == fi {
                                format!("duplicate mapping {vendor} \"{raw}\"{where_}")
                            } else {
                                format!(
                                    "conflicting mapping: {vendor} \"{raw}\"{where_} is also mapped to \"{}\"",
                                    self.fields[other].name
                                )
                            };
                            return Err(TaxonomyError::invalid(FIELDS_FILE, entry, msg));
                        }
                        seen.insert(key, fi);
                        let rule = self.rules.len();
                        self.rules.push(Rule {
                            field: fi,
                            sources: ids.clone(),
                            weak: false,
                        });
                        self.index
                            .entry((vendor, raw.clone()))
                            .or_default()
                            .push(rule);
                        if vendor == Vendor::Sigma {
                            self.folded
                                .entry((vendor, raw.to_ascii_lowercase()))
                                .or_default()
                                .push(rule);
                        }
                        let names = self.source_names(&ids);
                        let cf = &mut self.fields[fi];
                        cf.mappings.push(RawMapping {
                            vendor,
                            raw: raw.clone(),
                            sources: names,
                        });
                        let list = cf.raw.entry(vendor).or_default();
                        if !list.contains(raw) {
                            list.push(raw.clone());
                            list.sort();
                        }
                    }
                }
            }
        }
        if let Some(ed) = &ff.windows_event_data {
            self.build_event_data(ed, &source_ix)?;
        }
        // A canonical ECS name is Elastic's own name for it.
        for cf in &mut self.fields {
            if !cf.name.contains("::") {
                let list = cf.raw.entry(Vendor::Elastic).or_default();
                if !list.contains(&cf.name) {
                    list.push(cf.name.clone());
                    list.sort();
                }
            }
        }
        Ok(())
    }

    fn build_event_data(
        &mut self,
        ed: &schema::EventDataEntry,
        source_ix: &HashMap<String, usize>,
    ) -> Result<(), TaxonomyError> {
        let Some(&src) = source_ix.get(&ed.source) else {
            return Err(TaxonomyError::invalid(
                FIELDS_FILE,
                "windows_event_data",
                format!("unknown source \"{}\"", ed.source),
            ));
        };
        for n in &ed.names {
            let name = format!("winlog.event_data.{n}");
            let fi = match self.by_name.get(&name) {
                Some(&i) => i,
                None => {
                    self.by_name.insert(name.clone(), self.fields.len());
                    self.fields.push(CanonicalField {
                        name: name.clone(),
                        description: format!("Windows event data `{n}`"),
                        ecs: None,
                        aliases: Vec::new(),
                        basename: None,
                        values: None,
                        raw: BTreeMap::new(),
                        mappings: Vec::new(),
                    });
                    self.fields.len() - 1
                }
            };
            for vendor in [Vendor::Sigma, Vendor::Splunk, Vendor::Kusto] {
                let key = (vendor, n.clone());
                if self
                    .index
                    .get(&key)
                    .is_some_and(|rs| rs.iter().any(|&r| self.rules[r].weak))
                {
                    return Err(TaxonomyError::invalid(
                        FIELDS_FILE,
                        format!("windows_event_data \"{n}\""),
                        "listed twice",
                    ));
                }
                let rule = self.rules.len();
                self.rules.push(Rule {
                    field: fi,
                    sources: vec![src],
                    weak: true,
                });
                self.index.entry(key).or_default().push(rule);
                if vendor == Vendor::Sigma {
                    self.folded
                        .entry((vendor, n.to_ascii_lowercase()))
                        .or_default()
                        .push(rule);
                }
                let cf = &mut self.fields[fi];
                cf.mappings.push(RawMapping {
                    vendor,
                    raw: n.clone(),
                    sources: vec![ed.source.clone()],
                });
                let list = cf.raw.entry(vendor).or_default();
                if !list.contains(n) {
                    list.push(n.clone());
                    list.sort();
                }
            }
        }
        Ok(())
    }

    fn build_redirects(&mut self, ff: &schema::FieldsFile) -> Result<(), TaxonomyError> {
        // alias -> field name it points at (one step).
        let mut step: HashMap<&str, &str> = HashMap::new();
        for f in &ff.field {
            for a in &f.aliases {
                let entry = format!("field \"{}\"", f.name);
                if a == &f.name {
                    return Err(TaxonomyError::invalid(
                        FIELDS_FILE,
                        entry,
                        format!("alias cycle: \"{a}\" -> \"{a}\""),
                    ));
                }
                if let Some(prev) = step.insert(a, &f.name) {
                    return Err(TaxonomyError::invalid(
                        FIELDS_FILE,
                        entry,
                        format!("conflicting alias \"{a}\": also an alias of \"{prev}\""),
                    ));
                }
            }
        }
        let starts: Vec<&str> = ff
            .field
            .iter()
            .flat_map(|f| f.aliases.iter().map(String::as_str))
            .collect();
        for start in starts {
            let mut path = vec![start];
            let mut cur = start;
            while let Some(&next) = step.get(cur) {
                if path.contains(&next) {
                    path.push(next);
                    return Err(TaxonomyError::invalid(
                        FIELDS_FILE,
                        format!("field \"{}\"", step.get(start).copied().unwrap_or(start)),
                        format!(
                            "alias cycle: {}",
                            path.iter()
                                .map(|p| format!("\"{p}\""))
                                .collect::<Vec<_>>()
                                .join(" -> ")
                        ),
                    ));
                }
                path.push(next);
                cur = next;
            }
            if let Some(&target) = self.by_name.get(cur) {
                self.redirects.insert(start.to_string(), target);
            }
        }
        Ok(())
    }

    fn source_names(&self, ids: &[usize]) -> Vec<String> {
        ids.iter()
            .filter_map(|&i| self.sources.get(i))
            .map(|s| s.name.clone())
            .collect()
    }

    /// Every canonical field, in file order (`ruleatlas fields`).
    pub fn fields(&self) -> impl Iterator<Item = &CanonicalField> {
        self.fields.iter()
    }

    /// A canonical field by name (or alias).
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&CanonicalField> {
        self.index_of(name).map(|i| &self.fields[i])
    }

    /// A name's field, following aliases (a field that is another's alias is redirected).
    fn index_of(&self, name: &str) -> Option<usize> {
        self.redirects
            .get(name)
            .or_else(|| self.by_name.get(name))
            .copied()
    }

    /// Whether `name` is a canonical field (or an alias of one).
    #[must_use]
    pub fn is_canonical(&self, name: &str) -> bool {
        self.field(name).is_some()
    }

    /// The platform vocabulary: name -> description.
    #[must_use]
    pub fn platform_vocabulary(&self) -> &BTreeMap<String, String> {
        &self.platforms
    }

    /// The domain vocabulary: name -> description.
    #[must_use]
    pub fn domain_vocabulary(&self) -> &BTreeMap<String, String> {
        &self.domains
    }

    /// The named log sources of `platforms.toml`.
    pub fn sources(&self) -> impl Iterator<Item = &LogSource> {
        self.sources.iter()
    }

    /// The canonical name of `raw_field` as `vendor` writes it on a rule with these log-source
    /// hints; `None` when unmapped (keep the raw name).
    #[must_use]
    pub fn canonical_field(
        &self,
        vendor: Vendor,
        raw_field: &str,
        logsource: &BTreeMap<String, Vec<String>>,
    ) -> Option<&str> {
        let matched = self.match_sources(vendor, logsource);
        self.resolve(vendor, raw_field, logsource, &matched)
            .map(|i| self.fields[i].name.as_str())
    }

    /// Normalizes a rule in place: every predicate's `field` (canonical or raw; fields a
    /// language already namespaced with `::` are only redirected through aliases), a path
    /// predicate that only tests the file name moves to the basename field, and `platforms`
    /// / `domains` are filled (sorted, deduplicated) from the raw values and log sources.
    pub fn normalize(&self, doc: &mut RuleDoc) {
        let vendor = doc.vendor;
        let base = self.context(doc, None);
        let base_matched = self.match_sources(vendor, &base);
        let mut platforms: BTreeSet<String> = doc.platforms.iter().cloned().collect();
        let mut domains: BTreeSet<String> = doc.domains.iter().cloned().collect();
        self.collect_vocabulary(&base_matched, &mut platforms, &mut domains);

        // YARA-L events each read their own log: `$e.metadata.event_type` decides for `$e`.
        let mut per_event: HashMap<String, (Context, Vec<u32>)> = HashMap::new();
        if vendor == Vendor::Yaral {
            let events: BTreeSet<String> = doc
                .lowered
                .predicates
                .iter()
                .filter_map(event_of)
                .map(str::to_string)
                .collect();
            for ev in events {
                let ctx = self.context(doc, Some(&ev));
                let m = self.match_sources(vendor, &ctx);
                self.collect_vocabulary(&m, &mut platforms, &mut domains);
                per_event.insert(ev, (ctx, m));
            }
        }

        for p in &mut doc.lowered.predicates {
            if p.field.contains("::") {
                if let Some(&i) = self.redirects.get(&p.field) {
                    p.field = self.fields[i].name.clone();
                }
                continue;
            }
            let (ctx, matched) = match event_of(p).and_then(|e| per_event.get(e)) {
                Some((c, m)) => (c, m.as_slice()),
                None => (&base, base_matched.as_slice()),
            };
            let raw = if p.raw_field.is_empty() {
                p.field.clone()
            } else {
                p.raw_field.clone()
            };
            p.field = match self.resolve(vendor, &raw, ctx, matched) {
                Some(i) => self.route_basename(i, p),
                None => raw,
            };
        }
        doc.platforms = platforms.into_iter().collect();
        doc.domains = domains.into_iter().collect();
    }

    /// The guide's row key for one value: `(field, op, value)` normalized so vendors meet.
    ///
    /// `in` keys as `eq` (one row per value); a `wildcard` `*x*`/`*x`/`x*` as
    /// contains/ends_with/starts_with `x`; a regex that only tests a literal as the plain op;
    /// a path test on the file name (`ends_with "\x.exe"`) as `eq "x.exe"` on the basename
    /// field; registry hives to their short form; numbers and numeric strings alike; case
    /// folded where the comparison is case-insensitive.
    #[must_use]
    pub fn indicator_key(
        &self,
        field: &str,
        op: Op,
        value: &Value,
        case_sensitive: bool,
    ) -> (String, Op, String) {
        let mut field_ix = self.index_of(field);
        let mut name = field_ix.map_or_else(|| field.to_string(), |i| self.fields[i].name.clone());
        let mut op = if op == Op::In { Op::Eq } else { op };
        let mut text = value.to_text();
        if op == Op::Wildcard
            && let Some((o, t)) = values::simplify_wildcard(&text)
        {
            (op, text) = (o, t);
        }
        if op == Op::RegexMatch
            && let Some((o, t)) = values::literal_regex(&text)
        {
            (op, text) = (o, t);
        }
        if let Some(i) = field_ix {
            let cf = &self.fields[i];
            let target = cf.basename.as_deref().or(self
                .basename_fields
                .contains(&cf.name)
                .then_some(cf.name.as_str()));
            if let Some(target) = target
                && let Some(base) = values::basename_of(op, &Value::Str(text.clone()))
            {
                name = target.to_string();
                field_ix = self.by_name.get(target).copied();
                op = Op::Eq;
                text = base;
            }
        }
        if let Some(i) = field_ix
            && self.fields[i].values == Some(ValueRule::RegistryPath)
        {
            text = values::registry_path(&text);
        }
        if !case_sensitive {
            text = text.to_lowercase();
        }
        (name, op, text)
    }

    /// Platforms and domains a rule would get, without touching it.
    #[must_use]
    pub fn platforms_and_domains(&self, doc: &RuleDoc) -> (Vec<String>, Vec<String>) {
        let ctx = self.context(doc, None);
        let m = self.match_sources(doc.vendor, &ctx);
        let mut p = BTreeSet::new();
        let mut dm = BTreeSet::new();
        self.collect_vocabulary(&m, &mut p, &mut dm);
        (p.into_iter().collect(), dm.into_iter().collect())
    }

    fn collect_vocabulary(
        &self,
        matched: &[u32],
        platforms: &mut BTreeSet<String>,
        domains: &mut BTreeSet<String>,
    ) {
        for (s, &m) in self.sources.iter().zip(matched) {
            if m > 0 {
                platforms.extend(s.platforms.iter().cloned());
                domains.extend(s.domains.iter().cloned());
            }
        }
    }

    /// The hints of a rule (or of one YARA-L event): the adapter's `logsource`, raw platforms
    /// (`platform`) and domains (`domain`), and values of selector predicates (`[[hint]]`).
    fn context(&self, doc: &RuleDoc, event: Option<&str>) -> Context {
        let mut ctx: Context = doc.logsource.clone();
        ctx.entry("platform".into())
            .or_default()
            .extend(doc.raw_platforms.iter().cloned());
        ctx.entry("domain".into())
            .or_default()
            .extend(doc.raw_domains.iter().cloned());
        let mut own: Context = BTreeMap::new();
        for p in &doc.lowered.predicates {
            if p.negated || !matches!(p.op, Op::Eq | Op::In | Op::Wildcard | Op::StartsWith) {
                continue;
            }
            if event.is_some() && event_of(p) != event {
                continue;
            }
            let raw = strip_event(doc.vendor, &p.raw_field);
            for h in &self.hints {
                if h.vendor == doc.vendor && h.fields.iter().any(|f| f == raw) {
                    let list = own.entry(h.key.clone()).or_default();
                    list.extend(p.values.iter().map(Value::to_text));
                }
            }
        }
        for (k, v) in own {
            if event.is_some() {
                // An event's own statement replaces what other events said.
                ctx.insert(k, v);
            } else {
                ctx.entry(k).or_default().extend(v);
            }
        }
        ctx
    }

    /// For each source: 0 = no match, else 1 + the number of keys of the best clause.
    fn match_sources(&self, vendor: Vendor, ctx: &Context) -> Vec<u32> {
        self.sources
            .iter()
            .map(|s| {
                s.clauses.get(&vendor).map_or(0, |clauses| {
                    clauses
                        .iter()
                        .filter(|c| clause_holds(c, ctx))
                        .map(|c| 1 + u32::try_from(c.0.len()).unwrap_or(u32::MAX - 1))
                        .max()
                        .unwrap_or(0)
                })
            })
            .collect()
    }

    fn resolve(&self, vendor: Vendor, raw: &str, ctx: &Context, matched: &[u32]) -> Option<usize> {
        let raw = strip_event(vendor, raw);
        let found = self.lookup(vendor, raw, matched).or_else(|| {
            // A canonical (ECS) name is canonical as written in Elastic and Sigma.
            if matches!(vendor, Vendor::Elastic | Vendor::Sigma) && !raw.contains("::") {
                self.index_of(raw)
            } else {
                None
            }
        });
        let found = found.or_else(|| {
            let (prefix, rest) = raw.split_once('.')?;
            if vendor != Vendor::Splunk || !self.splunk_prefixes.iter().any(|p| p == prefix) {
                return None;
            }
            let mut c = ctx.clone();
            c.entry("datamodel".into())
                .or_default()
                .push(prefix.to_string());
            let m = self.match_sources(vendor, &c);
            self.lookup(vendor, rest, &m)
        });
        found.map(|i| {
            self.redirects
                .get(&self.fields[i].name)
                .copied()
                .unwrap_or(i)
        })
    }

    fn lookup(&self, vendor: Vendor, raw: &str, matched: &[u32]) -> Option<usize> {
        let rules = self
            .index
            .get(&(vendor, raw.to_string()))
            .or_else(|| self.folded.get(&(vendor, raw.to_ascii_lowercase())))?;
        let mut best: Option<(u32, usize)> = None;
        let mut fallback = None;
        let mut weak = None;
        for &r in rules {
            let rule = &self.rules[r];
            if rule.sources.is_empty() {
                fallback.get_or_insert(rule.field);
                continue;
            }
            let score = rule
                .sources
                .iter()
                .map(|&s| matched.get(s).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            if score == 0 {
                continue;
            }
            if rule.weak {
                weak.get_or_insert(rule.field);
            } else if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, rule.field));
            }
        }
        best.map(|(_, f)| f).or(fallback).or(weak)
    }

    /// A path field whose every value only names the file (`Image|endswith: '\x.exe'`)
    /// compares the file name: the predicate belongs to the basename field.
    fn route_basename(&self, field: usize, p: &Predicate) -> String {
        let cf = &self.fields[field];
        if let Some(b) = &cf.basename
            && !p.values.is_empty()
            && p.values
                .iter()
                .all(|v| values::basename_of(p.op, v).is_some())
        {
            return b.clone();
        }
        cf.name.clone()
    }
}

fn event_of(p: &Predicate) -> Option<&str> {
    p.context.get("event").and_then(|v| v.as_str())
}

/// YARA-L fields may be written with their event variable (`$e.principal.ip`).
fn strip_event(vendor: Vendor, raw: &str) -> &str {
    if vendor == Vendor::Yaral
        && raw.starts_with('$')
        && let Some((_, rest)) = raw.split_once('.')
    {
        return rest;
    }
    raw
}

fn clause_holds(clause: &Clause, ctx: &Context) -> bool {
    clause.0.iter().all(|(key, globs)| {
        ctx.get(key).is_some_and(|vals| {
            vals.iter()
                .any(|v| globs.iter().any(|g| glob::matches(g, v)))
        })
    })
}

fn build_sources(pf: &schema::PlatformsFile) -> Result<(Vec<LogSource>, Vec<Hint>), TaxonomyError> {
    let mut sources = Vec::new();
    let mut names = BTreeSet::new();
    for s in &pf.source {
        let entry = format!("source \"{}\"", s.name);
        if !names.insert(s.name.clone()) {
            return Err(TaxonomyError::invalid(
                PLATFORMS_FILE,
                entry,
                "defined twice",
            ));
        }
        for p in &s.platforms {
            if !pf.platforms.contains_key(p) {
                return Err(TaxonomyError::invalid(
                    PLATFORMS_FILE,
                    entry,
                    format!("unknown platform \"{p}\""),
                ));
            }
        }
        for d in &s.domains {
            if !pf.domains.contains_key(d) {
                return Err(TaxonomyError::invalid(
                    PLATFORMS_FILE,
                    entry,
                    format!("unknown domain \"{d}\""),
                ));
            }
        }
        let mut clauses = BTreeMap::new();
        for (vkey, list) in &s.vendors {
            let Some(vendor) = Vendor::parse(vkey).filter(|v| v.key() == vkey) else {
                return Err(TaxonomyError::invalid(
                    PLATFORMS_FILE,
                    entry,
                    format!("unknown vendor \"{vkey}\""),
                ));
            };
            let mut out = Vec::new();
            for c in list {
                if c.is_empty() {
                    return Err(TaxonomyError::invalid(
                        PLATFORMS_FILE,
                        entry,
                        format!("empty {vendor} condition"),
                    ));
                }
                out.push(Clause(
                    c.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect(),
                ));
            }
            clauses.insert(vendor, out);
        }
        sources.push(LogSource {
            name: s.name.clone(),
            description: s.description.clone(),
            platforms: s.platforms.clone(),
            domains: s.domains.clone(),
            clauses,
        });
    }
    let mut hints = Vec::new();
    for h in &pf.hint {
        let Some(vendor) = Vendor::parse(&h.vendor).filter(|v| v.key() == h.vendor) else {
            return Err(TaxonomyError::invalid(
                PLATFORMS_FILE,
                format!("hint \"{}\"", h.key),
                format!("unknown vendor \"{}\"", h.vendor),
            ));
        };
        hints.push(Hint {
            vendor,
            fields: h.field.to_vec(),
            key: h.key.clone(),
        });
    }
    Ok((sources, hints))
}
