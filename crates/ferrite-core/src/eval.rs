//! The evaluation driver.

use crate::array::Array;
use crate::graph::Graph;
use crate::Result;

/// Evaluates several arrays together (shared work is done once).
pub fn eval(targets: &[Array]) -> Result<()> {
    if targets.iter().all(|t| t.is_evaluated()) {
        return Ok(());
    }
    let mut graph = Graph::build(targets);
    crate::backend::current()?.eval_graph(&mut graph)
}
