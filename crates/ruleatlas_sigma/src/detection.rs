//! Lowering a `detection:` section: search identifiers (maps AND, lists OR, keywords) and the
//! condition(s) that combine them.

use std::collections::HashMap;

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{Condition, Lowered, Op, Origin, Predicate, PredicateKind, Unparsed, Value};
use ruleatlas_text::{LineColumn, LineIndex, TextRange};
use ruleatlas_yaml::{Node, Value as Y};

use crate::condition::{self, Aggregation, CondKind, CondNode, OfTarget, Quantifier};
use crate::modifiers::{self, Modifiers, OpModifier};

/// What lowering needs from the file: its path (for origins) and its text (to map positions
/// inside the condition string back to the file).
#[derive(Debug, Clone, Copy, Default)]
pub struct LowerContext<'a> {
    /// Path relative to the repository root.
    pub path: &'a str,
    /// The whole file text the YAML nodes' offsets point into.
    pub text: &'a str,
    /// The file's line index, when the caller already built one.
    pub lines: Option<&'a LineIndex>,
}

impl LowerContext<'_> {
    fn origin(&self, pos: LineColumn) -> Origin {
        Origin::new(self.path, pos)
    }

    fn line_column(&self, offset: usize) -> LineColumn {
        match self.lines {
            Some(l) => l.line_column(self.text, offset),
            None => LineIndex::new(self.text).line_column(self.text, offset),
        }
    }

    fn diag_at(&self, d: Diagnostic, pos: LineColumn) -> Diagnostic {
        d.with_path(self.path).at(pos)
    }
}

/// Keys of a detection section that are not search identifiers.
const RESERVED: [&str; 2] = ["condition", "timeframe"];

fn text_of(n: &Node) -> String {
    n.scalar_text().unwrap_or_default()
}

fn unparsed_at(
    l: &mut Lowered,
    ctx: &LowerContext,
    pos: LineColumn,
    text: String,
    reason: &str,
) -> Condition {
    let mut u = Unparsed::new(text, reason);
    u.origin = Some(ctx.origin(pos));
    l.diagnostics.push(ctx.diag_at(
        Diagnostic::warning("sigma-detection", reason.to_string()),
        pos,
    ));
    l.unparsed(u)
}

/// A scalar as a value, kept as written: YAML 1.2 readers turn `0x17`, `1_000`, `+12` into
/// numbers and `yes` into a boolean; such spellings stay strings here. Plain decimal numbers and
/// `true`/`false` stay typed.
fn yaml_value(n: &Node, ctx: &LowerContext) -> Option<Value> {
    let written = || {
        let src = n.offset.and_then(|o| ctx.text.get(o..))?;
        let end = src.find(['\n', '\r', ',', ']', '}']).unwrap_or(src.len());
        let token = &src[..end];
        let token = token.find(" #").map_or(token, |i| &token[..i]).trim();
        Some(token.to_string())
    };
    match &n.value {
        Y::Str(s) => Some(Value::Str(s.clone())),
        Y::Int(i) => match written() {
            Some(w) if !is_plain_int(&w) => Some(Value::Str(w)),
            _ => Some(Value::Int(*i)),
        },
        Y::Float(f) => match written() {
            Some(w) if w.contains('_') || w.starts_with('+') || w.starts_with('.') => {
                Some(Value::Str(w))
            }
            _ => Some(Value::Float(*f)),
        },
        Y::Bool(b) => match written() {
            Some(w) if !w.eq_ignore_ascii_case("true") && !w.eq_ignore_ascii_case("false") => {
                Some(Value::Str(w))
            }
            _ => Some(Value::Bool(*b)),
        },
        Y::Null | Y::Seq(_) | Y::Map(_) => None,
    }
}

