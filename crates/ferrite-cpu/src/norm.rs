//! Softmax and normalisations: the axis is made innermost and contiguous,
//! each row is processed in f32, and the result keeps the permuted layout
//! (a strided view) so no second transpose is needed.

use crate::layout::{f32_rows, F32Rows};
use crate::pool::F32Out;
use ferrite_core::shape::{contiguous_strides, numel};
use ferrite_core::{view, DType, Data, Error, HostBytes, Result};
use ferrite_kernels as kernels;
use std::sync::Arc;

/// Runs a multi-row kernel of `ferrite-kernels` (which spreads rows over
/// threads itself) and stores its f32 result as `dtype`.
fn map_rows(
    x: &F32Rows,
    n: usize,
    dtype: DType,
    kernel: impl FnOnce(&[f32], &mut [f32]) -> Result<(), ferrite_kernels::KernelError>,
) -> Result<Arc<dyn HostBytes>> {
    let mut out = F32Out::new(n, dtype);
    if n > 0 {
        kernel(x.as_slice(), out.as_mut_slice()).map_err(|e| Error::Backend {
            op: "norm",
            msg: e.to_string(),
        })?;
    }
    Ok(out.finish())
}

/// Softmax or log-softmax along `axis`.
pub fn softmax(data: &Data, shape: &[usize], dtype: DType, axis: usize, log: bool) -> Result<Data> {
    let nd = shape.len();
    let mut perm: Vec<usize> = (0..nd).filter(|&d| d != axis).collect();
    perm.push(axis);
    let pshape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let x = f32_rows(&view::permute(data, &perm), &pshape, dtype);
    let cols = shape[axis];
    let buf = map_rows(&x, numel(shape), dtype, |i, o| {
        if log {
            kernels::log_softmax(i, o, cols)
        } else {
            kernels::softmax(i, o, cols)
        }
    })?;
    // The buffer is laid out in permuted order; give each original axis its stride there.
    let pstrides = contiguous_strides(&pshape);
    let mut strides = pstrides.clone();
    for (k, &p) in perm.iter().enumerate() {
        strides[p] = pstrides[k];
    }
    Ok(Data {
        storage: buf,
        offset: 0,
        strides,
    })
}

/// RMSNorm over the last axis, optionally scaled by `weight`.
pub fn rms_norm(
    data: &Data,
    shape: &[usize],
    dtype: DType,
    out_dtype: DType,
    weight: Option<(&Data, DType)>,
    eps: f32,
) -> Result<Data> {
    let cols = shape.last().copied().unwrap_or(1);
    let x = f32_rows(data, shape, dtype);
    let w = weight.map(|(d, dt)| f32_rows(d, &[cols], dt));
    let w = w.as_ref().map(|w| w.as_slice());
    let buf = map_rows(&x, numel(shape), out_dtype, |i, o| {
        kernels::rms_norm(i, w, eps, o, cols)
    })?;
    Ok(Data::contiguous(buf, 0, shape))
}

/// LayerNorm over the last axis with optional weight and bias.
pub fn layer_norm(
    data: &Data,
    shape: &[usize],
    dtype: DType,
    out_dtype: DType,
    weight: Option<(&Data, DType)>,
    bias: Option<(&Data, DType)>,
    eps: f32,
) -> Result<Data> {
    let cols = shape.last().copied().unwrap_or(1);
    let x = f32_rows(data, shape, dtype);
    let w = weight.map(|(d, dt)| f32_rows(d, &[cols], dt));
    let b = bias.map(|(d, dt)| f32_rows(d, &[cols], dt));
    let (w, b) = (
        w.as_ref().map(|w| w.as_slice()),
        b.as_ref().map(|b| b.as_slice()),
    );
    let buf = map_rows(&x, numel(shape), out_dtype, |i, o| {
        kernels::layer_norm(i, w, b, eps, o, cols)
    })?;
    Ok(Data::contiguous(buf, 0, shape))
}
