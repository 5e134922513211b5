//! Terminal manners: tables, colour only on a terminal and never with `NO_COLOR`.

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table, presets};

/// Whether stdout is a terminal that may show colour.
#[must_use]
pub fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether progress bars may be drawn (stderr is a terminal).
#[must_use]
pub fn progress_allowed(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A table with a header, sized to the terminal when there is one.
#[must_use]
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(if std::io::stdout().is_terminal() {
        ContentArrangement::Dynamic
    } else {
        ContentArrangement::Disabled
    });
    t.set_header(header.to_vec());
    t
}

/// Bold text when colour is allowed.
#[must_use]
pub fn bold(s: &str) -> String {
    if color() {
        format!("\x1b[1m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// Cuts text to `max` characters with an ellipsis.
#[must_use]
pub fn cut(s: &str, max: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut out: String = one_line.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