fn is_plain_int(w: &str) -> bool {
    let digits = w.strip_prefix('-').unwrap_or(w);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Lowers one search identifier's definition.
pub(crate) fn lower_search(
    body: &Node,
    name_pos: LineColumn,
    name: &str,
    l: &mut Lowered,
    ctx: &LowerContext,
) -> Condition {
    match &body.value {
        Y::Map(entries) => lower_map(entries, body.pos, l, ctx),
        Y::Seq(items) => {
            if items.is_empty() {
                return unparsed_at(
                    l,
                    ctx,
                    name_pos,
                    name.to_string(),
                    "empty search identifier",
                );
            }
            if items.iter().all(|i| yaml_value(i, ctx).is_some()) {
                return keywords(items, l, ctx);
            }
            let mut alts = Vec::with_capacity(items.len());
            for item in items {
                let c = match &item.value {
                    Y::Map(entries) => lower_map(entries, item.pos, l, ctx),
                    Y::Seq(_) => unparsed_at(
                        l,
                        ctx,
                        item.pos,
                        name.to_string(),
                        "nested list in search identifier",
                    ),
                    Y::Null => {
                        unparsed_at(l, ctx, item.pos, name.to_string(), "null in keyword list")
                    }
                    _ => keywords(std::slice::from_ref(item), l, ctx),
                };
                alts.push(c);
            }
            Condition::or(alts)
        }
        Y::Null => unparsed_at(
            l,
            ctx,
            name_pos,
            name.to_string(),
            "empty search identifier",
        ),
        _ => keywords(std::slice::from_ref(body), l, ctx),
    }
}

/// Plain keywords: one `_text match` predicate, "any of" its values.
fn keywords(items: &[Node], l: &mut Lowered, ctx: &LowerContext) -> Condition {
    let values: Vec<Value> = items.iter().filter_map(|n| yaml_value(n, ctx)).collect();
    let mut p = Predicate::new("_text", Op::Match, values);
    if let Some(first) = items.first() {
        p.origin = Some(ctx.origin(first.pos));
        if let Some(o) = first.offset {
            p.span = Some(TextRange::empty(o));
        }
    }
    l.pred(p)
}

fn lower_map(
    entries: &[(Node, Node)],
    pos: LineColumn,
    l: &mut Lowered,
    ctx: &LowerContext,
) -> Condition {
    if entries.is_empty() {
        return unparsed_at(l, ctx, pos, "{}".to_string(), "empty search identifier");
    }
    let mut items = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        items.push(lower_item(k, v, l, ctx));
    }
    Condition::and(items)
}

fn with_origin(mut p: Predicate, node: &Node, ctx: &LowerContext) -> Predicate {
    p.origin = Some(ctx.origin(node.pos));
    if let Some(o) = node.offset {
        p.span = Some(TextRange::empty(o));
    }
    p
}

fn cmp_op(m: OpModifier) -> Op {
    match m {
        OpModifier::Contains => Op::Contains,
        OpModifier::StartsWith => Op::StartsWith,
        OpModifier::EndsWith => Op::EndsWith,
        OpModifier::Re => Op::RegexMatch,
        OpModifier::Cidr => Op::Cidr,
        OpModifier::Gt => Op::Gt,
        OpModifier::Gte => Op::Ge,
        OpModifier::Lt => Op::Lt,
        OpModifier::Lte => Op::Le,
    }
}

/// Applies case sensitivity and context that every predicate of one item shares.
fn decorate(mut p: Predicate, m: &Modifiers) -> Predicate {
    let is_re = m.ops.contains(&OpModifier::Re);
    p.case_sensitive = m.cased || (is_re && !m.re_flags.contains('i'));
    if !m.transforms.is_empty() {
        p = p.context("modifier", m.transforms.join("|"));
    }
    if is_re && !m.re_flags.is_empty() {
        p = p.context("regex_flags", m.re_flags.clone());
    }
    if m.expand {
        p = p.context("placeholder", true);
    }
    if let Some(t) = &m.time_part {
        p = p.context("time_part", t.clone());
    }
    p
}

fn at<'a>(key: &'a Node, n: &'a Node) -> &'a Node {
    if n.is_null() { key } else { n }
}

