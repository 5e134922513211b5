//! Search macros: the macro table of a repository and textual expansion with an origin map.
//!
//! Splunk expands `` `name` `` and `` `name(a,b)` `` before it parses a search: the macro's
//! definition (with `$arg$` replaced by the call's arguments) is pasted in place of the call.
//! We do the same, and keep for every byte of the expanded text where it came from (the
//! rule's query or a macro file's definition), so that a predicate lowered from macro text
//! can name the macro (`context.macro`) and point at the macro file (`origin`).
//!
//! Calls that cannot be expanded (unknown macro, wrong argument count, a cycle) stay in the
//! text as written; the parser turns them into macro-call nodes and [`Expansion::failures`]
//! gives the lowering their reason. Text between triple backticks is a comment and is
//! replaced by one space.

use std::collections::{HashMap, HashSet};

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::LIMITS;
use ruleatlas_text::{LineColumn, LineIndex, OffsetMap, TextRange};

/// Reason given to an unparsed macro call whose macro is not defined.
pub const UNKNOWN_MACRO: &str = "unknown macro";
/// Reason given to a macro call that would recurse into itself.
pub const MACRO_CYCLE: &str = "macro cycle";
/// Reason given to a macro call with the wrong number of arguments.
pub const MACRO_ARG_COUNT: &str = "wrong macro argument count";
/// Reason given to a macro call nested deeper than the inlining limit.
pub const MACRO_TOO_DEEP: &str = "macro nesting too deep";
/// Reason given to a macro call met once the expanded search exceeds the query-size limit.
pub const MACRO_TOO_LARGE: &str = "macro expansion too large";

/// One macro definition, as read from `macros/<name>.yml`.
#[derive(Debug, Clone)]
pub struct MacroDef {
    pub name: String,
    pub args: Vec<String>,
    pub definition: String,
    /// The macro file (relative path); empty for macros added by hand.
    pub path: String,
    /// Decoded definition offset -> offset in the macro file.
    map: OffsetMap,
    file_text: String,
    lines: LineIndex,
}

impl MacroDef {
    /// The file position of a byte offset in the (decoded) definition.
    #[must_use]
    pub fn position(&self, def_offset: usize) -> LineColumn {
        self.lines
            .line_column(&self.file_text, self.map.to_source(def_offset))
    }
}

/// The macros of a repository, keyed by name and number of arguments (Splunk's `name(N)`).
#[derive(Debug, Clone, Default)]
pub struct MacroTable {
    defs: Vec<MacroDef>,
    by_key: HashMap<(String, usize), usize>,
    names: HashSet<String>,
}

impl MacroTable {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.defs.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// The definition with this index (indices are stable, see [`Loc::src`]).
    #[must_use]
    pub fn def(&self, index: usize) -> Option<&MacroDef> {
        self.defs.get(index)
    }

    /// The macro called `name` taking `nargs` arguments.
    #[must_use]
    pub fn get(&self, name: &str, nargs: usize) -> Option<&MacroDef> {
        self.by_key
            .get(&(name.to_string(), nargs))
            .and_then(|&i| self.defs.get(i))
    }

    /// Adds a macro defined in code (tests, built-ins); its origin is the definition itself.
    pub fn insert(&mut self, name: &str, args: &[&str], definition: &str) {
        let def = MacroDef {
            name: name.to_string(),
            args: args.iter().map(|a| (*a).to_string()).collect(),
            definition: definition.to_string(),
            path: String::new(),
            map: OffsetMap::identity(0, definition.len()),
            file_text: definition.to_string(),
            lines: LineIndex::new(definition),
        };
        self.push(def);
    }

    fn push(&mut self, def: MacroDef) {
        let key = (def.name.clone(), def.args.len());
        self.names.insert(def.name.clone());
        self.by_key.insert(key, self.defs.len());
        self.defs.push(def);
    }

