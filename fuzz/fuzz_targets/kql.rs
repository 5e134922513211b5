//! KQL (Kibana query language): the input is one query (seeds: `fuzz/seeds.py` extracts the corpus's queries).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::on_worker_stack(|| {
        let text = String::from_utf8_lossy(data);
        let _ = ruleatlas_kql::lower_query(&text);
    });
});
