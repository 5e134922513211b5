//! Correlation rules: `Detection: - Sequence:` or `- Group:` of other rules' signals.
//!
//! The rule's own structure lowers to: `absence` predicates for `Absence: true` steps,
//! `threshold` predicates for `MinMatchCount` above 1, and `join` predicates for
//! `MatchCriteria` and `Transitions` `Match` entries. The referenced rules become links; the
//! adapter's `link()` copies their predicates in with context `{"rule": "<RuleID>"}`.

use ruleatlas_model::{Condition, Lowered, Op, Origin, Predicate, PredicateKind, Unparsed, Value};
use ruleatlas_yaml::Node;

/// What a correlation rule's own `Detection` says.
#[derive(Debug, Default)]
pub struct Correlation {
    pub lowered: Lowered,
    /// Referenced RuleIDs, in order.
    pub links: Vec<String>,
    /// Referenced RuleIDs whose step is an `Absence`.
    pub absent: Vec<String>,
    /// `LookbackWindowMinutes`, `WithinTimeFrameMinutes`... for `extra`.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn origin(path: &str, n: &Node) -> Option<Origin> {
    Some(Origin::new(path, n.pos))
}

/// Lowers the `Detection` node of the correlation rule `own_id` at `path`.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn lower(det: &Node, path: &str, own_id: Option<&str>) -> Correlation {
    let mut c = Correlation::default();
    let mut items = Vec::new();
    let blocks: Vec<&Node> = det
        .as_seq()
        .map(|s| s.iter().collect())
        .unwrap_or_else(|| vec![det]);
    for block in blocks {
        let (steps, kind) = match (block.get("Sequence"), block.get("Group")) {
            (Some(s), _) => (s, "sequence"),
            (None, Some(g)) => (g, "group"),
            (None, None) => {
                let mut u = Unparsed::new("Detection", "correlation without Sequence or Group");
                u.origin = origin(path, block);
                items.push(c.lowered.unparsed(u));
                continue;
            }
        };
        c.extra.insert("correlation".into(), kind.into());
        for key in ["LookbackWindowMinutes", "EventEvaluationOrder"] {
            if let Some(v) = block.get(key) {
                c.extra
                    .insert(key.to_string(), crate::adapter::yaml_json(v));
            }
        }
        for (i, step) in steps.as_seq().unwrap_or(&[]).iter().enumerate() {
            let id = step
                .get("ID")
                .and_then(Node::scalar_text)
                .unwrap_or_else(|| format!("{}", i + 1));
            let Some(rid) = step.get("RuleID").and_then(Node::scalar_text) else {
                let mut u = Unparsed::new(id, "correlation step without RuleID");
                u.origin = origin(path, step);
                items.push(c.lowered.unparsed(u));
                continue;
            };
            if !c.links.contains(&rid) {
                c.links.push(rid.clone());
            }
            if step.get("Absence").and_then(Node::as_bool) == Some(true) {
                c.absent.push(rid.clone());
                let mut p = Predicate::new("p_rule_id", Op::Eq, vec![Value::Str(rid.clone())])
                    .kind(PredicateKind::Absence)
                    .case_sensitive(true)
                    .context("step", id.clone());
                p.origin = origin(path, step);
                items.push(c.lowered.pred(p));
            }
            if let Some(m) = step.get("MinMatchCount")
                && let ruleatlas_yaml::Value::Int(n) = m.value
                && n > 1
            {
                let mut p = Predicate::new("count", Op::Ge, vec![Value::Int(n)])
                    .kind(PredicateKind::Threshold)
                    .context("step", id.clone())
                    .context("rule", rid.clone());
                p.origin = origin(path, m);
                items.push(c.lowered.pred(p));
            }
            if own_id == Some(rid.as_str()) {
                c.extra.insert("self_reference".into(), true.into());
            }
        }
        // Group: MatchCriteria {name: [{GroupID, Match}...]}
        if let Some(mc) = block.get("MatchCriteria").and_then(Node::as_map) {
            for (name, entries) in mc {
                let name = name.scalar_text().unwrap_or_default();
                let list: Vec<(String, String, &Node)> = entries
                    .as_seq()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|e| {
                        Some((
                            e.get("GroupID").and_then(Node::scalar_text)?,
                            e.get("Match").and_then(Node::scalar_text)?,
                            e,
                        ))
                    })
                    .collect();
                if list.len() < 2 {
                    let mut u =
                        Unparsed::new(name.clone(), "match criteria with fewer than two groups");
                    u.origin = origin(path, entries);
                    items.push(c.lowered.unparsed(u));
                    continue;
                }
                let (g0, f0, _) = &list[0];
                for (g, f, n) in &list[1..] {
                    let mut p = Predicate::new(f0.clone(), Op::Eq, vec![Value::Str(f.clone())])
                        .kind(PredicateKind::Join)
                        .case_sensitive(true)
                        .context("criteria", name.clone())
                        .context("from", g0.clone())
                        .context("to", g.clone());
                    p.origin = origin(path, n);
                    items.push(c.lowered.pred(p));
                }
            }
        }
        // Sequence: Transitions [{ID, From, To, WithinTimeFrameMinutes, Match: [{On} | {From, To}]}]
        for t in block
            .get("Transitions")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let tid = t.get("ID").and_then(Node::scalar_text).unwrap_or_default();
            let from = t
                .get("From")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            let to = t.get("To").and_then(Node::scalar_text).unwrap_or_default();
            if let Some(w) = t.get("WithinTimeFrameMinutes").and_then(Node::scalar_text) {
                c.extra.insert(format!("within_minutes:{tid}"), w.into());
            }
            for m in t.get("Match").and_then(Node::as_seq).unwrap_or(&[]) {
                let on = m.get("On").or_else(|| {
                    // YAML 1.1 reads a bare `On` key as the boolean true.
                    m.as_map().and_then(|e| {
                        e.iter()
                            .find(|(k, _)| k.value == ruleatlas_yaml::Value::Bool(true))
                            .map(|(_, v)| v)
                    })
                });
                let (a, b) = match (
                    on.and_then(Node::scalar_text),
                    m.get("From").and_then(Node::scalar_text),
                    m.get("To").and_then(Node::scalar_text),
                ) {
                    (Some(on), _, _) => (on.clone(), on),
                    (None, Some(a), Some(b)) => (a, b),
                    _ => {
                        let mut u =
                            Unparsed::new(tid.clone(), "transition match without On or From/To");
                        u.origin = origin(path, m);
                        items.push(c.lowered.unparsed(u));
                        continue;
                    }
                };
                let mut p = Predicate::new(a, Op::Eq, vec![Value::Str(b)])
                    .kind(PredicateKind::Join)
                    .case_sensitive(true)
                    .context("transition", tid.clone())
                    .context("from", from.clone())
                    .context("to", to.clone());
                p.origin = origin(path, m);
                items.push(c.lowered.pred(p));
            }
        }
    }
    c.lowered.tree = Condition::and(items);
    c
}
