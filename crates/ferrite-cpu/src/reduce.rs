//! Reductions over any set of axes: the input is viewed with kept axes first
//! and reduced axes last, copied into contiguous rows, and each row reduced.

use crate::access::{gather_contiguous, store_run, Real};
use crate::pool::{PooledBuf, Scratch};
use ferrite_core::prim::{ArgReduceOp, ReduceOp};
use ferrite_core::shape::numel;
use ferrite_core::{view, DType, Data};
use rayon::prelude::*;

/// Rows of `cols` elements: kept axes (in order) then reduced axes.
fn rows_for<T: Real>(
    data: &Data,
    shape: &[usize],
    dtype: DType,
    axes: &[usize],
) -> (Scratch<T>, usize, usize) {
    let mut perm: Vec<usize> = (0..shape.len()).filter(|d| !axes.contains(d)).collect();
    perm.extend_from_slice(axes);
    let pshape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let permuted = view::permute(data, &perm);
    let cols: usize = axes.iter().map(|&a| shape[a]).product();
    let rows: usize = perm[..perm.len() - axes.len()]
        .iter()
        .map(|&p| shape[p])
        .product();
    let mut s = Scratch::<T>::new(numel(shape));
    gather_contiguous(&permuted, &pshape, dtype, s.as_mut_slice());
    (s, rows, cols)
}

fn reduce_row<T: Real>(op: ReduceOp, row: &[T]) -> f64 {
    let n = row.len();
    let sum = || row.iter().map(|v| v.to_f64()).sum::<f64>();
    match op {
        ReduceOp::Sum => sum(),
        ReduceOp::Mean => sum() / n as f64,
        ReduceOp::Max => row
            .iter()
            .fold(f64::NEG_INFINITY, |m, v| nan_max(m, v.to_f64())),
        ReduceOp::Min => row
            .iter()
            .fold(f64::INFINITY, |m, v| -nan_max(-m, -v.to_f64())),
        ReduceOp::LogSumExp => {
            let m = row
                .iter()
                .fold(f64::NEG_INFINITY, |m, v| nan_max(m, v.to_f64()));
            if m.is_infinite() {
                return m;
            }
            m + row.iter().map(|v| (v.to_f64() - m).exp()).sum::<f64>().ln()
        }
        ReduceOp::Var { ddof } => {
            let mean = sum() / n as f64;
            let ss: f64 = row.iter().map(|v| (v.to_f64() - mean).powi(2)).sum();
            ss / (n as f64 - ddof as f64)
        }
    }
}

fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Reduces `axes` of the input; the output is contiguous with `out_shape`.
pub fn reduce(
    data: &Data,
    shape: &[usize],
    dtype: DType,
    op: ReduceOp,
    axes: &[usize],
    out_shape: &[usize],
    out_dtype: DType,
) -> Data {
    // Accumulating in f64 keeps sums of long rows accurate and integers exact.
    let (s, rows, cols) = rows_for::<f64>(data, shape, dtype, axes);
    let mut vals = Scratch::<f64>::new(rows);
    if cols == 0 {
        vals.as_mut_slice().fill(reduce_row::<f64>(op, &[]));
    } else {
        vals.as_mut_slice()
            .par_iter_mut()
            .zip(s.as_slice().par_chunks(cols))
            .for_each(|(v, r)| *v = reduce_row(op, r));
    }
    store(vals.as_slice(), out_shape, out_dtype)
}

/// Index of the first extreme element (the first NaN wins, as in NumPy).
pub fn arg_reduce(
    data: &Data,
    shape: &[usize],
    dtype: DType,
    op: ArgReduceOp,
    axis: usize,
    out_shape: &[usize],
) -> Data {
    let (s, _, cols) = rows_for::<f64>(data, shape, dtype, &[axis]);
    let better = |a: f64, b: f64| match op {
        ArgReduceOp::ArgMax => a > b,
        ArgReduceOp::ArgMin => a < b,
    };
    let mut vals = Scratch::<f64>::new(numel(out_shape));
    vals.as_mut_slice()
        .par_iter_mut()
        .zip(s.as_slice().par_chunks(cols.max(1)))
        .for_each(|(out, row)| {
            let mut best = 0usize;
            for (j, &v) in row.iter().enumerate() {
                if row[best].is_nan() {
                    break;
                }
                if v.is_nan() || better(v, row[best]) {
                    best = j;
                }
            }
            *out = best as f64;
        });
    store(vals.as_slice(), out_shape, DType::I32)
}

fn store(vals: &[f64], shape: &[usize], dtype: DType) -> Data {
    let mut buf = PooledBuf::take(vals.len() * dtype.size().unwrap_or(1));
    store_run(vals, dtype, buf.bytes_mut());
    Data::contiguous(buf.into_storage(), 0, shape)
}
