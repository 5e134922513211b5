//! `ruleatlas.toml`: sources, ATT&CK bundles, catalog, cache and server address.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use ruleatlas_model::Vendor;
use serde::{Deserialize, Deserializer};

use crate::error::SourcesError;

/// The file name looked for in the working directory.
pub const CONFIG_FILE: &str = "ruleatlas.toml";

/// A loaded `ruleatlas.toml`. After [`Config::load`] / [`Config::parse`], every path is
/// absolute (relative paths were taken relative to the config file's folder) and every
/// source entry was validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The config file this came from (empty for a config parsed from text).
    #[serde(skip)]
    pub file: PathBuf,
    /// The catalog path (default `ruleatlas.db`).
    #[serde(default = "default_catalog")]
    pub catalog: PathBuf,
    /// The cache directory: `repos/` (synced clones) and `trees/` (exported commits).
    #[serde(default = "default_cache")]
    pub cache: PathBuf,
    #[serde(default)]
    pub server: ServerConfig,
    /// STIX bundles (files or folders of `*.json`).
    #[serde(default)]
    pub attack: Vec<PathBuf>,
    /// The `[[source]]` entries, in file order.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_addr")]
    pub addr: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: default_addr(),
        }
    }
}

/// One `[[source]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    #[serde(deserialize_with = "de_vendor")]
    pub vendor: Vendor,
    /// A folder, or a local git repository (read at `branch`/`commit` when one is given,
    /// else its work tree as it is).
    pub path: Option<PathBuf>,
    /// A repository URL, or a local path to a repository (made absolute on load): synced
    /// into `<cache>/repos/<name>` by `ruleatlas sync`.
    pub git: Option<String>,
    /// The branch to read; default: the upstream's default branch (a tag goes in `commit`).
    pub branch: Option<String>,
    /// A commit id (full or abbreviated) or any ref to read.
    pub commit: Option<String>,
    /// The cache name of a `git` source (default `<owner>-<repo>` from the URL).
    pub name: Option<String>,
    /// Only rule files whose path (relative to the repository root) matches one of these
    /// globs are loaded (default: all).
    #[serde(default)]
    pub include: Vec<String>,
    /// Rule files matching one of these globs are skipped.
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn default_catalog() -> PathBuf {
    PathBuf::from("ruleatlas.db")
}
fn default_cache() -> PathBuf {
    PathBuf::from(".ruleatlas-cache")
}
fn default_addr() -> String {
    "127.0.0.1:8080".to_string()
}

fn vendor_keys() -> String {
    Vendor::ALL
        .iter()
        .map(|v| v.key())
        .collect::<Vec<_>>()
        .join(", ")
}

fn de_vendor<'de, D: Deserializer<'de>>(d: D) -> Result<Vendor, D::Error> {
    let s = String::deserialize(d)?;
    Vendor::parse(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "unknown vendor \"{s}\": use one of {}",
            vendor_keys()
        ))
    })
}

/// Whether `git` names a remote (URL or `user@host:path`) rather than a local path.
#[must_use]
pub fn is_remote_url(git: &str) -> bool {
    if git.contains("://") {
        return !git.starts_with("file://");
    }
    // scp-like `git@github.com:owner/repo.git` (but not a Windows drive `C:\...`).
    match git.split_once(':') {
        Some((host, _)) => host.len() > 1 && !host.contains('/') && !host.contains('\\'),
        None => false,
    }
}

impl SourceConfig {
    /// A short label for messages: `sigma, git = https://...`.
    #[must_use]
    pub fn label(&self) -> String {
        let place = match (&self.path, &self.git) {
            (Some(p), _) => format!("path = {}", p.display()),
            (None, Some(g)) => format!("git = {g}"),
            (None, None) => "no path or git".to_string(),
        };
        format!("{}, {place}", self.vendor.key())
    }

    /// The cache name of a `git` source: `name`, else `<owner>-<repo>` from the URL, else
    /// the last folder name of a local path.
    #[must_use]
    pub fn cache_name(&self) -> Option<String> {
        if let Some(n) = &self.name {
            return Some(sanitize(n));
        }
        self.git.as_deref().map(repo_name)
    }

