//! Prints the predicates of every ES|QL query in an Elastic corpus folder whose path contains
//! a filter string: `cargo run -p ruleatlas_esql --example esql_dump -- <corpus/elastic> [filter]`.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(root) = args.first() else {
        eprintln!("usage: dump <corpus/elastic> [path filter]");
        std::process::exit(2);
    };
    let filter = args.get(1).map_or("", String::as_str);
    for f in common::esql_queries(std::path::Path::new(root)) {
        if !f.path.contains(filter) {
            continue;
        }
        let mut l = ruleatlas_esql::lower_query(&f.query);
        l.finish();
        println!(
            "== {}{}\n{}\n--",
            if f.hunt { "[hunt] " } else { "" },
            f.path,
            f.query.trim()
        );
        for p in &l.predicates {
            println!("  {}", ruleatlas_testkit::pred(p));
        }
        for u in &l.unparsed {
            println!("  unparsed: {} :: {}", u.reason, u.text);
        }
        println!("  indices: {:?}", ruleatlas_esql::indices(&f.query));
    }
}