/// Lowers one `field|modifiers: value(s)` entry.
fn lower_item(key: &Node, value: &Node, l: &mut Lowered, ctx: &LowerContext) -> Condition {
    let key_text = text_of(key);
    let (raw_field, m) = modifiers::split_key(&key_text);
    let field = if raw_field.is_empty() {
        "_text"
    } else {
        raw_field
    };
    let item_text = || format!("{key_text}: {}", short_value(value));
    if !m.unknown.is_empty() {
        return unparsed_at(
            l,
            ctx,
            key.pos,
            item_text(),
            &format!("unknown modifier: {}", m.unknown.join("|")),
        );
    }
    if m.ops.len() > 1 {
        return unparsed_at(l, ctx, key.pos, item_text(), "conflicting modifiers");
    }
    // The values, each with its node (for origins).
    let nodes: Vec<&Node> = match &value.value {
        Y::Seq(items) => items.iter().collect(),
        Y::Map(_) => return unparsed_at(l, ctx, value.pos, item_text(), "map as a field value"),
        _ => vec![value],
    };
    if nodes.is_empty() {
        return unparsed_at(l, ctx, key.pos, item_text(), "empty value list");
    }
    if nodes
        .iter()
        .any(|n| matches!(n.value, Y::Seq(_) | Y::Map(_)))
    {
        return unparsed_at(
            l,
            ctx,
            value.pos,
            item_text(),
            "nested list as a field value",
        );
    }

    if m.exists {
        let mut preds = Vec::new();
        for n in &nodes {
            let Some(b) = n.as_bool() else {
                return unparsed_at(l, ctx, n.pos, item_text(), "exists needs true or false");
            };
            let p = with_origin(
                Predicate::new(field, Op::Exists, vec![Value::Bool(b != m.neq)]),
                at(key, n),
                ctx,
            );
            preds.push(l.pred(p));
        }
        return Condition::and(preds);
    }

    if m.fieldref {
        let op = m
            .ops
            .first()
            .map_or(if m.neq { Op::Ne } else { Op::Eq }, |o| cmp_op(*o));
        let mut preds = Vec::new();
        for n in &nodes {
            let Some(other) = n.scalar_text() else {
                return unparsed_at(
                    l,
                    ctx,
                    at(key, n).pos,
                    item_text(),
                    "fieldref needs a field name",
                );
            };
            let mut p = decorate(Predicate::new(field, op, vec![Value::Str(other)]), &m)
                .kind(PredicateKind::Join);
            if m.neq && op != Op::Ne {
                p = p.negative_op();
            }
            preds.push(l.pred(with_origin(p, at(key, n), ctx)));
        }
        return if m.all {
            Condition::and(preds)
        } else {
            Condition::or(preds)
        };
    }

    if let Some(opm) = m.ops.first().copied() {
        let op = cmp_op(opm);
        let mut values = Vec::with_capacity(nodes.len());
        for n in &nodes {
            match yaml_value(n, ctx) {
                Some(v) => values.push(v),
                None => {
                    return unparsed_at(
                        l,
                        ctx,
                        at(key, n).pos,
                        item_text(),
                        "null with a comparison modifier",
                    );
                }
            }
        }
        let groups: Vec<(Vec<Value>, &Node)> = if m.all {
            values
                .into_iter()
                .zip(nodes.iter().copied())
                .map(|(v, n)| (vec![v], n))
                .collect()
        } else {
            vec![(values, nodes[0])]
        };
        let mut preds = Vec::with_capacity(groups.len());
        for (vals, n) in groups {
            let mut p = decorate(Predicate::new(field, op, vals), &m);
            if m.neq {
                p = p.negative_op();
            }
            preds.push(l.pred(with_origin(p, n, ctx)));
        }
        return Condition::and(preds);
    }

    if field == "_text" {
        // `'|all': [a, b]`, `'|windash': x`: keywords with modifiers.
        let mut preds = Vec::new();
        if m.all {
            for n in &nodes {
                if let Some(v) = yaml_value(n, ctx) {
                    preds.push(l.pred(with_origin(
                        decorate(Predicate::new(field, Op::Match, vec![v]), &m),
                        n,
                        ctx,
                    )));
                }
            }
            return Condition::and(preds);
        }
        let values: Vec<Value> = nodes.iter().filter_map(|n| yaml_value(n, ctx)).collect();
        return l.pred(with_origin(
            decorate(Predicate::new(field, Op::Match, values), &m),
            nodes[0],
            ctx,
        ));
    }

    lower_plain(field, &m, &nodes, key, l, ctx)
}

