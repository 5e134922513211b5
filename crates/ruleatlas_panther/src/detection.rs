//! YAML detections: Panther match expressions (`Detection:`, `InlineFilters:`).
//!
//! A match expression names an event key (`Key: a`, `DeepKey: [a, b]`, `KeyPath: a.b[*].c`),
//! a `Condition` and a `Value`/`Values`; combinators `All`, `Any`, `OnlyOne` and `None` group
//! expressions; list comprehensions (`AnyElement`, `AllElements`, `OnlyOneElement`,
//! `NoElement` with `Expressions`) test elements of a list; multi-key expressions compare two
//! keys; `AlwaysTrue`/`AlwaysFalse` are constants. A list of expressions is an `All`.

use ruleatlas_model::{
    Condition, DepthGuard, Lowered, Op, Origin, Predicate, PredicateKind, Unparsed, Value,
};
use ruleatlas_yaml::{Node, Value as Y};

use crate::python::lower::json_path;

/// RFC 1918 and other private ranges, for `IsIPAddressPrivate` / `IsIPAddressPublic`.
const PRIVATE: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
];

/// `OnlyOne` with more items than this is not expanded.
const MAX_ONLY_ONE: usize = 8;

/// Lowers a `Detection:` (or `InlineFilters:`) node of the rule file at `path`.
#[must_use]
pub fn lower(node: &Node, path: &str) -> Lowered {
    let mut lw = Lower {
        out: Lowered::default(),
        path: path.to_string(),
        guard: DepthGuard::default(),
    };
    let tree = lw.expr(node, &[]);
    lw.out.tree = tree;
    lw.out
}

struct Lower {
    out: Lowered,
    path: String,
    guard: DepthGuard,
}

