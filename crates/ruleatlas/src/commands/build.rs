//! `ruleatlas build`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use ruleatlas_attack::Attack;
use ruleatlas_catalog::{BuildInput, CatalogWriter, Index, RuleJson};
use ruleatlas_loader::{LoadReport, LoadedRule, Progress, Source, Stream, load_all_streaming};
use ruleatlas_model::Vendor;

use super::{CliError, CliResult};
use crate::term;

pub struct BuildOptions {
    pub corpus: Option<PathBuf>,
    pub sources: Vec<String>,
    pub attack: Vec<PathBuf>,
    pub output: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub quiet: bool,
}

/// Sources from `--corpus` (vendor folders named by key) and `--source VENDOR=PATH`.
pub fn sources(corpus: Option<&Path>, specs: &[String]) -> Result<Vec<Source>, CliError> {
    let mut out = Vec::new();
    if let Some(dir) = corpus {
        if !dir.is_dir() {
            return Err(CliError::Usage(format!(
                "--corpus {}: not a folder",
                dir.display()
            )));
        }
        for v in Vendor::ALL {
            let p = dir.join(v.key());
            if p.is_dir() {
                out.push(Source::new(v, p));
            }
        }
        if out.is_empty() {
            return Err(CliError::Usage(format!(
                "--corpus {}: no vendor folder inside (expected some of: {})",
                dir.display(),
                Vendor::ALL
                    .iter()
                    .map(|v| v.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    for spec in specs {
        let (v, p) = spec
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--source {spec}: expected VENDOR=PATH")))?;
        let vendor = super::parse_vendor(Some(v))?
            .ok_or_else(|| CliError::Usage(format!("--source {spec}")))?;
        let path = PathBuf::from(p);
        if !path.exists() {
            return Err(CliError::Usage(format!(
                "--source {spec}: {} does not exist",
                path.display()
            )));
        }
        out.push(Source::new(vendor, path));
    }
    Ok(out)
}

/// Loads STIX bundles from files or folders of `*.json`.
pub fn load_attack(paths: &[PathBuf]) -> Result<Attack, CliError> {
    let mut attack = Attack::default();
    for p in paths {
        let files: Vec<PathBuf> = if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| CliError::Usage(format!("--attack {}: {e}", p.display())))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "json"))
                .collect();
            v.sort();
            v
        } else {
            vec![p.clone()]
        };
        if files.is_empty() {
            return Err(CliError::Usage(format!(
                "--attack {}: no .json bundle there",
                p.display()
            )));
        }
        for f in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| CliError::Usage(format!("--attack {}: {e}", f.display())))?;
            attack
                .add_bundle(&f.to_string_lossy(), &text)
                .map_err(|d| CliError::Usage(format!("--attack: {d}")))?;
        }
    }
    Ok(attack)
}