    /// The include/exclude globs compiled; `None` when neither is given.
    ///
    /// # Errors
    /// A message naming the glob that does not compile.
    pub fn filter(&self) -> Result<Option<PathFilter>, String> {
        if self.include.is_empty() && self.exclude.is_empty() {
            return Ok(None);
        }
        let build = |globs: &[String], key: &str| -> Result<Option<GlobSet>, String> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(compile_glob(g).map_err(|e| format!("{key} glob \"{g}\" is invalid: {e}"))?);
            }
            b.build().map(Some).map_err(|e| format!("{key} globs: {e}"))
        };
        Ok(Some(PathFilter {
            include: build(&self.include, "include")?,
            exclude: build(&self.exclude, "exclude")?,
        }))
    }
}

fn compile_glob(g: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(g).literal_separator(true).build()
}

/// Compiled include/exclude globs over `/`-separated paths relative to the source root.
#[derive(Debug, Clone)]
pub struct PathFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl PathFilter {
    /// Whether `rel` is kept: matches an include glob (or there is none) and no exclude glob.
    #[must_use]
    pub fn keeps(&self, rel: &str) -> bool {
        self.include.as_ref().is_none_or(|s| s.is_match(rel))
            && self.exclude.as_ref().is_none_or(|s| !s.is_match(rel))
    }
}

/// Keeps `[A-Za-z0-9._-]`, the rest becomes `_`.
fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let out = out.trim_start_matches('.').to_string();
    if out.is_empty() {
        "repo".to_string()
    } else {
        out
    }
}

/// `https://github.com/SigmaHQ/sigma.git` -> `SigmaHQ-sigma`; `/x/y/rules` -> `rules`.
#[must_use]
pub fn repo_name(git: &str) -> String {
    let trimmed = git.trim_end_matches(['/', '\\']);
    let trimmed = trimmed
        .strip_suffix(".git")
        .unwrap_or(trimmed)
        .trim_end_matches(['/', '\\']);
    if is_remote_url(trimmed) {
        let path = match trimmed.split_once("://") {
            Some((_, rest)) => rest.split_once('/').map_or("", |(_, p)| p),
            None => trimmed.split_once(':').map_or("", |(_, p)| p),
        };
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let tail = if parts.len() >= 2 {
            parts[parts.len() - 2..].join("-")
        } else {
            parts.join("-")
        };
        return sanitize(&tail);
    }
    let local = trimmed.strip_prefix("file://").unwrap_or(trimmed);
    sanitize(
        Path::new(local)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .as_deref()
            .unwrap_or("repo"),
    )
}

impl Config {
    /// Looks for `ruleatlas.toml` in `cwd` (only there: a config is never picked up from a
    /// parent folder by surprise).
    #[must_use]
    pub fn find(cwd: &Path) -> Option<PathBuf> {
        let p = cwd.join(CONFIG_FILE);
        p.is_file().then_some(p)
    }

