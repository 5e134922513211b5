//! Malformed input: a diagnostic with a line and column, never a panic or a stack overflow,
//! and the other rules of the repository are kept.

use ruleatlas_model::{ParseStatus, RuleDoc, Support, VendorAdapter};
use ruleatlas_panther::PantherAdapter;

fn rule_yaml(id: &str, filename: &str) -> String {
    format!(
        "AnalysisType: rule\nFilename: {filename}\nRuleID: \"{id}\"\nLogTypes:\n  - AWS.CloudTrail\nSeverity: Low\n"
    )
}

/// Loads `rules` (path, text) with `support` files, then links, like the loader.
fn run(
    support: &[(&str, String)],
    rules: &[(&str, String)],
) -> (Vec<RuleDoc>, Vec<ruleatlas_diagnostics::Diagnostic>) {
    let mut a = PantherAdapter::new();
    let mut s = Support::default();
    for (p, t) in support {
        s.files.insert((*p).to_string(), t.clone());
    }
    let mut diags = a.prepare(&s);
    let mut docs = Vec::new();
    for (p, t) in rules {
        let (d, g) = a.load(p, t);
        docs.extend(d);
        diags.extend(g);
    }
    diags.extend(a.link(&mut docs).diagnostics);
    (docs, diags)
}

fn error_of(doc: &RuleDoc) -> &ruleatlas_diagnostics::Diagnostic {
    doc.lowered
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error diagnostic")
}

#[test]
fn python_syntax_error_fails_with_position_and_others_are_kept() {
    let (docs, _) = run(
        &[
            (
                "rules/a/bad.py",
                "def rule(event):\n    return event.get('x' ==\n".to_string(),
            ),
            (
                "rules/a/good.py",
                "def rule(event):\n    return event.get('x') == 1\n".to_string(),
            ),
        ],
        &[
            ("rules/a/bad.yml", rule_yaml("Bad", "bad.py")),
            ("rules/a/good.yml", rule_yaml("Good", "good.py")),
        ],
    );
    assert_eq!(docs.len(), 2);
    let bad = &docs[0];
    assert_eq!(bad.status, ParseStatus::Failed);
    let d = error_of(bad);
    assert_eq!(d.path.as_deref(), Some("rules/a/bad.py"));
    assert!(d.line.is_some() && d.column.is_some(), "{d}");
    assert_eq!(docs[1].status, ParseStatus::Full);
}

#[test]
fn missing_filename_and_missing_python() {
    let no_filename = "AnalysisType: rule\nRuleID: \"NoFile\"\nSeverity: Low\n".to_string();
    let (docs, _) = run(
        &[],
        &[
            ("rules/a/x.yml", no_filename),
            ("rules/a/y.yml", rule_yaml("Missing", "y.py")),
        ],
    );
    assert_eq!(docs[0].status, ParseStatus::Failed);
    let d = error_of(&docs[0]);
    assert!(d.message.contains("without Filename"), "{d}");
    assert_eq!((d.line, d.column), (Some(1), Some(1)));
    assert_eq!(docs[1].status, ParseStatus::Failed);
    let d = error_of(&docs[1]);
    assert_eq!(d.message, "python file missing: y.py");
    assert_eq!(d.line, Some(2));
}

#[test]
fn rule_that_is_not_a_function() {
    let (docs, _) = run(
        &[(
            "rules/a/x.py",
            "import re\n\nrule = lambda event: True\n".to_string(),
        )],
        &[("rules/a/x.yml", rule_yaml("NotFn", "x.py"))],
    );
    assert_eq!(docs[0].status, ParseStatus::Failed);
    let d = error_of(&docs[0]);
    assert_eq!(d.message, "`rule` is not a function");
    assert_eq!((d.line, d.column), (Some(3), Some(1)));
}

#[test]
fn recursion_between_helpers_is_reported_not_followed() {
    let py = "def a(event):\n    return b(event)\n\n\ndef b(event):\n    return a(event) or event.get('x') == 1\n\n\ndef rule(event):\n    return a(event)\n";
    let (docs, _) = run(
        &[("rules/a/x.py", py.to_string())],
        &[("rules/a/x.yml", rule_yaml("Rec", "x.py"))],
    );
    let doc = &docs[0];
    assert_eq!(doc.status, ParseStatus::Partial);
    assert!(
        doc.lowered
            .unparsed
            .iter()
            .any(|u| u.reason == "recursive helper: a"),
        "{:?}",
        doc.lowered.unparsed
    );
    let d = doc
        .lowered
        .diagnostics
        .iter()
        .find(|d| d.code == "python-recursion")
        .expect("diagnostic");
    assert!(d.line.is_some());
    // The non-recursive part is still lowered.
    assert!(doc.lowered.predicates.iter().any(|p| p.raw_field == "x"));
}

