//! The graph handed to a backend: every pending node reachable from the
//! targets in dependency order, with use counts so that each intermediate is
//! released right after its last consumer runs.

use crate::array::{Array, State};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::prim::Prim;
use crate::shape::Dims;
use crate::storage::Data;
use std::collections::HashMap;

/// One node of a [`Graph`]: its primitive and the graph indices of its inputs
/// (`None` for nodes that were already evaluated: the graph's leaves).
pub struct GraphNode {
    pub shape: Dims,
    pub dtype: DType,
    pub op: Option<(Prim, Vec<usize>)>,
}

/// A linearised graph. Backends walk `0..len()` and call [`Graph::finish`].
pub struct Graph {
    nodes: Vec<GraphNode>,
    arrays: Vec<Option<Array>>,
    remaining_uses: Vec<u32>,
    uses: Vec<u32>,
    is_target: Vec<bool>,
}

impl Graph {
    /// Collects every pending node the targets depend on (iterative DFS, so
    /// deep graphs cannot overflow the stack), producers before consumers.
    pub fn build(targets: &[Array]) -> Graph {
        let mut index: HashMap<u64, usize> = HashMap::new();
        let mut g = Graph {
            nodes: vec![],
            arrays: vec![],
            remaining_uses: vec![],
            uses: vec![],
            is_target: vec![],
        };
        for t in targets {
            let mut stack: Vec<(Array, bool)> = vec![(t.clone(), false)];
            while let Some((a, expanded)) = stack.pop() {
                if index.contains_key(&a.id()) {
                    continue;
                }
                let state = a.lock().clone();
                match state {
                    State::Ready(_) | State::Donated => g.push(&mut index, a, None),
                    State::Pending { prim, inputs } => {
                        if expanded {
                            let ids: Vec<usize> = inputs.iter().map(|i| index[&i.id()]).collect();
                            for &i in &ids {
                                g.uses[i] += 1;
                            }
                            g.push(&mut index, a, Some((prim, ids)));
                        } else {
                            stack.push((a.clone(), true));
                            for i in inputs.iter().rev() {
                                if !index.contains_key(&i.id()) {
                                    stack.push((i.clone(), false));
                                }
                            }
                        }
                    }
                }
            }
            let i = index[&t.id()];
            g.is_target[i] = true;
        }
        g.remaining_uses = g.uses.clone();
        g
    }

    fn push(&mut self, index: &mut HashMap<u64, usize>, a: Array, op: Option<(Prim, Vec<usize>)>) {
        index.insert(a.id(), self.nodes.len());
        self.nodes.push(GraphNode {
            shape: a.shape().into(),
            dtype: a.dtype(),
            op,
        });
        self.arrays.push(Some(a));
        self.uses.push(0);
        self.is_target.push(false);
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, i: usize) -> &GraphNode {
        &self.nodes[i]
    }

    /// How many input slots of nodes in this graph read node `i`.
    pub fn uses(&self, i: usize) -> u32 {
        self.uses[i]
    }

    pub fn is_target(&self, i: usize) -> bool {
        self.is_target[i]
    }

    /// True if nothing outside this graph (the user, another graph) holds node `i`:
    /// then a fused kernel may skip materialising it.
    pub fn is_private(&self, i: usize) -> bool {
        let holders = self.arrays[i]
            .as_ref()
            .map_or(0, |a| std::sync::Arc::strong_count(&a.0));
        // One reference from this graph plus one per consumer's input list.
        !self.is_target[i] && holders <= 1 + self.uses[i] as usize
    }

    /// Node `i`'s data, moved out for its consumer to overwrite, if that consumer is
    /// the last reader of node `i` in this graph and nothing outside the graph holds
    /// the node. The node is then left unreadable. The caller must still check that
    /// no other view shares the storage (`Arc::get_mut` on it) before writing.
    pub fn donate(&mut self, i: usize) -> Option<Data> {
        let last_reader = self.remaining_uses[i] == 1 && self.uses[i] == 1;
        if !last_reader || !self.is_private(i) {
            return None;
        }
        self.arrays[i].as_ref()?.take_data()
    }

    /// The evaluated data of node `i` (an input of the node being computed).
    pub fn data(&self, i: usize) -> Result<Data> {
        self.arrays[i]
            .as_ref()
            .and_then(|a| a.data())
            .ok_or_else(|| Error::Backend {
                op: "eval",
                msg: format!(
                    "internal: node {i} read before it was computed or after it was released"
                ),
            })
    }

    /// Records the value of node `output` (computed together with the
    /// `absorbed` nodes of a fused kernel, which are never materialised), and
    /// releases every input whose last consumer this was.
    pub fn finish(&mut self, output: usize, absorbed: &[usize], data: Data) {
        if let Some(a) = &self.arrays[output] {
            a.set_data(data);
        }
        for &node in absorbed.iter().chain(std::iter::once(&output)) {
            let inputs = self.nodes[node]
                .op
                .as_ref()
                .map(|(_, ins)| ins.clone())
                .unwrap_or_default();
            for j in inputs {
                self.remaining_uses[j] = self.remaining_uses[j].saturating_sub(1);
                if self.remaining_uses[j] == 0 && !self.is_target[j] {
                    self.arrays[j] = None;
                }
            }
        }
    }
}
