//! Read-only commands over a catalog: stats, guide, rule, techniques, fields, search, coverage.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ruleatlas_catalog::guide::{Guide, GuideFilter, ValueRow, guide as make_guide};
use ruleatlas_catalog::query::{self, SearchQuery};
use ruleatlas_catalog::{Index, stats as catalog_stats};
use ruleatlas_model::Vendor;
use serde::Serialize;

use super::{CliError, CliResult, open_catalog, parse_vendor, print_json};
use crate::term;

pub fn stats(catalog: &Path, json: bool) -> CliResult {
    let index = open_catalog(catalog)?;
    let s = catalog_stats::stats(&index);
    if json {
        print_json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = term::table(&[
        "vendor",
        "files",
        "rules",
        "full",
        "partial",
        "failed",
        "no query",
        "coverage",
        "deprecated",
        "hunts",
    ]);
    for (v, vs) in &s.vendors {
        t.add_row(vec![
            v.clone(),
            vs.files.to_string(),
            vs.rules.to_string(),
            vs.full.to_string(),
            vs.partial.to_string(),
            vs.failed.to_string(),
            vs.no_query.to_string(),
            format!("{:.2}%", vs.coverage),
            vs.deprecated.to_string(),
            vs.hunts.to_string(),
        ]);
    }
    println!("{t}");
    let mut langs = term::table(&["vendor", "language", "rules", "full"]);
    for (v, vs) in &s.vendors {
        for (l, ls) in &vs.languages {
            langs.add_row(vec![
                v.clone(),
                l.clone(),
                ls.rules.to_string(),
                ls.full.to_string(),
            ]);
        }
    }
    println!("{langs}");
    let mut reasons = term::table(&["vendor", "unparsed reason", "fragments"]);
    for (v, vs) in &s.vendors {
        let mut rs: Vec<_> = vs.unparsed_reasons.iter().collect();
        rs.sort_by(|a, b| b.1.cmp(a.1));
        for (r, n) in rs.into_iter().take(5) {
            reasons.add_row(vec![v.clone(), term::cut(r, 70), n.to_string()]);
        }
    }
    println!("{reasons}");
    println!(
        "{} rules, {} predicates, {} techniques; built in {:.2}s",
        s.rules, s.predicates, s.techniques, s.build_seconds
    );
    Ok(ExitCode::SUCCESS)
}

pub struct GuideArgs {
    pub technique: String,
    pub catalog: PathBuf,
    pub json: bool,
    pub markdown: bool,
    pub platform: Option<String>,
    pub domain: Option<String>,
    pub vendor: Option<String>,
    pub include_hunts: bool,
    pub top: usize,
}

/// Normalizes a technique argument (`t1621`, `T1078/004`).
pub fn technique_arg(raw: &str) -> Result<String, CliError> {
    ruleatlas_attack::normalize_technique_id(raw).ok_or_else(|| {
        CliError::Usage(format!(
            "`{raw}` is not a technique id (expected e.g. T1621 or T1078.004)"
        ))
    })
}

pub fn guide(a: &GuideArgs) -> CliResult {
    let id = technique_arg(&a.technique)?;
    let index = open_catalog(&a.catalog)?;
    let filter = GuideFilter {
        platform: a.platform.clone(),
        domain: a.domain.clone(),
        vendor: parse_vendor(a.vendor.as_deref())?,
        severity: None,
        rule_status: None,
        include_hunts: a.include_hunts,
    };
    let reach = index.reach(a.include_hunts);
    let g = make_guide(&index, &id, &filter, reach).ok_or_else(|| {
        CliError::Failed(format!(
            "technique {id} is not in the catalog (no ATT&CK entry, no rule)"
        ))
    })?;
    if a.json {
        print_json(&g)?;
    } else if a.markdown {
        print!("{}", guide_markdown(&g, a.top));
    } else {
        print!("{}", guide_text(&g, a.top));
    }
    Ok(ExitCode::SUCCESS)
}

fn reach_cell(r: &ValueRow) -> String {
    match r.corpus_reach {
        Some(n) if n != r.rules => n.to_string(),
        _ => String::new(),
    }
}

fn op_cell(r: &ValueRow) -> String {
    if r.negated && r.op != "ne" {
        format!("not {}", r.op)
    } else {
        r.op.clone()
    }
}

fn ops_cell(ops: &BTreeMap<String, usize>) -> String {
    let mut v: Vec<_> = ops.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(o, n)| format!("{o} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn more(total: usize, shown: usize) -> String {
    if total > shown {
        format!("  ({} more rows: --json has every row)\n", total - shown)
    } else {
        String::new()
    }
}

/// The guide for a terminal.
#[must_use]
pub fn guide_text(g: &Guide, top: usize) -> String {
    let mut s = String::new();
    let t = &g.technique;
    let _ = writeln!(s, "{}", term::bold(&format!("{} {}", t.id, t.name)));
    if !t.tactics.is_empty() {
        let _ = writeln!(s, "Tactics: {}", t.tactics.join(", "));
    }
    if !t.known {
        let _ = writeln!(
            s,
            "(not in the loaded ATT&CK version: named from rule metadata)"
        );
    }
    if let Some(r) = &t.revoked_by {
        let _ = writeln!(s, "Revoked: replaced by {r}");
    }
    if let Some(first) = t.description.split("\n\n").next().filter(|d| !d.is_empty()) {
        let _ = writeln!(s, "\n{}", term::cut(first, 600));
    }
    let vendors: Vec<String> = g.vendors.iter().map(|(v, n)| format!("{v} {n}")).collect();
    let _ = writeln!(s, "\n{} rules: {}", g.rule_count, vendors.join(", "));
    if !g.subtechniques.is_empty() {
        let subs: Vec<String> = g
            .subtechniques
            .iter()
            .map(|x| format!("{} {} ({})", x.id, x.name, x.rules))
            .collect();
        let _ = writeln!(s, "Sub-techniques: {}", subs.join("; "));
    }

    let _ = writeln!(
        s,
        "\n{}",
        term::bold(&format!(
            "Fields filtered most ({} distinct)",
            g.fields.len()
        ))
    );
    let mut tb = term::table(&["Field", "Rules", "How", "Sample values"]);
    for f in g.fields.iter().take(top) {
        tb.add_row(vec![
            f.field.clone(),
            f.rules.to_string(),
            ops_cell(&f.ops),
            term::cut(&f.samples.join(", "), 70),
        ]);
    }
    let _ = writeln!(s, "{tb}");
    s.push_str(&more(g.fields.len(), top));

    let _ = writeln!(
        s,
        "\n{}",
        term::bold(&format!(
            "Top indicator values ({} distinct)",
            g.indicators.len()
        ))
    );
    let mut tb = term::table(&["Field", "Kind", "Value", "Rules (here)", "Corpus reach"]);
    for r in g.indicators.iter().take(top) {
        tb.add_row(vec![
            r.field.clone(),
            op_cell(r),
            term::cut(&r.value, 60),
            r.rules.to_string(),
            reach_cell(r),
        ]);
    }
    let _ = writeln!(s, "{tb}");
    s.push_str(&more(g.indicators.len(), top));

    let _ = writeln!(
        s,
        "\n{}",
        term::bold(&format!("Exclusions ({} distinct)", g.exclusions.len()))
    );
    let mut tb = term::table(&["Field", "Kind", "Value", "Rules excluding"]);
    for r in g.exclusions.iter().take(top) {
        tb.add_row(vec![
            r.field.clone(),
            op_cell(r),
            term::cut(&r.value, 60),
            r.rules.to_string(),
        ]);
    }
    let _ = writeln!(s, "{tb}");
    s.push_str(&more(g.exclusions.len(), top));

    if !g.false_positives.is_empty() {
        let _ = writeln!(s, "\n{}", term::bold("Documented false positives"));
        for fp in g.false_positives.iter().take(top) {
            let _ = writeln!(s, "  {:>3}  {}", fp.rules, term::cut(&fp.text, 110));
        }
        s.push_str(&more(g.false_positives.len(), top));
    }

    let _ = writeln!(s, "\n{}", term::bold("Rules"));
    let mut tb = term::table(&[
        "Vendor",
        "Title",
        "Platforms",
        "Severity",
        "Rule status",
        "Parse",
        "Id",
    ]);
    for r in &g.rules {
        tb.add_row(vec![
            r.vendor.clone(),
            term::cut(&r.title, 60),
            r.platforms.join(", "),
            r.severity.clone().unwrap_or_default(),
            r.rule_status.clone().unwrap_or_default(),
            r.status.clone(),
            r.id.clone(),
        ]);
    }
    let _ = writeln!(s, "{tb}");
    s
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The guide as Markdown.
#[must_use]
pub fn guide_markdown(g: &Guide, top: usize) -> String {
    let mut s = String::new();
    let t = &g.technique;
    let _ = writeln!(s, "# {} {}\n", t.id, md_escape(&t.name));
    if !t.tactics.is_empty() {
        let _ = writeln!(s, "Tactics: {}\n", t.tactics.join(", "));
    }
    if let Some(first) = t.description.split("\n\n").next().filter(|d| !d.is_empty()) {
        let _ = writeln!(s, "{}\n", md_escape(first));
    }
    let vendors: Vec<String> = g.vendors.iter().map(|(v, n)| format!("{v} {n}")).collect();
    let _ = writeln!(s, "{} rules: {}\n", g.rule_count, vendors.join(", "));
    let _ = writeln!(
        s,
        "## Fields filtered most ({} distinct)\n\n| Field | Rules | How | Sample values |\n|---|---|---|---|",
        g.fields.len()
    );
    for f in g.fields.iter().take(top) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            md_escape(&f.field),
            f.rules,
            ops_cell(&f.ops),
            md_escape(&f.samples.join(", "))
        );
    }
    let _ = writeln!(
        s,
        "\n## Top indicator values ({} distinct)\n\n| Field | Kind | Value | Rules (here) | Corpus reach |\n|---|---|---|---|---|",
        g.indicators.len()
    );
    for r in g.indicators.iter().take(top) {
        let _ = writeln!(
            s,
            "| {} | {} | `{}` | {} | {} |",
            md_escape(&r.field),
            op_cell(r),
            md_escape(&r.value),
            r.rules,
            reach_cell(r)
        );
    }
    let _ = writeln!(
        s,
        "\n## Exclusions ({} distinct)\n\n| Field | Kind | Value | Rules excluding |\n|---|---|---|---|",
        g.exclusions.len()
    );
    for r in g.exclusions.iter().take(top) {
        let _ = writeln!(
            s,
            "| {} | {} | `{}` | {} |",
            md_escape(&r.field),
            op_cell(r),
            md_escape(&r.value),
            r.rules
        );
    }
    if !g.false_positives.is_empty() {
        let _ = writeln!(s, "\n## Documented false positives\n");
        for fp in g.false_positives.iter().take(top) {
            let _ = writeln!(s, "- ({}) {}", fp.rules, md_escape(&fp.text));
        }
    }
    let _ = writeln!(s, "\n## Rules\n");
    let mut by_vendor: BTreeMap<usize, Vec<&ruleatlas_catalog::guide::GuideRule>> = BTreeMap::new();
    for r in &g.rules {
        by_vendor
            .entry(Vendor::parse(&r.vendor).map_or(9, |v| v as usize))
            .or_default()
            .push(r);
    }
    for rules in by_vendor.values() {
        let name = Vendor::parse(&rules[0].vendor)
            .map_or_else(|| rules[0].vendor.clone(), |v| v.display().to_string());
        let _ = writeln!(
            s,
            "### {name} ({})\n\n| Title | Platforms | Domains | Severity | Rule status | Parse | Path |\n|---|---|---|---|---|---|---|",
            rules.len()
        );
        for r in rules {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | `{}` |",
                md_escape(&r.title),
                r.platforms.join(", "),
                r.domains.join(", "),
                r.severity.as_deref().unwrap_or(""),
                r.rule_status.as_deref().unwrap_or(""),
                r.status,
                md_escape(&r.path)
            );
        }
        s.push('\n');
    }
    s
}

