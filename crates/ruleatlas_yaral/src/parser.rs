//! Recursive-descent parser for YARA-L 2.0 rule files.
//!
//! Rules: `rule NAME { SECTION... }`; sections are recognised by `word:` headers, so a
//! section ends at the next header, at the rule's `}`, or at the next `rule NAME {` (an
//! unclosed rule). Inside `events:` and `condition:` statements follow each other with only
//! a line break between them; an expression simply ends where the next token cannot
//! continue it. A statement that fails to parse becomes [`Stmt::Error`] and the parser
//! resumes at the next line that starts at bracket depth zero.
//!
//! Expression precedence, loosest first: `or`, `and`, `not`/`!`, `any`/`all`, comparison
//! (`= != > >= < <=`, `in [regex|cidr] %list`, postfix `nocase`), `+ -`, `* /`, unary `-`,
//! primaries (fields, variables, literals, calls, parentheses).

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{DepthGuard, Parsed};
use ruleatlas_text::TextRange;

use crate::ast::{
    ArithOp, CmpOp, Expr, ExprKind, ExprSection, InKind, KeyValue, KeyValueSection, MatchSection,
    OutcomeAssign, OutcomeSection, PathSeg, Quantifier, Rule, RuleFile, SectionKind, Stmt,
};
use crate::lexer::{Token, TokenKind, lex};

/// Parses a YARA-L file (one or more rules). Never panics; every problem is a diagnostic
/// with a byte range into `text`.
#[must_use]
pub fn parse(text: &str) -> Parsed<RuleFile> {
    let lexed = lex(text);
    let mut p = Parser {
        text,
        toks: lexed.tokens,
        pos: 0,
        diags: lexed.diagnostics,
        guard: DepthGuard::default(),
    };
    let ast = p.file();
    Parsed {
        ast,
        diagnostics: p.diags,
    }
}

/// A parse error inside an expression.
#[derive(Debug)]
struct PErr {
    span: TextRange,
    message: String,
}

type PResult<T> = Result<T, PErr>;

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    guard: DepthGuard,
}

fn describe(t: Option<&Token>, text: &str) -> String {
    match t {
        None => "end of file".to_string(),
        Some(t) => {
            let s = t.span.slice(text);
            let s: String = s.chars().take(40).collect();
            format!("`{s}`")
        }
    }
}

