//! Where rules come from: `ruleatlas.toml`, git repositories read with gix (a commit's tree
//! exported into the cache, so the catalog records the commit of every rule), and `sync`
//! (clone or fetch the configured upstreams into the cache).
//!
//! Cache layout (`cache = ...` in the config):
//! - `repos/<name>/`: bare clones made by [`sync`] (branches under `refs/remotes/origin/`),
//!   with `ruleatlas-synced` holding the time of the last successful sync;
//! - `trees/<name>-<commit12>/`: the files of one commit, written to a temporary folder and
//!   renamed into place with a `.ruleatlas-export` marker, so a half export never looks
//!   complete.

mod config;
mod error;
mod git;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ruleatlas_loader::{AdapterFactory, Source};
use ruleatlas_model::FileRole;

pub use config::{
    CONFIG_FILE, Config, PathFilter, ServerConfig, SourceConfig, default_config_text,
    is_remote_url, repo_name,
};
pub use error::SourcesError;

/// The completion marker inside an exported tree (hidden: the loader skips it).
pub const EXPORT_MARKER: &str = ".ruleatlas-export";
/// The file inside a cached clone recording the last successful sync.
pub const SYNC_STAMP: &str = "ruleatlas-synced";

impl Config {
    /// `<cache>/repos/<name>`: where [`sync`] keeps the clone of a `git` source.
    #[must_use]
    pub fn repo_dir(&self, name: &str) -> PathBuf {
        self.cache.join("repos").join(name)
    }
    /// `<cache>/trees`.
    #[must_use]
    pub fn trees_dir(&self) -> PathBuf {
        self.cache.join("trees")
    }
}

fn source_err(
    cfg: &Config,
    index: usize,
    s: &SourceConfig,
    message: impl Into<String>,
) -> SourcesError {
    SourcesError::Source {
        file: cfg.file.clone(),
        index,
        label: s.label(),
        message: message.into(),
    }
}

/// Turns every configured source into a loader [`Source`], in config order:
/// - `path` without `branch`/`commit`: the folder as it is (`commit: None`);
/// - `path` with `branch`/`commit`: that commit of the repository at `path` (not its work
///   tree), exported into `<cache>/trees/` (`commit: Some(full id)`);
/// - `git`: the synced clone in `<cache>/repos/` at `commit`, `branch` or the upstream's
///   default branch, exported likewise.
///
/// `include`/`exclude` globs become [`Source::only`]: the matching files, relative to the
/// root. The loader loads every file in `only` as a rule, so call [`keep_rule_files`] with the
/// adapter factory before loading.
///
/// # Errors
/// The first source that cannot be used (not synced yet, missing commit, not a repository,
/// corrupt cache, globs matching nothing); nothing partial is returned.
pub fn materialize(cfg: &Config, progress: &dyn Fn(&str)) -> Result<Vec<Source>, SourcesError> {
    let mut out = Vec::with_capacity(cfg.sources.len());
    for (i, s) in cfg.sources.iter().enumerate() {
        out.push(materialize_one(cfg, i + 1, s, progress)?);
    }
    Ok(out)
}

