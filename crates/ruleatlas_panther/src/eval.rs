//! Evaluating a lowered condition tree on one event (a rule's own test case).
//!
//! Three-valued: a predicate we could not lower (`Unparsed`), a `join`/`absence`/`scoring`
//! predicate, or a regex we cannot compile is *unknown* and makes the outcome unknown unless
//! the rest of the tree decides it (`false AND unknown` is false). Fields are dotted paths
//! into the event JSON; a list on the way is walked element by element (Panther's
//! `deep_walk`), and a predicate holds when any reached value satisfies it (`ne` and negated
//! operators: when none equals).
//!
//! `evaluate` expects a lowering after [`Lowered::finish`] (as adapters return it): a
//! predicate's own operator negation is recovered from `negated` and the NOTs above its first
//! occurrence in the tree.

use std::net::IpAddr;

use ruleatlas_model::{Condition, Lowered, Op, Predicate, PredicateKind, Value};
use serde_json::Value as J;

/// Evaluates `lowered` on `event`: `Some(true)`/`Some(false)`, or `None` when unknown.
///
/// `threshold` predicates (Panther's `Threshold`, a query's `HAVING`, `MinMatchCount`) count
/// matching events: one event does not decide them, so they are left out, as Panther's own
/// test runner does. A tree where nothing was decided (a `failed` rule, only skipped parts)
/// is `None`.
#[must_use]
pub fn evaluate(lowered: &Lowered, event: &J) -> Option<bool> {
    // Nothing lowered (a `failed` rule), or only predicates copied from a query or a
    // correlated rule (a scheduled rule whose Python is missing): nothing to decide with.
    if lowered.predicates.is_empty() && lowered.tree == Condition::Const(true) {
        return None;
    }
    if !lowered.predicates.is_empty()
        && lowered
            .predicates
            .iter()
            .all(|p| p.context.contains_key("query") || p.context.contains_key("rule"))
    {
        return None;
    }
    let own_neg = own_negation(lowered);
    let mut ev = Eval {
        lowered,
        event,
        own_neg: &own_neg,
    };
    match ev.cond(&lowered.tree, 0) {
        Tri::T => Some(true),
        // Nothing the event speaks to was decided.
        Tri::Skip => None,
        Tri::F => Some(false),
        Tri::U => None,
    }
}

/// Kleene logic plus `Skip`: a part the event does not speak to (a query's or a correlated
/// rule's predicates, a count the event does not carry), left out of AND and OR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    T,
    F,
    U,
    Skip,
}

impl Tri {
    fn of(b: Option<bool>) -> Self {
        match b {
            Some(true) => Tri::T,
            Some(false) => Tri::F,
            None => Tri::U,
        }
    }
}

/// Each predicate's operator negation, undoing the NOTs `finish` folded into `negated`.
fn own_negation(l: &Lowered) -> Vec<bool> {
    let mut parity: Vec<Option<bool>> = vec![None; l.predicates.len()];
    let mut stack: Vec<(&Condition, bool)> = vec![(&l.tree, false)];
    while let Some((c, neg)) = stack.pop() {
        match c {
            Condition::And(v) | Condition::Or(v) => {
                for x in v.iter().rev() {
                    stack.push((x, neg));
                }
            }
            Condition::Not(x) => stack.push((x, !neg)),
            Condition::Pred(i) => {
                if let Some(s) = parity.get_mut(*i)
                    && s.is_none()
                {
                    *s = Some(neg);
                }
            }
            _ => {}
        }
    }
    l.predicates
        .iter()
        .zip(parity)
        .map(|(p, par)| p.negated ^ par.unwrap_or(false))
        .collect()
}

struct Eval<'a> {
    lowered: &'a Lowered,
    event: &'a J,
    own_neg: &'a [bool],
}

const MAX_EVAL_DEPTH: usize = 10_000;

