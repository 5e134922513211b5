//! A recursive-descent parser for the Kusto Query Language (with a precedence-climbing loop
//! for binary operators).
//!
//! Grammar followed: the Kusto documentation's query statements (`let`, tabular expression
//! statements, `set`/`declare`), tabular operators after `|`, and the scalar operator
//! precedence `or` < `and` < comparisons and string operators < `+ -` < `* / %` < unary.
//! Errors carry a span and the parser recovers at the next `|` or `;`. Nesting is bounded by
//! [`DepthGuard`]: past the limit the parser records one `limit-depth` diagnostic and stops.

use ruleatlas_diagnostics::Diagnostic;
use ruleatlas_model::{DepthGuard, LIMITS, Parsed};
use ruleatlas_text::TextRange;

use crate::ast::{
    Assignment, Expr, ExprKind, Function, LetValue, Operator, OperatorKind, OptionArg, Param,
    Script, Statement,
};
use crate::lexer::{TokKind, Token, lex};

/// Parses a Kusto query (one or more `;`-separated statements).
#[must_use]
pub fn parse(src: &str) -> Parsed<Script> {
    let (toks, diags) = lex(src);
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        diags,
        guard: DepthGuard::default(),
        aborted: false,
    };
    let script = p.script();
    Parsed {
        ast: script,
        diagnostics: p.diags,
    }
}

/// Operators (word or symbol) at the comparison level, as written lower-cased.
const WORD_OPS: [&str; 51] = [
    "notcontains",
    "containscs",
    "notcontainscs",
    "has",
    "!has",
    "has_cs",
    "!has_cs",
    "hasprefix",
    "!hasprefix",
    "hasprefix_cs",
    "!hasprefix_cs",
    "hassuffix",
    "!hassuffix",
    "hassuffix_cs",
    "!hassuffix_cs",
    "contains",
    "!contains",
    "contains_cs",
    "!contains_cs",
    "startswith",
    "!startswith",
    "startswith_cs",
    "!startswith_cs",
    "endswith",
    "!endswith",
    "endswith_cs",
    "!endswith_cs",
    "in",
    "!in",
    "in~",
    "!in~",
    "has_any",
    "has_all",
    "between",
    "!between",
    "matches",
    "like",
    "notlike",
    "contains_any",
    "has_any_cs",
    "has_all_cs",
    "!has_any",
    "!has_all",
    "!like",
    "likecs",
    "notlikecs",
    "in_cs",
    "!in_cs",
    "has_any_ipv4",
    "has_any_ipv4_prefix",
    "has_ipv4",
];

const SYM_OPS: [&str; 10] = ["==", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~", ":"];

/// Operators whose right side is a parenthesized list.
pub(crate) const LIST_OPS: [&str; 12] = [
    "in",
    "!in",
    "in~",
    "!in~",
    "has_any",
    "has_all",
    "!has_any",
    "!has_all",
    "has_any_cs",
    "has_all_cs",
    "in_cs",
    "!in_cs",
];

/// Operators that keep or only reorder/limit rows: skipped by lowering.
const PASSTHROUGH_OPS: [&str; 20] = [
    "take",
    "limit",
    "top",
    "sort",
    "order",
    "project-away",
    "project-keep",
    "project-reorder",
    "distinct",
    "count",
    "as",
    "render",
    "getschema",
    "sample",
    "sample-distinct",
    "consume",
    "project-smart",
    "extend-keep",
    "top-hitters",
    "summarize-keep",
];

/// Operators that can drop or reshape rows and are not lowered.
const UNSUPPORTED_OPS: [&str; 14] = [
    "scan",
    "fork",
    "facet",
    "top-nested",
    "make-graph",
    "graph-match",
    "graph-merge",
    "graph-to-table",
    "graph-shortest-paths",
    "reduce",
    "execute-and-cache",
    "macro-expand",
    "assert-schema",
    "find",
];

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    guard: DepthGuard,
    /// Set once the depth limit was hit: the rest of the input is skipped without more errors.
    aborted: bool,
}

