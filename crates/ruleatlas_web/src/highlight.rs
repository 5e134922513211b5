//! Server-side syntax highlighting of rule queries.
//!
//! One small lexer driven by a per-family table (comments, strings, keywords, operators); it
//! only colours, so it never needs to understand the query, and it escapes every character it
//! emits. Unknown languages come out as escaped plain text.

use std::fmt::Write as _;

struct Family {
    line_comments: &'static [&'static str],
    block_comments: &'static [(&'static str, &'static str)],
    /// String openers and closers; a backslash escapes inside when `escapes`.
    strings: &'static [(&'static str, &'static str)],
    escapes: bool,
    keywords: &'static [&'static str],
    keywords_ci: bool,
    /// Characters that start a variable or macro token (`$e`, `%macro%`).
    sigils: &'static [char],
    /// A word followed by `:` is a key (YAML, KQL, Lucene).
    colon_keys: bool,
}

const YAML: Family = Family {
    line_comments: &["#"],
    block_comments: &[],
    strings: &[("\"", "\""), ("'", "'")],
    escapes: true,
    keywords: &[
        "and",
        "or",
        "not",
        "of",
        "them",
        "all",
        "true",
        "false",
        "null",
        "condition",
        "detection",
        "selection",
        "filter",
    ],
    keywords_ci: false,
    sigils: &[],
    colon_keys: true,
};

const KUERY: Family = Family {
    line_comments: &[],
    block_comments: &[],
    strings: &[("\"", "\"")],
    escapes: true,
    keywords: &["and", "or", "not", "to"],
    keywords_ci: true,
    sigils: &[],
    colon_keys: true,
};

const EQL: Family = Family {
    line_comments: &["//"],
    block_comments: &[("/*", "*/")],
    strings: &[("\"\"\"", "\"\"\""), ("?\"", "\""), ("\"", "\"")],
    escapes: true,
    keywords: &[
        "sequence", "sample", "by", "with", "maxspan", "where", "and", "or", "not", "in", "any",
        "until", "runs", "of", "true", "false", "null", "like", "regex", "join",
    ],
    keywords_ci: false,
    sigils: &[],
    colon_keys: false,
};

const ESQL: Family = Family {
    line_comments: &["//"],
    block_comments: &[("/*", "*/")],
    strings: &[("\"\"\"", "\"\"\""), ("\"", "\"")],
    escapes: true,
    keywords: &[
        "from",
        "where",
        "eval",
        "stats",
        "by",
        "keep",
        "drop",
        "rename",
        "sort",
        "limit",
        "dissect",
        "grok",
        "enrich",
        "mv_expand",
        "metadata",
        "and",
        "or",
        "not",
        "in",
        "like",
        "rlike",
        "is",
        "null",
        "true",
        "false",
        "as",
        "asc",
        "desc",
        "lookup",
        "join",
        "on",
    ],
    keywords_ci: true,
    sigils: &[],
    colon_keys: false,
};

const SPL: Family = Family {
    line_comments: &[],
    block_comments: &[("```", "```")],
    strings: &[("\"", "\"")],
    escapes: true,
    keywords: &[
        "search",
        "where",
        "stats",
        "tstats",
        "eval",
        "table",
        "fields",
        "rename",
        "by",
        "as",
        "and",
        "or",
        "not",
        "in",
        "like",
        "dedup",
        "sort",
        "head",
        "tail",
        "rex",
        "lookup",
        "inputlookup",
        "join",
        "append",
        "bin",
        "bucket",
        "eventstats",
        "streamstats",
        "timechart",
        "chart",
        "count",
        "dc",
        "values",
        "min",
        "max",
        "from",
        "datamodel",
        "where",
        "mvexpand",
        "spath",
        "fillnull",
        "makemv",
        "transaction",
        "earliest",
        "latest",
        "if",
        "case",
        "match",
        "isnull",
        "isnotnull",
        "true",
        "false",
        "summariesonly",
        "allow_old_summaries",
    ],
    keywords_ci: true,
    sigils: &['`'],
    colon_keys: false,
};