fn materialize_one(
    cfg: &Config,
    index: usize,
    s: &SourceConfig,
    progress: &dyn Fn(&str),
) -> Result<Source, SourcesError> {
    let vendor = s.vendor;
    let filter = s.filter().map_err(|m| source_err(cfg, index, s, m))?;
    let pinned = s.commit.is_some() || s.branch.is_some();
    let (root, commit) = if let Some(path) = &s.path {
        if !path.exists() {
            return Err(source_err(
                cfg,
                index,
                s,
                format!("{} does not exist (fix `path`)", path.display()),
            ));
        }
        if pinned {
            let key = if s.commit.is_some() {
                "commit"
            } else {
                "branch"
            };
            if !git::looks_like_repo(path) {
                return Err(source_err(
                    cfg,
                    index,
                    s,
                    format!(
                        "{} is not a git repository, but `{key}` needs one: remove `{key}` to read the folder as it is, or point `path` at a repository",
                        path.display(),
                    ),
                ));
            }
            let repo = git::open(path).map_err(|e| {
                source_err(
                    cfg,
                    index,
                    s,
                    format!(
                        "cannot open the repository {}: {e} (is it a complete git repository?)",
                        path.display()
                    ),
                )
            })?;
            let id = git::resolve(&repo, s.commit.as_deref(), s.branch.as_deref(), false).map_err(
                |e| {
                    source_err(
                        cfg,
                        index,
                        s,
                        format!("{e}: check the id with `git log` in {}", path.display()),
                    )
                },
            )?;
            let name = repo_name(&path.to_string_lossy());
            let dir = export_cached(cfg, index, s, &repo, &name, id, progress)?;
            (dir, Some(id.to_string()))
        } else {
            progress(&format!("{}: reading {}", vendor.key(), path.display()));
            (path.clone(), None)
        }
    } else if let Some(url) = &s.git {
        let name = s.cache_name().unwrap_or_default();
        let dir = cfg.repo_dir(&name);
        if !dir.exists() {
            return Err(source_err(
                cfg,
                index,
                s,
                format!(
                    "not synced yet: run `ruleatlas sync` first (it clones {url} into {})",
                    dir.display()
                ),
            ));
        }
        let repo = git::open(&dir).map_err(|e| {
            SourcesError::cache(
                &dir,
                format!("the cached clone of {url} cannot be opened ({e}): delete {} and run `ruleatlas sync`", dir.display()),
            )
        })?;
        let id = git::resolve(&repo, s.commit.as_deref(), s.branch.as_deref(), true).map_err(|e| {
            let when = synced_at(&dir).map(format_time).unwrap_or_else(|| "an unknown time".into());
            source_err(
                cfg,
                index,
                s,
                format!("{e} (cached clone synced {when}): check the id, or run `ruleatlas sync` to fetch newer commits"),
            )
        })?;
        let dir = export_cached(cfg, index, s, &repo, &name, id, progress)?;
        (dir, Some(id.to_string()))
    } else {
        return Err(source_err(cfg, index, s, "has neither `path` nor `git`"));
    };
    let only = match &filter {
        None => None,
        Some(f) => {
            let kept: HashSet<String> = list_files(&root)
                .into_iter()
                .filter(|rel| f.keeps(rel))
                .collect();
            if kept.is_empty() {
                return Err(source_err(
                    cfg,
                    index,
                    s,
                    "include/exclude leave no file to read: check the globs (paths are relative to the repository root, e.g. \"rules/**/*.yml\")",
                ));
            }
            Some(kept)
        }
    };
    Ok(Source {
        vendor,
        root,
        commit,
        only,
    })
}

/// Exports `id` into `<cache>/trees/<name>-<commit12>` unless a complete export is there.
fn export_cached(
    cfg: &Config,
    index: usize,
    s: &SourceConfig,
    repo: &gix::Repository,
    name: &str,
    id: gix::ObjectId,
    progress: &dyn Fn(&str),
) -> Result<PathBuf, SourcesError> {
    let hex = id.to_string();
    let short = &hex[..hex.len().min(12)];
    let trees = cfg.trees_dir();
    let final_dir = trees.join(format!("{name}-{short}"));
    if final_dir.exists() {
        check_export(&final_dir, &hex)?;
        progress(&format!(
            "{}: {name} at {short} (cached tree)",
            s.vendor.key()
        ));
        return Ok(final_dir);
    }
    std::fs::create_dir_all(&trees).map_err(|e| SourcesError::io(&trees, &e))?;
    remove_stale_partials(&trees, &format!(".partial-{name}-{short}-"));
    let tmp = trees.join(format!(".partial-{name}-{short}-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| SourcesError::io(&tmp, &e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| SourcesError::io(&tmp, &e))?;
    progress(&format!("{}: exporting {name} at {short}", s.vendor.key()));
    let exported = match git::export_tree(repo, id, &tmp) {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(source_err(
                cfg,
                index,
                s,
                format!("cannot export commit {short}: {e}"),
            ));
        }
    };
    let marker = format!(
        "commit {hex}\nfiles {}\nskipped {}\n",
        exported.files.len(),
        exported.skipped
    );
    if let Err(e) = std::fs::write(tmp.join(EXPORT_MARKER), marker) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(SourcesError::io(&tmp, &e));
    }
    if let Err(e) = std::fs::rename(&tmp, &final_dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        // Another build exported the same commit at the same time: use theirs.
        if final_dir.exists() {
            check_export(&final_dir, &hex)?;
        } else {
            return Err(SourcesError::io(&final_dir, &e));
        }
    }
    progress(&format!(
        "{}: exported {} files of {name} at {short}",
        s.vendor.key(),
        exported.files.len()
    ));
    Ok(final_dir)
}