impl Eval<'_> {
    fn cond(&mut self, c: &Condition, depth: usize) -> Tri {
        if depth > MAX_EVAL_DEPTH {
            return Tri::U;
        }
        match c {
            Condition::Const(b) => Tri::of(Some(*b)),
            Condition::Unparsed(_) => Tri::U,
            Condition::Not(x) => match self.cond(x, depth + 1) {
                Tri::T => Tri::F,
                Tri::F => Tri::T,
                other => other,
            },
            Condition::And(v) => {
                let (mut unknown, mut any) = (false, false);
                for x in v {
                    match self.cond(x, depth + 1) {
                        Tri::F => return Tri::F,
                        Tri::U => unknown = true,
                        Tri::T => any = true,
                        Tri::Skip => {}
                    }
                }
                if unknown {
                    Tri::U
                } else if any {
                    Tri::T
                } else {
                    Tri::Skip
                }
            }
            Condition::Or(v) => {
                let (mut unknown, mut any) = (false, false);
                for x in v {
                    match self.cond(x, depth + 1) {
                        Tri::T => return Tri::T,
                        Tri::U => unknown = true,
                        Tri::F => any = true,
                        Tri::Skip => {}
                    }
                }
                if unknown {
                    Tri::U
                } else if any {
                    Tri::F
                } else {
                    Tri::Skip
                }
            }
            Condition::Pred(i) => {
                let Some(p) = self.lowered.predicates.get(*i) else {
                    return Tri::U;
                };
                if p.context.contains_key("query") || p.context.contains_key("rule") {
                    return Tri::Skip;
                }
                // A threshold counts matching events: one test event does not decide it.
                if p.kind == PredicateKind::Threshold {
                    return Tri::Skip;
                }
                // Panther adds `p_log_type`; test events often leave it out.
                if p.raw_field == "p_log_type" && lookup(self.event, &p.raw_field).is_empty() {
                    return Tri::Skip;
                }
                let neg = self.own_neg.get(*i).copied().unwrap_or(false);
                match pred(p, self.event) {
                    Some(r) => Tri::of(Some(r != neg)),
                    None => Tri::U,
                }
            }
        }
    }
}

/// A value reached by a path, and whether it is an element of a list.
struct Reached<'a> {
    v: &'a J,
    in_list: bool,
}

/// Every value at `path` (dot-separated), walking lists.
fn lookup<'a>(event: &'a J, path: &str) -> Vec<Reached<'a>> {
    let segs: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('.').collect()
    };
    let mut out = Vec::new();
    let mut work: Vec<(&'a J, usize, bool)> = vec![(event, 0, false)];
    let mut budget = 100_000usize;
    while let Some((v, i, in_list)) = work.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            break;
        }
        if i == segs.len() {
            match v {
                J::Array(items) => {
                    out.push(Reached { v, in_list });
                    for it in items {
                        out.push(Reached {
                            v: it,
                            in_list: true,
                        });
                    }
                }
                _ => out.push(Reached { v, in_list }),
            }
            continue;
        }
        match v {
            J::Object(m) => {
                // A key may itself hold dots: try the longest match first.
                let mut matched = false;
                for j in (i + 1..=segs.len()).rev() {
                    let key = segs[i..j].join(".");
                    if let Some(x) = m.get(&key) {
                        work.push((x, j, in_list));
                        matched = true;
                        break;
                    }
                }
                if !matched {
                    // Case-insensitive fallback (Panther events are case-insensitive dicts).
                    if let Some((_, x)) = m.iter().find(|(k, _)| k.eq_ignore_ascii_case(segs[i])) {
                        work.push((x, i + 1, in_list));
                    }
                }
            }
            J::Array(items) => {
                for it in items.iter().rev() {
                    work.push((it, i, true));
                }
            }
            J::String(s) if s.trim_start().starts_with('{') => {
                // JSON held in a string (Panther parses some of these); not walked.
                let _ = s;
            }
            _ => {}
        }
    }
    out
}

