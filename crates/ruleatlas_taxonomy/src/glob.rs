//! Case-insensitive glob matching (`*` any run, `?` one character) for log-source conditions.

/// Whether `text` matches `pattern`, ignoring ASCII case.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    // Log-source names are ASCII: match their bytes without allocating. Other text goes
    // character by character.
    if pattern.is_ascii() && text.is_ascii() {
        return match_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?', |a, b| {
            a.eq_ignore_ascii_case(b)
        });
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_units(&p, &t, '*', '?', |a, b| a.eq_ignore_ascii_case(b))
}

/// Iterative matcher with one backtrack point: linear in practice, no recursion.
fn match_units<T: Copy + PartialEq>(
    p: &[T],
    t: &[T],
    any_run: T,
    any_one: T,
    same: impl Fn(&T, &T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(&c) if c == any_run => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == any_one || same(c, &t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == any_run)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("logs-aws*", "logs-aws.cloudtrail-*"));
        assert!(matches("aws", "AWS"));
        assert!(matches("*okta*", "logs-okta.system*"));
        assert!(!matches("aws", "aws.cloudtrail"));
        assert!(matches("AWS*", "AWS CloudTrail"));
        assert!(matches("Device*Events", "DeviceProcessEvents"));
        assert!(!matches("Device*Events", "DeviceInfo"));
        assert!(matches("a?c", "abc"));
        assert!(matches("*", ""));
        assert!(matches("é?t*", "éXTé"), "non-ASCII: one character per `?`");
        assert!(!matches("é*", "É"), "case folds in ASCII only");
        assert!(matches("é?t*", "éxté"));
        assert!(!matches("é?t*", "éxxté"));
    }
}
