//! The whole `corpus/splunk` (security_content): coverage, the `required_fields` check, the
//! T1621 detections. Skipped when the shared corpus is absent (fails under `CI=true`).

use std::collections::BTreeSet;
use std::time::Instant;

use ruleatlas_model::{Op, PredicateKind, RuleDoc, RuleKind};
use ruleatlas_spl::SplunkAdapter;
use ruleatlas_testkit::{RunResult, corpus_dir, pred, run_adapter};

fn corpus() -> Option<RunResult> {
    let dir = corpus_dir("splunk")?;
    if !dir.join("detections").is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {} is missing",
            dir.display()
        );
        eprintln!("skipped: {} has no detections/", dir.display());
        return None;
    }
    let start = Instant::now();
    let mut a = SplunkAdapter::new();
    let run = run_adapter(&mut a, &dir);
    eprintln!(
        "loaded {} documents in {:.3}s (this build profile)",
        run.docs.len(),
        start.elapsed().as_secs_f64()
    );
    Some(run)
}

fn counted(run: &RunResult) -> impl Iterator<Item = &RuleDoc> {
    run.docs
        .iter()
        .filter(|d| d.kind == RuleKind::Rule && !d.deprecated)
}

#[test]
fn coverage_of_security_content() {
    let Some(run) = corpus() else { return };
    let cov = run.coverage();
    println!("{}", cov.report());
    assert!(cov.counted > 1300, "{}", cov.report());
    assert_eq!(cov.failed, 0, "{}", cov.report());
    assert!(cov.percent() >= 95.0, "{}", cov.report());
    // Deprecated detections (folder or status) are stored and flagged.
    assert!(run.docs.iter().filter(|d| d.deprecated).count() >= 80);
    // Every predicate of a detection has an origin (the detection file or a macro file).
    for d in counted(&run) {
        for p in &d.lowered.predicates {
            let o = p
                .origin
                .as_ref()
                .unwrap_or_else(|| panic!("{}: {} has no origin", d.path, pred(p)));
            assert!(o.line >= 1 && o.column >= 1);
            if p.context.contains_key("macro") {
                assert!(
                    o.path.starts_with("macros/"),
                    "{}: {} from {}",
                    d.path,
                    pred(p),
                    o.path
                );
            } else {
                assert_eq!(o.path, d.path);
            }
        }
    }
    // The reason for an unknown macro is exactly `unknown macro`, with the call as text.
    let unknown: Vec<_> = counted(&run)
        .flat_map(|d| &d.lowered.unparsed)
        .filter(|u| u.reason == "unknown macro")
        .collect();
    assert!(
        unknown
            .iter()
            .all(|u| u.text.starts_with('`') && u.text.ends_with('`')),
        "{unknown:?}"
    );
}

