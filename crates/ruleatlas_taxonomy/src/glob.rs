//! Case-insensitive glob matching (`*` any run, `?` one character) for log-source conditions.

/// Whether `text` matches `pattern`, ignoring ASCII case.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    // Iterative matcher with one backtrack point: linear in practice, no recursion.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
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
    p[pi..].iter().all(|&c| c == '*')
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
    }
}