#[test]
fn correlation_rule_referencing_itself() {
    let y = "AnalysisType: correlation_rule\nRuleID: \"Self\"\nSeverity: Low\nDetection:\n  - Sequence:\n      - ID: A\n        RuleID: Self\n      - ID: B\n        RuleID: Other\n    Transitions:\n      - ID: t\n        From: A\n        To: B\n        Match:\n          - On: user\n";
    let other = "AnalysisType: rule\nRuleID: \"Other\"\nLogTypes: [X]\nDetection:\n  - Key: a\n    Condition: Equals\n    Value: b\n";
    let (docs, diags) = run(
        &[],
        &[
            ("correlation_rules/self.yml", y.to_string()),
            ("rules/o.yml", other.to_string()),
        ],
    );
    assert!(
        diags
            .iter()
            .any(|d| d.code == "panther-correlation-cycle" && d.message.contains("Self")),
        "{diags:?}"
    );
    let c = &docs[0];
    assert_eq!(c.status, ParseStatus::Partial);
    assert!(
        c.lowered
            .unparsed
            .iter()
            .any(|u| u.reason.starts_with("correlation cycle"))
    );
    // The other link is still followed.
    assert!(
        c.lowered
            .predicates
            .iter()
            .any(|p| p.raw_field == "a" && p.context.contains_key("rule"))
    );
}