impl Parser<'_> {
    // ---- token helpers -------------------------------------------------------------

    fn tok(&self, i: usize) -> Option<&Token> {
        self.toks.get(i)
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn peek_kind(&self) -> Option<&TokenKind> {
        self.peek().map(|t| &t.kind)
    }

    fn at_word(&self, w: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(w))
    }

    fn eof_span(&self) -> TextRange {
        TextRange::empty(self.text.len())
    }

    fn cur_span(&self) -> TextRange {
        self.peek().map_or_else(|| self.eof_span(), |t| t.span)
    }

    fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(0, |t| t.span.end as usize)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, k: &TokenKind) -> bool {
        if self.peek_kind() == Some(k) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(PErr {
            span: self.cur_span(),
            message: message.into(),
        })
    }

    fn error_diag(&mut self, span: TextRange, message: impl Into<String>) {
        let message = message.into();
        // The depth guard's error (`TooDeep`) is a limit, not a syntax error.
        let code = if message.starts_with("nesting deeper than") {
            "limit-depth"
        } else {
            "yaral-syntax"
        };
        self.diags
            .push(Diagnostic::error(code, message).with_range(span));
    }

    /// `word:` where `word` names a section.
    fn is_section_header(&self, i: usize) -> Option<SectionKind> {
        let t = self.tok(i)?;
        let kind = SectionKind::from_word(t.ident()?)?;
        matches!(self.tok(i + 1).map(|t| &t.kind), Some(TokenKind::Colon)).then_some(kind)
    }

    /// `rule NAME {` starting a line: the start of another rule.
    fn is_rule_start(&self, i: usize) -> bool {
        self.tok(i)
            .is_some_and(|t| t.is_word("rule") && t.line_start)
            && matches!(self.tok(i + 1).map(|t| &t.kind), Some(TokenKind::Ident(_)))
            && matches!(self.tok(i + 2).map(|t| &t.kind), Some(TokenKind::LBrace))
    }

    fn at_section_end(&self, i: usize) -> bool {
        match self.tok(i) {
            None => true,
            Some(t) if t.kind == TokenKind::RBrace => true,
            Some(_) => self.is_section_header(i).is_some() || self.is_rule_start(i),
        }
    }

    /// Runs `f` one nesting level deeper, failing cleanly at the depth limit.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if let Err(e) = self.guard.enter() {
            return self.err(format!("{e}"));
        }
        let r = f(self);
        self.guard.leave();
        r
    }

    // ---- file and rule -------------------------------------------------------------

    fn file(&mut self) -> RuleFile {
        let mut file = RuleFile::default();
        while self.pos < self.toks.len() {
            if self.at_word("rule")
                && matches!(
                    self.tok(self.pos + 1).map(|t| &t.kind),
                    Some(TokenKind::Ident(_))
                )
            {
                let rule = self.rule();
                file.rules.push(rule);
                continue;
            }
            // Junk outside a rule: one diagnostic, then skip to the next `rule`.
            let span = self.cur_span();
            let what = describe(self.peek(), self.text);
            self.error_diag(span, format!("expected `rule NAME {{`, found {what}"));
            self.pos += 1;
            while self.pos < self.toks.len()
                && !(self.at_word("rule")
                    && matches!(
                        self.tok(self.pos + 1).map(|t| &t.kind),
                        Some(TokenKind::Ident(_))
                    ))
            {
                self.pos += 1;
            }
        }
        file
    }

    fn rule(&mut self) -> Rule {
        let start = self.cur_span();
        self.pos += 1; // `rule`
        let (name, name_span) = match self.bump() {
            Some(Token {
                kind: TokenKind::Ident(n),
                span,
                ..
            }) => (n, span),
            _ => (String::new(), start),
        };
        let mut rule = Rule {
            name,
            name_span,
            span: start,
            closed: false,
            meta: None,
            events: None,
            match_section: None,
            outcome: None,
            condition: None,
            options: None,
        };
        let brace = self.cur_span();
        if !self.eat(&TokenKind::LBrace) {
            let what = describe(self.peek(), self.text);
            self.error_diag(
                brace,
                format!("expected `{{` after `rule {}`, found {what}", rule.name),
            );
        }
        let mut last_kind: Option<SectionKind> = None;
        loop {
            let Some(t) = self.peek() else {
                self.error_diag(
                    brace,
                    format!("unclosed `{{`: rule `{}` has no closing `}}`", rule.name),
                );
                break;
            };
            if t.kind == TokenKind::RBrace {
                rule.closed = true;
                self.pos += 1;
                break;
            }
            if self.is_rule_start(self.pos) {
                self.error_diag(
                    brace,
                    format!(
                        "unclosed `{{`: rule `{}` ends where the next rule starts",
                        rule.name
                    ),
                );
                break;
            }
            let Some(kind) = self.is_section_header(self.pos) else {
                let span = self.cur_span();
                let what = describe(self.peek(), self.text);
                self.error_diag(
                    span,
                    format!("expected a section header (`events:`, `condition:`...), found {what}"),
                );
                self.pos += 1;
                while !self.at_section_end(self.pos) {
                    self.pos += 1;
                }
                continue;
            };
            let header = self.cur_span();
            self.pos += 2;
            if let Some(prev) = last_kind
                && prev >= kind
            {
                self.diags.push(
                    Diagnostic::warning(
                        "yaral-section-order",
                        format!(
                            "section `{}:` after `{}:` (duplicate or out of order)",
                            kind.as_str(),
                            prev.as_str()
                        ),
                    )
                    .with_range(header),
                );
            }
            last_kind = Some(kind);
            match kind {
                SectionKind::Meta => {
                    let s = self.key_values(header);
                    merge_kv(&mut rule.meta, s);
                }
                SectionKind::Options => {
                    let s = self.key_values(header);
                    merge_kv(&mut rule.options, s);
                }
                SectionKind::Events => {
                    let s = self.expr_section(header);
                    merge_exprs(&mut rule.events, s);
                }
                SectionKind::Condition => {
                    let s = self.expr_section(header);
                    merge_exprs(&mut rule.condition, s);
                }
                SectionKind::Match => rule.match_section = Some(self.match_section(header)),
                SectionKind::Outcome => {
                    let s = self.outcome_section(header);
                    match &mut rule.outcome {
                        Some(o) => o.assigns.extend(s.assigns),
                        None => rule.outcome = Some(s),
                    }
                }
            }
        }
        rule.span = TextRange::new(
            start.start as usize,
            self.prev_end().max(start.end as usize),
        );
        for (present, what) in [
            (rule.events.is_some(), "events"),
            (rule.condition.is_some(), "condition"),
        ] {
            if !present {
                self.diags.push(
                    Diagnostic::error(
                        "yaral-missing-section",
                        format!("rule `{}` has no `{what}:` section (required)", rule.name),
                    )
                    .with_range(rule.name_span),
                );
            }
        }
        if rule.meta.is_none() {
            self.diags.push(
                Diagnostic::warning(
                    "yaral-missing-section",
                    format!("rule `{}` has no `meta:` section", rule.name),
                )
                .with_range(rule.name_span),
            );
        }
        rule
    }

    // ---- sections ------------------------------------------------------------------

    /// Skips to the next line start (or section end) after a bad `key = value` line.
    fn skip_line(&mut self) {
        self.pos += 1;
        while !self.at_section_end(self.pos) && !self.peek().is_some_and(|t| t.line_start) {
            self.pos += 1;
        }
    }

    fn key_values(&mut self, header: TextRange) -> KeyValueSection {
        let mut sec = KeyValueSection {
            span: header,
            entries: Vec::new(),
        };
        while !self.at_section_end(self.pos) {
            let start = self.cur_span();
            let key = match self.peek_kind() {
                Some(TokenKind::Ident(k)) => {
                    // `rule-id`: dashes inside a key, written without spaces.
                    let mut k = k.clone();
                    while self.tok(self.pos + 1).is_some_and(|t| {
                        t.kind == TokenKind::Minus && t.span.start == self.toks[self.pos].span.end
                    }) && let Some(Token {
                        kind: TokenKind::Ident(next),
                        span,
                        ..
                    }) = self.tok(self.pos + 2)
                        && span.start == self.toks[self.pos + 1].span.end
                    {
                        k.push('-');
                        k.push_str(next);
                        self.pos += 2;
                    }
                    k
                }
                Some(TokenKind::Str(k)) => k.clone(),
                _ => {
                    let what = describe(self.peek(), self.text);
                    self.error_diag(start, format!("expected `key = \"value\"`, found {what}"));
                    self.skip_line();
                    continue;
                }
            };
            self.pos += 1;
            if !self.eat(&TokenKind::Eq) {
                let span = self.cur_span();
                self.error_diag(span, format!("expected `=` after `{key}`"));
                self.pos = self.pos.saturating_sub(1);
                self.skip_line();
                continue;
            }
            let value = match self.peek().map(|t| (t.kind.clone(), t.span)) {
                Some((
                    TokenKind::Str(s)
                    | TokenKind::Raw(s)
                    | TokenKind::Ident(s)
                    | TokenKind::Duration(s),
                    _,
                )) => s,
                Some((TokenKind::Int(_) | TokenKind::Float(_), span)) => {
                    span.slice(self.text).to_string()
                }
                Some((TokenKind::Minus, _)) => {
                    // A negative number.
                    let s = self.cur_span();
                    self.pos += 1;
                    let n = self.cur_span();
                    s.cover(n).slice(self.text).to_string()
                }
                _ => {
                    let span = self.cur_span();
                    let what = describe(self.peek(), self.text);
                    self.error_diag(span, format!("expected a value for `{key}`, found {what}"));
                    if !self.at_section_end(self.pos) {
                        self.skip_line();
                    }
                    continue;
                }
            };
            self.pos += 1;
            let span = TextRange::new(start.start as usize, self.prev_end());
            sec.entries.push(KeyValue { key, value, span });
        }
        sec
    }

    fn expr_section(&mut self, header: TextRange) -> ExprSection {
        let mut sec = ExprSection {
            span: header,
            stmts: Vec::new(),
        };
        while !self.at_section_end(self.pos) {
            let stmt_start = self.pos;
            match self.expr() {
                Ok(e) => sec.stmts.push(Stmt::Expr(e)),
                Err(e) => {
                    self.recover(stmt_start, e.span);
                    let span = TextRange::new(
                        self.toks
                            .get(stmt_start)
                            .map_or(e.span.start as usize, |t| t.span.start as usize),
                        self.prev_end().max(e.span.end as usize),
                    );
                    self.error_diag(e.span, e.message.clone());
                    let text = span.slice(self.text).to_string();
                    sec.stmts.push(Stmt::Error {
                        span,
                        message: e.message,
                        text,
                    });
                }
            }
        }
        sec
    }

    /// After an error: skip to the first token at or after the error that starts a line at
    /// bracket depth zero (counted from the statement start), or ends the section.
    fn recover(&mut self, stmt_start: usize, err_span: TextRange) {
        let mut depth: i64 = 0;
        let mut i = stmt_start;
        while i < self.toks.len() {
            if i > stmt_start && self.at_section_end(i) {
                break;
            }
            let t = &self.toks[i];
            if i > stmt_start && t.span.start >= err_span.start && t.line_start && depth <= 0 {
                break;
            }
            match t.kind {
                TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RParen | TokenKind::RBracket => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        self.pos = i.max(stmt_start + 1).min(self.toks.len());
    }

    fn match_section(&mut self, header: TextRange) -> MatchSection {
        let first = self.pos;
        let mut vars = Vec::new();
        let mut window = None;
        let mut seen_over = false;
        while !self.at_section_end(self.pos) {
            let Some(t) = self.bump() else { break };
            match &t.kind {
                TokenKind::Var(_) if !seen_over => {
                    let mut end = t.span;
                    while matches!(self.peek_kind(), Some(TokenKind::Dot | TokenKind::Ident(_)))
                        && !self
                            .peek()
                            .is_some_and(|t| t.is_word("over") || t.is_word("by") || t.line_start)
                    {
                        end = self.cur_span();
                        self.pos += 1;
                    }
                    vars.push(t.span.cover(end).slice(self.text).to_string());
                }
                // `over` (hop or sliding window), `by` (tumbling window).
                TokenKind::Ident(w)
                    if w.eq_ignore_ascii_case("over") || w.eq_ignore_ascii_case("by") =>
                {
                    seen_over = true;
                    match self.peek_kind() {
                        Some(TokenKind::Duration(d)) => {
                            window = Some(d.clone());
                            self.pos += 1;
                        }
                        _ => {
                            let span = self.cur_span();
                            self.error_diag(
                                span,
                                format!("expected a duration (`5m`, `1h`) after `{w}`"),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        let text = if self.pos > first {
            let s = self.toks[first].span.cover(self.toks[self.pos - 1].span);
            s.slice(self.text).to_string()
        } else {
            String::new()
        };
        MatchSection {
            span: header,
            vars,
            window,
            text,
        }
    }

    fn outcome_section(&mut self, header: TextRange) -> OutcomeSection {
        let mut sec = OutcomeSection {
            span: header,
            assigns: Vec::new(),
        };
        while !self.at_section_end(self.pos) {
            let stmt_start = self.pos;
            let start = self.cur_span();
            let var = match self.peek_kind() {
                Some(TokenKind::Var(v)) => v.clone(),
                _ => {
                    let what = describe(self.peek(), self.text);
                    let e = PErr {
                        span: start,
                        message: format!("expected `$variable = ...` in `outcome:`, found {what}"),
                    };
                    self.recover(stmt_start, e.span);
                    self.error_diag(e.span, e.message);
                    continue;
                }
            };
            self.pos += 1;
            let parsed = if self.eat(&TokenKind::Eq) {
                self.expr()
            } else {
                self.err(format!("expected `=` after `${var}`"))
            };
            match parsed {
                Ok(e) => {
                    let span = start.cover(e.span);
                    sec.assigns.push(OutcomeAssign {
                        var,
                        span,
                        expr: Some(e),
                    });
                }
                Err(e) => {
                    self.recover(stmt_start, e.span);
                    self.error_diag(e.span, e.message);
                    sec.assigns.push(OutcomeAssign {
                        var,
                        span: start,
                        expr: None,
                    });
                }
            }
        }
        sec
    }

    // ---- expressions (Pratt) --------------------------------------------------------
    //
    // Binding powers, loosest first: `or` 1, `and` 3, prefix `not`/`!` 5, `any`/`all` 6,
    // comparison level 7 (`= != > >= < <=`, `in`, postfix `nocase`; not chainable),
    // `+ -` 9, `* /` 11, prefix `-` 13. Same-operator chains are built flat (n-ary), so
    // only parentheses, prefixes and calls nest, and each of those goes through
    // `expr_bp`, which holds the depth guard.

    fn expr(&mut self) -> PResult<Expr> {
        self.expr_bp(0)
    }

    fn expr_bp(&mut self, min_bp: u8) -> PResult<Expr> {
        self.nested(|p| p.expr_bp_inner(min_bp))
    }

    fn eat_nocase(&mut self) -> bool {
        if self.at_word("nocase") {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn cmp_op(&self) -> Option<CmpOp> {
        match self.peek_kind()? {
            TokenKind::Eq => Some(CmpOp::Eq),
            TokenKind::Ne => Some(CmpOp::Ne),
            TokenKind::Gt => Some(CmpOp::Gt),
            TokenKind::Ge => Some(CmpOp::Ge),
            TokenKind::Lt => Some(CmpOp::Lt),
            TokenKind::Le => Some(CmpOp::Le),
            _ => None,
        }
    }

    fn at_cmp_level(&self) -> bool {
        self.cmp_op().is_some() || self.at_word("in") || self.at_word("nocase")
    }

    fn expr_bp_inner(&mut self, min_bp: u8) -> PResult<Expr> {
        let mut lhs = self.prefix()?;
        let mut compared = false;
        loop {
            if self.at_word("or") || self.at_word("and") {
                let (is_or, bp) = if self.at_word("or") {
                    (true, 1)
                } else {
                    (false, 3)
                };
                if bp < min_bp {
                    break;
                }
                self.pos += 1;
                let rhs = self.expr_bp(bp + 1)?;
                lhs = join_bool(lhs, rhs, is_or);
                compared = false;
                continue;
            }
            if self.at_cmp_level() {
                if 7 < min_bp || compared {
                    break;
                }
                lhs = self.comparison(lhs)?;
                compared = true;
                continue;
            }
            let arith = match self.peek_kind() {
                Some(TokenKind::Plus) => Some((ArithOp::Add, 9)),
                Some(TokenKind::Minus) => Some((ArithOp::Sub, 9)),
                Some(TokenKind::Star) => Some((ArithOp::Mul, 11)),
                Some(TokenKind::Slash) => Some((ArithOp::Div, 11)),
                _ => None,
            };
            let Some((op, bp)) = arith else { break };
            if bp < min_bp || compared {
                break;
            }
            self.pos += 1;
            let rhs = self.expr_bp(bp + 1)?;
            lhs = join_arith(lhs, op, rhs);
        }
        Ok(lhs)
    }

    /// `lhs OP rhs [nocase]`, `lhs in [regex|cidr] %list [nocase]`, `lhs nocase`.
    fn comparison(&mut self, lhs: Expr) -> PResult<Expr> {
        if let Some(op) = self.cmp_op() {
            self.pos += 1;
            let rhs = self.expr_bp(8)?;
            let nocase = self.eat_nocase();
            let span = TextRange::new(lhs.span.start as usize, self.prev_end());
            return Ok(Expr::new(
                ExprKind::Compare {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    nocase,
                },
                span,
            ));
        }
        if self.at_word("in") {
            self.pos += 1;
            let kind = if self.at_word("regex") {
                self.pos += 1;
                InKind::Regex
            } else if self.at_word("cidr") {
                self.pos += 1;
                InKind::Cidr
            } else {
                InKind::Plain
            };
            let Some(TokenKind::RefList(name)) = self.peek_kind().cloned() else {
                return self.err("expected a reference list (`%name`) after `in`");
            };
            self.pos += 1;
            let list = self.data_table_column(name);
            let nocase = self.eat_nocase();
            let span = TextRange::new(lhs.span.start as usize, self.prev_end());
            return Ok(Expr::new(
                ExprKind::In {
                    expr: Box::new(lhs),
                    kind,
                    list,
                    nocase,
                },
                span,
            ));
        }
        self.pos += 1; // `nocase`
        let span = TextRange::new(lhs.span.start as usize, self.prev_end());
        Ok(Expr::new(ExprKind::Nocase(Box::new(lhs)), span))
    }

    fn prefix(&mut self) -> PResult<Expr> {
        let start = self.cur_span();
        if self.at_word("not") || self.peek_kind() == Some(&TokenKind::Bang) {
            self.pos += 1;
            let inner = self.expr_bp(5)?;
            let span = start.cover(inner.span);
            return Ok(Expr::new(ExprKind::Not(Box::new(inner)), span));
        }
        let quantifier = if self.at_word("any") {
            Some(Quantifier::Any)
        } else if self.at_word("all") {
            Some(Quantifier::All)
        } else {
            None
        };
        // `any`/`all` are quantifiers only when an operand follows (not `any(`, a call).
        if let Some(quantifier) = quantifier
            && matches!(
                self.tok(self.pos + 1).map(|t| &t.kind),
                Some(TokenKind::Var(_) | TokenKind::Ident(_))
            )
        {
            self.pos += 1;
            let inner = self.expr_bp(6)?;
            let span = start.cover(inner.span);
            return Ok(Expr::new(
                ExprKind::Quant {
                    quantifier,
                    expr: Box::new(inner),
                },
                span,
            ));
        }
        if self.peek_kind() == Some(&TokenKind::Minus) {
            self.pos += 1;
            let inner = self.expr_bp(13)?;
            let span = start.cover(inner.span);
            let kind = match inner.kind {
                ExprKind::Int(i) => ExprKind::Int(i.saturating_neg()),
                ExprKind::Float(f) => ExprKind::Float(-f),
                other => ExprKind::Neg(Box::new(Expr::new(other, inner.span))),
            };
            return Ok(Expr::new(kind, span));
        }
        self.primary()
    }

    /// `%table.column` (data tables) after a `%name`.
    fn data_table_column(&mut self, mut name: String) -> String {
        if self.peek_kind() == Some(&TokenKind::Dot)
            && let Some(TokenKind::Ident(col)) = self.tok(self.pos + 1).map(|t| t.kind.clone())
            && !self.tok(self.pos).is_some_and(|t| t.line_start)
        {
            self.pos += 2;
            name.push('.');
            name.push_str(&col);
        }
        name
    }

    fn primary(&mut self) -> PResult<Expr> {
        let Some(tok) = self.peek().cloned() else {
            return self.err("expected an expression, found end of file");
        };
        if self.at_section_end(self.pos) {
            return self.err(format!(
                "expected an expression, found {}",
                describe(Some(&tok), self.text)
            ));
        }
        let span = tok.span;
        let simple = |k: ExprKind| Ok(Expr::new(k, span));
        match tok.kind {
            TokenKind::Var(name) => {
                self.pos += 1;
                self.field_or_var(name, span)
            }
            TokenKind::Count(n) => {
                self.pos += 1;
                simple(ExprKind::Count(n))
            }
            TokenKind::RefList(n) => {
                self.pos += 1;
                let n = self.data_table_column(n);
                Ok(Expr::new(
                    ExprKind::RefList(n),
                    TextRange::new(span.start as usize, self.prev_end()),
                ))
            }
            TokenKind::Str(s) => {
                self.pos += 1;
                simple(ExprKind::Str(s))
            }
            TokenKind::Raw(s) => {
                self.pos += 1;
                simple(ExprKind::Raw(s))
            }
            TokenKind::Regex { pattern, flags } => {
                self.pos += 1;
                simple(ExprKind::Regex { pattern, flags })
            }
            TokenKind::Int(i) => {
                self.pos += 1;
                simple(ExprKind::Int(i))
            }
            TokenKind::Float(f) => {
                self.pos += 1;
                simple(ExprKind::Float(f))
            }
            TokenKind::Duration(d) => {
                self.pos += 1;
                simple(ExprKind::Duration(d))
            }
            TokenKind::Ident(w) => self.word_or_call(w, span),
            TokenKind::LParen => {
                self.pos += 1;
                let inner = self.expr()?;
                if !self.eat(&TokenKind::RParen) {
                    let what = describe(self.peek(), self.text);
                    return Err(PErr {
                        span: self.cur_span(),
                        message: format!(
                            "expected `)` to close the `(` at byte {}, found {what}",
                            span.start
                        ),
                    });
                }
                Ok(Expr::new(
                    inner.kind,
                    TextRange::new(span.start as usize, self.prev_end()),
                ))
            }
            TokenKind::LBracket => {
                self.pos += 1;
                let items = self.list_items(&TokenKind::RBracket)?;
                Ok(Expr::new(
                    ExprKind::List(items),
                    TextRange::new(span.start as usize, self.prev_end()),
                ))
            }
            _ => self.err(format!(
                "expected an expression, found {}",
                describe(Some(&tok), self.text)
            )),
        }
    }

    fn field_or_var(&mut self, var: String, start: TextRange) -> PResult<Expr> {
        let mut path = Vec::new();
        loop {
            match self.peek_kind() {
                Some(TokenKind::Dot) => {
                    let Some(TokenKind::Ident(n)) = self.tok(self.pos + 1).map(|t| t.kind.clone())
                    else {
                        self.pos += 1;
                        return self.err("expected a field name after `.`");
                    };
                    self.pos += 2;
                    path.push(PathSeg::Name(n));
                }
                Some(TokenKind::LBracket) if !path.is_empty() => {
                    self.pos += 1;
                    let key = match self.peek_kind() {
                        Some(TokenKind::Str(_) | TokenKind::Int(_) | TokenKind::Raw(_)) => {
                            self.cur_span().slice(self.text).to_string()
                        }
                        _ => return self.err("expected a string key or an index inside `[...]`"),
                    };
                    self.pos += 1;
                    if !self.eat(&TokenKind::RBracket) {
                        return self.err("expected `]`");
                    }
                    path.push(PathSeg::Index(key));
                }
                _ => break,
            }
        }
        let span = TextRange::new(start.start as usize, self.prev_end());
        if path.is_empty() {
            Ok(Expr::new(ExprKind::Var(var), span))
        } else {
            Ok(Expr::new(ExprKind::Field { var, path }, span))
        }
    }

    fn word_or_call(&mut self, first: String, start: TextRange) -> PResult<Expr> {
        self.pos += 1;
        match first.as_str() {
            "true" | "TRUE" => return Ok(Expr::new(ExprKind::Bool(true), start)),
            "false" | "FALSE" => return Ok(Expr::new(ExprKind::Bool(false), start)),
            "null" | "NULL" => return Ok(Expr::new(ExprKind::Null, start)),
            _ => {}
        }
        let mut name = first;
        while self.peek_kind() == Some(&TokenKind::Dot)
            && let Some(TokenKind::Ident(n)) = self.tok(self.pos + 1).map(|t| t.kind.clone())
        {
            self.pos += 2;
            name.push('.');
            name.push_str(&n);
        }
        if self
            .peek()
            .is_some_and(|t| t.kind == TokenKind::LParen && !t.line_start)
        {
            self.pos += 1;
            let args = self.nested(|p| p.list_items(&TokenKind::RParen))?;
            let span = TextRange::new(start.start as usize, self.prev_end());
            return Ok(Expr::new(ExprKind::Call { name, args }, span));
        }
        let span = TextRange::new(start.start as usize, self.prev_end());
        Ok(Expr::new(ExprKind::Word(name), span))
    }

    /// Comma-separated expressions up to `close` (consumed).
    fn list_items(&mut self, close: &TokenKind) -> PResult<Vec<Expr>> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(&TokenKind::Comma) {
                continue;
            }
            if self.eat(close) {
                return Ok(items);
            }
            let what = describe(self.peek(), self.text);
            let want = if *close == TokenKind::RParen {
                ")"
            } else {
                "]"
            };
            return self.err(format!("expected `,` or `{want}`, found {what}"));
        }
    }
}

/// `lhs or rhs` / `lhs and rhs`, appending to an existing chain of the same operator.
fn join_bool(lhs: Expr, rhs: Expr, is_or: bool) -> Expr {
    let span = lhs.span.cover(rhs.span);
    match (lhs.kind, is_or) {
        (ExprKind::Or(mut items), true) => {
            items.push(rhs);
            Expr::new(ExprKind::Or(items), span)
        }
        (ExprKind::And(mut items), false) => {
            items.push(rhs);
            Expr::new(ExprKind::And(items), span)
        }
        (kind, true) => Expr::new(ExprKind::Or(vec![Expr::new(kind, lhs.span), rhs]), span),
        (kind, false) => Expr::new(ExprKind::And(vec![Expr::new(kind, lhs.span), rhs]), span),
    }
}

fn additive(op: ArithOp) -> bool {
    matches!(op, ArithOp::Add | ArithOp::Sub)
}

/// `lhs op rhs`, appending to a chain of operators of the same precedence.
fn join_arith(lhs: Expr, op: ArithOp, rhs: Expr) -> Expr {
    let span = lhs.span.cover(rhs.span);
    match lhs.kind {
        ExprKind::Sum { first, mut rest }
            if rest.iter().all(|(o, _)| additive(*o) == additive(op)) =>
        {
            rest.push((op, rhs));
            Expr::new(ExprKind::Sum { first, rest }, span)
        }
        kind => Expr::new(
            ExprKind::Sum {
                first: Box::new(Expr::new(kind, lhs.span)),
                rest: vec![(op, rhs)],
            },
            span,
        ),
    }
}

fn merge_kv(slot: &mut Option<KeyValueSection>, s: KeyValueSection) {
    match slot {
        Some(existing) => existing.entries.extend(s.entries),
        None => *slot = Some(s),
    }
}

fn merge_exprs(slot: &mut Option<ExprSection>, s: ExprSection) {
    match slot {
        Some(existing) => existing.stmts.extend(s.stmts),
        None => *slot = Some(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_statements() {
        let src = r#"rule r {
  meta:
    author = "x"
    n = 5
  events:
    $e.metadata.event_type = "USER_LOGIN"
    $e.security_result.detection_fields["k"] = "v" nocase
    re.regex($e.target.url, `a.*b`) nocase
    not $e.principal.ip in %list
  match:
    $user over 1h
  outcome:
    $risk = max(if($e.x = "y", 10, 0) + 5)
  condition:
    $e and #e > 5
}"#;
        let p = parse(src);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let r = &p.ast.rules[0];
        assert_eq!(r.name, "r");
        assert!(r.closed);
        assert_eq!(r.meta.as_ref().map(|m| m.entries.len()), Some(2));
        assert_eq!(r.events.as_ref().map(|e| e.stmts.len()), Some(4));
        let m = r.match_section.as_ref().expect("match");
        assert_eq!(m.vars, vec!["$user"]);
        assert_eq!(m.window.as_deref(), Some("1h"));
        assert_eq!(r.outcome.as_ref().map(|o| o.assigns.len()), Some(1));
        assert_eq!(r.condition.as_ref().map(|c| c.stmts.len()), Some(1));
    }

    #[test]
    fn bad_statement_is_recovered() {
        let src = "rule r {\n meta:\n a = \"b\"\n events:\n $e.x = )\n $e.y = \"ok\"\n $e.z = = 3\n $e.w = 1\n condition:\n $e\n}";
        let p = parse(src);
        let ev = &p.ast.rules[0].events.as_ref().expect("events").stmts;
        let kinds: Vec<bool> = ev.iter().map(|s| matches!(s, Stmt::Expr(_))).collect();
        assert_eq!(kinds, vec![false, true, false, true], "{ev:?}");
        assert!(p.has_errors());
    }

    #[test]
    fn deep_nesting_is_a_diagnostic() {
        let depth = 100_000;
        let src = format!(
            "rule r {{\n meta:\n a = \"b\"\n events:\n {}$e.x = \"a\"{}\n $e.y = \"b\"\n condition:\n $e\n}}",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let p = parse(&src);
        assert!(
            p.diagnostics
                .iter()
                .any(|d| d.message.contains("nesting deeper") && d.code == "limit-depth")
        );
        let ev = &p.ast.rules[0].events.as_ref().expect("events").stmts;
        assert_eq!(ev.len(), 2);
        assert!(p.ast.rules[0].condition.is_some());
    }
}
