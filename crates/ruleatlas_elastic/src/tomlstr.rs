//! TOML values with positions: lookups over `toml::de::DeTable` and the map from a decoded
//! string's offsets back to the file (so a predicate found at byte 40 of a `'''` query
//! points at its line and column in the `.toml` file).

use std::ops::Range;

use ruleatlas_text::OffsetMap;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// A value with its byte range in the file.
pub type SValue<'i> = Spanned<DeValue<'i>>;

/// `table[key]`.
#[must_use]
pub fn get<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a SValue<'i>> {
    t.get(key)
}

/// `table[a][b]...` through nested tables.
#[must_use]
pub fn get_path<'a, 'i>(t: &'a DeTable<'i>, path: &[&str]) -> Option<&'a SValue<'i>> {
    let (first, rest) = path.split_first()?;
    let mut v = t.get(*first)?;
    for k in rest {
        v = v.get_ref().as_table()?.get(*k)?;
    }
    Some(v)
}

#[must_use]
pub fn as_str<'a>(v: &'a SValue<'_>) -> Option<&'a str> {
    v.get_ref().as_str()
}

#[must_use]
pub fn as_table<'a, 'i>(v: &'a SValue<'i>) -> Option<&'a DeTable<'i>> {
    v.get_ref().as_table()
}

#[must_use]
pub fn as_array<'a, 'i>(v: &'a SValue<'i>) -> Option<&'a DeArray<'i>> {
    v.get_ref().as_array()
}

