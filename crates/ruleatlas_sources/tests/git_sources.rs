//! Sync and materialize against local repositories made in the test (never the network).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_loader::{Progress, Source, load_all};
use ruleatlas_model::{FileRole, RuleDoc, Support, Vendor, VendorAdapter};
use ruleatlas_sources::{
    Config, SourcesError, SyncOutcome, SyncReport, keep_rule_files, materialize, sync,
};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git runs (tests need the git binary)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn rule(id: &str) -> String {
    format!(
        "title: {id}\nid: {id}\nlogsource:\n  product: windows\ndetection:\n  sel:\n    Image|endswith: '\\x.exe'\n  condition: sel\n"
    )
}

/// A sigma-like upstream: two rules, a deprecated rule, a README. Returns its head commit.
fn make_upstream(dir: &Path) -> String {
    std::fs::create_dir_all(dir).expect("mkdir");
    git(dir, &["init", "-q"]);
    write(dir, "rules/windows/a.yml", &rule("a"));
    write(dir, "rules-emerging-threats/b.yml", &rule("b"));
    write(dir, "deprecated/windows/old.yml", &rule("old"));
    write(dir, "README.md", "# rules\n");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn config(dir: &Path, text: &str) -> Result<Config, SourcesError> {
    let p = dir.join("ruleatlas.toml");
    std::fs::write(&p, text).expect("write config");
    Config::load(&p)
}

fn rels(s: &Source) -> Vec<String> {
    let mut v: Vec<String> = s.only.as_ref().expect("only set").iter().cloned().collect();
    v.sort();
    v
}

/// A stand-in adapter: every `.yml` under `rules*/` or `deprecated/` is a rule.
struct FakeSigma;
impl VendorAdapter for FakeSigma {
    fn vendor(&self) -> Vendor {
        Vendor::Sigma
    }
    fn role(&self, rel: &str) -> FileRole {
        if rel.ends_with(".yml") && (rel.starts_with("rules") || rel.starts_with("deprecated/")) {
            FileRole::Rule
        } else {
            FileRole::Ignore
        }
    }
    fn sniff(&self, _: &str, _: &str) -> bool {
        false
    }
    fn prepare(&mut self, _: &Support) -> Vec<Diagnostic> {
        Vec::new()
    }
    fn load(&self, rel: &str, text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        let mut d = RuleDoc::new(Vendor::Sigma, rel);
        d.native_id = text
            .lines()
            .find_map(|l| l.strip_prefix("id: "))
            .map(str::to_string);
        (vec![d], Vec::new())
    }
}
fn fake(_: Vendor) -> Box<dyn VendorAdapter> {
    Box::new(FakeSigma)
}

fn ok_head(r: &SyncReport) -> String {
    assert_eq!(r.repos.len(), 1, "{r:?}");
    match &r.repos[0].outcome {
        SyncOutcome::Cloned { head }
        | SyncOutcome::UpToDate { head }
        | SyncOutcome::Updated { head, .. } => head.clone(),
        SyncOutcome::Failed { message, .. } => panic!("sync failed: {message}"),
    }
}

#[test]
fn sync_materialize_round_trip_and_new_commit() {
    let tmp = tempfile::tempdir().expect("tmp");
    let up = tmp.path().join("upstream");
    let c1 = make_upstream(&up);
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let cfg = config(
        &work,
        "cache = \"cache\"\n[[source]]\nvendor = \"sigma\"\ngit = \"../upstream\"\ninclude = [\"rules*/**\", \"deprecated/**\"]\nexclude = [\"**/deprecated/**\"]\n",
    )
    .expect("config");

    // Not synced yet: a clear error.
    let e = materialize(&cfg, &|_| {}).expect_err("not synced");
    assert!(
        e.to_string()
            .contains("not synced yet: run `ruleatlas sync`"),
        "{e}"
    );

    let t = Instant::now();
    let events = std::cell::RefCell::new(Vec::new());
    let r = sync(&cfg, &|e| events.borrow_mut().push(format!("{e:?}"))).expect("sync");
    let sync_ms = t.elapsed().as_millis();
    assert!(
        matches!(&r.repos[0].outcome, SyncOutcome::Cloned { head } if *head == c1),
        "{r:?}"
    );
    assert_eq!(events.borrow().len(), 2);
    assert!(cfg.cache.join("repos/upstream/ruleatlas-synced").is_file());

    let t = Instant::now();
    let sources = materialize(&cfg, &|_| {}).expect("materialize");
    let export_ms = t.elapsed().as_millis();
    assert_eq!(sources.len(), 1);
    let s = &sources[0];
    assert_eq!(s.commit.as_deref(), Some(c1.as_str()));
    assert_eq!(
        s.root,
        cfg.cache.join(format!("trees/upstream-{}", &c1[..12]))
    );
    assert_eq!(
        rels(s),
        ["rules-emerging-threats/b.yml", "rules/windows/a.yml"]
    );
    assert!(
        s.root.join("README.md").is_file(),
        "the whole tree is exported"
    );
    assert!(s.root.join(".ruleatlas-export").is_file());

    // Load through the loader: every rule records its commit.
    let mut sources = sources;
    keep_rule_files(&mut sources, &fake);
    let rep = load_all(
        &sources,
        &fake,
        &ruleatlas_attack::Attack::default(),
        &|_: Progress| {},
    );
    let mut ids: Vec<(String, Option<String>)> = rep
        .rules
        .iter()
        .map(|r| (r.id.clone(), r.commit.clone()))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            ("sigma:a".to_string(), Some(c1.clone())),
            ("sigma:b".to_string(), Some(c1.clone()))
        ]
    );

    // A new commit upstream: sync again, the new rule appears with the new commit.
    write(&up, "rules/windows/c.yml", &rule("c"));
    git(&up, &["add", "-A"]);
    git(&up, &["commit", "-q", "-m", "second"]);
    let c2 = git(&up, &["rev-parse", "HEAD"]);
    let t = Instant::now();
    let r = sync(&cfg, &|_| {}).expect("sync 2");
    let fetch_ms = t.elapsed().as_millis();
    assert_eq!(
        r.repos[0].outcome,
        SyncOutcome::Updated {
            before: Some(c1.clone()),
            head: c2.clone()
        }
    );
    let mut sources = materialize(&cfg, &|_| {}).expect("materialize 2");
    assert_eq!(sources[0].commit.as_deref(), Some(c2.as_str()));
    assert_eq!(
        rels(&sources[0]),
        [
            "rules-emerging-threats/b.yml",
            "rules/windows/a.yml",
            "rules/windows/c.yml"
        ]
    );
    keep_rule_files(&mut sources, &fake);
    let rep = load_all(
        &sources,
        &fake,
        &ruleatlas_attack::Attack::default(),
        &|_: Progress| {},
    );
    let c = rep
        .rules
        .iter()
        .find(|r| r.id == "sigma:c")
        .expect("new rule loaded");
    assert_eq!(c.commit.as_deref(), Some(c2.as_str()));

    // Nothing new: up to date; the cached tree is reused.
    assert_eq!(ok_head(&sync(&cfg, &|_| {}).expect("sync 3")), c2);
    assert!(matches!(
        sync(&cfg, &|_| {}).expect("sync 4").repos[0].outcome,
        SyncOutcome::UpToDate { .. }
    ));
    let t = Instant::now();
    let msgs = std::cell::RefCell::new(Vec::new());
    materialize(&cfg, &|m| msgs.borrow_mut().push(m.to_string())).expect("materialize 3");
    let cached_ms = t.elapsed().as_millis();
    assert!(
        msgs.borrow().iter().any(|m| m.contains("cached tree")),
        "{:?}",
        msgs.borrow()
    );

    // Pinning the first commit still reads it from the cache.
    let pinned = config(
        &work,
        &format!("cache = \"cache\"\n[[source]]\nvendor = \"sigma\"\ngit = \"../upstream\"\ncommit = \"{}\"\n", &c1[..10]),
    )
    .expect("config");
    let s = materialize(&pinned, &|_| {}).expect("pinned");
    assert_eq!(s[0].commit.as_deref(), Some(c1.as_str()));
    assert!(s[0].only.is_none());
    assert!(!s[0].root.join("rules/windows/c.yml").exists());

    // Upstream gone: sync says so, keeps the cache, and build can still materialize.
    std::fs::remove_dir_all(&up).expect("rm upstream");
    let r = sync(&cfg, &|_| {}).expect("sync offline");
    match &r.repos[0].outcome {
        SyncOutcome::Failed { message, cached_at } => {
            assert!(cached_at.is_some());
            assert!(
                message.contains("will use the cached copy from"),
                "{message}"
            );
        }
        o => panic!("expected a failure, got {o:?}"),
    }
    assert_eq!(r.failed(), 1);
    assert_eq!(
        materialize(&cfg, &|_| {}).expect("cached")[0]
            .commit
            .as_deref(),
        Some(c2.as_str())
    );
    eprintln!(
        "round trip: clone {sync_ms} ms, export {export_ms} ms, fetch {fetch_ms} ms, cached materialize {cached_ms} ms"
    );
}