impl Parser<'_> {
    // ----- token helpers -------------------------------------------------------------------

    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, k: usize) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[(self.pos + k).min(last)]
    }

    fn text_at(&self, k: usize) -> &str {
        self.peek_at(k).text(self.src)
    }

    fn at_eof(&self) -> bool {
        self.peek().kind == TokKind::Eof
    }

    fn is_punct_at(&self, k: usize, p: &str) -> bool {
        let t = self.peek_at(k);
        t.kind == TokKind::Punct && t.text(self.src) == p
    }

    fn is_punct(&self, p: &str) -> bool {
        self.is_punct_at(0, p)
    }

    fn is_word_at(&self, k: usize, w: &str) -> bool {
        let t = self.peek_at(k);
        t.kind == TokKind::Ident && t.text(self.src).eq_ignore_ascii_case(w)
    }

    fn is_word(&self, w: &str) -> bool {
        self.is_word_at(0, w)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != TokKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.toks[self.pos - 1].span.end as usize
        }
    }

    fn span_from(&self, start: usize) -> TextRange {
        TextRange::new(start, self.prev_end().max(start))
    }

    fn error(&mut self, span: TextRange, msg: impl Into<String>) {
        if !self.aborted {
            self.diags
                .push(Diagnostic::error("kusto-syntax", msg).with_range(span));
        }
    }

    fn expect_punct(&mut self, p: &str) -> bool {
        if self.eat_punct(p) {
            return true;
        }
        let t = self.peek().clone();
        let found = if t.kind == TokKind::Eof {
            "end of query".to_string()
        } else {
            format!("{:?}", t.text(self.src))
        };
        self.error(t.span, format!("expected '{p}', found {found}"));
        false
    }

    /// Enters one nesting level; on overflow records the diagnostic and aborts the parse.
    fn enter(&mut self) -> bool {
        if self.aborted {
            return false;
        }
        if let Err(e) = self.guard.enter() {
            let span = self.peek().span;
            self.diags
                .push(Diagnostic::error("limit-depth", format!("query {e}")).with_range(span));
            self.aborted = true;
            self.pos = self.toks.len() - 1;
            return false;
        }
        true
    }

    fn leave(&mut self) {
        self.guard.leave();
    }

    /// Whether the current token ends an operator's arguments.
    fn at_terminator(&self) -> bool {
        let t = self.peek();
        t.kind == TokKind::Eof
            || (t.kind == TokKind::Punct && matches!(t.text(self.src), "|" | ")" | "]" | "}" | ";"))
    }

    /// Skips to the end of the current operator (a `|`, `;` or closing bracket at depth 0).
    fn skip_rest(&mut self) {
        let mut depth = 0usize;
        loop {
            let t = self.peek();
            if t.kind == TokKind::Eof {
                return;
            }
            if t.kind == TokKind::Punct {
                match t.text(self.src) {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => {
                        if depth == 0 {
                            return;
                        }
                        depth -= 1;
                    }
                    "|" | ";" if depth == 0 => return,
                    _ => {}
                }
            }
            self.pos += 1;
        }
    }

    /// Skips a balanced `( ... )` group starting at the current `(`; returns the inner text.
    fn skip_group(&mut self) -> String {
        let open = self.peek().span;
        if !self.eat_punct("(") {
            return String::new();
        }
        let start = open.end as usize;
        let mut depth = 1usize;
        loop {
            let t = self.peek().clone();
            if t.kind == TokKind::Eof {
                self.error(open, "unclosed '('");
                return self.src.get(start..).unwrap_or("").trim().to_string();
            }
            self.pos += 1;
            if t.kind == TokKind::Punct {
                match t.text(self.src) {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => {
                        depth -= 1;
                        if depth == 0 {
                            return self
                                .src
                                .get(start..t.span.start as usize)
                                .unwrap_or("")
                                .trim()
                                .to_string();
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    // ----- statements ----------------------------------------------------------------------

    fn script(&mut self) -> Script {
        Script {
            statements: self.statements(false),
        }
    }

    /// Statements up to the end (or up to `}` in a function body).
    fn statements(&mut self, in_body: bool) -> Vec<Statement> {
        let mut out = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if self.at_eof() || (in_body && self.is_punct("}")) {
                break;
            }
            let before = self.pos;
            out.push(self.statement());
            if self.at_eof() || self.eat_punct(";") || (in_body && self.is_punct("}")) {
                continue;
            }
            let t = self.peek().clone();
            self.error(
                t.span,
                format!("expected ';' or end of query, found {:?}", t.text(self.src)),
            );
            self.skip_rest();
            let at_end = self.eat_punct(";") || self.at_eof() || (in_body && self.is_punct("}"));
            if !at_end {
                self.pos += 1;
            }
            if self.pos == before {
                self.pos += 1;
            }
        }
        out
    }

    fn statement(&mut self) -> Statement {
        let start = self.peek().span.start as usize;
        if self.is_word("let") && self.peek_at(1).kind == TokKind::Ident
            || self.is_word("let") && self.is_punct_at(1, "[")
        {
            self.pos += 1;
            let name = self.name_token();
            self.expect_punct("=");
            let value = self.let_value();
            return Statement::Let {
                name,
                value,
                span: self.span_from(start),
            };
        }
        for kw in ["set", "declare", "alias", "restrict", "pattern"] {
            if self.is_word(kw) && self.peek_at(1).kind == TokKind::Ident {
                self.pos += 1;
                self.skip_rest();
                return Statement::Other {
                    keyword: kw.to_string(),
                    span: self.span_from(start),
                };
            }
        }
        Statement::Query(self.pipe_expr())
    }

    /// A name: an identifier or `['bracketed']`.
    fn name_token(&mut self) -> String {
        if self.is_punct("[") && self.peek_at(1).kind == TokKind::Str && self.is_punct_at(2, "]") {
            self.pos += 1;
            let v = self.bump().value.unwrap_or_default();
            self.pos += 1;
            return v;
        }
        let t = self.bump();
        if t.kind != TokKind::Ident {
            self.error(t.span, "expected a name");
        }
        t.text(self.src).to_string()
    }

    fn let_value(&mut self) -> LetValue {
        let is_view = self.is_word("view") && self.is_punct_at(1, "(");
        let k = usize::from(is_view);
        let looks_like_function = self.is_punct_at(k, "(")
            && ((self.is_punct_at(k + 1, ")") && self.is_punct_at(k + 2, "{"))
                || (self.peek_at(k + 1).kind == TokKind::Ident && self.is_punct_at(k + 2, ":")));
        if is_view || looks_like_function {
            let start = self.peek().span.start as usize;
            if is_view {
                self.pos += 1;
            }
            return LetValue::Function(self.function(start));
        }
        LetValue::Expr(self.pipe_expr())
    }

    fn function(&mut self, start: usize) -> Function {
        let mut params = Vec::new();
        self.expect_punct("(");
        while !self.is_punct(")") && !self.at_eof() {
            let name = self.name_token();
            if self.eat_punct(":") {
                // A type: `string`, `(*)`, `(a:string, b:long)`.
                if self.is_punct("(") {
                    self.skip_group();
                } else {
                    self.bump();
                }
            }
            let default = if self.eat_punct("=") {
                Some(self.expr())
            } else {
                None
            };
            params.push(Param { name, default });
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")");
        let mut body = Vec::new();
        if self.expect_punct("{") && self.enter() {
            body = self.statements(true);
            self.leave();
            self.expect_punct("}");
        }
        Function {
            params,
            body,
            span: self.span_from(start),
        }
    }

    // ----- tabular expressions -------------------------------------------------------------

    fn pipe_expr(&mut self) -> Expr {
        if !self.enter() {
            return Expr {
                kind: ExprKind::Error,
                span: self.peek().span,
            };
        }
        let start = self.peek().span.start as usize;
        let source = self.source_expr();
        let result = if self.is_punct("|") {
            let mut ops = Vec::new();
            while self.eat_punct("|") {
                ops.push(self.operator());
                self.after_operator();
            }
            Expr {
                kind: ExprKind::Pipe {
                    source: Box::new(source),
                    ops,
                },
                span: self.span_from(start),
            }
        } else {
            source
        };
        self.leave();
        result
    }

    /// After an operator: anything but `|` or a terminator is an error; skip to recover.
    fn after_operator(&mut self) {
        if self.at_terminator() || self.is_punct(",") {
            return;
        }
        let t = self.peek().clone();
        self.error(
            t.span,
            format!("unexpected {:?} after operator", t.text(self.src)),
        );
        self.skip_rest();
    }

    fn source_expr(&mut self) -> Expr {
        let start = self.peek().span.start as usize;
        // A wildcard table name (`Security*`) where a table can stand.
        if self.peek().kind == TokKind::Ident
            && self.is_punct_at(1, "*")
            && self.peek_at(1).span.start == self.peek().span.end
        {
            return self.table_ref();
        }
        let word = self.text_at(0).to_ascii_lowercase();
        let is_ident = self.peek().kind == TokKind::Ident;
        if is_ident && !self.is_punct_at(1, "=") {
            match word.as_str() {
                "union" => {
                    self.pos += 1;
                    let (options, tables) = self.union_body();
                    return Expr {
                        kind: ExprKind::Union { options, tables },
                        span: self.span_from(start),
                    };
                }
                "search" => {
                    self.pos += 1;
                    let (tables, pred) = self.search_body();
                    return Expr {
                        kind: ExprKind::Search {
                            tables,
                            pred: Box::new(pred),
                        },
                        span: self.span_from(start),
                    };
                }
                "find" => {
                    self.pos += 1;
                    let (tables, pred) = self.find_body();
                    return Expr {
                        kind: ExprKind::Find {
                            tables,
                            pred: Box::new(pred),
                        },
                        span: self.span_from(start),
                    };
                }
                "print" | "range" => {
                    self.pos += 1;
                    self.skip_rest();
                    return Expr {
                        kind: ExprKind::Generated(word),
                        span: self.span_from(start),
                    };
                }
                "evaluate" => {
                    self.pos += 1;
                    self.options(&[]);
                    let call = self.expr();
                    return Expr {
                        kind: ExprKind::Evaluate(Box::new(call)),
                        span: self.span_from(start),
                    };
                }
                _ => {}
            }
        }
        self.expr()
    }

    /// `[options] table, table*, (subquery)...`
    fn union_body(&mut self) -> (Vec<OptionArg>, Vec<Expr>) {
        let options = self.options(&["kind", "withsource", "isfuzzy"]);
        let mut tables = Vec::new();
        loop {
            if self.at_terminator() {
                break;
            }
            tables.push(self.table_ref());
            if !self.eat_punct(",") {
                break;
            }
        }
        if tables.is_empty() {
            let span = self.peek().span;
            self.error(span, "union needs at least one table");
        }
        (options, tables)
    }

    /// A table reference: a name with wildcards (`Security*`), a parenthesized subquery, or any
    /// expression (`database("x").T`, a function call).
    fn table_ref(&mut self) -> Expr {
        let start = self.peek().span.start as usize;
        if self.peek().kind == TokKind::Ident || self.is_punct("*") {
            // Join adjacent identifier pieces and `*` into one wildcard name.
            let mut end = start;
            let mut name = String::new();
            let mut k = 0;
            loop {
                let t = self.peek_at(k);
                let adjacent = t.span.start as usize == end || k == 0;
                let piece = t.kind == TokKind::Ident
                    || (t.kind == TokKind::Punct && t.text(self.src) == "*");
                if !adjacent || !piece {
                    break;
                }
                name.push_str(t.text(self.src));
                end = t.span.end as usize;
                k += 1;
            }
            if name.contains('*') {
                self.pos += k;
                return Expr {
                    kind: ExprKind::Name(name),
                    span: TextRange::new(start, end),
                };
            }
        }
        self.pipe_expr_in_parens_or_expr()
    }

    fn pipe_expr_in_parens_or_expr(&mut self) -> Expr {
        self.postfix_expr()
    }

    /// `[kind=...] [in (tables)] predicate`
    fn search_body(&mut self) -> (Vec<Expr>, Expr) {
        self.options(&["kind", "withsource"]);
        let mut tables = Vec::new();
        if self.is_word("in") && self.is_punct_at(1, "(") {
            self.pos += 2;
            while !self.is_punct(")") && !self.at_eof() {
                tables.push(self.table_ref());
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")");
        }
        let pred = self.expr();
        (tables, pred)
    }

    /// `[withsource=X] [in (tables)] where predicate [project ...]`
    fn find_body(&mut self) -> (Vec<Expr>, Expr) {
        self.options(&["withsource", "datascope", "hint.concurrency", "hint.spread"]);
        let mut tables = Vec::new();
        if self.is_word("in") && self.is_punct_at(1, "(") {
            self.pos += 2;
            while !self.is_punct(")") && !self.at_eof() {
                tables.push(self.table_ref());
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")");
        }
        if !self.eat_word("where") {
            let span = self.peek().span;
            self.error(span, "expected 'where' in find");
        }
        let pred = self.expr();
        if self.is_word("project") || self.is_word("project-smart") {
            self.skip_rest();
        }
        (tables, pred)
    }

    /// Operator options: `kind=inner`, `hint.strategy=shuffle`, `isfuzzy=true`...
    fn options(&mut self, allowed: &[&str]) -> Vec<OptionArg> {
        let mut out = Vec::new();
        loop {
            if self.peek().kind != TokKind::Ident {
                break;
            }
            // A possibly dotted name: hint.strategy
            let mut k = 1;
            let mut name = self.text_at(0).to_ascii_lowercase();
            while self.is_punct_at(k, ".") && self.peek_at(k + 1).kind == TokKind::Ident {
                name.push('.');
                name.push_str(&self.text_at(k + 1).to_ascii_lowercase());
                k += 2;
            }
            let known = name.starts_with("hint.") || allowed.contains(&name.as_str());
            if !known || !self.is_punct_at(k, "=") {
                break;
            }
            self.pos += k + 1;
            // A single token: `kind=leftanti (subquery)` must not read as a call.
            let value = if self.peek().kind == TokKind::Ident {
                let t = self.bump();
                let text = t.text(self.src);
                let kind = match text.to_ascii_lowercase().as_str() {
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    _ => ExprKind::Name(text.to_string()),
                };
                Expr { kind, span: t.span }
            } else {
                self.unary_expr()
            };
            out.push(OptionArg { name, value });
        }
        out
    }

    fn operator_name(&mut self) -> (String, TextRange) {
        let t = self.bump();
        let mut span = t.span;
        if t.kind != TokKind::Ident {
            self.error(t.span, "expected a query operator after '|'");
            return (String::new(), span);
        }
        // Operator names are case-sensitive in Kusto (`Where` is not an operator): keep them as
        // written so that a mis-cased one is reported as unknown.
        let mut name = t.text(self.src).to_string();
        // Hyphenated names: project-away, mv-expand, make-series, parse-where.
        while self.is_punct("-")
            && self.peek().span.start == span.end
            && self.peek_at(1).kind == TokKind::Ident
            && self.peek_at(1).span.start == self.peek().span.end
        {
            self.pos += 1;
            let part = self.bump();
            name.push('-');
            name.push_str(part.text(self.src));
            span = span.cover(part.span);
        }
        (name, span)
    }

    fn operator(&mut self) -> Operator {
        let start = self.peek().span.start as usize;
        let (name, name_span) = self.operator_name();
        let kind = match name.as_str() {
            "" => {
                self.skip_rest();
                OperatorKind::Unknown(self.span_from(start).slice(self.src).to_string())
            }
            "where" | "filter" => OperatorKind::Where(self.expr()),
            "extend" | "serialize" => OperatorKind::Extend(self.assignments()),
            "project" => OperatorKind::Project(self.assignments()),
            "project-rename" => OperatorKind::ProjectRename(self.assignments()),
            "summarize" => {
                self.options(&[]);
                let aggs = if self.is_word("by") {
                    Vec::new()
                } else {
                    self.assignments()
                };
                let by = if self.eat_word("by") {
                    self.assignments()
                } else {
                    Vec::new()
                };
                OperatorKind::Summarize { aggs, by }
            }
            "join" | "lookup" => {
                let options = self.options(&["kind", "withsource"]);
                let right = self.postfix_expr();
                let mut on = Vec::new();
                // `on k1, $left.a == $right.b` or a `where` predicate over both sides.
                if self.eat_word("on") || self.eat_word("where") {
                    loop {
                        on.push(self.expr());
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                } else if !self.at_terminator() || name == "join" {
                    let span = self.peek().span;
                    self.error(span, format!("expected 'on' in {name}"));
                }
                OperatorKind::Join {
                    options,
                    right: Box::new(right),
                    on,
                    lookup: name == "lookup",
                }
            }
            "union" => {
                let (options, tables) = self.union_body();
                OperatorKind::Union { options, tables }
            }
            "parse" | "parse-where" => {
                self.options(&["kind", "flags"]);
                let source = self.expr();
                let mut columns = Vec::new();
                if self.eat_word("with") {
                    while !self.at_terminator() {
                        let t = self.bump();
                        if t.kind == TokKind::Ident {
                            columns.push(t.text(self.src).to_string());
                            if self.eat_punct(":") {
                                self.bump();
                            }
                        }
                    }
                } else {
                    let span = self.peek().span;
                    self.error(span, "expected 'with' in parse");
                    self.skip_rest();
                }
                OperatorKind::Parse {
                    source,
                    columns,
                    filters: name == "parse-where",
                }
            }
            "parse-kv" => {
                let source = self.expr();
                let mut columns = Vec::new();
                if self.eat_word("as") && self.is_punct("(") {
                    self.pos += 1;
                    while !self.is_punct(")") && !self.at_eof() {
                        columns.push(self.name_token());
                        if self.eat_punct(":") {
                            self.bump();
                        }
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                    self.expect_punct(")");
                }
                self.skip_rest();
                OperatorKind::Parse {
                    source,
                    columns,
                    filters: false,
                }
            }
            "mv-expand" | "mvexpand" => {
                self.options(&["bagexpansion", "with_itemindex", "kind"]);
                let items = self.expand_items();
                OperatorKind::MvExpand(items)
            }
            "mv-apply" | "mvapply" => {
                self.options(&["with_itemindex"]);
                let items = self.expand_items();
                let mut ops = Vec::new();
                if self.eat_word("on") {
                    ops = self.sub_operators();
                } else {
                    let span = self.peek().span;
                    self.error(span, "expected 'on' in mv-apply");
                }
                OperatorKind::MvApply { items, ops }
            }
            "partition" => {
                self.options(&[]);
                let mut ops = Vec::new();
                if self.eat_word("by") {
                    self.name_token();
                    if self.is_punct("(") {
                        ops = self.sub_operators();
                    } else {
                        self.skip_rest();
                        let text = self.span_from(start).slice(self.src).to_string();
                        return Operator {
                            name,
                            kind: OperatorKind::Unsupported(text),
                            span: self.span_from(start),
                        };
                    }
                } else {
                    let span = self.peek().span;
                    self.error(span, "expected 'by' in partition");
                    self.skip_rest();
                }
                OperatorKind::Partition { ops }
            }
            "make-series" => {
                let mut columns = Vec::new();
                let mut depth = 0usize;
                while !(self.at_eof() || (depth == 0 && self.at_terminator())) {
                    if self.peek().kind == TokKind::Ident && self.is_punct_at(1, "=") && depth == 0
                    {
                        columns.push(self.text_at(0).to_string());
                    }
                    let t = self.bump();
                    if t.kind == TokKind::Punct {
                        match t.text(self.src) {
                            "(" | "[" | "{" => depth += 1,
                            ")" | "]" | "}" => depth = depth.saturating_sub(1),
                            _ => {}
                        }
                    }
                }
                OperatorKind::MakeSeries { columns }
            }
            "evaluate" => {
                self.options(&[]);
                OperatorKind::Evaluate(self.expr())
            }
            "search" => {
                let (_, pred) = self.search_body();
                OperatorKind::Search(pred)
            }
            "invoke" => OperatorKind::Invoke(self.expr()),
            n if PASSTHROUGH_OPS.contains(&n) => {
                self.skip_rest();
                OperatorKind::Passthrough
            }
            n if UNSUPPORTED_OPS.contains(&n) => {
                self.skip_rest();
                OperatorKind::Unsupported(self.span_from(start).slice(self.src).to_string())
            }
            _ => {
                self.error(name_span, format!("unknown operator: {name}"));
                self.skip_rest();
                OperatorKind::Unknown(self.span_from(start).slice(self.src).to_string())
            }
        };
        Operator {
            name,
            kind,
            span: self.span_from(start),
        }
    }

    /// `( op | op ... )`: the subquery of `mv-apply` and `partition`, which has no source.
    fn sub_operators(&mut self) -> Vec<Operator> {
        let mut ops = Vec::new();
        if !self.expect_punct("(") {
            self.skip_rest();
            return ops;
        }
        if !self.enter() {
            return ops;
        }
        self.eat_punct("|");
        while !self.is_punct(")") && !self.at_eof() {
            ops.push(self.operator());
            self.after_operator();
            if !self.eat_punct("|") {
                break;
            }
        }
        self.leave();
        self.expect_punct(")");
        ops
    }

    /// Items of `mv-expand` / `mv-apply`: `[name =] expr [to typeof(t)]`, then `[limit n]`.
    fn expand_items(&mut self) -> Vec<Assignment> {
        let mut items = Vec::new();
        loop {
            if self.at_terminator() || self.is_word("on") {
                break;
            }
            items.push(self.assignment());
            if self.eat_word("to") {
                self.eat_word("typeof");
                self.skip_group();
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        if self.eat_word("limit") {
            self.unary_expr();
        }
        items
    }

    fn assignments(&mut self) -> Vec<Assignment> {
        let mut out = Vec::new();
        loop {
            if self.at_terminator() || self.is_word("by") {
                break;
            }
            out.push(self.assignment());
            if !self.eat_punct(",") {
                break;
            }
        }
        out
    }

    fn assignment(&mut self) -> Assignment {
        let start = self.peek().span.start as usize;
        let mut names = Vec::new();
        if self.peek().kind == TokKind::Ident && self.is_punct_at(1, "=") {
            names.push(self.bump().text(self.src).to_string());
            self.pos += 1;
        } else if self.is_punct("[")
            && self.peek_at(1).kind == TokKind::Str
            && self.is_punct_at(2, "]")
            && self.is_punct_at(3, "=")
        {
            names.push(self.name_token());
            self.pos += 1;
        } else if self.is_punct("(") {
            // `(a, b) = expr`
            let mut k = 1;
            let mut tuple = Vec::new();
            while self.peek_at(k).kind == TokKind::Ident {
                tuple.push(self.text_at(k).to_string());
                if self.is_punct_at(k + 1, ",") {
                    k += 2;
                } else {
                    k += 1;
                    break;
                }
            }
            if !tuple.is_empty() && self.is_punct_at(k, ")") && self.is_punct_at(k + 1, "=") {
                names = tuple;
                self.pos += k + 2;
            }
        }
        let value = self.expr();
        let mut value = value;
        // `sort`-like suffixes inside project/summarize do not occur; `asc`/`desc` only in order.
        if self.is_word("asc") || self.is_word("desc") {
            self.pos += 1;
            value.span = value.span.cover(self.toks[self.pos - 1].span);
        }
        Assignment {
            names,
            value,
            span: self.span_from(start),
        }
    }

    // ----- scalar expressions --------------------------------------------------------------

    /// A scalar (or parenthesized tabular) expression.
    fn expr(&mut self) -> Expr {
        if !self.enter() {
            return Expr {
                kind: ExprKind::Error,
                span: self.peek().span,
            };
        }
        let e = self.binary(1);
        self.leave();
        e
    }

    /// The binary operator at the cursor and its precedence.
    fn binary_op(&self) -> Option<(String, u8, usize)> {
        let t = self.peek();
        let text = t.text(self.src);
        match t.kind {
            TokKind::Punct => {
                if SYM_OPS.contains(&text) {
                    return Some((text.to_string(), 3, 1));
                }
                match text {
                    "+" | "-" => Some((text.to_string(), 4, 1)),
                    "*" | "/" | "%" => Some((text.to_string(), 5, 1)),
                    _ => None,
                }
            }
            TokKind::Ident => {
                // Keyword operators are lower case in Kusto (`AND`, `Has` are errors there).
                let lower = text.to_string();
                match lower.as_str() {
                    "or" => Some((lower, 1, 1)),
                    "and" => Some((lower, 2, 1)),
                    "matches" if self.is_word_at(1, "regex") => {
                        Some(("matches regex".to_string(), 3, 2))
                    }
                    "!matches" if self.is_word_at(1, "regex") => {
                        Some(("!matches regex".to_string(), 3, 2))
                    }
                    _ if WORD_OPS.contains(&lower.as_str()) && lower != "matches" => {
                        Some((lower, 3, 1))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn binary(&mut self, min_prec: u8) -> Expr {
        let mut lhs = self.unary_expr();
        // `and`/`or` chains are flat lists; other left-nested chains are bounded so that no
        // tree gets deeper than the depth limit.
        let mut nested = 0usize;
        while let Some((op, prec, ntoks)) = self.binary_op() {
            if prec < min_prec {
                break;
            }
            self.pos += ntoks;
            let start = lhs.span.start as usize;
            if op == "and" || op == "or" {
                let rhs = self.binary(prec + 1);
                let span = self.span_from(start);
                lhs = match lhs.kind {
                    ExprKind::Logical { op: lop, mut items } if lop == op => {
                        items.push(rhs);
                        Expr {
                            kind: ExprKind::Logical { op: lop, items },
                            span,
                        }
                    }
                    other => {
                        let first = Expr {
                            kind: other,
                            span: lhs.span,
                        };
                        Expr {
                            kind: ExprKind::Logical {
                                op,
                                items: vec![first, rhs],
                            },
                            span,
                        }
                    }
                };
                continue;
            }
            nested += 1;
            if nested > LIMITS.max_depth {
                let span = self.peek().span;
                self.error(span, "expression chain too long");
                self.skip_rest();
                break;
            }
            if op == "between" || op == "!between" {
                let (low, high) = self.between_range();
                lhs = Expr {
                    kind: ExprKind::Between {
                        negated: op == "!between",
                        lhs: Box::new(lhs),
                        low: Box::new(low),
                        high: Box::new(high),
                    },
                    span: self.span_from(start),
                };
                continue;
            }
            let rhs = if LIST_OPS.contains(&op.as_str()) {
                self.list_operand()
            } else {
                self.binary(prec + 1)
            };
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span: self.span_from(start),
            };
        }
        lhs
    }

    fn between_range(&mut self) -> (Expr, Expr) {
        if !self.expect_punct("(") {
            let e = Expr {
                kind: ExprKind::Error,
                span: self.peek().span,
            };
            return (e.clone(), e);
        }
        let low = self.expr();
        self.expect_punct("..");
        let high = self.expr();
        self.expect_punct(")");
        (low, high)
    }

    /// The `( a, b, c )` of `in` / `has_any`; a bare name is accepted too.
    fn list_operand(&mut self) -> Expr {
        let start = self.peek().span.start as usize;
        if !self.is_punct("(") {
            return self.unary_expr();
        }
        self.pos += 1;
        let mut items = Vec::new();
        while !self.is_punct(")") && !self.at_eof() {
            items.push(self.pipe_expr());
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")");
        Expr {
            kind: ExprKind::List(items),
            span: self.span_from(start),
        }
    }

    fn unary_expr(&mut self) -> Expr {
        if self.is_punct("-") || self.is_punct("+") || self.is_punct("!") {
            if !self.enter() {
                return Expr {
                    kind: ExprKind::Error,
                    span: self.peek().span,
                };
            }
            let t = self.bump();
            let inner = self.unary_expr();
            self.leave();
            let span = t.span.cover(inner.span);
            return Expr {
                kind: ExprKind::Unary {
                    op: t.text(self.src).to_string(),
                    expr: Box::new(inner),
                },
                span,
            };
        }
        self.postfix_expr()
    }

    fn postfix_expr(&mut self) -> Expr {
        let mut e = self.primary();
        // `a.b.c...` and `a[0][1]...` nest to the left: bound the chain like any nesting.
        let mut links = 0usize;
        loop {
            let start = e.span.start as usize;
            if links >= LIMITS.max_depth && (self.is_punct(".") || self.is_punct("[")) {
                let span = self.peek().span;
                self.error(span, "member or index chain too long");
                self.skip_rest();
                break;
            }
            links += 1;
            if self.is_punct(".") && matches!(self.peek_at(1).kind, TokKind::Ident | TokKind::Int) {
                self.pos += 1;
                let name = self.bump().text(self.src).to_string();
                e = Expr {
                    kind: ExprKind::Member {
                        base: Box::new(e),
                        name,
                    },
                    span: self.span_from(start),
                };
            } else if self.is_punct(".") && self.is_punct_at(1, "[") {
                self.pos += 1;
            } else if self.is_punct("[") && !matches!(e.kind, ExprKind::Error) {
                self.pos += 1;
                let index = self.expr();
                self.expect_punct("]");
                e = Expr {
                    kind: ExprKind::Index {
                        base: Box::new(e),
                        index: Box::new(index),
                    },
                    span: self.span_from(start),
                };
            } else {
                break;
            }
        }
        e
    }

    fn string_literal(&mut self) -> Expr {
        let first = self.bump();
        let mut value = first.value.unwrap_or_default();
        let mut span = first.span;
        // Adjacent string literals concatenate.
        while self.peek().kind == TokKind::Str {
            let t = self.bump();
            value.push_str(t.value.as_deref().unwrap_or(""));
            span = span.cover(t.span);
        }
        Expr {
            kind: ExprKind::Str(value),
            span,
        }
    }

    fn primary(&mut self) -> Expr {
        let t = self.peek().clone();
        let text = t.text(self.src);
        let start = t.span.start as usize;
        match t.kind {
            TokKind::Str => self.string_literal(),
            TokKind::Int => {
                self.pos += 1;
                let kind = if let Some(hex) =
                    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
                {
                    i64::from_str_radix(hex, 16)
                        .map_or_else(|_| ExprKind::Real(f64::NAN), ExprKind::Int)
                } else {
                    text.parse::<i64>().map_or_else(
                        |_| ExprKind::Real(text.parse().unwrap_or(f64::NAN)),
                        ExprKind::Int,
                    )
                };
                Expr { kind, span: t.span }
            }
            TokKind::Real => {
                self.pos += 1;
                Expr {
                    kind: ExprKind::Real(text.parse().unwrap_or(f64::NAN)),
                    span: t.span,
                }
            }
            TokKind::Timespan => {
                self.pos += 1;
                Expr {
                    kind: ExprKind::Timespan(text.to_string()),
                    span: t.span,
                }
            }
            TokKind::Ident => self.ident_primary(),
            TokKind::Punct => match text {
                "(" => {
                    if !self.enter() {
                        return Expr {
                            kind: ExprKind::Error,
                            span: t.span,
                        };
                    }
                    self.pos += 1;
                    let first = self.pipe_expr();
                    let e = if self.is_punct(",") {
                        let mut items = vec![first];
                        while self.eat_punct(",") {
                            if self.is_punct(")") {
                                break;
                            }
                            items.push(self.pipe_expr());
                        }
                        self.expect_punct(")");
                        Expr {
                            kind: ExprKind::List(items),
                            span: self.span_from(start),
                        }
                    } else {
                        self.expect_punct(")");
                        first
                    };
                    self.leave();
                    e
                }
                "[" if self.peek_at(1).kind == TokKind::Str && self.is_punct_at(2, "]") => {
                    let name = self.name_token();
                    Expr {
                        kind: ExprKind::Name(name),
                        span: self.span_from(start),
                    }
                }
                "*" => {
                    self.pos += 1;
                    Expr {
                        kind: ExprKind::Star,
                        span: t.span,
                    }
                }
                _ => {
                    let shown = text.to_string();
                    self.error(t.span, format!("expected an expression, found {shown:?}"));
                    if !self.at_terminator() && !self.is_punct(",") {
                        self.pos += 1;
                    }
                    Expr {
                        kind: ExprKind::Error,
                        span: t.span,
                    }
                }
            },
            TokKind::Eof => {
                self.error(t.span, "expected an expression, found end of query");
                Expr {
                    kind: ExprKind::Error,
                    span: t.span,
                }
            }
        }
    }

    fn ident_primary(&mut self) -> Expr {
        let t = self.bump();
        let text = t.text(self.src).to_string();
        let lower = text.to_ascii_lowercase();
        let start = t.span.start as usize;
        if !self.is_punct("(") {
            return match lower.as_str() {
                "true" => Expr {
                    kind: ExprKind::Bool(true),
                    span: t.span,
                },
                "false" => Expr {
                    kind: ExprKind::Bool(false),
                    span: t.span,
                },
                "null" => Expr {
                    kind: ExprKind::Null,
                    span: t.span,
                },
                _ => Expr {
                    kind: ExprKind::Name(text),
                    span: t.span,
                },
            };
        }
        match lower.as_str() {
            "datetime" | "timespan" | "time" | "guid" | "typeof" | "int" | "long" | "real"
            | "double" | "bool" | "boolean" | "decimal" | "date" => {
                let raw = self.skip_group();
                Expr {
                    kind: ExprKind::Typed { ty: lower, raw },
                    span: self.span_from(start),
                }
            }
            "dynamic" => {
                self.pos += 1;
                let inner = self.dynamic_value();
                self.expect_punct(")");
                Expr {
                    kind: ExprKind::Dynamic(Box::new(inner)),
                    span: self.span_from(start),
                }
            }
            "datatable" => self.datatable(start),
            "externaldata" | "external_data" => self.externaldata(start),
            _ => {
                self.pos += 1;
                let mut args = Vec::new();
                while !self.is_punct(")") && !self.at_eof() {
                    let astart = self.peek().span.start as usize;
                    if self.peek().kind == TokKind::Ident && self.is_punct_at(1, "=") {
                        let name = self.bump().text(self.src).to_string();
                        self.pos += 1;
                        let value = self.pipe_expr();
                        args.push(Expr {
                            kind: ExprKind::Assign {
                                name,
                                value: Box::new(value),
                            },
                            span: self.span_from(astart),
                        });
                    } else {
                        args.push(self.pipe_expr());
                    }
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct(")");
                Expr {
                    kind: ExprKind::Call { name: text, args },
                    span: self.span_from(start),
                }
            }
        }
    }

    /// A value inside `dynamic(...)`: JSON-like arrays, bags and literals.
    fn dynamic_value(&mut self) -> Expr {
        let start = self.peek().span.start as usize;
        if !self.enter() {
            return Expr {
                kind: ExprKind::Error,
                span: self.peek().span,
            };
        }
        let e = if self.eat_punct("[") {
            let mut items = Vec::new();
            while !self.is_punct("]") && !self.at_eof() {
                items.push(self.dynamic_value());
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct("]");
            Expr {
                kind: ExprKind::Array(items),
                span: self.span_from(start),
            }
        } else if self.eat_punct("{") {
            let mut entries = Vec::new();
            while !self.is_punct("}") && !self.at_eof() {
                let k = self.bump();
                let key = k
                    .value
                    .clone()
                    .unwrap_or_else(|| k.text(self.src).to_string());
                self.expect_punct(":");
                let v = self.dynamic_value();
                entries.push((key, v));
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct("}");
            Expr {
                kind: ExprKind::Bag(entries),
                span: self.span_from(start),
            }
        } else if self.is_punct(")") {
            Expr {
                kind: ExprKind::Null,
                span: self.peek().span,
            }
        } else {
            self.unary_expr()
        };
        self.leave();
        e
    }

    /// `datatable(col:type, ...) [v1, v2, ...]`
    fn datatable(&mut self, start: usize) -> Expr {
        let mut columns = Vec::new();
        self.pos += 1; // (
        while !self.is_punct(")") && !self.at_eof() {
            columns.push(self.name_token());
            if self.eat_punct(":") {
                self.bump();
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")");
        let mut values = Vec::new();
        if self.expect_punct("[") {
            while !self.is_punct("]") && !self.at_eof() {
                values.push(self.expr());
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct("]");
        }
        Expr {
            kind: ExprKind::Datatable { columns, values },
            span: self.span_from(start),
        }
    }

    /// `externaldata(col:type, ...) [urls] [with (...)]`
    fn externaldata(&mut self, start: usize) -> Expr {
        self.skip_group();
        let mut urls = Vec::new();
        if self.expect_punct("[") {
            while !self.is_punct("]") && !self.at_eof() {
                let t = self.bump();
                if let Some(v) = t.value {
                    urls.push(v);
                } else if t.kind != TokKind::Punct {
                    self.error(t.span, "expected a URL string in externaldata");
                }
            }
            self.expect_punct("]");
        }
        if self.eat_word("with") {
            self.skip_group();
        }
        Expr {
            kind: ExprKind::ExternalData { urls },
            span: self.span_from(start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Script {
        let p = parse(src);
        assert!(p.diagnostics.is_empty(), "{src}: {:?}", p.diagnostics);
        p.ast
    }

    #[test]
    fn pipeline_with_lets_and_join() {
        let s = ok(
            "let a = dynamic(['x','y']);\nlet f = (n:string) { T | where c == n };\nT\n| where x in (a) and y !has 'q'\n| join kind=leftanti (U | where z == 1) on $left.k == $right.k\n| project-away k",
        );
        assert_eq!(s.statements.len(), 3);
    }

    #[test]
    fn unknown_operator_is_an_error_with_recovery() {
        let p = parse("T | frobnicate x | where y == 1");
        assert_eq!(p.diagnostics.len(), 1);
        assert!(
            p.diagnostics[0]
                .message
                .contains("unknown operator: frobnicate")
        );
    }

    #[test]
    fn deep_nesting_stops_at_the_limit() {
        let src = format!(
            "T | where {}x == 1{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let p = parse(&src);
        assert!(p.diagnostics.iter().any(|d| d.code == "limit-depth"));
        assert_eq!(p.diagnostics.len(), 1);
    }
}