/// Removes temporary folders starting with `prefix` left over by an interrupted run (older
/// than an hour, so a run in progress elsewhere is left alone).
fn remove_stale_partials(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if stale && e.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Deletes exported trees in `<cache>/trees` that none of `in_use` reads (call after a
/// successful build with the sources it used). Returns how many were removed.
///
/// # Errors
/// When a folder cannot be removed.
pub fn prune_trees(cfg: &Config, in_use: &[Source]) -> Result<usize, SourcesError> {
    let trees = cfg.trees_dir();
    let Ok(entries) = std::fs::read_dir(&trees) else {
        return Ok(0);
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let path = e.path();
        let hidden = e.file_name().to_string_lossy().starts_with('.');
        if hidden || !path.is_dir() || in_use.iter().any(|s| s.root == path) {
            continue;
        }
        std::fs::remove_dir_all(&path).map_err(|err| SourcesError::io(&path, &err))?;
        removed += 1;
    }
    Ok(removed)
}

/// An export folder is usable only with its marker naming the same commit.
fn check_export(dir: &Path, hex: &str) -> Result<(), SourcesError> {
    let marker = dir.join(EXPORT_MARKER);
    let fix = format!(
        "delete {} and build again (it will be exported anew)",
        dir.display()
    );
    let text = std::fs::read_to_string(&marker).map_err(|_| {
        SourcesError::cache(dir, format!("the exported tree has no completion marker {EXPORT_MARKER}, so it may be incomplete or edited: {fix}"))
    })?;
    let recorded = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("commit "))
        .unwrap_or("")
        .trim();
    if recorded != hex {
        return Err(SourcesError::cache(
            dir,
            format!("the exported tree is marked as commit \"{recorded}\", expected {hex}: {fix}"),
        ));
    }
    Ok(())
}

/// Files under `root`, relative and `/`-separated, walked as the loader walks (hidden files
/// skipped, symlinks followed).
fn list_files(root: &Path) -> Vec<String> {
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(true)
        .follow_links(true)
        .build();
    let mut out = Vec::new();
    for e in walker.flatten() {
        if e.file_type().is_some_and(|t| !t.is_dir()) {
            let rel = e.path().strip_prefix(root).unwrap_or(e.path());
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    out.sort();
    out
}

/// Drops from every [`Source::only`] the files the vendor's adapter does not read as rules
/// (support files such as macros stay readable: the loader reads them from the whole tree).
/// Call after [`materialize`], with the CLI's adapter factory.
pub fn keep_rule_files(sources: &mut [Source], factory: &AdapterFactory) {
    for s in sources {
        if let Some(only) = &mut s.only {
            let adapter = factory(s.vendor);
            only.retain(|rel| matches!(adapter.role(rel), FileRole::Rule));
        }
    }
}

// ---------------------------------------------------------------------------------------
// sync

/// What [`sync`] reports as it goes.
#[derive(Debug, Clone)]
pub enum SyncEvent {
    /// Starting to clone (`clone: true`) or fetch a repository.
    Started {
        name: String,
        url: String,
        clone: bool,
    },
    /// A repository is done (or failed).
    Finished(SyncedRepo),
}

/// One synced repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedRepo {
    /// The cache name (`SigmaHQ-sigma`).
    pub name: String,
    pub url: String,
    /// `<cache>/repos/<name>`.
    pub dir: PathBuf,
    pub outcome: SyncOutcome,
}

/// How one repository's sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Newly cloned; the default branch is at `head`.
    Cloned { head: String },
    /// Fetched; the default branch moved from `before` to `head`.
    Updated {
        before: Option<String>,
        head: String,
    },
    /// Fetched; nothing new on the default branch.
    UpToDate { head: String },
    /// Could not sync. `cached_at` (seconds since 1970) is the last successful sync, if any;
    /// `message` says what happened and what `build` will do.
    Failed {
        message: String,
        cached_at: Option<u64>,
    },
}

impl SyncedRepo {
    /// One line for a terminal.
    #[must_use]
    pub fn summary(&self) -> String {
        let short = |h: &str| h.chars().take(12).collect::<String>();
        match &self.outcome {
            SyncOutcome::Cloned { head } => format!("{}: cloned, at {}", self.name, short(head)),
            SyncOutcome::Updated { before, head } => match before {
                Some(b) => format!("{}: updated {} -> {}", self.name, short(b), short(head)),
                None => format!("{}: updated, at {}", self.name, short(head)),
            },
            SyncOutcome::UpToDate { head } => {
                format!("{}: up to date, at {}", self.name, short(head))
            }
            SyncOutcome::Failed { message, .. } => format!("{}: {message}", self.name),
        }
    }
}

/// The outcome of [`sync`], one entry per distinct `git` repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub repos: Vec<SyncedRepo>,
}

