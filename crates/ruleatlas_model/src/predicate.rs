//! Predicates, the condition tree and the result of lowering.

use std::collections::BTreeMap;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_text::{LineColumn, TextRange};
use serde::{Deserialize, Serialize};

use crate::guard::LIMITS;

/// The diagnostic code of a rule that reached `LIMITS.max_predicates`.
const PREDICATE_LIMIT: &str = "limit-predicates";

/// The operator of a predicate (CONTRACT "The predicate model").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    In,
    Contains,
    StartsWith,
    EndsWith,
    Wildcard,
    RegexMatch,
    Match,
    Gt,
    Ge,
    Lt,
    Le,
    Exists,
    Cidr,
}

impl Op {
    pub const ALL: [Op; 15] = [
        Op::Eq,
        Op::Ne,
        Op::In,
        Op::Contains,
        Op::StartsWith,
        Op::EndsWith,
        Op::Wildcard,
        Op::RegexMatch,
        Op::Match,
        Op::Gt,
        Op::Ge,
        Op::Lt,
        Op::Le,
        Op::Exists,
        Op::Cidr,
    ];

    /// The name used in JSON and in the catalog.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::In => "in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Wildcard => "wildcard",
            Op::RegexMatch => "regex_match",
            Op::Match => "match",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Exists => "exists",
            Op::Cidr => "cidr",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == s)
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value compared against. Numbers stay numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    #[must_use]
    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }

    /// The value as text, for keys and display (`4624`, `true`, `cmd.exe`).
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => s.clone(),
        }
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A number written as text (`"4624"`) becomes a number; anything else stays as it is.
    #[must_use]
    pub fn number_or_string(s: &str) -> Self {
        if let Ok(i) = s.parse::<i64>()
            && (s == "0" || !s.starts_with('0'))
            && !s.starts_with('+')
        {
            return Value::Int(i);
        }
        Value::Str(s.to_string())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// What a predicate is for (CONTRACT `kind`). Guides count `filter` and `threshold`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum PredicateKind {
    #[default]
    Filter,
    Threshold,
    Join,
    Absence,
    Scoring,
}

impl PredicateKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PredicateKind::Filter => "filter",
            PredicateKind::Threshold => "threshold",
            PredicateKind::Join => "join",
            PredicateKind::Absence => "absence",
            PredicateKind::Scoring => "scoring",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Filter,
            Self::Threshold,
            Self::Join,
            Self::Absence,
            Self::Scoring,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether guides count predicates of this kind.
    #[must_use]
    pub fn is_counted(self) -> bool {
        matches!(self, PredicateKind::Filter | PredicateKind::Threshold)
    }
}

/// Where a predicate's text is, in the file that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub path: String,
    pub line: u32,
    pub column: u32,
}

impl Origin {
    #[must_use]
    pub fn new(path: impl Into<String>, pos: LineColumn) -> Self {
        Self {
            path: path.into(),
            line: pos.line,
            column: pos.column,
        }
    }
}

/// One normalized predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    /// Normalized field name; equal to `raw_field` until field normalization maps it.
    pub field: String,
    /// The field as written (after macro/rename resolution that the language defines).
    pub raw_field: String,
    pub op: Op,
    pub values: Vec<Value>,
    pub case_sensitive: bool,
    /// Under an odd number of NOTs (a negative operator counts as one). Languages set this to
    /// `true` only for a negative *operator*; [`Lowered::finish`] adds the tree's NOTs.
    pub negated: bool,
    /// Inside a NOT conjunct of the rule's top-level AND. Set by [`Lowered::finish`].
    pub exclusion: bool,
    pub kind: PredicateKind,
    /// The column was made inside the query (`eval`, `extend`, `STATS`...).
    pub computed: bool,
    /// Where in the rule it sits: `{"step": 2}`, `{"event": "$e"}`, `{"macro": "okta"}`...
    pub context: BTreeMap<String, serde_json::Value>,
    /// Resolved by the vendor adapter from `span` (or set directly, e.g. for macro text).
    pub origin: Option<Origin>,
    /// Byte range in the query text the language parsed.
    #[serde(skip)]
    pub span: Option<TextRange>,
}

impl Predicate {
    /// A filter predicate with defaults: case-insensitive, not negated, not computed.
    #[must_use]
    pub fn new(field: impl Into<String>, op: Op, values: Vec<Value>) -> Self {
        let raw: String = field.into();
        Self {
            field: raw.clone(),
            raw_field: raw,
            op,
            values,
            case_sensitive: false,
            negated: false,
            exclusion: false,
            kind: PredicateKind::Filter,
            computed: false,
            context: BTreeMap::new(),
            origin: None,
            span: None,
        }
    }

