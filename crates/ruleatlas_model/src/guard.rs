//! Named resource limits and a recursion counter.
//!
//! Rule files are untrusted input. Every parser and lowering pass that recurses takes a
//! [`DepthGuard`] so that no input can overflow the stack; hitting a limit is a diagnostic.

/// The limits every reader and parser honours. Documented in `docs/limits.md`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest rule file read, in bytes.
    pub max_file_bytes: u64,
    /// Longest query parsed, in bytes.
    pub max_query_bytes: usize,
    /// Deepest nesting a parser or lowering pass follows.
    pub max_depth: usize,
    /// Deepest macro / helper-function inlining.
    pub max_inline_depth: usize,
    /// Most predicates kept for one rule; the rest become one unparsed fragment.
    pub max_predicates: usize,
}

/// The limits in force.
pub const LIMITS: Limits = Limits {
    max_file_bytes: 4 * 1024 * 1024,
    max_query_bytes: 1024 * 1024,
    max_depth: 200,
    max_inline_depth: 16,
    max_predicates: 20_000,
};

/// Counts nesting depth; [`DepthGuard::enter`] fails once `max_depth` is reached.
///
/// ```
/// let mut g = ruleatlas_model::DepthGuard::new(2);
/// assert!(g.enter().is_ok());
/// assert!(g.enter().is_ok());
/// assert!(g.enter().is_err());
/// g.leave();
/// assert!(g.enter().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct DepthGuard {
    depth: usize,
    max: usize,
}

impl Default for DepthGuard {
    fn default() -> Self {
        Self::new(LIMITS.max_depth)
    }
}

/// The error of [`DepthGuard::enter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    pub max: usize,
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nesting deeper than {} levels", self.max)
    }
}

impl DepthGuard {
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self { depth: 0, max }
    }

    /// Goes one level deeper.
    ///
    /// # Errors
    /// When the limit is reached; the depth is not increased then.
    pub fn enter(&mut self) -> Result<(), TooDeep> {
        if self.depth >= self.max {
            return Err(TooDeep { max: self.max });
        }
        self.depth += 1;
        Ok(())
    }

    /// Comes back one level.
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    #[must_use]
    pub fn depth(&self) -> usize {
        self.depth
    }
}
