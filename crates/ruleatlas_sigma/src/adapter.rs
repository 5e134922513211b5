//! [`SigmaAdapter`]: SigmaHQ-style repositories as [`RuleDoc`]s.

use std::collections::{HashMap, HashSet};

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    Condition, FileRole, LIMITS, Linked, Lowered, RuleDoc, RuleKind, Support, Vendor, VendorAdapter,
};
use ruleatlas_text::{LineColumn, LineIndex};
use ruleatlas_yaml::Node;

use crate::correlation;
use crate::detection::{self, LowerContext};
use crate::document::{self, DocKind, SigmaDocument, SigmaFile};
use crate::meta;

/// Top-level folders of the SigmaHQ repository that hold no rules.
const NON_RULE_FOLDERS: [&str; 9] = [
    "tests",
    "test",
    "tools",
    "other",
    "images",
    "documentation",
    "regression_data",
    "unsupported",
    "config",
];

/// Reads Sigma rules, correlation rules and filters. Does no I/O.
#[derive(Debug, Default, Clone)]
pub struct SigmaAdapter;

impl SigmaAdapter {
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

/// A document lowered, with what the adapter needs besides the predicates.
#[derive(Debug, Default)]
pub struct LoweredDocument {
    pub lowered: Lowered,
    /// Rule references (correlation `rules`, filter `rules`) as written.
    pub links: Vec<String>,
    /// Metadata the lowering found (correlation type, timespan...).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Lowers one document of a Sigma file (detection, correlation or filter) and calls
/// `Lowered::finish`.
#[must_use]
pub fn lower_document(doc: &SigmaDocument, ctx: &LowerContext) -> LoweredDocument {
    let mut out = LoweredDocument::default();
    let l = &mut out.lowered;
    let y = &doc.yaml;
    let tree = match &doc.kind {
        DocKind::Rule => match y.get("detection") {
            Some(det) => {
                if let Some(tf) = det.get("timeframe").and_then(Node::scalar_text) {
                    out.extra.insert("timeframe".into(), tf.into());
                }
                detection::lower_detection(det, &[], l, ctx)
            }
            None => Condition::Const(true),
        },
        DocKind::Correlation => {
            let Some(c) = y.get("correlation") else {
                return out;
            };
            let (tree, info) = correlation::lower_correlation(c, l, ctx);
            out.links = info.rules;
            out.extra
                .insert("rules_positions".into(), positions_json(&info.positions));
            out.extra
                .insert("correlation_type".into(), info.kind.into());
            if let Some(t) = info.timespan {
                out.extra.insert("timespan".into(), t.into());
            }
            tree
        }
        DocKind::Filter => {
            let Some(f) = y.get("filter") else { return out };
            let refs = f
                .get("rules")
                .map(correlation::rule_refs)
                .unwrap_or_default();
            let positions: Vec<LineColumn> = refs.iter().map(|(_, p)| *p).collect();
            out.links = refs.into_iter().map(|(r, _)| r).collect();
            out.extra
                .insert("rules_positions".into(), positions_json(&positions));
            out.extra.insert("sigma_filter".into(), true.into());
            // A filter means `and not (...)` in the rules it names.
            Condition::not(detection::lower_detection(f, &["rules"], l, ctx))
        }
        DocKind::NotARule(_) => Condition::Const(true),
    };
    l.tree = tree;
    l.finish();
    out
}

fn positions_json(positions: &[LineColumn]) -> serde_json::Value {
    positions
        .iter()
        .map(|p| serde_json::json!([p.line, p.column]))
        .collect()
}

/// The `detection:` (or `correlation:` / `filter:`) blocks of the documents merged into `doc`,
/// as they appear in the file.
fn query_text(file: &SigmaFile, doc: &SigmaDocument, text: &str) -> String {
    let mut blocks = Vec::new();
    for &i in &doc.parts {
        for s in file.sections.get(i).map(Vec::as_slice).unwrap_or_default() {
            let off = s.offset.min(text.len());
            let start = text[..off].rfind('\n').map_or(0, |i| i + 1);
            blocks.push(block_at(text, start));
        }
    }
    blocks.join("\n")
}

/// The lines from `start` while they are indented, blank or comments (a YAML block).
fn block_at(text: &str, start: usize) -> String {
    let rest = text.get(start..).unwrap_or("");
    let mut end = 0;
    let mut last_content = 0;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if i > 0 && !indented && !trimmed.is_empty() && !trimmed.starts_with('#') {
            break;
        }
        end += line.len();
        if !trimmed.trim_start().is_empty() && !trimmed.trim_start().starts_with('#') {
            last_content = end;
        }
    }
    rest[..last_content].trim_end().to_string()
}

fn located(d: Diagnostic, path: &str) -> Diagnostic {
    let mut d = d.with_path(path);
    if d.line.is_none() {
        d.line = Some(1);
        d.column = Some(1);
    }
    d
}

impl VendorAdapter for SigmaAdapter {
    fn vendor(&self) -> Vendor {
        Vendor::Sigma
    }

