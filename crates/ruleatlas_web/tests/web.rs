//! Every route, in-process: statuses, content types, JSON shapes, escaping of untrusted rule
//! text, path traversal, malformed query strings, and reloading the catalog.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use ruleatlas_attack::Attack;
use ruleatlas_catalog::{BuildInput, Index, write_catalog};
use ruleatlas_loader::{LoadedRule, ResolvedTechnique};
use ruleatlas_model::{Op, ParseStatus, Predicate, RuleDoc, TechniqueRef, Unparsed, Value, Vendor};
use ruleatlas_web::{AppState, router};
use serde_json::Value as Json;
use tower::ServiceExt;

const XSS_TITLE: &str = "<script>alert(1)</script>";
const XSS_VALUE: &str = "<img src=x onerror=alert(1)>";

fn rule(
    vendor: Vendor,
    native: &str,
    title: &str,
    technique: &str,
    preds: Vec<Predicate>,
) -> LoadedRule {
    let mut doc = RuleDoc::new(vendor, format!("rules/{native}.yml"));
    doc.native_id = Some(native.to_string());
    doc.title = title.to_string();
    doc.language = match vendor {
        Vendor::Sigma => "sigma",
        Vendor::Elastic => "eql",
        Vendor::Splunk => "spl",
        Vendor::Kusto => "kql",
        Vendor::Yaral => "yaral",
        Vendor::Panther => "python",
    }
    .to_string();
    doc.query = format!("selection: '{XSS_VALUE}' {XSS_TITLE}");
    doc.severity = Some("high".into());
    doc.rule_status = Some("test".into());
    doc.platforms = vec!["okta".into()];
    doc.domains = vec!["identity".into()];
    doc.techniques = vec![TechniqueRef {
        id: technique.into(),
        name: Some("MFA Request Generation".into()),
    }];
    doc.lowered.predicates = preds;
    doc.status = ParseStatus::Full;
    LoadedRule {
        id: format!("{}:{native}", vendor.key()),
        doc,
        source: format!("corpus/{}", vendor.key()),
        commit: None,
        techniques: vec![ResolvedTechnique {
            id: technique.into(),
            name: Some("MFA Request Generation".into()),
            known: false,
            revoked_by: None,
        }],
    }
}

fn rules(extra: bool) -> Vec<LoadedRule> {
    let mut excl = Predicate::new(
        "auth_msg",
        Op::Eq,
        vec![Value::str("MFA successfully completed")],
    );
    excl.exclusion = true;
    excl.negated = true;
    let mut xss = rule(
        Vendor::Sigma,
        "aaaa-1",
        XSS_TITLE,
        "T1621",
        vec![
            Predicate::new("eventType", Op::Eq, vec![Value::str(XSS_VALUE)]),
            excl,
        ],
    );
    xss.doc.false_positives = vec!["<b>admins</b> testing".into()];
    xss.doc.references = vec![
        "javascript:alert(1)".into(),
        "https://example.test/ref".into(),
    ];
    xss.doc.lowered.unparsed = vec![Unparsed::new("| weird <x>", "unknown command: weird")];
    let mut out = vec![
        xss,
        rule(
            Vendor::Splunk,
            "bbbb-2",
            "Splunk MFA Fatigue",
            "T1621",
            vec![
                Predicate::new("sourcetype", Op::Eq, vec![Value::str("OktaIM2:log")]),
                Predicate::new(
                    "eventType",
                    Op::Eq,
                    vec![Value::str("user.authentication.auth_via_mfa")],
                ),
            ],
        ),
        rule(
            Vendor::Elastic,
            "cccc~2",
            "Elastic MFA Push Brute Force",
            "T1621",
            vec![Predicate::new(
                "eventType",
                Op::Eq,
                vec![Value::str("user.authentication.auth_via_mfa")],
            )],
        ),
        rule(
            Vendor::Kusto,
            "dddd/4",
            "Kusto brute force",
            "T1110",
            vec![Predicate::new(
                "sourcetype",
                Op::Eq,
                vec![Value::str("OktaIM2:log")],
            )],
        ),
    ];
    if extra {
        out.push(rule(
            Vendor::Panther,
            "Okta.New.Rule",
            "Panther rule added later",
            "T1621",
            vec![Predicate::new(
                "eventType",
                Op::Eq,
                vec![Value::str("system.push.send_factor_verify_push")],
            )],
        ));
    }
    out
}