impl SyncReport {
    /// Repositories that could not be synced.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.repos
            .iter()
            .filter(|r| matches!(r.outcome, SyncOutcome::Failed { .. }))
            .count()
    }
}

/// Clones (first time) or fetches every `git` source into `<cache>/repos/<name>` with gix.
/// Local repositories are fetched through the file transport (it runs `git-upload-pack`);
/// remote ones over https. A repository that cannot be reached is reported as
/// [`SyncOutcome::Failed`] (its cached copy, if any, is left as it was) and the others go on.
///
/// # Errors
/// Only when the cache directory cannot be created.
pub fn sync(cfg: &Config, progress: &dyn Fn(SyncEvent)) -> Result<SyncReport, SourcesError> {
    let repos = cfg.cache.join("repos");
    let mut seen: HashSet<String> = HashSet::new();
    let mut report = SyncReport::default();
    for s in &cfg.sources {
        let (Some(url), Some(name)) = (&s.git, s.cache_name()) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        std::fs::create_dir_all(&repos).map_err(|e| SourcesError::io(&repos, &e))?;
        let dir = repos.join(&name);
        let mut plan = git::FetchPlan::default();
        for o in cfg
            .sources
            .iter()
            .filter(|o| o.git.is_some() && o.cache_name().as_deref() == Some(name.as_str()))
        {
            plan.full |= o.commit.is_some();
            if let Some(b) = &o.branch
                && !plan.branches.contains(b)
            {
                plan.branches.push(b.clone());
            }
        }
        progress(SyncEvent::Started {
            name: name.clone(),
            url: url.clone(),
            clone: !dir.exists(),
        });
        let outcome = sync_one(url, &name, &dir, &plan);
        let done = SyncedRepo {
            name,
            url: url.clone(),
            dir,
            outcome,
        };
        progress(SyncEvent::Finished(done.clone()));
        report.repos.push(done);
    }
    Ok(report)
}

