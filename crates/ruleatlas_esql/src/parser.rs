//! ES|QL parser: commands by recursive descent, expressions by precedence climbing.
//!
//! Expression precedence, loosest first: `OR`, `AND`, `NOT`, a predicate (`== != < <= > >=`,
//! `[NOT] IN`, `[NOT] LIKE`/`RLIKE`, `IS [NOT] NULL`, `:`), `+ -`, `* / %`, unary `-`, `::`
//! casts, atoms. A command that fails to parse is recorded as [`CommandKind::Error`] with a
//! diagnostic and parsing resumes at the next top-level `|`.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::DepthGuard;
use ruleatlas_text::TextRange;

use crate::ast::{Aggregate, Assignment, CmpOp, Command, CommandKind, Expr, ExprKind, Name, Query};
use crate::lexer::{Token, TokenKind as T, decode_string};

#[derive(Debug, Clone)]
pub struct Error {
    pub message: String,
    pub range: TextRange,
    pub code: &'static str,
}

type PResult<X> = Result<X, Error>;

const RESERVED: &[&str] = &[
    "and", "or", "not", "in", "like", "rlike", "is", "by", "where", "as", "on", "with", "metadata",
    "asc", "desc", "nulls",
];

const TIME_UNITS: &[&str] = &[
    "millisecond",
    "milliseconds",
    "ms",
    "second",
    "seconds",
    "sec",
    "s",
    "minute",
    "minutes",
    "min",
    "m",
    "hour",
    "hours",
    "h",
    "day",
    "days",
    "d",
    "week",
    "weeks",
    "w",
    "month",
    "months",
    "mo",
    "quarter",
    "quarters",
    "q",
    "year",
    "years",
    "yr",
    "y",
];

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
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Token {
        self.toks
            .get(self.pos + n)
            .or(self.toks.last())
            .copied()
            .unwrap_or(Token {
                kind: T::Eof,
                range: TextRange::empty(self.text.len()),
            })
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
        let yes = self.at_kw(kw);
        if yes {
            self.bump();
        }
        yes
    }

    fn eat(&mut self, kind: T) -> Option<Token> {
        (self.peek().kind == kind).then(|| self.bump())
    }

    fn err<X>(&self, message: impl Into<String>, range: TextRange) -> PResult<X> {
        Err(Error {
            message: message.into(),
            range,
            code: "esql-syntax",
        })
    }

    fn expected<X>(&self, what: &str) -> PResult<X> {
        let t = self.peek();
        let found = if t.kind == T::Eof {
            "end of query".to_string()
        } else {
            format!("`{}`", self.slice(t))
        };
        self.err(format!("expected {what}, found {found}"), t.range)
    }

    fn expect(&mut self, kind: T, what: &str) -> PResult<Token> {
        match self.eat(kind) {
            Some(t) => Ok(t),
            None => self.expected(what),
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

    /// At the end of a command: `|`, `)` closing a FORK branch, or the end.
    fn at_command_end(&self) -> bool {
        matches!(self.peek().kind, T::Pipe | T::Eof | T::RParen)
    }

    /// Skips to the next `|` outside parentheses (or a `)` closing the current branch).
    fn skip_command(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek().kind {
                T::Eof => return,
                T::Pipe if depth == 0 => return,
                T::LParen | T::LBracket | T::LBrace => depth += 1,
                T::RParen | T::RBracket | T::RBrace => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                _ => {}
            }
            self.bump();
        }
    }

    pub fn parse_query(&mut self) -> Query {
        let commands = self.parse_pipeline(false);
        if self.peek().kind != T::Eof {
            let t = self.peek();
            let e = Error {
                message: format!("unexpected `{}`", self.slice(t)),
                range: t.range,
                code: "esql-syntax",
            };
            self.push_error(e);
        }
        Query {
            source: self.text.to_string(),
            commands,
        }
    }

    /// Commands separated by `|`; inside a FORK branch it stops at the closing `)`.
    fn parse_pipeline(&mut self, in_branch: bool) -> Vec<Command> {
        let mut cmds = Vec::new();
        // A query may start with a `|` (hunting queries sometimes do); a branch usually does not.
        self.eat(T::Pipe);
        loop {
            if self.peek().kind == T::Eof || (in_branch && self.peek().kind == T::RParen) {
                break;
            }
            let start = self.peek().range;
            let start_pos = self.pos;
            let cmd = match self.parse_command() {
                Ok(c) if self.at_command_end() => c,
                Ok(_) => {
                    let e = self.expected::<()>("`|` or end of command");
                    if let Err(e) = e {
                        self.push_error(e);
                    }
                    self.recover(start_pos, in_branch);
                    Command {
                        kind: CommandKind::Error,
                        range: start.cover(self.prev_end()),
                    }
                }
                Err(e) => {
                    self.push_error(e);
                    self.recover(start_pos, in_branch);
                    Command {
                        kind: CommandKind::Error,
                        range: start.cover(self.prev_end()),
                    }
                }
            };
            cmds.push(cmd);
            if self.eat(T::Pipe).is_none() {
                if !in_branch && self.peek().kind == T::RParen {
                    let t = self.bump();
                    self.push_error(Error {
                        message: "unbalanced `)`".into(),
                        range: t.range,
                        code: "esql-syntax",
                    });
                    self.skip_command();
                    if self.eat(T::Pipe).is_some() {
                        continue;
                    }
                }
                break;
            }
        }
        cmds
    }

    /// After an error: back to the command's start, then to the next `|` at its own nesting
    /// level; at top level a stray `)` is skipped too.
    fn recover(&mut self, start_pos: usize, in_branch: bool) {
        self.pos = start_pos;
        loop {
            self.skip_command();
            if !in_branch && self.peek().kind == T::RParen {
                self.bump();
                continue;
            }
            return;
        }
    }

    fn prev_end(&self) -> TextRange {
        self.toks
            .get(self.pos.saturating_sub(1))
            .map_or_else(TextRange::default, |t| {
                TextRange::empty(t.range.end as usize)
            })
    }

    fn parse_command(&mut self) -> PResult<Command> {
        let t = self.peek();
        if t.kind != T::Ident {
            return self.expected("a command");
        }
        let kw = self.slice(t).to_ascii_lowercase();
        self.bump();
        let kind = match kw.as_str() {
            "from" | "ts" | "metrics" => self.parse_from()?,
            "row" => CommandKind::Row(self.parse_assignments()?),
            "where" => CommandKind::Where(self.parse_expr()?),
            "eval" => CommandKind::Eval(self.parse_assignments()?),
            "stats" => self.parse_stats(false)?,
            "inlinestats" => self.parse_stats(true)?,
            "inline" if self.at_kw("stats") => {
                self.bump();
                self.parse_stats(true)?
            }
            "keep" => CommandKind::Keep(self.parse_patterns()?),
            "drop" => CommandKind::Drop(self.parse_patterns()?),
            "rename" => self.parse_rename()?,
            "sort" => {
                self.skip_command();
                CommandKind::Sort
            }
            "limit" => {
                self.expect(T::Int, "a number")?;
                CommandKind::Limit
            }
            "mv_expand" => CommandKind::MvExpand(self.parse_name()?),
            "grok" | "dissect" => {
                self.parse_extract(if kw == "grok" { "grok" } else { "dissect" })?
            }
            "enrich" => self.parse_enrich()?,
            "lookup" => {
                if !self.eat_kw("join") {
                    // The older `LOOKUP table ON key` form.
                }
                let index = self.parse_pattern()?;
                let mut on = Vec::new();
                if self.eat_kw("on") {
                    on.push(self.parse_name()?);
                    while self.eat(T::Comma).is_some() {
                        on.push(self.parse_name()?);
                    }
                }
                CommandKind::LookupJoin { index, on }
            }
            "completion" => {
                let mut column = "completion".to_string();
                if matches!(self.peek().kind, T::Ident | T::Backtick)
                    && self.peek_at(1).kind == T::Assign
                {
                    column = self.parse_name()?.text;
                    self.bump();
                }
                self.skip_until_kw_or_end("as");
                if self.eat_kw("as") {
                    column = self.parse_name()?.text;
                }
                CommandKind::Completion { column }
            }
            "change_point" => {
                self.skip_until_kw_or_end("as");
                let mut columns = vec!["type".to_string(), "pvalue".to_string()];
                if self.eat_kw("as") {
                    columns = vec![self.parse_name()?.text];
                    if self.eat(T::Comma).is_some() {
                        columns.push(self.parse_name()?.text);
                    }
                }
                CommandKind::ChangePoint { columns }
            }
            "fork" => self.parse_fork()?,
            "sample" => {
                self.skip_command();
                CommandKind::Sample
            }
            "show" | "meta" | "rerank" | "fuse" => {
                self.skip_command();
                CommandKind::Other(kw)
            }
            _ => {
                self.skip_command();
                CommandKind::Unknown(Name {
                    text: self.slice(t).to_string(),
                    range: t.range,
                })
            }
        };
        Ok(Command {
            kind,
            range: t.range.cover(self.prev_end()),
        })
    }

    fn skip_until_kw_or_end(&mut self, kw: &str) {
        let mut depth = 0usize;
        loop {
            let t = self.peek();
            match t.kind {
                T::Eof => return,
                T::Pipe | T::RParen if depth == 0 => return,
                T::LParen | T::LBracket | T::LBrace => depth += 1,
                T::RParen | T::RBracket | T::RBrace => depth = depth.saturating_sub(1),
                _ if depth == 0 && self.is_kw(t, kw) => return,
                _ => {}
            }
            self.bump();
        }
    }

    /// An index pattern or column pattern: adjacent tokens glued (`logs-*`, `.alerts-*`, `a.*`).
    fn parse_pattern(&mut self) -> PResult<Name> {
        let first = self.peek();
        if matches!(first.kind, T::Str | T::RawStr) {
            self.bump();
            return Ok(Name {
                text: decode_string(self.slice(first)),
                range: first.range,
            });
        }
        let mut range = first.range;
        let mut any = false;
        loop {
            let t = self.peek();
            let glues = matches!(
                t.kind,
                T::Ident
                    | T::Backtick
                    | T::Minus
                    | T::Star
                    | T::Dot
                    | T::Colon
                    | T::Int
                    | T::Float
                    | T::Param
            ) && (!any || t.range.start == range.end);
            if !glues || (!any && self.is_kw(t, "metadata")) {
                break;
            }
            self.bump();
            range = if any { range.cover(t.range) } else { t.range };
            any = true;
        }
        if !any {
            return self.expected("a name or pattern");
        }
        Ok(Name {
            text: range.slice(self.text).replace('`', ""),
            range,
        })
    }

    fn parse_patterns(&mut self) -> PResult<Vec<Name>> {
        let mut out = vec![self.parse_pattern()?];
        while self.eat(T::Comma).is_some() {
            out.push(self.parse_pattern()?);
        }
        Ok(out)
    }

    fn parse_from(&mut self) -> PResult<CommandKind> {
        let indices = self.parse_patterns()?;
        let mut metadata = Vec::new();
        if self.eat_kw("metadata") {
            metadata = self.parse_patterns()?;
        }
        // `METRICS idx aggregates BY ...` carries more; it filters nothing we read.
        if !self.at_command_end() {
            self.skip_command();
        }
        Ok(CommandKind::From { indices, metadata })
    }

    /// A column name: identifier or back-quoted, dotted segments glued.
    fn parse_name(&mut self) -> PResult<Name> {
        let t = self.peek();
        match t.kind {
            T::Ident | T::Backtick => {
                let e = self.parse_field()?;
                match e.kind {
                    ExprKind::Field(text) => Ok(Name {
                        text,
                        range: e.range,
                    }),
                    _ => self.err("expected a column name", e.range),
                }
            }
            _ => self.expected("a column name"),
        }
    }

    fn parse_assignment(&mut self) -> PResult<Assignment> {
        if matches!(self.peek().kind, T::Ident | T::Backtick) {
            // `name = expr`: look past a dotted/back-quoted name for `=`.
            let save = self.pos;
            if let Ok(name) = self.parse_name()
                && self.eat(T::Assign).is_some()
            {
                let expr = self.parse_expr()?;
                return Ok(Assignment {
                    name: Some(name),
                    expr,
                });
            }
            self.pos = save;
        }
        Ok(Assignment {
            name: None,
            expr: self.parse_expr()?,
        })
    }

    fn parse_assignments(&mut self) -> PResult<Vec<Assignment>> {
        let mut out = vec![self.parse_assignment()?];
        while self.eat(T::Comma).is_some() {
            out.push(self.parse_assignment()?);
        }
        Ok(out)
    }

    fn parse_stats(&mut self, inline: bool) -> PResult<CommandKind> {
        let mut aggregates = Vec::new();
        if !self.at_kw("by") && !self.at_command_end() {
            loop {
                let assign = self.parse_assignment()?;
                let filter = if self.eat_kw("where") {
                    Some(self.parse_expr()?)
                } else {
                    None
                };
                aggregates.push(Aggregate { assign, filter });
                if self.eat(T::Comma).is_none() {
                    break;
                }
            }
        }
        let mut by = Vec::new();
        if self.eat_kw("by") {
            by = self.parse_assignments()?;
        }
        Ok(CommandKind::Stats {
            inline,
            aggregates,
            by,
        })
    }

    fn parse_rename(&mut self) -> PResult<CommandKind> {
        let mut pairs = Vec::new();
        loop {
            let a = self.parse_pattern()?;
            if self.eat_kw("as") {
                let b = self.parse_pattern()?;
                pairs.push((a, b));
            } else if self.eat(T::Assign).is_some() {
                let old = self.parse_pattern()?;
                pairs.push((old, a));
            } else {
                return self.expected("`AS` or `=`");
            }
            if self.eat(T::Comma).is_none() {
                break;
            }
        }
        Ok(CommandKind::Rename(pairs))
    }

    fn parse_extract(&mut self, command: &'static str) -> PResult<CommandKind> {
        let input = self.parse_primary()?;
        let pat = self.peek();
        if !matches!(pat.kind, T::Str | T::RawStr) {
            return self.expected("a pattern string");
        }
        self.bump();
        let pattern = decode_string(self.slice(pat));
        let columns = if command == "grok" {
            grok_columns(&pattern)
        } else {
            dissect_columns(&pattern)
        };
        // DISSECT's `APPEND_SEPARATOR = "x"`.
        if self.eat_kw("append_separator") {
            self.expect(T::Assign, "`=`")?;
            self.bump();
        }
        Ok(CommandKind::Extract {
            command,
            input,
            columns,
        })
    }

    fn parse_enrich(&mut self) -> PResult<CommandKind> {
        let policy = self.parse_pattern()?;
        let on = if self.eat_kw("on") {
            Some(self.parse_name()?)
        } else {
            None
        };
        let mut columns = Vec::new();
        if self.eat_kw("with") {
            loop {
                let a = self.parse_name()?;
                if self.eat(T::Assign).is_some() {
                    self.parse_name()?;
                }
                columns.push(a.text);
                if self.eat(T::Comma).is_none() {
                    break;
                }
            }
        }
        Ok(CommandKind::Enrich {
            policy,
            on,
            columns,
        })
    }

    fn parse_fork(&mut self) -> PResult<CommandKind> {
        let mut branches = Vec::new();
        while let Some(open) = self.eat(T::LParen) {
            self.enter(open.range)?;
            let branch = self.parse_pipeline(true);
            self.guard.leave();
            self.expect(T::RParen, "`)` closing the FORK branch")?;
            branches.push(branch);
        }
        if branches.is_empty() {
            return self.expected("`(` starting a FORK branch");
        }
        Ok(CommandKind::Fork(branches))
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
        self.parse_predicate()
    }

    fn parse_predicate(&mut self) -> PResult<Expr> {
        let lhs = self.parse_sum()?;
        let t = self.peek();
        let cmp = match t.kind {
            T::EqEq => Some(CmpOp::Eq),
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
            let rhs = self.parse_sum()?;
            let range = lhs.range.cover(rhs.range);
            return Ok(Expr::new(
                ExprKind::MatchOp {
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                range,
            ));
        }
        if self.is_kw(t, "is") {
            self.bump();
            let negated = self.eat_kw("not");
            let null = self.peek();
            if !self.eat_kw("null") {
                return self.expected("`NULL`");
            }
            let range = lhs.range.cover(null.range);
            return Ok(Expr::new(
                ExprKind::IsNull {
                    negated,
                    lhs: Box::new(lhs),
                },
                range,
            ));
        }
        let negated = self.is_kw(t, "not")
            && ["in", "like", "rlike"]
                .iter()
                .any(|k| self.is_kw(self.peek_at(1), k));
        if negated {
            self.bump();
        }
        let t = self.peek();
        if self.is_kw(t, "in") {
            self.bump();
            let open = self.expect(T::LParen, "`(` after IN")?;
            let list = self.parse_list_tail(open)?;
            let range = lhs.range.cover(self.prev_end());
            return Ok(Expr::new(
                ExprKind::In {
                    negated,
                    lhs: Box::new(lhs),
                    list,
                },
                range,
            ));
        }
        if self.is_kw(t, "like") || self.is_kw(t, "rlike") {
            self.bump();
            let regex = self.is_kw(t, "rlike");
            let patterns = if let Some(open) = self.eat(T::LParen) {
                self.parse_list_tail(open)?
            } else {
                vec![self.parse_sum()?]
            };
            let range = lhs.range.cover(self.prev_end());
            return Ok(Expr::new(
                ExprKind::Like {
                    regex,
                    negated,
                    lhs: Box::new(lhs),
                    patterns,
                },
                range,
            ));
        }
        Ok(lhs)
    }

    fn parse_list_tail(&mut self, open: Token) -> PResult<Vec<Expr>> {
        self.enter(open.range)?;
        let mut items = Vec::new();
        let r = loop {
            if self.eat(T::RParen).is_some() {
                break Ok(());
            }
            match self.parse_expr() {
                Ok(e) => items.push(e),
                Err(e) => break Err(e),
            }
            if self.eat(T::Comma).is_none() {
                break self.expect(T::RParen, "`,` or `)`").map(|_| ());
            }
        };
        self.guard.leave();
        r?;
        Ok(items)
    }

    fn parse_binary(
        &mut self,
        ops: &[(T, char)],
        next: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut lhs = next(self)?;
        let mut entered = 0;
        let result = loop {
            let Some(&(_, op)) = ops.iter().find(|(k, _)| *k == self.peek().kind) else {
                break Ok(lhs);
            };
            let t = self.bump();
            if let Err(e) = self.enter(t.range) {
                break Err(e);
            }
            entered += 1;
            let rhs = match next(self) {
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

    fn parse_sum(&mut self) -> PResult<Expr> {
        self.parse_binary(&[(T::Plus, '+'), (T::Minus, '-')], Self::parse_product)
    }

    fn parse_product(&mut self) -> PResult<Expr> {
        self.parse_binary(
            &[(T::Star, '*'), (T::Slash, '/'), (T::Percent, '%')],
            Self::parse_unary,
        )
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        if matches!(t.kind, T::Minus | T::Plus) {
            self.bump();
            self.enter(t.range)?;
            let inner = self.parse_unary();
            self.guard.leave();
            let inner = inner?;
            if t.kind == T::Plus {
                return Ok(inner);
            }
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
        let mut e = self.parse_primary()?;
        while self.eat(T::Cast).is_some() {
            let ty = self.expect(T::Ident, "a type name")?;
            let range = e.range.cover(ty.range);
            e = Expr::new(
                ExprKind::Cast {
                    expr: Box::new(e),
                    ty: self.slice(ty).to_string(),
                },
                range,
            );
        }
        Ok(e)
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
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
            T::LBracket => {
                self.bump();
                self.enter(t.range)?;
                let mut items = Vec::new();
                let r = loop {
                    if self.eat(T::RBracket).is_some() {
                        break Ok(());
                    }
                    match self.parse_expr() {
                        Ok(e) => items.push(e),
                        Err(e) => break Err(e),
                    }
                    if self.eat(T::Comma).is_none() {
                        break self.expect(T::RBracket, "`,` or `]`").map(|_| ());
                    }
                };
                self.guard.leave();
                r?;
                Ok(Expr::new(
                    ExprKind::List(items),
                    t.range.cover(self.prev_end()),
                ))
            }
            T::LBrace => {
                // A map of options: skipped, balanced.
                let mut depth = 0usize;
                loop {
                    let k = self.bump();
                    match k.kind {
                        T::LBrace => depth += 1,
                        T::RBrace => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        T::Eof => return self.err("unterminated `{`", t.range),
                        _ => {}
                    }
                }
                Ok(Expr::new(ExprKind::Map, t.range.cover(self.prev_end())))
            }
            T::Str | T::RawStr => {
                self.bump();
                Ok(Expr::new(
                    ExprKind::Str(decode_string(self.slice(t))),
                    t.range,
                ))
            }
            T::Int | T::Float => {
                self.bump();
                let s = self.slice(t);
                let next = self.peek();
                if next.kind == T::Ident
                    && TIME_UNITS
                        .iter()
                        .any(|u| self.slice(next).eq_ignore_ascii_case(u))
                {
                    self.bump();
                    return Ok(Expr::new(
                        ExprKind::Span(t.range.cover(next.range).slice(self.text).to_string()),
                        t.range.cover(next.range),
                    ));
                }
                Ok(match s.parse::<i64>() {
                    Ok(i) if t.kind == T::Int => Expr::new(ExprKind::Int(i), t.range),
                    _ => Expr::new(ExprKind::Float(s.parse().unwrap_or(f64::MAX)), t.range),
                })
            }
            T::Param => {
                self.bump();
                Ok(Expr::new(
                    ExprKind::Param(self.slice(t).to_string()),
                    t.range,
                ))
            }
            T::Star => {
                // `COUNT(*)`.
                self.bump();
                Ok(Expr::new(ExprKind::Str("*".into()), t.range))
            }
            T::Backtick => self.parse_field(),
            T::Ident => {
                let s = self.slice(t);
                if self.peek_at(1).kind == T::LParen && !s.contains('.') {
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
                if RESERVED.iter().any(|k| s.eq_ignore_ascii_case(k)) {
                    return self.expected("a value or column");
                }
                self.parse_field()
            }
            _ => self.expected("a value or column"),
        }
    }

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
                _ => return self.expected("a column name"),
            }
            self.bump();
            range = range.cover(t.range);
            if self.peek().kind == T::Dot
                && matches!(self.peek_at(1).kind, T::Ident | T::Backtick)
                && self.peek().range.start == range.end
            {
                self.bump();
                name.push('.');
                continue;
            }
            break;
        }
        Ok(Expr::new(ExprKind::Field(name), range))
    }

    fn parse_call(&mut self) -> PResult<Expr> {
        let t = self.bump();
        let open = self.expect(T::LParen, "`(`")?;
        self.enter(open.range)?;
        let mut args = Vec::new();
        let r = loop {
            if let Some(close) = self.eat(T::RParen) {
                break Ok(close);
            }
            // `COUNT(DISTINCT x)` is not ES|QL, but `PERCENTILE(x, 99)` etc. are plain.
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
            ExprKind::Call { name, args },
            t.range.cover(close.range),
        ))
    }
}

fn cover_all(items: &[Expr]) -> TextRange {
    let mut it = items.iter();
    let first = it.next().map_or_else(TextRange::default, |e| e.range);
    it.fold(first, |acc, e| acc.cover(e.range))
}

/// Columns a GROK pattern makes: `%{SYNTAX:name}` and `%{SYNTAX:name:type}`.
#[must_use]
pub fn grok_columns(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(i) = rest.find("%{") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find('}') else { break };
        let mut parts = rest[..end].split(':');
        if let (Some(_), Some(name)) = (parts.next(), parts.next())
            && !name.is_empty()
        {
            out.push(name.to_string());
        }
        rest = &rest[end + 1..];
    }
    out
}

/// Columns a DISSECT pattern makes: `%{name}`, `%{+name}`, `%{name->}`; not `%{?skip}` or `%{}`.
#[must_use]
pub fn dissect_columns(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(i) = rest.find("%{") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find('}') else { break };
        let key = rest[..end].trim_end_matches("->");
        let key = key.split("/").next().unwrap_or(key);
        if !key.is_empty()
            && !key.starts_with('?')
            && !key.starts_with('*')
            && !key.starts_with('&')
        {
            let name = key.trim_start_matches('+').to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        rest = &rest[end + 1..];
    }
    out
}
