//! (being written)
use ruleatlas_model::Lowered;
/// Lowers.
#[must_use]
pub fn lower(_n: &ruleatlas_yaml::Node, _p: &str, _id: Option<&str>) -> (Lowered, Vec<String>) { (Lowered::default(), Vec::new()) }