#[test]
fn path_with_commit_reads_that_commit_not_the_work_tree() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("repo");
    let c1 = make_upstream(&repo);
    write(&repo, "rules/windows/a.yml", "edited in the work tree\n");
    write(&repo, "rules/windows/new.yml", &rule("new"));
    let cfg = config(
        tmp.path(),
        &format!("[[source]]\nvendor = \"sigma\"\npath = \"repo\"\ncommit = \"{c1}\"\n"),
    )
    .expect("config");
    let s = materialize(&cfg, &|_| {}).expect("materialize");
    assert_eq!(s[0].commit.as_deref(), Some(c1.as_str()));
    assert_eq!(
        std::fs::read_to_string(s[0].root.join("rules/windows/a.yml")).expect("read"),
        rule("a")
    );
    assert!(!s[0].root.join("rules/windows/new.yml").exists());
    assert!(
        s[0].root
            .starts_with(tmp.path().join(".ruleatlas-cache/trees"))
    );

    // A branch works too; without commit/branch the work tree is read as it is.
    let cfg = config(
        tmp.path(),
        "[[source]]\nvendor = \"sigma\"\npath = \"repo\"\nbranch = \"main\"\n",
    )
    .expect("config");
    assert_eq!(
        materialize(&cfg, &|_| {}).expect("branch")[0]
            .commit
            .as_deref(),
        Some(c1.as_str())
    );
    let cfg = config(
        tmp.path(),
        "[[source]]\nvendor = \"sigma\"\npath = \"repo\"\n",
    )
    .expect("config");
    let s = materialize(&cfg, &|_| {}).expect("work tree");
    assert_eq!(s[0].root, repo);
    assert_eq!(s[0].commit, None);
}

