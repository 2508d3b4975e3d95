//! Rotary position embeddings over `[..., T, D]`.

use crate::access::store_run;
use crate::layout::f32_rows;
use crate::pool::{PooledBuf, Scratch};
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

pub fn rope(data: &Data, shape: &[usize], dtype: DType, p: &RopeParams) -> Data {
    let nd = shape.len();
    let (t_len, d) = (shape[nd - 2], shape[nd - 1]);
    let half = p.dims / 2;
    // One cos/sin table for all heads and batches: T × dims/2 angles.
    let mut table = Scratch::<f32>::new(t_len * half * 2);
    for t in 0..t_len {
        let pos = (p.offset + t) as f64 * p.scale as f64;
        for i in 0..half {
            let inv_freq = match p.freqs {
                Some(f) => 1.0 / f[i] as f64,
                None => (p.base as f64).powf(-((2 * i) as f64) / p.dims as f64),
            };
            let theta = pos * inv_freq;
            table.as_mut()[(t * half + i) * 2] = theta.cos() as f32;
            table.as_mut()[(t * half + i) * 2 + 1] = theta.sin() as f32;
        }
    }
    let x = f32_rows(data, shape, dtype);
    let n = numel(shape);
    let mut out = Scratch::<f32>::new(n);
    let table = table.as_slice();
    if d > 0 {
        out.as_mut().par_chunks_mut(d).zip(x.as_slice().par_chunks(d)).enumerate().for_each(|(row, (o, x))| {
            let t = row % t_len.max(1);
            let cs = &table[t * half * 2..(t + 1) * half * 2];
            o.copy_from_slice(x);
            for i in 0..half {
                let (c, s) = (cs[2 * i], cs[2 * i + 1]);
                let (a, b) = match p.layout {
                    RopeLayout::Interleaved => (2 * i, 2 * i + 1),
                    RopeLayout::SplitHalves => (i, i + half),
                };
                o[a] = x[a] * c - x[b] * s;
                o[b] = x[a] * s + x[b] * c;
            }
        });
    }
    let mut buf = PooledBuf::take(n * dtype.size().unwrap_or(4));
    store_run(out.as_slice(), dtype, buf.bytes_mut());
    Data::contiguous(buf.into_storage(), 0, shape)
}
