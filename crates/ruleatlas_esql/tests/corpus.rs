//! Every ES|QL query of the Elastic corpus: the share that lowers with nothing unparsed.

mod common;

use std::collections::BTreeMap;

use ruleatlas_esql::lower_query;

#[test]
fn corpus_esql_coverage() {
    let Some(root) = ruleatlas_testkit::corpus_dir("elastic") else {
        return;
    };
    if !root.is_dir() {
        eprintln!("skipped: {} missing", root.display());
        return;
    }
    let found = common::esql_queries(&root);
    let (mut rules, mut rules_full, mut hunts, mut hunts_full) = (0usize, 0usize, 0usize, 0usize);
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
        let tag = if f.hunt { "hunt " } else { "" };
        for u in &l.unparsed {
            reasons.entry(u.reason.clone()).or_default().push(format!(
                "{tag}{}: {}",
                f.path,
                u.text.replace('\n', " ")
            ));
        }
        for d in l.diagnostics.iter().filter(|d| d.is_error()) {
            reasons
                .entry(format!("diagnostic: {}", d.message))
                .or_default()
                .push(format!("{tag}{}", f.path));
        }
        if l.predicates.is_empty() && l.unparsed.is_empty() {
            reasons
                .entry("no predicate".into())
                .or_default()
                .push(format!("{tag}{}", f.path));
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let pct = rules_full as f64 * 100.0 / rules.max(1) as f64;
    println!("ES|QL rules {rules} full {rules_full} ({pct:.2}%), hunts {hunts} full {hunts_full}");
    for (reason, items) in &reasons {
        println!("  {:4}  {reason}", items.len());
        for i in items.iter().take(6) {
            println!("          {}", i.chars().take(170).collect::<String>());
        }
    }
    assert!(rules > 100, "too few ES|QL rules found: {rules}");
    assert!(pct >= 99.0, "ES|QL coverage {pct:.2}%");
}