    fn role(&self, rel_path: &str) -> FileRole {
        let lower = rel_path.to_ascii_lowercase();
        if !(lower.ends_with(".yml") || lower.ends_with(".yaml")) {
            return FileRole::Ignore;
        }
        let dirs: Vec<&str> = lower.split('/').collect();
        let dirs = &dirs[..dirs.len().saturating_sub(1)];
        if dirs
            .iter()
            .any(|d| d.starts_with("rules") || *d == "deprecated" || *d == "_deprecated")
        {
            return FileRole::Rule;
        }
        // A source root pointing inside a rules folder (`--source sigma=.../rules/windows`).
        match dirs.first() {
            None => FileRole::Ignore,
            Some(first) if first.starts_with('.') || NON_RULE_FOLDERS.contains(first) => {
                FileRole::Ignore
            }
            Some(_) => FileRole::Rule,
        }
    }

    fn prepare(&mut self, _support: &Support) -> Vec<Diagnostic> {
        Vec::new()
    }

    fn load(&self, rel_path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        // The YAML reader drops a byte-order mark; node offsets are relative to the text after it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let at_start = LineColumn { line: 1, column: 1 };
        if text.len() as u64 > LIMITS.max_file_bytes {
            let d = Diagnostic::error(
                "limit-file-size",
                format!("file larger than {} bytes", LIMITS.max_file_bytes),
            )
            .at(at_start);
            return (
                vec![RuleDoc::failed(Vendor::Sigma, rel_path, d)],
                Vec::new(),
            );
        }
        if let Some(nul) = text.find('\0') {
            let lines = LineIndex::new(text);
            let d = Diagnostic::error("binary", "binary file (NUL byte)")
                .at(lines.line_column(text, nul));
            return (
                vec![RuleDoc::failed(Vendor::Sigma, rel_path, d)],
                Vec::new(),
            );
        }
        if text.trim().is_empty() {
            let d = Diagnostic::warning("empty", "empty file")
                .with_path(rel_path)
                .at(at_start);
            return (Vec::new(), vec![d]);
        }
        let parsed = document::parse(text);
        if parsed.ast.yaml_documents == 0 {
            let d = parsed
                .diagnostics
                .into_iter()
                .next()
                .unwrap_or_else(|| Diagnostic::error("yaml", "no YAML document"));
            return (
                vec![RuleDoc::failed(
                    Vendor::Sigma,
                    rel_path,
                    located(d, rel_path),
                )],
                Vec::new(),
            );
        }
        let mut file_diags: Vec<Diagnostic> = parsed
            .diagnostics
            .into_iter()
            .map(|d| located(d, rel_path))
            .collect();
        let file = parsed.ast;
        if file.documents.is_empty() {
            file_diags.push(
                Diagnostic::warning("not-a-rule", "no Sigma document in file")
                    .with_path(rel_path)
                    .at(at_start),
            );
        }
        // Built on first use: most files need no offset-to-position lookup.
        let lines = std::cell::OnceCell::new();
        let lines = || lines.get_or_init(|| LineIndex::new(text));
        if let Some(bad) = text.find('\u{fffd}') {
            // The loader replaced bytes that were not UTF-8; the rule is still read.
            file_diags.push(
                Diagnostic::warning("encoding", "file is not valid UTF-8 (bytes replaced)")
                    .with_path(rel_path)
                    .at(lines().line_column(text, bad)),
            );
        }
        let ctx = LowerContext {
            path: rel_path,
            text,
            lines: None,
        };
        let mut docs = Vec::new();
        for doc in &file.documents {
            if let DocKind::NotARule(reason) = &doc.kind {
                file_diags.push(
                    Diagnostic::warning("not-a-rule", format!("not a rule: {reason}"))
                        .with_path(rel_path)
                        .at(doc.yaml.pos),
                );
                continue;
            }
            let mut rd = RuleDoc::new(Vendor::Sigma, rel_path);
            meta::fill(&mut rd, &doc.yaml);
            if rd.title.trim().is_empty() {
                rd.title = rel_path.rsplit('/').next().unwrap_or(rel_path).to_string();
            }
            if doc.kind == DocKind::Filter {
                rd.kind = RuleKind::Query;
            }
            rd.query = query_text(&file, doc, text);
            let mut ld = lower_document(doc, &ctx);
            ld.lowered
                .resolve_origins(rel_path, &|off| lines().line_column(text, off));
            rd.links = ld.links;
            rd.extra.extend(ld.extra);
            rd.lowered = ld.lowered;
            rd.settle_status();
            docs.push(rd);
        }
        (docs, file_diags)
    }

