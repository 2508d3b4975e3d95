//! Naming the next decode GEMV's weights to the team (`team::read_ahead`), so that idle
//! workers fetch their start while the calling thread runs the serial steps between
//! GEMVs (norms, RoPE, attention): a TinyLlama decode step spends about 4% of its time
//! in those, with memory otherwise idle.

use ferrite_core::fusion::Step;
use ferrite_core::graph::Graph;
use ferrite_core::prim::Prim;
use ferrite_core::shape::numel;
use ferrite_kernels::team;

/// The plan's GEMV steps in order, to name each one's weights once the one before it
/// has run.
pub struct GemvWeights {
    steps: Vec<(usize, usize)>,
    next: usize,
}

impl GemvWeights {
    /// Finds the single-row matrix products of `plan` whose right operand is a view
    /// (transpose, broadcast) of data that is already there, such as a model's weights.
    pub fn find(graph: &Graph, plan: &[Step]) -> GemvWeights {
        let steps = plan
            .iter()
            .enumerate()
            .filter_map(|(s, step)| match step {
                Step::Node(i) => weight_of(graph, *i).map(|w| (s, w)),
                Step::Fused(_) => None,
            })
            .collect();
        GemvWeights { steps, next: 0 }
    }

    /// Called before step `s` runs: at the start, and right after each GEMV, names the
    /// weights of the next GEMV.
    pub fn before(&mut self, graph: &Graph, s: usize) {
        let just_ran = self
            .steps
            .get(self.next)
            .is_some_and(|&(step, _)| step + 1 == s);
        if just_ran {
            self.next += 1;
        }
        if (s == 0 && !self.steps.is_empty()) || just_ran {
            match self.steps.get(self.next) {
                Some(&(_, leaf)) => name(graph, leaf),
                None => team::read_ahead(&[]),
            }
        }
    }
}

/// The leaf node whose bytes GEMV node `i` streams, if `i` is one.
fn weight_of(graph: &Graph, i: usize) -> Option<usize> {
    let node = graph.node(i);
    let Some((Prim::MatMul { .. }, inputs)) = &node.op else {
        return None;
    };
    let cols = *node.shape.last()?;
    if numel(&node.shape) != cols {
        return None;
    }
    let mut j = inputs[1];
    loop {
        match &graph.node(j).op {
            None => return Some(j),
            Some((prim, ins)) if prim.is_view() => j = ins[0],
            Some(_) => return None,
        }
    }
}

fn name(graph: &Graph, leaf: usize) {
    let node = graph.node(leaf);
    let Ok(data) = graph.data(leaf) else {
        return;
    };
    let len = node.dtype.bytes_for(numel(&node.shape) as u64).unwrap_or(0) as usize;
    let bytes = data.storage.bytes();
    if let Some(weights) = bytes.get(data.offset..data.offset + len) {
        team::read_ahead(weights);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::{fusion, Array, DType};

    fn gemv_leaves(y: &Array) -> Vec<Vec<usize>> {
        let graph = Graph::build(std::slice::from_ref(y));
        let plan = fusion::plan(&graph);
        let found = GemvWeights::find(&graph, &plan);
        found
            .steps
            .iter()
            .map(|&(_, leaf)| graph.node(leaf).shape.to_vec())
            .collect()
    }

    #[test]
    fn finds_the_weights_of_single_row_products_only() -> ferrite_core::Result<()> {
        let w = Array::zeros(&[6, 5], DType::F16)?.contiguous()?;
        let w2 = Array::zeros(&[4, 6], DType::F32)?.contiguous()?;
        crate::install();
        ferrite_core::eval(&[w.clone(), w2.clone()])?;
        let x = Array::zeros(&[1, 1, 5], DType::F32)?;
        // Through the transpose and the batch broadcast, to the stored weights.
        let y = x
            .matmul(&w.transpose()?)?
            .silu()?
            .matmul(&w2.transpose()?)?;
        assert_eq!(gemv_leaves(&y), [vec![6, 5], vec![4, 6]]);
        // Two rows: a GEMM, not named. A computed right operand: not named.
        let x2 = Array::zeros(&[2, 5], DType::F32)?;
        assert!(gemv_leaves(&x2.matmul(&w.transpose()?)?).is_empty());
        let computed = w.transpose()?.exp()?;
        assert!(gemv_leaves(&x.matmul(&computed)?).is_empty());
        Ok(())
    }
}
