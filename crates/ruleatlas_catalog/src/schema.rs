//! The SQLite schema (documented in `docs/catalog.md`; keep both in step).

/// Bumped on any incompatible change; readers refuse other versions.
pub const SCHEMA_VERSION: i64 = 1;

pub const DDL: &str = r"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE vendors (
    vendor      TEXT PRIMARY KEY,
    files       INTEGER NOT NULL,
    diagnostics INTEGER NOT NULL
);
CREATE TABLE rules (
    id             TEXT PRIMARY KEY,
    vendor         TEXT NOT NULL,
    native_id      TEXT,
    kind           TEXT NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT,
    path           TEXT NOT NULL,
    source         TEXT NOT NULL,
    git_commit     TEXT,
    severity       TEXT,
    rule_status    TEXT,
    language       TEXT NOT NULL,
    query          TEXT NOT NULL,
    status         TEXT NOT NULL,
    deprecated     INTEGER NOT NULL,
    enabled        INTEGER NOT NULL,
    building_block INTEGER NOT NULL,
    platforms      TEXT NOT NULL,
    domains        TEXT NOT NULL,
    raw_platforms  TEXT NOT NULL,
    raw_domains    TEXT NOT NULL,
    logsource      TEXT NOT NULL,
    tactics        TEXT NOT NULL,
    false_positives TEXT NOT NULL,
    refs           TEXT NOT NULL,
    authors        TEXT NOT NULL,
    links          TEXT NOT NULL,
    tests          TEXT NOT NULL,
    extra          TEXT NOT NULL,
    tree           TEXT NOT NULL
);
CREATE TABLE rule_techniques (
    rule_id      TEXT NOT NULL REFERENCES rules(id),
    technique_id TEXT NOT NULL,
    name         TEXT,
    known        INTEGER NOT NULL,
    revoked_by   TEXT,
    PRIMARY KEY (rule_id, technique_id)
);
CREATE TABLE predicates (
    rule_id        TEXT NOT NULL REFERENCES rules(id),
    idx            INTEGER NOT NULL,
    field          TEXT NOT NULL,
    raw_field      TEXT NOT NULL,
    op             TEXT NOT NULL,
    vals           TEXT NOT NULL,
    case_sensitive INTEGER NOT NULL,
    negated        INTEGER NOT NULL,
    exclusion      INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    computed       INTEGER NOT NULL,
    context        TEXT NOT NULL,
    origin_path    TEXT,
    origin_line    INTEGER,
    origin_column  INTEGER,
    PRIMARY KEY (rule_id, idx)
);
CREATE TABLE unparsed (
    rule_id       TEXT NOT NULL REFERENCES rules(id),
    idx           INTEGER NOT NULL,
    text          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    origin_path   TEXT,
    origin_line   INTEGER,
    origin_column INTEGER,
    PRIMARY KEY (rule_id, idx)
);
CREATE TABLE diagnostics (
    rule_id  TEXT,
    vendor   TEXT NOT NULL,
    severity TEXT NOT NULL,
    code     TEXT NOT NULL,
    message  TEXT NOT NULL,
    path     TEXT,
    line     INTEGER,
    col      INTEGER
);
CREATE TABLE techniques (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    tactics     TEXT NOT NULL,
    platforms   TEXT NOT NULL,
    domains     TEXT NOT NULL,
    parent      TEXT,
    revoked_by  TEXT,
    revoked     INTEGER NOT NULL,
    deprecated  INTEGER NOT NULL,
    known       INTEGER NOT NULL,
    detection_strategies TEXT NOT NULL,
    url         TEXT
);
CREATE TABLE tactics (
    ord       INTEGER NOT NULL,
    id        TEXT NOT NULL,
    shortname TEXT NOT NULL,
    name      TEXT NOT NULL,
    domain    TEXT NOT NULL,
    known     INTEGER NOT NULL
);
";

/// Secondary indexes, built once every row is in (cheaper than keeping them up to date
/// insert by insert).
pub const INDEXES: &str = r"
CREATE INDEX rules_vendor ON rules(vendor);
CREATE INDEX rule_techniques_technique ON rule_techniques(technique_id);
CREATE INDEX predicates_field ON predicates(field);
CREATE INDEX diagnostics_rule ON diagnostics(rule_id);
";
