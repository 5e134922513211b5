//! The whole `check` path on one file: every vendor adapter sniffs and loads the input as
//! one of its rule files (the loader's I/O aside), then links the documents.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use ruleatlas_model::{Support, VendorAdapter};

fn adapters() -> Vec<(Box<dyn VendorAdapter>, &'static str)> {
    vec![
        (
            Box::new(ruleatlas_sigma::SigmaAdapter::new()),
            "rules/windows/fuzz.yml",
        ),
        (
            Box::new(ruleatlas_elastic::ElasticAdapter::new()),
            "rules/windows/fuzz.toml",
        ),
        (
            Box::new(ruleatlas_spl::SplunkAdapter::new()),
            "detections/endpoint/fuzz.yml",
        ),
        (
            Box::new(ruleatlas_kusto::KustoAdapter::new()),
            "Detections/SecurityEvent/fuzz.yaml",
        ),
        (
            Box::new(ruleatlas_yaral::YaralAdapter::new()),
            "rules/fuzz.yaral",
        ),
        (
            Box::new(ruleatlas_panther::PantherAdapter::new()),
            "rules/aws_rules/fuzz.yml",
        ),
    ]
}

fuzz_target!(|data: &[u8]| {
    common::on_worker_stack(|| {
        let text = String::from_utf8_lossy(data);
        for (mut adapter, path) in adapters() {
            let _ = adapter.prepare(&Support::default());
            let _ = adapter.sniff(path, &text);
            let (mut docs, _) = adapter.load(path, &text);
            let _ = adapter.link(&mut docs);
        }
    });
});
