//! Subcommands.

mod build;
mod check;
mod export;
mod show;
mod sync;
mod test;

use std::path::Path;
use std::process::ExitCode;

use ruleatlas_catalog::Index;
use ruleatlas_model::Vendor;

use crate::{Cli, Command};

pub use build::{BuildOptions, build_catalog, load_attack};

/// A command's failure, with the exit code it maps to.
#[derive(Debug)]
pub enum CliError {
    /// Wrong arguments: exit 2.
    Usage(String),
    /// The command ran and failed (no catalog, unknown id...): exit 1.
    Failed(String),
}

impl CliError {
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
        }
    }
}

pub type CliResult = Result<ExitCode, CliError>;

/// Opens a catalog or says what to do.
pub fn open_catalog(path: &Path) -> Result<Index, CliError> {
    Index::open(path).map_err(|e| CliError::Failed(format!("{e} (catalog: {})", path.display())))
}

/// Parses a `--vendor` value.
pub fn parse_vendor(v: Option<&str>) -> Result<Option<Vendor>, CliError> {
    v.map(|s| {
        Vendor::parse(s).ok_or_else(|| {
            CliError::Usage(format!(
                "unknown vendor `{s}`: use one of {}",
                Vendor::ALL
                    .iter()
                    .map(|v| v.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    })
    .transpose()
}

/// Prints JSON to stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(|e| CliError::Failed(e.to_string()))?;
    println!("{s}");
    Ok(())
}

pub fn run(cli: Cli) -> CliResult {
    let quiet = cli.quiet;
    match cli.command {
        Command::Build {
            corpus,
            sources,
            attack,
            output,
            config,
        } => build::run(&BuildOptions {
            corpus,
            sources,
            attack,
            output,
            config,
            quiet,
        }),
        Command::Sync {
            config,
            example_config,
        } => sync::run(config.as_deref(), example_config, quiet),
        Command::Stats { catalog, json } => show::stats(&catalog, json),
        Command::Guide {
            technique,
            catalog,
            json,
            markdown,
            platform,
            domain,
            vendor,
            include_hunts,
            top,
        } => show::guide(&show::GuideArgs {
            technique,
            catalog,
            json,
            markdown,
            platform,
            domain,
            vendor,
            include_hunts,
            top,
        }),
        Command::Rule { id, catalog, json } => show::rule(&catalog, &id, json),
        Command::Techniques {
            catalog,
            json,
            include_hunts,
        } => show::techniques(&catalog, json, include_hunts),
        Command::Fields {
            field,
            catalog,
            json,
        } => show::fields(&catalog, field.as_deref(), json),
        Command::Search {
            query,
            catalog,
            json,
        } => show::search(&catalog, &query.join(" "), json),
        Command::Check {
            files,
            vendor,
            repo,
            json,
        } => check::run(&files, vendor.as_deref(), repo.as_deref(), json),
        Command::Test {
            catalog,
            vendor,
            json,
        } => test::run(&catalog, vendor.as_deref(), json),
        Command::Coverage {
            catalog,
            vendor,
            tactic,
            json,
        } => show::coverage(&catalog, vendor.as_deref(), tactic.as_deref(), json),
        Command::Export {
            format,
            catalog,
            output,
            vendor,
            min_rules,
            what,
        } => export::run(&export::ExportArgs {
            format,
            catalog,
            output,
            vendor,
            min_rules,
            what,
        }),
        Command::Serve { catalog, addr } => {
            let addr = match addr {
                Some(a) => a,
                None => sync::find_config(None)?
                    .map_or_else(|| "127.0.0.1:8080".to_string(), |c| c.server.addr),
            };
            crate::demo::serve(&catalog, &addr)
        }
        Command::Demo { addr, no_serve } => crate::demo::run(&addr, no_serve, quiet),
    }
}

/// The T1621 guide as the terminal shows it (for `demo --no-serve`).
#[must_use]
pub fn guide_text_for_demo(g: &ruleatlas_catalog::guide::Guide) -> String {
    show::guide_text(g, 15)
}