    /// Reads one `macros/*.yml` file (`name`, `definition`, optional `arguments`).
    ///
    /// # Errors
    /// A diagnostic (with line and column) when the file is not a macro definition.
    pub fn add_yaml(&mut self, path: &str, text: &str) -> Result<(), Diagnostic> {
        let root = ruleatlas_yaml::parse(text).map_err(|d| d.with_path(path))?;
        let Some(name_node) = root.get("name") else {
            return Err(Diagnostic::error("spl-macro", "macro file without `name`").with_path(path));
        };
        let Some(mut name) = name_node.scalar_text() else {
            return Err(
                Diagnostic::error("spl-macro", "macro `name` is not a string").with_path(path),
            );
        };
        let def_node = root.get("definition");
        let definition = def_node
            .and_then(ruleatlas_yaml::Node::scalar_text)
            .unwrap_or_default();
        let args: Vec<String> = root
            .get("arguments")
            .map(ruleatlas_yaml::Node::string_list)
            .unwrap_or_default();
        // Splunk's own key form `name(2)`: the count is implied by `arguments`.
        if let Some(open) = name.find('(')
            && name.ends_with(')')
        {
            name.truncate(open);
        }
        let map = match def_node.and_then(|n| n.offset) {
            Some(off)
                if matches!(
                    def_node.map(|n| &n.value),
                    Some(ruleatlas_yaml::Value::Str(_))
                ) =>
            {
                ruleatlas_yaml::scalar_offset_map(text, off, &definition)
            }
            Some(off) => OffsetMap::identity(off, definition.len()),
            None => OffsetMap::identity(0, definition.len()),
        };
        self.push(MacroDef {
            name: name.trim().to_string(),
            args,
            definition,
            path: path.to_string(),
            map,
            file_text: text.to_string(),
            lines: LineIndex::new(text),
        });
        Ok(())
    }

    /// Expands every macro call in `query`.
    #[must_use]
    pub fn expand(&self, query: &str) -> Expansion {
        let locs: Vec<Loc> = (0..query.len())
            .map(|i| Loc {
                src: 0,
                off: to_u32(i),
            })
            .collect();
        let mut ex = Expander {
            table: self,
            out: Vec::with_capacity(query.len()),
            locs: Vec::new(),
            res: Expansion::default(),
            too_large: false,
        };
        let mut stack = Vec::new();
        ex.expand(query, &locs, &mut stack);
        let Expander {
            out, locs, mut res, ..
        } = ex;
        res.text = String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        res.locs = locs;
        res
    }
}

fn to_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Where one byte of the expanded text came from: `src` 0 is the rule's query, `src` k > 0
/// is the definition of macro `k - 1` of the table; `off` is the byte offset in that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub src: u32,
    pub off: u32,
}

/// The result of macro expansion.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// The expanded query, which is what gets parsed.
    pub text: String,
    /// One [`Loc`] per byte of `text`.
    pub locs: Vec<Loc>,
    /// Macro calls left in the text (offset of their opening backtick) with the reason.
    pub failures: Vec<(usize, String)>,
    /// Problems met while expanding; `range` is in the expanded text.
    pub diagnostics: Vec<Diagnostic>,
}

impl Expansion {
    /// Where an offset of the expanded text came from.
    #[must_use]
    pub fn loc(&self, offset: usize) -> Loc {
        self.locs
            .get(offset)
            .or_else(|| self.locs.last())
            .copied()
            .unwrap_or(Loc { src: 0, off: 0 })
    }
}

struct Expander<'t> {
    table: &'t MacroTable,
    out: Vec<u8>,
    locs: Vec<Loc>,
    res: Expansion,
    /// Whether the output has outgrown `LIMITS.max_query_bytes` (reported once).
    too_large: bool,
}