    #[must_use]
    pub fn with_span(mut self, span: TextRange) -> Self {
        self.span = Some(span);
        self
    }

    #[must_use]
    pub fn case_sensitive(mut self, yes: bool) -> Self {
        self.case_sensitive = yes;
        self
    }

    /// Marks a negative operator (`!has`, `!=` is `ne` instead and is not negated).
    #[must_use]
    pub fn negative_op(mut self) -> Self {
        self.negated = true;
        self
    }

    #[must_use]
    pub fn kind(mut self, kind: PredicateKind) -> Self {
        self.kind = kind;
        self
    }

    #[must_use]
    pub fn computed(mut self, yes: bool) -> Self {
        self.computed = yes;
        self
    }

    #[must_use]
    pub fn context(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.context.insert(key.to_string(), value.into());
        self
    }
}

/// Something in a query that could filter events and was not lowered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unparsed {
    pub text: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    #[serde(skip)]
    pub span: Option<TextRange>,
}

impl Unparsed {
    #[must_use]
    pub fn new(text: impl Into<String>, reason: impl Into<String>) -> Self {
        let mut text: String = text.into();
        if text.len() > 500 {
            let mut cut = 500;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        Self {
            text,
            reason: reason.into(),
            origin: None,
            span: None,
        }
    }

    #[must_use]
    pub fn with_span(mut self, span: TextRange) -> Self {
        self.span = Some(span);
        self
    }
}

/// The condition tree. Leaves point into [`Lowered::predicates`] and [`Lowered::unparsed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// Index into `predicates`.
    Pred(usize),
    /// Index into `unparsed`: a part of the condition we could not read.
    Unparsed(usize),
    /// A constant (`true` for "matches everything", e.g. an empty search).
    Const(bool),
}

