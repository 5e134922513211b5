//! `ruleatlas check FILE...`: parse rule files and print predicates and diagnostics.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ruleatlas_attack::Attack;
use ruleatlas_catalog::IndexedRule;
use ruleatlas_loader::{Source, load_all, read_text};
use ruleatlas_model::{FileRole, ParseStatus, Vendor};
use serde::Serialize;

use super::{CliError, CliResult, parse_vendor, print_json};

/// The vendor of a file: the one named, or the first whose reader recognizes the content.
fn sniff_vendor(path: &Path, text: &str) -> Option<Vendor> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Vendor::ALL
        .into_iter()
        .find(|v| crate::adapters::adapter(*v).sniff(&name, text))
}

/// The repository root of a file: the nearest ancestor from which the vendor's reader sees
/// the file as a rule (so `detections/x.yml` finds the Splunk repository with its macros).
fn find_repo(vendor: Vendor, file: &Path) -> PathBuf {
    let adapter = crate::adapters::adapter(vendor);
    let parent = file.parent().unwrap_or(Path::new("."));
    for dir in file.ancestors().skip(1) {
        if let Ok(rel) = file.strip_prefix(dir) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if adapter.role(&rel) == FileRole::Rule && dir != parent {
                return dir.to_path_buf();
            }
        }
    }
    parent.to_path_buf()
}

#[derive(Serialize)]
struct Checked<'a> {
    file: String,
    rules: Vec<ruleatlas_catalog::query::RuleJson<'a>>,
    diagnostics: Vec<String>,
}

pub fn run(files: &[PathBuf], vendor: Option<&str>, repo: Option<&Path>, json: bool) -> CliResult {
    let forced = parse_vendor(vendor)?;
    let mut any_failed = false;
    let mut outputs: Vec<(String, Vec<IndexedRule>, Vec<String>)> = Vec::new();
    for file in files {
        let abs = std::fs::canonicalize(file)
            .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
        let text = read_text(&abs).unwrap_or_default();
        let Some(v) = forced.or_else(|| sniff_vendor(&abs, &text)) else {
            return Err(CliError::Usage(format!(
                "{}: cannot tell which vendor this file is for; give --vendor",
                file.display()
            )));
        };
        let root = match repo {
            Some(r) => std::fs::canonicalize(r)
                .map_err(|e| CliError::Usage(format!("--repo {}: {e}", r.display())))?,
            None => find_repo(v, &abs),
        };
        let rel = abs
            .strip_prefix(&root)
            .unwrap_or(&abs)
            .to_string_lossy()
            .replace('\\', "/");
        let mut source = Source::new(v, root);
        source.only = Some(HashSet::from([rel]));
        let report = load_all(
            &[source],
            &crate::adapters::adapter,
            &Attack::default(),
            &|_| {},
        );
        let taxonomy = ruleatlas_taxonomy::Taxonomy::builtin();
        let mut rules = Vec::new();
        for mut r in report.rules {
            taxonomy.normalize(&mut r.doc);
            any_failed |= r.doc.status == ParseStatus::Failed;
            rules.push(IndexedRule {
                id: r.id,
                source: r.source,
                commit: r.commit,
                doc: r.doc,
                techniques: r.techniques,
            });
        }
        let diags: Vec<String> = report
            .diagnostics
            .iter()
            .filter(|(_, d)| d.path.as_deref().is_none_or(|p| abs.ends_with(p)))
            .map(|(_, d)| d.to_string())
            .collect();
        if rules.is_empty() && diags.is_empty() {
            any_failed = true;
        }
        outputs.push((file.display().to_string(), rules, diags));
    }
    if json {
        let out: Vec<Checked> = outputs
            .iter()
            .map(|(f, rules, diags)| Checked {
                file: f.clone(),
                rules: rules
                    .iter()
                    .map(ruleatlas_catalog::query::rule_json)
                    .collect(),
                diagnostics: diags.clone(),
            })
            .collect();
        print_json(&out)?;
    } else {
        for (f, rules, diags) in &outputs {
            if rules.is_empty() {
                println!("{f}: no rule");
            }
            for r in rules {
                print!("{}", super::show::rule_text(r, false));
            }
            for d in diags {
                println!("{d}");
            }
        }
    }
    Ok(if any_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