    fn link(&self, docs: &mut [RuleDoc]) -> Linked {
        link_documents(docs)
    }

    fn sniff(&self, rel_path: &str, text: &str) -> bool {
        let lower = rel_path.to_ascii_lowercase();
        if !(lower.ends_with(".yml") || lower.ends_with(".yaml")) {
            return false;
        }
        let top = |key: &str| {
            text.lines().any(|l| {
                l.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
            })
        };
        (top("detection") && (top("logsource") || top("title")))
            || (top("correlation") && top("title"))
            || (top("filter") && top("logsource"))
    }
}

fn sigma_name(d: &RuleDoc) -> Option<&str> {
    d.extra.get("name").and_then(serde_json::Value::as_str)
}

/// A link diagnostic at the position of the `index`-th rule reference (1:1 when unknown).
fn ref_diag(d: &RuleDoc, index: usize, msg: String) -> Diagnostic {
    let mut diag = Diagnostic::warning("sigma-link", msg).with_path(d.path.clone());
    let pos = d.extra.get("rules_positions").and_then(|p| p.get(index));
    let num = |k: usize| {
        pos.and_then(|p| p.get(k))
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    diag.line = Some(num(0).unwrap_or(1));
    diag.column = Some(num(1).unwrap_or(1));
    diag
}

/// Resolves correlation and filter references (names to ids), reports unknown and
/// self references and correlation cycles, and adds each filter to the rules it names as an
/// `and not` clause.
fn link_documents(docs: &mut [RuleDoc]) -> Linked {
    let mut diags = Vec::new();
    let mut changed = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if d.vendor != Vendor::Sigma {
            continue;
        }
        if let Some(id) = &d.native_id {
            by_id.entry(id.clone()).or_insert(i);
        }
        if let Some(n) = sigma_name(d) {
            by_name.entry(n.to_string()).or_default().push(i);
        }
    }
    // Resolve each document's links to target indexes.
    let mut targets: Vec<Vec<usize>> = vec![Vec::new(); docs.len()];
    for i in 0..docs.len() {
        if docs[i].vendor != Vendor::Sigma || docs[i].links.is_empty() {
            continue;
        }
        changed.push(i);
        let own_id = docs[i].native_id.clone();
        let own_name = sigma_name(&docs[i]).map(str::to_string);
        let mut resolved = Vec::new();
        let mut kept_positions = Vec::new();
        let position = |d: &RuleDoc, k: usize| {
            d.extra
                .get("rules_positions")
                .and_then(|p| p.get(k))
                .cloned()
                .unwrap_or_default()
        };
        for (k, link) in std::mem::take(&mut docs[i].links).into_iter().enumerate() {
            if Some(&link) == own_id.as_ref() || Some(&link) == own_name.as_ref() {
                diags.push(ref_diag(
                    &docs[i],
                    k,
                    format!("rule refers to itself: {link}"),
                ));
                continue;
            }
            let target = by_id.get(&link).copied().or_else(|| {
                let cands = by_name.get(&link)?;
                // Prefer a document of the same file (names are unique per correlation).
                cands
                    .iter()
                    .copied()
                    .find(|&c| docs[c].path == docs[i].path)
                    .or_else(|| cands.first().copied())
            });
            match target {
                Some(t) => {
                    let id = docs[t].native_id.clone().unwrap_or_else(|| link.clone());
                    if !resolved.contains(&id) {
                        resolved.push(id);
                        kept_positions.push(position(&docs[i], k));
                        targets[i].push(t);
                    }
                }
                None => {
                    diags.push(ref_diag(
                        &docs[i],
                        k,
                        format!("unknown rule reference: {link}"),
                    ));
                    if !resolved.contains(&link) {
                        resolved.push(link);
                        kept_positions.push(position(&docs[i], k));
                    }
                }
            }
        }
        docs[i].links = resolved;
        docs[i].extra.insert(
            "rules_positions".into(),
            serde_json::Value::Array(kept_positions),
        );
    }
    diags.extend(find_cycles(docs, &targets));
    changed.extend(apply_filters(docs, &targets));
    Linked {
        diagnostics: diags,
        changed,
    }
}

/// Reports each cycle of correlation references once (iterative depth-first search).
fn find_cycles(docs: &[RuleDoc], targets: &[Vec<usize>]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut state = vec![0u8; docs.len()]; // 0 new, 1 on stack, 2 done
    let mut reported: HashSet<usize> = HashSet::new();
    for start in 0..docs.len() {
        if state[start] != 0 || targets[start].is_empty() {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&t) = targets[node].get(*next) {
                *next += 1;
                match state[t] {
                    0 => {
                        state[t] = 1;
                        stack.push((t, 0));
                    }
                    1 if reported.insert(t) => {
                        let through = docs[t]
                            .native_id
                            .clone()
                            .unwrap_or_else(|| docs[t].title.clone());
                        let k = docs[node]
                            .links
                            .iter()
                            .position(|l| Some(l) == docs[t].native_id.as_ref())
                            .unwrap_or(0);
                        diags.push(ref_diag(
                            &docs[node],
                            k,
                            format!("correlation cycle through {through}"),
                        ));
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    diags
}

/// Adds each filter's (already finished) predicates to the rules it names, under a top-level
/// NOT, so they are exclusions there too. Returns the rules changed.
fn apply_filters(docs: &mut [RuleDoc], targets: &[Vec<usize>]) -> Vec<usize> {
    let mut changed = Vec::new();
    let filters: Vec<(usize, Lowered, String)> = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.kind == RuleKind::Query && d.extra.contains_key("sigma_filter"))
        .map(|(i, d)| {
            (
                i,
                d.lowered.clone(),
                d.native_id.clone().unwrap_or_else(|| d.title.clone()),
            )
        })
        .collect();
    for (fi, lowered, fid) in filters {
        for &t in &targets[fi] {
            let doc = &mut docs[t];
            if doc.kind != RuleKind::Rule || doc.vendor != Vendor::Sigma {
                continue;
            }
            changed.push(t);
            let mut add = lowered.clone();
            for p in &mut add.predicates {
                p.context.insert("sigma_filter".into(), fid.clone().into());
            }
            add.diagnostics.clear();
            let tree = doc.lowered.absorb(add);
            let old = std::mem::replace(&mut doc.lowered.tree, Condition::Const(true));
            doc.lowered.tree = Condition::and(vec![old, tree]);
            doc.settle_status();
            let filters = doc
                .extra
                .entry("sigma_filters")
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let Some(a) = filters.as_array_mut() {
                a.push(fid.clone().into());
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let a = SigmaAdapter::new();
        assert_eq!(a.role("rules/windows/x.yml"), FileRole::Rule);
        assert_eq!(a.role("rules-emerging-threats/2024/x.yaml"), FileRole::Rule);
        assert_eq!(a.role("deprecated/windows/x.yml"), FileRole::Rule);
        assert_eq!(a.role("tests/x.yml"), FileRole::Ignore);
        assert_eq!(a.role(".github/workflows/x.yml"), FileRole::Ignore);
        assert_eq!(a.role("rules/windows/README.md"), FileRole::Ignore);
        assert_eq!(a.role("x.yml"), FileRole::Ignore);
        // A source root inside a rules folder.
        assert_eq!(a.role("windows/process_creation/x.yml"), FileRole::Rule);
    }

    #[test]
    fn sniffing() {
        let a = SigmaAdapter::new();
        let rule = "title: x\nlogsource:\n  product: windows\ndetection:\n  sel:\n    A: 1\n  condition: sel\n";
        assert!(a.sniff("x.yml", rule));
        assert!(!a.sniff("x.toml", rule));
        assert!(a.sniff("x.yaml", "title: c\ncorrelation:\n  type: event_count\n"));
        assert!(!a.sniff("x.yml", "name: splunk\nsearch: index=x\n"));
    }

    #[test]
    fn block_slicing() {
        let t = "title: x\ndetection:\n    sel:\n        A: 1\n\n    # c\n    condition: sel\n# trailing\nlevel: high\n";
        let start = t.find("detection").unwrap_or(0);
        assert_eq!(
            block_at(t, start),
            "detection:\n    sel:\n        A: 1\n\n    # c\n    condition: sel"
        );
    }
}

#[cfg(test)]
mod predicate_limit_tests {
    use ruleatlas_model::VendorAdapter;

    /// Regression (robustness): a rule over `LIMITS.max_predicates` gets a `limit-predicates`
    /// diagnostic besides the unparsed leaves `Lowered::pred` makes of the rest.
    #[test]
    fn too_many_predicates_is_a_diagnostic() {
        let n = ruleatlas_model::LIMITS.max_predicates + 1;
        let fields: Vec<String> = (0..n).map(|i| format!("        F{i}: x")).collect();
        let text = format!(
            "title: Many\nid: many\nlogsource:\n    product: windows\ndetection:\n    selection:\n{}\n    condition: selection\n",
            fields.join("\n")
        );
        let (docs, _) = super::SigmaAdapter::new().load("rules/many.yml", &text);
        assert!(
            docs[0]
                .lowered
                .diagnostics
                .iter()
                .any(|d| d.code == "limit-predicates"),
            "{:?}",
            docs[0].lowered.diagnostics
        );
    }
}
