//! The element-wise fusion pass: chains like `silu(a) * b` become one kernel
//! that reads `a` and `b` once and writes once, with no intermediate buffer.

use crate::dtype::DType;
use crate::graph::Graph;
use crate::prim::{BinaryOp, Prim, UnaryOp};

/// A register of a fused kernel: the index of the instruction that set it.
pub type Reg = usize;

/// One instruction of a fused kernel's register program.
#[derive(Clone, Debug, PartialEq)]
pub enum Instr {
    /// Reads external input `loads[i]`, broadcast to the kernel's shape.
    Load(usize),
    Unary(UnaryOp, Reg),
    Binary(BinaryOp, Reg, Reg),
    Where(Reg, Reg, Reg),
    /// Rounds/converts the register to `DType`'s values (e.g. to bf16 precision).
    Cast(Reg, DType),
}

/// A chain of element-wise nodes evaluated as one pass over the output.
#[derive(Clone, Debug)]
pub struct FusedKernel {
    /// The node whose value the kernel writes.
    pub output: usize,
    /// Nodes computed inside the kernel and never materialised.
    pub absorbed: Vec<usize>,
    /// Graph indices of the external inputs.
    pub loads: Vec<usize>,
    /// The program; the last instruction's register is the output.
    pub instrs: Vec<Instr>,
    /// Compute in f64 rather than f32: some value is a 32- or 64-bit integer,
    /// which f32 cannot hold exactly.
    pub wide: bool,
}

/// What a backend runs, in order.
#[derive(Clone, Debug)]
pub enum Step {
    /// A non-element-wise node.
    Node(usize),
    /// One or more element-wise nodes.
    Fused(FusedKernel),
}

/// Most nodes one kernel absorbs: bounds the register file and the
/// recursion that emits the program, whatever the user's chain length.
const MAX_KERNEL_NODES: usize = 48;

/// Plans the graph: element-wise nodes absorb private element-wise producers
/// of the same shape that no one else reads.
pub fn plan(graph: &Graph) -> Vec<Step> {
    let n = graph.len();
    let mut absorbed_into: Vec<Option<usize>> = vec![None; n];
    let elementwise = |i: usize| {
        graph
            .node(i)
            .op
            .as_ref()
            .is_some_and(|(p, _)| p.is_elementwise())
    };
    // Consumers come after producers, so walking backwards sees each root first.
    for c in (0..n).rev() {
        if !elementwise(c) || absorbed_into[c].is_some() {
            continue;
        }
        let mut stack = vec![c];
        let mut members = 1;
        while let Some(m) = stack.pop() {
            let Some((_, inputs)) = &graph.node(m).op else {
                continue;
            };
            for &p in inputs {
                let absorb = members < MAX_KERNEL_NODES
                    && elementwise(p)
                    && absorbed_into[p].is_none()
                    && graph.uses(p) == 1
                    && graph.is_private(p)
                    && graph.node(p).shape == graph.node(c).shape;
                if absorb {
                    absorbed_into[p] = Some(c);
                    members += 1;
                    stack.push(p);
                }
            }
        }
    }
    let mut steps = Vec::new();
    for i in 0..n {
        match &graph.node(i).op {
            None => {}
            Some(_) if absorbed_into[i].is_some() => {}
            Some((p, _)) if p.is_elementwise() => {
                steps.push(Step::Fused(build_kernel(graph, i, &absorbed_into)))
            }
            Some(_) => steps.push(Step::Node(i)),
        }
    }
    steps
}

fn build_kernel(graph: &Graph, root: usize, absorbed_into: &[Option<usize>]) -> FusedKernel {
    let wide = kernel_is_wide(graph, root, absorbed_into);
    let mut k = FusedKernel {
        output: root,
        absorbed: vec![],
        loads: vec![],
        instrs: vec![],
        wide,
    };
    let mut regs: std::collections::HashMap<usize, Reg> = Default::default();
    emit(graph, root, root, absorbed_into, &mut k, &mut regs);
    k
}

/// True if any member of the kernel rooted at `root`, or any value it loads,
/// is a 32/64-bit integer.
fn kernel_is_wide(graph: &Graph, root: usize, absorbed_into: &[Option<usize>]) -> bool {
    let is_wide = |j: usize| matches!(graph.node(j).dtype, DType::I32 | DType::I64);
    let mut stack = vec![root];
    while let Some(m) = stack.pop() {
        if is_wide(m) {
            return true;
        }
        for &j in graph
            .node(m)
            .op
            .as_ref()
            .map_or(&[][..], |(_, ins)| &ins[..])
        {
            if absorbed_into[j] == Some(root) {
                stack.push(j);
            } else if is_wide(j) {
                return true;
            }
        }
    }
    false
}

/// Emits node `i` in post-order and returns its register.
fn emit(
    graph: &Graph,
    i: usize,
    root: usize,
    absorbed_into: &[Option<usize>],
    k: &mut FusedKernel,
    regs: &mut std::collections::HashMap<usize, Reg>,
) -> Reg {
    if let Some(&r) = regs.get(&i) {
        return r;
    }
    let inside = i == root || absorbed_into[i] == Some(root);
    let instr = match (&graph.node(i).op, inside) {
        (Some((prim, inputs)), true) => {
            let r: Vec<Reg> = inputs
                .iter()
                .map(|&j| emit(graph, j, root, absorbed_into, k, regs))
                .collect();
            if i != root {
                k.absorbed.push(i);
            }
            match prim {
                Prim::Unary(op) => Instr::Unary(*op, r[0]),
                Prim::Binary(op) => Instr::Binary(*op, r[0], r[1]),
                Prim::Where => Instr::Where(r[0], r[1], r[2]),
                _ => Instr::Cast(r[0], graph.node(i).dtype),
            }
        }
        _ => {
            k.loads.push(i);
            Instr::Load(k.loads.len() - 1)
        }
    };
    k.instrs.push(instr);
    let dtype = graph.node(i).dtype;
    let exact_in_domain = dtype == DType::F32 && !k.wide;
    if inside
        && i != root
        && !exact_in_domain
        && !matches!(k.instrs.last(), Some(Instr::Cast(_, d)) if *d == dtype)
    {
        // Every intermediate is rounded to its own dtype (bf16 products, wrapped
        // u8 sums, 0/1 booleans), so a fused chain computes exactly what the
        // same nodes would compute one at a time.
        k.instrs.push(Instr::Cast(k.instrs.len() - 1, dtype));
    }
    regs.insert(i, k.instrs.len() - 1);
    k.instrs.len() - 1
}
