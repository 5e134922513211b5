//! `ruleatlas demo` and `ruleatlas serve`.

use std::path::Path;
use std::process::ExitCode;

use ruleatlas_attack::Attack;
use ruleatlas_loader::Source;
use ruleatlas_model::Vendor;

use crate::commands::{CliError, CliResult, build_catalog, open_catalog};

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

/// Writes the embedded examples under `dir` (`dir/<vendor>/...`) and returns the sources.
///
/// # Errors
/// File errors in the temporary folder.
pub fn write_examples(dir: &Path) -> Result<Vec<Source>, CliError> {
    for (rel, bytes) in EXAMPLES {
        // Paths come from our own build script, but stay inside `dir` all the same.
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            continue;
        }
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CliError::Failed(format!("demo: {e}")))?;
        }
        std::fs::write(&p, bytes).map_err(|e| CliError::Failed(format!("demo: {e}")))?;
    }
    Ok(Vendor::ALL
        .into_iter()
        .filter(|v| dir.join(v.key()).is_dir())
        .map(|v| Source::new(v, dir.join(v.key())))
        .collect())
}

pub fn run(addr: &str, no_serve: bool, quiet: bool) -> CliResult {
    let tmp = tempfile::tempdir()
        .map_err(|e| CliError::Failed(format!("demo: cannot make a temporary folder: {e}")))?;
    let examples = tmp.path().join("examples");
    let sources = write_examples(&examples)?;
    let attack_dir = examples.join("attack");
    let attack = if attack_dir.is_dir() {
        crate::commands::load_attack(&[attack_dir])?
    } else {
        Attack::default()
    };
    let catalog = tmp.path().join("demo.db");
    let (report, seconds) = build_catalog(&sources, &attack, &catalog, &|_| {})?;
    if !quiet {
        eprintln!(
            "demo: built {} example rules of {} vendors in {seconds:.2}s",
            report.rules.len(),
            sources.len()
        );
    }
    if no_serve {
        let index = open_catalog(&catalog)?;
        let reach = index.reach(false);
        let g = ruleatlas_catalog::guide::guide(&index, "T1621", &Default::default(), reach)
            .ok_or_else(|| CliError::Failed("demo: the examples have no T1621 rule".into()))?;
        print!("{}", crate::commands::guide_text_for_demo(&g));
        return Ok(ExitCode::SUCCESS);
    }
    serve(&catalog, addr)
}

pub fn serve(catalog: &Path, addr: &str) -> CliResult {
    // Fail early, with the catalog error, before binding.
    let _ = open_catalog(catalog)?;
    let ready = |url: &str| {
        println!(
            "serving {} at {url} (Ctrl-C stops; SIGHUP reloads the catalog)",
            catalog.display()
        );
    };
    ruleatlas_web::serve(catalog, addr, Some(&ready)).map_err(CliError::Failed)?;
    Ok(ExitCode::SUCCESS)
}
