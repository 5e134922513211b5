//! Regressions found by fuzzing (`fuzz/`, targets `kusto` and `check`; see docs/fuzzing.md).

use std::time::{Duration, Instant};

use ruleatlas_kusto::{LowerContext, lower, parse};

fn lower_text(q: &str) -> ruleatlas_model::Lowered {
    let parsed = parse(q);
    lower(&parsed.ast, &LowerContext::default())
}

/// `check` crash: a table name with a multi-byte character where a wildcard table pattern's
/// prefix ends (`OfficeActiv�ty`) sliced inside the character.
#[test]
fn table_name_with_a_multibyte_character_does_not_panic() {
    assert!(ruleatlas_kusto::tables::table_info("OfficeActiv\u{fffd}ty").is_none());
    assert!(ruleatlas_kusto::tables::table_info("Offic\u{e9}").is_none());
    let _ = lower_text("OfficeActiv\u{fffd}ty | where Operation == \"x\"");
    // Through the adapter, as the fuzzer found it.
    let rule = "id: x\nname: x\nkind: Scheduled\nquery: |\n  OfficeActiv\u{fffd}ty\n  | where Operation == \"x\"\n";
    let (docs, _) = ruleatlas_model::VendorAdapter::load(
        &ruleatlas_kusto::KustoAdapter::new(),
        "Detections/OfficeActivity/x.yaml",
        rule,
    );
    assert_eq!(docs.len(), 1);
}

/// `kusto` timeout: a left-nested chain of comparisons (`count_ > > > ... > threshold`)
/// evaluated each side twice per level, 2^n work for n levels.
#[test]
fn a_long_comparison_chain_is_linear() {
    let q = format!(
        "let threshold = 10;\nCiscoDuo\n| where DvcAction =~ \"admin_2fa_error\"\n| summarize count() by DstUserName, bin(TimeGenerated, 10m)\n| where count_{} > threshold\n",
        ">".repeat(400)
    );
    let start = Instant::now();
    let l = lower_text(&q);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert!(!l.predicates.is_empty() || !l.unparsed.is_empty());
}
