//! `ruleatlas sync` and the config file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ruleatlas_sources::{Config, SourcesError, SyncEvent, SyncOutcome};

use super::{CliError, CliResult};

/// Maps a sources error to an exit code: a wrong config is a usage error (2), a broken cache
/// or file system a failure (1).
pub fn sources_error(e: &SourcesError) -> CliError {
    match e {
        SourcesError::Config { .. } | SourcesError::Source { .. } => CliError::Usage(e.to_string()),
        SourcesError::Cache { .. } | SourcesError::Io { .. } => CliError::Failed(e.to_string()),
    }
}

/// The config given with `--config`, or `ruleatlas.toml` in the working directory, if any.
pub fn find_config(given: Option<&Path>) -> Result<Option<Config>, CliError> {
    let path: Option<PathBuf> = match given {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::current_dir()
            .ok()
            .and_then(|cwd| Config::find(&cwd)),
    };
    path.map(|p| Config::load(&p).map_err(|e| sources_error(&e)))
        .transpose()
}

pub fn run(config: Option<&Path>, example: bool, quiet: bool) -> CliResult {
    if example {
        print!("{}", ruleatlas_sources::default_config_text());
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = find_config(config)?.ok_or_else(|| {
        CliError::Usage(
            "no ruleatlas.toml here: give --config FILE, or write one (`ruleatlas sync --example-config > ruleatlas.toml`)"
                .into(),
        )
    })?;
    let progress = |e: SyncEvent| {
        if quiet {
            return;
        }
        match e {
            SyncEvent::Started { name, url, clone } => {
                eprintln!(
                    "{} {name} from {url} ...",
                    if clone { "cloning" } else { "fetching" }
                );
            }
            SyncEvent::Finished(repo) => println!("{}", repo.summary()),
        }
    };
    let report = ruleatlas_sources::sync(&cfg, &progress).map_err(|e| sources_error(&e))?;
    let failed = report.failed();
    if failed > 0 {
        let cached = report
            .repos
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    SyncOutcome::Failed {
                        cached_at: Some(_),
                        ..
                    }
                )
            })
            .count();
        eprintln!(
            "{failed} source(s) could not be synced; `ruleatlas build` uses the cached copy where there is one ({cached} of {failed})"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