fn write(path: &Path, extra: bool) {
    let rules = rules(extra);
    let files: BTreeMap<Vendor, usize> = Vendor::ALL.iter().map(|v| (*v, 1)).collect();
    let attack = Attack::default();
    let input = BuildInput {
        rules: &rules,
        diagnostics: &[],
        files: &files,
        attack: &attack,
        build_seconds: 0.1,
        sources: Vec::new(),
    };
    write_catalog(path, &input).expect("write catalog");
}

fn app() -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    write(&path, false);
    let state = AppState::from_index(Index::open(&path).expect("open"));
    (dir, state)
}

struct Answer {
    status: StatusCode,
    content_type: String,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(state: &AppState, req: Request<Body>) -> Answer {
    let resp = router(state.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = to_bytes(resp.into_body(), 64 << 20).await.expect("body");
    Answer {
        status,
        content_type,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(state: &AppState, uri: &str) -> Answer {
    send(
        state,
        Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

/// Whether `body` holds `raw` HTML-escaped (askama writes `&#60;`, the highlighter `&lt;`).
fn escaped(body: &str, raw: &str) -> bool {
    let named = raw.replace('<', "&lt;").replace('>', "&gt;");
    let numeric = raw.replace('<', "&#60;").replace('>', "&#62;");
    body.contains(&named) || body.contains(&numeric)
}

fn json(a: &Answer) -> Json {
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", a.body))
}

#[tokio::test]
async fn every_page_answers_with_the_right_status() {
    let (_dir, s) = app();
    let cases: &[(&str, u16, &str)] = &[
        ("/", 200, "text/html"),
        ("/?vendor=splunk", 200, "text/html"),
        ("/?matrix=mobile", 200, "text/html"),
        ("/?vendor=nope", 400, "text/html"),
        ("/techniques/T1621", 200, "text/html"),
        ("/techniques/t1621", 200, "text/html"),
        (
            "/techniques/T1621?platform=okta&domain=identity&vendor=sigma&severity=high&rule_status=test",
            200,
            "text/html",
        ),
        ("/techniques/T1621?include_hunts=true", 200, "text/html"),
        ("/techniques/T1110", 200, "text/html"),
        ("/techniques/T9999", 404, "text/html"),
        ("/techniques/notatechnique", 404, "text/html"),
        ("/techniques/T1621?vendor=nope", 400, "text/html"),
        ("/techniques/T1621?platform=%zz", 400, "text/html"),
        ("/techniques/T1621?platform=%ff%fe", 400, "text/html"),
        ("/techniques/T1621?include_hunts=maybe", 400, "text/html"),
        ("/techniques/%ff", 400, "text/html"),
        ("/rules/sigma/aaaa-1", 200, "text/html"),
        ("/rules/elastic/cccc~2", 200, "text/html"),
        ("/rules/elastic/cccc%7E2", 200, "text/html"),
        ("/rules/kusto/dddd%2F4", 200, "text/html"),
        ("/rules/sigma/nope", 404, "text/html"),
        ("/rules/nope/aaaa-1", 404, "text/html"),
        ("/rules/sigma/%ff", 400, "text/html"),
        ("/fields", 200, "text/html"),
        ("/fields/eventType", 200, "text/html"),
        ("/fields/nope", 404, "text/html"),
        ("/search", 200, "text/html"),
        ("/search?q=MFA", 200, "text/html"),
        (
            "/search?q=field%3AeventType+value%3Aauth_via_mfa",
            200,
            "text/html",
        ),
        ("/search?q=%", 400, "text/html"),
        ("/static/style.css", 200, "text/css"),
        ("/static/sort.js", 200, "text/javascript"),
        ("/static/..%2f..%2fetc/passwd", 404, "text/html"),
        ("/static/..%2F..%2Fetc%2Fpasswd", 404, "text/html"),
        ("/static/../../etc/passwd", 404, "text/html"),
        ("/static/", 404, "text/html"),
        ("/static/style.css/..%2f..%2fCargo.toml", 404, "text/html"),
        ("/no/such/page", 404, "text/html"),
        ("/api/techniques", 200, "application/json"),
        (
            "/api/techniques?include_hunts=1&all=true",
            200,
            "application/json",
        ),
        ("/api/techniques/T1621", 200, "application/json"),
        (
            "/api/techniques/T1621?vendor=splunk",
            200,
            "application/json",
        ),
        ("/api/techniques/T9999", 404, "application/json"),
        ("/api/techniques/T1621?vendor=nope", 400, "application/json"),
        ("/api/rules/sigma/aaaa-1", 200, "application/json"),
        ("/api/rules/elastic/cccc~2", 200, "application/json"),
        ("/api/rules/sigma/nope", 404, "application/json"),
        ("/api/fields", 200, "application/json"),
        ("/api/fields/eventType", 200, "application/json"),
        ("/api/fields/nope", 404, "application/json"),
        ("/api/search?q=MFA", 200, "application/json"),
        ("/api/search", 400, "application/json"),
        ("/api/search?q=%zz", 400, "application/json"),
        ("/api/stats", 200, "application/json"),
        ("/api/nope", 404, "application/json"),
        ("/-/health", 200, "application/json"),
    ];
    for (uri, status, ct) in cases {
        let a = get(&s, uri).await;
        assert_eq!(a.status.as_u16(), *status, "{uri}: {}", a.body);
        assert!(
            a.content_type.starts_with(ct),
            "{uri}: content type {}",
            a.content_type
        );
        assert_eq!(
            a.headers
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{uri}"
        );
        let csp = a
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(csp.starts_with("default-src 'self'"), "{uri}: {csp}");
        // The second answer comes from the page cache and must be the same.
        let again = get(&s, uri).await;
        assert_eq!(again.status, a.status, "{uri}");
        assert_eq!(again.body, a.body, "{uri}");
    }
    let css = get(&s, "/static/style.css").await;
    assert!(
        css.headers
            .get(header::CACHE_CONTROL)
            .is_some_and(|v| v.to_str().unwrap_or("").contains("max-age"))
    );
}

#[tokio::test]
async fn guide_page_shows_the_sections_and_filters_narrow_the_rules() {
    let (_dir, s) = app();
    let a = get(&s, "/techniques/T1621").await;
    for heading in [
        "Fields filtered most",
        "Top indicator values",
        "Exclusions",
        "Documented false positives",
        "Rules under this technique",
    ] {
        assert!(a.body.contains(heading), "missing {heading}");
    }
    assert!(a.body.contains("Splunk MFA Fatigue"));
    assert!(a.body.contains("Elastic MFA Push Brute Force"));
    assert!(a.body.contains("unknown to the loaded ATT&amp;CK version"));
    // The value row expands to the rules that use it.
    assert!(
        a.body
            .contains("<details><summary><code>user.authentication.auth_via_mfa</code></summary>")
    );
    assert!(a.body.contains("/rules/elastic/cccc~2"));
    // The select offers the vendors present.
    assert!(a.body.contains("<option value=\"splunk\">Splunk</option>"));

    let f = get(&s, "/techniques/T1621?vendor=splunk").await;
    assert!(f.body.contains("Splunk MFA Fatigue"));
    assert!(!f.body.contains("Elastic MFA Push Brute Force"));
    assert!(f.body.contains("<option value=\"splunk\" selected>"));
    assert!(f.body.contains("1 rules"));
}

#[tokio::test]
async fn untrusted_rule_text_is_escaped_everywhere() {
    let (_dir, s) = app();
    for uri in [
        "/",
        "/techniques/T1621",
        "/rules/sigma/aaaa-1",
        "/fields",
        "/fields/eventType",
        "/search?q=alert",
        "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/techniques/T1621?platform=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ] {
        let a = get(&s, uri).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}");
        assert!(
            !a.body.contains("<script>alert"),
            "{uri} has a raw script tag"
        );
        assert!(!a.body.contains("<img src=x"), "{uri} has a raw img tag");
        assert!(!a.body.contains("<b>admins"), "{uri} has raw markup");
        assert!(
            !a.body.contains("href=\"javascript:"),
            "{uri} links javascript:"
        );
    }
    let rule = get(&s, "/rules/sigma/aaaa-1").await;
    assert!(escaped(&rule.body, XSS_TITLE), "{}", rule.body);
    assert!(rule.body.contains("href=\"https://example.test/ref\""));
    assert!(rule.body.contains("unknown command: weird"));
    let guide = get(&s, "/techniques/T1621").await;
    assert!(escaped(&guide.body, XSS_VALUE));
    // An error page echoes nothing unescaped either.
    let e = get(&s, "/techniques/T1621?vendor=%3Cscript%3E").await;
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert!(!e.body.contains("<script>"));
}

#[tokio::test]
async fn json_api_has_the_contract_keys() {
    let (_dir, s) = app();
    let g = json(&get(&s, "/api/techniques/T1621").await);
    for k in [
        "technique",
        "rule_count",
        "vendors",
        "subtechniques",
        "fields",
        "indicators",
        "exclusions",
        "false_positives",
        "rules",
    ] {
        assert!(g.get(k).is_some(), "guide lacks {k}");
    }
    for k in ["id", "name", "tactics", "description", "known"] {
        assert!(g["technique"].get(k).is_some(), "technique lacks {k}");
    }
    assert_eq!(g["rule_count"], 3);
    for k in ["field", "rules", "ops", "samples"] {
        assert!(g["fields"][0].get(k).is_some(), "field row lacks {k}");
    }
    for k in ["field", "op", "value", "rules", "corpus_reach"] {
        assert!(g["indicators"][0].get(k).is_some(), "indicator lacks {k}");
    }
    for k in ["field", "op", "value", "rules"] {
        assert!(g["exclusions"][0].get(k).is_some(), "exclusion lacks {k}");
    }
    for k in [
        "id",
        "vendor",
        "title",
        "platforms",
        "domains",
        "severity",
        "rule_status",
        "status",
        "path",
    ] {
        assert!(g["rules"][0].get(k).is_some(), "rule row lacks {k}");
    }
    let f = json(&get(&s, "/api/techniques/T1621?vendor=splunk").await);
    assert_eq!(f["rule_count"], 1);

    let r = json(&get(&s, "/api/rules/sigma/aaaa-1").await);
    for k in [
        "id",
        "vendor",
        "kind",
        "title",
        "path",
        "commit",
        "severity",
        "rule_status",
        "language",
        "query",
        "techniques",
        "platforms",
        "domains",
        "deprecated",
        "enabled",
        "status",
        "predicates",
        "unparsed",
        "diagnostics",
    ] {
        assert!(r.get(k).is_some(), "rule lacks {k}");
    }
    assert_eq!(r["title"], XSS_TITLE, "JSON carries the text as written");

    let t = json(&get(&s, "/api/techniques").await);
    assert!(
        t.as_array()
            .is_some_and(|a| a.iter().any(|x| x["id"] == "T1621" && x["rules"] == 3))
    );
    let fl = json(&get(&s, "/api/fields").await);
    assert!(fl.as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x["field"] == "eventType" && x.get("raw").is_some())
    }));
    let fd = json(&get(&s, "/api/fields/eventType").await);
    assert_eq!(fd["field"], "eventType");
    let sr = json(&get(&s, "/api/search?q=field%3AeventType").await);
    assert!(
        sr.get("splunk").is_some() && sr.get("elastic").is_some(),
        "{sr}"
    );
    let st = json(&get(&s, "/api/stats").await);
    for k in [
        "rules",
        "predicates",
        "techniques",
        "build_seconds",
        "vendors",
    ] {
        assert!(st.get(k).is_some(), "stats lacks {k}");
    }
    assert_eq!(st["rules"], 4);
    let e = json(&get(&s, "/api/techniques/T9999").await);
    assert_eq!(e["status"], 404);
}

fn reload_request(peer: &str) -> Request<Body> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/-/reload")
        .body(Body::empty())
        .expect("request");
    let addr: SocketAddr = peer.parse().expect("addr");
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

#[tokio::test]
async fn reload_swaps_in_the_new_catalog_and_keeps_the_old_on_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("live.db");
    write(&path, false);
    let s = AppState::open(&path).expect("open");
    assert_eq!(json(&get(&s, "/api/stats").await)["rules"], 4);
    let before = get(&s, "/techniques/T1621").await;
    assert!(!before.body.contains("Panther rule added later"));

    // A build replaces the file; the server keeps answering from its loaded index.
    write(&path, true);
    assert_eq!(json(&get(&s, "/api/stats").await)["rules"], 4);

    // Only loopback may reload.
    let denied = send(&s, reload_request("192.0.2.7:5000")).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let no_peer = send(
        &s,
        Request::builder()
            .method(Method::POST)
            .uri("/-/reload")
            .body(Body::empty())
            .expect("r"),
    )
    .await;
    assert_eq!(no_peer.status, StatusCode::FORBIDDEN);
    assert_eq!(json(&get(&s, "/api/stats").await)["rules"], 4);

    let ok = send(&s, reload_request("127.0.0.1:5000")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(json(&ok)["reloaded"], true);
    assert_eq!(json(&get(&s, "/api/stats").await)["rules"], 5);
    let after = get(&s, "/techniques/T1621").await;
    assert!(
        after.body.contains("Panther rule added later"),
        "cached page was not dropped on reload"
    );

    // A broken file: the reload fails, the previous index stays.
    std::fs::write(&path, b"not a catalog").expect("write");
    let bad = send(&s, reload_request("[::1]:5000")).await;
    assert_eq!(bad.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json(&bad)["reloaded"], false);
    assert_eq!(json(&get(&s, "/api/stats").await)["rules"], 5);
    assert!(
        get(&s, "/techniques/T1621")
            .await
            .body
            .contains("Panther rule added later")
    );

    // Swapping an index in directly (what SIGHUP's reload does after loading).
    let other = tempfile::tempdir().expect("tempdir");
    let p2 = other.path().join("b.db");
    write(&p2, false);
    let snap_before = s.snapshot();
    s.swap(Index::open(&p2).expect("open"));
    assert_eq!(json(&get(&s, "/api/stats").await)["rules"], 4);
    // A request holding the old snapshot still sees the old data.
    assert_eq!(snap_before.index.rules.len(), 5);
}

#[tokio::test]
async fn overview_shows_vendors_and_gaps() {
    let (_dir, s) = app();
    let a = get(&s, "/").await;
    assert!(a.body.contains("Vendors"));
    assert!(a.body.contains("Gaps"));
    assert!(a.body.contains("one vendor only"));
    assert!(a.body.contains("T1110"), "T1110 has one vendor");
    assert!(a.body.contains("unknown to the loaded ATT&amp;CK version"));
    let v = get(&s, "/?vendor=kusto").await;
    assert!(v.body.contains("1 counted rules of Kusto"), "{}", v.body);
}