impl Condition {
    /// An AND that flattens nested ANDs and drops `Const(true)`.
    #[must_use]
    pub fn and(items: Vec<Condition>) -> Condition {
        let mut out = Vec::with_capacity(items.len());
        for c in items {
            match c {
                Condition::And(inner) => out.extend(inner),
                Condition::Const(true) => {}
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Condition::Const(true),
            1 => out.pop().unwrap_or(Condition::Const(true)),
            _ => Condition::And(out),
        }
    }

    /// An OR that flattens nested ORs.
    #[must_use]
    pub fn or(items: Vec<Condition>) -> Condition {
        let mut out = Vec::with_capacity(items.len());
        for c in items {
            match c {
                Condition::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Condition::Const(false),
            1 => out.pop().unwrap_or(Condition::Const(false)),
            _ => Condition::Or(out),
        }
    }

    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn not(c: Condition) -> Condition {
        match c {
            Condition::Not(inner) => *inner,
            Condition::Const(b) => Condition::Const(!b),
            other => Condition::Not(Box::new(other)),
        }
    }
}

/// The parse status of a rule (CONTRACT "status").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ParseStatus {
    Full,
    Partial,
    Failed,
    NoQuery,
}

impl ParseStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ParseStatus::Full => "full",
            ParseStatus::Partial => "partial",
            ParseStatus::Failed => "failed",
            ParseStatus::NoQuery => "no_query",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Full, Self::Partial, Self::Failed, Self::NoQuery]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A parse result: the tree and every diagnostic (errors included; the tree may be partial).
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    pub ast: T,
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Parsed<T> {
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The result of lowering a query (or a whole rule) into the predicate model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lowered {
    pub tree: Condition,
    pub predicates: Vec<Predicate>,
    pub unparsed: Vec<Unparsed>,
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

impl Default for Lowered {
    fn default() -> Self {
        Self {
            tree: Condition::Const(true),
            predicates: Vec::new(),
            unparsed: Vec::new(),
            diagnostics: Vec::new(),
        }
    }
}

impl Lowered {
    /// Adds a predicate and returns the leaf that points at it.
    pub fn pred(&mut self, p: Predicate) -> Condition {
        if self.predicates.len() >= LIMITS.max_predicates {
            self.note_predicate_limit();
            return self.unparsed(Unparsed::new(
                format!("{} {} ...", p.raw_field, p.op),
                format!("more than {} predicates in one rule", LIMITS.max_predicates),
            ));
        }
        self.predicates.push(p);
        Condition::Pred(self.predicates.len() - 1)
    }

    /// The `limit-predicates` warning, once per rule.
    fn note_predicate_limit(&mut self) {
        if !self.diagnostics.iter().any(|d| d.code == PREDICATE_LIMIT) {
            self.diagnostics.push(Diagnostic::warning(
                PREDICATE_LIMIT,
                format!(
                    "more than {} predicates in one rule; the rest are unparsed",
                    LIMITS.max_predicates
                ),
            ));
        }
    }

    /// Adds an unparsed fragment and returns the leaf that points at it.
    pub fn unparsed(&mut self, u: Unparsed) -> Condition {
        self.unparsed.push(u);
        Condition::Unparsed(self.unparsed.len() - 1)
    }

    /// Appends another lowering's content, returning its tree re-indexed into `self`.
    pub fn absorb(&mut self, other: Lowered) -> Condition {
        let p_off = self.predicates.len();
        let u_off = self.unparsed.len();
        self.predicates.extend(other.predicates);
        self.unparsed.extend(other.unparsed);
        let limited = self.diagnostics.iter().any(|d| d.code == PREDICATE_LIMIT);
        self.diagnostics.extend(
            other
                .diagnostics
                .into_iter()
                .filter(|d| !(limited && d.code == PREDICATE_LIMIT)),
        );
        reindex(other.tree, p_off, u_off)
    }

    /// Derives `negated` (XOR of the operator's own negation with the NOTs above) and
    /// `exclusion` (inside a NOT conjunct of the top-level AND) from the tree. Call once,
    /// after the tree is complete. Predicates not reachable from the tree keep their flags.
    pub fn finish(&mut self) {
        let mut top: Vec<&Condition> = Vec::new();
        flatten_and(&self.tree, &mut top);
        let mut seen = vec![false; self.predicates.len()];
        for conj in top {
            match conj {
                Condition::Not(inner) => mark(inner, true, true, &mut self.predicates, &mut seen),
                other => mark(other, false, false, &mut self.predicates, &mut seen),
            }
        }
    }

    /// The status this lowering gives a rule whose query loaded.
    #[must_use]
    pub fn status(&self) -> ParseStatus {
        if self.unparsed.is_empty() && !self.predicates.is_empty() {
            ParseStatus::Full
        } else {
            ParseStatus::Partial
        }
    }

    /// Resolves `span`s of predicates, unparsed fragments and diagnostics to origins in `path`
    /// with `locate` (query offset -> file line/column). Existing origins are kept.
    pub fn resolve_origins(&mut self, path: &str, locate: &dyn Fn(usize) -> LineColumn) {
        for p in &mut self.predicates {
            if p.origin.is_none()
                && let Some(s) = p.span
            {
                p.origin = Some(Origin::new(path, locate(s.start as usize)));
            }
        }
        for u in &mut self.unparsed {
            if u.origin.is_none()
                && let Some(s) = u.span
            {
                u.origin = Some(Origin::new(path, locate(s.start as usize)));
            }
        }
        for d in &mut self.diagnostics {
            d.locate(path, locate);
        }
    }
}

fn reindex(c: Condition, p_off: usize, u_off: usize) -> Condition {
    match c {
        Condition::And(v) => {
            Condition::And(v.into_iter().map(|c| reindex(c, p_off, u_off)).collect())
        }
        Condition::Or(v) => {
            Condition::Or(v.into_iter().map(|c| reindex(c, p_off, u_off)).collect())
        }
        Condition::Not(b) => Condition::Not(Box::new(reindex(*b, p_off, u_off))),
        Condition::Pred(i) => Condition::Pred(i + p_off),
        Condition::Unparsed(i) => Condition::Unparsed(i + u_off),
        Condition::Const(b) => Condition::Const(b),
    }
}

fn flatten_and<'a>(c: &'a Condition, out: &mut Vec<&'a Condition>) {
    match c {
        Condition::And(items) => {
            for i in items {
                flatten_and(i, out);
            }
        }
        other => out.push(other),
    }
}

fn mark(c: &Condition, negated: bool, exclusion: bool, preds: &mut [Predicate], seen: &mut [bool]) {
    match c {
        Condition::And(v) | Condition::Or(v) => {
            for i in v {
                mark(i, negated, exclusion, preds, seen);
            }
        }
        Condition::Not(inner) => mark(inner, !negated, exclusion, preds, seen),
        Condition::Pred(i) => {
            if let (Some(p), Some(s)) = (preds.get_mut(*i), seen.get_mut(*i))
                && !*s
            {
                *s = true;
                p.negated ^= negated;
                p.exclusion = exclusion;
            }
        }
        Condition::Unparsed(_) | Condition::Const(_) => {}
    }
}

#[cfg(test)]
mod tests {
    /// Every language gets the same answer past `max_predicates`: unparsed leaves naming the
    /// limit and one `limit-predicates` warning, also after absorbing another capped lowering.
    #[test]
    fn the_predicate_limit_is_one_warning() {
        let over = |n: usize| {
            let mut l = Lowered::default();
            let leaves: Vec<Condition> = (0..n)
                .map(|i| l.pred(Predicate::new("f", Op::Eq, vec![Value::Int(i as i64)])))
                .collect();
            l.tree = Condition::and(leaves);
            l
        };
        let max = LIMITS.max_predicates;
        let at = over(max);
        assert!(at.diagnostics.is_empty(), "at the limit nothing is dropped");
        let mut a = over(max + 2);
        assert_eq!(a.predicates.len(), max);
        assert_eq!(a.unparsed.len(), 2);
        let warnings = |l: &Lowered| {
            l.diagnostics
                .iter()
                .filter(|d| d.code == "limit-predicates")
                .count()
        };
        assert_eq!(warnings(&a), 1);
        a.absorb(over(max + 1));
        assert_eq!(warnings(&a), 1, "absorbing keeps one warning");
    }
    use super::*;

    fn p(field: &str) -> Predicate {
        Predicate::new(field, Op::Eq, vec![Value::str("x")])
    }

    #[test]
    fn finish_marks_exclusions_and_negation() {
        // selection and not (filter1 or not filter2), plus a negative operator at top level
        let mut l = Lowered::default();
        let sel = l.pred(p("a"));
        let f1 = l.pred(p("b"));
        let f2 = l.pred(p("c"));
        let neg_op = l.pred(Predicate::new("d", Op::Contains, vec![Value::str("y")]).negative_op());
        l.tree = Condition::and(vec![
            sel,
            Condition::not(Condition::or(vec![f1, Condition::not(f2)])),
            neg_op,
        ]);
        l.finish();
        let flags: Vec<(bool, bool)> = l
            .predicates
            .iter()
            .map(|p| (p.negated, p.exclusion))
            .collect();
        assert_eq!(
            flags,
            vec![(false, false), (true, true), (false, true), (true, false)]
        );
    }

    #[test]
    fn nested_and_is_flattened_for_exclusions() {
        let mut l = Lowered::default();
        let a = l.pred(p("a"));
        let b = l.pred(p("b"));
        l.tree = Condition::And(vec![Condition::And(vec![a, Condition::Not(Box::new(b))])]);
        l.finish();
        assert!(l.predicates[1].exclusion);
        assert!(l.predicates[1].negated);
    }

    #[test]
    fn not_inside_or_is_not_an_exclusion() {
        let mut l = Lowered::default();
        let a = l.pred(p("a"));
        let b = l.pred(p("b"));
        l.tree = Condition::or(vec![a, Condition::not(b)]);
        l.finish();
        assert!(!l.predicates[1].exclusion);
        assert!(l.predicates[1].negated);
    }

    #[test]
    fn status_rules() {
        let mut l = Lowered::default();
        assert_eq!(l.status(), ParseStatus::Partial);
        l.tree = l.pred(p("a"));
        assert_eq!(l.status(), ParseStatus::Full);
        l.unparsed(Unparsed::new("x", "y"));
        assert_eq!(l.status(), ParseStatus::Partial);
    }

    #[test]
    fn absorb_reindexes() {
        let mut a = Lowered::default();
        let x = a.pred(p("x"));
        a.tree = x;
        let mut b = Lowered::default();
        let y = b.pred(p("y"));
        let u = b.unparsed(Unparsed::new("?", "why"));
        b.tree = Condition::and(vec![y, u]);
        let t = a.absorb(b);
        assert_eq!(
            t,
            Condition::And(vec![Condition::Pred(1), Condition::Unparsed(0)])
        );
    }

    #[test]
    fn values_serialize_as_plain_json() {
        let v = vec![Value::Int(4624), Value::str("a"), Value::Bool(true)];
        assert_eq!(
            serde_json::to_string(&v).unwrap_or_default(),
            r#"[4624,"a",true]"#
        );
        assert_eq!(Value::number_or_string("4624"), Value::Int(4624));
        assert_eq!(Value::number_or_string("0x10"), Value::str("0x10"));
        assert_eq!(Value::number_or_string("007"), Value::str("007"));
    }
}
