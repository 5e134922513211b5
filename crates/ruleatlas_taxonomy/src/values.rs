//! Value normalization for indicator keys: the shapes in which vendors write one value.

use ruleatlas_model::{Op, Value};

/// The file name a path-suffix test names: `\x.exe` (ends_with), `*\x.exe` (wildcard) or the
/// regex `\\x\.exe$`. `None` when the value tests more than the last path component.
pub(crate) fn basename_of(op: Op, value: &Value) -> Option<String> {
    let text = value.as_str()?;
    let suffix = match op {
        Op::EndsWith => text.to_string(),
        Op::Wildcard => {
            let rest = text.strip_prefix('*')?;
            if has_wildcard(rest) {
                return None;
            }
            rest.to_string()
        }
        Op::RegexMatch => match literal_regex(text)? {
            (Op::EndsWith, lit) => lit,
            _ => return None,
        },
        _ => return None,
    };
    let name = suffix.strip_prefix(['\\', '/'])?;
    let plain = !name.is_empty()
        && !name.contains(['\\', '/'])
        && !has_wildcard(name)
        && name.trim() == name;
    plain.then(|| name.to_string())
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// A `wildcard` value that is a plain test: `*x*` contains, `*x` ends_with, `x*` starts_with,
/// `x` eq. `None` when other wildcards remain.
pub(crate) fn simplify_wildcard(text: &str) -> Option<(Op, String)> {
    let (lead, rest) = match text.strip_prefix('*') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (trail, core) = match rest.strip_suffix('*') {
        Some(r) if !r.ends_with('\\') => (true, r),
        _ => (false, rest),
    };
    if core.is_empty() || has_wildcard(core) {
        return None;
    }
    let op = match (lead, trail) {
        (true, true) => Op::Contains,
        (true, false) => Op::EndsWith,
        (false, true) => Op::StartsWith,
        (false, false) => Op::Eq,
    };
    Some((op, core.to_string()))
}

/// A regex that only tests a literal: `^x$` eq, `x$` ends_with, `^x` starts_with, `x`
/// contains (an optional leading `.*`/trailing `.*` and `(?i)` are allowed). Escaped
/// punctuation (`\.`, `\\`) is unescaped; any other metacharacter means "not a literal".
pub(crate) fn literal_regex(re: &str) -> Option<(Op, String)> {
    let mut s = re.strip_prefix("(?i)").unwrap_or(re);
    let mut start = false;
    let mut end = false;
    if let Some(r) = s.strip_prefix('^') {
        start = true;
        s = r;
    } else if let Some(r) = s.strip_prefix(".*") {
        s = r;
    }
    if let Some(r) = s.strip_suffix('$')
        && !r.ends_with('\\')
    {
        end = true;
        s = r;
    } else if let Some(r) = s.strip_suffix(".*")
        && !r.ends_with('\\')
    {
        s = r;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let n = chars.next()?;
                if n.is_ascii_alphanumeric() {
                    return None; // \d, \w, \s... are classes, not literals
                }
                out.push(n);
            }
            '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' => {
                return None;
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return None;
    }
    let op = match (start, end) {
        (true, true) => Op::Eq,
        (false, true) => Op::EndsWith,
        (true, false) => Op::StartsWith,
        (false, false) => Op::Contains,
    };
    Some((op, out))
}

/// Registry hive spellings to one form (`HKEY_LOCAL_MACHINE\`, `\REGISTRY\MACHINE\` -> `HKLM\`).
pub(crate) fn registry_path(text: &str) -> String {
    const HIVES: [(&str, &str); 8] = [
        ("HKEY_LOCAL_MACHINE", "HKLM"),
        ("HKEY_CURRENT_USER", "HKCU"),
        ("HKEY_USERS", "HKU"),
        ("HKEY_CLASSES_ROOT", "HKCR"),
        ("HKEY_CURRENT_CONFIG", "HKCC"),
        ("\\REGISTRY\\MACHINE", "HKLM"),
        ("\\REGISTRY\\USER", "HKU"),
        ("REGISTRY\\MACHINE", "HKLM"),
    ];
    for (long, short) in HIVES {
        if text.len() >= long.len()
            && text.is_char_boundary(long.len())
            && text[..long.len()].eq_ignore_ascii_case(long)
        {
            let rest = &text[long.len()..];
            if rest.is_empty() || rest.starts_with('\\') {
                return format!("{short}{rest}");
            }
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basenames() {
        assert_eq!(
            basename_of(Op::EndsWith, &Value::str("\\x.exe")).as_deref(),
            Some("x.exe")
        );
        assert_eq!(
            basename_of(Op::EndsWith, &Value::str("/curl")).as_deref(),
            Some("curl")
        );
        assert_eq!(basename_of(Op::EndsWith, &Value::str("x.exe")), None);
        assert_eq!(
            basename_of(Op::EndsWith, &Value::str("\\Temp\\x.exe")),
            None
        );
        assert_eq!(
            basename_of(Op::Wildcard, &Value::str("*\\x.exe")).as_deref(),
            Some("x.exe")
        );
        assert_eq!(
            basename_of(Op::RegexMatch, &Value::str(r"\\rundll32\.exe$")).as_deref(),
            Some("rundll32.exe")
        );
        assert_eq!(basename_of(Op::Contains, &Value::str("\\x.exe")), None);
    }

    #[test]
    fn wildcards() {
        assert_eq!(
            simplify_wildcard("*abc*"),
            Some((Op::Contains, "abc".into()))
        );
        assert_eq!(
            simplify_wildcard("*abc"),
            Some((Op::EndsWith, "abc".into()))
        );
        assert_eq!(
            simplify_wildcard("abc*"),
            Some((Op::StartsWith, "abc".into()))
        );
        assert_eq!(simplify_wildcard("a*c"), None);
        assert_eq!(simplify_wildcard("*"), None);
    }

    #[test]
    fn regexes() {
        assert_eq!(
            literal_regex(r"\\x\.exe$"),
            Some((Op::EndsWith, "\\x.exe".into()))
        );
        assert_eq!(literal_regex("^abc$"), Some((Op::Eq, "abc".into())));
        assert_eq!(literal_regex(".*abc.*"), Some((Op::Contains, "abc".into())));
        assert_eq!(literal_regex(r"a\d"), None);
        assert_eq!(literal_regex("a|b"), None);
    }

    #[test]
    fn hives() {
        assert_eq!(
            registry_path("HKEY_LOCAL_MACHINE\\Software\\x"),
            "HKLM\\Software\\x"
        );
        assert_eq!(
            registry_path("\\REGISTRY\\MACHINE\\Software"),
            "HKLM\\Software"
        );
        assert_eq!(registry_path("HKLM\\x"), "HKLM\\x");
        assert_eq!(registry_path("HKEY_USERSX"), "HKEY_USERSX");
    }
}
