//! The bad-input suite: for every vendor, one repository holding good rules beside one file
//! (or path) of each kind of bad input, built with the real binary.
//!
//! Each case asserts the diagnostic it must produce (code, path, line where one exists) and,
//! for the whole repository, that every good rule is kept (`ruleatlas rule ID --json`) and
//! that `stats --json` still answers. The kinds: broken syntax, non-UTF-8, UTF-8 with a BOM,
//! binary, empty, huge (over `LIMITS.max_file_bytes`), 200,000-deep nesting in the query and
//! in the file format, a symlink loop, a dangling symlink, duplicate rule ids across files,
//! a FIFO and a directory where a rule file is expected.
//!
//! File-level diagnostics (those of no rule) are read back with `ruleatlas_catalog::Index`,
//! as no subcommand prints them one by one.

#![cfg(unix)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use ruleatlas_catalog::Index;
use ruleatlas_model::LIMITS;
use serde_json::Value;

const DEEP: usize = 200_000;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ruleatlas")
}

/// One vendor's rule-file shapes.
struct VendorCase {
    key: &'static str,
    /// Folder of rule files, relative to the vendor root.
    dir: &'static str,
    ext: &'static str,
    /// A good rule with this native id.
    good: fn(&str) -> String,
    /// A file with a syntax error on line [`Self::broken_line`].
    broken: &'static str,
    broken_line: u32,
    /// A rule (native id `deep-query`) whose query nests [`DEEP`] levels, and the line of
    /// its `limit-depth` diagnostic.
    deep_query: fn() -> String,
    deep_line: u32,
    /// A file whose format (YAML flow, TOML arrays) nests [`DEEP`] levels, if it has one.
    deep_format: Option<fn() -> String>,
    /// Extra support files the good rules need (`path`, text), relative to the vendor root.
    support: fn(&str) -> Vec<(String, String)>,
}

fn nest(open: &str, inner: &str, close: &str) -> String {
    let mut s = String::with_capacity(DEEP * (open.len() + close.len()) + inner.len());
    for _ in 0..DEEP {
        s.push_str(open);
    }
    s.push_str(inner);
    for _ in 0..DEEP {
        s.push_str(close);
    }
    s
}

fn yaml_deep_flow(prefix: &str) -> String {
    format!("{prefix}\nextra: {}\n", nest("[", "x", "]"))
}

// ---------- sigma ----------

fn sigma_good(id: &str) -> String {
    format!(
        "title: Good rule {id}\nid: {id}\nstatus: test\nlogsource:\n    category: process_creation\n    product: windows\n\
         detection:\n    selection:\n        Image|endswith: '\\cmd.exe'\n    condition: selection\nlevel: low\n"
    )
}

fn sigma_deep_query() -> String {
    format!(
        "title: Deep\nid: deep-query\nlogsource:\n    product: windows\ndetection:\n    selection:\n        Image: x\n    condition: {}\n",
        nest("(", "selection", ")")
    )
}

fn sigma_deep_format() -> String {
    yaml_deep_flow(
        "title: Deep format\nid: deep-format\nlogsource:\n    product: windows\ndetection:\n    selection:\n        Image: x\n    condition: selection",
    )
}

// ---------- elastic ----------

fn elastic_good(id: &str) -> String {
    format!(
        "[metadata]\ncreation_date = \"2026/12/04\"\nmaturity = \"production\"\n\n[rule]\nauthor = [\"Test\"]\n\
         description = \"Good rule\"\nname = \"Good rule {id}\"\nrisk_score = 21\nrule_id = \"{id}\"\nseverity = \"low\"\n\
         type = \"query\"\nindex = [\"logs-*\"]\nlanguage = \"kuery\"\nquery = '''\nprocess.name:cmd.exe and not user.name:SYSTEM\n'''\n"
    )
}