pub fn rule(catalog: &Path, id: &str, json: bool) -> CliResult {
    let index = open_catalog(catalog)?;
    let r = query::find_rule(&index, id).ok_or_else(|| {
        CliError::Failed(format!(
            "no rule `{id}` in the catalog (try `ruleatlas search {id}`)"
        ))
    })?;
    if json {
        print_json(&query::rule_json(r))?;
        return Ok(ExitCode::SUCCESS);
    }
    let attack_loaded = index.meta.get("attack").is_some_and(|a| a != "[]");
    print!("{}", rule_text(r, attack_loaded));
    Ok(ExitCode::SUCCESS)
}

/// A rule for a terminal (also used by `check`).
#[must_use]
pub fn rule_text(r: &ruleatlas_catalog::IndexedRule, attack_loaded: bool) -> String {
    let d = &r.doc;
    let mut s = String::new();
    let _ = writeln!(s, "{}", term::bold(&format!("{}  {}", r.id, d.title)));
    let _ = writeln!(
        s,
        "{} {} | {} | severity {} | rule status {} | parse {}{}{}",
        d.vendor.display(),
        d.kind.as_str(),
        d.language,
        d.severity.as_deref().unwrap_or("-"),
        d.rule_status.as_deref().unwrap_or("-"),
        d.status.as_str(),
        if d.deprecated { " | deprecated" } else { "" },
        if d.enabled { "" } else { " | disabled" },
    );
    let _ = writeln!(
        s,
        "path: {}{}",
        d.path,
        r.commit
            .as_deref()
            .map(|c| format!(" @ {c}"))
            .unwrap_or_default()
    );
    let techs: Vec<String> = r
        .techniques
        .iter()
        .map(|t| {
            format!(
                "{}{}{}",
                t.id,
                t.name
                    .as_deref()
                    .map(|n| format!(" {n}"))
                    .unwrap_or_default(),
                if t.known || !attack_loaded {
                    ""
                } else {
                    " (unknown to the loaded ATT&CK)"
                }
            )
        })
        .collect();
    if !techs.is_empty() {
        let _ = writeln!(s, "techniques: {}", techs.join("; "));
    }
    let _ = writeln!(
        s,
        "platforms: {} | domains: {}",
        d.platforms.join(", "),
        d.domains.join(", ")
    );
    let mut tb = term::table(&[
        "field",
        "raw field",
        "op",
        "values",
        "neg",
        "excl",
        "kind",
        "at",
    ]);
    for p in &d.lowered.predicates {
        let values: Vec<String> = p
            .values
            .iter()
            .map(ruleatlas_model::Value::to_text)
            .collect();
        tb.add_row(vec![
            p.field.clone(),
            if p.raw_field == p.field {
                String::new()
            } else {
                p.raw_field.clone()
            },
            format!("{}{}", p.op, if p.case_sensitive { " (cs)" } else { "" }),
            term::cut(&values.join(", "), 60),
            if p.negated {
                "yes".into()
            } else {
                String::new()
            },
            if p.exclusion {
                "yes".into()
            } else {
                String::new()
            },
            format!(
                "{}{}",
                p.kind.as_str(),
                if p.computed { ", computed" } else { "" }
            ),
            p.origin
                .as_ref()
                .map(|o| {
                    if o.path == d.path {
                        format!("{}:{}", o.line, o.column)
                    } else {
                        format!("{}:{}:{}", o.path, o.line, o.column)
                    }
                })
                .unwrap_or_default(),
        ]);
    }
    let _ = writeln!(s, "{tb}");
    for u in &d.lowered.unparsed {
        let _ = writeln!(s, "unparsed: {} ({})", term::cut(&u.text, 90), u.reason);
    }
    for dg in &d.lowered.diagnostics {
        let _ = writeln!(s, "{dg}");
    }
    s
}

