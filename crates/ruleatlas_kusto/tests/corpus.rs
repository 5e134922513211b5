//! Coverage over the shared Sentinel sample (`<shared>/corpus/kusto`).

use std::collections::BTreeMap;

use ruleatlas_kusto::KustoAdapter;
use ruleatlas_model::ParseStatus;
use ruleatlas_testkit::{Coverage, corpus_dir, run_adapter};

#[test]
fn corpus_coverage() {
    let Some(dir) = corpus_dir("kusto") else {
        return;
    };
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {} is missing",
            dir.display()
        );
        eprintln!("skipped: {} not found", dir.display());
        return;
    }
    let mut adapter = KustoAdapter::new();
    let run = run_adapter(&mut adapter, &dir);
    let cov = run.coverage();
    println!("{}", cov.report());

    // Per table family (the first table a rule reads), with the reasons for the rest.
    let mut families: BTreeMap<String, Vec<&ruleatlas_model::RuleDoc>> = BTreeMap::new();
    for d in &run.docs {
        let fam = d
            .logsource
            .get("table")
            .and_then(|t| t.first())
            .cloned()
            .unwrap_or_else(|| "(no table: file unreadable)".to_string());
        families.entry(fam).or_default().push(d);
    }
    for (fam, docs) in &families {
        let owned: Vec<_> = docs.iter().map(|d| (*d).clone()).collect();
        let c = Coverage::of(&owned);
        println!(
            "{fam:40} rules {:3} full {:3} ({:.1}%)",
            c.counted,
            c.full,
            c.percent()
        );
        for d in docs.iter().filter(|d| d.status != ParseStatus::Full) {
            let why: Vec<String> = d
                .lowered
                .diagnostics
                .iter()
                .filter(|x| x.is_error())
                .map(ToString::to_string)
                .chain(
                    d.lowered
                        .unparsed
                        .iter()
                        .map(|u| format!("unparsed: {}", u.reason)),
                )
                .collect();
            println!("    {} {}: {}", d.status.as_str(), d.path, why.join("; "));
        }
    }

    assert_eq!(cov.counted, 115, "{}", cov.report());
    assert!(cov.percent() >= 98.0, "{}", cov.report());
    // Shared ids come back as the native id; the loader adds `~2`.
    let explicit: Vec<_> = run
        .docs
        .iter()
        .filter(|d| d.path.ends_with("ExplicitMFADeny.yaml"))
        .collect();
    assert_eq!(explicit.len(), 2);
    assert_eq!(explicit[0].native_id, explicit[1].native_id);
    // Every full rule has at least one origin-mapped predicate.
    for d in run.docs.iter().filter(|d| d.status == ParseStatus::Full) {
        assert!(
            d.lowered.predicates.iter().all(|p| p.origin.is_some()),
            "{} has a predicate without origin",
            d.path
        );
        assert!(
            !d.techniques.is_empty() || !d.tactics.is_empty() || d.native_id.is_some(),
            "{}",
            d.path
        );
    }
}