/// Values without a comparison modifier: `eq`/`in`, `wildcard` for values holding unescaped
/// wildcards, `exists [false]` for `null`; `all` ANDs them one by one, `neq` negates.
fn lower_plain(
    field: &str,
    m: &Modifiers,
    nodes: &[&Node],
    key: &Node,
    l: &mut Lowered,
    ctx: &LowerContext,
) -> Condition {
    let is_wild = |v: &Value| {
        !m.expand && v.as_str().is_some_and(modifiers::has_wildcard)
            || m.expand
                && v.as_str()
                    .is_some_and(|s| modifiers::has_wildcard(&strip_placeholders(s)))
    };
    let one = |v: Value, n: &Node, l: &mut Lowered| -> Condition {
        let op = if is_wild(&v) {
            Op::Wildcard
        } else if m.neq {
            Op::Ne
        } else {
            Op::Eq
        };
        let mut p = decorate(Predicate::new(field, op, vec![v]), m);
        if m.neq && op == Op::Wildcard {
            p = p.negative_op();
        }
        l.pred(with_origin(p, n, ctx))
    };
    let null = |n: &Node, l: &mut Lowered| -> Condition {
        let at = if n.is_null() { key } else { n };
        l.pred(with_origin(
            Predicate::new(field, Op::Exists, vec![Value::Bool(m.neq)]),
            at,
            ctx,
        ))
    };
    if m.all || m.neq {
        // `neq` on a list: NOT (a OR b) is (ne a AND ne b).
        let mut preds = Vec::with_capacity(nodes.len());
        for n in nodes {
            match yaml_value(n, ctx) {
                Some(v) => preds.push(one(v, n, l)),
                None => preds.push(null(n, l)),
            }
        }
        return Condition::and(preds);
    }
    let mut exact: Vec<(Value, &Node)> = Vec::new();
    let mut wild: Vec<(Value, &Node)> = Vec::new();
    let mut nulls: Vec<&Node> = Vec::new();
    for n in nodes {
        match yaml_value(n, ctx) {
            Some(v) if is_wild(&v) => wild.push((v, n)),
            Some(v) => exact.push((v, n)),
            None => nulls.push(n),
        }
    }
    let mut alts = Vec::new();
    if !exact.is_empty() {
        let first = exact[0].1;
        let op = if exact.len() == 1 { Op::Eq } else { Op::In };
        let values = exact.into_iter().map(|(v, _)| v).collect();
        alts.push(l.pred(with_origin(
            decorate(Predicate::new(field, op, values), m),
            first,
            ctx,
        )));
    }
    if !wild.is_empty() {
        let first = wild[0].1;
        let values = wild.into_iter().map(|(v, _)| v).collect();
        alts.push(l.pred(with_origin(
            decorate(Predicate::new(field, Op::Wildcard, values), m),
            first,
            ctx,
        )));
    }
    for n in nulls {
        alts.push(null(n, l));
    }
    Condition::or(alts)
}

/// `%name%` placeholders removed (for deciding whether the rest holds wildcards).
fn strip_placeholders(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) => rest = &after[end + 1..],
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn short_value(n: &Node) -> String {
    match &n.value {
        Y::Seq(items) => {
            let parts: Vec<String> = items.iter().take(5).map(short_value).collect();
            let more = if items.len() > 5 { ", ..." } else { "" };
            format!("[{}{more}]", parts.join(", "))
        }
        Y::Map(_) => "{...}".to_string(),
        Y::Null => "null".to_string(),
        _ => text_of(n),
    }
}

