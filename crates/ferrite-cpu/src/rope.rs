//! Rotary position embeddings over `[..., T, D]`.

use crate::layout::f32_rows;
use crate::pool::{F32Out, Scratch};
use ferrite_core::prim::RopeLayout;
use ferrite_core::shape::numel;
use ferrite_core::{DType, Data};
use ferrite_kernels::team;

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
/// Positions between exact `sin_cos` calls in the angle table; in between,
/// angles advance by an f64 complex rotation whose error stays ~1e-15.
const RESEED: usize = 32;

/// `cos` then `sin` (planar, `half` each) for every position: planar rows
/// let the rotation below vectorise.
fn angle_table(t_len: usize, half: usize, p: &RopeParams) -> Scratch<f32> {
    let inv_freq: Vec<f64> = (0..half)
        .map(|i| match p.freqs {
            Some(f) => 1.0 / f[i] as f64,
            None => (p.base as f64).powf(-((2 * i) as f64) / p.dims as f64),
        })
        .collect();
    let step: Vec<(f64, f64)> = inv_freq
        .iter()
        .map(|&f| (f * p.scale as f64).sin_cos())
        .collect();
    let mut table = Scratch::<f32>::new(t_len * half * 2);
    if half > 0 {
        team::parallel_chunks_mut(table.as_mut_slice(), RESEED * half * 2, |block, rows| {
            let first = block * RESEED;
            for (i, &f) in inv_freq.iter().enumerate() {
                let pos = (p.offset + first) as f64 * p.scale as f64;
                let (mut s, mut c) = (pos * f).sin_cos();
                let (ds, dc) = step[i];
                for row in rows.chunks_exact_mut(half * 2) {
                    row[i] = c as f32;
                    row[half + i] = s as f32;
                    (c, s) = (c * dc - s * ds, s * dc + c * ds);
                }
            }
        });
    }
    table
}

/// Writes the rotation of one row `x` into `o` (features past `2 * half` pass through).
fn rotate(x: &[f32], o: &mut [f32], cos: &[f32], sin: &[f32], layout: RopeLayout) {
    let half = cos.len();
    match layout {
        RopeLayout::Interleaved => {
            for (((o, x), &c), &s) in o
                .chunks_exact_mut(2)
                .zip(x.chunks_exact(2))
                .zip(cos)
                .zip(sin)
            {
                o[0] = x[0] * c - x[1] * s;
                o[1] = x[0] * s + x[1] * c;
            }
        }
        RopeLayout::SplitHalves => {
            let (xl, xh) = x[..2 * half].split_at(half);
            let (ol, oh) = o[..2 * half].split_at_mut(half);
            for i in 0..half {
                ol[i] = xl[i] * cos[i] - xh[i] * sin[i];
                oh[i] = xl[i] * sin[i] + xh[i] * cos[i];
            }
        }
    }
    o[2 * half..].copy_from_slice(&x[2 * half..]);
}

pub fn rope(data: &Data, shape: &[usize], dtype: DType, p: &RopeParams) -> Data {
    let nd = shape.len();
    let (t_len, d) = (shape[nd - 2], shape[nd - 1]);
    let half = p.dims / 2;
    let table = angle_table(t_len, half, p);
    let table = table.as_slice();
    let x = f32_rows(data, shape, dtype);
    let mut out = F32Out::new(numel(shape), dtype);
    // Whole groups of rows per task: one row is far too little work for a thread hop.
    if let Some(rows_per_task) = ROWS_TASK_ELEMS.checked_div(d).map(|r| r.max(1)) {
        let chunk = d * rows_per_task;
        let x = x.as_slice();
        team::parallel_chunks_mut(out.as_mut_slice(), chunk, |task, o| {
            let x = &x[task * chunk..task * chunk + o.len()];
            for (r, (o, x)) in o.chunks_mut(d).zip(x.chunks(d)).enumerate() {
                let t = (task * rows_per_task + r) % t_len.max(1);
                let row = &table[t * half * 2..(t + 1) * half * 2];
                rotate(x, o, &row[..half], &row[half..], p.layout);
            }
        });
    }
    Data::contiguous(out.finish(), 0, shape)
}
