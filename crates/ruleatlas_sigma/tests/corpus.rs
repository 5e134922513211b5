//! Parse coverage over the shared Sigma corpus (CONTRACT "Parse coverage").

use ruleatlas_sigma::SigmaAdapter;
use ruleatlas_testkit::{corpus_dir, run_adapter};

#[test]
fn sigma_corpus_coverage() {
    let Some(dir) = corpus_dir("sigma") else {
        return;
    };
    if !dir.is_dir() {
        eprintln!("skipped: {} missing", dir.display());
        return;
    }
    let mut adapter = SigmaAdapter::new();
    let result = run_adapter(&mut adapter, &dir);
    let cov = result.coverage();
    println!("{}", cov.report());
    for d in result.diagnostics.iter().take(20) {
        println!("{d}");
    }
    assert!(cov.counted > 3000, "{}", cov.report());
    // Measured 100.00% (3222 counted rules); the issue asks for >= 99%.
    assert!(cov.percent() >= 99.9, "{}", cov.report());
    // Every diagnostic names its file and a line:column.
    for d in result
        .docs
        .iter()
        .flat_map(|d| d.lowered.diagnostics.iter())
        .chain(&result.diagnostics)
    {
        assert!(
            d.path.is_some() && d.line.is_some() && d.column.is_some(),
            "{d}"
        );
    }
    // Every failed rule carries a located diagnostic.
    for doc in result
        .docs
        .iter()
        .filter(|d| d.status == ruleatlas_model::ParseStatus::Failed)
    {
        assert!(
            doc.lowered.diagnostics.iter().any(|d| d.line.is_some()),
            "{}",
            doc.path
        );
    }
    // Every predicate points into its file.
    for doc in &result.docs {
        for p in &doc.lowered.predicates {
            let o = p.origin.as_ref().expect("origin");
            assert_eq!(o.path, doc.path);
            assert!(o.line >= 1 && o.column >= 1);
        }
    }
}
