//! Dumps every Sentinel rule under a folder: parse acceptance, status, predicates.
//!
//! `cargo run -p ruleatlas_kusto --example kusto_dump -- DIR [--queries OUT.json] [--verbose]`
//!
//! With `--queries`, writes `[{"path", "query", "ours_ok", "errors"}]` for the oracle script
//! (`bench/kusto_oracle.mjs`), which cannot read YAML itself.

use std::path::Path;

use ruleatlas_model::VendorAdapter;

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, std::path::PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(&p, root, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, p));
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--kql") {
        dump_kqltest(args.get(1).map_or("", String::as_str));
        return;
    }
    let Some(dir) = args.first() else {
        eprintln!("usage: kusto_dump DIR [--queries OUT.json] [--verbose]");
        std::process::exit(2);
    };
    let queries_out = args
        .iter()
        .position(|a| a == "--queries")
        .and_then(|i| args.get(i + 1));
    let verbose = args.iter().any(|a| a == "--verbose");
    let root = Path::new(dir);
    let mut files = Vec::new();
    walk(root, root, &mut files);
    let adapter = ruleatlas_kusto::KustoAdapter::new();
    let mut dump = Vec::new();
    for (rel, path) in files {
        if adapter.role(&rel) != ruleatlas_model::FileRole::Rule {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let (docs, diags) = adapter.load(&rel, &text);
        for d in &diags {
            println!("{rel}\tDIAG\t{d}");
        }
        for doc in docs {
            let errors: Vec<String> = doc
                .lowered
                .diagnostics
                .iter()
                .filter(|d| d.is_error() && d.code != "yaml" && d.code != "kusto-no-query")
                .map(ToString::to_string)
                .collect();
            let loaded = !doc
                .lowered
                .diagnostics
                .iter()
                .any(|d| d.code == "yaml" || d.code == "kusto-no-query");
            println!(
                "{rel}\t{}\tpreds={}\tunparsed={}\tparse_ok={}",
                doc.status.as_str(),
                doc.lowered.predicates.len(),
                doc.lowered.unparsed.len(),
                errors.is_empty()
            );
            if verbose {
                for p in &doc.lowered.predicates {
                    let o = p
                        .origin
                        .as_ref()
                        .map(|o| format!("{}:{}", o.line, o.column))
                        .unwrap_or_default();
                    println!("    {}  @{o}", ruleatlas_testkit_like(p));
                }
                for u in &doc.lowered.unparsed {
                    println!("    UNPARSED [{}] {}", u.reason, u.text.replace('\n', " "));
                }
                for d in &doc.lowered.diagnostics {
                    println!("    DIAG {d}");
                }
            }
            if loaded {
                dump.push(serde_json::json!({
                    "path": rel, "query": doc.query, "ours_ok": errors.is_empty(), "errors": errors,
                }));
            }
        }
    }
    if let Some(out) = queries_out {
        let text = serde_json::to_string_pretty(&dump).unwrap_or_default();
        if let Err(e) = std::fs::write(out, text) {
            eprintln!("cannot write {out}: {e}");
            std::process::exit(1);
        }
    }
}

/// `--kql FILE`: every `## name` case of a `.kqltest` file, with our errors, predicates and
/// unparsed fragments.
fn dump_kqltest(path: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut cases: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("## ") {
            cases.push((n.to_string(), String::new()));
        } else if let Some(c) = cases.last_mut()
            && !line.starts_with("-> ")
            && !line.starts_with("!> ")
        {
            c.1.push_str(line);
            c.1.push('\n');
        }
    }
    for (name, q) in cases {
        let parsed = ruleatlas_kusto::parse(&q);
        let l = ruleatlas_kusto::lower(&parsed.ast, &ruleatlas_kusto::LowerContext::default());
        println!("## {name}  parse_ok={}", !parsed.has_errors());
        for d in parsed.diagnostics.iter().filter(|d| d.is_error()) {
            println!("    ERROR {d} @{:?}", d.range);
        }
        for p in &l.predicates {
            println!("    -> {}", ruleatlas_testkit_like(p));
        }
        for u in &l.unparsed {
            println!("    !> [{}] {}", u.reason, u.text.replace('\n', " "));
        }
    }
}

fn ruleatlas_testkit_like(p: &ruleatlas_model::Predicate) -> String {
    let values = serde_json::to_string(&p.values).unwrap_or_default();
    let mut s = format!("{} {} {}", p.raw_field, p.op, values);
    for (flag, on) in [
        ("negated", p.negated),
        ("exclusion", p.exclusion),
        ("cs", p.case_sensitive),
        ("computed", p.computed),
    ] {
        if on {
            s.push(' ');
            s.push_str(flag);
        }
    }
    if p.kind != ruleatlas_model::PredicateKind::Filter {
        s.push(' ');
        s.push_str(p.kind.as_str());
    }
    for (k, v) in &p.context {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}