const KUSTO: Family = Family {
    line_comments: &["//"],
    block_comments: &[],
    strings: &[("@\"", "\""), ("@'", "'"), ("\"", "\""), ("'", "'")],
    escapes: true,
    keywords: &[
        "let",
        "where",
        "project",
        "project-away",
        "project-rename",
        "extend",
        "summarize",
        "by",
        "join",
        "on",
        "kind",
        "union",
        "and",
        "or",
        "not",
        "in",
        "has",
        "has_any",
        "has_all",
        "contains",
        "startswith",
        "endswith",
        "matches",
        "regex",
        "between",
        "top",
        "take",
        "limit",
        "sort",
        "order",
        "asc",
        "desc",
        "mv-expand",
        "parse",
        "evaluate",
        "distinct",
        "count",
        "countif",
        "dcount",
        "make_set",
        "make_list",
        "arg_max",
        "arg_min",
        "ago",
        "now",
        "bin",
        "iff",
        "iif",
        "case",
        "isempty",
        "isnotempty",
        "tostring",
        "toint",
        "tolower",
        "toupper",
        "parse_json",
        "todynamic",
        "datatable",
        "materialize",
        "search",
        "true",
        "false",
        "with",
        "has_cs",
        "contains_cs",
        "startswith_cs",
        "endswith_cs",
        "in~",
        "lookup",
        "invoke",
        "range",
        "print",
    ],
    keywords_ci: false,
    sigils: &[],
    colon_keys: false,
};

const YARAL: Family = Family {
    line_comments: &["//"],
    block_comments: &[("/*", "*/")],
    strings: &[("\"", "\""), ("`", "`")],
    escapes: true,
    keywords: &[
        "rule",
        "meta",
        "events",
        "match",
        "outcome",
        "condition",
        "options",
        "over",
        "before",
        "after",
        "and",
        "or",
        "not",
        "nocase",
        "re",
        "regex",
        "if",
        "in",
        "any",
        "all",
        "true",
        "false",
        "by",
        "cidr",
        "net",
        "strings",
        "math",
        "timestamp",
        "array",
        "array_distinct",
        "count",
        "count_distinct",
        "sum",
        "max",
        "min",
        "setup",
    ],
    keywords_ci: false,
    sigils: &['$', '%'],
    colon_keys: false,
};

const PYTHON: Family = Family {
    line_comments: &["#"],
    block_comments: &[],
    strings: &[
        ("\"\"\"", "\"\"\""),
        ("'''", "'''"),
        ("\"", "\""),
        ("'", "'"),
    ],
    escapes: true,
    keywords: &[
        "def", "return", "if", "elif", "else", "and", "or", "not", "in", "is", "None", "True",
        "False", "import", "from", "as", "for", "while", "with", "try", "except", "finally",
        "raise", "lambda", "class", "pass", "break", "continue", "global", "yield", "any", "all",
        "len",
    ],
    keywords_ci: false,
    sigils: &['@'],
    colon_keys: false,
};

const SQL: Family = Family {
    line_comments: &["--"],
    block_comments: &[("/*", "*/")],
    strings: &[("'", "'"), ("\"", "\"")],
    escapes: false,
    keywords: &[
        "select", "from", "where", "and", "or", "not", "in", "is", "null", "like", "ilike",
        "group", "by", "order", "having", "limit", "as", "join", "left", "right", "inner", "outer",
        "on", "with", "case", "when", "then", "else", "end", "count", "distinct", "between",
        "union", "all", "exists", "true", "false", "asc", "desc",
    ],
    keywords_ci: true,
    sigils: &[],
    colon_keys: false,
};

fn family(language: &str) -> Option<&'static Family> {
    let l = language.to_ascii_lowercase();
    Some(match l.as_str() {
        "sigma" | "yaml" | "panther-yaml" | "panther-correlation" | "sigma-correlation" => &YAML,
        "kuery" | "kql-elastic" | "lucene" => &KUERY,
        "eql" => &EQL,
        "esql" | "es|ql" => &ESQL,
        "spl" => &SPL,
        "kql" | "kusto" => &KUSTO,
        "yaral" | "yara-l" => &YARAL,
        "python" => &PYTHON,
        "sql" => &SQL,
        _ => return None,
    })
}

/// Appends `s` HTML-escaped.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn span(out: &mut String, class: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    let _ = write!(out, "<span class=\"hl-{class}\">");
    escape_into(out, text);
    out.push_str("</span>");
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '~')
}

