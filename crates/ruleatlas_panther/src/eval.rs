//! (being written)
/// Evaluates.
#[must_use]
pub fn evaluate(_l: &ruleatlas_model::Lowered, _e: &serde_json::Value) -> Option<bool> { None }
