//! The SPL parser: a pipeline splitter, one reader per command, a recursive-descent parser
//! for the search language (where OR binds tighter than AND) and a Pratt parser for
//! `eval`/`where` expressions (where AND binds tighter than OR).
//!
//! Nesting (parentheses, NOT chains, subsearches) is bounded by a [`DepthGuard`]; hitting it
//! makes the command an [`CommandBody::Error`] with a diagnostic, never a stack overflow.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{DepthGuard, Parsed};
use ruleatlas_text::TextRange;

use crate::ast::{
    Agg, Ast, BinOp, CmpOp, Command, CommandBody, EKind, ENode, Pipeline, SKind, SNode, SValue,
};
use crate::lexer::{Mode, Tok, Token, lex, matching_bracket};

/// Parses an (already macro-expanded) SPL query.
#[must_use]
pub fn parse(text: &str) -> Parsed<Ast> {
    let mut p = Parser {
        src: text,
        guard: DepthGuard::default(),
        diags: Vec::new(),
    };
    let pipeline = p.pipeline(0, text.len());
    Parsed {
        ast: Ast {
            text: text.to_string(),
            pipeline,
        },
        diagnostics: p.diags,
    }
}

/// A parse error: message and where.
type PResult<T> = Result<T, (String, TextRange)>;

struct Parser<'a> {
    src: &'a str,
    guard: DepthGuard,
    diags: Vec<Diagnostic>,
}

/// Time modifiers of the search language: they pick a time range, not events by content.
const TIME_MODIFIERS: &[&str] = &[
    "earliest",
    "latest",
    "starttime",
    "endtime",
    "starthoursago",
    "endhoursago",
    "startdaysago",
    "enddaysago",
    "startminutesago",
    "endminutesago",
    "startmonthsago",
    "endmonthsago",
    "daysago",
    "hoursago",
    "minutesago",
    "monthsago",
    "searchtimespandays",
    "searchtimespanhours",
    "searchtimespanminutes",
    "searchtimespanmonths",
    "timeformat",
    "_index_earliest",
    "_index_latest",
];

/// Commands that cannot drop events and make no column a filter could later depend on in a
/// way we track (or only reshape results).
const PASSTHROUGH: &[&str] = &[
    "table",
    "fields",
    "sort",
    "head",
    "tail",
    "dedup",
    "reverse",
    "bin",
    "bucket",
    "makemv",
    "mvexpand",
    "mvcombine",
    "nomv",
    "fillnull",
    "filldown",
    "addinfo",
    "addcoltotals",
    "outputlookup",
    "collect",
    "sendalert",
    "sendemail",
    "summaryindex",
    "mcollect",
    "tscollect",
    "localize",
    "typer",
    "tags",
    "fieldformat",
    "highlight",
    "abstract",
    "foreach",
    "apply",
    "fit",
    "format",
    "return",
    "transpose",
    "xyseries",
    "untable",
    "kv",
    "extract",
    "xmlkv",
    "fromjson",
    "tojson",
    "kvform",
    "multikv",
    "replace",
    "makeresults",
    "rest",
    "metadata",
    "eventcount",
    "dbinspect",
    "gentimes",
    "noop",
    "localop",
    "predict",
    "trendline",
    "concurrency",
    "reltime",
    "setfields",
    "scrub",
    "appendcols",
    "ldapfilter",
    "ldapgroup",
    "sample",
    "outlier",
    "fieldsummary",
    "analyzefields",
    "x11",
    "autoregress",
    "accum",
    "delta",
    "streamedcsv",
    "erex",
    "iconify",
    "addtotals",
    "rangemap",
    "strcat",
    "convert",
    "bucketdir",
    "makecontinuous",
];

/// Commands that may open a (sub)search without a leading pipe.
const GENERATING: &[&str] = &[
    "search",
    "tstats",
    "mstats",
    "inputlookup",
    "datamodel",
    "makeresults",
    "rest",
    "metadata",
    "dbinspect",
    "eventcount",
    "summary",
];

/// Known commands that can drop events and that we do not lower.
const UNSUPPORTED: &[&str] = &[
    "map",
    "anomalies",
    "cluster",
    "uniq",
    "set",
    "selfjoin",
    "savedsearch",
    "loadjob",
    "pivot",
    "ldapsearch",
    "kmeans",
    "associate",
    "diff",
    "searchtxn",
    "script",
    "run",
    "mstime",
];

