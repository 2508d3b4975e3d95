//! Softmax and normalisations: the axis is made innermost and contiguous,
//! each row is processed in f32, and the result keeps the permuted layout
//! (a strided view) so no second transpose is needed.

use crate::access::store_run;
use crate::layout::{f32_rows, F32Rows};
use crate::pool::{PooledBuf, Scratch};
use crate::rows;
use ferrite_core::shape::{contiguous_strides, numel};
use ferrite_core::{view, DType, Data};
use rayon::prelude::*;

/// Rows this long or more are spread over threads one row per task.
const ROW_PARALLEL_MIN: usize = 1 << 14;

/// Applies `f(input_row, output_row)` to every row of the last axis and
/// stores the result as `dtype`; `x` must already have the axis last.
fn map_rows(x: &F32Rows, n: usize, cols: usize, dtype: DType, f: impl Fn(&[f32], &mut [f32]) + Sync) -> PooledBuf {
    let mut out = Scratch::<f32>::new(n);
    let input = x.as_slice();
    if cols > 0 {
        let rows_per_task = (ROW_PARALLEL_MIN / cols).max(1);
        out.as_mut()
            .par_chunks_mut(rows_per_task * cols)
            .zip(input.par_chunks(rows_per_task * cols))
            .for_each(|(o, i)| o.chunks_mut(cols).zip(i.chunks(cols)).for_each(|(o, i)| f(i, o)));
    }
    let esize = dtype.size().unwrap_or(4);
    let mut buf = PooledBuf::take(n * esize);
    store_run(out.as_slice(), dtype, buf.bytes_mut());
    buf
}

/// Softmax or log-softmax along `axis`.
pub fn softmax(data: &Data, shape: &[usize], dtype: DType, axis: usize, log: bool) -> Data {
    let nd = shape.len();
    let mut perm: Vec<usize> = (0..nd).filter(|&d| d != axis).collect();
    perm.push(axis);
    let pshape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let x = f32_rows(&view::permute(data, &perm), &pshape, dtype);
    let cols = shape[axis];
    let buf = map_rows(&x, numel(shape), cols, dtype, |i, o| if log { rows::log_softmax(i, o) } else { rows::softmax(i, o) });
    // The buffer is laid out in permuted order; give each original axis its stride there.
    let pstrides = contiguous_strides(&pshape);
    let mut strides = pstrides.clone();
    for (k, &p) in perm.iter().enumerate() {
        strides[p] = pstrides[k];
    }
    Data { storage: buf.into_storage(), offset: 0, strides }
}

/// RMSNorm over the last axis, optionally scaled by `weight`.
pub fn rms_norm(data: &Data, shape: &[usize], dtype: DType, weight: Option<(&Data, DType)>, eps: f32) -> Data {
    let cols = shape.last().copied().unwrap_or(1);
    let x = f32_rows(data, shape, dtype);
    let w = weight.map(|(d, dt)| f32_rows(d, &[cols], dt));
    let w = w.as_ref().map(|w| w.as_slice());
    let buf = map_rows(&x, numel(shape), cols, dtype, |i, o| rows::rms_norm(i, w, eps, o));
    Data::contiguous(buf.into_storage(), 0, shape)
}

/// LayerNorm over the last axis with optional weight and bias.
pub fn layer_norm(
    data: &Data,
    shape: &[usize],
    dtype: DType,
    weight: Option<(&Data, DType)>,
    bias: Option<(&Data, DType)>,
    eps: f32,
) -> Data {
    let cols = shape.last().copied().unwrap_or(1);
    let x = f32_rows(data, shape, dtype);
    let w = weight.map(|(d, dt)| f32_rows(d, &[cols], dt));
    let b = bias.map(|(d, dt)| f32_rows(d, &[cols], dt));
    let (w, b) = (w.as_ref().map(|w| w.as_slice()), b.as_ref().map(|b| b.as_slice()));
    let buf = map_rows(&x, numel(shape), cols, dtype, |i, o| rows::layer_norm(i, w, b, eps, o));
    Data::contiguous(buf.into_storage(), 0, shape)
}