fn elastic_deep_query() -> String {
    format!(
        "[rule]\nname = \"Deep\"\nrule_id = \"deep-query\"\ntype = \"query\"\nlanguage = \"kuery\"\nseverity = \"low\"\nrisk_score = 1\n\
         description = \"d\"\nquery = '''\n{}\n'''\n",
        nest("(", "process.name:cmd.exe", ")")
    )
}

fn elastic_deep_format() -> String {
    format!(
        "[rule]\nname = \"Deep format\"\nrule_id = \"deep-format\"\ntype = \"query\"\nlanguage = \"kuery\"\n\
         query = \"a:b\"\ntags = {}\n",
        nest("[", "\"x\"", "]")
    )
}

// ---------- splunk ----------

fn splunk_good(id: &str) -> String {
    format!(
        "name: Good rule {id}\nid: {id}\nversion: 1\ndate: '2026-12-04'\nauthor: Test\nstatus: production\ntype: TTP\n\
         description: Good rule.\nsearch: 'index=main sourcetype=XmlWinEventLog process_name=cmd.exe | stats count by host'\n\
         tags:\n  mitre_attack_id:\n  - T1059.003\n  security_domain: endpoint\n"
    )
}

fn splunk_deep_query() -> String {
    format!(
        "name: Deep\nid: deep-query\ntype: TTP\nstatus: production\nsearch: 'index=main {} | stats count'\n",
        nest("(", "process_name=cmd.exe", ")")
    )
}

fn splunk_deep_format() -> String {
    yaml_deep_flow("name: Deep format\nid: deep-format\ntype: TTP\nsearch: 'index=main x=1'")
}

// ---------- kusto ----------

fn kusto_good(id: &str) -> String {
    format!(
        "id: {id}\nname: Good rule {id}\ndescription: Good rule.\nseverity: Low\nqueryFrequency: 1h\nqueryPeriod: 1h\n\
         triggerOperator: gt\ntriggerThreshold: 0\ntactics:\n  - Execution\nrelevantTechniques:\n  - T1059\n\
         query: |\n  SecurityEvent\n  | where EventID == 4688 and NewProcessName endswith \"cmd.exe\"\nversion: 1.0.0\nkind: Scheduled\n"
    )
}

fn kusto_deep_query() -> String {
    format!(
        "id: deep-query\nname: Deep\nkind: Scheduled\nquery: |\n  SecurityEvent | where {}\n",
        nest("(", "EventID == 4688", ")")
    )
}

fn kusto_deep_format() -> String {
    yaml_deep_flow(
        "id: deep-format\nname: Deep format\nkind: Scheduled\nquery: SecurityEvent | where EventID == 1",
    )
}

// ---------- yaral ----------

fn yaral_good(id: &str) -> String {
    let name = id.replace(['-', '.'], "_");
    format!(
        "rule good_{name} {{\n  meta:\n    rule_id = \"{id}\"\n    rule_name = \"Good rule {id}\"\n    technique = \"T1059\"\n\n  \
         events:\n    $e.metadata.event_type = \"PROCESS_LAUNCH\"\n    $e.target.process.file.full_path = /cmd\\.exe$/ nocase\n\n  \
         condition:\n    $e\n}}\n"
    )
}

fn yaral_deep_query() -> String {
    format!(
        "rule deep_query {{\n  meta:\n    rule_id = \"deep-query\"\n  events:\n    {}\n  condition:\n    $e\n}}\n",
        nest("(", "$e.metadata.event_type = \"PROCESS_LAUNCH\"", ")")
    )
}

// ---------- panther ----------

fn panther_good(id: &str) -> String {
    format!(
        "AnalysisType: rule\nFilename: good.py\nRuleID: \"{id}\"\nDisplayName: \"Good rule {id}\"\nEnabled: true\n\
         LogTypes:\n  - AWS.CloudTrail\nSeverity: Low\nReports:\n  MITRE ATT&CK:\n    - TA0001:T1078\n"
    )
}

fn panther_support(dir: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("{dir}/good.py"),
            "def rule(event):\n    return event.get(\"eventName\") == \"ConsoleLogin\" and event.get(\"errorCode\") != \"x\"\n".into(),
        ),
        (
            format!("{dir}/deep.py"),
            format!("def rule(event):\n    return {}\n", nest("(", "event.get(\"a\") == \"b\"", ")")),
        ),
    ]
}

