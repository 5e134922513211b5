//! The YARA-L vendor adapter: `*.yaral` files of chronicle/detection-rules (or any folder
//! of YARA-L rules) into [`RuleDoc`]s, one per `rule NAME { ... }` in the file.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    FileRole, LIMITS, Op, ParseStatus, PredicateKind, RuleDoc, RuleKind, Support, Value, Vendor,
    VendorAdapter,
};
use ruleatlas_text::LineIndex;
use serde_json::{Map, Value as Json};

use crate::ast::{ExprKind, Rule};
use crate::lexer::{TokenKind, lex};
use crate::lower::{LowerContext, lower_rule};
use crate::meta::{tactics_from_meta, technique_refs_from_meta};
use crate::parser::parse;

/// File extensions of YARA-L rule files.
const RULE_EXTENSIONS: &[&str] = &["yaral", "yaral2", "yl2", "yara-l", "yaral2.0"];
/// Other files read in a rule folder only to say they are not rules (dashboards, exports).
const NON_RULE_EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Reads YARA-L 2.0 rule files. Construct with [`YaralAdapter::new`].
#[derive(Debug, Clone, Default)]
pub struct YaralAdapter {
    ctx: LowerContext,
}

impl YaralAdapter {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

fn extension(rel_path: &str) -> String {
    let name = rel_path
        .rsplit('/')
        .next()
        .unwrap_or(rel_path)
        .to_ascii_lowercase();
    for ext in RULE_EXTENSIONS {
        if name.ends_with(&format!(".{ext}")) {
            return (*ext).to_string();
        }
    }
    name.rsplit_once('.')
        .map(|(_, e)| e.to_string())
        .unwrap_or_default()
}

fn is_deprecated_path(rel_path: &str) -> bool {
    rel_path
        .split('/')
        .any(|c| c.eq_ignore_ascii_case("deprecated") || c.eq_ignore_ascii_case("_deprecated"))
}

fn in_rules_folder(rel_path: &str) -> bool {
    let mut parts: Vec<&str> = rel_path.split('/').collect();
    parts.pop();
    parts
        .iter()
        .any(|c| c.eq_ignore_ascii_case("rules") || c.eq_ignore_ascii_case("community"))
}

/// Meta keys that fill dedicated [`RuleDoc`] fields (the rest go to `extra`).
const CONSUMED_KEYS: &[&str] = &[
    "rule_id",
    "rule_name",
    "description",
    "severity",
    "author",
    "reference",
    "references",
    "false_positives",
    "falsepositives",
    "status",
];

fn split_authors(v: &str) -> Vec<String> {
    v.split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn split_references(v: &str) -> Vec<String> {
    let parts: Vec<&str> = v
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .collect();
    let urls = parts.iter().filter(|p| p.contains("://")).count();
    if urls >= 2 && urls == parts.len() {
        parts.into_iter().map(str::to_string).collect()
    } else if v.trim().is_empty() {
        Vec::new()
    } else {
        vec![v.trim().to_string()]
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if !s.is_empty() && !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

impl YaralAdapter {
    fn rule_doc(
        &self,
        rel_path: &str,
        text: &str,
        lines: &LineIndex,
        rule: &Rule,
        diags: Vec<Diagnostic>,
    ) -> RuleDoc {
        let mut doc = RuleDoc::new(Vendor::Yaral, rel_path);
        doc.kind = RuleKind::Rule;
        doc.language = "yaral".into();
        doc.query = rule.span.slice(text).to_string();
        doc.deprecated = is_deprecated_path(rel_path);

        let meta: Vec<(&str, &str)> = rule
            .meta
            .iter()
            .flat_map(|m| &m.entries)
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        let get = |k: &str| {
            meta.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| *v)
        };

        doc.native_id = Some(
            get("rule_id")
                .filter(|s| !s.trim().is_empty())
                .unwrap_or(&rule.name)
                .trim()
                .to_string(),
        );
        doc.title = get("rule_name")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(&rule.name)
            .trim()
            .to_string();
        doc.description = get("description").map(str::to_string);
        doc.severity = get("severity").map(str::to_string);
        doc.rule_status = get("status")
            .or_else(|| get("sigma_status"))
            .map(str::to_string);
        if doc
            .rule_status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("deprecated"))
        {
            doc.deprecated = true;
        }
        if get("deprecated")
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
        {
            doc.deprecated = true;
        }
        for (k, v) in &meta {
            let k = k.to_ascii_lowercase();
            if k == "author" {
                for a in split_authors(v) {
                    push_unique(&mut doc.authors, &a);
                }
            } else if k == "reference"
                || k == "references"
                || (k.starts_with("reference") && k[9..].bytes().all(|b| b.is_ascii_digit()))
            {
                for r in split_references(v) {
                    push_unique(&mut doc.references, &r);
                }
            } else if k == "false_positives" || k == "falsepositives" {
                push_unique(&mut doc.false_positives, v);
            }
        }

        // ATT&CK: meta first, then the outcome variables some rules copy it into.
        let mut attack_pairs: Vec<(String, String)> = meta
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        for a in rule.outcome.iter().flat_map(|o| &o.assigns) {
            if let Some(e) = &a.expr
                && let ExprKind::Str(s) = &e.kind
                && (a.var.contains("mitre")
                    || a.var.contains("technique")
                    || a.var.contains("tactic"))
            {
                attack_pairs.push((a.var.clone(), s.clone()));
            }
        }
        let pairs = || attack_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        doc.techniques = technique_refs_from_meta(pairs());
        doc.tactics = tactics_from_meta(pairs());

        // Extra: the remaining meta, match window, outcome variables, options.
        let mut extra = Map::new();
        extra.insert("rule_name".into(), Json::String(rule.name.clone()));
        for (k, v) in &meta {
            if CONSUMED_KEYS.iter().any(|c| c.eq_ignore_ascii_case(k)) {
                continue;
            }
            match extra.get_mut(*k) {
                Some(Json::Array(a)) => a.push(Json::String((*v).to_string())),
                Some(existing) => {
                    let prev = existing.take();
                    *existing = Json::Array(vec![prev, Json::String((*v).to_string())]);
                }
                None => {
                    extra.insert((*k).to_string(), Json::String((*v).to_string()));
                }
            }
        }
        if let Some(m) = &rule.match_section {
            let mut mm = Map::new();
            mm.insert(
                "vars".into(),
                Json::Array(m.vars.iter().cloned().map(Json::String).collect()),
            );
            if let Some(w) = &m.window {
                mm.insert("window".into(), Json::String(w.clone()));
            }
            mm.insert("text".into(), Json::String(m.text.clone()));
            extra.insert("match".into(), Json::Object(mm));
        }
        if let Some(o) = &rule.outcome {
            let vars = o
                .assigns
                .iter()
                .map(|a| Json::String(format!("${}", a.var)))
                .collect();
            extra.insert("outcome_variables".into(), Json::Array(vars));
        }
        if let Some(opts) = &rule.options {
            let mut om = Map::new();
            for e in &opts.entries {
                om.insert(e.key.clone(), Json::String(e.value.clone()));
            }
            extra.insert("options".into(), Json::Object(om));
        }

        // Platforms and log sources named in meta.
        for (k, v) in &meta {
            let k = k.to_ascii_lowercase();
            let list: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            match k.as_str() {
                "platform" | "product" => {
                    for p in &list {
                        push_unique(&mut doc.raw_platforms, p);
                        if k == "product" {
                            doc.add_logsource("product", *p);
                        }
                    }
                }
                "data_source" => {
                    for p in &list {
                        push_unique(&mut doc.raw_platforms, p);
                        push_unique(&mut doc.raw_domains, p);
                        doc.add_logsource("data_source", *p);
                    }
                }
                "service" | "category" => {
                    for p in &list {
                        doc.add_logsource(&k, *p);
                    }
                }
                _ => {}
            }
        }

        if doc.query.len() > LIMITS.max_query_bytes {
            let d = Diagnostic::error(
                "limit-query-size",
                format!(
                    "rule longer than {} bytes; not read",
                    LIMITS.max_query_bytes
                ),
            )
            .with_path(rel_path)
            .at(lines.line_column(text, rule.span.start as usize));
            doc.lowered = ruleatlas_model::Lowered::default();
            doc.lowered.diagnostics.push(d);
            doc.extra = extra;
            doc.status = ParseStatus::Failed;
            return doc;
        }
        // The query.
        let mut lowered = lower_rule(rule, &self.ctx);
        lowered.diagnostics.extend(diags);
        lowered.finish();
        lowered.resolve_origins(rel_path, &|off| lines.line_column(text, off));
        let hints: Vec<(String, String)> = lowered
            .predicates
            .iter()
            .filter(|p| {
                p.kind == PredicateKind::Filter && !p.negated && matches!(p.op, Op::Eq | Op::In)
            })
            .flat_map(|p| {
                let key = match p.raw_field.as_str() {
                    "metadata.product_name" => "product",
                    "metadata.vendor_name" => "vendor",
                    "metadata.log_type" => "log_type",
                    "metadata.event_type" => "event_type",
                    _ => "",
                };
                p.values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(move |v| (key.to_string(), v.to_string()))
            })
            .filter(|(k, _)| !k.is_empty())
            .collect();
        for (k, v) in hints {
            doc.add_logsource(&k, v.clone());
            match k.as_str() {
                "product" | "vendor" => push_unique(&mut doc.raw_platforms, &v),
                "log_type" => {
                    push_unique(&mut doc.raw_platforms, &v);
                    push_unique(&mut doc.raw_domains, &v);
                }
                _ => {}
            }
        }
        let structural = !rule.closed
            || rule.events.is_none()
            || rule.condition.is_none()
            || rule.name.is_empty();
        doc.lowered = lowered;
        doc.extra = extra;
        if structural {
            doc.status = ParseStatus::Failed;
        }
        doc.settle_status();
        doc
    }
}

impl VendorAdapter for YaralAdapter {
    fn vendor(&self) -> Vendor {
        Vendor::Yaral
    }

    fn role(&self, rel_path: &str) -> FileRole {
        let ext = extension(rel_path);
        if RULE_EXTENSIONS.contains(&ext.as_str()) {
            FileRole::Rule
        } else if (NON_RULE_EXTENSIONS.contains(&ext.as_str()) || ext.is_empty())
            && in_rules_folder(rel_path)
        {
            // Also extension-less files: older revisions of chronicle/detection-rules stored
            // rules without `.yaral`. Loading sniffs them; non-rules get a diagnostic.
            // Read only to report that it is not a rule (a dashboard among the rules).
            FileRole::Rule
        } else {
            FileRole::Ignore
        }
    }

    fn prepare(&mut self, _support: &Support) -> Vec<Diagnostic> {
        Vec::new()
    }

    fn load(&self, rel_path: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        let lines = LineIndex::new(text);
        let at = |d: Diagnostic, off: usize| d.with_path(rel_path).at(lines.line_column(text, off));
        if !RULE_EXTENSIONS.contains(&extension(rel_path).as_str()) && !self.sniff(rel_path, text) {
            let d = Diagnostic::warning(
                "yaral-not-a-rule",
                "not a YARA-L rule file (no `rule NAME { ... }`); skipped",
            );
            return (Vec::new(), vec![at(d, 0)]);
        }
        if text.len() as u64 > LIMITS.max_file_bytes {
            let d = Diagnostic::error(
                "limit-file-size",
                format!("file larger than {} bytes", LIMITS.max_file_bytes),
            );
            return (
                vec![RuleDoc::failed(Vendor::Yaral, rel_path, at(d, 0))],
                Vec::new(),
            );
        }
        let parsed = parse(text);
        let mut file_diags = Vec::new();
        let mut per_rule: Vec<Vec<Diagnostic>> = vec![Vec::new(); parsed.ast.rules.len()];
        for d in parsed.diagnostics {
            let off = d.range.map_or(0, |r| r.start);
            match parsed
                .ast
                .rules
                .iter()
                .position(|r| r.span.start <= off && off < r.span.end.max(r.span.start + 1))
            {
                Some(i) => per_rule[i].push(d),
                None => {
                    let mut d = d;
                    d.locate(rel_path, &|o| lines.line_column(text, o));
                    file_diags.push(d);
                }
            }
        }
        if parsed.ast.rules.is_empty() {
            let d = Diagnostic::warning(
                "yaral-not-a-rule",
                "no YARA-L rule (`rule NAME { ... }`) in this file",
            );
            file_diags.push(at(d, 0));
            return (Vec::new(), file_diags);
        }
        let docs = parsed
            .ast
            .rules
            .iter()
            .zip(per_rule)
            .map(|(rule, diags)| self.rule_doc(rel_path, text, &lines, rule, diags))
            .collect();
        (docs, file_diags)
    }

    fn sniff(&self, _rel_path: &str, text: &str) -> bool {
        // `rule NAME {` and an `events:` section (plain YARA has `strings:`, never `events:`).
        let head = text.get(..text.len().min(256 * 1024)).unwrap_or(text);
        let toks = lex(head).tokens;
        let rule = toks.windows(3).any(|w| {
            w[0].is_word("rule")
                && matches!(w[1].kind, TokenKind::Ident(_))
                && w[2].kind == TokenKind::LBrace
        });
        let events = toks
            .windows(2)
            .any(|w| w[0].is_word("events") && w[1].kind == TokenKind::Colon);
        rule && events
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
        let lines: Vec<String> = (0..n).map(|i| format!("    $e.f{i} = \"x\"")).collect();
        let text = format!(
            "rule many {{\n  meta:\n    rule_id = \"many\"\n  events:\n{}\n  condition:\n    $e\n}}\n",
            lines.join("\n")
        );
        let (docs, _) = super::YaralAdapter::new().load("rules/many.yaral", &text);
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
