//! `cargo run -p ruleatlas_sources --example sources -- CONFIG [sync|materialize|both]`:
//! runs sync and/or materialize on a config and prints what happened with timings.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(cfg_path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: sources CONFIG [sync|materialize|both]");
        return std::process::ExitCode::from(2);
    };
    let what = args.next().unwrap_or_else(|| "both".into());
    let cfg = match ruleatlas_sources::Config::load(&cfg_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if what == "sync" || what == "both" {
        let t = Instant::now();
        let progress = |e: ruleatlas_sources::SyncEvent| match e {
            ruleatlas_sources::SyncEvent::Started { name, url, clone } => {
                eprintln!(
                    "{} {name} from {url}",
                    if clone { "cloning" } else { "fetching" }
                );
            }
            ruleatlas_sources::SyncEvent::Finished(r) => eprintln!("{}", r.summary()),
        };
        match ruleatlas_sources::sync(&cfg, &progress) {
            Ok(r) => eprintln!(
                "sync: {} repos, {} failed, {:.2}s",
                r.repos.len(),
                r.failed(),
                t.elapsed().as_secs_f64()
            ),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    if what == "materialize" || what == "both" {
        let t = Instant::now();
        match ruleatlas_sources::materialize(&cfg, &|m| eprintln!("{m}")) {
            Ok(sources) => {
                for s in &sources {
                    println!(
                        "{} {} commit={} only={}",
                        s.vendor.key(),
                        s.root.display(),
                        s.commit.as_deref().unwrap_or("-"),
                        s.only
                            .as_ref()
                            .map_or("-".to_string(), |o| o.len().to_string())
                    );
                }
                eprintln!("materialize: {:.2}s", t.elapsed().as_secs_f64());
            }
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
