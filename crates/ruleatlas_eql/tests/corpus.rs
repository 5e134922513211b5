//! Every EQL query of the Elastic corpus: the share that lowers with nothing unparsed.

mod common;

use std::collections::BTreeMap;

use ruleatlas_eql::lower_query;

#[test]
fn corpus_eql_coverage() {
    let Some(root) = ruleatlas_testkit::corpus_dir("elastic") else {
        return;
    };
    if !root.is_dir() {
        eprintln!("skipped: {} missing", root.display());
        return;
    }
    let found = common::eql_queries(&root);
    let mut rules = 0usize;
    let mut rules_full = 0usize;
    let mut hunts = 0usize;
    let mut hunts_full = 0usize;
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &found {
        let l = lower_query(&f.query);
        let full = l.unparsed.is_empty()
            && !l.predicates.is_empty()
            && !l.diagnostics.iter().any(|d| d.is_error());
        if f.hunt {
            hunts += 1;
            hunts_full += usize::from(full);
        } else {
            rules += 1;
            rules_full += usize::from(full);
        }
        for u in &l.unparsed {
            reasons.entry(u.reason.clone()).or_default().push(format!(
                "{}: {}",
                f.path,
                u.text.replace('\n', " ")
            ));
        }
        for d in l.diagnostics.iter().filter(|d| d.is_error()) {
            reasons
                .entry(format!("diagnostic: {}", d.message))
                .or_default()
                .push(f.path.clone());
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let pct = rules_full as f64 * 100.0 / rules.max(1) as f64;
    println!("EQL rules {rules} full {rules_full} ({pct:.2}%), hunts {hunts} full {hunts_full}");
    for (reason, items) in &reasons {
        println!("  {:4}  {reason}", items.len());
        for i in items.iter().take(5) {
            println!("          {}", i.chars().take(160).collect::<String>());
        }
    }
    assert!(rules > 500, "too few EQL rules found: {rules}");
    assert!(pct >= 99.0, "EQL coverage {pct:.2}%");
}
