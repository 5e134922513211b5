//! `ruleatlas build` writes the catalog while files are still being read (each rule as soon
//! as it is loaded, then what linking and final ids revise). The result must be exactly the
//! catalog of the plain path: load everything, normalize, write in one go. This test builds
//! both from sources that exercise every revision: Sigma filters and correlations (linking
//! changes rules), the same folder twice (ids become `~2`), Panther scheduled queries and
//! correlations, and the shared corpus's Kusto and Panther rules when present.

#[path = "../src/adapters.rs"]
mod adapters;

use std::path::{Path, PathBuf};
use std::process::Command;

use rayon::prelude::*;
use ruleatlas_catalog::{BuildInput, write_catalog};
use ruleatlas_loader::{Source, load_all};
use ruleatlas_model::Vendor;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every row of every table, as text, sorted; `meta` without the build's time figures.
fn dump(db: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    let conn = rusqlite::Connection::open(db).expect("open catalog");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("tables");
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {t}")).expect("select");
        let n = stmt.column_count();
        let mut rows: Vec<Vec<String>> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        let v: rusqlite::types::Value = r.get(i)?;
                        Ok(format!("{v:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("row");
        if t == "meta" {
            rows.retain(|r| {
                !r.first()
                    .is_some_and(|k| k.contains("build_seconds") || k.contains("built_at"))
            });
        }
        rows.sort();
        out.push((t, rows));
    }
    out
}

#[test]
fn streamed_build_equals_the_plain_write() {
    let root = repo();
    let sigma = root.join("crates/ruleatlas_sigma/tests/fixtures");
    let panther = root.join("crates/ruleatlas_panther/tests/fixtures");
    let attack_file = root.join("examples/attack/enterprise-attack-subset.json");
    let mut specs: Vec<(Vendor, PathBuf)> = vec![
        (Vendor::Sigma, sigma.clone()),
        (Vendor::Sigma, sigma),
        (Vendor::Panther, panther),
    ];
    if let Some(shared) = ruleatlas_testkit::shared_dir() {
        specs.push((Vendor::Kusto, shared.join("corpus/kusto")));
        specs.push((Vendor::Panther, shared.join("corpus/panther")));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let streamed = dir.path().join("streamed.db");
    let plain = dir.path().join("plain.db");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ruleatlas"));
    cmd.arg("build").arg("--quiet");
    for (v, p) in &specs {
        cmd.arg("--source")
            .arg(format!("{}={}", v.key(), p.display()));
    }
    cmd.arg("--attack")
        .arg(&attack_file)
        .arg("-o")
        .arg(&streamed);
    let status = cmd.status().expect("run ruleatlas build");
    assert!(status.success(), "ruleatlas build failed");

    let sources: Vec<Source> = specs.iter().map(|(v, p)| Source::new(*v, p)).collect();
    let mut attack = ruleatlas_attack::Attack::default();
    attack
        .add_bundle(
            &attack_file.to_string_lossy(),
            &std::fs::read_to_string(&attack_file).expect("bundle"),
        )
        .expect("valid bundle");
    let mut report = load_all(&sources, &adapters::adapter, &attack, &|_| {});
    let taxonomy = ruleatlas_taxonomy::Taxonomy::builtin();
    report
        .rules
        .par_iter_mut()
        .for_each(|r| taxonomy.normalize(&mut r.doc));
    let labels = specs
        .iter()
        .map(|(v, p)| format!("{}={}", v.key(), p.display()))
        .collect();
    write_catalog(
        &plain,
        &BuildInput {
            rules: &report.rules,
            diagnostics: &report.diagnostics,
            files: &report.files,
            attack: &attack,
            build_seconds: 0.0,
            sources: labels,
        },
    )
    .expect("plain write");

    // The sources really do exercise the revisions.
    let ids: Vec<&str> = report.rules.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.iter().any(|i| i.contains('~')), "duplicate ids renamed");
    assert!(
        report
            .rules
            .iter()
            .any(|r| r.doc.extra.contains_key("sigma_filters")),
        "a Sigma filter applied to a rule"
    );

    let (a, b) = (dump(&streamed), dump(&plain));
    assert_eq!(a.len(), b.len(), "same tables");
    for ((ta, ra), (tb, rb)) in a.iter().zip(&b) {
        assert_eq!(ta, tb);
        assert_eq!(ra.len(), rb.len(), "{ta}: row count");
        for (x, y) in ra.iter().zip(rb) {
            assert_eq!(x, y, "{ta}: first differing row");
        }
    }
}
