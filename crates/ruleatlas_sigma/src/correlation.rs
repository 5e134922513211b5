//! Sigma correlation rules (`correlation:`): thresholds become `threshold` predicates,
//! `group-by` fields `join` predicates, and the referenced rules links.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{Condition, Lowered, Op, Origin, Predicate, PredicateKind, Unparsed, Value};
use ruleatlas_text::LineColumn;
use ruleatlas_yaml::{Node, Value as Y};

use crate::condition::{self, CondKind, CondNode};
use crate::detection::LowerContext;

/// The correlation types pySigma and the specification know.
const TYPES: [&str; 10] = [
    "event_count",
    "value_count",
    "value_sum",
    "value_avg",
    "value_percentile",
    "value_median",
    "temporal",
    "temporal_ordered",
    "temporal_extended",
    "temporal_ordered_extended",
];

/// What a correlation section lowers to, besides the predicates in `l`.
#[derive(Debug, Default)]
pub(crate) struct CorrelationInfo {
    pub kind: String,
    pub rules: Vec<String>,
    /// Where each of `rules` is written.
    pub positions: Vec<LineColumn>,
    pub timespan: Option<String>,
}

/// Rule references (`rules: x` or a list) with their positions.
pub(crate) fn rule_refs(n: &Node) -> Vec<(String, LineColumn)> {
    match &n.value {
        Y::Seq(items) => items
            .iter()
            .filter_map(|i| Some((i.scalar_text()?, i.pos)))
            .collect(),
        _ => n
            .scalar_text()
            .map(|s| vec![(s, n.pos)])
            .unwrap_or_default(),
    }
}

fn unparsed(
    l: &mut Lowered,
    ctx: &LowerContext,
    node: &Node,
    text: String,
    reason: &str,
) -> Condition {
    let mut u = Unparsed::new(text, reason);
    u.origin = Some(Origin::new(ctx.path, node.pos));
    l.diagnostics.push(
        Diagnostic::warning("sigma-correlation", reason.to_string())
            .with_path(ctx.path)
            .at(node.pos),
    );
    l.unparsed(u)
}

fn cmp(op: &str) -> Option<Op> {
    Some(match op {
        "gt" => Op::Gt,
        "gte" => Op::Ge,
        "lt" => Op::Lt,
        "lte" => Op::Le,
        "eq" => Op::Eq,
        "neq" => Op::Ne,
        _ => return None,
    })
}

fn number(n: &Node) -> Option<Value> {
    match &n.value {
        Y::Int(i) => Some(Value::Int(*i)),
        Y::Float(f) => Some(Value::Float(*f)),
        Y::Str(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::Int)
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().map(Value::Float)),
        _ => None,
    }
}