    /// Reads, parses and validates a config file.
    ///
    /// # Errors
    /// [`SourcesError::Config`] for an unreadable file, a TOML error, an unknown key (with its
    /// line and column) or an invalid value; [`SourcesError::Source`] for an invalid
    /// `[[source]]` entry (unknown vendor, missing path, `path` with `git`...).
    pub fn load(path: &Path) -> Result<Config, SourcesError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SourcesError::config(
                path,
                format!("cannot read the config file: {e} (check the --config path)"),
            )
        })?;
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut cfg = Self::parse(&text, &base).map_err(|e| match e {
            SourcesError::Config { message, .. } => SourcesError::Config {
                file: abs.clone(),
                message,
            },
            SourcesError::Source {
                index,
                label,
                message,
                ..
            } => SourcesError::Source {
                file: abs.clone(),
                index,
                label,
                message,
            },
            other => other,
        })?;
        cfg.file = abs;
        Ok(cfg)
    }

    /// Parses and validates config text; relative paths are taken relative to `base`.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(text: &str, base: &Path) -> Result<Config, SourcesError> {
        let file = base.join(CONFIG_FILE);
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            SourcesError::config(
                &file,
                format!(
                    "{} (fix that line; the keys are described in docs/config.md)",
                    e.to_string().trim_end()
                ),
            )
        })?;
        cfg.file = file.clone();
        let abs = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        cfg.catalog = abs(&cfg.catalog);
        cfg.cache = abs(&cfg.cache);
        cfg.attack = cfg.attack.iter().map(|p| abs(p)).collect();
        for p in &cfg.attack {
            if !p.exists() {
                return Err(SourcesError::config(
                    &file,
                    format!(
                        "attack = {}: does not exist (fix the path or remove it from `attack`)",
                        p.display()
                    ),
                ));
            }
        }
        if !valid_addr(&cfg.server.addr) {
            return Err(SourcesError::config(
                &file,
                format!(
                    "[server] addr = \"{}\": expected HOST:PORT, e.g. \"127.0.0.1:8080\"",
                    cfg.server.addr
                ),
            ));
        }
        let mut names: Vec<(String, String)> = Vec::new();
        for (i, s) in cfg.sources.iter_mut().enumerate() {
            let index = i + 1;
            let err = |s: &SourceConfig, message: String| SourcesError::Source {
                file: file.clone(),
                index,
                label: s.label(),
                message,
            };
            match (&s.path, &s.git) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        s,
                        "has both `path` and `git`: keep `path` to read a local folder or repository, or `git` to sync a clone into the cache".into(),
                    ));
                }
                (None, None) => {
                    return Err(err(
                        s,
                        "has neither `path` nor `git`: add `path = \"FOLDER\"` or `git = \"URL\"`"
                            .into(),
                    ));
                }
                _ => {}
            }
            if s.branch.is_some() && s.commit.is_some() {
                return Err(err(
                    s,
                    "has both `branch` and `commit`: keep one (a commit pins the exact version)"
                        .into(),
                ));
            }
            for (key, v) in [("branch", &s.branch), ("commit", &s.commit)] {
                if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
                    return Err(err(
                        s,
                        format!("`{key}` is empty: give a value or remove the key"),
                    ));
                }
            }
            if let Err(m) = s.filter() {
                return Err(err(
                    s,
                    format!("{m} (see globset syntax: `*` within a folder, `**` across folders)"),
                ));
            }
            if let Some(p) = &s.path {
                let p = abs(p);
                if !p.exists() {
                    let shown = s
                        .path
                        .as_deref()
                        .map(Path::display)
                        .map(|d| d.to_string())
                        .unwrap_or_default();
                    return Err(err(
                        s,
                        format!(
                            "path = \"{shown}\": {} does not exist (fix the path, or use `git = URL` and run `ruleatlas sync`)",
                            p.display()
                        ),
                    ));
                }
                s.path = Some(p);
            }
            if let Some(g) = &s.git {
                if g.trim().is_empty() {
                    return Err(err(
                        s,
                        "`git` is empty: give a repository URL or a local repository path".into(),
                    ));
                }
                if !is_remote_url(g) {
                    let local = g.strip_prefix("file://").unwrap_or(g);
                    let p = abs(Path::new(local));
                    if !p.exists() {
                        return Err(err(
                            s,
                            format!(
                                "git = \"{g}\": {} does not exist (give a URL like https://github.com/OWNER/REPO or an existing local repository)",
                                p.display()
                            ),
                        ));
                    }
                    s.git = Some(p.to_string_lossy().into_owned());
                }
                let name = s.cache_name().unwrap_or_default();
                let url = s.git.clone().unwrap_or_default();
                if let Some((_, other)) = names.iter().find(|(n, u)| *n == name && *u != url) {
                    return Err(err(
                        s,
                        format!(
                            "its cache name \"{name}\" is also used by git = {other}: add `name = \"...\"` to one of them"
                        ),
                    ));
                }
                names.push((name, url));
            }
        }
        Ok(cfg)
    }
}

fn valid_addr(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

/// An example `ruleatlas.toml` syncing the six upstream repositories.
#[must_use]
pub fn default_config_text() -> &'static str {
    r#"# ruleatlas.toml: where rules come from (see docs/config.md).
# Paths are relative to this file's folder.
catalog = "ruleatlas.db"
cache = ".ruleatlas-cache"
# ATT&CK STIX bundles (files or folders of *.json); optional.
attack = []

[server]
addr = "127.0.0.1:8080"

# `ruleatlas sync` clones or fetches these into <cache>/repos/; `ruleatlas build` reads the
# synced commit (recorded per rule). Add `commit = "..."` to pin a version.
[[source]]
vendor = "sigma"
git = "https://github.com/SigmaHQ/sigma"
include = ["rules*/**", "deprecated/**"]

[[source]]
vendor = "elastic"
git = "https://github.com/elastic/detection-rules"

[[source]]
vendor = "splunk"
git = "https://github.com/splunk/security_content"

[[source]]
vendor = "kusto"
git = "https://github.com/Azure/Azure-Sentinel"

[[source]]
vendor = "yaral"
git = "https://github.com/chronicle/detection-rules"

[[source]]
vendor = "panther"
git = "https://github.com/panther-labs/panther-analysis"
"#
}