/// Loads, normalizes and writes a catalog; returns the report and the seconds it took.
///
/// The catalog is written by its own thread while the files are read: each rule goes to it
/// as soon as its file is loaded and its fields normalized. What linking or final ids change
/// afterwards is withdrawn and written again (see `ruleatlas_loader::load_all_streaming`),
/// so the catalog holds exactly the rules of the returned report.
pub fn build_catalog(
    sources: &[Source],
    attack: &Attack,
    output: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(LoadReport, f64), CliError> {
    let start = Instant::now();
    let failed = |e: ruleatlas_catalog::CatalogError| {
        CliError::Failed(format!(
            "could not write the catalog {}: {e}",
            output.display()
        ))
    };
    let mut writer = CatalogWriter::create(output).map_err(failed)?;
    let (to_writer, inbox) = mpsc::channel::<(LoadedRule, RuleJson)>();
    let writing = std::thread::spawn(move || {
        for (rule, json) in inbox {
            writer.put(&rule, &json)?;
        }
        Ok::<_, ruleatlas_catalog::CatalogError>(writer)
    });
    let taxonomy = ruleatlas_taxonomy::Taxonomy::builtin;
    let prepare = |doc: &mut ruleatlas_model::RuleDoc| taxonomy().normalize(doc);
    // A send fails only when the writer stopped on an error, which `join` reports below.
    let emit = |rule: LoadedRule| {
        let json = RuleJson::of(&rule);
        let _ = to_writer.send((rule, json));
    };
    let stream = Stream {
        prepare: &prepare,
        emit: &emit,
    };
    let (mut report, revisions) = load_all_streaming(
        sources,
        &crate::adapters::adapter,
        attack,
        progress,
        &stream,
    );
    drop(to_writer);
    // The report's own rules, normalized as the writer's copies were (after linking now).
    report
        .rules
        .par_iter_mut()
        .for_each(|r| taxonomy().normalize(&mut r.doc));
    let mut writer = writing
        .join()
        .map_err(|_| CliError::Failed("the catalog writer crashed".into()))?
        .map_err(failed)?;
    for id in &revisions.withdrawn {
        writer.withdraw(id).map_err(failed)?;
    }
    for &i in &revisions.emit {
        let r = &report.rules[i];
        writer.put(r, &RuleJson::of(r)).map_err(failed)?;
    }
    let loaded = start.elapsed().as_secs_f64();
    let labels = sources
        .iter()
        .map(|s| {
            format!(
                "{}={}{}",
                s.vendor.key(),
                s.root.display(),
                s.commit
                    .as_deref()
                    .map(|c| format!("@{c}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let input = BuildInput {
        rules: &report.rules,
        diagnostics: &report.diagnostics,
        files: &report.files,
        attack,
        build_seconds: loaded,
        sources: labels,
    };
    writer.finish(&input).map_err(failed)?;
    let seconds = start.elapsed().as_secs_f64();
    if std::env::var_os("RULEATLAS_TIMINGS").is_some() {
        eprintln!(
            "timings: load, normalize and rows written {loaded:.3}s, catalog finished {:.3}s",
            seconds - loaded
        );
    }
    Ok((report, seconds))
}

pub fn run(opts: &BuildOptions) -> CliResult {
    let mut sources = sources(opts.corpus.as_deref(), &opts.sources)?;
    let mut attack_paths = opts.attack.clone();
    let mut output = opts.output.clone();
    // No sources on the command line: the config file says what to read.
    let config = if sources.is_empty() || opts.config.is_some() {
        super::sync::find_config(opts.config.as_deref())?
    } else {
        None
    };
    if let Some(cfg) = &config {
        if sources.is_empty() {
            let say = |msg: &str| {
                if !opts.quiet {
                    eprintln!("{msg}");
                }
            };
            sources = ruleatlas_sources::materialize(cfg, &say)
                .map_err(|e| super::sync::sources_error(&e))?;
            ruleatlas_sources::keep_rule_files(&mut sources, &crate::adapters::adapter);
        }
        if attack_paths.is_empty() {
            attack_paths.clone_from(&cfg.attack);
        }
        if output.is_none() {
            output = Some(cfg.catalog.clone());
        }
    }
    if sources.is_empty() {
        return Err(CliError::Usage(
            "nothing to build: give --corpus DIR or --source VENDOR=PATH, or write a ruleatlas.toml \
             (see docs/config.md; `ruleatlas sync --example-config` prints one)"
                .into(),
        ));
    }
    let output = output.unwrap_or_else(|| PathBuf::from("ruleatlas.db"));
    let attack = load_attack(&attack_paths)?;
    let show = term::progress_allowed(opts.quiet);
    let multi = MultiProgress::new();
    let bars: Mutex<BTreeMap<Vendor, ProgressBar>> = Mutex::new(BTreeMap::new());
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} files")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let progress = |p: Progress| {
        if !show {
            return;
        }
        let Ok(mut bars) = bars.lock() else { return };
        match p {
            Progress::Listed { vendor, total } => {
                let bar = multi.add(ProgressBar::new(total as u64));
                bar.set_style(style.clone());
                bar.set_prefix(vendor.key());
                bars.insert(vendor, bar);
            }
            Progress::Loaded {
                vendor,
                done,
                total,
            } => {
                if let Some(b) = bars.get(&vendor) {
                    b.set_position(done as u64);
                    if done == total {
                        b.finish();
                    }
                }
            }
        }
    };
    let (report, seconds) = build_catalog(&sources, &attack, &output, &progress)?;
    if let Some(cfg) = &config {
        // Old commit exports are no longer needed once a catalog from the new ones exists.
        if let Err(e) = ruleatlas_sources::prune_trees(cfg, &sources)
            && !opts.quiet
        {
            eprintln!("warning: {e}");
        }
    }
    if !opts.quiet {
        let index = super::open_catalog(&output)?;
        print_summary(&index, &report, seconds, &output, attack.is_empty());
    }
    // The process ends here: freeing every rule one allocation at a time would only delay
    // the exit (by about 5 ms on the Sigma corpus).
    std::mem::forget(report);
    Ok(ExitCode::SUCCESS)
}

fn print_summary(index: &Index, report: &LoadReport, seconds: f64, output: &Path, no_attack: bool) {
    let stats = ruleatlas_catalog::stats::stats(index);
    let mut t = term::table(&[
        "vendor",
        "files",
        "rules",
        "full",
        "partial",
        "failed",
        "no query",
        "coverage",
        "deprecated",
        "hunts",
        "diagnostics",
    ]);
    for (v, s) in &stats.vendors {
        t.add_row(vec![
            v.clone(),
            s.files.to_string(),
            s.rules.to_string(),
            s.full.to_string(),
            s.partial.to_string(),
            s.failed.to_string(),
            s.no_query.to_string(),
            format!("{:.2}%", s.coverage),
            s.deprecated.to_string(),
            s.hunts.to_string(),
            s.diagnostics.to_string(),
        ]);
    }
    println!("{t}");
    // Diagnostics by code, most frequent first.
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &report.rules {
        for d in &r.doc.lowered.diagnostics {
            *codes.entry(d.code.as_str()).or_default() += 1;
        }
    }
    for (_, d) in &report.diagnostics {
        *codes.entry(d.code.as_str()).or_default() += 1;
    }
    if !codes.is_empty() {
        let mut codes: Vec<_> = codes.into_iter().collect();
        codes.sort_by_key(|c| std::cmp::Reverse(c.1));
        let list: Vec<String> = codes
            .iter()
            .take(8)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        println!("diagnostics by code: {}", list.join(", "));
    }
    if no_attack {
        println!("no ATT&CK bundles given (--attack): technique names come from rule metadata");
    } else if !stats.unknown_techniques.is_empty() {
        println!(
            "{} technique ids cited by rules are unknown to the loaded ATT&CK version (kept, flagged): {}",
            stats.unknown_techniques.len(),
            term::cut(&stats.unknown_techniques.join(", "), 160)
        );
    }
    println!(
        "wrote {} ({} rules, {} predicates, {} techniques) in {seconds:.2}s",
        output.display(),
        stats.rules,
        stats.predicates,
        stats.techniques
    );
}