fn idents(n: &CondNode, out: &mut Vec<String>) {
    match &n.kind {
        CondKind::And(v) | CondKind::Or(v) => v.iter().for_each(|i| idents(i, out)),
        CondKind::Not(b) => idents(b, out),
        CondKind::Ident(s) => {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        CondKind::Of(..) => {}
    }
}

/// Lowers a `correlation:` map.
pub(crate) fn lower_correlation(
    corr: &Node,
    l: &mut Lowered,
    ctx: &LowerContext,
) -> (Condition, CorrelationInfo) {
    let mut info = CorrelationInfo::default();
    if corr.as_map().is_none() {
        return (
            unparsed(
                l,
                ctx,
                corr,
                "correlation".into(),
                "correlation is not a map",
            ),
            info,
        );
    }
    let kind_node = corr.get("type");
    let kind = kind_node.and_then(Node::as_str).unwrap_or("").to_string();
    info.kind.clone_from(&kind);
    info.timespan = corr.get("timespan").and_then(Node::scalar_text);
    if let Some(r) = corr.get("rules") {
        for (name, pos) in rule_refs(r) {
            info.rules.push(name);
            info.positions.push(pos);
        }
    }
    let mut parts = Vec::new();
    if !TYPES.contains(&kind.as_str()) {
        let at = kind_node.unwrap_or(corr);
        let reason = if kind.is_empty() {
            "missing correlation type".to_string()
        } else {
            format!("unknown correlation type: {kind}")
        };
        parts.push(unparsed(l, ctx, at, kind.clone(), &reason));
        return (Condition::and(parts), info);
    }
    let temporal = kind.starts_with("temporal");
    let ctx_pred = |p: Predicate| -> Predicate {
        let mut p = p.context("correlation", kind.clone());
        if let Some(t) = &info.timespan {
            p = p.context("timespan", t.clone());
        }
        p
    };

    match corr.get("condition") {
        Some(c) if c.as_map().is_some() => {
            let entries = c.as_map().unwrap_or_default();
            let field = c.get("field").and_then(Node::scalar_text);
            let percentile = c.get("percentile").and_then(number);
            let mut any = false;
            for (k, v) in entries {
                let key = k.scalar_text().unwrap_or_default();
                if key == "field" || key == "percentile" {
                    continue;
                }
                let Some(op) = cmp(&key) else {
                    parts.push(unparsed(
                        l,
                        ctx,
                        k,
                        key.clone(),
                        &format!("unknown correlation condition: {key}"),
                    ));
                    continue;
                };
                let Some(val) = number(v) else {
                    parts.push(unparsed(
                        l,
                        ctx,
                        v,
                        key.clone(),
                        "correlation condition needs a number",
                    ));
                    continue;
                };
                let target = if kind.starts_with("value_") {
                    match &field {
                        Some(f) => f.clone(),
                        None => {
                            parts.push(unparsed(
                                l,
                                ctx,
                                c,
                                key.clone(),
                                "value correlation without field",
                            ));
                            continue;
                        }
                    }
                } else {
                    "count".to_string()
                };
                let mut p =
                    ctx_pred(Predicate::new(target, op, vec![val]).kind(PredicateKind::Threshold));
                if let Some(pc) = &percentile {
                    p = p.context("percentile", serde_json::to_value(pc).unwrap_or_default());
                }
                p.origin = Some(Origin::new(ctx.path, v.pos));
                parts.push(l.pred(p));
                any = true;
            }
            if !any && parts.is_empty() {
                parts.push(unparsed(
                    l,
                    ctx,
                    c,
                    "condition".into(),
                    "correlation condition without comparison",
                ));
            }
        }
        Some(c) if temporal && c.as_str().is_some() => {
            // Extended temporal condition: a boolean expression over rule references.
            let text = c.as_str().unwrap_or_default();
            let parsed = condition::parse_condition(text);
            match (&parsed.ast.expr, parsed.diagnostics.first()) {
                (Some(e), None) => {
                    let mut refs = Vec::new();
                    idents(e, &mut refs);
                    for r in refs {
                        if !info.rules.contains(&r) {
                            info.rules.push(r);
                            info.positions.push(c.pos);
                        }
                    }
                }
                _ => parts.push(unparsed(
                    l,
                    ctx,
                    c,
                    text.to_string(),
                    "correlation condition syntax error",
                )),
            }
        }
        Some(c) => parts.push(unparsed(
            l,
            ctx,
            c,
            "condition".into(),
            "correlation condition is not a map",
        )),
        None if temporal => {}
        None => parts.push(unparsed(
            l,
            ctx,
            corr,
            "correlation".into(),
            "missing correlation condition",
        )),
    }

    if let Some(g) = corr.get("group-by") {
        let nodes: Vec<&Node> = match &g.value {
            Y::Seq(items) => items.iter().collect(),
            _ => vec![g],
        };
        for n in nodes {
            let Some(f) = n.scalar_text() else { continue };
            let mut p = ctx_pred(
                Predicate::new(f.clone(), Op::Eq, vec![Value::Str(f.clone())])
                    .kind(PredicateKind::Join),
            )
            .context("group_by", true);
            if let Some(alias) = corr.get("aliases").and_then(|a| a.get(&f)) {
                p = p.context("aliases", crate::meta::to_json(alias));
            }
            p.origin = Some(Origin::new(ctx.path, n.pos));
            parts.push(l.pred(p));
        }
    }
    if info.rules.is_empty() && !temporal {
        parts.push(unparsed(
            l,
            ctx,
            corr,
            "correlation".into(),
            "correlation without rules",
        ));
    }
    if info.timespan.is_none() {
        l.diagnostics.push(
            Diagnostic::warning("sigma-correlation", "correlation without timespan")
                .with_path(ctx.path)
                .at(corr.pos),
        );
    }
    (Condition::and(parts), info)
}