#[test]
fn correlation_cycle_between_two_rules() {
    let mk = |id: &str, other: &str| {
        format!(
            "AnalysisType: correlation_rule\nRuleID: \"{id}\"\nDetection:\n  - Group:\n      - ID: X\n        RuleID: {other}\n      - ID: Y\n        RuleID: {other}\n"
        )
    };
    let (docs, diags) = run(
        &[],
        &[
            ("correlation_rules/a.yml", mk("A", "B")),
            ("correlation_rules/b.yml", mk("B", "A")),
        ],
    );
    assert_eq!(docs.len(), 2);
    assert!(
        diags.iter().any(|d| d.code == "panther-correlation-cycle"),
        "{diags:?}"
    );
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_crash() {
    let n = 100_000;
    let shapes = [
        format!(
            "def rule(event):\n    return {}1{}\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
        format!(
            "def rule(event):\n    return {}event{}\n",
            "f(".repeat(n),
            ")".repeat(n)
        ),
        format!("def rule(event):\n    return {}event\n", "not ".repeat(n)),
        format!("def rule(event):\n    return event{}\n", ".a".repeat(n)),
    ];
    for (i, src) in shapes.iter().enumerate() {
        let (docs, _) = run(
            &[
                ("rules/a/deep.py", src.clone()),
                (
                    "rules/a/ok.py",
                    "def rule(event):\n    return event.get('a') == 'b'\n".to_string(),
                ),
            ],
            &[
                ("rules/a/deep.yml", rule_yaml("Deep", "deep.py")),
                ("rules/a/ok.yml", rule_yaml("Ok", "ok.py")),
            ],
        );
        assert_eq!(docs[0].status, ParseStatus::Failed, "shape {i}");
        let d = error_of(&docs[0]);
        assert_eq!(d.code, "limit-depth", "shape {i}");
        assert_eq!(d.line, Some(2), "shape {i}");
        assert_eq!(docs[1].status, ParseStatus::Full);
    }
}

#[test]
fn deep_yaml_and_broken_yaml() {
    let deep = format!(
        "AnalysisType: rule\nRuleID: x\nDetection: {}\n",
        "[".repeat(100_000)
    );
    let (docs, _) = run(
        &[],
        &[
            ("rules/deep.yml", deep),
            ("rules/broken.yml", "a: b\n  c: d: e\n".to_string()),
        ],
    );
    assert_eq!(docs.len(), 2);
    for d in &docs {
        assert_eq!(d.status, ParseStatus::Failed);
        assert!(error_of(d).line.is_some());
    }
}

#[test]
fn unavailable_global_helper_names_the_helper() {
    let py = "from panther_aws_helpers import aws_cloudtrail_success, aws_rule_context\n\n\ndef rule(event):\n    return event.get('eventName') == 'StopLogging' and aws_cloudtrail_success(event)\n\n\ndef alert_context(event):\n    return aws_rule_context(event)\n";
    let (docs, _) = run(
        &[("rules/a/x.py", py.to_string())],
        &[("rules/a/x.yml", rule_yaml("H", "x.py"))],
    );
    let doc = &docs[0];
    assert_eq!(doc.status, ParseStatus::Partial);
    let u = &doc.lowered.unparsed[0];
    assert_eq!(
        u.reason,
        "global helper not available: aws_cloudtrail_success"
    );
    assert_eq!(u.origin.as_ref().map(|o| (o.line, o.column)), Some((5, 56)));
    // Functions other than rule() (alert_context) do not filter.
    assert_eq!(doc.lowered.unparsed.len(), 1);
}

#[test]
fn policies_and_data_models_are_not_rules() {
    let (docs, diags) = run(
        &[],
        &[(
            "rules/p.yml",
            "AnalysisType: policy\nPolicyID: p\n".to_string(),
        )],
    );
    assert!(docs.is_empty());
    assert!(diags.iter().any(|d| d.code == "panther-policy"));
}

#[test]
fn deep_sql_is_a_diagnostic() {
    let q = format!(
        "AnalysisType: scheduled_query\nQueryName: q\nQuery: \"SELECT * FROM t WHERE {}a = 1{}\"\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let (docs, _) = run(&[], &[("queries/q.yml", q)]);
    assert_eq!(docs[0].status, ParseStatus::Failed);
    assert!(error_of(&docs[0]).line.is_some());
}

#[test]
fn helper_chains_stop_at_the_inline_limit() {
    let mut py = String::new();
    for i in 0..30 {
        py.push_str(&format!(
            "def f{i}(event):\n    return f{}(event)\n\n\n",
            i + 1
        ));
    }
    py.push_str("def f30(event):\n    return event.get('x') == 1\n\n\ndef rule(event):\n    return f0(event) and event.get('y') == 2\n");
    let (docs, _) = run(
        &[("rules/a/x.py", py)],
        &[("rules/a/x.yml", rule_yaml("Chain", "x.py"))],
    );
    let doc = &docs[0];
    assert_eq!(doc.status, ParseStatus::Partial);
    assert!(
        doc.lowered.unparsed[0]
            .reason
            .starts_with("helper inlining too deep"),
        "{:?}",
        doc.lowered.unparsed
    );
    assert!(doc.lowered.predicates.iter().any(|p| p.raw_field == "y"));
}

#[test]
fn nesting_below_the_scan_limit_lowers() {
    let py = format!(
        "def rule(event):\n    return {}event.get('x') == 1\n",
        "not ".repeat(150)
    );
    let (docs, _) = run(
        &[("rules/a/x.py", py)],
        &[("rules/a/x.yml", rule_yaml("Nots", "x.py"))],
    );
    assert_eq!(docs[0].status, ParseStatus::Full);
    assert!(!docs[0].lowered.predicates[0].negated);
}

#[test]
fn deepest_accepted_shapes_lower_on_a_small_stack() {
    // Just under the scan limit, in a thread with a 2 MiB stack (rayon's and the test
    // harness's default): lowering must not overflow either.
    let shapes = [
        format!(
            "def rule(event):\n    return {}event.get('x'){} == '1'\n",
            "str(".repeat(95),
            ")".repeat(95)
        ),
        format!(
            "def rule(event):\n    return event.get('x') in {}'a'{}\n",
            "[".repeat(95),
            "]".repeat(95)
        ),
        format!(
            "def rule(event):\n    return {}event.get('x') == 1\n",
            "not ".repeat(190)
        ),
        format!(
            "def rule(event):\n    return event.get('x'){} == 1\n",
            ".get('y')".repeat(60)
        ),
        format!(
            "def rule(event):\n    return {}1{}\n",
            "(event.get('x') == 1 and (".repeat(45),
            "))".repeat(45)
        ),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            for (i, src) in shapes.iter().enumerate() {
                let (docs, _) = run(
                    &[("rules/a/x.py", src.clone())],
                    &[("rules/a/x.yml", rule_yaml("D", "x.py"))],
                );
                assert_ne!(
                    docs[0].status,
                    ParseStatus::Failed,
                    "shape {i} should pass the scan: {:?}",
                    docs[0].lowered.diagnostics
                );
            }
        })
        .expect("thread");
    handle.join().expect("no stack overflow");
}

#[test]
fn truncated_fixture_sources_never_panic() {
    // Every prefix (in steps) of every fixture Python file and rule YAML: diagnostics, no panic.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "py" || x == "yml") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 50);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let is_py = f.extension().is_some_and(|x| x == "py");
        let mut cut = 0;
        while cut < text.len() {
            if text.is_char_boundary(cut) {
                let prefix = &text[..cut];
                if is_py {
                    run(
                        &[("rules/a/x.py", prefix.to_string())],
                        &[("rules/a/x.yml", rule_yaml("T", "x.py"))],
                    );
                } else {
                    run(&[], &[("rules/a/x.yml", prefix.to_string())]);
                }
            }
            cut += 13;
        }
    }
}
