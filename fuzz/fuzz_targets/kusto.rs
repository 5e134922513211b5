//! Kusto (KQL of Sentinel / Defender): the input is one query.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::on_worker_stack(|| {
        let text = String::from_utf8_lossy(data);
        let parsed = ruleatlas_kusto::parse(&text);
        let _ = ruleatlas_kusto::lower(&parsed.ast, &ruleatlas_kusto::LowerContext::default());
    });
});
