//! Test support shared by the language crates' tests (never used by the program itself).
//!
//! - [`shared_dir`]: where the shared corpus is (`RULEATLAS_SHARED`, default `../shared` next
//!   to the workspace). Missing data skips a corpus test, except under `CI=true` where it fails.
//! - [`run_adapter`]: a small, sequential stand-in for the loader: walks a folder, feeds a
//!   [`VendorAdapter`] its support files, loads every rule file and links them.
//! - [`Coverage`]: the CONTRACT's parse-coverage figure over counted rules.
//! - [`pred`]: a compact expectation form for fixture tests.

pub mod elastic_corpus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{
    FileRole, ParseStatus, Predicate, RuleDoc, RuleKind, Support, VendorAdapter,
};

/// The shared data folder, or `None` (with a message) when it is absent outside CI.
///
/// # Panics
/// Under `CI=true` when the folder is missing: CI must have the data.
#[must_use]
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RULEATLAS_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    if dir.join("corpus").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the shared corpus is missing at {} (set RULEATLAS_SHARED)",
        dir.display()
    );
    eprintln!(
        "skipped: shared corpus not found at {} (set RULEATLAS_SHARED)",
        dir.display()
    );
    None
}

/// The corpus folder of one vendor (`<shared>/corpus/<key>`), if present.
#[must_use]
pub fn corpus_dir(vendor_key: &str) -> Option<PathBuf> {
    shared_dir().map(|d| d.join("corpus").join(vendor_key))
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, root, out);
        } else if ft.is_file() {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, p));
        }
    }
}

/// Everything an adapter produced over one folder.
#[derive(Debug, Default)]
pub struct RunResult {
    pub docs: Vec<RuleDoc>,
    pub diagnostics: Vec<Diagnostic>,
}

impl RunResult {
    /// Documents by native id (first wins).
    #[must_use]
    pub fn by_id(&self, id: &str) -> Option<&RuleDoc> {
        self.docs
            .iter()
            .find(|d| d.native_id.as_deref() == Some(id))
    }

    /// Documents whose path ends with `suffix`.
    #[must_use]
    pub fn by_path(&self, suffix: &str) -> Option<&RuleDoc> {
        self.docs.iter().find(|d| d.path.ends_with(suffix))
    }

    #[must_use]
    pub fn coverage(&self) -> Coverage {
        Coverage::of(&self.docs)
    }
}

/// Runs `adapter` over `root` the way the loader does, sequentially and without size limits.
pub fn run_adapter(adapter: &mut dyn VendorAdapter, root: &Path) -> RunResult {
    let mut files = Vec::new();
    walk(root, root, &mut files);
    let mut support = Support::default();
    let mut rules = Vec::new();
    for (rel, path) in files {
        match adapter.role(&rel) {
            FileRole::Support => {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    support.files.insert(rel, text);
                }
            }
            FileRole::Rule => rules.push((rel, path)),
            FileRole::Ignore => {}
        }
    }
    let mut result = RunResult {
        diagnostics: adapter.prepare(&support),
        ..RunResult::default()
    };
    for (rel, path) in rules {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let (docs, diags) = adapter.load(&rel, &text);
        result.docs.extend(docs);
        result.diagnostics.extend(diags);
    }
    let link_diags = adapter.link(&mut result.docs).diagnostics;
    result.diagnostics.extend(link_diags);
    result
}

/// Parse coverage over counted rules (kind `rule`, not deprecated) that have a query.
#[derive(Debug, Default, Clone)]
pub struct Coverage {
    pub counted: usize,
    pub full: usize,
    pub partial: usize,
    pub failed: usize,
    pub no_query: usize,
    /// Unparsed reasons over counted rules, by number of fragments.
    pub reasons: BTreeMap<String, usize>,
}

impl Coverage {
    #[must_use]
    pub fn of(docs: &[RuleDoc]) -> Self {
        let mut c = Coverage::default();
        for d in docs
            .iter()
            .filter(|d| d.kind == RuleKind::Rule && !d.deprecated)
        {
            c.counted += 1;
            match d.status {
                ParseStatus::Full => c.full += 1,
                ParseStatus::Partial => c.partial += 1,
                ParseStatus::Failed => c.failed += 1,
                ParseStatus::NoQuery => c.no_query += 1,
            }
            for u in &d.lowered.unparsed {
                *c.reasons.entry(u.reason.clone()).or_default() += 1;
            }
        }
        c
    }

    /// `full / (counted - no_query)`, in percent.
    #[must_use]
    pub fn percent(&self) -> f64 {
        let with_query = self.counted.saturating_sub(self.no_query);
        if with_query == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let p = self.full as f64 * 100.0 / with_query as f64;
        p
    }

    /// A printable summary with the top unparsed reasons.
    #[must_use]
    pub fn report(&self) -> String {
        let mut reasons: Vec<_> = self.reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut s = format!(
            "counted {} full {} partial {} failed {} no_query {} coverage {:.2}%\n",
            self.counted,
            self.full,
            self.partial,
            self.failed,
            self.no_query,
            self.percent()
        );
        for (r, n) in reasons.into_iter().take(25) {
            s.push_str(&format!("  {n:6}  {r}\n"));
        }
        s
    }
}

/// A predicate in a compact, comparable form for fixture expectations:
/// `raw_field op [values] flags`, e.g. `Image ends_with ["\\cmd.exe"]` or
/// `EventID eq [4624] negated exclusion`. Flags: `negated`, `exclusion`, `cs` (case
/// sensitive), `computed`, a kind other than filter, and context as `key=value`.
#[must_use]
pub fn pred(p: &Predicate) -> String {
    let values = serde_json::to_string(&p.values).unwrap_or_default();
    let mut s = format!("{} {} {}", p.raw_field, p.op, values);
    if p.negated {
        s.push_str(" negated");
    }
    if p.exclusion {
        s.push_str(" exclusion");
    }
    if p.case_sensitive {
        s.push_str(" cs");
    }
    if p.computed {
        s.push_str(" computed");
    }
    if p.kind != ruleatlas_model::PredicateKind::Filter {
        s.push(' ');
        s.push_str(p.kind.as_str());
    }
    for (k, v) in &p.context {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

/// All predicates of a document in [`pred`] form.
#[must_use]
pub fn preds(doc: &RuleDoc) -> Vec<String> {
    doc.lowered.predicates.iter().map(pred).collect()
}
