//! Fixture rules written for these tests in Panther's idioms (`tests/fixtures/`, a mini
//! panther-analysis repository with its own `global_helpers/` and `data_models/`).
//!
//! Every rule file `x.yml` has `x.expected`: one predicate a line in `ruleatlas_testkit::pred`
//! form, written by hand. Every fixture must be `full`, and the evaluator must agree with
//! each of its own `Tests:`.

use std::path::Path;

use ruleatlas_model::ParseStatus;
use ruleatlas_panther::{PantherAdapter, evaluate};
use ruleatlas_testkit::{preds, run_adapter};

fn fixtures() -> ruleatlas_testkit::RunResult {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut adapter = PantherAdapter::new();
    run_adapter(&mut adapter, &dir)
}

#[test]
fn fixtures_lower_to_the_expected_predicates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let res = fixtures();
    let mut failures = Vec::new();
    let mut checked = 0;
    for doc in &res.docs {
        let exp_path = dir.join(doc.path.replace(".yml", ".expected"));
        let Ok(exp) = std::fs::read_to_string(&exp_path) else {
            failures.push(format!("{}: no .expected file", doc.path));
            continue;
        };
        checked += 1;
        let want: Vec<String> = exp
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        let got = preds(doc);
        if got != want {
            failures.push(format!(
                "{}:\n  got:\n    {}\n  want:\n    {}",
                doc.path,
                got.join("\n    "),
                want.join("\n    ")
            ));
        }
        if doc.status != ParseStatus::Full {
            failures.push(format!(
                "{}: status {:?} unparsed {:?} diags {:?}",
                doc.path, doc.status, doc.lowered.unparsed, doc.lowered.diagnostics
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 40, "{checked} fixture rules");
}

#[test]
fn evaluator_agrees_with_the_fixtures_own_tests() {
    let res = fixtures();
    let mut cases = 0;
    let mut failures = Vec::new();
    for doc in &res.docs {
        for t in &doc.tests {
            cases += 1;
            let got = evaluate(&doc.lowered, &t.event);
            if got != Some(t.expected) {
                failures.push(format!(
                    "{} / {}: expected {} got {:?}",
                    doc.path, t.name, t.expected, got
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases >= 80, "{cases} test cases");
}

#[test]
#[ignore = "debugging aid: prints one fixture's tree"]
fn dump_fixture() {
    let res = fixtures();
    let want = std::env::var("FIXTURE").unwrap_or_default();
    for doc in res.docs.iter().filter(|d| d.path.contains(&want)) {
        println!("{} {:?}\n{:#?}", doc.path, doc.status, doc.lowered.tree);
        for p in preds(doc) {
            println!("  {p}");
        }
        for t in &doc.tests {
            println!(
                "  test {} expected {} got {:?}",
                t.name,
                t.expected,
                evaluate(&doc.lowered, &t.event)
            );
            println!("    {}", t.event);
        }
    }
}

#[test]
fn fixture_metadata() {
    use ruleatlas_model::{PredicateKind, RuleKind};
    let res = fixtures();
    let mfa = res
        .by_id("Fixture.AWS.ConsoleLogin.MFAFailure")
        .expect("rule");
    assert_eq!(mfa.language, "python");
    assert_eq!(mfa.kind, RuleKind::Rule);
    assert_eq!(
        mfa.techniques
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        ["T1621"]
    );
    assert_eq!(mfa.tactics, ["credential-access"]);
    assert_eq!(
        mfa.logsource.get("log_type").map(Vec::as_slice),
        Some(&["AWS.CloudTrail".to_string()][..])
    );
    assert_eq!(mfa.raw_platforms, ["AWS.CloudTrail"]);
    assert_eq!(mfa.tests.len(), 3);
    // Product vocabulary is namespaced by log type; other fields stay raw.
    let fields: Vec<&str> = mfa
        .lowered
        .predicates
        .iter()
        .map(|p| p.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "aws::eventSource",
            "aws::eventName",
            "additionalEventData.MFAUsed",
            "responseElements.ConsoleLogin"
        ]
    );
    // Origins point into the .py file.
    let o = mfa.lowered.predicates[0].origin.as_ref().expect("origin");
    assert_eq!(
        (o.path.as_str(), o.line, o.column),
        (
            "rules/aws_cloudtrail_rules/aws_console_login_mfa_failure.py",
            3,
            9
        )
    );

    let okta = res.by_id("Fixture.Okta.MFA.PushDenied").expect("rule");
    assert_eq!(okta.lowered.predicates[0].field, "okta::eventType");
    assert!(
        okta.lowered
            .predicates
            .iter()
            .any(|p| p.kind == PredicateKind::Threshold && p.raw_field == "count")
    );
    // Threshold 1 is Panther's default, not a predicate.
    let root = res.by_id("Fixture.AWS.RootActivity").expect("rule");
    assert!(
        root.lowered
            .predicates
            .iter()
            .all(|p| p.kind != PredicateKind::Threshold)
    );

    let dep = res.by_id("Fixture.Deprecated.Disabled").expect("rule");
    assert!(dep.deprecated);
    assert!(!dep.enabled);
    assert_eq!(dep.rule_status.as_deref(), Some("Deprecated"));
    assert_eq!(dep.references.len(), 2);
    assert_eq!(dep.techniques[0].id, "T1562.008");
    assert!(dep.extra.get("reports").is_some());

    let q = res.by_id("Fixture.Query.PasswordSpraying").expect("query");
    assert_eq!(q.kind, RuleKind::Query);
    assert_eq!(q.language, "sql");
    let sched = res
        .by_id("Fixture.Scheduled.PasswordSpraying")
        .expect("scheduled rule");
    assert_eq!(sched.kind, RuleKind::Rule);
    assert_eq!(sched.links, ["Fixture.Query.PasswordSpraying"]);
    let corr = res
        .by_id("Fixture.Correlation.RootWithoutSupport")
        .expect("correlation");
    assert_eq!(corr.language, "panther-correlation");
    assert_eq!(
        corr.links,
        ["Fixture.Okta.SupportAccess", "Fixture.AWS.RootActivity"]
    );
    assert!(!corr.enabled);
    let yaml = res.by_id("Fixture.YAML.RepoArchived").expect("yaml rule");
    assert_eq!(yaml.language, "panther-yaml");
    assert_eq!(yaml.lowered.predicates[0].field, "github::action");
    // Origins of YAML detections point at the match expression.
    let o = yaml.lowered.predicates[0].origin.as_ref().expect("origin");
    assert_eq!((o.line, o.column), (9, 5));
    // Data models and global helpers are support files, not documents.
    assert!(
        res.docs
            .iter()
            .all(|d| !d.path.starts_with("data_models") && !d.path.starts_with("global_helpers"))
    );
}

#[test]
#[ignore = "debugging aid: lowers every .py under $PYDIR and prints the result"]
fn dump_python_dir() {
    let Ok(dir) = std::env::var("PYDIR") else {
        return;
    };
    let log_types: Vec<String> = std::env::var("LOGTYPES")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).expect("read");
        let parsed = ruleatlas_panther::parse(&text);
        let ctx = ruleatlas_panther::LowerContext {
            path: p.display().to_string(),
            log_types: log_types.clone(),
            ..Default::default()
        };
        let mut l = ruleatlas_panther::lower(&parsed.ast, &ctx);
        l.finish();
        println!(
            "== {} status {:?} diags {:?}",
            p.display(),
            l.status(),
            parsed
                .diagnostics
                .iter()
                .chain(&l.diagnostics)
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
        );
        for q in &l.predicates {
            println!("   {}", ruleatlas_testkit::pred(q));
        }
        for u in &l.unparsed {
            println!("   UNPARSED {} :: {}", u.reason, u.text);
        }
    }
}
