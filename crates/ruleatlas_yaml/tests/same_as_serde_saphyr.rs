//! `ruleatlas_yaml::parse` builds nodes from parser events; `serde-saphyr`'s `Deserialize`
//! with `Spanned` values is the reference it must agree with. This test reads every YAML
//! file of the shared corpus both ways and compares values, lines, columns and offsets, plus
//! hand-picked texts for the shapes the corpus lacks.

use std::fmt;
use std::path::{Path, PathBuf};

use ruleatlas_text::LineColumn;
use ruleatlas_yaml::{Node, Value};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// The reference reader: what `ruleatlas_yaml` did before it read events itself.
struct Ref(Node);
struct RefValue(Value);

impl<'de> Deserialize<'de> for Ref {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<RefValue>::deserialize(d)?;
        let loc = &s.referenced;
        let pos = LineColumn {
            line: u32::try_from(loc.line()).unwrap_or(u32::MAX).max(1),
            column: u32::try_from(loc.column()).unwrap_or(u32::MAX).max(1),
        };
        let offset = loc
            .span()
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok());
        Ok(Ref(Node {
            value: s.value.0,
            pos,
            offset,
        }))
    }
}

struct V;
impl<'de> Visitor<'de> for V {
    type Value = RefValue;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RefValue, E> {
        Ok(RefValue(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RefValue, E> {
        Ok(RefValue(Value::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RefValue, E> {
        Ok(RefValue(
            i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int),
        ))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RefValue, E> {
        Ok(RefValue(Value::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RefValue, E> {
        Ok(RefValue(Value::Str(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<RefValue, E> {
        Ok(RefValue(Value::Str(v)))
    }
    fn visit_none<E: de::Error>(self) -> Result<RefValue, E> {
        Ok(RefValue(Value::Null))
    }
    fn visit_unit<E: de::Error>(self) -> Result<RefValue, E> {
        Ok(RefValue(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RefValue, D::Error> {
        RefValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RefValue, A::Error> {
        let mut items = Vec::new();
        while let Some(Ref(n)) = seq.next_element::<Ref>()? {
            items.push(n);
        }
        Ok(RefValue(Value::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RefValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(Ref(k)) = map.next_key::<Ref>()? {
            let Ref(v) = map.next_value::<Ref>()?;
            entries.push((k, v));
        }
        Ok(RefValue(Value::Map(entries)))
    }
}
impl<'de> Deserialize<'de> for RefValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(V)
    }
}

fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    o.leading_zero_numbers_as_strings = true;
    o.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    o
}

fn reference(text: &str) -> Result<Node, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_saphyr::from_str_with_options::<Ref>(text, options())
        .map(|r| r.0)
        .map_err(|e| e.to_string())
}

fn reference_multi(text: &str) -> Result<Vec<Node>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_saphyr::from_multiple_with_options::<Ref>(text, options())
        .map(|v| v.into_iter().map(|r| r.0).collect())
        .map_err(|e| e.to_string())
}

/// The first difference between two trees, as a path and both sides.
fn diff(a: &Node, b: &Node, path: &str) -> Option<String> {
    if a.pos != b.pos || a.offset != b.offset {
        return Some(format!(
            "{path}: position {:?}/{:?} vs {:?}/{:?}",
            a.pos, a.offset, b.pos, b.offset
        ));
    }
    match (&a.value, &b.value) {
        (Value::Seq(x), Value::Seq(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: {} items vs {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| diff(p, q, &format!("{path}[{i}]")))
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.len() != y.len() {
                let keys = |m: &[(Node, Node)]| {
                    m.iter()
                        .map(|(k, _)| k.scalar_text().unwrap_or_default())
                        .collect::<Vec<_>>()
                };
                return Some(format!("{path}: keys {:?} vs {:?}", keys(x), keys(y)));
            }
            x.iter().zip(y).find_map(|((k1, v1), (k2, v2))| {
                let name = k1.scalar_text().unwrap_or_default();
                diff(k1, k2, &format!("{path}.<key {name}>"))
                    .or_else(|| diff(v1, v2, &format!("{path}.{name}")))
            })
        }
        (Value::Float(x), Value::Float(y)) if x.to_bits() == y.to_bits() => None,
        (x, y) if x == y => None,
        (x, y) => Some(format!("{path}: {x:?} vs {y:?}")),
    }
}

fn compare(label: &str, text: &str) -> Result<(), String> {
    match (ruleatlas_yaml::parse(text), reference(text)) {
        (Ok(a), Ok(b)) => diff(&a, &b, "$").map_or(Ok(()), |d| Err(format!("{label}: {d}"))),
        (Err(_), Err(_)) => Ok(()),
        (Ok(_), Err(e)) => Err(format!("{label}: only serde-saphyr rejects it: {e}")),
        (Err(e), Ok(_)) => Err(format!(
            "{label}: only we reject it: {} at {:?}:{:?}",
            e.message, e.line, e.column
        )),
    }
}

fn compare_multi(label: &str, text: &str) -> Result<(), String> {
    match (ruleatlas_yaml::parse_multi(text), reference_multi(text)) {
        (Ok(a), Ok(b)) => {
            if a.len() != b.len() {
                return Err(format!("{label}: {} documents vs {}", a.len(), b.len()));
            }
            a.iter()
                .zip(&b)
                .enumerate()
                .find_map(|(i, (x, y))| diff(x, y, &format!("doc{i}")))
                .map_or(Ok(()), |d| Err(format!("{label}: {d}")))
        }
        (Err(_), Err(_)) => Ok(()),
        (Ok(_), Err(e)) => Err(format!("{label}: only serde-saphyr rejects it: {e}")),
        (Err(e), Ok(_)) => Err(format!("{label}: only we reject it: {}", e.message)),
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            yaml_files(&p, out);
        } else if ft.is_file() && p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_yaml_file_reads_as_serde_saphyr_reads_it() {
    let Some(shared) = ruleatlas_testkit::shared_dir() else {
        return;
    };
    let mut files = Vec::new();
    yaml_files(&shared.join("corpus"), &mut files);
    files.sort();
    assert!(files.len() > 5_000, "only {} YAML files found", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let label = f.display().to_string();
        if let Err(e) = compare(&label, &text) {
            failures.push(e);
        }
        if text.contains("\n---")
            && let Err(e) = compare_multi(&label, &text)
        {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        files.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Shapes the corpus does not have (or barely has), one text each.
const CASES: &[&str] = &[
    "",
    "# only a comment\n",
    "a: 1\n",
    "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: ''\n",
    "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: True\nh: 'yes'\n",
    "a: 0x1F\nb: 0o17\nc: 0b101\nd: 0X1F\ne: 1_000\nf: -12\ng: +7\nh: 0127\ni: -0\nj: 0\n",
    "a: 18446744073709551615\nb: 18446744073709551616\nc: -9223372036854775808\nd: -9223372036854775809\n",
    "a: 1.5\nb: -2e3\nc: .5\nd: 1e999\ne: .inf\nf: -.Inf\ng: .NaN\nh: -.nan\ni: inf\nj: 1.\nk: 1e5\n",
    "a: !!str 12\nb: !!int '12'\nc: !!float '1'\nd: !!bool 'yes'\ne: !!null ''\nf: ! 12\ng: !Custom 12\n",
    "a: 1\nb: 2\na: 3\n",
    "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n",
    "a: &a [1, 2]\nb: *a\nc: [*a, *a]\n",
    "l: [a, 'b', \"c\\td\", {k: v}]\n",
    "s: |\n  line one\n  line two\nf: >-\n  folded\n  text\n",
    "? complex key\n: value\n",
    "1: int key\ntrue: bool key\n~: null key\n",
    "a: b\n  c: d: e\n",
    "a: [1, 2\n",
    "a: *missing\n",
    "'quoted key': \"escaped \\u00e9 \\\\ value\"\n",
    "a:\n  - b: 1\n    c: 2\n  - - x\n    - y\n",
    "a: 'it''s'\nb: \"\\x41\"\n",
    "x: 12:30\ny: 1:2:3\nz: 2024-01-01\n",
    "key with spaces: value with: colon\n",
    "a: -\nb: '-'\n",
    "---\na: 1\n...\n",
    "\u{feff}a: bom\n",
    "a: 1\n---\nb: 2\n",
];

#[test]
fn hand_picked_texts_read_as_serde_saphyr_reads_them() {
    let failures: Vec<String> = CASES
        .iter()
        .enumerate()
        .filter_map(|(i, t)| compare(&format!("case {i} {t:?}"), t).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hand_picked_multi_documents_read_as_serde_saphyr_reads_them() {
    let texts = [
        "a: 1\n---\nb: 2\n",
        "---\n---\na: 1\n---\n~\n---\nb: 2\n",
        "action: global\ntitle: t\n---\nlogsource: {product: windows}\n",
        "a: &x 1\n---\nb: 2\n",
    ];
    let failures: Vec<String> = texts
        .iter()
        .enumerate()
        .filter_map(|(i, t)| compare_multi(&format!("multi {i} {t:?}"), t).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn limits_match_serde_saphyr() {
    let nest = |n: usize| format!("a: {}1{}\n", "[".repeat(n), "]".repeat(n));
    let block = |n: usize| {
        let mut t = String::new();
        for i in 0..n {
            t.push_str(&"  ".repeat(i));
            t.push_str("k:\n");
        }
        t.push_str(&"  ".repeat(n));
        t.push_str("v: 1\n");
        t
    };
    // Each level of an alias bomb doubles the nodes: 2^20 leaves is over the node limit.
    let mut bomb = String::from("l0: &l0 [x, x]\n");
    for i in 1..=20 {
        bomb.push_str(&format!("l{i}: &l{i} [*l{}, *l{}]\n", i - 1, i - 1));
    }
    let texts = [
        nest(10),
        nest(62),
        nest(63),
        nest(64),
        nest(65),
        nest(300),
        block(20),
        block(63),
        block(64),
        block(70),
        bomb,
        "a: &a [*a]\n".to_string(),
    ];
    // Our reader is iterative: every text on this thread's ordinary stack.
    for t in &texts {
        let _ = ruleatlas_yaml::parse(t);
    }
    assert!(
        ruleatlas_yaml::parse(&texts[10]).is_err(),
        "the alias bomb stops"
    );
    // serde-saphyr recurses; unoptimized, 64 levels of it need more than a test thread has.
    let failures = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            texts
                .iter()
                .enumerate()
                .filter_map(|(i, t)| compare(&format!("limit case {i}"), t).err())
                .collect::<Vec<String>>()
        })
        .expect("spawn")
        .join()
        .expect("no panic");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
