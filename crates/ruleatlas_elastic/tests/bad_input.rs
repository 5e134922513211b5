//! Bad input (issue 3): unclosed TOML, a `'''` never closed, a 100,000-deep KQL query, a
//! query with unknown syntax. Each gives a diagnostic with path and line:column, no panic,
//! and the other rules still load.

use ruleatlas_elastic::ElasticAdapter;
use ruleatlas_model::{ParseStatus, RuleDoc, VendorAdapter};

const GOOD: &str = r#"[metadata]
maturity = "production"

[rule]
name = "Good"
rule_id = "good"
language = "kuery"
type = "query"
query = '''
process.name: cmd.exe
'''
"#;

fn load(path: &str, text: &str) -> RuleDoc {
    let (mut docs, diags) = ElasticAdapter::new().load(path, text);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// Loads the bad file between two good ones, as the loader would, and returns it.
fn load_among_good(path: &str, text: &str) -> RuleDoc {
    let a = load("rules/a.toml", GOOD);
    let bad = load(path, text);
    let b = load("rules/b.toml", GOOD);
    assert_eq!(a.status, ParseStatus::Full);
    assert_eq!(b.status, ParseStatus::Full);
    bad
}

fn first_error(doc: &RuleDoc) -> &ruleatlas_diagnostics::Diagnostic {
    doc.lowered
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error diagnostic")
}

#[test]
fn unclosed_toml_table() {
    let text = "[metadata]\nmaturity = \"production\"\n\n[rule\nname = \"x\"\n";
    let doc = load_among_good("rules/broken.toml", text);
    assert_eq!(doc.status, ParseStatus::Failed);
    let d = first_error(&doc);
    assert_eq!(d.path.as_deref(), Some("rules/broken.toml"));
    assert_eq!(d.line, Some(4), "{d}");
    assert!(d.column.is_some());
}

#[test]
fn triple_quote_never_closed() {
    let text = "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"x\"\nquery = '''\nprocess.name: a\n";
    let doc = load_among_good("rules/unclosed.toml", text);
    assert_eq!(doc.status, ParseStatus::Failed);
    let d = first_error(&doc);
    assert_eq!(d.path.as_deref(), Some("rules/unclosed.toml"));
    assert!(d.line.is_some_and(|l| l >= 6), "{d}");
}

#[test]
fn hundred_thousand_deep_kql() {
    let n = 100_000;
    let q = format!("{}process.name: a{}", "(".repeat(n), ")".repeat(n));
    let text = format!(
        "[rule]\nname = \"deep\"\nrule_id = \"deep\"\nlanguage = \"kuery\"\ntype = \"query\"\nquery = '''\n{q}\n'''\n"
    );
    let doc = load_among_good("rules/deep.toml", &text);
    assert_eq!(doc.status, ParseStatus::Partial);
    let d = doc
        .lowered
        .diagnostics
        .iter()
        .find(|d| d.code == "limit-depth")
        .expect("limit-depth");
    assert_eq!(d.path.as_deref(), Some("rules/deep.toml"));
    assert_eq!(d.line, Some(7));
    assert_eq!(d.column, Some(201));
}

#[test]
fn query_with_unknown_syntax() {
    let text = "[rule]\nname = \"odd\"\nrule_id = \"odd\"\nlanguage = \"kuery\"\ntype = \"query\"\nquery = '''\nevent.category: process and\n  process.name ~= \"cmd.exe\" : x\n'''\n";
    let doc = load_among_good("rules/odd.toml", text);
    assert_eq!(doc.status, ParseStatus::Partial);
    let d = first_error(&doc);
    assert_eq!(d.path.as_deref(), Some("rules/odd.toml"));
    assert_eq!(d.line, Some(8), "{d}");
    assert!(d.column.is_some());
    let u = &doc.lowered.unparsed[0];
    assert_eq!(u.reason, "kql syntax error");
    assert_eq!(u.origin.as_ref().map(|o| o.line), Some(8));
    // The readable part is kept.
    assert!(
        doc.lowered
            .predicates
            .iter()
            .any(|p| p.raw_field == "event.category")
    );
}

#[test]
fn unknown_language_and_type() {
    let text = "[rule]\nname = \"x\"\nrule_id = \"x\"\nlanguage = \"sql\"\ntype = \"query\"\nquery = 'select 1'\n";
    let doc = load("rules/x.toml", text);
    assert_eq!(doc.status, ParseStatus::Partial);
    assert_eq!(
        doc.lowered.unparsed[0].reason,
        "query language not supported: sql"
    );
    let text = "[rule]\nname = \"x\"\nrule_id = \"x\"\nlanguage = \"kuery\"\ntype = \"future\"\nquery = 'a: b'\n";
    let doc = load("rules/x.toml", text);
    assert_eq!(
        doc.lowered.unparsed[0].reason,
        "rule type not supported: future"
    );
}

#[test]
fn toml_that_is_not_a_rule() {
    let (docs, diags) = ElasticAdapter::new().load("rules/etc/config.toml", "[files]\nx = 1\n");
    assert!(docs.is_empty());
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].path.as_deref(), Some("rules/etc/config.toml"));
    assert_eq!(diags[0].line, Some(1));
}

#[test]
fn query_over_the_size_limit() {
    let big = "a: b and ".repeat(ruleatlas_model::LIMITS.max_query_bytes / 9 + 10) + "c: d";
    let text = format!(
        "[rule]\nname = \"big\"\nrule_id = \"big\"\nlanguage = \"kuery\"\ntype = \"query\"\nquery = '''\n{big}\n'''\n"
    );
    let doc = load("rules/big.toml", &text);
    assert_eq!(doc.status, ParseStatus::Partial);
    let d = doc
        .lowered
        .diagnostics
        .iter()
        .find(|d| d.code == "limit-query-size")
        .expect("limit-query-size");
    assert_eq!(
        (d.path.as_deref(), d.line),
        (Some("rules/big.toml"), Some(7))
    );
}

#[test]
fn rule_without_id_is_kept_with_a_warning() {
    let text = "[rule]\nname = \"x\"\nlanguage = \"kuery\"\ntype = \"query\"\nquery = 'a: b'\n";
    let doc = load("rules/x.toml", text);
    assert_eq!(doc.status, ParseStatus::Full);
    assert!(
        doc.lowered
            .diagnostics
            .iter()
            .any(|d| d.code == "missing-id" && d.line == Some(1) && d.path.is_some())
    );
}
