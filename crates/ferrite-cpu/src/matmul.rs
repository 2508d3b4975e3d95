//! Batched matrix products: each batch entry is one GEMM over the operands'
//! own strides (transposed views are never copied).

use crate::access::store_run;
use crate::layout::f32_rows;
use crate::pool::{PooledBuf, Scratch};
use ferrite_core::shape::numel;
use ferrite_core::{DType, Data};

/// `a [.., M, K] @ b [.., K, N] (+ bias [.., M, N])`, all broadcast to the same batch.
pub fn matmul(a: (&Data, &[usize]), b: (&Data, &[usize]), bias: Option<&Data>, dtype: DType, out_shape: &[usize]) -> Data {
    let nd = out_shape.len();
    let (m, n) = (out_shape[nd - 2], out_shape[nd - 1]);
    let k = a.1[nd - 1];
    let batch: usize = out_shape[..nd - 2].iter().product();
    let av = f32_rows(a.0, a.1, dtype);
    let bv = f32_rows(b.0, b.1, dtype);
    let (av, bv) = (av.as_slice(), bv.as_slice());
    let mut out = Scratch::<f32>::new(numel(out_shape));
    for bi in 0..batch {
        let am = &av[bi * m * k..(bi + 1) * m * k];
        let bm = &bv[bi * k * n..(bi + 1) * k * n];
        let om = &mut out.as_mut()[bi * m * n..(bi + 1) * m * n];
        for i in 0..m {
            let orow = &mut om[i * n..(i + 1) * n];
            orow.fill(0.0);
            for p in 0..k {
                crate::rows::axpy(am[i * k + p], &bm[p * n..(p + 1) * n], orow);
            }
        }
    }
    if let Some(bias) = bias {
        let bv = f32_rows(bias, out_shape, dtype);
        out.as_mut().iter_mut().zip(bv.as_slice()).for_each(|(o, &b)| *o += b);
    }
    let mut buf = PooledBuf::take(numel(out_shape) * dtype.size().unwrap_or(4));
    store_run(out.as_slice(), dtype, buf.bytes_mut());
    Data::contiguous(buf.into_storage(), 0, out_shape)
}