fn truthy(v: &J) -> bool {
    match v {
        J::Null => false,
        J::Bool(b) => *b,
        J::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        J::String(s) => !s.is_empty(),
        J::Array(a) => !a.is_empty(),
        J::Object(o) => !o.is_empty(),
    }
}

fn as_text(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn fold(s: &str, cs: bool) -> String {
    if cs { s.to_string() } else { s.to_lowercase() }
}

fn num_of_json(v: &J) -> Option<f64> {
    match v {
        J::Number(n) => n.as_f64(),
        J::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn num_of_value(v: &Value) -> Option<f64> {
    match v {
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => s.trim().parse().ok(),
        Value::Bool(_) => None,
    }
}

fn equals(j: &J, v: &Value, cs: bool) -> bool {
    match (j, v) {
        (J::Bool(a), Value::Bool(b)) => a == b,
        (J::String(a), Value::Bool(b)) => a.eq_ignore_ascii_case(&b.to_string()),
        (J::Number(_), Value::Int(_) | Value::Float(_))
        | (J::String(_), Value::Int(_) | Value::Float(_))
        | (J::Number(_), Value::Str(_)) => match (num_of_json(j), num_of_value(v)) {
            (Some(a), Some(b)) => (a - b).abs() < f64::EPSILON,
            _ => false,
        },
        (J::String(a), Value::Str(b)) => fold(a, cs) == fold(b, cs),
        _ => false,
    }
}

/// Glob (`*`, `?`, `[...]`) to an anchored regex.
fn glob_regex(pat: &str, cs: bool) -> Option<regex::Regex> {
    let mut re = String::from(if cs { "(?s)^" } else { "(?si)^" });
    let mut chars = pat.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    if d == '\\' || d == '[' {
                        class.push('\\');
                    }
                    class.push(d);
                }
                if closed {
                    class.push(']');
                    re.push_str(&class);
                } else {
                    re.push_str(&regex::escape("["));
                    re.push_str(&regex::escape(&class[1..]));
                }
            }
            '\\' => {
                if let Some(d) = chars.next() {
                    re.push_str(&regex::escape(&d.to_string()));
                }
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

fn in_cidr(ip: &str, net: &str) -> Option<bool> {
    let ip: IpAddr = ip.trim().parse().ok()?;
    let net: ipnet::IpNet = match net.trim().parse() {
        Ok(n) => n,
        Err(_) => {
            let single: IpAddr = net.trim().parse().ok()?;
            return Some(single == ip);
        }
    };
    Some(net.contains(&ip))
}

fn all_strings<'a>(v: &'a J, out: &mut Vec<&'a str>) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            J::String(s) => out.push(s),
            J::Array(a) => stack.extend(a.iter()),
            J::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
}

/// One predicate, without its own negation: `None` when it cannot be decided.
#[allow(clippy::too_many_lines)]
fn pred(p: &Predicate, event: &J) -> Option<bool> {
    match p.kind {
        PredicateKind::Filter | PredicateKind::Threshold => {}
        PredicateKind::Join => return join(p, event),
        PredicateKind::Absence | PredicateKind::Scoring => return None,
    }
    let cs = p.case_sensitive;
    if p.op == Op::Match {
        let mut strings = Vec::new();
        all_strings(event, &mut strings);
        return Some(p.values.iter().any(|v| {
            let needle = fold(&v.to_text(), cs);
            strings.iter().any(|s| fold(s, cs).contains(&needle))
        }));
    }
    let reached = lookup(event, &p.raw_field);
    let mode = p
        .context
        .get("elements")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("any");
    // Scalars reached (list elements are reached on their own).
    let scalars: Vec<&Reached> = reached.iter().filter(|r| !r.v.is_array()).collect();
    let test = |r: &Reached| -> Option<bool> { scalar_test(p, r, cs) };
    match p.op {
        Op::Exists => {
            let want = matches!(p.values.first(), Some(Value::Bool(true)) | None);
            let any = reached.iter().any(|r| truthy(r.v));
            Some(any == want)
        }
        Op::Ne => {
            // Python `!=`: a missing field is not equal.
            Some(
                !scalars
                    .iter()
                    .any(|r| p.values.iter().any(|v| equals(r.v, v, cs))),
            )
        }
        _ => {
            let mut results = Vec::new();
            for r in &scalars {
                results.push(test(r));
            }
            if results.is_empty() {
                return Some(false);
            }
            match mode {
                "all" => {
                    if results.contains(&Some(false)) {
                        Some(false)
                    } else if results.contains(&None) {
                        None
                    } else {
                        Some(true)
                    }
                }
                "only_one" => {
                    if results.contains(&None) {
                        None
                    } else {
                        Some(results.iter().filter(|x| **x == Some(true)).count() == 1)
                    }
                }
                _ => {
                    if results.contains(&Some(true)) {
                        Some(true)
                    } else if results.contains(&None) {
                        None
                    } else {
                        Some(false)
                    }
                }
            }
        }
    }
}

/// A field-to-field comparison within one event (`event.get("a") == event.get("b")`).
fn join(p: &Predicate, event: &J) -> Option<bool> {
    let other = p.values.first()?.to_text();
    let left: Vec<&J> = lookup(event, &p.raw_field)
        .into_iter()
        .filter(|r| !r.v.is_array())
        .map(|r| r.v)
        .collect();
    let right: Vec<&J> = lookup(event, &other)
        .into_iter()
        .filter(|r| !r.v.is_array())
        .map(|r| r.v)
        .collect();
    if left.is_empty() || right.is_empty() {
        return Some(p.op == Op::Ne);
    }
    let cs = p.case_sensitive;
    let eq = |a: &J, b: &J| match (as_text(a), as_text(b)) {
        (Some(x), Some(y)) => fold(&x, cs) == fold(&y, cs),
        _ => a == b,
    };
    let any_eq = left.iter().any(|a| right.iter().any(|b| eq(a, b)));
    match p.op {
        Op::Eq => Some(any_eq),
        Op::Ne => Some(!any_eq),
        _ => None,
    }
}

fn scalar_test(p: &Predicate, r: &Reached, cs: bool) -> Option<bool> {
    let v = r.v;
    let any = |f: &dyn Fn(&Value) -> Option<bool>| -> Option<bool> {
        let mut unknown = false;
        for val in &p.values {
            match f(val) {
                Some(true) => return Some(true),
                None => unknown = true,
                Some(false) => {}
            }
        }
        if unknown { None } else { Some(false) }
    };
    match p.op {
        Op::Eq | Op::In => any(&|val| Some(equals(v, val, cs))),
        Op::Contains => any(&|val| {
            if r.in_list {
                // `x in some_list`: membership of an element.
                if equals(v, val, cs) {
                    return Some(true);
                }
            }
            let hay = as_text(v)?;
            Some(fold(&hay, cs).contains(&fold(&val.to_text(), cs)))
        }),
        Op::StartsWith => {
            any(&|val| Some(fold(&as_text(v)?, cs).starts_with(&fold(&val.to_text(), cs))))
        }
        Op::EndsWith => {
            any(&|val| Some(fold(&as_text(v)?, cs).ends_with(&fold(&val.to_text(), cs))))
        }
        Op::Wildcard => any(&|val| {
            let re = glob_regex(&val.to_text(), cs)?;
            Some(re.is_match(&as_text(v)?))
        }),
        Op::RegexMatch => any(&|val| {
            // `re.match` / `re.fullmatch` anchor the pattern (context `anchor`).
            let body = match p.context.get("anchor").and_then(serde_json::Value::as_str) {
                Some("start") => format!("^(?:{})", val.to_text()),
                Some("full") => format!("^(?:{})$", val.to_text()),
                _ => val.to_text(),
            };
            let pat = if cs { body } else { format!("(?i){body}") };
            let re = regex::Regex::new(&pat).ok()?;
            Some(re.is_match(&as_text(v)?))
        }),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => any(&|val| {
            let ord = match (num_of_json(v), num_of_value(val)) {
                (Some(a), Some(b)) => a.partial_cmp(&b)?,
                _ => match (v, val) {
                    (J::String(a), Value::Str(b)) => a.as_str().cmp(b.as_str()),
                    _ => return Some(false),
                },
            };
            Some(match p.op {
                Op::Gt => ord.is_gt(),
                Op::Ge => ord.is_ge(),
                Op::Lt => ord.is_lt(),
                _ => ord.is_le(),
            })
        }),
        Op::Cidr => any(&|val| {
            let ip = as_text(v)?;
            Some(in_cidr(&ip, &val.to_text()).unwrap_or(false))
        }),
        Op::Ne | Op::Exists | Op::Match => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruleatlas_model::Predicate;
    use serde_json::json;

    fn one(p: Predicate, tree_not: bool) -> Lowered {
        let mut l = Lowered::default();
        let leaf = l.pred(p);
        l.tree = if tree_not { Condition::not(leaf) } else { leaf };
        l.finish();
        l
    }

    #[test]
    fn ops_and_lists() {
        let ev = json!({"a": "Hello", "n": 5, "ip": "10.1.2.3", "l": [{"x": "p"}, {"x": "q"}], "tags": ["admin", "dev"]});
        let t = |p: Predicate| evaluate(&one(p, false), &ev);
        assert_eq!(
            t(Predicate::new("a", Op::Eq, vec!["hello".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("a", Op::Eq, vec!["hello".into()]).case_sensitive(true)),
            Some(false)
        );
        assert_eq!(t(Predicate::new("a", Op::Ne, vec!["x".into()])), Some(true));
        assert_eq!(
            t(Predicate::new("missing", Op::Ne, vec!["x".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new(
                "a",
                Op::In,
                vec!["x".into(), "Hello".into()]
            )),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("a", Op::Contains, vec!["ell".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("a", Op::StartsWith, vec!["he".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("a", Op::EndsWith, vec!["lo".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("a", Op::Wildcard, vec!["H*o".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("a", Op::RegexMatch, vec!["^H.l+o$".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("_text", Op::Match, vec!["hell".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("n", Op::Gt, vec![Value::Int(4)])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("n", Op::Ge, vec![Value::Int(5)])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("n", Op::Lt, vec![Value::Int(5)])),
            Some(false)
        );
        assert_eq!(
            t(Predicate::new("n", Op::Le, vec![Value::Int(5)])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("ip", Op::Cidr, vec!["10.0.0.0/8".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("a", Op::Exists, vec![Value::Bool(true)])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("zz", Op::Exists, vec![Value::Bool(false)])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("l.x", Op::Eq, vec!["q".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("tags", Op::Contains, vec!["admin".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("tags", Op::Contains, vec!["adm".into()])),
            Some(true)
        );
        assert_eq!(
            t(Predicate::new("a", Op::RegexMatch, vec!["(?<=x)y".into()])),
            None
        );
    }

    #[test]
    fn negation_and_three_valued_logic() {
        let ev = json!({"a": "x"});
        // A negative operator (`not in`): own negation.
        let p = Predicate::new("a", Op::In, vec!["x".into()]).negative_op();
        assert_eq!(evaluate(&one(p.clone(), false), &ev), Some(false));
        // Under a NOT in the tree: finish() folded it into `negated`; evaluation is unchanged.
        assert_eq!(evaluate(&one(p, true), &ev), Some(true));
        let mut l = Lowered::default();
        let a = l.pred(Predicate::new("a", Op::Eq, vec!["y".into()]));
        let u = l.unparsed(ruleatlas_model::Unparsed::new("?", "why"));
        l.tree = Condition::and(vec![a.clone(), u.clone()]);
        l.finish();
        assert_eq!(evaluate(&l, &ev), Some(false));
        l.tree = Condition::or(vec![a, u]);
        assert_eq!(evaluate(&l, &ev), None);
    }
}