impl Expander<'_> {
    fn push(&mut self, bytes: &[u8], locs: &[Loc]) {
        self.out.extend_from_slice(bytes);
        self.locs.extend_from_slice(locs);
    }

    fn push_space(&mut self, loc: Loc) {
        self.out.push(b' ');
        self.locs.push(loc);
    }

    fn expand(&mut self, input: &str, locs: &[Loc], stack: &mut Vec<usize>) {
        let b = input.as_bytes();
        let mut i = 0;
        let mut in_quote = false;
        while i < b.len() {
            let c = b[i];
            if in_quote {
                if c == b'\\' && i + 1 < b.len() {
                    self.push(&b[i..i + 2], &locs[i..i + 2]);
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    in_quote = false;
                } else if c == b'`'
                    && let Some(len) = quoted_macro_len(&input[i..])
                {
                    self.call(input, locs, i, i + len, stack);
                    i += len;
                    continue;
                }
                self.push(&b[i..=i], &locs[i..=i]);
                i += 1;
                continue;
            }
            if c == b'\\' && i + 1 < b.len() {
                self.push(&b[i..i + 2], &locs[i..i + 2]);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_quote = true;
                self.push(&b[i..=i], &locs[i..=i]);
                i += 1;
                continue;
            }
            if b[i..].starts_with(b"```") {
                let end = input[i + 3..].find("```").map(|e| i + 3 + e + 3);
                if end.is_none() {
                    self.diag_at("spl-comment", "comment opened with ``` is never closed");
                }
                self.push_space(locs[i]);
                i = end.unwrap_or(b.len());
                continue;
            }
            if c == b'`' {
                let Some(close) = input[i + 1..].find('`').map(|e| i + 1 + e) else {
                    self.diag_at(
                        "spl-macro",
                        "unbalanced backtick: macro call is never closed",
                    );
                    self.push(&b[i..], &locs[i..]);
                    return;
                };
                self.call(input, locs, i, close + 1, stack);
                i = close + 1;
                continue;
            }
            self.push(&b[i..=i], &locs[i..=i]);
            i += 1;
        }
    }

    /// Records a diagnostic located at the current end of the output (which maps to `loc`).
    /// The diagnostic points at the next output byte, which the caller pushes right after.
    fn diag_at(&mut self, code: &str, msg: impl Into<String>) {
        let at = self.out.len();
        self.res
            .diagnostics
            .push(Diagnostic::error(code, msg).with_range(TextRange::empty(at)));
    }

    fn literal_call(&mut self, input: &str, locs: &[Loc], start: usize, end: usize, reason: &str) {
        self.res.failures.push((self.out.len(), reason.to_string()));
        self.push(&input.as_bytes()[start..end], &locs[start..end]);
    }

    fn call(
        &mut self,
        input: &str,
        locs: &[Loc],
        start: usize,
        end: usize,
        stack: &mut Vec<usize>,
    ) {
        let inner_start = start + 1;
        let inner_end = end.saturating_sub(1).max(inner_start);
        let call = MacroCall::parse(input, inner_start, inner_end);
        let name = call.name.as_str();
        if name.is_empty() {
            // An empty pair of backticks is nothing.
            self.push_space(locs[start]);
            return;
        }
        if name == "drop_dm_object_name" && call.args.len() == 1 {
            let obj = unquote(input[call.args[0].0..call.args[0].1].trim());
            let text = format!(" rename \"{obj}.*\" AS \"*\" ");
            let l = vec![locs[start]; text.len()];
            self.push(text.as_bytes(), &l);
            return;
        }
        let Some(&idx) = self.table.by_key.get(&(name.to_string(), call.args.len())) else {
            if self.table.names.contains(name) {
                let want: Vec<String> = self
                    .table
                    .defs
                    .iter()
                    .filter(|d| d.name == name)
                    .map(|d| d.args.len().to_string())
                    .collect();
                self.diag_at(
                    "spl-macro",
                    format!(
                        "macro `{name}` takes {} argument(s), called with {}",
                        want.join(" or "),
                        call.args.len()
                    ),
                );
                self.literal_call(input, locs, start, end, MACRO_ARG_COUNT);
            } else if name.ends_with("_filter") {
                // Tuning hooks: empty unless the repository defines them.
                self.push_space(locs[start]);
            } else {
                self.literal_call(input, locs, start, end, UNKNOWN_MACRO);
            }
            return;
        };
        if stack.contains(&idx) {
            self.diag_at("spl-macro", format!("macro `{name}` calls itself (cycle)"));
            self.literal_call(input, locs, start, end, MACRO_CYCLE);
            return;
        }
        if stack.len() >= LIMITS.max_inline_depth {
            self.diag_at(
                "limit-depth",
                format!(
                    "macro `{name}` nested deeper than {}",
                    LIMITS.max_inline_depth
                ),
            );
            self.literal_call(input, locs, start, end, MACRO_TOO_DEEP);
            return;
        }
        if self.out.len() > LIMITS.max_query_bytes {
            // Macros calling several others grow exponentially with the nesting depth:
            // stop inlining once the search is larger than any query we parse.
            if !self.too_large {
                self.too_large = true;
                self.diag_at(
                    "limit-query-size",
                    format!(
                        "macro expansion longer than {} bytes; later macro calls left as written",
                        LIMITS.max_query_bytes
                    ),
                );
            }
            self.literal_call(input, locs, start, end, MACRO_TOO_LARGE);
            return;
        }
        let def = &self.table.defs[idx];
        let src = to_u32(idx + 1);
        let (text, text_locs) = substitute(def, src, input, locs, &call.args);
        stack.push(idx);
        self.expand(&text, &text_locs, stack);
        stack.pop();
    }
}

