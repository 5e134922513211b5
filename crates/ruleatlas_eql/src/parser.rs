//! Recursive descent for the query shape, Pratt-style precedence climbing for expressions.
//!
//! Precedence, loosest first: `or`, `and`, `not`, a comparison (`== != < <= > >= : like regex
//! in`, non-associative), `+ -`, `* / %`, unary `-`, atoms. Nesting is bounded by a
//! [`DepthGuard`]; arithmetic chains count against it too, since they build left-deep trees.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::DepthGuard;
use ruleatlas_text::TextRange;

use crate::ast::{
    ArithOp, Body, CmpOp, EventQuery, Expr, ExprKind, MatchOp, Name, Pipe, Query, Sample, Sequence,
    Step,
};
use crate::lexer::{Token, TokenKind as T, decode_string};

/// A parse error with the range it is about.
#[derive(Debug, Clone)]
pub struct Error {
    pub message: String,
    pub range: TextRange,
    pub code: &'static str,
}

type PResult<X> = Result<X, Error>;

pub struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    guard: DepthGuard,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str, toks: Vec<Token>) -> Self {
        Self {
            text,
            toks,
            pos: 0,
            guard: DepthGuard::default(),
            diagnostics: Vec::new(),
        }
    }

    fn peek(&self) -> Token {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .copied()
            .unwrap_or(Token {
                kind: T::Eof,
                range: TextRange::empty(self.text.len()),
            })
    }

    fn peek_at(&self, n: usize) -> Token {
        self.toks
            .get(self.pos + n)
            .or(self.toks.last())
            .copied()
            .unwrap_or(self.peek())
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn slice(&self, t: Token) -> &'a str {
        t.range.slice(self.text)
    }

    fn is_kw(&self, t: Token, kw: &str) -> bool {
        t.kind == T::Ident && self.slice(t).eq_ignore_ascii_case(kw)
    }

    fn at_kw(&self, kw: &str) -> bool {
        self.is_kw(self.peek(), kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat(&mut self, kind: T) -> Option<Token> {
        (self.peek().kind == kind).then(|| self.bump())
    }

    fn error<X>(&self, message: impl Into<String>, range: TextRange) -> PResult<X> {
        Err(Error {
            message: message.into(),
            range,
            code: "eql-syntax",
        })
    }

    fn expected<X>(&self, what: &str) -> PResult<X> {
        let t = self.peek();
        let found = if t.kind == T::Eof {
            "end of query".to_string()
        } else {
            format!("`{}`", self.slice(t))
        };
        self.error(format!("expected {what}, found {found}"), t.range)
    }

    fn expect(&mut self, kind: T, what: &str) -> PResult<Token> {
        match self.eat(kind) {
            Some(t) => Ok(t),
            None => self.expected(what),
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<Token> {
        if self.at_kw(kw) {
            Ok(self.bump())
        } else {
            self.expected(&format!("`{kw}`"))
        }
    }

    fn enter(&mut self, at: TextRange) -> PResult<()> {
        self.guard.enter().map_err(|e| Error {
            message: e.to_string(),
            range: at,
            code: "limit-depth",
        })
    }

    fn push_error(&mut self, e: Error) {
        self.diagnostics
            .push(Diagnostic::error(e.code, e.message).with_range(e.range));
    }

    /// Parses the whole query; errors become diagnostics and a `Missing` body or step.
    pub fn parse_query(&mut self) -> Query {
        let start = self.peek().range.start as usize;
        let body = if self.peek().kind == T::Pipe {
            Body::Missing
        } else {
            match self.parse_body() {
                Ok(b) => b,
                Err(e) => {
                    self.push_error(e);
                    return Query {
                        source: self.text.to_string(),
                        body: Body::Missing,
                        pipes: Vec::new(),
                        range: TextRange::new(start, self.text.len()),
                    };
                }
            }
        };
        let mut pipes = Vec::new();
        while self.peek().kind == T::Pipe {
            match self.parse_pipe() {
                Ok(p) => pipes.push(p),
                Err(e) => {
                    self.push_error(e);
                    while !matches!(self.peek().kind, T::Pipe | T::Eof) {
                        self.bump();
                    }
                }
            }
        }
        if self.peek().kind != T::Eof {
            let r: PResult<()> = self.expected("`|` or end of query");
            if let Err(e) = r {
                self.push_error(e);
            }
        }
        Query {
            source: self.text.to_string(),
            body,
            pipes,
            range: TextRange::new(start, self.text.len()),
        }
    }

    fn parse_body(&mut self) -> PResult<Body> {
        let t = self.peek();
        let next = self.peek_at(1);
        // `sequence where ...` would be an event query on a category named "sequence".
        if self.is_kw(t, "sequence") && !self.is_kw(next, "where") {
            return self.parse_sequence(false).map(Body::Sequence);
        }
        if self.is_kw(t, "join") && !self.is_kw(next, "where") {
            return self.parse_sequence(true).map(Body::Sequence);
        }
        if self.is_kw(t, "sample") && !self.is_kw(next, "where") {
            return self.parse_sample().map(Body::Sample);
        }
        self.parse_event_query().map(Body::Event)
    }

    fn parse_event_query(&mut self) -> PResult<EventQuery> {
        let t = self.peek();
        let category = match t.kind {
            T::Ident | T::Backtick => {
                self.bump();
                Name {
                    text: self.slice(t).trim_matches('`').to_string(),
                    range: t.range,
                }
            }
            T::Str | T::RawStr => {
                self.bump();
                let text = decode_string(self.slice(t)).map_err(|m| Error {
                    message: m,
                    range: t.range,
                    code: "eql-syntax",
                })?;
                Name {
                    text,
                    range: t.range,
                }
            }
            _ => return self.expected("an event category (`process`, `any`...)"),
        };
        self.expect_kw("where")?;
        let condition = self.parse_expr()?;
        Ok(EventQuery {
            range: t.range.cover(condition.range),
            category,
            condition,
        })
    }

    fn parse_by_list(&mut self) -> PResult<Vec<Expr>> {
        let mut out = vec![self.parse_expr()?];
        while self.eat(T::Comma).is_some() {
            out.push(self.parse_expr()?);
        }
        Ok(out)
    }

    /// `with maxspan=5m` / `with runs=3` / `fork=true`: returns (name, value token).
    fn parse_with_param(&mut self) -> PResult<(Name, Token)> {
        let t = self.expect(T::Ident, "a parameter name (`maxspan`, `runs`)")?;
        self.expect(T::Assign, "`=`")?;
        let v = self.bump();
        if !matches!(v.kind, T::Duration | T::Int | T::Float | T::Ident) {
            return self.error("expected a parameter value", v.range);
        }
        // `maxspan=5 m` is accepted by Python EQL.
        let mut value = v;
        if v.kind == T::Int
            && self.peek().kind == T::Ident
            && self.peek().range.start == v.range.end + 1
        {
            let unit = self.peek();
            if matches!(
                self.slice(unit),
                "s" | "m" | "h" | "d" | "ms" | "sec" | "min"
            ) {
                self.bump();
                value = Token {
                    kind: T::Duration,
                    range: v.range.cover(unit.range),
                };
            }
        }
        Ok((
            Name {
                text: self.slice(t).to_ascii_lowercase(),
                range: t.range,
            },
            value,
        ))
    }

    fn parse_sequence(&mut self, is_join: bool) -> PResult<Sequence> {
        let kw = self.bump();
        let mut by = Vec::new();
        let mut maxspan = None;
        loop {
            if self.eat_kw("by") {
                by.extend(self.parse_by_list()?);
            } else if self.at_kw("with") {
                self.bump();
                let (name, value) = self.parse_with_param()?;
                if name.text == "maxspan" {
                    maxspan = Some(Name {
                        text: self.slice(value).to_string(),
                        range: value.range,
                    });
                } else {
                    return self.error(
                        format!("unknown sequence parameter `{}`", name.text),
                        name.range,
                    );
                }
            } else {
                break;
            }
        }
        let mut steps = Vec::new();
        while matches!(self.peek().kind, T::LBracket | T::Bang) {
            steps.push(self.parse_step()?);
        }
        if steps.is_empty() {
            return self.expected("a bracketed step `[...]`");
        }
        let until = if self.eat_kw("until") {
            Some(Box::new(self.parse_step()?))
        } else {
            None
        };
        let end = until
            .as_ref()
            .map_or_else(|| steps.last().map_or(kw.range, |s| s.range), |u| u.range);
        Ok(Sequence {
            is_join,
            by,
            maxspan,
            steps,
            until,
            range: kw.range.cover(end),
        })
    }

    fn parse_sample(&mut self) -> PResult<Sample> {
        let kw = self.bump();
        let mut by = Vec::new();
        if self.eat_kw("by") {
            by = self.parse_by_list()?;
        }
        let mut steps = Vec::new();
        while self.peek().kind == T::LBracket {
            steps.push(self.parse_step()?);
        }
        if steps.is_empty() {
            return self.expected("a bracketed step `[...]`");
        }
        let end = steps.last().map_or(kw.range, |s| s.range);
        Ok(Sample {
            by,
            steps,
            range: kw.range.cover(end),
        })
    }

    /// A step; an error inside its brackets is recorded and the step kept without a query.
    fn parse_step(&mut self) -> PResult<Step> {
        let missing = self.eat(T::Bang).is_some();
        let open = self.expect(T::LBracket, "`[`")?;
        let query = match self.parse_event_query() {
            Ok(q) if self.peek().kind == T::RBracket => Some(q),
            Ok(_) => {
                let e = self.expected::<()>("`]`");
                if let Err(e) = e {
                    self.push_error(e);
                }
                self.skip_to_close();
                None
            }
            Err(e) => {
                self.push_error(e);
                self.skip_to_close();
                None
            }
        };
        let close = self.expect(T::RBracket, "`]`")?;
        let mut by = Vec::new();
        let mut runs = None;
        loop {
            if self.eat_kw("by") {
                by.extend(self.parse_by_list()?);
            } else if self.at_kw("with") {
                self.bump();
                let (name, value) = self.parse_with_param()?;
                if name.text == "runs" {
                    runs = self.slice(value).parse().ok();
                } else {
                    return self.error(
                        format!("unknown step parameter `{}`", name.text),
                        name.range,
                    );
                }
            } else if self.at_kw("fork") {
                // Python EQL's `fork[=true]` on a join/sequence step: no filter.
                self.bump();
                if self.eat(T::Assign).is_some() {
                    self.bump();
                }
            } else {
                break;
            }
        }
        let end = by.last().map_or(close.range, |e: &Expr| e.range);
        Ok(Step {
            query,
            by,
            runs,
            missing,
            range: open.range.cover(end),
        })
    }

    /// Skips to the `]` closing the current step (bracket-balanced), leaving it unconsumed.
    fn skip_to_close(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek().kind {
                T::Eof => return,
                T::LBracket => depth += 1,
                T::RBracket if depth == 0 => return,
                T::RBracket => depth -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    fn parse_pipe(&mut self) -> PResult<Pipe> {
        let bar = self.bump();
        let t = self.expect(T::Ident, "a pipe name (`head`, `filter`...)")?;
        let name = Name {
            text: self.slice(t).to_ascii_lowercase(),
            range: t.range,
        };
        let mut args = Vec::new();
        if !matches!(self.peek().kind, T::Pipe | T::Eof) {
            args = self.parse_by_list()?;
        }
        let end = args.last().map_or(t.range, |e| e.range);
        Ok(Pipe {
            name,
            args,
            range: bar.range.cover(end),
        })
    }

    // ----- expressions -----

    pub fn parse_expr(&mut self) -> PResult<Expr> {
        self.enter(self.peek().range)?;
        let r = self.parse_or();
        self.guard.leave();
        r
    }

    fn parse_or(&mut self) -> PResult<Expr> {
        let first = self.parse_and()?;
        if !self.at_kw("or") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_kw("or") {
            items.push(self.parse_and()?);
        }
        let range = cover_all(&items);
        Ok(Expr::new(ExprKind::Or(items), range))
    }

    fn parse_and(&mut self) -> PResult<Expr> {
        let first = self.parse_not()?;
        if !self.at_kw("and") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_kw("and") {
            items.push(self.parse_not()?);
        }
        let range = cover_all(&items);
        Ok(Expr::new(ExprKind::And(items), range))
    }

    fn parse_not(&mut self) -> PResult<Expr> {
        if self.at_kw("not") {
            let t = self.bump();
            self.enter(t.range)?;
            let inner = self.parse_not();
            self.guard.leave();
            let inner = inner?;
            let range = t.range.cover(inner.range);
            return Ok(Expr::new(ExprKind::Not(Box::new(inner)), range));
        }
        self.parse_comparison()
    }

    fn parse_comparison(&mut self) -> PResult<Expr> {
        let lhs = self.parse_sum()?;
        let t = self.peek();
        let cmp = match t.kind {
            T::EqEq | T::Assign => Some(CmpOp::Eq),
            T::NotEq => Some(CmpOp::Ne),
            T::Lt => Some(CmpOp::Lt),
            T::Le => Some(CmpOp::Le),
            T::Gt => Some(CmpOp::Gt),
            T::Ge => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            self.bump();
            let rhs = self.parse_sum()?;
            let range = lhs.range.cover(rhs.range);
            return Ok(Expr::new(
                ExprKind::Compare {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                range,
            ));
        }
        if t.kind == T::Colon {
            self.bump();
            let patterns = self.parse_pattern_list()?;
            return Ok(self.make_match(MatchOp::Colon, true, false, lhs, patterns));
        }
        // `not in`, `not like`, `not regex` after an operand.
        let mut negated = false;
        if self.is_kw(t, "not")
            && (self.is_kw(self.peek_at(1), "in")
                || self.is_kw(self.peek_at(1), "like")
                || self.is_kw(self.peek_at(1), "regex"))
        {
            self.bump();
            negated = true;
        }
        let t = self.peek();
        for (kw, op) in [
            ("like", Some(MatchOp::Like)),
            ("regex", Some(MatchOp::Regex)),
            ("in", None),
        ] {
            if !self.is_kw(t, kw) {
                continue;
            }
            self.bump();
            let insensitive = self.eat(T::Tilde).is_some();
            let list = self.parse_pattern_list()?;
            return Ok(match op {
                Some(op) => self.make_match(op, insensitive, negated, lhs, list),
                None => {
                    let range = lhs.range.cover(cover_all(&list));
                    Expr::new(
                        ExprKind::In {
                            insensitive,
                            negated,
                            lhs: Box::new(lhs),
                            list,
                        },
                        range,
                    )
                }
            });
        }
        if negated {
            return self.expected("`in`, `like` or `regex`");
        }
        Ok(lhs)
    }

    fn make_match(
        &self,
        op: MatchOp,
        insensitive: bool,
        negated: bool,
        lhs: Expr,
        patterns: Vec<Expr>,
    ) -> Expr {
        let range = lhs.range.cover(cover_all(&patterns));
        Expr::new(
            ExprKind::Match {
                op,
                insensitive,
                negated,
                lhs: Box::new(lhs),
                patterns,
            },
            range,
        )
    }

    /// One operand or a parenthesized, comma-separated list of them.
    fn parse_pattern_list(&mut self) -> PResult<Vec<Expr>> {
        if self.peek().kind == T::LParen {
            // `(a, b)` is a list; `("a")` a one-element list; `(x + 1)` an expression.
            let open = self.bump();
            self.enter(open.range)?;
            let r = self.parse_list_tail();
            self.guard.leave();
            return r;
        }
        Ok(vec![self.parse_sum()?])
    }

    fn parse_list_tail(&mut self) -> PResult<Vec<Expr>> {
        let mut items = Vec::new();
        loop {
            if self.eat(T::RParen).is_some() {
                break;
            }
            items.push(self.parse_expr()?);
            if self.eat(T::Comma).is_none() {
                self.expect(T::RParen, "`,` or `)`")?;
                break;
            }
        }
        if items.is_empty() {
            return self.expected("a value");
        }
        Ok(items)
    }

    fn parse_sum(&mut self) -> PResult<Expr> {
        let mut lhs = self.parse_product()?;
        let mut entered = 0;
        let result = loop {
            let op = match self.peek().kind {
                T::Plus => ArithOp::Add,
                T::Minus => ArithOp::Sub,
                _ => break Ok(lhs),
            };
            let t = self.bump();
            if let Err(e) = self.enter(t.range) {
                break Err(e);
            }
            entered += 1;
            let rhs = match self.parse_product() {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            let range = lhs.range.cover(rhs.range);
            lhs = Expr::new(
                ExprKind::Arith {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                range,
            );
        };
        for _ in 0..entered {
            self.guard.leave();
        }
        result
    }

    fn parse_product(&mut self) -> PResult<Expr> {
        let mut lhs = self.parse_unary()?;
        let mut entered = 0;
        let result = loop {
            let op = match self.peek().kind {
                T::Star => ArithOp::Mul,
                T::Slash => ArithOp::Div,
                T::Percent => ArithOp::Mod,
                _ => break Ok(lhs),
            };
            let t = self.bump();
            if let Err(e) = self.enter(t.range) {
                break Err(e);
            }
            entered += 1;
            let rhs = match self.parse_unary() {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            let range = lhs.range.cover(rhs.range);
            lhs = Expr::new(
                ExprKind::Arith {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                range,
            );
        };
        for _ in 0..entered {
            self.guard.leave();
        }
        result
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        if self.peek().kind == T::Minus {
            let t = self.bump();
            self.enter(t.range)?;
            let inner = self.parse_unary();
            self.guard.leave();
            let inner = inner?;
            let range = t.range.cover(inner.range);
            return Ok(match inner.kind {
                ExprKind::Int(i) => Expr::new(ExprKind::Int(-i), range),
                ExprKind::Float(f) => Expr::new(ExprKind::Float(-f), range),
                other => Expr::new(
                    ExprKind::Neg(Box::new(Expr::new(other, inner.range))),
                    range,
                ),
            });
        }
        if self.peek().kind == T::Plus {
            self.bump();
        }
        self.parse_atom()
    }

    fn parse_atom(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match t.kind {
            T::LParen => {
                self.bump();
                self.enter(t.range)?;
                let inner = self.parse_expr();
                self.guard.leave();
                let mut inner = inner?;
                let close = self.expect(T::RParen, "`)`")?;
                inner.range = t.range.cover(close.range);
                Ok(inner)
            }
            T::Str | T::RawStr => {
                self.bump();
                let v = decode_string(self.slice(t)).map_err(|m| Error {
                    message: m,
                    range: t.range,
                    code: "eql-syntax",
                })?;
                Ok(Expr::new(ExprKind::Str(v), t.range))
            }
            T::Int => {
                self.bump();
                let s = self.slice(t);
                Ok(match s.parse::<i64>() {
                    Ok(i) => Expr::new(ExprKind::Int(i), t.range),
                    Err(_) => Expr::new(ExprKind::Float(s.parse().unwrap_or(f64::MAX)), t.range),
                })
            }
            T::Duration => {
                // `5m` in a pipe argument (`| window 5m`): kept as text.
                self.bump();
                Ok(Expr::new(ExprKind::Str(self.slice(t).to_string()), t.range))
            }
            T::Float => {
                self.bump();
                Ok(Expr::new(
                    ExprKind::Float(self.slice(t).parse().unwrap_or(0.0)),
                    t.range,
                ))
            }
            T::Question => {
                self.bump();
                let mut f = self.parse_field()?;
                if let ExprKind::Field { optional, .. } = &mut f.kind {
                    *optional = true;
                }
                f.range = t.range.cover(f.range);
                Ok(f)
            }
            T::Backtick => self.parse_field(),
            T::Ident => {
                let s = self.slice(t);
                let next = self.peek_at(1);
                let call = next.kind == T::LParen
                    || (next.kind == T::Tilde && self.peek_at(2).kind == T::LParen);
                if call && !s.contains('.') {
                    return self.parse_call();
                }
                if s.eq_ignore_ascii_case("null") {
                    self.bump();
                    return Ok(Expr::new(ExprKind::Null, t.range));
                }
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") {
                    self.bump();
                    return Ok(Expr::new(
                        ExprKind::Bool(s.eq_ignore_ascii_case("true")),
                        t.range,
                    ));
                }
                if [
                    "and", "or", "not", "in", "like", "regex", "where", "by", "with", "until",
                ]
                .iter()
                .any(|k| s.eq_ignore_ascii_case(k))
                {
                    return self.expected("a value or field");
                }
                self.parse_field()
            }
            _ => self.expected("a value or field"),
        }
    }

    /// A field: name segments joined by dots, optional `[n]` indexes.
    fn parse_field(&mut self) -> PResult<Expr> {
        let first = self.peek();
        let mut name = String::new();
        let mut range = first.range;
        loop {
            let t = self.peek();
            match t.kind {
                T::Ident => name.push_str(self.slice(t)),
                T::Backtick => {
                    let s = self.slice(t);
                    name.push_str(&s[1..s.len() - 1].replace("``", "`"));
                }
                _ => return self.expected("a field name"),
            }
            self.bump();
            range = range.cover(t.range);
            // `[0]` indexes (only a literal integer, so `by x [process where ...]` is a step).
            while self.peek().kind == T::LBracket
                && self.peek_at(1).kind == T::Int
                && self.peek_at(2).kind == T::RBracket
            {
                let idx = self.peek_at(1);
                name.push('[');
                name.push_str(self.slice(idx));
                name.push(']');
                self.bump();
                self.bump();
                range = range.cover(self.bump().range);
            }
            if self.peek().kind == T::Dot && matches!(self.peek_at(1).kind, T::Ident | T::Backtick)
            {
                self.bump();
                name.push('.');
                continue;
            }
            break;
        }
        Ok(Expr::new(
            ExprKind::Field {
                name,
                optional: false,
            },
            range,
        ))
    }

    fn parse_call(&mut self) -> PResult<Expr> {
        let t = self.bump();
        let insensitive = self.eat(T::Tilde).is_some();
        let open = self.expect(T::LParen, "`(`")?;
        self.enter(open.range)?;
        let mut args = Vec::new();
        let r = loop {
            if let Some(close) = self.eat(T::RParen) {
                break Ok(close);
            }
            match self.parse_expr() {
                Ok(e) => args.push(e),
                Err(e) => break Err(e),
            }
            if self.eat(T::Comma).is_none() {
                break self.expect(T::RParen, "`,` or `)`");
            }
        };
        self.guard.leave();
        let close = r?;
        let name = Name {
            text: self.slice(t).to_string(),
            range: t.range,
        };
        Ok(Expr::new(
            ExprKind::Call {
                name,
                insensitive,
                args,
            },
            t.range.cover(close.range),
        ))
    }
}

fn cover_all(items: &[Expr]) -> TextRange {
    let mut it = items.iter();
    let first = it.next().map_or_else(TextRange::default, |e| e.range);
    it.fold(first, |acc, e| acc.cover(e.range))
}
