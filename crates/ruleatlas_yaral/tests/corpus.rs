//! The chronicle/detection-rules corpus: parse coverage, ATT&CK ids, the T1621 rules.

use ruleatlas_model::{ParseStatus, PredicateKind};
use ruleatlas_testkit::{corpus_dir, preds, run_adapter};
use ruleatlas_yaral::YaralAdapter;

#[test]
fn corpus_coverage_and_techniques() {
    let Some(dir) = corpus_dir("yaral") else {
        return;
    };
    if !dir.is_dir() {
        eprintln!("skipped: {} missing", dir.display());
        return;
    }
    let mut adapter = YaralAdapter::new();
    let run = run_adapter(&mut adapter, &dir);
    let cov = run.coverage();
    println!("{}", cov.report());
    if std::env::var_os("YARAL_DUMP").is_some() {
        for d in &run.docs {
            if d.deprecated && std::env::var_os("YARAL_DEPRECATED").is_none() {
                continue;
            }
            if d.status != ParseStatus::Full {
                println!("== {} {:?}", d.path, d.status);
                for u in &d.lowered.unparsed {
                    println!(
                        "   unparsed [{}] {}",
                        u.reason,
                        u.text.chars().take(200).collect::<String>()
                    );
                }
                for g in &d.lowered.diagnostics {
                    println!("   diag {g}");
                }
            }
        }
        for g in &run.diagnostics {
            println!("file diag {g}");
        }
    }
    if let Ok(pat) = std::env::var("YARAL_SHOW") {
        for d in run.docs.iter().filter(|d| d.path.contains(&pat)) {
            println!(
                "== {} [{}] {:?} techniques {:?} tactics {:?}",
                d.path,
                d.native_id.clone().unwrap_or_default(),
                d.status,
                d.techniques,
                d.tactics
            );
            println!(
                "   logsource {:?} platforms {:?} domains {:?}",
                d.logsource, d.raw_platforms, d.raw_domains
            );
            for p in preds(d) {
                println!("   {p}");
            }
            for u in &d.lowered.unparsed {
                println!("   unparsed [{}] {}", u.reason, u.text);
            }
        }
    }
    assert!(cov.counted >= 250, "{}", cov.report());
    // Measured: 296/296 (100%); the issue asks for >= 95%.
    assert!(cov.percent() >= 99.0, "{}", cov.report());
    // Deprecated rules are stored, not counted; they still parse (one upstream file is
    // broken: a string literal with a raw line break).
    let deprecated: Vec<_> = run.docs.iter().filter(|d| d.deprecated).collect();
    let deprecated_full = deprecated
        .iter()
        .filter(|d| d.status == ParseStatus::Full)
        .count();
    println!("deprecated {} full {deprecated_full}", deprecated.len());
    assert!(deprecated.len() >= 400 && deprecated_full + 3 >= deprecated.len());

    // The dashboard among the rules is reported, not loaded.
    assert!(
        run.diagnostics.iter().any(|d| d
            .path
            .as_deref()
            .is_some_and(|p| p.ends_with("Our Dashboard.yaml"))),
        "dashboard diagnostic missing"
    );

    // Every rule whose meta names a technique has an id (or a name-only ref for the loader).
    for d in run.docs.iter().filter(|d| !d.deprecated) {
        let names_one = d.query.lines().any(|l| {
            let l = l.trim_start();
            [
                "mitre_attack_url",
                "mitre_attack_technique",
                "technique =",
                "mitre =",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        });
        if names_one {
            assert!(
                !d.techniques.is_empty(),
                "{} names a technique but none was read",
                d.path
            );
        }
        for t in &d.techniques {
            assert!(
                t.id.is_empty() || t.id.starts_with('T'),
                "{}: {:?}",
                d.path,
                t
            );
            assert!(!t.id.is_empty() || t.name.is_some(), "{}: {:?}", d.path, t);
        }
    }

    let counted: Vec<_> = run.docs.iter().filter(|d| !d.deprecated).collect();
    let with_id = counted
        .iter()
        .filter(|d| d.techniques.iter().any(|t| !t.id.is_empty()))
        .count();
    let name_only = counted
        .iter()
        .filter(|d| d.techniques.iter().any(|t| t.id.is_empty()))
        .count();
    println!(
        "techniques: {with_id} of {} counted rules have an id; {name_only} with a name-only ref",
        counted.len()
    );
    assert!(with_id >= 220, "{with_id}");

    // The two T1621 rules show their Okta predicates.
    let t1621: Vec<_> = run
        .docs
        .iter()
        .filter(|d| !d.deprecated && d.techniques.iter().any(|t| t.id == "T1621"))
        .collect();
    assert_eq!(
        t1621.len(),
        2,
        "{:?}",
        t1621.iter().map(|d| &d.path).collect::<Vec<_>>()
    );
    for d in &t1621 {
        assert_eq!(d.status, ParseStatus::Full, "{}", d.path);
        let p = preds(d);
        assert!(
            p.iter()
                .any(|s| s.starts_with("metadata.product_name eq [\"Okta\"] cs")),
            "{p:#?}"
        );
        assert!(
            d.lowered
                .predicates
                .iter()
                .any(|p| p.raw_field == "metadata.product_event_type"
                    && p.kind == PredicateKind::Filter
                    && p.values
                        .iter()
                        .any(|v| v.as_str() == Some("user.authentication.auth_via_mfa"))),
            "{p:#?}"
        );
        assert_eq!(
            d.logsource.get("product").map(Vec::as_slice),
            Some(&["Okta".to_string()][..])
        );
        assert!(d.raw_platforms.iter().any(|p| p == "Okta"));
        assert!(d.lowered.predicates.iter().all(|p| p.origin.is_some()));
    }
}
