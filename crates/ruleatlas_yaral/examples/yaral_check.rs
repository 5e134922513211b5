//! Prints what the YARA-L adapter reads from rule files:
//! `cargo run -p ruleatlas_yaral --example yaral_check -- FILE...`

use ruleatlas_model::VendorAdapter;
use ruleatlas_yaral::YaralAdapter;

fn main() {
    let adapter = YaralAdapter::new();
    for path in std::env::args().skip(1) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("{path}: cannot read");
            continue;
        };
        let (docs, diags) = adapter.load(&path, &text);
        for d in diags {
            println!("{d}");
        }
        for d in docs {
            println!(
                "== {} [{}] {}",
                d.title,
                d.native_id.unwrap_or_default(),
                d.status.as_str()
            );
            let techniques: Vec<String> = d
                .techniques
                .iter()
                .map(|t| {
                    if t.id.is_empty() {
                        format!("name:{:?}", t.name)
                    } else {
                        t.id.clone()
                    }
                })
                .collect();
            println!("   techniques {techniques:?} tactics {:?}", d.tactics);
            println!("   logsource {:?}", d.logsource);
            for p in &d.lowered.predicates {
                let at = p
                    .origin
                    .as_ref()
                    .map(|o| format!("{}:{}", o.line, o.column))
                    .unwrap_or_default();
                println!("   {at:>7}  {}", ruleatlas_testkit::pred(p));
            }
            for u in &d.lowered.unparsed {
                println!("   unparsed [{}] {}", u.reason, u.text);
            }
            for g in &d.lowered.diagnostics {
                println!("   {g}");
            }
        }
    }
}
