//! `ruleatlas test`: evaluate lowered conditions on the rules' own test events.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use super::{CliResult, open_catalog, parse_vendor, print_json};

#[derive(Debug, Default, Serialize)]
struct VendorTally {
    rules: usize,
    cases: usize,
    agree: usize,
    disagree: usize,
    unknown: usize,
}

#[derive(Debug, Serialize)]
struct Disagreement {
    rule: String,
    case: String,
    expected: bool,
}

#[derive(Debug, Serialize)]
struct TestReport {
    vendors: BTreeMap<String, VendorTally>,
    disagreements: Vec<Disagreement>,
}

pub fn run(catalog: &Path, vendor: Option<&str>, json: bool) -> CliResult {
    let index = open_catalog(catalog)?;
    let vendor = parse_vendor(vendor)?;
    let mut report = TestReport {
        vendors: BTreeMap::new(),
        disagreements: Vec::new(),
    };
    for r in index.rules.iter().filter(|r| !r.doc.tests.is_empty()) {
        if vendor.is_some_and(|v| v != r.doc.vendor) {
            continue;
        }
        let tally = report
            .vendors
            .entry(r.doc.vendor.key().to_string())
            .or_default();
        tally.rules += 1;
        for case in &r.doc.tests {
            tally.cases += 1;
            match ruleatlas_panther::evaluate(&r.doc.lowered, &case.event) {
                Some(got) if got == case.expected => tally.agree += 1,
                Some(_) => {
                    tally.disagree += 1;
                    report.disagreements.push(Disagreement {
                        rule: r.id.clone(),
                        case: case.name.clone(),
                        expected: case.expected,
                    });
                }
                None => tally.unknown += 1,
            }
        }
    }
    if json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = crate::term::table(&["vendor", "rules", "cases", "agree", "disagree", "unknown"]);
    for (v, x) in &report.vendors {
        t.add_row(vec![
            v.clone(),
            x.rules.to_string(),
            x.cases.to_string(),
            x.agree.to_string(),
            x.disagree.to_string(),
            x.unknown.to_string(),
        ]);
    }
    println!("{t}");
    for d in report.disagreements.iter().take(50) {
        println!(
            "disagree: {} case `{}` expected {}",
            d.rule, d.case, d.expected
        );
    }
    if report.vendors.is_empty() {
        println!("no rule in the catalog carries test events");
    }
    Ok(ExitCode::SUCCESS)
}
