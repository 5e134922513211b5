//! The catalog survives: a build killed at any moment leaves the previous catalog intact and
//! readable, and two builds at once each leave a whole catalog (one of them).
//!
//! Real `ruleatlas build` processes are killed with SIGKILL (`Child::kill`): at fixed delays
//! during loading (on a generated repository, and on the shared corpus when present), and
//! during the catalog write itself (the moment its temporary file `.NAME.tmp-*` appears, plus
//! 0 to 300 milliseconds; rows are written while files are still being read, so these moments
//! cover both).

#![cfg(unix)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ruleatlas")
}

/// A Sigma repository of `n` rules with ids `{prefix}-{i}`.
fn sigma_repo(root: &Path, prefix: &str, n: usize) {
    let dir = root.join("rules/windows");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for i in 0..n {
        let mut s = format!(
            "title: Generated rule {prefix} {i}\nid: {prefix}-{i}\nstatus: test\ntags:\n    - attack.t1059.001\n\
             logsource:\n    category: process_creation\n    product: windows\ndetection:\n"
        );
        for k in 0..6 {
            let _ = write!(
                s,
                "    sel_{k}:\n        Image|endswith:\n            - '\\tool{i}_{k}.exe'\n            - '\\other{k}.exe'\n        \
                 CommandLine|contains|all:\n            - ' -a{k} '\n            - ' -b{i} '\n"
            );
        }
        s.push_str("    filter:\n        User: SYSTEM\n    condition: 1 of sel_* and not filter\nlevel: medium\n");
        std::fs::write(dir.join(format!("{prefix}_{i:05}.yml")), s).expect("write rule");
    }
}

fn spawn_build(sources: &[String], corpus: Option<&Path>, out: &Path) -> Child {
    let mut c = Command::new(bin());
    c.arg("build").arg("--quiet");
    if let Some(dir) = corpus {
        c.arg("--corpus").arg(dir);
    }
    for s in sources {
        c.arg("--source").arg(s);
    }
    c.arg("-o")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c.spawn().expect("spawn ruleatlas build")
}

