//! Prints every predicate of an Elastic corpus, one per line, or with a second argument the
//! documents whose path contains it as JSON (a debugging aid).
use ruleatlas_elastic::ElasticAdapter;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: dump <corpus/elastic> [path-filter]");
        return;
    };
    let run =
        ruleatlas_testkit::run_adapter(&mut ElasticAdapter::new(), std::path::Path::new(&dir));
    if let Some(filter) = std::env::args().nth(2) {
        for d in run.docs.iter().filter(|d| d.path.contains(&filter)) {
            println!("{}", serde_json::to_string_pretty(d).unwrap_or_default());
        }
        return;
    }
    for d in &run.docs {
        for p in &d.lowered.predicates {
            println!("{}\t{}\t{}", d.path, d.language, ruleatlas_testkit::pred(p));
        }
        for u in &d.lowered.unparsed {
            let text = u.text.replace('\n', " ");
            println!(
                "{}\t{}\tUNPARSED {} :: {}",
                d.path, d.language, u.reason, text
            );
        }
    }
}
