//! A rule as a vendor adapter reads it from one file.

use std::collections::BTreeMap;

use ruleatlas_diagnostics::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::predicate::{Lowered, ParseStatus};

/// The six vendors; keys are fixed by the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    Sigma,
    Elastic,
    Splunk,
    Kusto,
    Yaral,
    Panther,
}

impl Vendor {
    pub const ALL: [Vendor; 6] = [
        Vendor::Sigma,
        Vendor::Elastic,
        Vendor::Splunk,
        Vendor::Kusto,
        Vendor::Yaral,
        Vendor::Panther,
    ];

    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Vendor::Sigma => "sigma",
            Vendor::Elastic => "elastic",
            Vendor::Splunk => "splunk",
            Vendor::Kusto => "kusto",
            Vendor::Yaral => "yaral",
            Vendor::Panther => "panther",
        }
    }

    #[must_use]
    pub fn display(self) -> &'static str {
        match self {
            Vendor::Sigma => "Sigma",
            Vendor::Elastic => "Elastic",
            Vendor::Splunk => "Splunk",
            Vendor::Kusto => "Kusto",
            Vendor::Yaral => "YARA-L",
            Vendor::Panther => "Panther",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Vendor> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.key().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for Vendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// What a document is (CONTRACT "What counts as a rule").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    #[default]
    Rule,
    Hunt,
    Query,
}

impl RuleKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Rule => "rule",
            RuleKind::Hunt => "hunt",
            RuleKind::Query => "query",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Rule, Self::Hunt, Self::Query]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A technique a rule's metadata cites, as written (normalized to `T1234` / `T1234.001`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechniqueRef {
    pub id: String,
    /// A name the rule states for it, if any (used for ids unknown to the loaded ATT&CK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl TechniqueRef {
    #[must_use]
    pub fn id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
        }
    }
}

/// One test case shipped with a rule (Panther `Tests:`): an event and the expected outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTest {
    pub name: String,
    pub expected: bool,
    pub event: serde_json::Value,
}

/// A rule (or hunt, or query) read from one file by a vendor adapter.
///
/// Adapters fill the raw metadata; the loader assigns the final id, normalizes fields,
/// platforms and domains, and resolves ATT&CK.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleDoc {
    pub vendor: Vendor,
    /// The vendor's own id (Sigma `id`, Elastic `rule_id`...), without the vendor prefix.
    pub native_id: Option<String>,
    pub kind: RuleKind,
    pub title: String,
    pub description: Option<String>,
    /// Path relative to the repository root, `/`-separated.
    pub path: String,
    pub severity: Option<String>,
    /// The vendor's own status (`test`, `production`, `stable`...).
    pub rule_status: Option<String>,
    /// Query language (`sigma`, `kuery`, `eql`, `esql`, `lucene`, `spl`, `kql` for Kusto,
    /// `yaral`, `python`, `panther-yaml`, `sql`...).
    pub language: String,
    /// The query text as the rule states it (for display).
    pub query: String,
    pub techniques: Vec<TechniqueRef>,
    pub tactics: Vec<String>,
    /// Platform values as the vendor writes them (Sigma `product`, Elastic `OS: Windows`...).
    pub raw_platforms: Vec<String>,
    /// Domain values as the vendor writes them (Splunk `security_domain`, Elastic `Domain:`...).
    pub raw_domains: Vec<String>,
    /// Platforms in the shared vocabulary (`windows`, `aws`, `okta`...), set by the loader
    /// through the taxonomy from `raw_platforms` and `logsource`.
    pub platforms: Vec<String>,
    /// Domains in the shared vocabulary (`endpoint`, `identity`, `cloud`...), set likewise.
    pub domains: Vec<String>,
    /// Log-source hints for field normalization: `product`, `service`, `category`, `index`,
    /// `table`, `log_type`, `sourcetype`, `datamodel`...
    pub logsource: BTreeMap<String, Vec<String>>,
    pub deprecated: bool,
    pub enabled: bool,
    pub building_block: bool,
    pub false_positives: Vec<String>,
    pub references: Vec<String>,
    pub authors: Vec<String>,
    /// Native ids of rules this one refers to (correlations, scheduled queries).
    pub links: Vec<String>,
    pub lowered: Lowered,
    pub status: ParseStatus,
    pub tests: Vec<RuleTest>,
    /// Vendor-specific metadata worth keeping (type, index, required fields...).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl RuleDoc {
    /// An empty document; adapters fill it in.
    #[must_use]
    pub fn new(vendor: Vendor, path: impl Into<String>) -> Self {
        Self {
            vendor,
            native_id: None,
            kind: RuleKind::Rule,
            title: String::new(),
            description: None,
            path: path.into(),
            severity: None,
            rule_status: None,
            language: String::new(),
            query: String::new(),
            techniques: Vec::new(),
            tactics: Vec::new(),
            raw_platforms: Vec::new(),
            raw_domains: Vec::new(),
            platforms: Vec::new(),
            domains: Vec::new(),
            logsource: BTreeMap::new(),
            deprecated: false,
            enabled: true,
            building_block: false,
            false_positives: Vec::new(),
            references: Vec::new(),
            authors: Vec::new(),
            links: Vec::new(),
            lowered: Lowered::default(),
            status: ParseStatus::Partial,
            tests: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// A rule file that could not be read: status `failed` with the diagnostic.
    #[must_use]
    pub fn failed(vendor: Vendor, path: impl Into<String>, diagnostic: Diagnostic) -> Self {
        let path = path.into();
        let mut doc = Self::new(vendor, path.clone());
        doc.title = path.rsplit('/').next().unwrap_or(&path).to_string();
        doc.status = ParseStatus::Failed;
        doc.lowered.diagnostics.push(diagnostic.with_path(path));
        doc
    }

    /// Sets `status` from the lowering (use after `lowered.finish()`), unless already
    /// `failed` or `no_query`.
    pub fn settle_status(&mut self) {
        if !matches!(self.status, ParseStatus::Failed | ParseStatus::NoQuery) {
            self.status = self.lowered.status();
        }
    }

    pub fn add_logsource(&mut self, key: &str, value: impl Into<String>) {
        let v = value.into();
        let entry = self.logsource.entry(key.to_string()).or_default();
        if !entry.contains(&v) {
            entry.push(v);
        }
    }
}
