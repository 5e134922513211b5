//! YARA-L 2.0: the input is one rule file, read through the adapter's `load`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use ruleatlas_model::VendorAdapter;

fuzz_target!(|data: &[u8]| {
    common::on_worker_stack(|| {
        let text = String::from_utf8_lossy(data);
        let adapter = ruleatlas_yaral::YaralAdapter::new();
        let (mut docs, _) = adapter.load("rules/fuzz.yaral", &text);
        let _ = adapter.link(&mut docs);
    });
});
