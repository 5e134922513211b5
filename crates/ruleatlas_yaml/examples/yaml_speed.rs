//! Times `ruleatlas_yaml::parse` over every `.yml` under a folder, on one thread, beside the
//! parser's bare event stream (the floor: what building nodes adds is the difference).
//!
//! `cargo run --release -p ruleatlas_yaml --example yaml_speed -- ../shared/corpus/sigma`
use std::time::Instant;

fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml")
            && let Ok(t) = std::fs::read_to_string(&p)
        {
            out.push(t);
        }
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/corpus/sigma".into());
    let mut texts = Vec::new();
    walk(std::path::Path::new(&dir), &mut texts);
    let bytes: usize = texts.iter().map(String::len).sum();
    // Twice: the first pass also warms the file cache and the allocator.
    events_only(&texts);
    events_only(&texts);
    for round in 0..3 {
        let t = Instant::now();
        let mut ok = 0usize;
        for text in &texts {
            if ruleatlas_yaml::parse(text).is_ok() {
                ok += 1;
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "round {round}: {} files, {ok} ok, {:.1} MB, {s:.3} s, {:.1} MB/s",
            texts.len(),
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / s
        );
    }
}

/// The parser's events alone, no nodes built.
fn events_only(texts: &[String]) {
    use serde_saphyr::granit_parser::Parser;
    let t = Instant::now();
    let mut n = 0usize;
    for text in texts {
        for ev in Parser::new_from_str(text) {
            if ev.is_ok() {
                n += 1;
            }
        }
    }
    println!(
        "events only: {n} events, {:.3} s",
        t.elapsed().as_secs_f64()
    );
}
