//! [`PantherAdapter`]: panther-analysis files into [`RuleDoc`]s.
//!
//! Rule YAML (`rules/`, `correlation_rules/`, `queries/`) is read by [`VendorAdapter::load`];
//! Python sources (rule files, `global_helpers/`) and `data_models/` are support files indexed
//! by [`VendorAdapter::prepare`]. [`VendorAdapter::link`] gives scheduled rules the predicates
//! of their queries and correlation rules those of the rules they correlate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    Condition, FileRole, Linked, Lowered, Op, ParseStatus, Predicate, PredicateKind, RuleDoc,
    RuleKind, RuleTest, Support, TechniqueRef, Unparsed, Value, Vendor, VendorAdapter,
};
use ruleatlas_text::{LineColumn, LineIndex};
use ruleatlas_yaml::Node;

use crate::python::{DataModel, LowerContext, PyModule, Repo, UdmMapping};
use crate::{correlation, detection, namespaces, python, sql};

/// The Panther vendor adapter. Construct with [`PantherAdapter::new`].
#[derive(Debug, Default)]
pub struct PantherAdapter {
    /// Python sources by repository path.
    py: BTreeMap<String, String>,
    repo: Arc<Repo>,
}

impl PantherAdapter {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

fn ext(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(_, e)| e)
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// `dir` + `rel`, resolving `./` and `../`.
fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

fn is_rule_folder(path: &str) -> bool {
    let comps: Vec<&str> = path.split('/').collect();
    comps[..comps.len().saturating_sub(1)].iter().any(|c| {
        let c = c.to_ascii_lowercase();
        c == "correlation_rules"
            || c == "queries"
            || c == "rules"
            || c.ends_with("_rules")
            || c.ends_with("_queries")
    })
}

const TACTICS: &[(&str, &str)] = &[
    ("TA0001", "initial-access"),
    ("TA0002", "execution"),
    ("TA0003", "persistence"),
    ("TA0004", "privilege-escalation"),
    ("TA0005", "defense-evasion"),
    ("TA0006", "credential-access"),
    ("TA0007", "discovery"),
    ("TA0008", "lateral-movement"),
    ("TA0009", "collection"),
    ("TA0010", "exfiltration"),
    ("TA0011", "command-and-control"),
    ("TA0040", "impact"),
    ("TA0042", "resource-development"),
    ("TA0043", "reconnaissance"),
];

/// A YAML node as JSON (mappings as objects), for test events and metadata.
pub(crate) fn yaml_json(n: &Node) -> serde_json::Value {
    fn conv(n: &Node, depth: usize) -> serde_json::Value {
        use serde_json::Value as J;
        if depth > 256 {
            return J::Null;
        }
        match &n.value {
            ruleatlas_yaml::Value::Null => J::Null,
            ruleatlas_yaml::Value::Bool(b) => J::Bool(*b),
            ruleatlas_yaml::Value::Int(i) => J::from(*i),
            ruleatlas_yaml::Value::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(J::Null, J::Number)
            }
            ruleatlas_yaml::Value::Str(s) => J::String(s.clone()),
            ruleatlas_yaml::Value::Seq(items) => {
                J::Array(items.iter().map(|i| conv(i, depth + 1)).collect())
            }
            ruleatlas_yaml::Value::Map(entries) => {
                let mut m = serde_json::Map::new();
                for (k, v) in entries {
                    m.insert(k.scalar_text().unwrap_or_default(), conv(v, depth + 1));
                }
                J::Object(m)
            }
        }
    }
    conv(n, 0)
}

fn locate_at(d: &mut Diagnostic, path: &str, pos: LineColumn) {
    d.path = Some(path.to_string());
    d.line = Some(pos.line);
    d.column = Some(pos.column);
}