/// A string, or every string of an array of strings.
#[must_use]
pub fn strings(v: Option<&SValue<'_>>) -> Vec<String> {
    let Some(v) = v else { return Vec::new() };
    match v.get_ref() {
        DeValue::String(s) => vec![s.to_string()],
        DeValue::Array(a) => a
            .iter()
            .filter_map(|e| e.get_ref().as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// An integer or float as a JSON number; a string as a string.
#[must_use]
pub fn to_json(v: &DeValue<'_>) -> serde_json::Value {
    match v {
        DeValue::String(s) => serde_json::Value::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .map_or(serde_json::Value::Null, Into::into),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        DeValue::Boolean(b) => serde_json::Value::Bool(*b),
        DeValue::Datetime(d) => serde_json::Value::String(d.to_string()),
        DeValue::Array(a) => {
            serde_json::Value::Array(a.iter().map(|e| to_json(e.get_ref())).collect())
        }
        DeValue::Table(t) => {
            let mut m = serde_json::Map::new();
            for (k, v) in t.iter() {
                m.insert(k.get_ref().to_string(), to_json(v.get_ref()));
            }
            serde_json::Value::Object(m)
        }
    }
}

/// Where the decoded text of the string value at `span` came from in `file`.
///
/// Literal strings (`'...'`, `'''...'''`) are an offset shift, plus the newline that TOML
/// trims right after an opening `'''`; basic strings (`"..."`, `"""..."""`) are decoded
/// escape by escape, with line-ending backslashes. When our decoding disagrees with the
/// TOML parser's (`decoded`), every offset maps to the string's start.
#[must_use]
pub fn string_map(file: &str, span: Range<usize>, decoded: &str) -> OffsetMap {
    let fallback = || OffsetMap::identity(span.start, 0);
    let Some(raw) = file.get(span.clone()) else {
        return fallback();
    };
    let (mine, map) = if let Some(body) = raw.strip_prefix("'''") {
        let mut start = span.start + 3;
        let mut body = body.strip_suffix("'''").unwrap_or(body);
        if let Some(b) = body.strip_prefix("\r\n") {
            body = b;
            start += 2;
        } else if let Some(b) = body.strip_prefix('\n') {
            body = b;
            start += 1;
        }
        (body.to_string(), OffsetMap::identity(start, body.len()))
    } else if let Some(body) = raw.strip_prefix('\'') {
        let body = body.strip_suffix('\'').unwrap_or(body);
        (
            body.to_string(),
            OffsetMap::identity(span.start + 1, body.len()),
        )
    } else if let Some(body) = raw.strip_prefix("\"\"\"") {
        let mut start = span.start + 3;
        let mut body = body.strip_suffix("\"\"\"").unwrap_or(body);
        if let Some(b) = body.strip_prefix("\r\n") {
            body = b;
            start += 2;
        } else if let Some(b) = body.strip_prefix('\n') {
            body = b;
            start += 1;
        }
        decode_basic(body, start, true)
    } else if let Some(body) = raw.strip_prefix('"') {
        let body = body.strip_suffix('"').unwrap_or(body);
        decode_basic(body, span.start + 1, false)
    } else {
        return fallback();
    };
    if mine == decoded { map } else { fallback() }
}

/// Decodes a basic string body that starts at file offset `base`.
fn decode_basic(body: &str, base: usize, multiline: bool) -> (String, OffsetMap) {
    let mut out = String::with_capacity(body.len());
    let mut map = OffsetMap::default();
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < body.len() {
        if bytes[i] != b'\\' {
            let Some(c) = body[i..].chars().next() else {
                break;
            };
            map.push_run(out.len(), base + i, c.len_utf8());
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let esc_at = i;
        let Some(e) = body[i + 1..].chars().next() else {
            break;
        };
        let simple = match e {
            'b' => Some('\u{8}'),
            't' => Some('\t'),
            'n' => Some('\n'),
            'f' => Some('\u{c}'),
            'r' => Some('\r'),
            'e' => Some('\u{1b}'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            _ => None,
        };
        if let Some(c) = simple {
            map.push_run(out.len(), base + esc_at, 1);
            out.push(c);
            i += 2;
            continue;
        }
        let hex_len = match e {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if hex_len > 0 {
            let hex = body.get(i + 2..i + 2 + hex_len).unwrap_or("");
            if let Some(c) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                map.push_run(out.len(), base + esc_at, 1);
                out.push(c);
                i += 2 + hex_len;
                continue;
            }
        }
        if multiline && (e == ' ' || e == '\t' || e == '\n' || e == '\r') {
            // Line-ending backslash: skip all whitespace and newlines that follow.
            i += 1;
            while i < body.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                i += 1;
            }
            continue;
        }
        // Not a valid escape: TOML rejects it; keep it so the comparison fails safely.
        map.push_run(out.len(), base + i, 1);
        out.push('\\');
        i += 1;
    }
    (out, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(file: &str, key: &str) -> (String, OffsetMap) {
        let doc = DeTable::parse(file).expect("toml");
        let v = doc.get_ref().get(key).expect("key");
        let s = v.get_ref().as_str().expect("string").to_string();
        let map = string_map(file, v.span(), &s);
        (s, map)
    }

    #[test]
    fn literal_multiline_skips_first_newline() {
        let file = "a = 1\nquery = '''\nx: y and\n  z: w\n'''\n";
        let (s, map) = check(file, "query");
        assert_eq!(s, "x: y and\n  z: w\n");
        let z = s.find('z').expect("z");
        assert_eq!(&file[map.to_source(z)..map.to_source(z) + 1], "z");
    }

    #[test]
    fn basic_strings_with_escapes() {
        let file = "q = \"a\\\\b \\\"c\\\" d\"\n";
        let (s, map) = check(file, "q");
        assert_eq!(s, "a\\b \"c\" d");
        let d = s.find('d').expect("d");
        assert_eq!(&file[map.to_source(d)..map.to_source(d) + 1], "d");
        let file = "q = \"\"\"\nfirst \\\n    second \\u0041\"\"\"\n";
        let (s, map) = check(file, "q");
        assert_eq!(s, "first second A");
        let sec = s.find("second").expect("second");
        assert_eq!(&file[map.to_source(sec)..map.to_source(sec) + 6], "second");
    }
}