impl Parser<'_> {
    fn error(&mut self, msg: &str, range: TextRange) {
        // The depth guard's error (`TooDeep`) is a limit, not a syntax error.
        let code = if msg.starts_with("nesting deeper than") {
            "limit-depth"
        } else {
            "spl-syntax"
        };
        self.diags
            .push(Diagnostic::error(code, msg).with_range(range));
    }

    /// Splits `src[start..end]` at top-level pipes and parses each command.
    fn pipeline(&mut self, start: usize, end: usize) -> Pipeline {
        let b = self.src.as_bytes();
        let mut ranges = Vec::new();
        let mut seg = start;
        let mut i = start;
        while i < end {
            match b[i] {
                b'\\' => {
                    i += 1;
                }
                b'"' => {
                    i = next_quote(b, i, end);
                }
                b'[' => {
                    i = matching_bracket(self.src, i, end).unwrap_or(end);
                }
                b'`' => {
                    i = self.src[i + 1..end].find('`').map_or(end, |k| i + 1 + k);
                }
                b'|' => {
                    ranges.push((seg, i));
                    seg = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        ranges.push((seg, end));
        let leading_pipe = ranges.len() > 1 && self.src[ranges[0].0..ranges[0].1].trim().is_empty();
        let mut commands = Vec::new();
        for (k, &(s, e)) in ranges.iter().enumerate() {
            let (s, e) = trim(self.src, s, e);
            if s >= e {
                continue;
            }
            commands.push(self.command(s, e, k == 0 && !leading_pipe));
        }
        Pipeline {
            commands,
            span: TextRange::new(start, end),
        }
    }

    fn command(&mut self, s: usize, e: usize, implicit_search: bool) -> Command {
        let span = TextRange::new(s, e);
        // A (sub)search may name its first command without a pipe: `[search ...]`,
        // `[ mstats ... ]`.
        let explicit_search = self.src[s..e]
            .split_once(|c: char| c.is_whitespace())
            .is_some_and(|(w, _)| GENERATING.iter().any(|g| w.eq_ignore_ascii_case(g)));
        if implicit_search && !explicit_search {
            let body = self.search_body(s, e);
            return Command {
                name: "search".into(),
                span,
                body,
            };
        }
        let text = &self.src[s..e];
        if text.starts_with('`') {
            return Command {
                name: text.to_string(),
                span,
                body: CommandBody::Macro,
            };
        }
        let name_len = text
            .find(|c: char| c.is_whitespace() || matches!(c, '[' | '(' | '"' | '='))
            .unwrap_or(text.len());
        let name = text[..name_len].to_ascii_lowercase();
        let bs = s + name_len;
        let body = match name.as_str() {
            "search" => self.search_body(bs, e),
            "where" => self.where_body(bs, e),
            "eval" => self.eval_body(bs, e),
            "stats" | "chart" | "timechart" | "geostats" | "sistats" | "sichart"
            | "sitimechart" => self.stats_body(bs, e, true),
            "eventstats" | "streamstats" => self.stats_body(bs, e, false),
            "top" | "rare" => self.top_body(bs, e),
            "transaction" => CommandBody::Stats {
                aggs: ["eventcount", "duration"]
                    .iter()
                    .map(|c| Agg {
                        func: (*c).into(),
                        field: None,
                        column: (*c).into(),
                        span,
                    })
                    .collect(),
                by: Vec::new(),
                closes: false,
            },
            "tstats" | "mstats" => self.tstats_body(bs, e),
            "from" => self.datamodel_from_body(bs, e),
            "datamodel" => self.datamodel_body(bs, e),
            "rename" => self.rename_body(bs, e),
            "lookup" => self.lookup_body(bs, e),
            "inputlookup" | "inputcsv" => self.inputlookup_body(bs, e),
            // MLTK `summary <model>`: rows read from a model, like a lookup's.
            "summary" => {
                let model = self.src[bs..e]
                    .split_whitespace()
                    .last()
                    .unwrap_or("")
                    .to_string();
                CommandBody::InputLookup {
                    name: model,
                    filter: None,
                    append: false,
                }
            }
            "regex" => self.regex_body(bs, e),
            "rex" => self.rex_body(bs, e),
            "spath" => self.spath_body(bs, e),
            "iplocation" => self.iplocation_body(bs, e),
            "join" => self.join_body(bs, e),
            "append" | "union" | "multisearch" => self.append_body(bs, e),
            "appendpipe" => self.appendpipe_body(bs, e),
            // `action=annotate|summary` only adds columns; the default (`filter`) drops events.
            "anomalydetection" | "outlier"
                if has_option(
                    &self.src[bs..e],
                    "action",
                    &["annotate", "summary", "transform", "tf"],
                ) =>
            {
                CommandBody::Passthrough
            }
            "anomalydetection" => CommandBody::Unsupported,
            "outlier" if has_option(&self.src[bs..e], "action", &["remove", "rm"]) => {
                CommandBody::Unsupported
            }
            n if PASSTHROUGH.contains(&n) => CommandBody::Passthrough,
            n if UNSUPPORTED.contains(&n) => CommandBody::Unsupported,
            _ => CommandBody::Unknown,
        };
        Command { name, span, body }
    }

    /// Lexes a command body; a lexer error (returned as its message) fails the command.
    fn tokens(&mut self, s: usize, e: usize, mode: Mode) -> Result<Vec<Token>, String> {
        let (toks, diags) = lex(self.src, s, e, mode);
        if let Some(first) = diags.first() {
            let message = first.message.clone();
            self.diags.extend(diags);
            return Err(message);
        }
        Ok(toks)
    }

    fn fail(&mut self, (msg, range): (String, TextRange)) -> CommandBody {
        self.error(&msg, range);
        CommandBody::Error { message: msg }
    }

    // ---- search language ------------------------------------------------------------

    fn search_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Search) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        match self.search_tokens(&toks) {
            Ok(node) => CommandBody::Search(node),
            Err(err) => self.fail(err),
        }
    }

    /// Parses a whole token slice as a search expression.
    fn search_tokens(&mut self, toks: &[Token]) -> PResult<Option<SNode>> {
        let mut ts = Ts { toks, pos: 0 };
        let node = self.s_and(&mut ts, false)?;
        if let Some(t) = ts.peek() {
            return Err((format!("unexpected `{}`", t.text(self.src)), t.span));
        }
        Ok(node)
    }

    /// Implicit or explicit AND of OR-groups, up to `)` (when nested) or the end.
    fn s_and(&mut self, ts: &mut Ts, nested: bool) -> PResult<Option<SNode>> {
        let mut items = Vec::new();
        while let Some(t) = ts.peek() {
            match t.tok {
                Tok::RParen if nested => break,
                Tok::RParen => {
                    return Err(("unbalanced parenthesis: `)` without `(`".into(), t.span));
                }
                Tok::Comma => {
                    ts.pos += 1;
                }
                _ if t.is_exact(self.src, "AND") => {
                    ts.pos += 1;
                }
                _ => items.push(self.s_or(ts)?),
            }
        }
        Ok(match items.len() {
            0 => None,
            1 => items.pop(),
            _ => {
                let span = cover(&items);
                Some(SNode {
                    kind: SKind::And(items),
                    span,
                })
            }
        })
    }

    fn s_or(&mut self, ts: &mut Ts) -> PResult<SNode> {
        let first = self.s_unary(ts)?;
        let mut items = vec![first];
        while ts.peek().is_some_and(|t| t.is_exact(self.src, "OR")) {
            ts.pos += 1;
            if ts.peek().is_none() {
                let span = items.last().map_or_else(TextRange::default, |n| n.span);
                return Err(("`OR` without a right operand".into(), span));
            }
            items.push(self.s_unary(ts)?);
        }
        if items.len() == 1 {
            return Ok(items.remove(0));
        }
        let span = cover(&items);
        Ok(SNode {
            kind: SKind::Or(items),
            span,
        })
    }

    fn s_unary(&mut self, ts: &mut Ts) -> PResult<SNode> {
        let Some(t) = ts.peek() else {
            return Err(("expected a search term".into(), ts.end_span()));
        };
        if t.is_exact(self.src, "NOT") {
            let start = t.span;
            ts.pos += 1;
            self.enter(start)?;
            let inner = self.s_unary(ts);
            self.guard.leave();
            let inner = inner?;
            let span = start.cover(inner.span);
            return Ok(SNode {
                kind: SKind::Not(Box::new(inner)),
                span,
            });
        }
        self.s_primary(ts)
    }

    fn enter(&mut self, at: TextRange) -> PResult<()> {
        self.guard.enter().map_err(|e| (e.to_string(), at))
    }

    fn s_primary(&mut self, ts: &mut Ts) -> PResult<SNode> {
        let Some(t) = ts.next() else {
            return Err(("expected a search term".into(), ts.end_span()));
        };
        let src = self.src;
        match &t.tok {
            Tok::LParen => {
                self.enter(t.span)?;
                let inner = self.s_and(ts, true);
                self.guard.leave();
                let inner = inner?;
                let Some(close) = ts.next().filter(|c| c.tok == Tok::RParen) else {
                    return Err(("unbalanced parenthesis: `(` is never closed".into(), t.span));
                };
                let span = t.span.cover(close.span);
                Ok(inner.map_or(
                    SNode {
                        kind: SKind::And(Vec::new()),
                        span,
                    },
                    |n| SNode { kind: n.kind, span },
                ))
            }
            Tok::Sub(r) => {
                self.enter(t.span)?;
                let p = self.pipeline(r.start as usize, r.end as usize);
                self.guard.leave();
                Ok(SNode {
                    kind: SKind::Subsearch(Box::new(p)),
                    span: t.span,
                })
            }
            Tok::Macro => Ok(SNode {
                kind: SKind::Macro,
                span: t.span,
            }),
            Tok::Word | Tok::Str(_) => {
                let name = match &t.tok {
                    Tok::Str(s) => s.clone(),
                    _ => t.text(src).to_string(),
                };
                let quoted = matches!(t.tok, Tok::Str(_));
                if let Some(op) = ts.peek().and_then(|n| cmp_op(&n.tok)) {
                    ts.pos += 1;
                    let value = match ts.peek() {
                        Some(v)
                            if matches!(v.tok, Tok::Word | Tok::Str(_)) && !is_bool_kw(v, src) =>
                        {
                            ts.pos += 1;
                            svalue(v, src)
                        }
                        _ => SValue {
                            text: String::new(),
                            quoted: false,
                        },
                    };
                    let span = t.span.cover(ts.prev_span());
                    if !quoted && TIME_MODIFIERS.iter().any(|m| name.eq_ignore_ascii_case(m)) {
                        return Ok(SNode {
                            kind: SKind::TimeModifier,
                            span,
                        });
                    }
                    return Ok(SNode {
                        kind: SKind::Cmp {
                            field: name,
                            op,
                            value,
                        },
                        span,
                    });
                }
                if ts.peek().is_some_and(|n| n.is_word(src, "IN"))
                    && ts.peek_at(1).is_some_and(|n| n.tok == Tok::LParen)
                {
                    ts.pos += 2;
                    let mut values = Vec::new();
                    loop {
                        let Some(v) = ts.next() else {
                            return Err((
                                "unbalanced parenthesis: `IN (` is never closed".into(),
                                t.span,
                            ));
                        };
                        match &v.tok {
                            Tok::RParen => break,
                            Tok::Comma => {}
                            Tok::Word | Tok::Str(_) => values.push(svalue(v, src)),
                            _ => {
                                return Err((
                                    format!("unexpected `{}` in IN list", v.text(src)),
                                    v.span,
                                ));
                            }
                        }
                    }
                    let span = t.span.cover(ts.prev_span());
                    return Ok(SNode {
                        kind: SKind::In {
                            field: name,
                            values,
                        },
                        span,
                    });
                }
                if !quoted
                    && (name.eq_ignore_ascii_case("TERM") || name.eq_ignore_ascii_case("CASE"))
                    && ts.peek().is_some_and(|n| n.tok == Tok::LParen)
                {
                    ts.pos += 1;
                    let start = ts
                        .peek()
                        .map_or(t.span.end as usize, |n| n.span.start as usize);
                    let mut end = start;
                    loop {
                        let Some(v) = ts.next() else {
                            return Err((
                                format!("unbalanced parenthesis: `{name}(` is never closed"),
                                t.span,
                            ));
                        };
                        if v.tok == Tok::RParen {
                            break;
                        }
                        end = v.span.end as usize;
                    }
                    let inner = src.get(start..end).unwrap_or("");
                    let text = inner
                        .strip_prefix('"')
                        .and_then(|x| x.strip_suffix('"'))
                        .unwrap_or(inner);
                    let span = t.span.cover(ts.prev_span());
                    return Ok(SNode {
                        kind: SKind::Term(SValue {
                            text: text.to_string(),
                            quoted: true,
                        }),
                        span,
                    });
                }
                Ok(SNode {
                    kind: SKind::Term(SValue { text: name, quoted }),
                    span: t.span,
                })
            }
            _ => Err((format!("unexpected `{}`", t.text(src)), t.span)),
        }
    }

    // ---- expressions ----------------------------------------------------------------

    fn where_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Expr) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let mut ts = Ts {
            toks: &toks,
            pos: 0,
        };
        let r = self.expr(&mut ts, 0).and_then(|n| match ts.peek() {
            Some(t) => Err((format!("unexpected `{}`", t.text(self.src)), t.span)),
            None => Ok(n),
        });
        match r {
            Ok(n) => CommandBody::Where(n),
            Err(err) => self.fail(err),
        }
    }

    fn eval_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Expr) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let mut ts = Ts {
            toks: &toks,
            pos: 0,
        };
        let mut out = Vec::new();
        while let Some(t) = ts.next() {
            let mut name = match &t.tok {
                Tok::Word => t.text(self.src).to_string(),
                Tok::Str(s) | Tok::QField(s) => s.clone(),
                Tok::Comma => continue,
                _ => {
                    return self.fail((
                        format!("expected a field name, found `{}`", t.text(self.src)),
                        t.span,
                    ));
                }
            };
            // Names may hold operator characters (`feature_-value=`): read up to the `=`.
            if matches!(t.tok, Tok::Word) {
                let mut end = t.span;
                while let Some(n) = ts
                    .peek()
                    .filter(|n| n.tok != Tok::Eq && n.tok != Tok::Comma && n.span.start == end.end)
                {
                    end = n.span;
                    ts.pos += 1;
                }
                name = t.span.cover(end).slice(self.src).to_string();
            }
            if !ts.next().is_some_and(|n| n.tok == Tok::Eq) {
                return self.fail((format!("expected `=` after `{name}`"), t.span));
            }
            match self.expr(&mut ts, 0) {
                Ok(n) => out.push((name, n)),
                Err(err) => return self.fail(err),
            }
            if let Some(n) = ts.peek()
                && n.tok != Tok::Comma
            {
                return self.fail((format!("unexpected `{}`", n.text(self.src)), n.span));
            }
        }
        CommandBody::Eval(out)
    }

    /// Pratt loop over binding powers: OR 1, XOR 2, AND 3, comparisons 5, `+ - .` 6,
    /// `* / %` 7. `NOT` takes a comparison-level operand.
    fn expr(&mut self, ts: &mut Ts, min_bp: u8) -> PResult<ENode> {
        let at = ts.peek().map_or_else(|| ts.end_span(), |t| t.span);
        self.enter(at)?;
        let r = self.expr_inner(ts, min_bp);
        self.guard.leave();
        r
    }

    /// Left-nested chains (`a+b+c`, `x IN (..) = y`) count against the depth guard, one
    /// level per link, so that no chain makes a tree too deep to walk or drop; AND/OR/XOR
    /// chains are flat lists instead.
    fn expr_inner(&mut self, ts: &mut Ts, min_bp: u8) -> PResult<ENode> {
        let mut levels = 0;
        let r = self.expr_chain(ts, min_bp, &mut levels);
        for _ in 0..levels {
            self.guard.leave();
        }
        r
    }

    fn expr_chain(&mut self, ts: &mut Ts, min_bp: u8, levels: &mut usize) -> PResult<ENode> {
        let mut lhs = self.e_prefix(ts)?;
        while let Some(t) = ts.peek() {
            let src = self.src;
            let (op, bp) = match &t.tok {
                Tok::Word if t.is_word(src, "OR") => (Some(BinOp::Or), 1),
                Tok::Word if t.is_word(src, "XOR") => (Some(BinOp::Xor), 2),
                Tok::Word if t.is_word(src, "AND") => (Some(BinOp::And), 3),
                Tok::Word if t.is_word(src, "LIKE") => (Some(BinOp::Like), 5),
                Tok::Word
                    if t.is_word(src, "IN")
                        && ts.peek_at(1).is_some_and(|n| n.tok == Tok::LParen) =>
                {
                    (None, 5)
                }
                Tok::Eq | Tok::EqEq => (Some(BinOp::Eq), 5),
                Tok::Ne => (Some(BinOp::Ne), 5),
                Tok::Lt => (Some(BinOp::Lt), 5),
                Tok::Le => (Some(BinOp::Le), 5),
                Tok::Gt => (Some(BinOp::Gt), 5),
                Tok::Ge => (Some(BinOp::Ge), 5),
                Tok::Plus => (Some(BinOp::Add), 6),
                Tok::Minus => (Some(BinOp::Sub), 6),
                Tok::Dot => (Some(BinOp::Concat), 6),
                Tok::Star => (Some(BinOp::Mul), 7),
                Tok::Slash => (Some(BinOp::Div), 7),
                Tok::Percent => (Some(BinOp::Mod), 7),
                _ => break,
            };
            if bp <= min_bp {
                break;
            }
            ts.pos += 1;
            if !matches!(op, Some(BinOp::And | BinOp::Or | BinOp::Xor)) {
                self.enter(t.span)?;
                *levels += 1;
            }
            let Some(op) = op else {
                // `x IN (a, b)`
                ts.pos += 1;
                let list = self.e_args(ts, t.span)?;
                let span = lhs.span.cover(ts.prev_span());
                lhs = ENode {
                    kind: EKind::In {
                        lhs: Box::new(lhs),
                        list,
                    },
                    span,
                };
                continue;
            };
            let rhs = self.expr(ts, bp)?;
            let span = lhs.span.cover(rhs.span);
            if matches!(op, BinOp::And | BinOp::Or | BinOp::Xor) {
                let items = match lhs.kind {
                    EKind::Logic { op: o, mut items } if o == op => {
                        items.push(rhs);
                        items
                    }
                    kind => vec![
                        ENode {
                            kind,
                            span: lhs.span,
                        },
                        rhs,
                    ],
                };
                lhs = ENode {
                    kind: EKind::Logic { op, items },
                    span,
                };
                continue;
            }
            lhs = ENode {
                kind: EKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        Ok(lhs)
    }

    /// Comma-separated expressions up to `)` (the `(` already consumed).
    fn e_args(&mut self, ts: &mut Ts, open: TextRange) -> PResult<Vec<ENode>> {
        let mut args = Vec::new();
        loop {
            match ts.peek() {
                None => return Err(("unbalanced parenthesis: `(` is never closed".into(), open)),
                Some(t) if t.tok == Tok::RParen => {
                    ts.pos += 1;
                    return Ok(args);
                }
                Some(t) if t.tok == Tok::Comma => {
                    ts.pos += 1;
                }
                Some(_) => args.push(self.expr(ts, 0)?),
            }
        }
    }

    fn e_prefix(&mut self, ts: &mut Ts) -> PResult<ENode> {
        let Some(t) = ts.next() else {
            return Err(("expected an expression".into(), ts.end_span()));
        };
        let src = self.src;
        match &t.tok {
            Tok::Word if t.is_word(src, "NOT") => {
                let inner = self.expr(ts, 4)?;
                let span = t.span.cover(inner.span);
                Ok(ENode {
                    kind: EKind::Not(Box::new(inner)),
                    span,
                })
            }
            Tok::Minus => {
                let inner = self.expr(ts, 7)?;
                let span = t.span.cover(inner.span);
                Ok(ENode {
                    kind: EKind::Neg(Box::new(inner)),
                    span,
                })
            }
            Tok::LParen => {
                let inner = self.expr(ts, 0)?;
                let Some(close) = ts.next().filter(|c| c.tok == Tok::RParen) else {
                    return Err(("unbalanced parenthesis: `(` is never closed".into(), t.span));
                };
                Ok(ENode {
                    kind: inner.kind,
                    span: t.span.cover(close.span),
                })
            }
            Tok::Word if ts.peek().is_some_and(|n| n.tok == Tok::LParen) => {
                let name = t.text(src).to_ascii_lowercase();
                let open = ts.next().map_or(t.span, |o| o.span);
                let args = self.e_args(ts, open)?;
                let span = t.span.cover(ts.prev_span());
                Ok(ENode {
                    kind: EKind::Call { name, args },
                    span,
                })
            }
            Tok::Word => {
                let w = t.text(src);
                let kind = if w.parse::<f64>().is_ok() {
                    EKind::Num(w.to_string())
                } else {
                    EKind::Field(w.to_string())
                };
                Ok(ENode { kind, span: t.span })
            }
            Tok::Str(s) => Ok(ENode {
                kind: EKind::Str(s.clone()),
                span: t.span,
            }),
            Tok::QField(s) => Ok(ENode {
                kind: EKind::Field(s.clone()),
                span: t.span,
            }),
            Tok::Macro => Ok(ENode {
                kind: EKind::Macro,
                span: t.span,
            }),
            _ => Err((format!("unexpected `{}`", t.text(src)), t.span)),
        }
    }

    // ---- statistics -----------------------------------------------------------------

    fn stats_body(&mut self, s: usize, e: usize, closes: bool) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Search) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let (aggs, by) = self.aggs_and_by(&toks);
        CommandBody::Stats { aggs, by, closes }
    }

    fn top_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Search) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let mut by = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if toks.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) {
                i += 3;
                continue;
            }
            let t = &toks[i];
            if matches!(t.tok, Tok::Word | Tok::Str(_)) && !t.is_word(self.src, "by") {
                by.push(word_text(t, self.src));
            }
            i += 1;
        }
        let span = TextRange::new(s, e);
        let aggs = ["count", "percent"]
            .iter()
            .map(|c| Agg {
                func: (*c).into(),
                field: None,
                column: (*c).into(),
                span,
            })
            .collect();
        CommandBody::Stats {
            aggs,
            by,
            closes: true,
        }
    }

    /// Reads `func(arg) [as alias] ... [by f1, f2]`, skipping `name=value` options.
    fn aggs_and_by(&self, toks: &[Token]) -> (Vec<Agg>, Vec<String>) {
        let src = self.src;
        let mut aggs = Vec::new();
        let mut by = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            if t.is_word(src, "by") {
                by = by_fields(&toks[i + 1..], src);
                break;
            }
            if toks.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) {
                i += 3;
                continue;
            }
            if t.tok != Tok::Word {
                i += 1;
                continue;
            }
            let func = t.text(src).to_ascii_lowercase();
            let mut column = t.text(src).to_string();
            let mut field = None;
            let mut end = i + 1;
            if toks.get(i + 1).is_some_and(|n| n.tok == Tok::LParen) {
                let close = close_paren(toks, i + 1);
                let inner = &toks[(i + 2).min(close)..close];
                if inner.len() == 1 && matches!(inner[0].tok, Tok::Word | Tok::Str(_)) {
                    field = Some(word_text(&inner[0], src));
                }
                let last = toks.get(close).map_or(t.span, |c| c.span);
                column = t.span.cover(last).slice(src).to_string();
                end = close + 1;
            }
            let mut span = t.span;
            if toks.get(end).is_some_and(|n| n.is_word(src, "as"))
                && let Some(alias) = toks.get(end + 1)
            {
                column = word_text(alias, src);
                span = span.cover(alias.span);
                end += 2;
            }
            aggs.push(Agg {
                func,
                field,
                column,
                span,
            });
            i = end;
        }
        (aggs, by)
    }

    fn tstats_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Search) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let mut datamodel = None;
        let mut filter = None;
        let mut by = Vec::new();
        let mut agg_toks: Vec<Token> = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            if t.is_word(src, "from") {
                if let Some(n) = toks.get(i + 1) {
                    let w = n.text(src);
                    if let Some(dm) = strip_prefix_ci(w, "datamodel:") {
                        datamodel = Some(dm.trim_matches('"').to_string());
                        i += 2;
                    } else if w.eq_ignore_ascii_case("datamodel")
                        && toks.get(i + 2).is_some_and(|x| x.tok == Tok::Eq)
                    {
                        datamodel = toks.get(i + 3).map(|x| word_text(x, src));
                        i += 4;
                    } else {
                        i += 2;
                    }
                } else {
                    i += 1;
                }
                continue;
            }
            if t.is_word(src, "where") {
                let mut j = i + 1;
                let mut depth = 0i32;
                while j < toks.len() {
                    match toks[j].tok {
                        Tok::LParen => depth += 1,
                        Tok::RParen => depth -= 1,
                        _ if depth == 0
                            && (toks[j].is_word(src, "by") || toks[j].is_word(src, "from")) =>
                        {
                            break;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                match self.search_tokens(&toks[i + 1..j]) {
                    Ok(n) => filter = n,
                    Err(err) => return self.fail(err),
                }
                i = j;
                continue;
            }
            if t.is_word(src, "by") {
                let mut j = i + 1;
                while j < toks.len()
                    && !toks[j].is_word(src, "where")
                    && !toks[j].is_word(src, "from")
                {
                    j += 1;
                }
                by = by_fields(&toks[i + 1..j], src);
                i = j;
                continue;
            }
            agg_toks.push(t.clone());
            i += 1;
        }
        let (aggs, _) = self.aggs_and_by(&agg_toks);
        CommandBody::Tstats {
            datamodel,
            aggs,
            filter,
            by,
        }
    }

    fn datamodel_from_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let first = toks.first().map(|t| t.text(src)).unwrap_or("");
        if let Some(dm) = strip_prefix_ci(first, "datamodel:") {
            let dm = if dm.is_empty() {
                toks.get(1).map(|t| word_text(t, src)).unwrap_or_default()
            } else {
                dm.trim_matches('"').to_string()
            };
            return CommandBody::DataModel { name: dm };
        }
        if first.eq_ignore_ascii_case("datamodel") {
            let name = match toks.get(1).map(|t| &t.tok) {
                Some(Tok::Eq) => toks.get(2).map(|t| word_text(t, src)).unwrap_or_default(),
                _ => toks.get(1).map(|t| word_text(t, src)).unwrap_or_default(),
            };
            let name = name.trim_start_matches(':').to_string();
            return CommandBody::DataModel { name };
        }
        CommandBody::Unsupported
    }

    fn datamodel_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let words: Vec<String> = toks
            .iter()
            .filter(|t| t.tok == Tok::Word)
            .map(|t| t.text(self.src).to_string())
            .collect();
        let mut name = words.first().cloned().unwrap_or_default();
        if let Some(ds) = words.get(1)
            && !ds.eq_ignore_ascii_case("search")
            && !ds.eq_ignore_ascii_case("flat")
        {
            name = format!("{name}.{ds}");
        }
        CommandBody::DataModel { name }
    }

    // ---- field-shaping commands -------------------------------------------------------

    fn rename_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let mut pairs = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if toks[i].tok == Tok::Comma {
                i += 1;
                continue;
            }
            if toks.get(i + 1).is_some_and(|t| t.is_word(src, "as"))
                && let Some(to) = toks.get(i + 2)
            {
                pairs.push((word_text(&toks[i], src), word_text(to, src)));
                i += 3;
            } else {
                return self.fail(("expected `<field> AS <new name>`".into(), toks[i].span));
            }
        }
        CommandBody::Rename(pairs)
    }

    fn lookup_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let mut name = String::new();
        let mut outputs = Vec::new();
        let mut in_output = false;
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            if !in_output && toks.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) && name.is_empty() {
                i += 3;
                continue;
            }
            if t.is_word(src, "output") || t.is_word(src, "outputnew") {
                in_output = true;
                i += 1;
                continue;
            }
            if t.tok == Tok::Comma {
                i += 1;
                continue;
            }
            if name.is_empty() {
                name = word_text(t, src);
            } else if in_output {
                let mut col = word_text(t, src);
                if toks.get(i + 1).is_some_and(|n| n.is_word(src, "as"))
                    && let Some(a) = toks.get(i + 2)
                {
                    col = word_text(a, src);
                    i += 2;
                }
                outputs.push(col);
            }
            i += 1;
        }
        CommandBody::Lookup { name, outputs }
    }

    fn inputlookup_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let mut name = String::new();
        let mut append = false;
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            if toks.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) {
                if t.is_word(src, "append")
                    && toks
                        .get(i + 2)
                        .is_some_and(|v| ["t", "true", "1"].iter().any(|y| v.is_word(src, y)))
                {
                    append = true;
                }
                i += 3;
                continue;
            }
            if t.is_word(src, "where") {
                let toks = match self.tokens(t.span.end as usize, e, Mode::Search) {
                    Ok(toks) => toks,
                    Err(message) => return CommandBody::Error { message },
                };
                return match self.search_tokens(&toks) {
                    Ok(filter) => CommandBody::InputLookup {
                        name,
                        filter,
                        append,
                    },
                    Err(err) => self.fail(err),
                };
            }
            if name.is_empty() {
                name = word_text(t, src);
            }
            i += 1;
        }
        CommandBody::InputLookup {
            name,
            filter: None,
            append,
        }
    }

    fn regex_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let span = TextRange::new(s, e);
        match toks.as_slice() {
            [f, op, v, ..] if matches!(op.tok, Tok::Eq | Tok::Ne) => CommandBody::Regex {
                field: word_text(f, src),
                negated: op.tok == Tok::Ne,
                pattern: word_text(v, src),
                span: f.span.cover(v.span),
            },
            [v, ..] => CommandBody::Regex {
                field: "_raw".into(),
                negated: false,
                pattern: word_text(v, src),
                span,
            },
            [] => self.fail(("`regex` without a pattern".into(), span)),
        }
    }

    fn rex_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let mut field = "_raw".to_string();
        let mut sed = false;
        let mut computed = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            if toks.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) {
                let v = toks
                    .get(i + 2)
                    .map(|v| word_text(v, src))
                    .unwrap_or_default();
                match t.text(src).to_ascii_lowercase().as_str() {
                    "field" => field = v,
                    "mode" => sed = v.eq_ignore_ascii_case("sed"),
                    "offset_field" => computed.push(v),
                    _ => {}
                }
                i += 3;
                continue;
            }
            if let Tok::Str(p) = &t.tok {
                computed.extend(named_groups(p));
            }
            i += 1;
        }
        if sed {
            computed.push(field);
        }
        CommandBody::Columns {
            computed,
            aliases: Vec::new(),
        }
    }

    fn spath_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let (mut output, mut path, mut input) = (None, None, None);
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            if toks.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) {
                let v = toks.get(i + 2).map(|v| word_text(v, src));
                match t.text(src).to_ascii_lowercase().as_str() {
                    "output" => output = v,
                    "path" => path = v,
                    "input" => input = v,
                    _ => {}
                }
                i += 3;
                continue;
            }
            if path.is_none() {
                path = Some(word_text(t, src));
            }
            i += 1;
        }
        match (output, path) {
            // Extracting from `_raw` reads the event's own fields: a copy of the path.
            (Some(o), Some(p)) if input.is_none() => CommandBody::Columns {
                computed: Vec::new(),
                aliases: vec![(o, p)],
            },
            (Some(o), _) => CommandBody::Columns {
                computed: vec![o],
                aliases: Vec::new(),
            },
            _ => CommandBody::Passthrough,
        }
    }

    fn iplocation_body(&mut self, s: usize, e: usize) -> CommandBody {
        let toks = match self.tokens(s, e, Mode::Args) {
            Ok(t) => t,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let mut prefix = String::new();
        let mut i = 0;
        while i < toks.len() {
            if toks.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) {
                if toks[i].is_word(src, "prefix") {
                    prefix = toks
                        .get(i + 2)
                        .map(|v| word_text(v, src))
                        .unwrap_or_default();
                }
                i += 3;
                continue;
            }
            i += 1;
        }
        let computed = [
            "City",
            "Country",
            "Region",
            "lat",
            "lon",
            "Continent",
            "MetroCode",
            "Timezone",
        ]
        .iter()
        .map(|f| format!("{prefix}{f}"))
        .collect();
        CommandBody::Columns {
            computed,
            aliases: Vec::new(),
        }
    }

    // ---- subsearch commands ---------------------------------------------------------

    fn subsearches(&mut self, s: usize, e: usize) -> Result<(Vec<Token>, Vec<Pipeline>), String> {
        let toks = self.tokens(s, e, Mode::Args)?;
        let mut subs = Vec::new();
        for t in &toks {
            if let Tok::Sub(r) = t.tok {
                if let Err((msg, range)) = self.enter(t.span) {
                    self.error(&msg, range);
                    return Err(msg);
                }
                subs.push(self.pipeline(r.start as usize, r.end as usize));
                self.guard.leave();
            }
        }
        Ok((toks, subs))
    }

    fn join_body(&mut self, s: usize, e: usize) -> CommandBody {
        let (toks, mut subs) = match self.subsearches(s, e) {
            Ok(x) => x,
            Err(message) => return CommandBody::Error { message },
        };
        let src = self.src;
        let mut inner = true;
        for w in toks.windows(3) {
            if w[0].is_word(src, "type") && w[1].tok == Tok::Eq {
                inner = w[2].is_word(src, "inner");
            }
        }
        CommandBody::Join {
            sub: subs.pop().map(Box::new),
            inner,
        }
    }

    fn append_body(&mut self, s: usize, e: usize) -> CommandBody {
        match self.subsearches(s, e) {
            Ok((_, subs)) => CommandBody::Append(subs),
            Err(message) => CommandBody::Error { message },
        }
    }

    fn appendpipe_body(&mut self, s: usize, e: usize) -> CommandBody {
        match self.subsearches(s, e) {
            Ok((_, mut subs)) => CommandBody::AppendPipe(subs.pop().map(Box::new)),
            Err(message) => CommandBody::Error { message },
        }
    }
}