/// `tags.required_fields` is an independent list of what a detection reads: the share of our
/// source (non-computed) fields it lists tells how well field tracking (renames,
/// `drop_dm_object_name`, evals) matches the authors' own view.
#[test]
fn required_fields_agree_with_our_source_fields() {
    let Some(run) = corpus() else { return };
    let meta = ["index", "sourcetype", "source", "eventtype", "_text"];
    let (mut ours, mut listed, mut ours_nometa, mut listed_nometa) =
        (0usize, 0usize, 0usize, 0usize);
    let mut misses: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for d in counted(&run) {
        let Some(req) = d.extra.get("required_fields").and_then(|v| v.as_array()) else {
            continue;
        };
        let req: BTreeSet<&str> = req.iter().filter_map(|v| v.as_str()).collect();
        let fields: BTreeSet<&str> = d
            .lowered
            .predicates
            .iter()
            .filter(|p| !p.computed && p.kind == PredicateKind::Filter)
            .map(|p| p.raw_field.as_str())
            .collect();
        for f in fields {
            let hit = req.contains(f);
            ours += 1;
            listed += usize::from(hit);
            if !meta.contains(&f) {
                ours_nometa += 1;
                listed_nometa += usize::from(hit);
                if !hit {
                    *misses.entry(f.to_string()).or_default() += 1;
                }
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let share = |a: usize, b: usize| a as f64 * 100.0 / b.max(1) as f64;
    println!(
        "required_fields: {listed}/{ours} = {:.1}% of our (rule, source field) pairs are listed; without index/sourcetype/source/eventtype/_text: {listed_nometa}/{ours_nometa} = {:.1}%",
        share(listed, ours),
        share(listed_nometa, ours_nometa)
    );
    let mut top: Vec<_> = misses.into_iter().collect();
    top.sort_by_key(|x| std::cmp::Reverse(x.1));
    println!(
        "most frequent unlisted fields: {:?}",
        &top[..top.len().min(15)]
    );
    assert!(share(listed_nometa, ours_nometa) >= 70.0);
}

#[test]
fn t1621_detections_show_the_reference_predicates() {
    let Some(run) = corpus() else { return };
    let docs: Vec<&RuleDoc> = counted(&run)
        .filter(|d| d.techniques.iter().any(|t| t.id == "T1621"))
        .collect();
    for d in &docs {
        println!("== {} [{}]", d.path, d.status.as_str());
        for p in &d.lowered.predicates {
            println!("   {}", pred(p));
        }
    }
    assert_eq!(docs.len(), 18, "the contract counts 18 Splunk T1621 rules");
    let has = |f: &dyn Fn(&ruleatlas_model::Predicate) -> bool| {
        docs.iter().any(|d| d.lowered.predicates.iter().any(f))
    };
    assert!(has(&|p| p.raw_field == "sourcetype"
        && p.op == Op::Eq
        && p.values[0].as_str() == Some("OktaIM2:log")
        && p.context.get("macro").and_then(|m| m.as_str())
            == Some("okta")
        && p.origin
            .as_ref()
            .is_some_and(|o| o.path == "macros/okta.yml")));
    assert!(has(&|p| p.raw_field == "sourcetype"
        && p.op == Op::Eq
        && p.values[0].as_str() == Some("aws:cloudtrail")));
    assert!(has(&|p| p.raw_field == "event.parameters{}.multiValue{}"
        && p.op == Op::In
        && p.values.len() == 13
        && p.values
            .iter()
            .any(|v| v.as_str() == Some("google_authenticator"))
        && p.context.get("macro").and_then(|m| m.as_str())
            == Some("gws_login_mfa_methods")));
    assert!(has(&|p| p.raw_field == "mfa_prompts"
        && p.kind == PredicateKind::Threshold
        && p.op == Op::Ge));
    assert!(has(&|p| p.raw_field == "mfa_prompts"
        && p.kind == PredicateKind::Threshold
        && p.op == Op::Gt));
    assert!(has(&|p| p.raw_field == "count"
        && p.kind == PredicateKind::Threshold
        && p.op == Op::Gt));
    let full = docs
        .iter()
        .filter(|d| d.status == ruleatlas_model::ParseStatus::Full)
        .count();
    println!("T1621: {full}/{} full", docs.len());
}

/// Robustness: every detection's search cut at several places (inside strings, brackets,
/// macro calls), and with non-ASCII text spliced in, parses and lowers without a panic.
#[test]
fn truncated_and_spliced_searches_never_panic() {
    let Some(run) = corpus() else { return };
    let mut macros = ruleatlas_spl::MacroTable::new();
    macros.insert(
        "okta",
        &[],
        "eventtype=okta_log OR sourcetype=\"OktaIM2:log\"",
    );
    let mut n = 0;
    for d in run.docs.iter().filter(|d| !d.query.is_empty()) {
        let q = &d.query;
        for k in 1..4 {
            let mut cut = q.len() * k / 4;
            while !q.is_char_boundary(cut) {
                cut -= 1;
            }
            let _ = ruleatlas_spl::analyze(&q[..cut], &macros);
            let spliced = format!("{}é`ü{}", &q[..cut], &q[cut..]);
            let _ = ruleatlas_spl::analyze(&spliced, &macros);
            n += 2;
        }
    }
    assert!(n > 1000);
}
