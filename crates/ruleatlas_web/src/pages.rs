//! The HTML pages: view models built from the index, rendered by askama templates.
//!
//! Every string taken from a rule reaches the page through askama's HTML escaping; the only
//! markup inserted unescaped is the highlighter's output, which escapes each character itself.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use ruleatlas_catalog::guide::{self, Guide, GuideFilter, ValueRow};
use ruleatlas_catalog::{Index, IndexedRule, query, stats};
use ruleatlas_model::Vendor;

use crate::highlight::highlight;
use crate::util::{enc, field_href, rule_href, safe_url, technique_href};

/// Rows shown before "show all".
const TOP_FIELDS: usize = 15;
const TOP_VALUES: usize = 25;
const TOP_FPS: usize = 10;

pub struct Link {
    pub href: String,
    pub label: String,
    pub active: bool,
}

fn vendor_display(key: &str) -> String {
    Vendor::parse(key).map_or_else(|| key.to_string(), |v| v.display().to_string())
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub title: String,
    pub status: u16,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Overview

pub struct Cell {
    pub href: String,
    pub id: String,
    pub name: String,
    pub count: usize,
    pub heat: u8,
    pub subs: usize,
}

pub struct Column {
    pub name: String,
    pub known: bool,
    pub cells: Vec<Cell>,
}

pub struct VendorRow {
    pub key: String,
    pub name: String,
    pub files: usize,
    pub rules: usize,
    pub full: usize,
    pub partial: usize,
    pub failed: usize,
    pub no_query: usize,
    pub coverage: String,
    pub deprecated: usize,
    pub hunts: usize,
}

pub struct TechLink {
    pub href: String,
    pub id: String,
    pub name: String,
    pub rules: usize,
    pub note: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub title: String,
    pub vendor_links: Vec<Link>,
    pub matrix_links: Vec<Link>,
    pub vendor_label: String,
    pub columns: Vec<Column>,
    pub vendors: Vec<VendorRow>,
    pub rules_total: usize,
    pub techniques_total: usize,
    pub no_rules: Vec<TechLink>,
    pub one_vendor: Vec<TechLink>,
    pub unknown: Vec<TechLink>,
}

/// Which ATT&CK matrix a technique belongs to (the bundles share tactic names across matrices).
fn matrix_of(t: &ruleatlas_catalog::TechniqueRow) -> &'static str {
    if t.id.starts_with("T08") {
        return "ics";
    }
    let mobile = !t.platforms.is_empty()
        && t.platforms
            .iter()
            .all(|p| p.eq_ignore_ascii_case("android") || p.eq_ignore_ascii_case("ios"));
    if mobile { "mobile" } else { "enterprise" }
}

