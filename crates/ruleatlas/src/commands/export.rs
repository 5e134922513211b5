//! `ruleatlas export`: JSON lines, ATT&CK Navigator layers, CSV.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ruleatlas_catalog::Index;
use ruleatlas_catalog::query::{rule_json, techniques};
use ruleatlas_model::Vendor;
use serde_json::json;

use super::{CliError, CliResult, open_catalog, parse_vendor};
use crate::{ExportFormat, ExportWhat};

pub struct ExportArgs {
    pub format: ExportFormat,
    pub catalog: PathBuf,
    pub output: Option<PathBuf>,
    pub vendor: Option<String>,
    pub min_rules: usize,
    pub what: ExportWhat,
}

pub fn run(a: &ExportArgs) -> CliResult {
    let index = open_catalog(&a.catalog)?;
    let vendor = parse_vendor(a.vendor.as_deref())?;
    let mut buf: Vec<u8> = Vec::new();
    match a.format {
        ExportFormat::Jsonl => jsonl(&index, vendor, &mut buf)?,
        ExportFormat::Navigator => {
            let layer = navigator_layer(&index, vendor, a.min_rules);
            buf = serde_json::to_vec_pretty(&layer).map_err(|e| CliError::Failed(e.to_string()))?;
            buf.push(b'\n');
        }
        ExportFormat::Csv => match a.what {
            ExportWhat::Rules => csv_rules(&index, vendor, &mut buf),
            ExportWhat::Predicates => csv_predicates(&index, vendor, &mut buf),
        },
    }
    match &a.output {
        Some(path) => {
            // Written beside the target and renamed: a reader never sees half a file.
            let tmp = path.with_extension("tmp-export");
            std::fs::write(&tmp, &buf)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(&buf)
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(CliError::Failed(e.to_string()));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn jsonl(index: &Index, vendor: Option<Vendor>, out: &mut Vec<u8>) -> Result<(), CliError> {
    for r in index
        .rules
        .iter()
        .filter(|r| vendor.is_none_or(|v| v == r.doc.vendor))
    {
        serde_json::to_writer(&mut *out, &rule_json(r))
            .map_err(|e| CliError::Failed(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(())
}

/// An ATT&CK Navigator layer (format 4.5): score = counted rules, comment = rules per vendor.
#[must_use]
pub fn navigator_layer(
    index: &Index,
    vendor: Option<Vendor>,
    min_rules: usize,
) -> serde_json::Value {
    let mut entries = Vec::new();
    let mut max = 0usize;
    for t in techniques(index, false, false) {
        let vendors: BTreeMap<&String, &usize> = t
            .vendors
            .iter()
            .filter(|(v, _)| vendor.is_none_or(|want| want.key() == v.as_str()))
            .collect();
        let score: usize = vendors.values().copied().sum();
        if score < min_rules.max(1) || !t.known {
            continue;
        }
        max = max.max(score);
        let comment = vendors
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        for tactic in if t.tactics.is_empty() {
            vec![String::new()]
        } else {
            t.tactics.clone()
        } {
            let mut e = json!({
                "techniqueID": t.id,
                "score": score,
                "comment": comment,
                "enabled": true,
                "showSubtechniques": false,
                "metadata": vendors.iter().map(|(v, n)| json!({"name": v, "value": n.to_string()})).collect::<Vec<_>>(),
                "links": [],
            });
            if !tactic.is_empty() {
                e["tactic"] = json!(tactic);
            }
            entries.push(e);
        }
    }
    let attack_version = index
        .meta
        .get("attack")
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .and_then(|v| {
            v.first()
                .and_then(|s| s.rsplit(' ').next().map(str::to_string))
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "18".to_string());
    let name = match vendor {
        Some(v) => format!("RuleAtlas: {} rules", v.display()),
        None => "RuleAtlas: rules of every vendor".to_string(),
    };
    json!({
        "name": name,
        "versions": {"attack": attack_version, "navigator": "5.1.0", "layer": "4.5"},
        "domain": "enterprise-attack",
        "description": "Technique score = counted detection rules in the RuleAtlas catalog; comment = rules per vendor.",
        "filters": {"platforms": ["Windows", "Linux", "macOS", "Network Devices", "ESXi", "PRE", "Containers", "IaaS", "SaaS", "Office Suite", "Identity Provider"]},
        "sorting": 3,
        "layout": {"layout": "side", "aggregateFunction": "average", "showID": true, "showName": true, "showAggregateScores": false, "countUnscored": false, "expandedSubtechniques": "none"},
        "hideDisabled": false,
        "techniques": entries,
        "gradient": {"colors": ["#ffffffff", "#66b1ffff", "#08306bff"], "minValue": 0, "maxValue": max.max(1)},
        "legendItems": [],
        "metadata": [],
        "links": [],
        "showTMLinks": false,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": true,
        "selectSubtechniquesWithParent": false,
        "selectVisibleTechniques": false,
    })
}

/// A CSV cell: quoted when needed; a leading `=`, `+`, `@`, tab or CR gets a `'` so that a
/// spreadsheet never runs rule text as a formula.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn row(out: &mut Vec<u8>, cells: &[String]) {
    let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    out.extend_from_slice(line.join(",").as_bytes());
    out.push(b'\n');
}

fn csv_rules(index: &Index, vendor: Option<Vendor>, out: &mut Vec<u8>) {
    row(
        out,
        &[
            "id",
            "vendor",
            "kind",
            "title",
            "path",
            "commit",
            "severity",
            "rule_status",
            "language",
            "status",
            "deprecated",
            "enabled",
            "techniques",
            "platforms",
            "domains",
            "predicates",
            "unparsed",
        ]
        .map(str::to_string),
    );
    for r in index
        .rules
        .iter()
        .filter(|r| vendor.is_none_or(|v| v == r.doc.vendor))
    {
        let d = &r.doc;
        row(
            out,
            &[
                r.id.clone(),
                d.vendor.key().to_string(),
                d.kind.as_str().to_string(),
                d.title.clone(),
                d.path.clone(),
                r.commit.clone().unwrap_or_default(),
                d.severity.clone().unwrap_or_default(),
                d.rule_status.clone().unwrap_or_default(),
                d.language.clone(),
                d.status.as_str().to_string(),
                d.deprecated.to_string(),
                d.enabled.to_string(),
                r.techniques
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                d.platforms.join(" "),
                d.domains.join(" "),
                d.lowered.predicates.len().to_string(),
                d.lowered.unparsed.len().to_string(),
            ],
        );
    }
}

fn csv_predicates(index: &Index, vendor: Option<Vendor>, out: &mut Vec<u8>) {
    row(
        out,
        &[
            "rule_id",
            "vendor",
            "field",
            "raw_field",
            "op",
            "values",
            "case_sensitive",
            "negated",
            "exclusion",
            "kind",
            "computed",
            "context",
            "line",
            "column",
        ]
        .map(str::to_string),
    );
    for r in index
        .rules
        .iter()
        .filter(|r| vendor.is_none_or(|v| v == r.doc.vendor))
    {
        for p in &r.doc.lowered.predicates {
            row(
                out,
                &[
                    r.id.clone(),
                    r.doc.vendor.key().to_string(),
                    p.field.clone(),
                    p.raw_field.clone(),
                    p.op.to_string(),
                    serde_json::to_string(&p.values).unwrap_or_default(),
                    p.case_sensitive.to_string(),
                    p.negated.to_string(),
                    p.exclusion.to_string(),
                    p.kind.as_str().to_string(),
                    p.computed.to_string(),
                    serde_json::to_string(&p.context).unwrap_or_default(),
                    p.origin
                        .as_ref()
                        .map(|o| o.line.to_string())
                        .unwrap_or_default(),
                    p.origin
                        .as_ref()
                        .map(|o| o.column.to_string())
                        .unwrap_or_default(),
                ],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(cell("plain"), "plain");
    }
}
