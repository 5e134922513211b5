//! (being written)
use ruleatlas_model::{Lowered, Parsed};
/// Ast.
#[derive(Debug, Default)]
pub struct Ast;
/// Ctx.
#[derive(Debug, Default)]
pub struct LowerContext;
/// Parses.
#[must_use]
pub fn parse(_t: &str) -> Parsed<Ast> { Parsed { ast: Ast, diagnostics: Vec::new() } }
/// Lowers.
#[must_use]
pub fn lower(_a: &Ast, _c: &LowerContext) -> Lowered { Lowered::default() }
