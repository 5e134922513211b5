//! Panther Python analysis: a fixed rule YAML naming `fuzz.py`, whose text is the input.
//! Goes through the adapter (`prepare` with the `.py` as a support file, then `load`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use ruleatlas_model::{Support, VendorAdapter};

const RULE: &str = "AnalysisType: rule
Filename: fuzz.py
RuleID: Fuzz.Rule
DisplayName: Fuzz rule
Enabled: true
LogTypes:
  - AWS.CloudTrail
Severity: Medium
Tags:
  - attack.t1078
";

fuzz_target!(|data: &[u8]| {
    common::on_worker_stack(|| {
        let py = String::from_utf8_lossy(data).into_owned();
        let mut support = Support::default();
        support
            .files
            .insert("rules/aws_rules/fuzz.py".to_string(), py);
        let mut adapter = ruleatlas_panther::PantherAdapter::new();
        let _ = adapter.prepare(&support);
        let (mut docs, _) = adapter.load("rules/aws_rules/fuzz.yml", RULE);
        let _ = adapter.link(&mut docs);
    });
});