#[test]
fn plain_folder_with_globs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path().join("rules-folder");
    write(&d, "rules/windows/a.yml", &rule("a"));
    write(&d, "rules/deprecated/x.yml", &rule("x"));
    write(&d, "other/z.yml", &rule("z"));
    let cfg = config(
        tmp.path(),
        "[[source]]\nvendor = \"sigma\"\npath = \"rules-folder\"\ninclude = [\"rules/**\"]\nexclude = [\"**/deprecated/**\"]\n",
    )
    .expect("config");
    let s = materialize(&cfg, &|_| {}).expect("materialize");
    assert_eq!(s[0].root, d);
    assert_eq!(rels(&s[0]), ["rules/windows/a.yml"]);
    let cfg = config(
        tmp.path(),
        "[[source]]\nvendor = \"sigma\"\npath = \"rules-folder\"\ninclude = [\"nothing/**\"]\n",
    )
    .expect("config");
    let e = materialize(&cfg, &|_| {}).expect_err("no match");
    assert!(
        e.to_string().contains("include/exclude leave no file"),
        "{e}"
    );
}

fn load_err(text: &str) -> String {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("rules")).expect("mkdir");
    let e = config(tmp.path(), text)
        .expect_err("invalid config")
        .to_string();
    eprintln!("config error: {e}");
    e
}

#[test]
fn bad_configs_name_the_problem() {
    let e = load_err("catalgo = \"x.db\"\n");
    assert!(
        e.contains("unknown field `catalgo`") && e.contains("ruleatlas.toml"),
        "{e}"
    );
    let e = load_err("[[source]]\nvendor = \"sigma\"\npath = \"rules\"\nbrnach = \"main\"\n");
    assert!(e.contains("unknown field `brnach`"), "{e}");
    let e = load_err("[server]\nport = 8080\n");
    assert!(e.contains("unknown field `port`"), "{e}");
    let e = load_err("[[source]]\nvendor = \"sigmah\"\npath = \"rules\"\n");
    assert!(
        e.contains("unknown vendor \"sigmah\": use one of sigma, elastic"),
        "{e}"
    );
    let e = load_err("[[source]]\nvendor = \"sigma\"\npath = \"nowhere\"\n");
    assert!(
        e.contains("[[source]] #1 (sigma, path = nowhere)") && e.contains("does not exist"),
        "{e}"
    );
    let e = load_err(
        "[[source]]\nvendor = \"sigma\"\npath = \"rules\"\n[[source]]\nvendor = \"kusto\"\ngit = \"missing-repo\"\n",
    );
    assert!(
        e.contains("[[source]] #2") && e.contains("missing-repo") && e.contains("does not exist"),
        "{e}"
    );
    let e = load_err(
        "[[source]]\nvendor = \"sigma\"\npath = \"rules\"\ngit = \"https://github.com/SigmaHQ/sigma\"\n",
    );
    assert!(e.contains("both `path` and `git`"), "{e}");
    let e = load_err("[[source]]\nvendor = \"sigma\"\n");
    assert!(e.contains("neither `path` nor `git`"), "{e}");
    let e = load_err("[[source]]\nvendor = \"sigma\"\npath = \"rules\"\ninclude = [\"rules/[\"]\n");
    assert!(e.contains("include glob \"rules/[\" is invalid"), "{e}");
    let e = load_err("[server]\naddr = \"localhost\"\n");
    assert!(e.contains("expected HOST:PORT"), "{e}");
    let e = load_err("attack = [\"no-such-bundle.json\"]\n");
    assert!(
        e.contains("no-such-bundle.json") && e.contains("does not exist"),
        "{e}"
    );
    let e = load_err(
        "[[source]]\nvendor = \"sigma\"\ngit = \"https://a.example/x/rules\"\n[[source]]\nvendor = \"elastic\"\ngit = \"https://b.example/x/rules\"\n",
    );
    assert!(e.contains("add `name = "), "{e}");
}