/// The text of a top-level YAML block (`Detection:` ... up to the next top-level key).
fn yaml_block(text: &str, key: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        let top = !line.starts_with([' ', '\t', '-', '#']) && !line.is_empty();
        if top {
            if inside {
                break;
            }
            if line.starts_with(&format!("{key}:")) {
                inside = true;
            }
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

impl VendorAdapter for PantherAdapter {
    fn vendor(&self) -> Vendor {
        Vendor::Panther
    }

    fn role(&self, rel_path: &str) -> FileRole {
        let e = ext(rel_path).to_ascii_lowercase();
        let first = rel_path.split('/').next().unwrap_or("");
        if e == "py" {
            return FileRole::Support;
        }
        if e != "yml" && e != "yaml" {
            return FileRole::Ignore;
        }
        if first == "data_models" || rel_path.contains("/data_models/") {
            return FileRole::Support;
        }
        if first == "global_helpers" || first == "policies" || first.starts_with('.') {
            return FileRole::Ignore;
        }
        if is_rule_folder(rel_path) {
            FileRole::Rule
        } else {
            FileRole::Ignore
        }
    }

    fn prepare(&mut self, support: &Support) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let mut repo = Repo::default();
        for (path, text) in &support.files {
            if ext(path) == "py" {
                self.py.insert(path.clone(), text.clone());
            }
        }
        for (path, text) in &self.py {
            let in_helpers = path.split('/').any(|c| c == "global_helpers");
            if !in_helpers {
                continue;
            }
            let stem = path
                .rsplit('/')
                .next()
                .unwrap_or(path)
                .trim_end_matches(".py")
                .to_string();
            let (m, d) = PyModule::parse(path, text);
            diags.extend(d);
            repo.helpers.insert(stem, Arc::new(m));
        }
        for (path, text) in &support.files {
            let e = ext(path);
            if e != "yml" && e != "yaml" {
                continue;
            }
            let node = match ruleatlas_yaml::parse(text) {
                Ok(n) => n,
                Err(d) => {
                    diags.push(d.with_path(path.clone()));
                    continue;
                }
            };
            let mut dm = DataModel {
                id: node
                    .get("DataModelID")
                    .and_then(Node::scalar_text)
                    .unwrap_or_default(),
                ..DataModel::default()
            };
            for m in node.get("Mappings").and_then(Node::as_seq).unwrap_or(&[]) {
                let Some(name) = m.get("Name").and_then(Node::scalar_text) else {
                    continue;
                };
                if let Some(p) = m.get("Path").and_then(Node::scalar_text) {
                    dm.mappings.insert(name, UdmMapping::Path(p));
                } else if let Some(meth) = m.get("Method").and_then(Node::scalar_text) {
                    dm.mappings.insert(name, UdmMapping::Method(meth));
                }
            }
            if let Some(f) = node.get("Filename").and_then(Node::scalar_text) {
                let py_path = join(dir_of(path), &f);
                if let Some(src) = self.py.get(&py_path) {
                    let (m, d) = PyModule::parse(&py_path, src);
                    diags.extend(d);
                    dm.module = Some(Arc::new(m));
                }
                dm.filename = Some(f);
            }
            let dm = Arc::new(dm);
            for lt in node
                .get("LogTypes")
                .map(Node::string_list)
                .unwrap_or_default()
            {
                repo.data_models.insert(lt, Arc::clone(&dm));
            }
        }
        self.repo = Arc::new(repo);
        diags
    }

    fn load(&self, rel_path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        let node = match ruleatlas_yaml::parse(text) {
            Ok(n) => n,
            Err(d) => {
                return (
                    vec![RuleDoc::failed(Vendor::Panther, rel_path, d)],
                    Vec::new(),
                );
            }
        };
        let analysis = node
            .get("AnalysisType")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let kind = match analysis.as_str() {
            "rule" | "scheduled_rule" | "correlation_rule" => RuleKind::Rule,
            "scheduled_query" | "saved_query" => RuleKind::Query,
            "policy" => {
                let d = Diagnostic::info("panther-policy", "policy: not a rule, left out")
                    .with_path(rel_path);
                return (Vec::new(), vec![d]);
            }
            "" => {
                let mut d = Diagnostic::warning(
                    "panther-analysis-type",
                    "no AnalysisType: not a Panther detection",
                );
                locate_at(&mut d, rel_path, node.pos);
                return (Vec::new(), vec![d]);
            }
            other => {
                let d = Diagnostic::info(
                    "panther-analysis-type",
                    format!("AnalysisType {other}: not a rule"),
                )
                .with_path(rel_path);
                return (Vec::new(), vec![d]);
            }
        };
        let mut doc = RuleDoc::new(Vendor::Panther, rel_path);
        doc.kind = kind;
        self.metadata(&mut doc, &node, &analysis);
        let log_types = node
            .get("LogTypes")
            .map(Node::string_list)
            .unwrap_or_default();
        let mut failed: Option<Diagnostic> = None;
        let mut lowered = Lowered::default();
        match analysis.as_str() {
            "correlation_rule" => {
                doc.language = "panther-correlation".into();
                doc.query = yaml_block(text, "Detection");
                match node.get("Detection") {
                    Some(det) => {
                        let c = correlation::lower(det, rel_path, doc.native_id.as_deref());
                        lowered = c.lowered;
                        doc.links = c.links;
                        doc.extra
                            .insert("correlation_absent".into(), c.absent.into());
                        doc.extra.extend(c.extra);
                    }
                    None => {
                        let mut d = Diagnostic::error(
                            "panther-correlation",
                            "correlation rule without Detection",
                        );
                        locate_at(&mut d, rel_path, node.pos);
                        failed = Some(d);
                    }
                }
            }
            "scheduled_query" | "saved_query" => {
                doc.language = "sql".into();
                match node.get("Query") {
                    Some(q) if q.as_str().is_some() => {
                        let sql_text = q.as_str().unwrap_or_default();
                        doc.query = sql_text.to_string();
                        let parsed = sql::parse(sql_text);
                        if parsed.has_errors() {
                            let mut d = parsed
                                .diagnostics
                                .into_iter()
                                .next()
                                .unwrap_or_else(|| Diagnostic::error("sql", "unreadable SQL"));
                            let map = q
                                .offset
                                .map(|o| ruleatlas_yaml::scalar_offset_map(text, o, sql_text));
                            let idx = LineIndex::new(text);
                            let loc = |off: usize| match &map {
                                Some(m) => idx.line_column(text, m.to_source(off)),
                                None => q.pos,
                            };
                            d.locate(rel_path, &loc);
                            failed = Some(d);
                        } else {
                            lowered = sql::lower(&parsed.ast, &sql::LowerContext);
                            let map = q
                                .offset
                                .map(|o| ruleatlas_yaml::scalar_offset_map(text, o, sql_text));
                            let idx = LineIndex::new(text);
                            let loc = |off: usize| match &map {
                                Some(m) => idx.line_column(text, m.to_source(off)),
                                None => q.pos,
                            };
                            lowered.resolve_origins(rel_path, &loc);
                        }
                    }
                    _ => {
                        let mut d =
                            Diagnostic::error("panther-query", "query without a Query text");
                        locate_at(&mut d, rel_path, node.pos);
                        failed = Some(d);
                    }
                }
            }
            _ => {
                if let Some(f) = node.get("Filename").and_then(Node::scalar_text) {
                    doc.language = "python".into();
                    let py_path = join(dir_of(rel_path), &f);
                    match self.py.get(&py_path) {
                        None => {
                            let mut d = Diagnostic::error(
                                "panther-python-missing",
                                format!("python file missing: {f}"),
                            );
                            let pos = node.get("Filename").map_or(node.pos, |n| n.pos);
                            locate_at(&mut d, rel_path, pos);
                            failed = Some(d);
                        }
                        Some(src) => {
                            doc.query.clone_from(src);
                            let parsed = python::parse(src);
                            let idx = &parsed.ast.lines;
                            let loc = |off: usize| idx.line_column(src, off);
                            let mut errs: Vec<Diagnostic> = parsed.diagnostics.clone();
                            for d in &mut errs {
                                d.locate(&py_path, &loc);
                            }
                            if errs.iter().any(Diagnostic::is_error) {
                                failed = errs.iter().find(|d| d.is_error()).cloned();
                                lowered
                                    .diagnostics
                                    .extend(errs.into_iter().filter(|d| !d.is_error()));
                            } else {
                                let ctx = LowerContext {
                                    path: py_path.clone(),
                                    log_types: log_types.clone(),
                                    repo: Arc::clone(&self.repo),
                                };
                                let mut l = python::lower(&parsed.ast, &ctx);
                                l.resolve_origins(&py_path, &loc);
                                if let Some(d) =
                                    l.diagnostics.iter().find(|d| d.is_error()).cloned()
                                {
                                    failed = Some(d);
                                }
                                lowered = l;
                            }
                        }
                    }
                } else if let Some(det) = node.get("Detection") {
                    doc.language = "panther-yaml".into();
                    doc.query = yaml_block(text, "Detection");
                    lowered = detection::lower(det, rel_path);
                } else {
                    let mut d =
                        Diagnostic::error("panther-rule", "rule without Filename or Detection");
                    locate_at(&mut d, rel_path, node.pos);
                    failed = Some(d);
                }
            }
        }
        // InlineFilters narrow any detection.
        if let Some(inl) = node.get("InlineFilters")
            && inl.as_seq().is_some_and(|s| !s.is_empty())
        {
            let f = detection::lower(inl, rel_path);
            let main_tree = std::mem::replace(&mut lowered.tree, Condition::Const(true));
            let t = lowered.absorb(f);
            lowered.tree = Condition::and(vec![t, main_tree]);
        }
        // Threshold above Panther's default of 1.
        if let Some(th) = node.get("Threshold")
            && let ruleatlas_yaml::Value::Int(n) = th.value
            && n > 1
        {
            let mut p =
                Predicate::new("count", Op::Ge, vec![Value::Int(n)]).kind(PredicateKind::Threshold);
            p.origin = Some(ruleatlas_model::Origin::new(rel_path, th.pos));
            let leaf = lowered.pred(p);
            let main_tree = std::mem::replace(&mut lowered.tree, Condition::Const(true));
            lowered.tree = Condition::and(vec![main_tree, leaf]);
        }
        // A rule whose code filters nothing (`return True`, a signal passthrough) still only
        // sees its log types: say so, rather than leaving it without a predicate.
        if failed.is_none()
            && lowered.tree == Condition::Const(true)
            && lowered.predicates.is_empty()
            && !log_types.is_empty()
            && doc.kind == RuleKind::Rule
        {
            let mut p = Predicate::new(
                "p_log_type",
                Op::In,
                log_types.iter().map(|s| Value::str(s.clone())).collect(),
            )
            .case_sensitive(true);
            p.origin = node
                .get("LogTypes")
                .map(|n| ruleatlas_model::Origin::new(rel_path, n.pos));
            lowered.tree = lowered.pred(p);
        }
        crate::python::lower::compact(&mut lowered);
        namespaces::apply(&mut lowered, &log_types);
        lowered.finish();
        doc.lowered = lowered;
        if let Some(d) = failed {
            doc.status = ParseStatus::Failed;
            doc.lowered.diagnostics.push(d);
        }
        doc.settle_status();
        (vec![doc], Vec::new())
    }

    fn link(&self, docs: &mut [RuleDoc]) -> Linked {
        link_docs(docs)
    }

    fn sniff(&self, rel_path: &str, text: &str) -> bool {
        let e = ext(rel_path);
        (e == "yml" || e == "yaml") && text.lines().any(|l| l.starts_with("AnalysisType:"))
    }
}

impl PantherAdapter {
    fn metadata(&self, doc: &mut RuleDoc, node: &Node, analysis: &str) {
        let s = |k: &str| node.get(k).and_then(Node::scalar_text);
        doc.native_id = if doc.kind == RuleKind::Query {
            s("QueryName").or_else(|| s("RuleID"))
        } else {
            s("RuleID").or_else(|| s("QueryName"))
        };
        doc.title = s("DisplayName")
            .or_else(|| doc.native_id.clone())
            .unwrap_or_else(|| doc.path.clone());
        doc.description = s("Description").map(|d| d.trim().to_string());
        doc.severity = s("Severity");
        doc.rule_status = s("Status");
        if let Some(st) = &doc.rule_status
            && st.eq_ignore_ascii_case("deprecated")
        {
            doc.deprecated = true;
        }
        if doc
            .path
            .split('/')
            .any(|c| c == "deprecated" || c == "_deprecated")
        {
            doc.deprecated = true;
        }
        if let Some(e) = node.get("Enabled").and_then(Node::as_bool) {
            doc.enabled = e;
        }
        for lt in node
            .get("LogTypes")
            .map(Node::string_list)
            .unwrap_or_default()
        {
            doc.add_logsource("log_type", lt.clone());
            if !doc.raw_platforms.contains(&lt) {
                doc.raw_platforms.push(lt);
            }
        }
        for k in ["Reference", "References"] {
            for r in node.get(k).map(Node::string_list).unwrap_or_default() {
                if !doc.references.contains(&r) {
                    doc.references.push(r);
                }
            }
        }
        let mut other_reports = serde_json::Map::new();
        if let Some(reports) = node.get("Reports").and_then(Node::as_map) {
            for (k, v) in reports {
                let key = k.scalar_text().unwrap_or_default();
                if key.eq_ignore_ascii_case("MITRE ATT&CK") {
                    for item in v.string_list() {
                        for part in item.split(':') {
                            let part = part.trim().to_ascii_uppercase();
                            if part.starts_with("TA") {
                                let t = TACTICS
                                    .iter()
                                    .find(|(id, _)| *id == part)
                                    .map_or(part.clone(), |(_, n)| (*n).to_string());
                                if !doc.tactics.contains(&t) {
                                    doc.tactics.push(t);
                                }
                            } else if part.starts_with('T')
                                && part.len() >= 5
                                && part[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
                                && !doc.techniques.iter().any(|x| x.id == part)
                            {
                                doc.techniques.push(TechniqueRef::id(part));
                            }
                        }
                    }
                } else {
                    other_reports.insert(key, yaml_json(v));
                }
            }
        }
        let mut extra = serde_json::Map::new();
        extra.insert("analysis_type".into(), analysis.into());
        if !other_reports.is_empty() {
            extra.insert("reports".into(), other_reports.into());
        }
        for (k, name) in [
            ("DedupPeriodMinutes", "dedup_period_minutes"),
            ("Threshold", "threshold"),
            ("Runbook", "runbook"),
            ("Tags", "tags"),
            ("CreateAlert", "create_alert"),
            ("Schedule", "schedule"),
            ("Filename", "filename"),
            ("ScheduledQueries", "scheduled_queries"),
            ("SummaryAttributes", "summary_attributes"),
            ("AlertTitle", "alert_title"),
            ("Lookback", "lookback"),
        ] {
            if let Some(v) = node.get(k) {
                extra.insert(name.into(), yaml_json(v));
            }
        }
        doc.extra = extra;
        if analysis == "scheduled_rule" {
            doc.links = node
                .get("ScheduledQueries")
                .map(Node::string_list)
                .unwrap_or_default();
        }
        for t in node.get("Tests").and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(log) = t.get("Log") else { continue };
            let event = match log.as_str() {
                Some(s) => serde_json::from_str(s)
                    .unwrap_or_else(|_| serde_json::Value::String(s.to_string())),
                None => yaml_json(log),
            };
            let expected = t
                .get("ExpectedResult")
                .and_then(Node::as_bool)
                .unwrap_or(false);
            let name = t
                .get("Name")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            doc.tests.push(RuleTest {
                name,
                expected,
                event,
            });
        }
    }
}

/// Re-derives each predicate's own (operator) negation from a finished lowering, so trees can
/// be recombined and finished again.
pub(crate) fn unfinish(l: &mut Lowered) {
    let mut parity: Vec<Option<bool>> = vec![None; l.predicates.len()];
    let mut stack: Vec<(&Condition, bool)> = vec![(&l.tree, false)];
    while let Some((c, neg)) = stack.pop() {
        match c {
            Condition::And(v) | Condition::Or(v) => {
                for x in v.iter().rev() {
                    stack.push((x, neg));
                }
            }
            Condition::Not(x) => stack.push((x, !neg)),
            Condition::Pred(i) => {
                if let Some(slot) = parity.get_mut(*i)
                    && slot.is_none()
                {
                    *slot = Some(neg);
                }
            }
            Condition::Unparsed(_) | Condition::Const(_) => {}
        }
    }
    for (p, par) in l.predicates.iter_mut().zip(parity) {
        p.negated ^= par.unwrap_or(false);
        p.exclusion = false;
    }
}

/// Copies a lowering, replacing its unparsed leaves with `true` (they belong to the rule they
/// came from) and tagging predicates with `context`.
fn copy_for(l: &Lowered, key: &str, value: &str) -> Lowered {
    let mut c = l.clone();
    unfinish(&mut c);
    fn strip(c: &Condition) -> Condition {
        match c {
            Condition::And(v) => Condition::and(v.iter().map(strip).collect()),
            Condition::Or(v) => Condition::or(v.iter().map(strip).collect()),
            Condition::Not(x) => Condition::not(strip(x)),
            Condition::Unparsed(_) => Condition::Const(true),
            other => other.clone(),
        }
    }
    c.tree = strip(&c.tree);
    c.unparsed.clear();
    c.diagnostics.clear();
    for p in &mut c.predicates {
        p.context
            .entry(key.to_string())
            .or_insert_with(|| value.into());
    }
    crate::python::lower::compact(&mut c);
    c
}

fn analysis_of(d: &RuleDoc) -> &str {
    d.extra
        .get("analysis_type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

#[allow(clippy::too_many_lines)]
fn link_docs(docs: &mut [RuleDoc]) -> Linked {
    let mut diags = Vec::new();
    let mut changed = Vec::new();
    let mut by_id: HashMap<(RuleKind, String), usize> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if let Some(id) = &d.native_id {
            by_id.entry((d.kind, id.clone())).or_insert(i);
        }
    }
    // Scheduled rules carry their queries' predicates.
    for i in 0..docs.len() {
        if analysis_of(&docs[i]) != "scheduled_rule" || docs[i].links.is_empty() {
            continue;
        }
        let mut parts = Vec::new();
        for q in docs[i].links.clone() {
            match by_id.get(&(RuleKind::Query, q.clone())) {
                Some(&j) => parts.push(copy_for(&docs[j].lowered, "query", &q)),
                None => diags.push(
                    Diagnostic::warning("panther-link", format!("scheduled query not found: {q}"))
                        .with_path(docs[i].path.clone()),
                ),
            }
        }
        if parts.is_empty() {
            continue;
        }
        changed.push(i);
        let doc = &mut docs[i];
        unfinish(&mut doc.lowered);
        let mut tree = vec![std::mem::replace(
            &mut doc.lowered.tree,
            Condition::Const(true),
        )];
        for p in parts {
            tree.push(doc.lowered.absorb(p));
        }
        doc.lowered.tree = Condition::and(tree);
        doc.lowered.finish();
        doc.settle_status();
    }
    // Correlation rules: in dependency order, with cycles detected.
    let corr: Vec<usize> = (0..docs.len())
        .filter(|&i| analysis_of(&docs[i]) == "correlation_rule")
        .collect();
    let mut state: HashMap<usize, u8> = HashMap::new(); // 1 visiting, 2 done
    let mut order = Vec::new();
    let mut cyclic: HashMap<usize, Vec<String>> = HashMap::new();
    for &start in &corr {
        // Iterative DFS.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        if state.contains_key(&start) {
            continue;
        }
        state.insert(start, 1);
        while let Some((n, k)) = stack.pop() {
            let links = docs[n].links.clone();
            if k < links.len() {
                stack.push((n, k + 1));
                let Some(&m) = by_id.get(&(RuleKind::Rule, links[k].clone())) else {
                    continue;
                };
                if analysis_of(&docs[m]) != "correlation_rule" {
                    continue;
                }
                match state.get(&m) {
                    Some(1) => {
                        let mut path: Vec<String> = stack
                            .iter()
                            .map(|(x, _)| docs[*x].native_id.clone().unwrap_or_default())
                            .collect();
                        path.push(links[k].clone());
                        cyclic.entry(n).or_default().push(path.join(" -> "));
                    }
                    Some(_) => {}
                    None => {
                        state.insert(m, 1);
                        stack.push((m, 0));
                    }
                }
            } else {
                state.insert(n, 2);
                order.push(n);
            }
        }
    }
    for n in order {
        changed.push(n);
        let links = docs[n].links.clone();
        let own = docs[n].native_id.clone().unwrap_or_default();
        let mut parts: Vec<(Lowered, bool)> = Vec::new();
        let mut problems: Vec<(String, String)> = Vec::new();
        let steps = docs[n].extra.get("correlation_absent").cloned();
        let absent: Vec<String> = steps
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        for l in &links {
            if *l == own {
                problems.push((l.clone(), format!("correlation cycle: {own} -> {own}")));
                continue;
            }
            match by_id.get(&(RuleKind::Rule, l.clone())) {
                None => problems.push((l.clone(), format!("referenced rule not found: {l}"))),
                Some(&m) => {
                    if cyclic
                        .get(&n)
                        .is_some_and(|c| c.iter().any(|p| p.ends_with(&format!("-> {l}"))))
                    {
                        problems.push((l.clone(), format!("correlation cycle: {own} -> {l}")));
                        continue;
                    }
                    parts.push((copy_for(&docs[m].lowered, "rule", l), absent.contains(l)));
                }
            }
        }
        let doc = &mut docs[n];
        unfinish(&mut doc.lowered);
        let mut tree = vec![std::mem::replace(
            &mut doc.lowered.tree,
            Condition::Const(true),
        )];
        for (p, is_absent) in parts {
            let t = doc.lowered.absorb(p);
            tree.push(if is_absent { Condition::not(t) } else { t });
        }
        for (l, reason) in problems {
            let sev_cycle = reason.starts_with("correlation cycle");
            let d = if sev_cycle {
                Diagnostic::error("panther-correlation-cycle", reason.clone())
            } else {
                Diagnostic::warning("panther-link", reason.clone())
            };
            diags.push(d.with_path(doc.path.clone()));
            tree.push(doc.lowered.unparsed(Unparsed::new(l, reason)));
        }
        doc.lowered.tree = Condition::and(tree);
        doc.lowered.finish();
        doc.settle_status();
    }
    Linked {
        diagnostics: diags,
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let a = PantherAdapter::new();
        assert_eq!(a.role("rules/aws_rules/x.yml"), FileRole::Rule);
        assert_eq!(a.role("rules/aws_rules/x.py"), FileRole::Support);
        assert_eq!(
            a.role("global_helpers/panther_base_helpers.py"),
            FileRole::Support
        );
        assert_eq!(a.role("data_models/aws.yml"), FileRole::Support);
        assert_eq!(a.role("correlation_rules/x.yml"), FileRole::Rule);
        assert_eq!(a.role("queries/aws_queries/q.yml"), FileRole::Rule);
        assert_eq!(a.role("policies/x.yml"), FileRole::Ignore);
        assert_eq!(a.role("LICENSE.txt"), FileRole::Ignore);
    }

    #[test]
    fn join_paths() {
        assert_eq!(join("rules/a", "x.py"), "rules/a/x.py");
        assert_eq!(join("rules/a", "./x.py"), "rules/a/x.py");
        assert_eq!(join("rules/a", "../b/x.py"), "rules/b/x.py");
    }
}