/// A cursor over tokens.
struct Ts<'t> {
    toks: &'t [Token],
    pos: usize,
}

impl<'t> Ts<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, k: usize) -> Option<&'t Token> {
        self.toks.get(self.pos + k)
    }

    fn next(&mut self) -> Option<&'t Token> {
        let t = self.toks.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn prev_span(&self) -> TextRange {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or_else(TextRange::default, |t| t.span)
    }

    fn end_span(&self) -> TextRange {
        self.toks.last().map_or_else(TextRange::default, |t| {
            TextRange::empty(t.span.end as usize)
        })
    }
}

fn cmp_op(t: &Tok) -> Option<CmpOp> {
    Some(match t {
        Tok::Eq | Tok::EqEq => CmpOp::Eq,
        Tok::Ne => CmpOp::Ne,
        Tok::Lt => CmpOp::Lt,
        Tok::Le => CmpOp::Le,
        Tok::Gt => CmpOp::Gt,
        Tok::Ge => CmpOp::Ge,
        _ => return None,
    })
}

fn is_bool_kw(t: &Token, src: &str) -> bool {
    t.is_exact(src, "OR") || t.is_exact(src, "AND") || t.is_exact(src, "NOT")
}

fn svalue(t: &Token, src: &str) -> SValue {
    match &t.tok {
        Tok::Str(s) => SValue {
            text: s.clone(),
            quoted: true,
        },
        // `\\` and `\"` are escapes in bare terms too.
        _ => SValue {
            text: crate::lexer::unescape(t.text(src)),
            quoted: false,
        },
    }
}

