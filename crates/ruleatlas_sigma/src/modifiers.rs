//! Value modifiers (`field|contains|all`), as the Sigma modifiers appendix defines them.

/// The modifier that decides the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpModifier {
    Contains,
    StartsWith,
    EndsWith,
    Re,
    Cidr,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A field key split into its name and modifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modifiers {
    /// Comparison modifiers in the order written (normally zero or one).
    pub ops: Vec<OpModifier>,
    /// `all`: values are ANDed.
    pub all: bool,
    /// `cased`: case-sensitive matching.
    pub cased: bool,
    /// `neq`: the field differs from the values.
    pub neq: bool,
    /// `exists`: the value is a boolean saying whether the field exists.
    pub exists: bool,
    /// `fieldref`: the value names another field.
    pub fieldref: bool,
    /// `expand`: the value holds `%placeholder%`s.
    pub expand: bool,
    /// Regular-expression flags (`i`, `m`, `s`, in the order written, long forms folded).
    pub re_flags: String,
    /// Encoding transforms (`base64`, `base64offset`, `wide`, `utf16le`, `utf16be`, `utf16`,
    /// `windash`) in the order written: they change what is searched for, not the value as written.
    pub transforms: Vec<String>,
    /// A timestamp part (`minute`, `hour`, `day`, `week`, `month`, `year`).
    pub time_part: Option<String>,
    /// Modifiers no specification defines.
    pub unknown: Vec<String>,
}

/// Splits `Field|mod1|mod2` into the field and its modifiers.
#[must_use]
pub fn split_key(key: &str) -> (&str, Modifiers) {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("");
    let mut m = Modifiers::default();
    for raw in parts {
        let name = raw.trim();
        match name.to_ascii_lowercase().as_str() {
            "contains" => m.ops.push(OpModifier::Contains),
            "startswith" => m.ops.push(OpModifier::StartsWith),
            "endswith" => m.ops.push(OpModifier::EndsWith),
            "re" => m.ops.push(OpModifier::Re),
            "cidr" => m.ops.push(OpModifier::Cidr),
            "gt" => m.ops.push(OpModifier::Gt),
            "gte" => m.ops.push(OpModifier::Gte),
            "lt" => m.ops.push(OpModifier::Lt),
            "lte" => m.ops.push(OpModifier::Lte),
            "all" => m.all = true,
            "cased" => m.cased = true,
            "neq" => m.neq = true,
            "exists" => m.exists = true,
            "fieldref" => m.fieldref = true,
            "expand" => m.expand = true,
            "i" | "ignorecase" => m.re_flags.push('i'),
            "m" | "multiline" => m.re_flags.push('m'),
            "s" | "dotall" => m.re_flags.push('s'),
            t @ ("base64" | "base64offset" | "wide" | "utf16le" | "utf16be" | "utf16"
            | "windash") => {
                m.transforms.push(t.to_string());
            }
            t @ ("minute" | "hour" | "day" | "week" | "month" | "year") => {
                m.time_part = Some(t.to_string())
            }
            _ => m.unknown.push(name.to_string()),
        }
    }
    (field, m)
}

/// Whether a plain Sigma string holds an unescaped `*` or `?` wildcard.
///
/// Per the specification's "Escaping": `\` escapes `*`, `?` and `\`; a backslash before any
/// other character is a plain backslash. So `\*` is a literal star, `\\*` a backslash then a
/// wildcard, `\\\*` a backslash then a literal star.
#[must_use]
pub fn has_wildcard(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if matches!(chars.peek(), Some('*' | '?' | '\\')) {
                    chars.next();
                }
            }
            '*' | '?' => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_modifiers() {
        let (f, m) = split_key("CommandLine|contains|all|windash");
        assert_eq!(f, "CommandLine");
        assert_eq!(m.ops, vec![OpModifier::Contains]);
        assert!(m.all);
        assert_eq!(m.transforms, vec!["windash".to_string()]);
        let (f, m) = split_key("|all");
        assert_eq!(f, "");
        assert!(m.all);
        let (_, m) = split_key("x|re|i|m|s");
        assert_eq!(m.re_flags, "ims");
        let (_, m) = split_key("x|bogus");
        assert_eq!(m.unknown, vec!["bogus".to_string()]);
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(has_wildcard("*\\cmd.exe"));
        assert!(has_wildcard("prog?.exe"));
        assert!(!has_wildcard("C:\\Windows\\x.exe"));
        assert!(!has_wildcard("a\\*b"));
        assert!(has_wildcard("a\\\\*b"));
        assert!(!has_wildcard("a\\\\\\*b"));
        assert!(!has_wildcard(""));
    }
}