fn panther_deep_query() -> String {
    "AnalysisType: rule\nFilename: deep.py\nRuleID: \"deep-query\"\nDisplayName: Deep\nEnabled: true\nLogTypes:\n  - AWS.CloudTrail\nSeverity: Low\n".into()
}

fn panther_deep_format() -> String {
    yaml_deep_flow(
        "AnalysisType: rule\nFilename: good.py\nRuleID: deep-format\nLogTypes:\n  - AWS.CloudTrail",
    )
}

fn no_support(_: &str) -> Vec<(String, String)> {
    Vec::new()
}

const YAML_BROKEN: &str = "title: Broken\nid: broken\ndetection:\n    selection:\n        Image: [unclosed, list\n    condition: selection\n";

fn vendors() -> Vec<VendorCase> {
    vec![
        VendorCase {
            key: "sigma",
            dir: "rules/windows",
            ext: "yml",
            good: sigma_good,
            broken: YAML_BROKEN,
            broken_line: 6,
            deep_query: sigma_deep_query,
            deep_line: 8,
            deep_format: Some(sigma_deep_format),
            support: no_support,
        },
        VendorCase {
            key: "elastic",
            dir: "rules/windows",
            ext: "toml",
            good: elastic_good,
            broken: "[rule]\nname = \"Broken\"\nrule_id = \"broken\"\nquery = \"unterminated\n",
            broken_line: 4,
            deep_query: elastic_deep_query,
            deep_line: 10,
            deep_format: Some(elastic_deep_format),
            support: no_support,
        },
        VendorCase {
            key: "splunk",
            dir: "detections/endpoint",
            ext: "yml",
            good: splunk_good,
            broken: "name: Broken\nid: broken\ntype: TTP\nsearch: 'index=main\n  x=1\ntags: [unclosed\n",
            broken_line: 4,
            deep_query: splunk_deep_query,
            deep_line: 5,
            deep_format: Some(splunk_deep_format),
            support: no_support,
        },
        VendorCase {
            key: "kusto",
            dir: "Detections/SecurityEvent",
            ext: "yaml",
            good: kusto_good,
            broken: "id: broken\nname: Broken\nkind: Scheduled\nquery: |\n  SecurityEvent\n bad: [indent\n",
            broken_line: 6,
            deep_query: kusto_deep_query,
            deep_line: 5,
            deep_format: Some(kusto_deep_format),
            support: no_support,
        },
        VendorCase {
            key: "yaral",
            dir: "rules",
            ext: "yaral",
            good: yaral_good,
            broken: "rule broken {\n  meta:\n    rule_id = \"broken\"\n  events:\n    $e.metadata.event_type = = \"X\"\n  condition:\n    $e\n",
            broken_line: 5,
            deep_query: yaral_deep_query,
            deep_line: 5,
            deep_format: None,
            support: no_support,
        },
        VendorCase {
            key: "panther",
            dir: "rules/aws_cloudtrail_rules",
            ext: "yml",
            good: panther_good,
            broken: "AnalysisType: rule\nFilename: good.py\nRuleID: broken\nLogTypes: [AWS.CloudTrail\nSeverity: Low\n",
            broken_line: 5,
            deep_query: panther_deep_query,
            deep_line: 2,
            deep_format: Some(panther_deep_format),
            support: panther_support,
        },
    ]
}

/// A diagnostic as read back from the catalog, with the rule it is attached to.
#[derive(Debug, Clone)]
struct Diag {
    rule: Option<String>,
    code: String,
    message: String,
    path: Option<String>,
    line: Option<u32>,
}

struct Built {
    _tmp: tempfile::TempDir,
    db: PathBuf,
    diags: Vec<Diag>,
    rule_ids: Vec<String>,
}

