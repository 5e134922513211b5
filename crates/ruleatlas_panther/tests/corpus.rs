//! The adapter over `../shared/corpus/panther` (YAML only: the Python and `global_helpers/`
//! are upstream). Every rule and query YAML ingests; rules whose Python is missing are
//! `failed` with that reason; correlation rules and YAML detections parse.

use ruleatlas_model::{ParseStatus, RuleKind};
use ruleatlas_panther::PantherAdapter;
use ruleatlas_testkit::{corpus_dir, run_adapter};

#[test]
fn corpus_panther() {
    let Some(dir) = corpus_dir("panther") else {
        return;
    };
    if !dir.is_dir() {
        eprintln!("skipped: {} missing", dir.display());
        return;
    }
    let mut adapter = PantherAdapter::new();
    let res = run_adapter(&mut adapter, &dir);
    let cov = res.coverage();
    println!("{}", cov.report());

    // Every rule / query YAML becomes a document.
    let mut yaml_files = 0;
    for sub in ["rules", "correlation_rules", "queries"] {
        let mut stack = vec![dir.join(sub)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                    yaml_files += 1;
                }
            }
        }
    }
    assert_eq!(
        res.docs.len(),
        yaml_files,
        "one document per rule/query YAML"
    );

    // Python rules: the .py is not in the corpus.
    let py_rules: Vec<_> = res.docs.iter().filter(|d| d.language == "python").collect();
    assert!(py_rules.len() > 700, "{}", py_rules.len());
    for d in &py_rules {
        assert_eq!(d.status, ParseStatus::Failed, "{}", d.path);
        let f = d
            .extra
            .get("filename")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let msg = format!("python file missing: {f}");
        assert!(
            d.lowered
                .diagnostics
                .iter()
                .any(|x| x.message == msg && x.line.is_some()),
            "{}: {:?}",
            d.path,
            d.lowered.diagnostics
        );
    }

    // YAML detections and correlation rules parse fully.
    let yaml_rules: Vec<_> = res
        .docs
        .iter()
        .filter(|d| d.language == "panther-yaml")
        .collect();
    assert_eq!(yaml_rules.len(), 1);
    for d in &yaml_rules {
        assert_eq!(
            d.status,
            ParseStatus::Full,
            "{}: {:?}",
            d.path,
            d.lowered.unparsed
        );
    }
    let corr: Vec<_> = res
        .docs
        .iter()
        .filter(|d| d.language == "panther-correlation")
        .collect();
    assert_eq!(corr.len(), 26);
    for d in &corr {
        assert_ne!(d.status, ParseStatus::Failed, "{}", d.path);
        assert!(!d.links.is_empty(), "{}", d.path);
        assert!(
            d.lowered
                .predicates
                .iter()
                .any(|p| p.kind == ruleatlas_model::PredicateKind::Join),
            "{}",
            d.path
        );
    }

    // Queries are documents of kind query; most SQL parses.
    let queries: Vec<_> = res
        .docs
        .iter()
        .filter(|d| d.kind == RuleKind::Query)
        .collect();
    assert_eq!(queries.len(), 83);
    let sql_ok = queries
        .iter()
        .filter(|d| d.status != ParseStatus::Failed)
        .count();
    println!("queries {} parsed {}", queries.len(), sql_ok);
    assert!(sql_ok >= 70, "{sql_ok}");

    // Metadata: techniques and tactics from Reports.
    let t1621 = res
        .docs
        .iter()
        .filter(|d| d.techniques.iter().any(|t| t.id == "T1621"))
        .count();
    assert!(t1621 >= 2, "{t1621}");
    let dep = res.docs.iter().filter(|d| d.deprecated).count();
    assert_eq!(dep, 15);
}

#[test]
#[ignore = "debugging aid: prints the corpus documents that did not parse fully"]
fn corpus_problems() {
    let Some(dir) = corpus_dir("panther") else {
        return;
    };
    let mut adapter = PantherAdapter::new();
    let res = run_adapter(&mut adapter, &dir);
    for d in &res.docs {
        if d.language == "python" {
            continue;
        }
        if d.status != ParseStatus::Full {
            println!(
                "{} {:?} {:?}",
                d.path,
                d.status,
                d.lowered
                    .diagnostics
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
            );
            for u in &d.lowered.unparsed {
                println!("    {} :: {}", u.reason, u.text);
            }
        }
    }
}

#[test]
fn corpus_tests_of_failed_rules_are_unknown() {
    let Some(dir) = corpus_dir("panther") else {
        return;
    };
    if !dir.is_dir() {
        return;
    }
    let mut adapter = PantherAdapter::new();
    let res = run_adapter(&mut adapter, &dir);
    let mut cases = 0;
    for d in res.docs.iter().filter(|d| d.status == ParseStatus::Failed) {
        for t in &d.tests {
            cases += 1;
            assert_eq!(
                ruleatlas_panther::evaluate(&d.lowered, &t.event),
                None,
                "{} / {}",
                d.path,
                t.name
            );
        }
    }
    assert!(cases > 1000, "{cases}");
    // The YAML detection's own tests agree.
    let yaml = res
        .docs
        .iter()
        .find(|d| d.language == "panther-yaml")
        .expect("yaml rule");
    for t in &yaml.tests {
        assert_eq!(
            ruleatlas_panther::evaluate(&yaml.lowered, &t.event),
            Some(t.expected),
            "{}",
            t.name
        );
    }
}
