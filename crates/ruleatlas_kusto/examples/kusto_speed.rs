//! Rules per second of the Sentinel adapter (YAML + Kusto parse + lowering), in memory.
//!
//! `cargo run --release -p ruleatlas_kusto --example kusto_speed -- DIR [ROUNDS]`

use std::path::Path;
use std::time::Instant;

use ruleatlas_model::{FileRole, VendorAdapter};

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: kusto_speed DIR [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let root = Path::new(dir);
    let mut files = Vec::new();
    walk(root, root, &mut files);
    let adapter = ruleatlas_kusto::KustoAdapter::new();
    files.retain(|(rel, _)| adapter.role(rel) == FileRole::Rule);
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    let start = Instant::now();
    let mut rules = 0usize;
    let mut preds = 0usize;
    for _ in 0..rounds {
        for (rel, text) in &files {
            let (docs, _) = adapter.load(rel, text);
            rules += docs.len();
            preds += docs
                .iter()
                .map(|d| d.lowered.predicates.len())
                .sum::<usize>();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let (rps, mbps) = (rules as f64 / secs, (bytes * rounds) as f64 / secs / 1e6);
    println!(
        "adapter (YAML + Kusto + origins): {} files x {rounds} rounds: {rules} rules, {preds} predicates in {secs:.3}s = {rps:.0} rules/s ({mbps:.1} MB/s, one thread)",
        files.len()
    );
    // The Kusto part alone: parse + lower of the decoded queries.
    let queries: Vec<String> = files
        .iter()
        .flat_map(|(rel, text)| adapter.load(rel, text).0)
        .map(|d| d.query)
        .filter(|q| !q.is_empty())
        .collect();
    let start = Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for q in &queries {
            let parsed = ruleatlas_kusto::parse(q);
            let l = ruleatlas_kusto::lower(&parsed.ast, &ruleatlas_kusto::LowerContext::default());
            n += usize::from(!l.predicates.is_empty());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let qps = (queries.len() * rounds) as f64 / secs;
    println!(
        "kusto parse + lower only: {} queries x {rounds} rounds in {secs:.3}s = {qps:.0} queries/s ({n} with predicates)",
        queries.len()
    );
}
