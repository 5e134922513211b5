//! `serve` over a real socket: it binds, reports its URL, answers, and takes `POST /-/reload`
//! from loopback (the peer address comes from the connection, not from the request).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use ruleatlas_attack::Attack;
use ruleatlas_catalog::{BuildInput, write_catalog};
use ruleatlas_loader::{LoadedRule, ResolvedTechnique};
use ruleatlas_model::{Op, ParseStatus, Predicate, RuleDoc, Value, Vendor};

fn write(path: &std::path::Path, titles: &[&str]) {
    let rules: Vec<LoadedRule> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut doc = RuleDoc::new(Vendor::Sigma, format!("rules/r{i}.yml"));
            doc.title = (*t).to_string();
            doc.native_id = Some(format!("r{i}"));
            doc.lowered.predicates =
                vec![Predicate::new("EventID", Op::Eq, vec![Value::Int(4624)])];
            doc.status = ParseStatus::Full;
            LoadedRule {
                id: format!("sigma:r{i}"),
                doc,
                source: "corpus/sigma".into(),
                commit: None,
                techniques: vec![ResolvedTechnique {
                    id: "T1078".into(),
                    name: None,
                    known: false,
                    revoked_by: None,
                }],
            }
        })
        .collect();
    let files: BTreeMap<Vendor, usize> = [(Vendor::Sigma, rules.len())].into_iter().collect();
    let attack = Attack::default();
    let input = BuildInput {
        rules: &rules,
        diagnostics: &[],
        files: &files,
        attack: &attack,
        build_seconds: 0.0,
        sources: vec![],
    };
    write_catalog(path, &input).expect("write");
}

fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[test]
fn serves_over_tcp_and_reloads_from_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.db");
    write(&path, &["First catalog rule"]);
    let (tx, rx) = mpsc::channel::<String>();
    let p = path.clone();
    // The server runs until the test process ends.
    std::thread::spawn(move || {
        let ready = move |url: &str| {
            let _ = tx.send(url.to_string());
        };
        let r = ruleatlas_web::serve(&p, "127.0.0.1:0", Some(&ready));
        panic!("serve returned: {r:?}");
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server reports its URL");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();

    let (status, body) = http(&addr, "GET", "/techniques/T1078");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("First catalog rule"));
    assert!(
        body.to_ascii_lowercase()
            .contains("content-security-policy: default-src 'self'")
    );

    write(&path, &["First catalog rule", "Second catalog rule"]);
    let (status, body) = http(&addr, "GET", "/techniques/T1078");
    assert_eq!(status, 200);
    assert!(
        !body.contains("Second catalog rule"),
        "answers from the loaded index until reloaded"
    );

    let (status, body) = http(&addr, "POST", "/-/reload");
    assert_eq!(status, 200, "{body}");
    let (_, body) = http(&addr, "GET", "/techniques/T1078");
    assert!(body.contains("Second catalog rule"), "{body}");

    assert!(
        ruleatlas_web::serve(&path, "256.0.0.1:1", None).is_err(),
        "a bad address is an error, not a panic"
    );
    assert!(ruleatlas_web::serve(&dir.path().join("missing.db"), "127.0.0.1:0", None).is_err());
}