fn build(sources: &[String], out: &Path) {
    let o = spawn_build(sources, None, out)
        .wait_with_output()
        .expect("build");
    assert!(
        o.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn stats(db: &Path) -> Value {
    let o = Command::new(bin())
        .args(["stats", "--json", "--catalog"])
        .arg(db)
        .output()
        .expect("stats");
    assert!(
        o.status.success(),
        "stats on {}: {}",
        db.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("stats --json is JSON")
}

fn rule_count(db: &Path) -> u64 {
    stats(db)["rules"].as_u64().expect("rules")
}

/// The rule ids of a catalog, read through the library (the whole file must be readable).
fn rule_ids(db: &Path) -> BTreeSet<String> {
    let index = ruleatlas_catalog::Index::open(db).expect("catalog opens");
    index.rules.iter().map(|r| r.id.clone()).collect()
}

/// Temporary catalog files left beside `db`.
fn leftovers(db: &Path) -> Vec<PathBuf> {
    let name = db.file_name().expect("name").to_string_lossy().into_owned();
    let prefix = format!(".{name}.tmp-");
    std::fs::read_dir(db.parent().expect("dir"))
        .expect("read dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Kills `child` with SIGKILL; returns whether it had already finished successfully.
fn kill(mut child: Child) -> bool {
    if let Ok(Some(st)) = child.try_wait() {
        return st.success();
    }
    let _ = child.kill();
    let st = child.wait().expect("wait");
    st.success()
}

/// After a kill, the catalog is the old one (or, if the build finished first, the new one),
/// whole and readable.
fn assert_whole(db: &Path, old: &BTreeSet<String>, new_count: Option<usize>, what: &str) {
    let ids = rule_ids(db);
    let n = usize::try_from(rule_count(db)).expect("count");
    assert_eq!(n, ids.len(), "{what}: stats and index disagree");
    let is_old = &ids == old;
    let is_new = new_count.is_some_and(|c| c == ids.len() && !ids.iter().any(|i| old.contains(i)));
    assert!(
        is_old || is_new,
        "{what}: catalog is neither the old nor a whole new one ({} rules)",
        ids.len()
    );
}

#[test]
fn a_killed_build_leaves_the_previous_catalog() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let old_repo = tmp.path().join("old");
    let big_repo = tmp.path().join("big");
    sigma_repo(&old_repo, "old", 12);
    let big_n = 800;
    sigma_repo(&big_repo, "big", big_n);
    let db = tmp.path().join("catalog.db");
    build(&[format!("sigma={}", old_repo.display())], &db);
    let old = rule_ids(&db);
    assert_eq!(old.len(), 12);

    let big = [format!("sigma={}", big_repo.display())];
    let mut report = String::new();
    // During loading: fixed delays.
    for ms in [0_u64, 30, 120, 400, 900] {
        let child = spawn_build(&big, None, &db);
        std::thread::sleep(Duration::from_millis(ms));
        let finished = kill(child);
        assert_whole(&db, &old, Some(big_n), &format!("kill after {ms} ms"));
        let _ = writeln!(
            report,
            "kill after {ms} ms: finished={finished} leftovers={}",
            leftovers(&db).len()
        );
        if rule_ids(&db) != old {
            // The build won the race (it may even have renamed its catalog and then been
            // killed before exiting): put the old catalog back for the next round.
            build(&[format!("sigma={}", old_repo.display())], &db);
        }
    }
    // During the write: once the temporary catalog appears, after 0..300 ms more.
    for extra in [0_u64, 5, 30, 120, 300] {
        let before: BTreeSet<PathBuf> = leftovers(&db).into_iter().collect();
        let child = spawn_build(&big, None, &db);
        let start = Instant::now();
        let mut saw_tmp = false;
        while start.elapsed() < Duration::from_secs(50) {
            if leftovers(&db).iter().any(|p| !before.contains(p)) {
                saw_tmp = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        std::thread::sleep(Duration::from_millis(extra));
        let finished = kill(child);
        assert!(
            saw_tmp || finished,
            "the build never wrote a temporary catalog"
        );
        assert_whole(
            &db,
            &old,
            Some(big_n),
            &format!("kill {extra} ms into the write"),
        );
        let _ = writeln!(
            report,
            "kill {extra} ms into the write: finished={finished} leftovers={}",
            leftovers(&db).len()
        );
        if rule_ids(&db) != old {
            // The build won the race (it may even have renamed its catalog and then been
            // killed before exiting): put the old catalog back for the next round.
            build(&[format!("sigma={}", old_repo.display())], &db);
        }
    }
    // Leftover temporary files are never mistaken for the catalog: a complete build replaces
    // the catalog whatever lies beside it.
    let left = leftovers(&db);
    assert_eq!(rule_ids(&db), old, "old catalog intact");
    build(&big, &db);
    assert_eq!(
        rule_ids(&db).len(),
        big_n,
        "a complete build replaces the catalog"
    );
    let _ = writeln!(
        report,
        "after a complete build: leftovers={}",
        leftovers(&db).len()
    );
    // The next build removes temporary files of killed builds (their process is gone).
    assert_eq!(
        leftovers(&db),
        Vec::<PathBuf>::new(),
        "stale temporary catalogs are removed"
    );
    eprintln!(
        "{report}temporary files left by killed builds: {}",
        left.len()
    );
}

#[test]
fn a_killed_build_of_the_shared_corpus_leaves_the_previous_catalog() {
    let Some(shared) = ruleatlas_testkit::shared_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let old_repo = tmp.path().join("old");
    sigma_repo(&old_repo, "old", 5);
    let db = tmp.path().join("catalog.db");
    build(&[format!("sigma={}", old_repo.display())], &db);
    let old = rule_ids(&db);
    for ms in [300_u64, 1500, 4000] {
        let child = spawn_build(&[], Some(&shared.join("corpus")), &db);
        std::thread::sleep(Duration::from_millis(ms));
        let finished = kill(child);
        if finished {
            // A very fast machine: the new catalog is whole; nothing more to check here.
            assert!(rule_count(&db) > 1000);
            return;
        }
        assert_eq!(rule_ids(&db), old, "kill after {ms} ms");
    }
}

#[test]
fn two_builds_at_once_leave_one_whole_catalog() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    sigma_repo(&a, "alpha", 40);
    sigma_repo(&b, "beta", 70);
    let db = tmp.path().join("catalog.db");
    for round in 0..3 {
        let ca = spawn_build(&[format!("sigma={}", a.display())], None, &db);
        let cb = spawn_build(&[format!("sigma={}", b.display())], None, &db);
        let oa = ca.wait_with_output().expect("a");
        let ob = cb.wait_with_output().expect("b");
        assert!(
            oa.status.success(),
            "round {round}: a failed: {}",
            String::from_utf8_lossy(&oa.stderr)
        );
        assert!(
            ob.status.success(),
            "round {round}: b failed: {}",
            String::from_utf8_lossy(&ob.stderr)
        );
        let ids = rule_ids(&db);
        let all_a = ids.len() == 40 && ids.iter().all(|i| i.starts_with("sigma:alpha-"));
        let all_b = ids.len() == 70 && ids.iter().all(|i| i.starts_with("sigma:beta-"));
        assert!(
            all_a || all_b,
            "round {round}: a mixed or partial catalog: {} rules",
            ids.len()
        );
        assert_eq!(usize::try_from(rule_count(&db)).expect("n"), ids.len());
        assert!(
            leftovers(&db).is_empty(),
            "round {round}: temporary files left: {:?}",
            leftovers(&db)
        );
    }
}
