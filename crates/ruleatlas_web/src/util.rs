//! Query strings, URL encoding and links.

/// A query string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadQuery(pub String);

/// Longest query string accepted.
const MAX_QUERY: usize = 4096;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Strict `application/x-www-form-urlencoded` decoding: `+` is a space, `%XY` a byte; a broken
/// escape or bytes that are not UTF-8 are an error (a 400), never guessed at.
///
/// # Errors
/// A `%` not followed by two hex digits, or a result that is not UTF-8.
pub fn form_decode(s: &str) -> Result<String, BadQuery> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(hex);
                let lo = b.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h * 16 + l),
                    _ => return Err(BadQuery(format!("broken percent escape at byte {i}"))),
                }
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadQuery("the query string is not UTF-8".into()))
}

/// The pairs of a query string, decoded.
///
/// # Errors
/// A query string too long or badly encoded.
pub fn parse_query(q: Option<&str>) -> Result<Vec<(String, String)>, BadQuery> {
    let Some(q) = q else { return Ok(Vec::new()) };
    if q.len() > MAX_QUERY {
        return Err(BadQuery(format!(
            "query string longer than {MAX_QUERY} bytes"
        )));
    }
    let mut out = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        out.push((form_decode(k)?, form_decode(v)?));
    }
    Ok(out)
}

/// The last value given for `key`, trimmed; empty counts as absent.
#[must_use]
pub fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A boolean flag: absent, `0`, `false`, `no`, `off` are false; `1`, `true`, `yes`, `on` true.
///
/// # Errors
/// Any other value.
pub fn flag(pairs: &[(String, String)], key: &str) -> Result<bool, BadQuery> {
    match param(pairs, key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(_) => Err(BadQuery(format!("`{key}` takes true or false"))),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for one path segment or
/// query value.
#[must_use]
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

/// The page of a rule: `/rules/{vendor}/{rest of the id}`.
#[must_use]
pub fn rule_href(id: &str) -> String {
    match id.split_once(':') {
        Some((v, rest)) => format!("/rules/{}/{}", enc(v), enc(rest)),
        None => format!("/rules/_/{}", enc(id)),
    }
}

/// The page of a technique.
#[must_use]
pub fn technique_href(id: &str) -> String {
    format!("/techniques/{}", enc(id))
}

/// The page of a field.
#[must_use]
pub fn field_href(field: &str) -> String {
    format!("/fields/{}", enc(field))
}

/// `T1234` or `T1234.001`, upper-cased; `None` for anything else.
#[must_use]
pub fn technique_id(s: &str) -> Option<String> {
    let up = s.trim().to_ascii_uppercase();
    let rest = up.strip_prefix('T')?;
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    (digits(main, 4) && sub.is_none_or(|s| digits(s, 3))).then_some(up)
}

/// Only http(s) URLs become links (a rule's `references` are untrusted).
#[must_use]
pub fn safe_url(s: &str) -> Option<&str> {
    let t = s.trim();
    let lower = t.get(..8).unwrap_or(t).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_strictly() {
        assert_eq!(form_decode("a+b%2Fc").as_deref(), Ok("a b/c"));
        assert!(form_decode("%zz").is_err());
        assert!(form_decode("%4").is_err());
        assert!(form_decode("%ff%fe").is_err());
        let q = parse_query(Some("q=field%3Aprocess.name&x&vendor=")).expect("ok");
        assert_eq!(param(&q, "q"), Some("field:process.name"));
        assert_eq!(param(&q, "vendor"), None);
    }

    #[test]
    fn encodes_and_checks() {
        assert_eq!(enc("a b/~2:<"), "a%20b%2F~2%3A%3C");
        assert_eq!(rule_href("sigma:5f1a~2"), "/rules/sigma/5f1a~2");
        assert_eq!(technique_id("t1621"), Some("T1621".into()));
        assert_eq!(technique_id("T1059.001"), Some("T1059.001".into()));
        assert_eq!(technique_id("T16211"), None);
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url("https://x.test/a"), Some("https://x.test/a"));
    }
}
