//! `ruleatlas`: the command line.
//!
//! Every subcommand is a function in `commands/`; this file only parses arguments (clap) and
//! maps outcomes to exit codes: 0 success, 1 the command ran and found a failure (no catalog
//! written, a `failed` file in `check`), 2 a usage error.

mod adapters;
mod commands;
mod demo;
mod term;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Loading allocates many small strings on every core; mimalloc's per-thread heaps cut the
/// allocator's share of a build (measured in `bench/results/sigma_pysigma.txt`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How does the community detect technique X, across every vendor?
#[derive(Parser, Debug)]
#[command(name = "ruleatlas", version, about, long_about = None)]
pub struct Cli {
    /// Print less (no progress bars, no summaries).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Navigator,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportWhat {
    Rules,
    Predicates,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read rule repositories and write the catalog (SQLite).
    Build {
        /// A folder of vendor folders named by key (sigma, elastic, splunk, kusto, yaral, panther).
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// VENDOR=PATH; may repeat, also for one vendor.
        #[arg(long = "source", value_name = "VENDOR=PATH")]
        sources: Vec<String>,
        /// A STIX bundle (or a folder of them); may repeat.
        #[arg(long = "attack", value_name = "PATH")]
        attack: Vec<PathBuf>,
        /// The catalog to write (default: the config's `catalog`, else `ruleatlas.db`).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// A `ruleatlas.toml`; without sources on the command line, `build` reads the one in
        /// the working directory.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Clone or fetch the git sources of `ruleatlas.toml` into its cache directory.
    Sync {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print an example `ruleatlas.toml` with the six upstream repositories and exit.
        #[arg(long)]
        example_config: bool,
    },
    /// Catalog figures: rules, parse coverage per vendor and language, unparsed reasons.
    Stats {
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The authoring guide of a technique.
    Guide {
        /// A technique id (T1621, T1078.004).
        technique: String,
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        #[arg(long)]
        markdown: bool,
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        vendor: Option<String>,
        #[arg(long)]
        include_hunts: bool,
        /// Rows per section in the terminal and Markdown views (JSON has every row).
        #[arg(long, default_value_t = 20)]
        top: usize,
    },
    /// One rule: metadata, predicates, unparsed fragments, diagnostics.
    Rule {
        /// `vendor:id`, or the vendor's own id when unambiguous.
        id: String,
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Every technique with its name, tactics and counted rules per vendor.
    Techniques {
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        include_hunts: bool,
    },
    /// Canonical fields with rules per vendor and the raw names each vendor uses.
    Fields {
        /// One field: also sample values and the techniques that use it most.
        field: Option<String>,
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Search rules: words match title and id; `field:X`, `value:Y`, `vendor:V`, `technique:T`.
    Search {
        query: Vec<String>,
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Parse rule files and print their predicates and diagnostics.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        vendor: Option<String>,
        /// The repository the files belong to (macros, data models, .py files).
        #[arg(long)]
        repo: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate each rule's lowered condition on the rule's own test events (Panther `Tests:`).
    Test {
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(long)]
        vendor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Techniques by tactic with rule counts per vendor, and the gaps.
    Coverage {
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(long)]
        vendor: Option<String>,
        #[arg(long)]
        tactic: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Export the catalog: jsonl (one `rule --json` a line), navigator (ATT&CK Navigator layer), csv.
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Navigator: one layer for this vendor only.
        #[arg(long)]
        vendor: Option<String>,
        /// Navigator: only techniques with at least this many rules.
        #[arg(long, default_value_t = 1)]
        min_rules: usize,
        /// CSV: rules (default) or predicates.
        #[arg(long, value_enum, default_value = "rules")]
        what: ExportWhat,
    },
    /// Serve the catalog as web pages and a JSON API.
    Serve {
        #[arg(long, default_value = "ruleatlas.db")]
        catalog: PathBuf,
        /// Default: the config's `[server] addr`, else 127.0.0.1:8080.
        #[arg(long)]
        addr: Option<String>,
    },
    /// Build the embedded example rules into a temporary catalog and show (or serve) them.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Print the T1621 guide and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
}

/// `ruleatlas ... | head` closes the pipe early: that is not an error worth a backtrace.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