#[test]
fn missing_commit_not_a_repo_and_corrupt_cache() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("repo");
    let c1 = make_upstream(&repo);
    let plain = tmp.path().join("plain");
    write(&plain, "rules/a.yml", &rule("a"));

    let cfg = config(tmp.path(), "[[source]]\nvendor = \"sigma\"\npath = \"repo\"\ncommit = \"0123456789abcdef0123456789abcdef01234567\"\n")
        .expect("config");
    let e = materialize(&cfg, &|_| {})
        .expect_err("missing commit")
        .to_string();
    assert!(
        e.contains("commit \"0123456789abcdef0123456789abcdef01234567\" is not in the repository"),
        "{e}"
    );
    assert!(
        !tmp.path().join(".ruleatlas-cache/trees").exists()
            || std::fs::read_dir(tmp.path().join(".ruleatlas-cache/trees"))
                .expect("ls")
                .next()
                .is_none()
    );

    let cfg = config(
        tmp.path(),
        "[[source]]\nvendor = \"sigma\"\npath = \"plain\"\ncommit = \"main\"\n",
    )
    .expect("config");
    let e = materialize(&cfg, &|_| {})
        .expect_err("not a repo")
        .to_string();
    assert!(
        e.contains("is not a git repository, but `commit` needs one"),
        "{e}"
    );

    // An export folder without its completion marker is refused, not used.
    let cfg = config(
        tmp.path(),
        &format!("[[source]]\nvendor = \"sigma\"\npath = \"repo\"\ncommit = \"{c1}\"\n"),
    )
    .expect("config");
    let s = materialize(&cfg, &|_| {}).expect("export");
    std::fs::remove_file(s[0].root.join(".ruleatlas-export")).expect("rm marker");
    let e = materialize(&cfg, &|_| {}).expect_err("corrupt");
    assert!(matches!(e, SourcesError::Cache { .. }), "{e:?}");
    assert!(
        e.to_string().contains("no completion marker") && e.to_string().contains("delete"),
        "{e}"
    );
    std::fs::remove_dir_all(&s[0].root).expect("rm export");
    assert!(
        materialize(&cfg, &|_| {}).is_ok(),
        "re-exported after the user deleted it"
    );

    // A broken cached clone.
    let cfg = config(
        tmp.path(),
        "cache = \"c2\"\n[[source]]\nvendor = \"sigma\"\ngit = \"repo\"\n",
    )
    .expect("config");
    let broken: PathBuf = cfg.cache.join("repos/repo");
    write(&broken, "HEAD", "garbage");
    let e = materialize(&cfg, &|_| {}).expect_err("broken clone");
    assert!(
        matches!(e, SourcesError::Cache { .. }) && e.to_string().contains("cannot be opened"),
        "{e}"
    );
    let r = sync(&cfg, &|_| {}).expect("sync");
    assert!(
        matches!(&r.repos[0].outcome, SyncOutcome::Failed { message, .. } if message.contains("is broken")),
        "{r:?}"
    );
}

#[test]
fn unreachable_remote_says_offline() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Port 9 on localhost: refused at once, no network needed.
    let cfg = config(
        tmp.path(),
        "[[source]]\nvendor = \"sigma\"\ngit = \"https://127.0.0.1:9/SigmaHQ/sigma\"\n",
    )
    .expect("config");
    let t = Instant::now();
    let r = sync(&cfg, &|_| {}).expect("sync");
    match &r.repos[0].outcome {
        SyncOutcome::Failed {
            message,
            cached_at: None,
        } => {
            eprintln!("offline: {message}");
            assert!(
                message.starts_with("cannot reach https://127.0.0.1:9/SigmaHQ/sigma"),
                "{message}"
            );
            assert!(
                message.contains("offline?") && message.contains("there is no cached copy yet"),
                "{message}"
            );
        }
        o => panic!("expected a failure, got {o:?}"),
    }
    assert!(t.elapsed().as_secs() < 20);
    assert!(
        !cfg.cache.join("repos/SigmaHQ-sigma").exists(),
        "no half clone left"
    );
    let e = materialize(&cfg, &|_| {}).expect_err("no cache");
    assert!(e.to_string().contains("not synced yet"), "{e}");
}