fn sync_one(url: &str, name: &str, dir: &Path, plan: &git::FetchPlan) -> SyncOutcome {
    let failed = |why: String, cached_at: Option<u64>| {
        let then = match cached_at {
            Some(t) => format!("`ruleatlas build` will use the cached copy from {}", format_time(t)),
            None => "there is no cached copy yet, so `ruleatlas build` cannot read this source until a sync succeeds".into(),
        };
        let message = if is_remote_url(url) {
            format!("cannot reach {url}: offline? {then} (error: {why})")
        } else {
            format!(
                "cannot fetch from {url}: {then} (error: {why}; fetching a local repository runs `git-upload-pack`: is git installed?)"
            )
        };
        SyncOutcome::Failed { message, cached_at }
    };
    if dir.exists() {
        let cached_at = synced_at(dir);
        let repo = match git::open(dir) {
            Ok(r) => r,
            Err(e) => {
                return SyncOutcome::Failed {
                    message: format!(
                        "the cached clone {} is broken ({e}): delete it and run `ruleatlas sync` again",
                        dir.display()
                    ),
                    cached_at: None,
                };
            }
        };
        let before = git::resolve(&repo, None, None, true).ok();
        if let Err(e) = git::fetch(&repo, url, plan) {
            return failed(e, cached_at);
        }
        // Re-open: refs written by the fetch are read fresh.
        let head = git::open(dir)
            .ok()
            .and_then(|r| git::resolve(&r, None, None, true).ok());
        write_stamp(dir, url);
        match head {
            Some(h) if before == Some(h) => SyncOutcome::UpToDate {
                head: h.to_string(),
            },
            Some(h) => SyncOutcome::Updated {
                before: before.map(|b| b.to_string()),
                head: h.to_string(),
            },
            None => failed(
                "the fetch brought no default branch (an empty repository?)".into(),
                cached_at,
            ),
        }
    } else {
        let Some(parent) = dir.parent() else {
            return failed("no cache folder".into(), None);
        };
        remove_stale_partials(parent, &format!(".partial-{name}-"));
        let tmp = parent.join(format!(".partial-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let result = (|| -> Result<gix::ObjectId, String> {
            let repo = gix::init_bare(&tmp)
                .map_err(|e| format!("cannot create {}: {}", tmp.display(), git::one_line(&e)))?;
            git::fetch(&repo, url, plan)?;
            let repo = git::open(&tmp)?;
            git::resolve(&repo, None, None, true)
                .map_err(|e| format!("the fetch brought no default branch ({e})"))
        })();
        match result {
            Ok(head) => {
                if let Err(e) = std::fs::rename(&tmp, dir) {
                    let _ = std::fs::remove_dir_all(&tmp);
                    return failed(
                        format!("cannot move the clone into {}: {e}", dir.display()),
                        None,
                    );
                }
                write_stamp(dir, url);
                SyncOutcome::Cloned {
                    head: head.to_string(),
                }
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                failed(e, None)
            }
        }
    }
}

fn write_stamp(dir: &Path, url: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let _ = std::fs::write(dir.join(SYNC_STAMP), format!("{now}\n{url}\n"));
}

/// The time of the last successful sync of a cached clone (seconds since 1970).
#[must_use]
pub fn synced_at(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join(SYNC_STAMP))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// `2026-12-04 17:30 UTC`.
#[must_use]
pub fn format_time(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_796_405_400), "2026-12-04 17:30 UTC");
    }

    #[test]
    fn names() {
        assert_eq!(
            repo_name("https://github.com/SigmaHQ/sigma"),
            "SigmaHQ-sigma"
        );
        assert_eq!(
            repo_name("https://github.com/Azure/Azure-Sentinel.git/"),
            "Azure-Azure-Sentinel"
        );
        assert_eq!(
            repo_name("git@github.com:elastic/detection-rules.git"),
            "elastic-detection-rules"
        );
        assert_eq!(repo_name("/tmp/x/upstream"), "upstream");
        assert!(is_remote_url("git@github.com:a/b"));
        assert!(!is_remote_url("/tmp/a"));
        assert!(!is_remote_url("file:///tmp/a"));
    }
}
