//! The shapes of `data/fields.toml` and `data/platforms.toml` as written (before validation).

use std::collections::BTreeMap;

use serde::Deserialize;

/// One string or a list of strings (`product = "aws"` or `product = ["aws", "amazon"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `fields.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldsFile {
    /// Splunk CIM data-model dataset prefixes (`Processes`, `Filesystem`...): an unmapped
    /// `Processes.x` is looked up as `x` with the hint `datamodel = "Processes"`.
    #[serde(default)]
    pub splunk_datamodel_prefixes: Vec<String>,
    /// ECS fields that are canonical as themselves, with no cross-vendor mapping yet.
    #[serde(default)]
    pub ecs_fields: Vec<String>,
    /// Windows event-data names (`ObjectType`, `AccessMask`...): each becomes the field
    /// `winlog.event_data.<Name>`, holding for Sigma, Splunk and Kusto on `source`, below
    /// every explicit mapping.
    #[serde(default)]
    pub windows_event_data: Option<EventDataEntry>,
    #[serde(default)]
    pub field: Vec<FieldEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventDataEntry {
    pub source: String,
    pub names: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FieldEntry {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The ECS slot a namespaced field occupies (`event.action` for `aws::eventName`).
    #[serde(default)]
    pub ecs: Option<String>,
    /// Other canonical spellings that mean this field everywhere (redirects).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The field holding the file name of this path (`process.name` for
    /// `process.executable`): `ends_with "\x.exe"` predicates move there.
    #[serde(default)]
    pub basename: Option<String>,
    /// A value normalizer for indicator keys: `"registry_path"`.
    #[serde(default)]
    pub values: Option<String>,
    /// Mappings that hold only on some log sources.
    #[serde(default)]
    pub on: Vec<OnEntry>,
    /// Unconditional raw names per vendor key (`sigma = ["Image"]`).
    #[serde(flatten)]
    pub vendors: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OnEntry {
    /// Source names from `platforms.toml` (any of them).
    pub source: OneOrMany,
    #[serde(flatten)]
    pub vendors: BTreeMap<String, Vec<String>>,
}

/// `platforms.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformsFile {
    pub platforms: BTreeMap<String, String>,
    pub domains: BTreeMap<String, String>,
    #[serde(default)]
    pub hint: Vec<HintEntry>,
    #[serde(default)]
    pub source: Vec<SourceEntry>,
}

/// A predicate that states the log source inside the query (`sourcetype=aws:cloudtrail`,
/// `metadata.product_name = "Okta"`): its values become a log-source hint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HintEntry {
    pub vendor: String,
    pub field: OneOrMany,
    pub key: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SourceEntry {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub platforms: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    /// Per vendor key: any of these clauses; a clause is `{ key = glob(s), ... }`, all keys.
    #[serde(flatten)]
    pub vendors: BTreeMap<String, Vec<BTreeMap<String, OneOrMany>>>,
}