#[test]
fn default_config_parses() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = Config::parse(ruleatlas_sources::default_config_text(), tmp.path())
        .expect("default config");
    assert_eq!(cfg.sources.len(), 6);
    let names: Vec<String> = cfg.sources.iter().filter_map(|s| s.cache_name()).collect();
    assert_eq!(
        names,
        [
            "SigmaHQ-sigma",
            "elastic-detection-rules",
            "splunk-security_content",
            "Azure-Azure-Sentinel",
            "chronicle-detection-rules",
            "panther-labs-panther-analysis"
        ]
    );
    assert_eq!(cfg.catalog, tmp.path().join("ruleatlas.db"));
    assert_eq!(cfg.server.addr, "127.0.0.1:8080");
    assert_eq!(Config::find(tmp.path()), None);
    std::fs::write(tmp.path().join("ruleatlas.toml"), "").expect("write");
    assert_eq!(
        Config::find(tmp.path()),
        Some(tmp.path().join("ruleatlas.toml"))
    );
}

#[test]
fn pinned_commit_and_branch_are_synced() {
    let tmp = tempfile::tempdir().expect("tmp");
    let up = tmp.path().join("up");
    let c1 = make_upstream(&up);
    write(&up, "rules/windows/c.yml", &rule("c"));
    git(&up, &["add", "-A"]);
    git(&up, &["commit", "-q", "-m", "second"]);
    git(&up, &["checkout", "-q", "-b", "dev"]);
    write(&up, "rules/windows/d.yml", &rule("d"));
    git(&up, &["add", "-A"]);
    git(&up, &["commit", "-q", "-m", "dev work"]);
    let dev = git(&up, &["rev-parse", "HEAD"]);
    git(&up, &["checkout", "-q", "main"]);
    let main = git(&up, &["rev-parse", "HEAD"]);

    // An older commit pinned: sync fetches the full history, so it is there.
    let cfg = config(
        tmp.path(),
        &format!("[[source]]\nvendor = \"sigma\"\ngit = \"up\"\ncommit = \"{c1}\"\n[[source]]\nvendor = \"sigma\"\ngit = \"up\"\nbranch = \"dev\"\n[[source]]\nvendor = \"sigma\"\ngit = \"up\"\n"),
    )
    .expect("config");
    let r = sync(&cfg, &|_| {}).expect("sync");
    assert_eq!(r.repos.len(), 1, "one clone for three sources");
    assert_eq!(ok_head(&r), main);
    let s = materialize(&cfg, &|_| {}).expect("materialize");
    let commits: Vec<&str> = s
        .iter()
        .map(|s| s.commit.as_deref().expect("commit"))
        .collect();
    assert_eq!(commits, [c1.as_str(), dev.as_str(), main.as_str()]);
    assert!(s[1].root.join("rules/windows/d.yml").is_file());
    assert!(!s[2].root.join("rules/windows/d.yml").exists());

    // Without a pin, only the tips are fetched (shallow): the old commit is not there.
    let cfg = config(
        tmp.path(),
        "cache = \"c2\"\n[[source]]\nvendor = \"sigma\"\ngit = \"up\"\n",
    )
    .expect("config");
    assert_eq!(ok_head(&sync(&cfg, &|_| {}).expect("sync")), main);
    let pinned = config(
        tmp.path(),
        &format!(
            "cache = \"c2\"\n[[source]]\nvendor = \"sigma\"\ngit = \"up\"\ncommit = \"{c1}\"\n"
        ),
    )
    .expect("config");
    let e = materialize(&pinned, &|_| {}).expect_err("not fetched");
    assert!(
        e.to_string().contains("is not in the repository")
            && e.to_string().contains("run `ruleatlas sync`"),
        "{e}"
    );
    // ...until a sync with the pin deepens it.
    ok_head(&sync(&pinned, &|_| {}).expect("sync"));
    assert_eq!(
        materialize(&pinned, &|_| {}).expect("materialize")[0]
            .commit
            .as_deref(),
        Some(c1.as_str())
    );
}
