//! Rotary position embeddings over `[..., T, D]`.

use crate::layout::f32_rows;
use crate::pool::{F32Out, Scratch};
use ferrite_core::prim::RopeLayout;
use ferrite_core::shape::numel;
use ferrite_core::{DType, Data};
use rayon::prelude::*;

pub struct RopeParams<'a> {
    pub dims: usize,
    pub layout: RopeLayout,
    pub base: f32,
    pub scale: f32,
    pub offset: usize,
    /// MLX-style periods overriding `base` (Llama 3 scaling).
    pub freqs: Option<&'a [f32]>,
}

/// Elements per parallel task.
const ROWS_TASK_ELEMS: usize = 1 << 14;

/// Rotates the first `cs.len()` features of one row in place by the
/// interleaved (cos, sin) pairs of `cs`.
fn rotate(o: &mut [f32], cs: &[f32], layout: RopeLayout) {
    let half = cs.len() / 2;
    match layout {
        RopeLayout::Interleaved => {
            for (pair, c) in o[..2 * half].chunks_exact_mut(2).zip(cs.chunks_exact(2)) {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * c[0] - b * c[1];
                pair[1] = a * c[1] + b * c[0];
            }
        }
        RopeLayout::SplitHalves => {
            let (lo, hi) = o[..2 * half].split_at_mut(half);
            for ((a, b), c) in lo.iter_mut().zip(hi.iter_mut()).zip(cs.chunks_exact(2)) {
                let (x, y) = (*a, *b);
                *a = x * c[0] - y * c[1];
                *b = x * c[1] + y * c[0];
            }
        }
    }
}

pub fn rope(data: &Data, shape: &[usize], dtype: DType, p: &RopeParams) -> Data {
    let nd = shape.len();
    let (t_len, d) = (shape[nd - 2], shape[nd - 1]);
    let half = p.dims / 2;
    // One cos/sin table for all heads and batches: T × dims/2 angles, in f64
    // so that large positions keep full f32 accuracy.
    let inv_freq: Vec<f64> = (0..half)
        .map(|i| match p.freqs {
            Some(f) => 1.0 / f[i] as f64,
            None => (p.base as f64).powf(-((2 * i) as f64) / p.dims as f64),
        })
        .collect();
    let mut table = Scratch::<f32>::new(t_len * half * 2);
    if half > 0 {
        table
            .as_mut_slice()
            .par_chunks_mut(half * 2)
            .enumerate()
            .for_each(|(t, row)| {
                let pos = (p.offset + t) as f64 * p.scale as f64;
                for (cs, &f) in row.chunks_exact_mut(2).zip(&inv_freq) {
                    let (sin, cos) = (pos * f).sin_cos();
                    cs[0] = cos as f32;
                    cs[1] = sin as f32;
                }
            });
    }
    let x = f32_rows(data, shape, dtype);
    let n = numel(shape);
    let mut out = F32Out::new(n, dtype);
    let table = table.as_slice();
    // Whole groups of rows per task: one row is far too little work for a thread hop.
    if let Some(rows_per_task) = ROWS_TASK_ELEMS.checked_div(d).map(|r| r.max(1)) {
        out.as_mut_slice()
            .par_chunks_mut(d * rows_per_task)
            .zip(x.as_slice().par_chunks(d * rows_per_task))
            .enumerate()
            .for_each(|(task, (o, x))| {
                o.copy_from_slice(x);
                for (r, o) in o.chunks_mut(d).enumerate() {
                    let t = (task * rows_per_task + r) % t_len.max(1);
                    rotate(o, &table[t * half * 2..(t + 1) * half * 2], p.layout);
                }
            });
    }
    Data::contiguous(out.finish(), 0, shape)
}