/// Replaces `$arg$` in a definition with the call's argument text (keeping its locations).
fn substitute(
    def: &MacroDef,
    src: u32,
    input: &str,
    locs: &[Loc],
    args: &[(usize, usize)],
) -> (String, Vec<Loc>) {
    let d = def.definition.as_bytes();
    let mut out = Vec::with_capacity(d.len());
    let mut out_locs = Vec::with_capacity(d.len());
    let mut j = 0;
    'outer: while j < d.len() {
        if d[j] == b'$' {
            for (k, name) in def.args.iter().enumerate() {
                let pat_len = name.len() + 2;
                if def.definition.get(j + 1..j + 1 + name.len()) == Some(name.as_str())
                    && d.get(j + 1 + name.len()) == Some(&b'$')
                    && let Some(&(a, b)) = args.get(k)
                {
                    let (a, b) = trim_range(input, a, b);
                    out.extend_from_slice(&input.as_bytes()[a..b]);
                    out_locs.extend_from_slice(&locs[a..b]);
                    j += pat_len;
                    continue 'outer;
                }
            }
        }
        out.push(d[j]);
        out_locs.push(Loc {
            src,
            off: to_u32(j),
        });
        j += 1;
    }
    let text = String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    (text, out_locs)
}

fn trim_range(text: &str, mut a: usize, mut b: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    while a < b && bytes[a].is_ascii_whitespace() {
        a += 1;
    }
    while b > a && bytes[b - 1].is_ascii_whitespace() {
        b -= 1;
    }
    (a, b)
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// Inside a quoted string, a backtick starts a macro only when a well-formed call closes
/// before the string does (`"`window`"`); `split(x, "`")` is just a character.
fn quoted_macro_len(s: &str) -> Option<usize> {
    let rest = s.get(1..)?;
    let close = rest.find('`')?;
    let inner = &rest[..close];
    let name_end = inner.find('(').unwrap_or(inner.len());
    let name = &inner[..name_end];
    let ok_name = !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    let ok_args = name_end == inner.len() || inner.ends_with(')');
    (ok_name && ok_args && !inner.contains('"')).then_some(close + 2)
}

/// A macro call's name and argument ranges (in the text it was found in).
struct MacroCall {
    name: String,
    args: Vec<(usize, usize)>,
}

impl MacroCall {
    fn parse(text: &str, start: usize, end: usize) -> Self {
        let inner = &text[start..end];
        let Some(open) = inner.find('(') else {
            return Self {
                name: inner.trim().to_string(),
                args: Vec::new(),
            };
        };
        let name = inner[..open].trim().to_string();
        let close = inner
            .rfind(')')
            .filter(|&c| c > open)
            .unwrap_or(inner.len());
        let mut args = Vec::new();
        let (a0, a1) = (start + open + 1, start + close);
        if text[a0..a1].trim().is_empty() {
            return Self { name, args };
        }
        let bytes = text.as_bytes();
        let (mut depth, mut quote, mut from) = (0i32, false, a0);
        let mut k = a0;
        while k < a1 {
            let c = bytes[k];
            if quote {
                if c == b'\\' {
                    k += 1;
                } else if c == b'"' {
                    quote = false;
                }
            } else {
                match c {
                    b'"' => quote = true,
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    b',' if depth == 0 => {
                        args.push((from, k));
                        from = k + 1;
                    }
                    _ => {}
                }
            }
            k += 1;
        }
        args.push((from, a1));
        Self { name, args }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (robustness): macros that each call the previous one four times expand to
    /// 4^15 copies; the expansion stops at the query-size limit with a diagnostic.
    #[test]
    fn exponential_macro_expansion_is_bounded() {
        let mut t = MacroTable::new();
        t.insert("m0", &[], "process_name=cmd.exe");
        let names: Vec<String> = (0..16).map(|k| format!("m{k}")).collect();
        for k in 1..16 {
            let p = &names[k - 1];
            let def = format!("(`{p}` OR `{p}` OR `{p}` OR `{p}`)");
            t.insert(&names[k], &[], &def);
        }
        let start = std::time::Instant::now();
        let ex = t.expand("index=main `m15` | stats count");
        assert!(
            start.elapsed().as_secs() < 20,
            "expansion took {:?}",
            start.elapsed()
        );
        assert!(
            ex.text.len() < 2 * LIMITS.max_query_bytes,
            "{} bytes",
            ex.text.len()
        );
        assert!(ex.diagnostics.iter().any(|d| d.code == "limit-query-size"));
        assert!(ex.failures.iter().any(|(_, r)| r == MACRO_TOO_LARGE));
    }

    fn table() -> MacroTable {
        let mut t = MacroTable::new();
        t.insert(
            "okta",
            &[],
            "eventtype=okta_log OR sourcetype=\"OktaIM2:log\"",
        );
        t.insert("ctime", &["field"], "convert ctime($field$)");
        t.insert("outer", &[], "`okta` x=1");
        t.insert("self", &[], "a=1 `self`");
        t
    }

    #[test]
    fn expands_nested_args_and_builtins() {
        let t = table();
        let e = t
            .expand("`outer` | `ctime(firstTime)` | `drop_dm_object_name(Processes)` | `a_filter`");
        assert!(
            e.text
                .contains("eventtype=okta_log OR sourcetype=\"OktaIM2:log\" x=1"),
            "{}",
            e.text
        );
        assert!(e.text.contains("convert ctime(firstTime)"), "{}", e.text);
        assert!(
            e.text.contains("rename \"Processes.*\" AS \"*\""),
            "{}",
            e.text
        );
        assert!(e.failures.is_empty());
        // `firstTime` came from the query, `convert` from macro 2 (ctime).
        let at = e.text.find("firstTime").expect("arg");
        assert_eq!(e.loc(at).src, 0);
        let at = e.text.find("convert").expect("def");
        assert_eq!(e.loc(at).src, 2);
    }

    #[test]
    fn cycles_unknown_and_arity() {
        let t = table();
        let e = t.expand("`self` `nope` `ctime` ```a `comment` ```");
        let reasons: Vec<&str> = e.failures.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(reasons, vec![MACRO_CYCLE, UNKNOWN_MACRO, MACRO_ARG_COUNT]);
        assert_eq!(e.diagnostics.len(), 2);
        assert!(!e.text.contains("comment"));
    }

    #[test]
    fn backtick_in_string_is_a_character() {
        let t = table();
        let e = t.expand("eval n=split(process,\"`\") | search x=\"`okta`\"");
        assert!(e.text.contains("\"`\""));
        assert!(e.text.contains("OktaIM2"));
    }
}
