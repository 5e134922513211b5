//! Git with gix: open, resolve a commit, export a commit's tree, fetch.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use gix::ObjectId;

/// Opens a repository (work tree or bare) without reading the user's or system's git config.
pub(crate) fn open(dir: &Path) -> Result<gix::Repository, String> {
    gix::open_opts(dir, gix::open::Options::isolated()).map_err(|e| one_line(&e))
}

/// Whether `dir` looks like a git repository (work tree with `.git`, or bare).
pub(crate) fn looks_like_repo(dir: &Path) -> bool {
    dir.join(".git").exists() || (dir.join("HEAD").is_file() && dir.join("objects").is_dir())
}

/// Resolves `commit` (an id or any ref), else `branch`, else the default branch, to a commit.
/// `cached` repositories keep upstream branches under `refs/remotes/origin/`.
pub(crate) fn resolve(
    repo: &gix::Repository,
    commit: Option<&str>,
    branch: Option<&str>,
    cached: bool,
) -> Result<ObjectId, String> {
    let candidates: Vec<String> = match (commit, branch) {
        (Some(c), _) => {
            let mut v = vec![c.to_string()];
            if cached {
                v.push(format!("refs/remotes/origin/{c}"));
            }
            v
        }
        (None, Some(b)) => {
            let local = if cached {
                format!("refs/remotes/origin/{b}")
            } else {
                format!("refs/heads/{b}")
            };
            vec![local, format!("refs/tags/{b}"), b.to_string()]
        }
        (None, None) => {
            if cached {
                vec!["refs/remotes/origin/HEAD".into(), "HEAD".into()]
            } else {
                vec!["HEAD".into()]
            }
        }
    };
    let mut last = String::new();
    for spec in &candidates {
        match repo.rev_parse_single(spec.as_str()) {
            Ok(id) => {
                let obj = repo.find_object(id).map_err(|e| one_line(&e))?;
                let c = obj
                    .peel_to_commit()
                    .map_err(|e| format!("{spec} is not a commit: {}", one_line(&e)))?;
                return Ok(c.id);
            }
            Err(e) => last = one_line(&e),
        }
    }
    let what = match (commit, branch) {
        (Some(c), _) => format!("commit \"{c}\""),
        (None, Some(b)) => format!("branch \"{b}\""),
        (None, None) => "the default branch (HEAD)".to_string(),
    };
    Err(format!("{what} is not in the repository ({last})"))
}

/// What an export wrote.
#[derive(Debug, Default)]
pub(crate) struct Exported {
    /// Files written, `/`-separated, relative to the export root, in tree order.
    pub files: Vec<String>,
    /// Entries not written: symlinks, submodules, unsafe or non-UTF-8 names.
    pub skipped: usize,
}

/// Writes every blob of `commit`'s tree under `dest` (which must exist and be empty).
pub(crate) fn export_tree(
    repo: &gix::Repository,
    commit: ObjectId,
    dest: &Path,
) -> Result<Exported, String> {
    let commit = repo.find_commit(commit).map_err(|e| one_line(&e))?;
    let tree = commit.tree().map_err(|e| one_line(&e))?;
    let mut rec = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut rec)
        .map_err(|e| format!("cannot read the tree: {}", one_line(&e)))?;
    let mut out = Exported::default();
    for e in rec.records {
        if e.mode.is_tree() {
            continue;
        }
        if e.mode.is_link() || e.mode.is_commit() || !(e.mode.is_blob() || e.mode.is_executable()) {
            out.skipped += 1;
            continue;
        }
        let Ok(rel) = std::str::from_utf8(e.filepath.as_slice()) else {
            out.skipped += 1;
            continue;
        };
        if !safe_rel_path(rel) {
            out.skipped += 1;
            continue;
        }
        let blob = repo
            .find_object(e.oid)
            .map_err(|err| format!("{rel}: {}", one_line(&err)))?;
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("{}: {err}", parent.display()))?;
        }
        std::fs::write(&path, &blob.data).map_err(|err| format!("{}: {err}", path.display()))?;
        out.files.push(rel.to_string());
    }
    Ok(out)
}

/// A tree path that stays inside the export folder on every platform.
fn safe_rel_path(rel: &str) -> bool {
    !rel.is_empty()
        && rel.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && !c.eq_ignore_ascii_case(".git")
                && !c.contains(['\\', '\0', ':'])
        })
}

/// What to fetch.
#[derive(Debug, Clone, Default)]
pub(crate) struct FetchPlan {
    /// Branches named by sources (besides the default branch, always fetched).
    pub branches: Vec<String>,
    /// Full history with every branch and tag (a source pins a commit); else only the tips
    /// of the default branch and the named branches (depth 1).
    pub full: bool,
}

/// Fetches `url` into `repo`: the remote's HEAD as `refs/remotes/origin/HEAD`, branches
/// under `refs/remotes/origin/`, tags (full fetches only) under `refs/tags/`.
pub(crate) fn fetch(repo: &gix::Repository, url: &str, plan: &FetchPlan) -> Result<(), String> {
    use gix::remote::Direction;
    use gix::remote::fetch::Shallow;
    let mut specs: Vec<String> = vec!["+HEAD:refs/remotes/origin/HEAD".into()];
    let shallow = if plan.full {
        specs.push("+refs/heads/*:refs/remotes/origin/*".into());
        specs.push("+refs/tags/*:refs/tags/*".into());
        if repo.is_shallow().unwrap_or(false) {
            Shallow::undo()
        } else {
            Shallow::NoChange
        }
    } else {
        for b in &plan.branches {
            specs.push(format!("+refs/heads/{b}:refs/remotes/origin/{b}"));
        }
        Shallow::DepthAtRemote(std::num::NonZeroU32::MIN)
    };
    let remote = repo
        .remote_at(url)
        .map_err(|e| one_line(&e))?
        .with_refspecs(specs.iter().map(String::as_str), Direction::Fetch)
        .map_err(|e| one_line(&e))?
        .with_fetch_tags(gix::remote::fetch::Tags::None);
    let connection = remote.connect(Direction::Fetch).map_err(|e| one_line(&e))?;
    let interrupt = AtomicBool::new(false);
    connection
        .prepare_fetch(
            gix::progress::Discard,
            gix::remote::ref_map::Options::default(),
        )
        .map_err(|e| one_line(&e))?
        .with_shallow(shallow)
        .receive(gix::progress::Discard, &interrupt)
        .map_err(|e| one_line(&e))?;
    Ok(())
}

/// An error and its causes on one line.
pub(crate) fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    let mut n = 0;
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
        n += 1;
        if n > 8 {
            break;
        }
    }
    s.replace('\n', " ")
}
