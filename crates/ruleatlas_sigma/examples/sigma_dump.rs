//! Prints one JSON line per Sigma document under a folder: id, path, status, predicates.
//!
//! `cargo run --release -p ruleatlas_sigma --example sigma_dump -- <sigma repository>`
//!
//! Used by `bench/sigma_pysigma.py` to compare with pySigma and to time a full load. Loads files
//! in parallel when `--jobs N` (default: all cores) is given, like the loader does.

use std::io::Write;
use std::path::{Path, PathBuf};

use ruleatlas_model::{FileRole, VendorAdapter};
use ruleatlas_sigma::SigmaAdapter;

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, root, out);
        } else if ft.is_file() {
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
    let mut args = std::env::args().skip(1);
    let mut root = None;
    let mut jobs = std::thread::available_parallelism().map_or(1, usize::from);
    let mut quiet = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" => jobs = args.next().and_then(|n| n.parse().ok()).unwrap_or(1).max(1),
            "--quiet" => quiet = true,
            _ => root = Some(PathBuf::from(a)),
        }
    }
    let Some(root) = root else {
        eprintln!("usage: dump [--jobs N] [--quiet] <sigma repository>");
        std::process::exit(2);
    };
    let adapter = SigmaAdapter::new();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.retain(|(rel, _)| adapter.role(rel) == FileRole::Rule);

    // Load in parallel (plain threads over chunks; the loader uses rayon).
    let chunk = files.len().div_ceil(jobs).max(1);
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                let adapter = &adapter;
                s.spawn(move || {
                    let mut docs = Vec::new();
                    let mut diags = Vec::new();
                    for (rel, path) in part {
                        let bytes = std::fs::read(path).unwrap_or_default();
                        let text = String::from_utf8_lossy(&bytes);
                        let (d, g) = adapter.load(rel, &text);
                        docs.extend(d);
                        diags.extend(g);
                    }
                    (docs, diags)
                })
            })
            .collect();
        for h in handles {
            if let Ok((d, g)) = h.join() {
                docs.extend(d);
                diags.extend(g);
            }
        }
    });
    diags.extend(adapter.link(&mut docs).diagnostics);

    if quiet {
        eprintln!("{} documents, {} diagnostics", docs.len(), diags.len());
        // Timing runs: all work is done; let the OS reclaim the memory at exit.
        std::mem::forget(docs);
        return;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for d in &docs {
        let line = serde_json::json!({
            "id": d.native_id,
            "path": d.path,
            "kind": d.kind.as_str(),
            "deprecated": d.deprecated,
            "status": d.status.as_str(),
            "predicates": d.lowered.predicates,
            "unparsed": d.lowered.unparsed,
        });
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    eprintln!("{} documents, {} diagnostics", docs.len(), diags.len());
}
