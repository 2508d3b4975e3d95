//! Ferrite's CPU backend: runs a graph's steps with SIMD kernels from
//! `ferrite-kernels`, a fused element-wise interpreter and a buffer pool.
//! Parallel kernels run on the spinning worker team of `ferrite_kernels::team`
//! (sized like the current rayon pool); reductions use rayon directly.
//!
//! ```
//! use ferrite_core::Array;
//! ferrite_cpu::install();
//! let a = Array::from_slice(&[1.0f32, -2.0, 3.0], &[3])?;
//! let y = a.silu()?.mul(&a)?; // one fused pass
//! assert_eq!(y.to_vec::<f32>()?.len(), 3);
//! # Ok::<(), ferrite_core::Error>(())
//! ```

mod access;
mod ahead;
mod attention;
mod elementwise;
mod layout;
mod math;
mod matmul;
mod norm;
pub mod pool;
mod reduce;
mod rope;

use ferrite_core::fusion::{self, Step};
use ferrite_core::graph::Graph;
use ferrite_core::prim::Prim;
use ferrite_core::{random, view, DType, Data, Error, Result};
use std::sync::Arc;

/// The CPU backend.
pub struct CpuBackend;

/// Installs the CPU backend as the one that evaluates arrays (idempotent).
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| ferrite_core::backend::install(Arc::new(CpuBackend)));
}

impl ferrite_core::backend::Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn eval_graph(&self, graph: &mut Graph) -> Result<()> {
        let plan = fusion::plan(graph);
        let mut gemv_weights = ahead::GemvWeights::find(graph, &plan);
        for (s, step) in plan.into_iter().enumerate() {
            gemv_weights.before(graph, s);
            match step {
                Step::Fused(k) => {
                    let data = elementwise::run(graph, &k)?;
                    graph.finish(k.output, &k.absorbed, data);
                }
                Step::Node(i) => {
                    let data = match graph.node(i).op {
                        Some((Prim::SliceUpdate { axis, start }, ref inputs)) => {
                            let (target, update) = (inputs[0], inputs[1]);
                            slice_update(graph, i, (target, update), axis, start)?
                        }
                        _ => eval_node(graph, i)?,
                    };
                    graph.finish(i, &[], data);
                }
            }
        }
        Ok(())
    }
}

/// Node `i`, a slice update, written into its target's buffer when the graph can
/// hand that buffer over.
fn slice_update(
    graph: &mut Graph,
    i: usize,
    (target, update): (usize, usize),
    axis: usize,
    start: usize,
) -> Result<Data> {
    let target_data = match graph.donate(target) {
        Some(d) => d,
        None => graph.data(target)?,
    };
    let node = graph.node(i);
    Ok(layout::slice_update(
        target_data,
        &node.shape,
        (&graph.data(update)?, &graph.node(update).shape),
        axis,
        start,
        node.dtype,
    ))
}