/// The query as HTML with `<span class="hl-…">` tokens; everything is escaped.
#[must_use]
pub fn highlight(language: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let Some(f) = family(language) else {
        escape_into(&mut out, text);
        return out;
    };
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some(n) = comment_len(f, rest) {
            span(&mut out, "c", &rest[..n]);
            i += n;
            continue;
        }
        if let Some(n) = string_len(f, rest) {
            span(&mut out, "s", &rest[..n]);
            i += n;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if f.sigils.contains(&c) {
            let n = sigil_len(c, rest);
            span(&mut out, "v", &rest[..n]);
            i += n;
            continue;
        }
        if c.is_ascii_digit() {
            let n = rest
                .find(|x: char| !(x.is_ascii_alphanumeric() || x == '.'))
                .unwrap_or(rest.len());
            span(&mut out, "n", &rest[..n]);
            i += n;
            continue;
        }
        if is_word(c) {
            let n = rest.find(|x: char| !is_word(x)).unwrap_or(rest.len());
            let word = &rest[..n];
            let after = rest[n..].trim_start_matches([' ', '\t']);
            let kw = f.keywords.iter().any(|k| {
                if f.keywords_ci {
                    k.eq_ignore_ascii_case(word)
                } else {
                    *k == word
                }
            });
            if f.colon_keys && after.starts_with(':') {
                span(&mut out, "f", word);
            } else if kw {
                span(&mut out, "k", word);
            } else {
                escape_into(&mut out, word);
            }
            i += n;
            continue;
        }
        if "=!<>|:~*()[]{},+-/%^&".contains(c) {
            let n = rest
                .find(|x: char| !"=!<>|~&".contains(x))
                .filter(|&n| n > 0)
                .unwrap_or(c.len_utf8());
            span(&mut out, "o", &rest[..n]);
            i += n;
            continue;
        }
        let n = c.len_utf8();
        escape_into(&mut out, &rest[..n]);
        i += n;
    }
    out
}

fn comment_len(f: &Family, rest: &str) -> Option<usize> {
    for lc in f.line_comments {
        if rest.starts_with(lc) {
            return Some(rest.find('\n').unwrap_or(rest.len()));
        }
    }
    for (open, close) in f.block_comments {
        if let Some(body) = rest.strip_prefix(open) {
            return Some(
                body.find(close)
                    .map_or(rest.len(), |n| open.len() + n + close.len()),
            );
        }
    }
    None
}

fn string_len(f: &Family, rest: &str) -> Option<usize> {
    for (open, close) in f.strings {
        let Some(body) = rest.strip_prefix(open) else {
            continue;
        };
        let raw = open.starts_with('@') || open.starts_with('?') || *open == "`" || open.len() == 3;
        let mut chars = body.char_indices();
        while let Some((j, c)) = chars.next() {
            if c == '\\' && f.escapes && !raw {
                chars.next();
                continue;
            }
            if body[j..].starts_with(close) {
                return Some(open.len() + j + close.len());
            }
        }
        return Some(rest.len());
    }
    None
}

fn sigil_len(c: char, rest: &str) -> usize {
    let start = c.len_utf8();
    if c == '`' {
        // SPL macro: up to the closing backtick.
        return rest[start..]
            .find('`')
            .map_or(rest.len(), |n| start + n + 1);
    }
    let n = rest[start..]
        .find(|x: char| !(x.is_alphanumeric() || x == '_'))
        .unwrap_or(rest.len() - start);
    if c == '%' && rest[start + n..].starts_with('%') {
        start + n + 1
    } else {
        start + n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything() {
        for lang in [
            "sigma", "kuery", "lucene", "eql", "esql", "spl", "kql", "yaral", "python", "sql",
            "nope",
        ] {
            let h = highlight(
                lang,
                "a = \"<img src=x onerror=alert(1)>\" <script>alert(1)</script> & '\u{e9}",
            );
            assert!(!h.contains("<img"), "{lang}: {h}");
            assert!(!h.contains("<script"), "{lang}: {h}");
            assert!(h.contains("&lt;"), "{lang}: {h}");
        }
    }

    #[test]
    fn colours_tokens() {
        let h = highlight(
            "kql",
            "SigninLogs // c\n| where ResultType == \"50074\" and x has 'a'",
        );
        assert!(h.contains("<span class=\"hl-c\">// c</span>"), "{h}");
        assert!(h.contains("<span class=\"hl-k\">where</span>"), "{h}");
        assert!(
            h.contains("<span class=\"hl-s\">&quot;50074&quot;</span>"),
            "{h}"
        );
        let h = highlight("spl", "`okta` eventType=x | stats count by user");
        assert!(h.contains("<span class=\"hl-v\">`okta`</span>"), "{h}");
        let h = highlight("yaral", "$e.metadata.event_type = \"USER_LOGIN\" nocase");
        assert!(h.contains("<span class=\"hl-v\">$e</span>"), "{h}");
        assert!(h.contains("<span class=\"hl-k\">nocase</span>"), "{h}");
        let h = highlight(
            "sigma",
            "detection:\n  sel:\n    Image|endswith: '\\\\x.exe' # c\n  condition: sel",
        );
        assert!(h.contains("<span class=\"hl-f\">detection</span>"), "{h}");
        assert!(h.contains("<span class=\"hl-c\"># c</span>"), "{h}");
        // Unterminated strings and comments end at the end of the text, without panicking.
        let _ = highlight("eql", "process where name == \"abc");
        let _ = highlight("sql", "/* open");
        let _ = highlight("yaral", "$");
        let _ = highlight("spl", "`unterminated");
    }
}
