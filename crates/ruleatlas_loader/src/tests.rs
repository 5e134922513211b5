//! Loader tests with a toy adapter: files are `id=...` lines; bad input of every kind.

use super::*;
use ruleatlas_model::{Condition, LIMITS, Op, ParseStatus, Predicate, Value};

/// A toy vendor: `*.rule` files hold `id=X` and `field=value` lines; `macros/*.txt` is support.
struct Toy;

impl VendorAdapter for Toy {
    fn vendor(&self) -> Vendor {
        Vendor::Sigma
    }

    fn role(&self, rel: &str) -> FileRole {
        if rel.ends_with(".rule") {
            FileRole::Rule
        } else if rel.starts_with("macros/") {
            FileRole::Support
        } else {
            FileRole::Ignore
        }
    }

    fn prepare(&mut self, _support: &Support) -> Vec<Diagnostic> {
        Vec::new()
    }

    fn load(&self, rel: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        if text.contains("broken") {
            return (
                vec![RuleDoc::failed(
                    Vendor::Sigma,
                    rel,
                    Diagnostic::error("toy", "broken")
                        .at(ruleatlas_text::LineColumn { line: 1, column: 1 }),
                )],
                Vec::new(),
            );
        }
        let mut doc = RuleDoc::new(Vendor::Sigma, rel);
        for line in text.lines() {
            if let Some(id) = line.strip_prefix("id=") {
                doc.native_id = Some(id.to_string());
            } else if let Some((f, v)) = line.split_once('=') {
                let c = doc
                    .lowered
                    .pred(Predicate::new(f, Op::Eq, vec![Value::str(v)]));
                doc.lowered.tree = Condition::and(vec![doc.lowered.tree.clone(), c]);
            }
        }
        doc.lowered.finish();
        doc.settle_status();
        (vec![doc], Vec::new())
    }

    fn sniff(&self, _rel: &str, _text: &str) -> bool {
        true
    }
}

fn factory(_: Vendor) -> Box<dyn VendorAdapter> {
    Box::new(Toy)
}

fn load(dir: &Path) -> LoadReport {
    load_all(
        &[Source::new(Vendor::Sigma, dir)],
        &factory,
        &Attack::default(),
        &|_| {},
    )
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, bytes).expect("write");
}

fn status_of<'a>(r: &'a LoadReport, path: &str) -> (&'a LoadedRule, ParseStatus) {
    let rule = r
        .rules
        .iter()
        .find(|x| x.doc.path == path)
        .unwrap_or_else(|| panic!("no rule {path}"));
    (rule, rule.doc.status)
}

#[test]
fn bad_files_fail_alone_and_good_rules_stay() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    write(d, "good.rule", b"id=a\nImage=x\n");
    write(d, "bom.rule", b"\xef\xbb\xbfid=bom\nx=y\n");
    write(d, "latin1.rule", b"id=l\nx=caf\xe9\n");
    write(d, "binary.rule", b"id=b\x00\x01\x02");
    write(d, "empty.rule", b"");
    write(d, "broken.rule", b"broken");
    let big = vec![b'a'; usize::try_from(LIMITS.max_file_bytes).unwrap_or(0) + 10];
    write(d, "huge.rule", &big);
    std::fs::create_dir_all(d.join("dir.rule")).expect("dir as file");
    let r = load(d);

    let (good, st) = status_of(&r, "good.rule");
    assert_eq!(st, ParseStatus::Full);
    assert_eq!(good.id, "sigma:a");
    assert_eq!(status_of(&r, "bom.rule").1, ParseStatus::Full);
    for (path, code) in [
        ("latin1.rule", "encoding"),
        ("binary.rule", "binary"),
        ("empty.rule", "empty"),
        ("broken.rule", "toy"),
        ("huge.rule", "limit-file-size"),
    ] {
        let (rule, st) = status_of(&r, path);
        assert_eq!(st, ParseStatus::Failed, "{path}");
        let diag = &rule.doc.lowered.diagnostics[0];
        assert_eq!(diag.code, code, "{path}");
        assert_eq!(diag.path.as_deref(), Some(path));
        assert!(diag.line.is_some(), "{path} has a line");
    }
    let (latin, _) = status_of(&r, "latin1.rule");
    assert_eq!(latin.doc.lowered.diagnostics[0].line, Some(2));
    assert_eq!(latin.doc.lowered.diagnostics[0].column, Some(6));
}

#[cfg(unix)]
#[test]
fn symlink_loops_and_fifos_are_diagnostics() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    write(d, "good.rule", b"id=a\nx=y\n");
    std::fs::create_dir_all(d.join("loop")).expect("mkdir");
    std::os::unix::fs::symlink(d.join("loop"), d.join("loop/again")).expect("symlink");
    let fifo = d.join("pipe.rule");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let r = load(d);
    assert_eq!(status_of(&r, "good.rule").1, ParseStatus::Full);
    assert!(
        r.diagnostics.iter().any(|(_, d)| d.code == "symlink-loop"),
        "{:?}",
        r.diagnostics
    );
    if made {
        let (pipe, st) = status_of(&r, "pipe.rule");
        assert_eq!(st, ParseStatus::Failed);
        assert_eq!(pipe.doc.lowered.diagnostics[0].code, "unreadable");
    }
}

#[test]
fn duplicate_ids_get_suffixes_in_path_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    write(d, "a/one.rule", b"id=same\nx=1\n");
    write(d, "b/two.rule", b"id=same\nx=2\n");
    write(d, "c/three.rule", b"id=same\nx=3\n");
    write(d, "c/noid.rule", b"x=3\n");
    let r = load(d);
    let ids: Vec<(&str, &str)> = {
        let mut v: Vec<_> = r
            .rules
            .iter()
            .map(|x| (x.doc.path.as_str(), x.id.as_str()))
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        ids,
        vec![
            ("a/one.rule", "sigma:same"),
            ("b/two.rule", "sigma:same~2"),
            ("c/noid.rule", "sigma:c/noid.rule"),
            ("c/three.rule", "sigma:same~3"),
        ]
    );
    let two = r
        .rules
        .iter()
        .find(|x| x.id == "sigma:same~2")
        .expect("dup");
    assert_eq!(two.doc.lowered.diagnostics[0].code, "duplicate-id");
}

#[test]
fn techniques_are_resolved_and_unknown_ids_kept() {
    let mut doc = RuleDoc::new(Vendor::Sigma, "x");
    doc.techniques = vec![
        ruleatlas_model::TechniqueRef::id("t1621"),
        ruleatlas_model::TechniqueRef {
            id: "T1685".into(),
            name: Some("Disable or Modify Tools".into()),
        },
        ruleatlas_model::TechniqueRef::id("T1621"),
        ruleatlas_model::TechniqueRef::id("not-an-id"),
    ];
    let got = resolve_techniques(&doc, &Attack::default());
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, "T1621");
    assert!(!got[0].known);
    assert_eq!(got[1].name.as_deref(), Some("Disable or Modify Tools"));
}

#[test]
fn tactics_are_short_names() {
    let raw: Vec<String> = [
        "Credential Access",
        "credential_access",
        "CredentialAccess",
        "defense-impairment",
        "TA0099",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    assert_eq!(
        normalize_tactics(&raw, &Attack::default()),
        vec![
            "credential-access".to_string(),
            "defense-impairment".to_string(),
            "TA0099".to_string()
        ]
    );
}
