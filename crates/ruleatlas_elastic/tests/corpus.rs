//! The Elastic corpus (`<shared>/corpus/elastic`): coverage of counted rules, per language.

use std::collections::BTreeMap;

use ruleatlas_elastic::ElasticAdapter;
use ruleatlas_model::{ParseStatus, RuleKind};
use ruleatlas_testkit::{Coverage, corpus_dir, run_adapter};

#[test]
fn elastic_corpus_coverage() {
    let Some(dir) = corpus_dir("elastic") else {
        return;
    };
    if !dir.is_dir() {
        eprintln!("skipped: {} missing", dir.display());
        return;
    }
    let mut adapter = ElasticAdapter::new();
    let run = run_adapter(&mut adapter, &dir);
    let cov = run.coverage();
    println!("all languages: {}", cov.report());

    // Per language over counted rules (kind rule, not deprecated).
    let mut by_lang: BTreeMap<String, Vec<ruleatlas_model::RuleDoc>> = BTreeMap::new();
    for d in &run.docs {
        by_lang
            .entry(d.language.clone())
            .or_default()
            .push(d.clone());
    }
    for (lang, docs) in &by_lang {
        let c = Coverage::of(docs);
        println!("language {lang}: {}", c.report());
    }
    let hunts: Vec<_> = run
        .docs
        .iter()
        .filter(|d| d.kind == RuleKind::Hunt)
        .cloned()
        .collect();
    let hunt_full = hunts
        .iter()
        .filter(|d| d.status == ParseStatus::Full)
        .count();
    println!("hunts: {} full {}", hunts.len(), hunt_full);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for d in &hunts {
        for u in &d.lowered.unparsed {
            *reasons.entry(u.reason.clone()).or_default() += 1;
        }
    }
    println!("hunt unparsed reasons: {reasons:?}");

    let failed: Vec<_> = run
        .docs
        .iter()
        .filter(|d| d.status == ParseStatus::Failed)
        .map(|d| &d.path)
        .collect();
    assert!(failed.is_empty(), "failed files: {failed:?}");
    assert!(run.docs.len() > 1900, "only {} documents", run.docs.len());

    // KQL (with filters and rule types) is this crate's; the target is 98% overall.
    let kql = Coverage::of(by_lang.get("kuery").map_or(&[][..], Vec::as_slice));
    assert!(kql.counted > 400, "{}", kql.report());
    assert!(kql.percent() >= 99.5, "{}", kql.report());
    assert!(cov.percent() >= 98.0, "{}", cov.report());
    // Hunts: every ES|QL/EQL query is read by a parser; osquery SQL is the expected gap.
    assert!(hunt_full >= 85, "hunts full: {hunt_full}");
    assert!(
        !reasons.contains_key("query language not recognized"),
        "{reasons:?}"
    );
}
