//! Sigma: the YAML reader and the condition grammar, through the adapter's `load`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use ruleatlas_model::VendorAdapter;

fuzz_target!(|data: &[u8]| {
    common::on_worker_stack(|| {
        let text = String::from_utf8_lossy(data);
        let adapter = ruleatlas_sigma::SigmaAdapter::new();
        let (mut docs, _) = adapter.load("rules/windows/fuzz.yml", &text);
        let _ = adapter.link(&mut docs);
    });
});
