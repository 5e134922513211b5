//! Tables -> platform and domain, from `data/tables.tsv` (knowledge kept as data).

use std::sync::OnceLock;

const TABLES_TSV: &str = include_str!("../data/tables.tsv");

/// One row of the table map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Table name, or a prefix when the row ends with `*`.
    pub pattern: String,
    pub platform: String,
    pub domain: String,
}

fn rows() -> &'static [TableInfo] {
    static ROWS: OnceLock<Vec<TableInfo>> = OnceLock::new();
    ROWS.get_or_init(|| {
        TABLES_TSV
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut it = l.split('\t');
                Some(TableInfo {
                    pattern: it.next()?.trim().to_string(),
                    platform: it.next()?.trim().to_string(),
                    domain: it.next()?.trim().to_string(),
                })
            })
            .collect()
    })
}

/// The platform and domain of a table (exact name first, then the longest prefix), ignoring
/// ASCII case. A wildcard table name (`Security*`) is looked up by its fixed prefix.
#[must_use]
pub fn table_info(table: &str) -> Option<&'static TableInfo> {
    let name = table.split('*').next().unwrap_or(table);
    if let Some(r) = rows()
        .iter()
        .find(|r| !r.pattern.ends_with('*') && r.pattern.eq_ignore_ascii_case(name))
    {
        return Some(r);
    }
    rows()
        .iter()
        .filter_map(|r| {
            let p = r.pattern.strip_suffix('*')?;
            // `get`: the name may have a multi-byte character where the prefix ends.
            let matches = name
                .get(..p.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(p));
            matches.then_some((p.len(), r))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_three_columns() {
        let n = TABLES_TSV
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(rows().len(), n);
        assert!(
            rows()
                .iter()
                .all(|r| !r.platform.is_empty() && !r.domain.is_empty())
        );
    }

    #[test]
    fn exact_then_prefix() {
        assert_eq!(
            table_info("SigninLogs").map(|r| r.domain.as_str()),
            Some("identity")
        );
        assert_eq!(
            table_info("DeviceNetworkEvents").map(|r| r.domain.as_str()),
            Some("network")
        );
        assert_eq!(
            table_info("DeviceTvmSoftwareInventory").map(|r| r.platform.as_str()),
            Some("defender-xdr")
        );
        assert_eq!(
            table_info("awscloudtrail").map(|r| r.platform.as_str()),
            Some("aws")
        );
        assert!(table_info("NoSuchTable").is_none());
    }
}