fn heat(count: usize, max: usize) -> u8 {
    if count == 0 || max == 0 {
        return 0;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let level = if max <= 1 {
        5
    } else {
        1 + ((count as f64).ln() / (max as f64).ln() * 4.0).round() as u8
    };
    level.clamp(1, 5)
}

/// The overview: the ATT&CK matrix shaded by counted rules, vendors, gaps.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn overview(index: &Index, vendor: Option<Vendor>, matrix: &str) -> OverviewPage {
    let counted: Vec<&IndexedRule> = index
        .rules
        .iter()
        .filter(|r| r.is_counted(false) && vendor.is_none_or(|v| r.doc.vendor == v))
        .collect();
    // Rules per technique id (exact) and per parent (technique or any sub-technique).
    let mut exact: BTreeMap<&str, usize> = BTreeMap::new();
    let mut parent: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &counted {
        let mut parents = BTreeSet::new();
        for t in &r.techniques {
            *exact.entry(t.id.as_str()).or_default() += 1;
            parents.insert(t.id.split('.').next().unwrap_or(&t.id));
        }
        for p in parents {
            *parent.entry(p).or_default() += 1;
        }
    }
    let live = |t: &&ruleatlas_catalog::TechniqueRow| !t.revoked && !t.deprecated && t.known;

    let mut seen_cols = BTreeSet::new();
    let mut columns = Vec::new();
    for (tactic, known) in &index.tactics {
        let domain_ok = tactic.domain.contains(matrix) || (!known && matrix == "enterprise");
        if !domain_ok || !seen_cols.insert(tactic.shortname.clone()) {
            continue;
        }
        let mut cells: Vec<Cell> = index
            .techniques
            .values()
            .filter(live)
            .filter(|t| t.parent.is_none() && !t.id.contains('.') && matrix_of(t) == matrix)
            .filter(|t| t.tactics.iter().any(|x| x == &tactic.shortname))
            .map(|t| {
                let prefix = format!("{}.", t.id);
                Cell {
                    href: technique_href(&t.id),
                    id: t.id.clone(),
                    name: t.name.clone(),
                    count: parent.get(t.id.as_str()).copied().unwrap_or(0),
                    heat: 0,
                    subs: index
                        .techniques
                        .range(prefix.clone()..)
                        .take_while(|(k, _)| k.starts_with(&prefix))
                        .count(),
                }
            })
            .collect();
        cells.sort_by(|a, b| a.name.cmp(&b.name));
        columns.push(Column {
            name: tactic.name.clone(),
            known: *known,
            cells,
        });
    }
    let max = columns
        .iter()
        .flat_map(|c| c.cells.iter().map(|x| x.count))
        .max()
        .unwrap_or(0);
    for c in &mut columns {
        for cell in &mut c.cells {
            cell.heat = heat(cell.count, max);
        }
    }

    let st = stats::stats(index);
    let vendors = st
        .vendors
        .iter()
        .map(|(k, v)| VendorRow {
            key: k.clone(),
            name: vendor_display(k),
            files: v.files,
            rules: v.rules,
            full: v.full,
            partial: v.partial,
            failed: v.failed,
            no_query: v.no_query,
            coverage: format!("{:.1}%", v.coverage),
            deprecated: v.deprecated,
            hunts: v.hunts,
        })
        .collect();

    let no_rules = index
        .techniques
        .values()
        .filter(live)
        .filter(|t| matrix_of(t) == matrix && !exact.contains_key(t.id.as_str()))
        .map(|t| TechLink {
            href: technique_href(&t.id),
            id: t.id.clone(),
            name: t.name.clone(),
            rules: 0,
            note: t.tactics.join(", "),
        })
        .collect();

    let summaries = query::techniques(index, false, false);
    let one_vendor = summaries
        .iter()
        .filter(|s| s.vendors.len() == 1)
        .map(|s| TechLink {
            href: technique_href(&s.id),
            id: s.id.clone(),
            name: s.name.clone(),
            rules: s.rules,
            note: s
                .vendors
                .keys()
                .map(|k| vendor_display(k))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let unknown = summaries
        .iter()
        .filter(|s| !s.known)
        .map(|s| TechLink {
            href: technique_href(&s.id),
            id: s.id.clone(),
            name: s.name.clone(),
            rules: s.rules,
            note: s
                .revoked_by
                .clone()
                .map(|r| format!("revoked by {r}"))
                .unwrap_or_default(),
        })
        .collect();

    let vkey = vendor.map(Vendor::key);
    let q = |v: Option<&str>, m: &str| {
        let mut parts = Vec::new();
        if let Some(v) = v {
            parts.push(format!("vendor={v}"));
        }
        if m != "enterprise" {
            parts.push(format!("matrix={m}"));
        }
        if parts.is_empty() {
            "/".to_string()
        } else {
            format!("/?{}", parts.join("&"))
        }
    };
    let mut vendor_links = vec![Link {
        href: q(None, matrix),
        label: "All vendors".into(),
        active: vendor.is_none(),
    }];
    vendor_links.extend(Vendor::ALL.iter().map(|v| Link {
        href: q(Some(v.key()), matrix),
        label: v.display().to_string(),
        active: vendor == Some(*v),
    }));
    let matrix_links = ["enterprise", "mobile", "ics"]
        .iter()
        .map(|m| Link {
            href: q(vkey, m),
            label: match *m {
                "ics" => "ICS".to_string(),
                "mobile" => "Mobile".to_string(),
                _ => "Enterprise".to_string(),
            },
            active: *m == matrix,
        })
        .collect();
    OverviewPage {
        title: "Overview".into(),
        vendor_links,
        matrix_links,
        vendor_label: vendor.map_or_else(|| "all vendors".to_string(), |v| v.display().to_string()),
        columns,
        vendors,
        rules_total: counted.len(),
        techniques_total: exact.len(),
        no_rules,
        one_vendor,
        unknown,
    }
}

// ---------------------------------------------------------------------------------------------
// Technique (the authoring guide)

pub struct FieldView {
    pub field: String,
    pub href: String,
    pub rules: usize,
    pub how: String,
    pub samples: String,
    pub raw: String,
}

pub struct RuleLink {
    pub href: String,
    pub title: String,
    pub vendor: String,
}

pub struct ValueView {
    pub field: String,
    pub field_href: String,
    pub op: String,
    pub value: String,
    pub rules: usize,
    pub reach: String,
    pub used_by: Vec<RuleLink>,
}

pub struct FpView {
    pub text: String,
    pub rules: usize,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Select {
    pub name: String,
    pub label: String,
    pub options: Vec<Opt>,
}

pub struct GuideRuleView {
    pub href: String,
    pub title: String,
    pub platforms: String,
    pub domains: String,
    pub severity: String,
    pub rule_status: String,
    pub status: String,
    pub path: String,
    pub flags: String,
}

pub struct RuleGroup {
    pub vendor: String,
    pub count: usize,
    pub rules: Vec<GuideRuleView>,
}

#[derive(Template)]
#[template(path = "technique.html")]
pub struct TechniquePage {
    pub title: String,
    pub id: String,
    pub name: String,
    pub known: bool,
    pub revoked_by: Option<Link>,
    pub parent: Option<Link>,
    pub attack_url: Option<String>,
    pub tactics: String,
    pub description: Vec<String>,
    pub strategies: Vec<String>,
    pub selects: Vec<Select>,
    pub include_hunts: bool,
    pub filtered: bool,
    pub rule_count: usize,
    pub vendor_counts: String,
    pub subs: Vec<TechLink>,
    pub fields_total: usize,
    pub fields_top: Vec<FieldView>,
    pub fields_rest: Vec<FieldView>,
    pub ind_total: usize,
    pub ind_top: Vec<ValueView>,
    pub ind_rest: Vec<ValueView>,
    pub exc_total: usize,
    pub exc_top: Vec<ValueView>,
    pub exc_rest: Vec<ValueView>,
    pub fps_total: usize,
    pub fps_top: Vec<FpView>,
    pub fps_rest: Vec<FpView>,
    pub groups: Vec<RuleGroup>,
    pub api_href: String,
    pub clear_href: String,
}

fn ops_text(ops: &BTreeMap<String, usize>) -> String {
    let mut v: Vec<(&String, &usize)> = ops.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_view(index: &Index, row: &ValueRow) -> ValueView {
    let op = if row.negated && row.op != "ne" {
        format!("not {}", row.op)
    } else {
        row.op.clone()
    };
    ValueView {
        field: row.field.clone(),
        field_href: field_href(&row.field),
        op,
        value: row.value.clone(),
        rules: row.rules,
        reach: row
            .corpus_reach
            .filter(|&n| n != row.rules)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        used_by: row
            .rule_ids
            .iter()
            .map(|id| {
                let r = index.rule(id);
                RuleLink {
                    href: rule_href(id),
                    title: r.map_or_else(
                        || id.clone(),
                        |r| {
                            if r.doc.title.is_empty() {
                                id.clone()
                            } else {
                                r.doc.title.clone()
                            }
                        },
                    ),
                    vendor: r
                        .map(|r| r.doc.vendor.display().to_string())
                        .unwrap_or_default(),
                }
            })
            .collect(),
    }
}

/// ATT&CK descriptions are Markdown with `(Citation: ...)` markers: keep the text, as paragraphs.
fn plain_description(md: &str) -> Vec<String> {
    let mut text = String::with_capacity(md.len());
    let mut rest = md;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("(Citation:") {
            rest = after.find(')').map_or("", |n| &after[n + 1..]);
            continue;
        }
        if rest.starts_with('[')
            && let Some(close) = rest.find("](")
            && let Some(end) = rest[close..].find(')')
            && !rest[1..close].contains('[')
        {
            text.push_str(&rest[1..close]);
            rest = &rest[close + end + 1..];
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    text.split("\n\n")
        .map(|p| p.trim().replace("<code>", "").replace("</code>", ""))
        .filter(|p| !p.is_empty())
        .collect()
}

fn split_top<T>(mut v: Vec<T>, n: usize) -> (Vec<T>, Vec<T>) {
    let rest = if v.len() > n {
        v.split_off(n)
    } else {
        Vec::new()
    };
    (v, rest)
}

fn select(
    name: &str,
    label: &str,
    values: BTreeSet<String>,
    current: Option<&str>,
    show: impl Fn(&str) -> String,
) -> Select {
    let mut values = values;
    if let Some(c) = current {
        values.insert(c.to_string());
    }
    let mut options = vec![Opt {
        value: String::new(),
        label: "(all)".into(),
        selected: current.is_none(),
    }];
    options.extend(values.into_iter().map(|v| Opt {
        label: show(&v),
        selected: current.is_some_and(|c| c.eq_ignore_ascii_case(&v)),
        value: v,
    }));
    Select {
        name: name.into(),
        label: label.into(),
        options,
    }
}

/// The query string of a guide filter (empty when none).
#[must_use]
pub fn filter_query(f: &GuideFilter) -> String {
    let mut parts = Vec::new();
    let mut add = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            parts.push(format!("{k}={}", enc(v)));
        }
    };
    add("platform", f.platform.as_deref());
    add("domain", f.domain.as_deref());
    add("vendor", f.vendor.map(Vendor::key));
    add("severity", f.severity.as_deref());
    add("rule_status", f.rule_status.as_deref());
    if f.include_hunts {
        parts.push("include_hunts=true".into());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// The guide page of technique `id` under `filter`; `None` when the id is unknown.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn technique(index: &Index, id: &str, filter: &GuideFilter) -> Option<TechniquePage> {
    let g: Guide = guide::guide(index, id, filter, index.reach(filter.include_hunts))?;
    let t = &g.technique;

    // Filter choices: the values present among the technique's rules (before filtering).
    let mut platforms = BTreeSet::new();
    let mut domains = BTreeSet::new();
    let mut vendors = BTreeSet::new();
    let mut severities = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    for r in index
        .rules
        .iter()
        .filter(|r| r.is_counted(filter.include_hunts) && guide::rule_has_technique(r, id))
    {
        platforms.extend(r.doc.platforms.iter().cloned());
        domains.extend(r.doc.domains.iter().cloned());
        vendors.insert(r.doc.vendor.key().to_string());
        severities.extend(r.doc.severity.iter().cloned());
        statuses.extend(r.doc.rule_status.iter().cloned());
    }
    let same = |s: &str| s.to_string();
    let selects = vec![
        select(
            "platform",
            "Platform",
            platforms,
            filter.platform.as_deref(),
            same,
        ),
        select("domain", "Domain", domains, filter.domain.as_deref(), same),
        select(
            "vendor",
            "Vendor",
            vendors,
            filter.vendor.map(Vendor::key),
            vendor_display,
        ),
        select(
            "severity",
            "Severity",
            severities,
            filter.severity.as_deref(),
            same,
        ),
        select(
            "rule_status",
            "Rule status",
            statuses,
            filter.rule_status.as_deref(),
            same,
        ),
    ];

    let fields: Vec<FieldView> = g
        .fields
        .iter()
        .map(|f| FieldView {
            field: f.field.clone(),
            href: field_href(&f.field),
            rules: f.rules,
            how: ops_text(&f.ops),
            samples: f.samples.join(", "),
            raw: f
                .raw
                .iter()
                .map(|(v, r)| format!("{}: {}", vendor_display(v), r.join(", ")))
                .collect::<Vec<_>>()
                .join("; "),
        })
        .collect();
    let indicators: Vec<ValueView> = g.indicators.iter().map(|r| value_view(index, r)).collect();
    let exclusions: Vec<ValueView> = g.exclusions.iter().map(|r| value_view(index, r)).collect();
    let fps: Vec<FpView> = g
        .false_positives
        .iter()
        .map(|f| FpView {
            text: f.text.clone(),
            rules: f.rules,
        })
        .collect();

    let mut groups: Vec<RuleGroup> = Vec::new();
    for r in &g.rules {
        let vendor = vendor_display(&r.vendor);
        if groups.last().is_none_or(|gr| gr.vendor != vendor) {
            groups.push(RuleGroup {
                vendor: vendor.clone(),
                count: 0,
                rules: Vec::new(),
            });
        }
        let mut flags = Vec::new();
        if r.kind != "rule" {
            flags.push(r.kind.clone());
        }
        if r.building_block {
            flags.push("building block".to_string());
        }
        if !r.enabled {
            flags.push("disabled".to_string());
        }
        if let Some(gr) = groups.last_mut() {
            gr.count += 1;
            gr.rules.push(GuideRuleView {
                href: rule_href(&r.id),
                title: if r.title.is_empty() {
                    r.id.clone()
                } else {
                    r.title.clone()
                },
                platforms: r.platforms.join(", "),
                domains: r.domains.join(", "),
                severity: r.severity.clone().unwrap_or_default(),
                rule_status: r.rule_status.clone().unwrap_or_default(),
                status: r.status.clone(),
                path: r.path.clone(),
                flags: flags.join(", "),
            });
        }
    }

    let (fields_total, ind_total, exc_total, fps_total) =
        (fields.len(), indicators.len(), exclusions.len(), fps.len());
    let (fields_top, fields_rest) = split_top(fields, TOP_FIELDS);
    let (ind_top, ind_rest) = split_top(indicators, TOP_VALUES);
    let (exc_top, exc_rest) = split_top(exclusions, TOP_VALUES);
    let (fps_top, fps_rest) = split_top(fps, TOP_FPS);
    let name_of = |x: &str| {
        guide::technique_info(index, x)
            .map(|t| t.name)
            .unwrap_or_default()
    };
    Some(TechniquePage {
        title: format!("{} {}", t.id, t.name),
        id: t.id.clone(),
        name: t.name.clone(),
        known: t.known,
        revoked_by: t.revoked_by.as_ref().map(|r| Link {
            href: technique_href(r),
            label: format!("{r} {}", name_of(r)),
            active: false,
        }),
        parent: t.parent.as_ref().map(|p| Link {
            href: technique_href(p),
            label: format!("{p} {}", name_of(p)),
            active: false,
        }),
        attack_url: t.url.as_deref().and_then(safe_url).map(str::to_string),
        tactics: t
            .tactics
            .iter()
            .map(|x| {
                index
                    .tactics
                    .iter()
                    .find(|(ta, _)| &ta.shortname == x)
                    .map_or_else(|| x.clone(), |(ta, _)| ta.name.clone())
            })
            .collect::<Vec<_>>()
            .join(", "),
        description: plain_description(&t.description),
        strategies: t
            .detection_strategies
            .iter()
            .map(|d| format!("{} {}", d.id, d.name))
            .collect(),
        selects,
        include_hunts: filter.include_hunts,
        filtered: *filter != GuideFilter::default(),
        rule_count: g.rule_count,
        vendor_counts: g
            .vendors
            .iter()
            .map(|(k, n)| format!("{} {n}", vendor_display(k)))
            .collect::<Vec<_>>()
            .join(", "),
        subs: g
            .subtechniques
            .iter()
            .map(|s| TechLink {
                href: technique_href(&s.id),
                id: s.id.clone(),
                name: s.name.clone(),
                rules: s.rules,
                note: String::new(),
            })
            .collect(),
        fields_total,
        fields_top,
        fields_rest,
        ind_total,
        ind_top,
        ind_rest,
        exc_total,
        exc_top,
        exc_rest,
        fps_total,
        fps_top,
        fps_rest,
        groups,
        api_href: format!("/api/techniques/{}{}", enc(&t.id), filter_query(filter)),
        clear_href: technique_href(&t.id),
    })
}

// ---------------------------------------------------------------------------------------------
// Rule

pub struct Meta {
    pub label: String,
    pub value: String,
}

pub struct PredRow {
    pub field: String,
    pub field_href: String,
    pub raw_field: String,
    pub op: String,
    pub values: Vec<String>,
    pub case_sensitive: bool,
    pub negated: bool,
    pub exclusion: bool,
    pub kind: String,
    pub computed: bool,
    pub context: String,
    pub origin: String,
}

pub struct TextRow {
    pub a: String,
    pub b: String,
    pub c: String,
}

pub struct RefLink {
    pub href: Option<String>,
    pub text: String,
}

#[derive(Template)]
#[template(path = "rule.html")]
pub struct RulePage {
    pub title: String,
    pub id: String,
    pub vendor: String,
    pub description: String,
    pub meta: Vec<Meta>,
    pub techniques: Vec<TechLink>,
    pub references: Vec<RefLink>,
    pub false_positives: Vec<String>,
    pub language: String,
    pub query_html: String,
    pub predicates: Vec<PredRow>,
    pub unparsed: Vec<TextRow>,
    pub diagnostics: Vec<TextRow>,
    pub path: String,
    pub upstream: Option<String>,
    pub api_href: String,
}

/// The upstream repository of a vendor's public rules and its default branch.
fn upstream_repo(v: Vendor) -> (&'static str, &'static str) {
    match v {
        Vendor::Sigma => ("SigmaHQ/sigma", "master"),
        Vendor::Elastic => ("elastic/detection-rules", "main"),
        Vendor::Splunk => ("splunk/security_content", "develop"),
        Vendor::Kusto => ("Azure/Azure-Sentinel", "master"),
        Vendor::Yaral => ("chronicle/detection-rules", "main"),
        Vendor::Panther => ("panther-labs/panther-analysis", "main"),
    }
}

/// A link to the rule file in its public repository (at the rule's commit when known).
#[must_use]
pub fn upstream_url(r: &IndexedRule) -> Option<String> {
    let path = r.doc.path.trim_start_matches("./");
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|s| s == "..") {
        return None;
    }
    let (repo, branch) = upstream_repo(r.doc.vendor);
    let rev = r
        .commit
        .as_deref()
        .filter(|c| c.len() >= 7 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or(branch);
    let path: Vec<String> = path.split('/').map(enc).collect();
    Some(format!(
        "https://github.com/{repo}/blob/{rev}/{}",
        path.join("/")
    ))
}

fn opt(s: Option<&String>) -> String {
    s.cloned().unwrap_or_default()
}

/// The page of one rule.
#[must_use]
pub fn rule(r: &IndexedRule) -> RulePage {
    let d = &r.doc;
    let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
    let mut meta = vec![
        Meta {
            label: "Id".into(),
            value: r.id.clone(),
        },
        Meta {
            label: "Vendor".into(),
            value: d.vendor.display().into(),
        },
        Meta {
            label: "Kind".into(),
            value: d.kind.as_str().into(),
        },
        Meta {
            label: "Severity".into(),
            value: opt(d.severity.as_ref()),
        },
        Meta {
            label: "Rule status".into(),
            value: opt(d.rule_status.as_ref()),
        },
        Meta {
            label: "Parse status".into(),
            value: d.status.as_str().into(),
        },
        Meta {
            label: "Language".into(),
            value: d.language.clone(),
        },
        Meta {
            label: "Platforms".into(),
            value: d.platforms.join(", "),
        },
        Meta {
            label: "Domains".into(),
            value: d.domains.join(", "),
        },
        Meta {
            label: "Raw platforms".into(),
            value: d.raw_platforms.join(", "),
        },
        Meta {
            label: "Raw domains".into(),
            value: d.raw_domains.join(", "),
        },
        Meta {
            label: "Tactics".into(),
            value: d.tactics.join(", "),
        },
        Meta {
            label: "Log source".into(),
            value: d
                .logsource
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.join(", ")))
                .collect::<Vec<_>>()
                .join("; "),
        },
        Meta {
            label: "Deprecated".into(),
            value: yes(d.deprecated),
        },
        Meta {
            label: "Enabled".into(),
            value: yes(d.enabled),
        },
        Meta {
            label: "Building block".into(),
            value: yes(d.building_block),
        },
        Meta {
            label: "Authors".into(),
            value: d.authors.join(", "),
        },
        Meta {
            label: "Source".into(),
            value: r.source.clone(),
        },
    ];
    if let Some(c) = &r.commit {
        meta.push(Meta {
            label: "Commit".into(),
            value: c.clone(),
        });
    }
    meta.retain(|m| !m.value.is_empty());
    let predicates = d
        .lowered
        .predicates
        .iter()
        .map(|p| PredRow {
            field: p.field.clone(),
            field_href: field_href(&p.field),
            raw_field: p.raw_field.clone(),
            op: p.op.to_string(),
            values: p
                .values
                .iter()
                .map(ruleatlas_model::Value::to_text)
                .collect(),
            case_sensitive: p.case_sensitive,
            negated: p.negated,
            exclusion: p.exclusion,
            kind: p.kind.as_str().into(),
            computed: p.computed,
            context: if p.context.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&p.context).unwrap_or_default()
            },
            origin: p
                .origin
                .as_ref()
                .map(|o| format!("{}:{}:{}", o.path, o.line, o.column))
                .unwrap_or_default(),
        })
        .collect();
    let unparsed = d
        .lowered
        .unparsed
        .iter()
        .map(|u| TextRow {
            a: u.reason.clone(),
            b: u.text.clone(),
            c: u.origin
                .as_ref()
                .map(|o| format!("{}:{}:{}", o.path, o.line, o.column))
                .unwrap_or_default(),
        })
        .collect();
    let diagnostics = d
        .lowered
        .diagnostics
        .iter()
        .map(|x| {
            let at = match (&x.path, x.line, x.column) {
                (Some(p), Some(l), Some(c)) => format!("{p}:{l}:{c}"),
                (Some(p), Some(l), None) => format!("{p}:{l}"),
                (Some(p), _, _) => p.clone(),
                (None, Some(l), Some(c)) => format!("{l}:{c}"),
                _ => String::new(),
            };
            TextRow {
                a: format!("{:?}", x.severity).to_lowercase(),
                b: format!("{}: {}", x.code, x.message),
                c: at,
            }
        })
        .collect();
    RulePage {
        title: if d.title.is_empty() {
            r.id.clone()
        } else {
            d.title.clone()
        },
        id: r.id.clone(),
        vendor: d.vendor.display().into(),
        description: opt(d.description.as_ref()),
        meta,
        techniques: r
            .techniques
            .iter()
            .map(|t| TechLink {
                href: technique_href(&t.id),
                id: t.id.clone(),
                name: t.name.clone().unwrap_or_default(),
                rules: 0,
                note: match (&t.revoked_by, t.known) {
                    (Some(b), _) => format!("revoked by {b}"),
                    (None, false) => "unknown to the loaded ATT&CK version".into(),
                    (None, true) => String::new(),
                },
            })
            .collect(),
        references: d
            .references
            .iter()
            .map(|x| RefLink {
                href: safe_url(x).map(str::to_string),
                text: x.clone(),
            })
            .collect(),
        false_positives: d.false_positives.clone(),
        language: d.language.clone(),
        query_html: highlight(&d.language, &d.query),
        predicates,
        unparsed,
        diagnostics,
        path: d.path.clone(),
        upstream: upstream_url(r),
        api_href: format!("/api{}", rule_href(&r.id)),
    }
}