fn yaml_value(n: &Node) -> Option<Value> {
    match &n.value {
        Y::Str(s) => Some(Value::Str(s.clone())),
        Y::Int(i) => Some(Value::Int(*i)),
        Y::Float(f) => Some(Value::Float(*f)),
        Y::Bool(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

fn and_(items: Vec<Condition>) -> Condition {
    if items.contains(&Condition::Const(false)) {
        return Condition::Const(false);
    }
    Condition::and(items)
}

fn or_(items: Vec<Condition>) -> Condition {
    if items.contains(&Condition::Const(true)) {
        return Condition::Const(true);
    }
    Condition::or(
        items
            .into_iter()
            .filter(|c| *c != Condition::Const(false))
            .collect(),
    )
}

impl Lower {
    fn origin(&self, n: &Node) -> Origin {
        Origin::new(self.path.clone(), n.pos)
    }

    fn unparsed(
        &mut self,
        n: &Node,
        text: impl Into<String>,
        reason: impl Into<String>,
    ) -> Condition {
        let mut u = Unparsed::new(text, reason);
        u.origin = Some(self.origin(n));
        self.out.unparsed(u)
    }

    /// The key an expression names, with `prefix` (the list path of a comprehension).
    fn key(n: &Node, prefix: &[String]) -> Option<Vec<String>> {
        let mut path: Vec<String> = prefix.to_vec();
        if let Some(k) = n.get("Key").and_then(Node::scalar_text) {
            path.push(k);
        } else if let Some(dk) = n.get("DeepKey") {
            // A list index (`[target, 0, type]`) walks the list: any element.
            path.extend(
                dk.string_list()
                    .into_iter()
                    .filter(|s| s.parse::<i64>().is_err()),
            );
        } else if let Some(kp) = n.get("KeyPath").and_then(Node::scalar_text) {
            path.extend(json_path(&kp));
        } else {
            return None;
        }
        Some(path)
    }

    fn expr(&mut self, n: &Node, prefix: &[String]) -> Condition {
        if self.guard.enter().is_err() {
            return self.unparsed(n, "...", "nesting too deep");
        }
        let c = self.expr_inner(n, prefix);
        self.guard.leave();
        c
    }

    #[allow(clippy::too_many_lines)]
    fn expr_inner(&mut self, n: &Node, prefix: &[String]) -> Condition {
        if let Some(items) = n.as_seq() {
            let v: Vec<Condition> = items.iter().map(|i| self.expr(i, prefix)).collect();
            return and_(v);
        }
        let Some(entries) = n.as_map() else {
            return self.unparsed(
                n,
                n.scalar_text().unwrap_or_default(),
                "match expression is not a mapping",
            );
        };
        for (k, v) in entries {
            let items: Vec<&Node> = v
                .as_seq()
                .map(|s| s.iter().collect())
                .unwrap_or_else(|| vec![v]);
            match k.as_str() {
                Some("All") => {
                    let c: Vec<Condition> = items.iter().map(|i| self.expr(i, prefix)).collect();
                    return and_(c);
                }
                Some("Any") => {
                    let c: Vec<Condition> = items.iter().map(|i| self.expr(i, prefix)).collect();
                    return or_(c);
                }
                Some("None") => {
                    let c: Vec<Condition> = items.iter().map(|i| self.expr(i, prefix)).collect();
                    return Condition::not(or_(c));
                }
                Some("OnlyOne") => {
                    if items.len() > MAX_ONLY_ONE {
                        return self.unparsed(k, "OnlyOne", "OnlyOne with too many expressions");
                    }
                    let c: Vec<Condition> = items.iter().map(|i| self.expr(i, prefix)).collect();
                    let mut alts = Vec::new();
                    for i in 0..c.len() {
                        let mut conj = vec![c[i].clone()];
                        for (j, other) in c.iter().enumerate() {
                            if j != i {
                                conj.push(Condition::not(other.clone()));
                            }
                        }
                        alts.push(and_(conj));
                    }
                    return or_(alts);
                }
                _ => {}
            }
        }
        if n.get("Enrichment").is_some() {
            return self.unparsed(n, "Enrichment", "enrichment match not supported");
        }
        let Some(cond_node) = n.get("Condition") else {
            return self.unparsed(n, "", "match expression without Condition");
        };
        let cond = cond_node.scalar_text().unwrap_or_default();
        match cond.as_str() {
            "AlwaysTrue" => return Condition::Const(true),
            "AlwaysFalse" => return Condition::Const(false),
            _ => {}
        }
        // Multi-key: `Values` are key specifiers.
        if n.get("Key").is_none() && n.get("DeepKey").is_none() && n.get("KeyPath").is_none() {
            if let Some(vals) = n.get("Values").and_then(Node::as_seq)
                && vals.len() == 2
                && let (Some(a), Some(b)) =
                    (Self::key(&vals[0], prefix), Self::key(&vals[1], prefix))
            {
                let (op, neg) = match cond.as_str() {
                    "Equals" => (Op::Eq, false),
                    "DoesNotEqual" => (Op::Ne, false),
                    "IsGreaterThan" => (Op::Gt, false),
                    "IsGreaterThanOrEqual" => (Op::Ge, false),
                    "IsLessThan" => (Op::Lt, false),
                    "IsLessThanOrEqual" => (Op::Le, false),
                    "Contains" => (Op::Contains, false),
                    "DoesNotContain" => (Op::Contains, true),
                    other => {
                        return self.unparsed(
                            cond_node,
                            other,
                            format!("unknown condition: {other}"),
                        );
                    }
                };
                let mut p = Predicate::new(a.join("."), op, vec![Value::Str(b.join("."))])
                    .kind(PredicateKind::Join);
                p.case_sensitive = true;
                if neg {
                    p = p.negative_op();
                }
                p.origin = Some(self.origin(n));
                return self.out.pred(p);
            }
            return self.unparsed(n, cond, "match expression without a key");
        }
        let Some(path) = Self::key(n, prefix) else {
            return self.unparsed(n, cond, "match expression without a key");
        };
        // List comprehension.
        if let Some(exprs) = n.get("Expressions") {
            let inner = self.expr(exprs, &path);
            return match cond.as_str() {
                "AnyElement" => inner,
                "NoElement" => Condition::not(inner),
                "AllElements" => self.tag_elements(inner, "all"),
                "OnlyOneElement" => self.tag_elements(inner, "only_one"),
                other => {
                    self.unparsed(cond_node, other, format!("unknown list condition: {other}"))
                }
            };
        }
        let field = path.join(".");
        let value = n.get("Value");
        let values: Vec<Value> = match n.get("Values") {
            Some(vs) => vs
                .as_seq()
                .map(|s| s.iter().filter_map(yaml_value).collect())
                .unwrap_or_default(),
            None => value.and_then(yaml_value).into_iter().collect(),
        };
        let need_value = |lw: &mut Self| {
            lw.unparsed(
                n,
                cond.clone(),
                format!("condition without a value: {cond}"),
            )
        };
        let (op, vals, neg, cs) = match cond.as_str() {
            "Equals"
            | "DoesNotEqual"
            | "StartsWith"
            | "DoesNotStartWith"
            | "EndsWith"
            | "DoesNotEndWith"
            | "Contains"
            | "DoesNotContain"
            | "IsGreaterThan"
            | "IsGreaterThanOrEqual"
            | "IsLessThan"
            | "IsLessThanOrEqual"
            | "IsIPAddressInCIDR"
            | "IsIPAddressNotInCIDR"
                if values.is_empty() =>
            {
                return need_value(self);
            }
            "Equals" => (Op::Eq, values, false, true),
            "DoesNotEqual" => (Op::Ne, values, false, true),
            "IsIn" => (Op::In, values, false, true),
            "IsNotIn" => (Op::In, values, true, true),
            "Contains" => (Op::Contains, values, false, true),
            "DoesNotContain" => (Op::Contains, values, true, true),
            "StartsWith" => (Op::StartsWith, values, false, true),
            "DoesNotStartWith" => (Op::StartsWith, values, true, true),
            "EndsWith" => (Op::EndsWith, values, false, true),
            "DoesNotEndWith" => (Op::EndsWith, values, true, true),
            "IsGreaterThan" => (Op::Gt, values, false, false),
            "IsGreaterThanOrEqual" => (Op::Ge, values, false, false),
            "IsLessThan" => (Op::Lt, values, false, false),
            "IsLessThanOrEqual" => (Op::Le, values, false, false),
            "Exists" | "IsNotNull" | "IsNotNullOrEmpty" | "IsNotEmpty" => {
                (Op::Exists, vec![Value::Bool(true)], false, false)
            }
            "DoesNotExist" | "IsNull" | "IsNullOrEmpty" | "IsEmpty" => {
                (Op::Exists, vec![Value::Bool(false)], false, false)
            }
            "IsIPAddressInCIDR" => (Op::Cidr, values, false, false),
            "IsIPAddressNotInCIDR" => (Op::Cidr, values, true, false),
            "IsIPAddressPrivate" => (
                Op::Cidr,
                PRIVATE.iter().map(|s| Value::str(*s)).collect(),
                false,
                false,
            ),
            "IsIPAddressPublic" => (
                Op::Cidr,
                PRIVATE.iter().map(|s| Value::str(*s)).collect(),
                true,
                false,
            ),
            other => return self.unparsed(cond_node, other, format!("unknown condition: {other}")),
        };
        let mut p = Predicate::new(field, op, vals).case_sensitive(cs);
        if neg {
            p = p.negative_op();
        }
        p.origin = Some(self.origin(n));
        self.out.pred(p)
    }

    fn tag_elements(&mut self, c: Condition, how: &str) -> Condition {
        fn walk(c: &Condition, out: &mut Vec<usize>) {
            match c {
                Condition::And(v) | Condition::Or(v) => v.iter().for_each(|x| walk(x, out)),
                Condition::Not(x) => walk(x, out),
                Condition::Pred(i) => out.push(*i),
                _ => {}
            }
        }
        let mut idx = Vec::new();
        walk(&c, &mut idx);
        for i in idx {
            if let Some(p) = self.out.predicates.get_mut(i) {
                p.context.insert("elements".into(), how.into());
            }
        }
        c
    }
}
