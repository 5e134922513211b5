//! SPL with macros: a fixed small macro table (plain, with arguments, nested, and
//! self-recursive ones) and a fuzzed search.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use ruleatlas_spl::MacroTable;

fn macros() -> &'static MacroTable {
    static TABLE: OnceLock<MacroTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = MacroTable::new();
        t.insert(
            "sysmon",
            &[],
            "(sourcetype=XmlWinEventLog:Microsoft-Windows-Sysmon/Operational)",
        );
        t.insert(
            "process_net",
            &[],
            "(Processes.process_name=net.exe OR Processes.process_name=net1.exe)",
        );
        t.insert(
            "security_content_ctime",
            &["field"],
            "convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime($field$)",
        );
        t.insert("wrapped", &[], "`sysmon` `process_net`");
        t.insert("filter_ok", &[], "search *");
        t.insert("loop", &[], "`loop` OR x=1");
        t.insert("ping", &["a"], "`pong($a$)`");
        t.insert("pong", &["a"], "`ping($a$)`");
        t
    })
}

fuzz_target!(|data: &[u8]| {
    common::on_worker_stack(|| {
        let text = String::from_utf8_lossy(data);
        let _ = ruleatlas_spl::analyze(&text, macros());
    });
});