fn word_text(t: &Token, src: &str) -> String {
    match &t.tok {
        Tok::Str(s) | Tok::QField(s) => s.clone(),
        _ => t.text(src).to_string(),
    }
}

fn by_fields(toks: &[Token], src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks.get(i + 1).is_some_and(|n| n.tok == Tok::Eq) {
            i += 3;
            continue;
        }
        if matches!(toks[i].tok, Tok::Word | Tok::Str(_)) {
            out.push(word_text(&toks[i], src));
        }
        i += 1;
    }
    out
}

/// Index of the `)` closing the `(` at `open` (or the end).
fn close_paren(toks: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::LParen => depth += 1,
            Tok::RParen => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

/// Named capture groups of a regex: `(?<name>`, `(?P<name>`, `(?'name'`.
#[must_use]
pub fn named_groups(re: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = re.as_bytes();
    let mut i = 0;
    while i + 3 < b.len() {
        if b[i] == b'(' && b[i + 1] == b'?' && (i == 0 || b[i - 1] != b'\\') {
            let mut k = i + 2;
            if b[k] == b'P' {
                k += 1;
            }
            let close = match b.get(k) {
                Some(b'<') => b'>',
                Some(b'\'') => b'\'',
                _ => {
                    i += 1;
                    continue;
                }
            };
            let start = k + 1;
            if let Some(len) = re[start..].find(close as char) {
                let name = &re[start..start + len];
                if !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    out.push(name.to_string());
                }
            }
        }
        i += 1;
    }
    out
}