/// Lowers a whole detection section (searches combined by `condition`) into `l`, returning
/// the tree. `extra_keys` are keys to skip besides `condition`/`timeframe` (filters' `rules`).
pub(crate) fn lower_detection(
    detection: &Node,
    skip: &[&str],
    l: &mut Lowered,
    ctx: &LowerContext,
) -> Condition {
    let Some(entries) = detection.as_map() else {
        return unparsed_at(
            l,
            ctx,
            detection.pos,
            short_value(detection),
            "detection is not a map",
        );
    };
    let defs: Vec<(String, &Node, &Node)> = entries
        .iter()
        .filter_map(|(k, v)| {
            let name = k.scalar_text()?;
            (!RESERVED.contains(&name.as_str()) && !skip.contains(&name.as_str()))
                .then_some((name, k, v))
        })
        .collect();
    let mut lw = SearchLowerer {
        defs,
        cache: HashMap::new(),
        ctx: *ctx,
    };
    let cond_node = entries
        .iter()
        .find(|(k, _)| k.as_str() == Some("condition"));
    let Some((cond_key, cond_value)) = cond_node else {
        return unparsed_at(
            l,
            ctx,
            detection.pos,
            "detection".to_string(),
            "missing condition",
        );
    };
    let conditions: Vec<&Node> = match &cond_value.value {
        Y::Seq(items) => items.iter().collect(),
        _ => vec![cond_value],
    };
    if conditions.is_empty() {
        return unparsed_at(
            l,
            ctx,
            cond_key.pos,
            "condition: []".to_string(),
            "missing condition",
        );
    }
    let mut alts = Vec::with_capacity(conditions.len());
    for c in conditions {
        alts.push(lw.lower_condition(c, l));
    }
    Condition::or(alts)
}

struct SearchLowerer<'a> {
    defs: Vec<(String, &'a Node, &'a Node)>,
    cache: HashMap<String, Condition>,
    ctx: LowerContext<'a>,
}