pub fn techniques(catalog: &Path, json: bool, include_hunts: bool) -> CliResult {
    let index = open_catalog(catalog)?;
    let list = query::techniques(&index, include_hunts, false);
    if json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut header = vec!["technique", "name", "tactics", "rules"];
    header.extend(Vendor::ALL.iter().map(|v| v.key()));
    let mut t = term::table(&header);
    for x in &list {
        let mut row = vec![
            format!("{}{}", x.id, if x.known { "" } else { "*" }),
            term::cut(&x.name, 50),
            x.tactics.join(", "),
            x.rules.to_string(),
        ];
        row.extend(Vendor::ALL.iter().map(|v| {
            x.vendors
                .get(v.key())
                .map(ToString::to_string)
                .unwrap_or_default()
        }));
        t.add_row(row);
    }
    println!("{t}");
    println!(
        "{} techniques (* = unknown to the loaded ATT&CK version)",
        list.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn fields(catalog: &Path, field: Option<&str>, json: bool) -> CliResult {
    let index = open_catalog(catalog)?;
    if let Some(f) = field {
        let d = query::field_detail(&index, f)
            .ok_or_else(|| CliError::Failed(format!("no counted rule filters on field `{f}`")))?;
        if json {
            print_json(&d)?;
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "{}  ({} rules)",
            term::bold(&d.summary.field),
            d.summary.rules
        );
        for (v, raws) in &d.summary.raw {
            println!(
                "  {v:<8} {} rules: {}",
                d.summary.vendors.get(v).copied().unwrap_or(0),
                raws.join(", ")
            );
        }
        println!("ops: {}", ops_cell(&d.ops));
        let samples: Vec<String> = d
            .samples
            .iter()
            .take(15)
            .map(|(v, n)| format!("{v} ({n})"))
            .collect();
        println!("values: {}", samples.join(", "));
        let techs: Vec<String> = d
            .techniques
            .iter()
            .take(10)
            .map(|(t, n)| format!("{t} ({n})"))
            .collect();
        println!("techniques: {}", techs.join(", "));
        return Ok(ExitCode::SUCCESS);
    }
    let list = query::fields(&index);
    if json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = term::table(&["field", "rules", "vendors", "raw names"]);
    for f in list.iter().take(60) {
        let vendors: Vec<String> = f.vendors.iter().map(|(v, n)| format!("{v} {n}")).collect();
        let raws: Vec<String> = f
            .raw
            .iter()
            .map(|(v, r)| format!("{v}: {}", r.join(" ")))
            .collect();
        t.add_row(vec![
            f.field.clone(),
            f.rules.to_string(),
            vendors.join(", "),
            term::cut(&raws.join("; "), 90),
        ]);
    }
    println!("{t}");
    println!(
        "{} fields ({} shown; --json has all)",
        list.len(),
        list.len().min(60)
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct SearchHit<'a> {
    id: &'a str,
    vendor: &'a str,
    title: &'a str,
    status: &'a str,
    techniques: Vec<&'a str>,
    path: &'a str,
}

pub fn search(catalog: &Path, q: &str, json: bool) -> CliResult {
    let index = open_catalog(catalog)?;
    let parsed = SearchQuery::parse(q);
    if parsed.is_empty() {
        return Err(CliError::Usage(
            "empty search: give words, field:NAME, value:TEXT, vendor:V or technique:T".into(),
        ));
    }
    let groups = query::search(&index, &parsed, 200);
    let hits: BTreeMap<&str, Vec<SearchHit>> = groups
        .iter()
        .map(|(v, rules)| {
            (
                v.key(),
                rules
                    .iter()
                    .map(|r| SearchHit {
                        id: &r.id,
                        vendor: r.doc.vendor.key(),
                        title: &r.doc.title,
                        status: r.doc.status.as_str(),
                        techniques: r.techniques.iter().map(|t| t.id.as_str()).collect(),
                        path: &r.doc.path,
                    })
                    .collect(),
            )
        })
        .collect();
    if json {
        print_json(&hits)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut total = 0;
    for (v, list) in &hits {
        println!(
            "{} ({})",
            term::bold(Vendor::parse(v).map_or(*v, Vendor::display)),
            list.len()
        );
        for h in list {
            println!(
                "  {}  {}  [{}]",
                h.id,
                term::cut(h.title, 70),
                h.techniques.join(", ")
            );
        }
        total += list.len();
    }
    if total == 0 {
        println!("no rule matches");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct CoverageRow {
    tactic: String,
    technique: String,
    name: String,
    rules: usize,
    vendors: BTreeMap<String, usize>,
    gap: Option<&'static str>,
}

pub fn coverage(
    catalog: &Path,
    vendor: Option<&str>,
    tactic: Option<&str>,
    json: bool,
) -> CliResult {
    let index = open_catalog(catalog)?;
    let vendor = parse_vendor(vendor)?;
    let rows = coverage_rows(&index, vendor, tactic);
    if json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut header = vec!["tactic", "technique", "name", "rules"];
    header.extend(Vendor::ALL.iter().map(|v| v.key()));
    header.push("gap");
    let mut t = term::table(&header);
    for r in &rows {
        let mut row = vec![
            r.tactic.clone(),
            r.technique.clone(),
            term::cut(&r.name, 40),
            r.rules.to_string(),
        ];
        row.extend(Vendor::ALL.iter().map(|v| {
            r.vendors
                .get(v.key())
                .map(ToString::to_string)
                .unwrap_or_default()
        }));
        row.push(r.gap.unwrap_or("").to_string());
        t.add_row(row);
    }
    println!("{t}");
    let none = rows.iter().filter(|r| r.gap == Some("no rules")).count();
    let one = rows.iter().filter(|r| r.gap == Some("one vendor")).count();
    println!(
        "{} technique rows; gaps: {none} with no rules, {one} with rules of one vendor only",
        rows.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn coverage_rows(index: &Index, vendor: Option<Vendor>, tactic: Option<&str>) -> Vec<CoverageRow> {
    let list = query::techniques(index, false, true);
    let mut rows = Vec::new();
    for (tac, _) in &index.tactics {
        if tactic.is_some_and(|t| {
            !t.eq_ignore_ascii_case(&tac.shortname) && !t.eq_ignore_ascii_case(&tac.id)
        }) {
            continue;
        }
        for x in list
            .iter()
            .filter(|x| x.tactics.contains(&tac.shortname) && !x.id.contains('.'))
        {
            let vendors: BTreeMap<String, usize> = x
                .vendors
                .iter()
                .filter(|(v, _)| vendor.is_none_or(|want| want.key() == v.as_str()))
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            let rules: usize = vendors.values().sum();
            let gap = match vendors.len() {
                0 => Some("no rules"),
                1 if vendor.is_none() => Some("one vendor"),
                _ => None,
            };
            rows.push(CoverageRow {
                tactic: tac.shortname.clone(),
                technique: x.id.clone(),
                name: x.name.clone(),
                rules,
                vendors,
                gap,
            });
        }
    }
    rows
}