// ---------------------------------------------------------------------------------------------
// Fields

pub struct FieldListRow {
    pub field: String,
    pub href: String,
    pub rules: usize,
    pub vendors: String,
    pub raw: String,
}

#[derive(Template)]
#[template(path = "fields.html")]
pub struct FieldsPage {
    pub title: String,
    pub total: usize,
    pub top: Vec<FieldListRow>,
    pub rest: Vec<FieldListRow>,
}

fn vendor_counts(m: &BTreeMap<String, usize>) -> String {
    m.iter()
        .map(|(k, n)| format!("{} {n}", vendor_display(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn raw_names(m: &BTreeMap<String, Vec<String>>) -> String {
    m.iter()
        .map(|(k, r)| format!("{}: {}", vendor_display(k), r.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every field used by counted rules.
#[must_use]
pub fn fields(index: &Index) -> FieldsPage {
    let rows: Vec<FieldListRow> = query::fields(index)
        .into_iter()
        .map(|f| FieldListRow {
            href: field_href(&f.field),
            rules: f.rules,
            vendors: vendor_counts(&f.vendors),
            raw: raw_names(&f.raw),
            field: f.field,
        })
        .collect();
    let total = rows.len();
    let (top, rest) = split_top(rows, 300);
    FieldsPage {
        title: "Fields".into(),
        total,
        top,
        rest,
    }
}

pub struct Count {
    pub label: String,
    pub href: String,
    pub count: usize,
}

pub struct FieldVendor {
    pub vendor: String,
    pub rules: usize,
    pub raw: String,
}

pub struct LinkGroup {
    pub vendor: String,
    pub count: usize,
    pub top: Vec<RuleLink>,
    pub rest: Vec<RuleLink>,
}

#[derive(Template)]
#[template(path = "field.html")]
pub struct FieldPage {
    pub title: String,
    pub field: String,
    pub rules: usize,
    pub vendors: Vec<FieldVendor>,
    pub ops: String,
    pub samples: Vec<Count>,
    pub techniques: Vec<Count>,
    pub groups: Vec<LinkGroup>,
    pub api_href: String,
}

fn rule_link(index: &Index, id: &str) -> RuleLink {
    let r = index.rule(id);
    RuleLink {
        href: rule_href(id),
        title: r.map_or_else(
            || id.to_string(),
            |r| {
                if r.doc.title.is_empty() {
                    id.to_string()
                } else {
                    r.doc.title.clone()
                }
            },
        ),
        vendor: r
            .map(|r| r.doc.vendor.display().to_string())
            .unwrap_or_default(),
    }
}

/// One field: raw names per vendor, samples, techniques, rules.
#[must_use]
pub fn field(index: &Index, name: &str) -> Option<FieldPage> {
    let d = query::field_detail(index, name)?;
    let vendors = d
        .summary
        .vendors
        .iter()
        .map(|(k, n)| FieldVendor {
            vendor: vendor_display(k),
            rules: *n,
            raw: d
                .summary
                .raw
                .get(k)
                .map(|r| r.join(", "))
                .unwrap_or_default(),
        })
        .collect();
    let mut by_vendor: BTreeMap<Vendor, Vec<RuleLink>> = BTreeMap::new();
    for id in &d.rule_ids {
        if let Some(r) = index.rule(id) {
            by_vendor
                .entry(r.doc.vendor)
                .or_default()
                .push(rule_link(index, id));
        }
    }
    let groups = by_vendor
        .into_iter()
        .map(|(v, links)| {
            let count = links.len();
            let (top, rest) = split_top(links, 50);
            LinkGroup {
                vendor: v.display().into(),
                count,
                top,
                rest,
            }
        })
        .collect();
    let search = |v: &str| {
        format!(
            "/search?q={}",
            enc(&format!("field:{} value:\"{}\"", d.summary.field, v))
        )
    };
    Some(FieldPage {
        title: format!("Field {}", d.summary.field),
        field: d.summary.field.clone(),
        rules: d.summary.rules,
        vendors,
        ops: ops_text(&d.ops),
        samples: d
            .samples
            .iter()
            .map(|(v, n)| Count {
                label: v.clone(),
                href: search(v),
                count: *n,
            })
            .collect(),
        techniques: d
            .techniques
            .iter()
            .map(|(t, n)| {
                let name = guide::technique_info(index, t)
                    .map(|x| x.name)
                    .unwrap_or_default();
                Count {
                    label: format!("{t} {name}"),
                    href: technique_href(t),
                    count: *n,
                }
            })
            .collect(),
        groups,
        api_href: format!("/api{}", field_href(&d.summary.field)),
    })
}

// ---------------------------------------------------------------------------------------------
// Search

pub struct SearchRow {
    pub href: String,
    pub title: String,
    pub id: String,
    pub status: String,
    pub path: String,
    pub techniques: Vec<Link>,
}

pub struct SearchGroup {
    pub vendor: String,
    pub rows: Vec<SearchRow>,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub title: String,
    pub q: String,
    pub searched: bool,
    pub total: usize,
    pub groups: Vec<SearchGroup>,
    pub api_href: String,
}

/// Rules per vendor the search shows.
pub const SEARCH_LIMIT: usize = 200;

/// The search page for `q` (empty: just the form).
#[must_use]
pub fn search(index: &Index, q: &str) -> SearchPage {
    let parsed = query::SearchQuery::parse(q);
    let hits = query::search(index, &parsed, SEARCH_LIMIT);
    let groups: Vec<SearchGroup> = hits
        .into_iter()
        .map(|(v, rules)| SearchGroup {
            vendor: v.display().into(),
            rows: rules
                .into_iter()
                .map(|r| SearchRow {
                    href: rule_href(&r.id),
                    title: if r.doc.title.is_empty() {
                        r.id.clone()
                    } else {
                        r.doc.title.clone()
                    },
                    id: r.id.clone(),
                    status: r.doc.status.as_str().into(),
                    path: r.doc.path.clone(),
                    techniques: r
                        .techniques
                        .iter()
                        .map(|t| Link {
                            href: technique_href(&t.id),
                            label: t.id.clone(),
                            active: false,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    SearchPage {
        title: if q.is_empty() {
            "Search".into()
        } else {
            format!("Search: {q}")
        },
        q: q.to_string(),
        searched: !parsed.is_empty(),
        total: groups.iter().map(|g| g.rows.len()).sum(),
        groups,
        api_href: format!("/api/search?q={}", enc(q)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_markdown_links_and_citations() {
        let d = plain_description(
            "Adversaries may use [MFA](https://attack.mitre.org/techniques/T1111) requests.(Citation: Mandiant APT29)\n\nMore <code>x</code>.",
        );
        assert_eq!(
            d,
            vec![
                "Adversaries may use MFA requests.".to_string(),
                "More x.".to_string()
            ]
        );
    }

    #[test]
    fn upstream_links_use_the_vendor_repository() {
        let mut doc = ruleatlas_model::RuleDoc::new(Vendor::Splunk, "detections/cloud/a b.yml");
        doc.title = "t".into();
        let mut r = IndexedRule {
            id: "splunk:x".into(),
            source: String::new(),
            commit: None,
            doc,
            techniques: Vec::new(),
        };
        assert_eq!(
            upstream_url(&r).as_deref(),
            Some(
                "https://github.com/splunk/security_content/blob/develop/detections/cloud/a%20b.yml"
            )
        );
        r.commit = Some("0123456789abcdef".into());
        assert!(upstream_url(&r).is_some_and(|u| u.contains("/blob/0123456789abcdef/")));
        r.doc.path = "../etc/passwd".into();
        assert_eq!(upstream_url(&r), None);
    }
}