impl SearchLowerer<'_> {
    fn lower_condition(&mut self, node: &Node, l: &mut Lowered) -> Condition {
        let ctx = self.ctx;
        let Some(text) = node.scalar_text() else {
            return unparsed_at(
                l,
                &ctx,
                node.pos,
                short_value(node),
                "condition is not a string",
            );
        };
        // Offsets in the decoded condition -> file positions.
        // Built only when a position inside the condition is needed.
        let map = std::cell::OnceCell::new();
        let locate = |off: usize| -> LineColumn {
            let map = map.get_or_init(|| {
                node.offset
                    .map(|o| ruleatlas_yaml::scalar_offset_map(ctx.text, o, &text))
            });
            match map {
                Some(m) => ctx.line_column(m.to_source(off)),
                None => node.pos,
            }
        };
        let parsed = condition::parse_condition(&text);
        if let Some(d) = parsed.diagnostics.first() {
            let mut d = d.clone();
            let pos = d.range.map_or(node.pos, |r| locate(r.start as usize));
            d.locate(ctx.path, &locate);
            let reason = if d.code == "limit-depth" {
                "condition too deeply nested"
            } else {
                "condition syntax error"
            };
            let mut u = Unparsed::new(text.clone(), reason);
            u.origin = Some(ctx.origin(pos));
            l.diagnostics.push(d);
            return l.unparsed(u);
        }
        let ast = parsed.ast;
        let mut tree = match &ast.expr {
            Some(e) => self.lower_expr(e, l, &locate),
            None => Condition::Const(true),
        };
        if let Some(agg) = &ast.aggregation {
            let t = self.lower_aggregation(agg, l, &locate);
            tree = Condition::and(vec![tree, t]);
        }
        if let Some((near, r)) = &ast.near {
            let pos = locate(r.start as usize);
            let u = unparsed_at(l, &ctx, pos, near.clone(), "near aggregation not supported");
            tree = Condition::and(vec![tree, u]);
        }
        tree
    }

    fn search(&mut self, name: &str, l: &mut Lowered) -> Option<Condition> {
        if let Some(c) = self.cache.get(name) {
            return Some(c.clone());
        }
        let ctx = self.ctx;
        let (_, key, body) = self.defs.iter().find(|(n, _, _)| n == name)?;
        let (key, body) = (*key, *body);
        let c = lower_search(body, key.pos, name, l, &ctx);
        self.cache.insert(name.to_string(), c.clone());
        Some(c)
    }

    fn lower_expr(
        &mut self,
        e: &CondNode,
        l: &mut Lowered,
        locate: &dyn Fn(usize) -> LineColumn,
    ) -> Condition {
        let ctx = self.ctx;
        match &e.kind {
            CondKind::And(items) => {
                let v = items
                    .iter()
                    .map(|i| self.lower_expr(i, l, locate))
                    .collect();
                Condition::and(v)
            }
            CondKind::Or(items) => {
                let v = items
                    .iter()
                    .map(|i| self.lower_expr(i, l, locate))
                    .collect();
                Condition::or(v)
            }
            CondKind::Not(inner) => Condition::not(self.lower_expr(inner, l, locate)),
            CondKind::Ident(name) => match self.search(name, l) {
                Some(c) => c,
                None => {
                    let pos = locate(e.range.start as usize);
                    let reason = format!("undefined search identifier: {name}");
                    let mut u = Unparsed::new(name.clone(), "undefined search identifier");
                    u.origin = Some(ctx.origin(pos));
                    l.diagnostics
                        .push(ctx.diag_at(Diagnostic::error("sigma-condition", reason), pos));
                    l.unparsed(u)
                }
            },
            CondKind::Of(q, target) => {
                let names: Vec<String> = self
                    .defs
                    .iter()
                    .map(|(n, _, _)| n.clone())
                    .filter(|n| match target {
                        OfTarget::Them => !n.starts_with('_'),
                        OfTarget::Pattern(p) => condition::pattern_matches(p, n),
                    })
                    .collect();
                if names.is_empty() {
                    let text = condition::print(e);
                    let pos = locate(e.range.start as usize);
                    let mut u = Unparsed::new(text, "no search identifier matches the pattern");
                    u.origin = Some(ctx.origin(pos));
                    l.diagnostics.push(ctx.diag_at(
                        Diagnostic::error(
                            "sigma-condition",
                            format!("no search identifier matches '{}'", condition::print(e)),
                        ),
                        pos,
                    ));
                    return l.unparsed(u);
                }
                let parts: Vec<Condition> =
                    names.iter().filter_map(|n| self.search(n, l)).collect();
                match q {
                    Quantifier::Any => Condition::or(parts),
                    Quantifier::All => Condition::and(parts),
                    Quantifier::Count(n) => {
                        let pos = locate(e.range.start as usize);
                        let mut u =
                            Unparsed::new(condition::print(e), format!("{n} of is not supported"));
                        u.origin = Some(ctx.origin(pos));
                        l.unparsed(u)
                    }
                }
            }
        }
    }

    fn lower_aggregation(
        &mut self,
        agg: &Aggregation,
        l: &mut Lowered,
        locate: &dyn Fn(usize) -> LineColumn,
    ) -> Condition {
        let ctx = self.ctx;
        let pos = locate(agg.range.start as usize);
        let field = agg.field.clone().unwrap_or_else(|| agg.function.clone());
        let mut p = Predicate::new(field, agg.op, vec![agg.value.clone()])
            .kind(PredicateKind::Threshold)
            .context("aggregation", agg.function.clone());
        p.origin = Some(ctx.origin(pos));
        let mut parts = vec![l.pred(p)];
        if let Some(g) = &agg.group_by {
            let mut j = Predicate::new(g.clone(), Op::Eq, vec![Value::Str(g.clone())])
                .kind(PredicateKind::Join)
                .context("group_by", true);
            j.origin = Some(ctx.origin(pos));
            parts.push(l.pred(j));
        }
        Condition::and(parts)
    }
}