/// Evaluates one non-element-wise node from its inputs' data.
fn eval_node(g: &Graph, i: usize) -> Result<Data> {
    let node = g.node(i);
    let Some((prim, inputs)) = &node.op else {
        return g.data(i);
    };
    let (shape, dtype) = (node.shape.as_slice(), node.dtype);
    let input = |k: usize| -> Result<(Data, &[usize], DType)> {
        let j = inputs[k];
        Ok((g.data(j)?, g.node(j).shape.as_slice(), g.node(j).dtype))
    };
    let esize = dtype.size().unwrap_or(1);
    Ok(match prim {
        Prim::Full { value } => elementwise::fill(shape, dtype, *value),
        Prim::Arange { start, step } => {
            elementwise::generate(shape, dtype, |i| start + step * i as f64)
        }
        Prim::RandomNormal { seed, mean, std } => {
            elementwise::generate(shape, dtype, |i| mean + std * random::normal(*seed, i))
        }
        Prim::RandomUniform { seed, low, high } => {
            // Rounding to the dtype could reach `high`; keep the interval half-open.
            let below = access::largest_below(*high, dtype);
            elementwise::generate(shape, dtype, |i| {
                let v = low + (high - low) * random::uniform(*seed, i);
                if access::round_to(v, dtype) >= *high {
                    below
                } else {
                    v
                }
            })
        }
        Prim::Reshape => {
            let (d, s, dt) = input(0)?;
            layout::reshape(&d, s, shape, dt)?
        }
        Prim::Permute { perm } => view::permute(&input(0)?.0, perm),
        Prim::Slice { starts, steps } => view::slice(&input(0)?.0, starts, steps, esize),
        Prim::Broadcast => {
            let (d, s, _) = input(0)?;
            view::broadcast(&d, s, shape)
        }
        Prim::Concat { axis } => {
            let parts = (0..inputs.len())
                .map(|k| input(k).map(|(d, s, _)| (d, s.to_vec())))
                .collect::<Result<Vec<_>>>()?;
            layout::concat(&parts, shape, *axis, dtype)
        }
        Prim::Take { axis } => {
            let ((a, a_shape, _), (idx, i_shape, i_dt)) = (input(0)?, input(1)?);
            layout::take((&a, a_shape), (&idx, i_shape, i_dt), *axis, dtype)?
        }
        Prim::GatherAlong { axis } => {
            let ((a, a_shape, _), (idx, i_shape, i_dt)) = (input(0)?, input(1)?);
            layout::gather_along((&a, a_shape), (&idx, i_shape, i_dt), *axis, dtype)?
        }
        Prim::Reduce { op, axes, .. } => {
            let (d, s, dt) = input(0)?;
            reduce::reduce(&d, s, dt, *op, axes, shape, dtype)
        }
        Prim::ArgReduce { op, axis, .. } => {
            let (d, s, dt) = input(0)?;
            reduce::arg_reduce(&d, s, dt, *op, *axis, shape)
        }
        Prim::Softmax { axis, log } => {
            let (d, s, dt) = input(0)?;
            norm::softmax(&d, s, dt, *axis, *log)?
        }
        Prim::RmsNorm { eps } => {
            let (d, s, dt) = input(0)?;
            let w = if inputs.len() > 1 {
                Some(input(1)?)
            } else {
                None
            };
            norm::rms_norm(&d, s, dt, dtype, w.as_ref().map(|(d, _, t)| (d, *t)), *eps)?
        }
        Prim::LayerNorm {
            eps,
            has_weight,
            has_bias,
        } => {
            let (d, s, dt) = input(0)?;
            let w = if *has_weight { Some(input(1)?) } else { None };
            let b = if *has_bias {
                Some(input(1 + *has_weight as usize)?)
            } else {
                None
            };
            let (w, b) = (
                w.as_ref().map(|(d, _, t)| (d, *t)),
                b.as_ref().map(|(d, _, t)| (d, *t)),
            );
            norm::layer_norm(&d, s, dt, dtype, w, b, *eps)?
        }
        Prim::Rope {
            dims,
            layout,
            base,
            scale,
            offset,
            has_freqs,
        } => {
            let (d, s, dt) = input(0)?;
            let freqs = if *has_freqs { Some(input(1)?) } else { None };
            let freqs = freqs
                .as_ref()
                .map(|(fd, fs, ft)| layout::f32_rows(fd, fs, *ft));
            let params = rope::RopeParams {
                dims: *dims,
                layout: *layout,
                base: *base,
                scale: *scale,
                offset: *offset,
                freqs: freqs.as_ref().map(|f| f.as_slice()),
            };
            rope::rope(&d, s, dt, &params)
        }
        Prim::Attention {
            scale,
            causal,
            has_mask,
        } => {
            let (q, k, v) = (input(0)?, input(1)?, input(2)?);
            let mask = if *has_mask { Some(input(3)?) } else { None };
            attention::attention(&attention::AttentionInputs {
                q: (&q.0, q.1),
                k: (&k.0, k.1),
                v: (&v.0, v.1),
                dtype,
                mask: mask.as_ref().map(|(d, _, t)| (d, *t)),
                scale: *scale,
                causal: *causal,
            })?
        }
        Prim::MatMul { has_bias } => {
            let (a, b) = (input(0)?, input(1)?);
            let bias = if *has_bias { Some(input(2)?.0) } else { None };
            matmul::matmul(
                (&a.0, a.1, a.2),
                (&b.0, b.1, b.2),
                bias.as_ref(),
                dtype,
                shape,
            )?
        }
        Prim::SliceUpdate { axis, start } => {
            let ((t, _, _), (u, u_shape, _)) = (input(0)?, input(1)?);
            layout::slice_update(t, shape, (&u, u_shape), *axis, *start, dtype)
        }
        Prim::Unary(_) | Prim::Binary(_) | Prim::Where | Prim::Cast => {
            return Err(Error::Backend {
                op: prim.name(),
                msg: "internal: element-wise node outside a fused kernel".into(),
            })
        }
    })
}
