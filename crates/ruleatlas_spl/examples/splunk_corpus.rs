//! Loads a security_content checkout and prints coverage and timing:
//! `cargo run --release -p ruleatlas_spl --example splunk_corpus -- <dir> [rule-path-suffix]`.

use std::time::Instant;

use ruleatlas_spl::SplunkAdapter;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: splunk_corpus <security_content dir> [path suffix to dump]");
        std::process::exit(2);
    };
    let dump = args.next();
    let start = Instant::now();
    let mut adapter = SplunkAdapter::new();
    let run = ruleatlas_testkit::run_adapter(&mut adapter, std::path::Path::new(&dir));
    let elapsed = start.elapsed();
    println!(
        "{} documents in {:.3}s (read + macros + parse + lower)",
        run.docs.len(),
        elapsed.as_secs_f64()
    );
    print!("{}", run.coverage().report());
    println!("{}", in_memory_timing(std::path::Path::new(&dir)));
    if dump.as_deref() == Some("*text") {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for d in run.docs.iter().filter(|d| !d.deprecated) {
            for p in d
                .lowered
                .predicates
                .iter()
                .filter(|p| p.raw_field == "_text")
            {
                *counts
                    .entry(format!("{} ({})", p.values[0].to_text(), d.path))
                    .or_default() += 1;
            }
        }
        for (k, n) in counts {
            println!("{n:4} {k}");
        }
        return;
    }
    if let Some(suffix) = dump {
        for d in run.docs.iter().filter(|d| {
            d.path.ends_with(&suffix)
                || suffix == "*partial"
                    && d.status == ruleatlas_model::ParseStatus::Partial
                    && !d.deprecated
        }) {
            println!("== {} [{}]", d.path, d.status.as_str());
            if suffix != "*partial" {
                println!("{}", d.query);
                for p in &d.lowered.predicates {
                    let o = p
                        .origin
                        .as_ref()
                        .map(|o| format!("{}:{}:{}", o.path, o.line, o.column))
                        .unwrap_or_default();
                    println!("  {}  @{o}", ruleatlas_testkit::pred(p));
                }
                println!("  logsource {:?}", d.logsource);
            }
            for u in &d.lowered.unparsed {
                println!("  unparsed {:?}: {}", u.reason, u.text);
            }
            for g in &d.lowered.diagnostics {
                println!("  diag {g}");
            }
        }
    }
}

/// Reads every file first, then times `prepare` + `load` alone (no I/O), the best of 3.
fn in_memory_timing(root: &std::path::Path) -> String {
    use ruleatlas_model::{FileRole, Support, VendorAdapter};
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<(String, String)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, text));
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    let probe = SplunkAdapter::new();
    let mut support = Support::default();
    let mut rules = Vec::new();
    for (rel, text) in files {
        match probe.role(&rel) {
            FileRole::Support => {
                support.files.insert(rel, text);
            }
            FileRole::Rule => rules.push((rel, text)),
            FileRole::Ignore => {}
        }
    }
    let mut best = f64::MAX;
    let mut preds = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let mut a = SplunkAdapter::new();
        let _ = a.prepare(&support);
        preds = 0;
        for (rel, text) in &rules {
            let (docs, _) = a.load(rel, text);
            preds += docs
                .iter()
                .map(|d| d.lowered.predicates.len())
                .sum::<usize>();
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    format!(
        "in memory: {} detections + {} support files (macros, data sources, lookups) -> {preds} predicates in {best:.3}s (best of 3, single thread)",
        rules.len(),
        support.files.len()
    )
}