impl Built {
    fn find(&self, path: &str) -> Vec<&Diag> {
        self.diags
            .iter()
            .filter(|d| d.path.as_deref() == Some(path))
            .collect()
    }

    fn dump(&self) -> String {
        let mut s = String::new();
        for d in &self.diags {
            let _ = writeln!(
                s,
                "  {:?} {} {:?}:{:?} {}",
                d.rule, d.code, d.path, d.line, d.message
            );
        }
        s
    }

    fn rule_json(&self, id: &str) -> Value {
        let out = Command::new(bin())
            .args(["rule", id, "--json", "--catalog"])
            .arg(&self.db)
            .output()
            .expect("run ruleatlas rule");
        assert!(
            out.status.success(),
            "rule {id}: {}\nrules: {:?}",
            String::from_utf8_lossy(&out.stderr),
            self.rule_ids
        );
        serde_json::from_slice(&out.stdout).expect("rule --json is JSON")
    }
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

/// Writes the repository of `v`, builds it, and reads the catalog back.
fn build(v: &VendorCase) -> Built {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join(v.key);
    let f = |name: &str| format!("{}/{name}.{}", v.dir, v.ext);
    write(&root, &f("good_a"), (v.good)("good-a").as_bytes());
    write(&root, &f("good_b"), (v.good)("good-b").as_bytes());
    // Duplicate id across files: `dup` in two files, the later path becomes `dup~2`.
    write(&root, &f("dup_1"), (v.good)("dup").as_bytes());
    write(&root, &f("dup_2"), (v.good)("dup").as_bytes());
    write(&root, &f("broken"), v.broken.as_bytes());
    // Non-UTF-8: an invalid byte on line 3.
    let good_c = (v.good)("bad-utf8");
    let mut lines: Vec<&str> = good_c.lines().collect();
    let third = format!("{}\u{1}", lines[2]);
    lines[2] = &third;
    let mut bytes = lines.join("\n").into_bytes();
    let pos = bytes.iter().position(|&b| b == 1).expect("marker");
    bytes[pos] = 0xFF;
    write(&root, &f("not_utf8"), &bytes);
    // UTF-8 with a BOM: a good rule.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice((v.good)("with-bom").as_bytes());
    write(&root, &f("with_bom"), &bom);
    write(
        &root,
        &f("binary"),
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00binary\x00\xff\xfe",
    );
    write(&root, &f("empty"), b"");
    let huge_len = usize::try_from(LIMITS.max_file_bytes).expect("fits") + 1024;
    let mut huge = (v.good)("huge").into_bytes();
    huge.resize(huge_len, b'\n');
    write(&root, &f("huge"), &huge);
    write(&root, &f("deep_query"), (v.deep_query)().as_bytes());
    if let Some(deep) = v.deep_format {
        write(&root, &f("deep_format"), deep().as_bytes());
    }
    for (p, text) in (v.support)(v.dir) {
        write(&root, &p, text.as_bytes());
    }
    // A symlink loop, a dangling symlink, a FIFO and a directory named like a rule file.
    let dir = root.join(v.dir);
    std::fs::create_dir_all(dir.join("loop")).expect("mkdir loop");
    std::os::unix::fs::symlink(dir.join("loop"), dir.join("loop/again")).expect("symlink loop");
    std::os::unix::fs::symlink(
        dir.join("gone.missing"),
        dir.join(format!("dangling.{}", v.ext)),
    )
    .expect("symlink");
    let fifo = dir.join(format!("fifo.{}", v.ext));
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success(), "mkfifo");
    std::fs::create_dir_all(dir.join(format!("folder.{}", v.ext))).expect("mkdir folder");