/// Whether `args` holds `name=value` with one of `values` (ASCII case-insensitive).
fn has_option(args: &str, name: &str, values: &[&str]) -> bool {
    args.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .any(|(k, v)| {
            k.eq_ignore_ascii_case(name)
                && values
                    .iter()
                    .any(|x| v.trim_matches('"').eq_ignore_ascii_case(x))
        })
}

fn next_quote(b: &[u8], i: usize, end: usize) -> usize {
    let mut k = i + 1;
    while k < end {
        match b[k] {
            b'\\' => k += 2,
            b'"' => return k,
            _ => k += 1,
        }
    }
    end
}

fn trim(text: &str, mut s: usize, mut e: usize) -> (usize, usize) {
    let b = text.as_bytes();
    while s < e && b[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && b[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

fn cover(items: &[SNode]) -> TextRange {
    match (items.first(), items.last()) {
        (Some(a), Some(b)) => a.span.cover(b.span),
        _ => TextRange::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_groups_found() {
        assert_eq!(
            named_groups(r"(?<a>x)(?P<b_1>y)\(?<no>)(?:z)"),
            vec!["a", "b_1"]
        );
    }

    #[test]
    fn deep_parens_are_an_error() {
        let q = format!("{}a=1{}", "(".repeat(100_000), ")".repeat(100_000));
        let p = parse(&q);
        assert!(p.has_errors());
    }
}