    let db = tmp.path().join("x.db");
    let out = Command::new(bin())
        .args(["build", "--quiet", "--source"])
        .arg(format!("{}={}", v.key, root.display()))
        .arg("-o")
        .arg(&db)
        .output()
        .expect("run ruleatlas build");
    assert!(
        out.status.success(),
        "{}: build failed: {}{}",
        v.key,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let index = Index::open(&db).expect("catalog opens");
    let mut diags = Vec::new();
    for r in &index.rules {
        for d in &r.doc.lowered.diagnostics {
            diags.push(Diag {
                rule: Some(r.id.clone()),
                code: d.code.clone(),
                message: d.message.clone(),
                path: d.path.clone().or_else(|| Some(r.doc.path.clone())),
                line: d.line,
            });
        }
    }
    for (_, d) in &index.other_diagnostics {
        diags.push(Diag {
            rule: None,
            code: d.code.clone(),
            message: d.message.clone(),
            path: d.path.clone(),
            line: d.line,
        });
    }
    let rule_ids = index.rules.iter().map(|r| r.id.clone()).collect();
    Built {
        _tmp: tmp,
        db,
        diags,
        rule_ids,
    }
}

/// Runs every case for one vendor; returns how many cases were checked.
fn run_vendor(key: &str) -> usize {
    let v = vendors()
        .into_iter()
        .find(|v| v.key == key)
        .expect("vendor");
    let b = build(&v);
    let f = |name: &str| format!("{}/{name}.{}", v.dir, v.ext);
    let id = |native: &str| format!("{}:{native}", v.key);
    let mut cases = 0;
    let ctx = || format!("{}: diagnostics:\n{}", v.key, b.dump());
    if std::env::var_os("BAD_INPUT_DUMP").is_some() {
        eprintln!("{}", ctx());
    }

    // Every good rule beside the bad input is kept, whole.
    for native in ["good-a", "good-b", "with-bom"] {
        let j = b.rule_json(&id(native));
        assert_eq!(
            j["path"],
            Value::String(f(&native.replace('-', "_"))),
            "{}",
            ctx()
        );
        assert_ne!(
            j["status"],
            "failed",
            "{}: {native} failed:\n{}",
            v.key,
            ctx()
        );
        assert!(
            j["predicates"].as_array().is_some_and(|p| !p.is_empty()),
            "{}: {native} has no predicate: {j}",
            v.key
        );
    }

    // 1. Broken syntax: a diagnostic on the file with a line (on the broken line when the
    // format pins it), and a `failed` rule or no rule.
    cases += 1;
    let ds = b.find(&f("broken"));
    assert!(!ds.is_empty(), "broken syntax: no diagnostic\n{}", ctx());
    assert!(
        ds.iter().any(|d| d.line.is_some()),
        "broken syntax: no line\n{}",
        ctx()
    );
    if v.broken_line > 0 {
        assert!(
            ds.iter().any(|d| d.line == Some(v.broken_line)
                && ["yaml", "toml", "yaral-syntax"].contains(&d.code.as_str())),
            "broken syntax: expected line {}\n{}",
            v.broken_line,
            ctx()
        );
    }

    // 2. Non-UTF-8: `encoding` at line 3.
    cases += 1;
    let ds = b.find(&f("not_utf8"));
    assert!(
        ds.iter().any(|d| d.code == "encoding" && d.line == Some(3)),
        "non-UTF-8\n{}",
        ctx()
    );
    assert!(
        !b.rule_ids.contains(&id("bad-utf8")),
        "non-UTF-8 file became a rule"
    );

    // 3. UTF-8 with a BOM: read as a good rule, no diagnostic.
    cases += 1;
    assert!(
        b.find(&f("with_bom")).iter().all(|d| d.code != "encoding"),
        "BOM\n{}",
        ctx()
    );

    // 4. Binary.
    cases += 1;
    assert!(
        b.find(&f("binary"))
            .iter()
            .any(|d| d.code == "binary" && d.line == Some(1)),
        "binary\n{}",
        ctx()
    );

    // 5. Empty.
    cases += 1;
    assert!(
        b.find(&f("empty")).iter().any(|d| d.code == "empty"),
        "empty\n{}",
        ctx()
    );

    // 6. Huge: over the file-size limit, not read.
    cases += 1;
    assert!(
        b.find(&f("huge"))
            .iter()
            .any(|d| d.code == "limit-file-size"),
        "huge\n{}",
        ctx()
    );
    assert!(!b.rule_ids.contains(&id("huge")), "huge file was read");

    // 7. 200,000-deep nesting in the query: `limit-depth` on the rule at the nesting's line
    // (for Panther, in the `.py` file the rule names), no crash; the rule is kept.
    cases += 1;
    let deep_path = if v.key == "panther" {
        format!("{}/deep.py", v.dir)
    } else {
        f("deep_query")
    };
    assert!(
        b.diags
            .iter()
            .any(|d| d.rule.as_deref() == Some(id("deep-query").as_str())
                && d.code == "limit-depth"
                && d.path.as_deref() == Some(deep_path.as_str())
                && d.line == Some(v.deep_line)),
        "deep query: no limit-depth diagnostic at {deep_path}:{}\n{}",
        v.deep_line,
        ctx()
    );

    // 8. 200,000-deep nesting in the file format: the YAML / TOML reader's own recursion
    // limit, reported with a line.
    if v.deep_format.is_some() {
        cases += 1;
        let ds = b.find(&f("deep_format"));
        assert!(
            ds.iter().any(|d| (d.code == "yaml" || d.code == "toml")
                && d.message.contains("recurs")
                && d.line.is_some()),
            "deep format\n{}",
            ctx()
        );
    }

    // 9. A symlink loop: reported, the walk goes on.
    cases += 1;
    assert!(
        b.diags.iter().any(|d| d.code == "symlink-loop"),
        "symlink loop\n{}",
        ctx()
    );

    // 10. A dangling symlink: reported.
    cases += 1;
    assert!(
        b.diags
            .iter()
            .any(|d| d.path.as_deref().is_some_and(|p| p.contains("dangling"))),
        "dangling symlink\n{}",
        ctx()
    );

    // 11. Duplicate ids across files: both kept, the later one as `~2` with a warning.
    cases += 1;
    let first = b.rule_json(&id("dup"));
    let second = b.rule_json(&format!("{}~2", id("dup")));
    assert_eq!(first["path"], Value::String(f("dup_1")), "{}", ctx());
    assert_eq!(second["path"], Value::String(f("dup_2")), "{}", ctx());
    assert!(
        second["diagnostics"]
            .as_array()
            .is_some_and(|a| a.iter().any(|d| d["code"] == "duplicate-id")),
        "duplicate id warning: {second}"
    );

    // 12. A FIFO where a rule file is expected: `unreadable`, and the build did not block.
    cases += 1;
    assert!(
        b.find(&f("fifo")).iter().any(|d| d.code == "unreadable"),
        "FIFO\n{}",
        ctx()
    );

    // 13. A directory named like a rule file: walked as a folder, no rule, no crash.
    cases += 1;
    assert!(
        !b.rule_ids.iter().any(|r| r.contains("folder")),
        "directory became a rule"
    );

    // `stats --json` answers and counts every kept rule.
    let out = Command::new(bin())
        .args(["stats", "--json", "--catalog"])
        .arg(&b.db)
        .output()
        .expect("stats");
    assert!(
        out.status.success(),
        "stats: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&out.stdout).expect("stats json");
    let n = stats["vendors"][v.key]["rules"]
        .as_u64()
        .expect("rules count");
    assert!(n >= 5, "{}: only {n} rules: {stats}", v.key);
    assert_eq!(usize::try_from(n).expect("n"), b.rule_ids.len(), "{stats}");
    cases
}

#[test]
fn sigma() {
    assert_eq!(run_vendor("sigma"), 13);
}

#[test]
fn elastic() {
    assert_eq!(run_vendor("elastic"), 13);
}

#[test]
fn splunk() {
    assert_eq!(run_vendor("splunk"), 13);
}

#[test]
fn kusto() {
    assert_eq!(run_vendor("kusto"), 13);
}

#[test]
fn yaral() {
    assert_eq!(run_vendor("yaral"), 12);
}

#[test]
fn panther() {
    assert_eq!(run_vendor("panther"), 13);
}
