//! Batched matrix products: each batch entry is one GEMM of `ferrite-kernels`
//! reading the operands in place at their own strides, so transposed and
//! broadcast views are never copied.

use crate::layout::f32_rows;
use crate::pool::F32Out;
use ferrite_core::shape::numel;
use ferrite_core::{DType, Data, Error, Result};
use ferrite_kernels::team;
use ferrite_kernels::{gemm, Element, MatRef};
use half::{bf16, f16};

/// Below this much work per batch entry, batch entries run in parallel instead.
const SMALL_GEMM_FLOPS: usize = 1 << 18;

/// An operand as a typed slice over its whole storage plus element strides;
/// `None` when it is misaligned or has negative strides (then it is copied).
struct Operand<'a, T> {
    all: &'a [T],
    offset: usize,
    strides: &'a [isize],
}

fn typed<'a, T: bytemuck::Pod>(data: &'a Data) -> Option<Operand<'a, T>> {
    let size = std::mem::size_of::<T>();
    if !data.offset.is_multiple_of(size) || data.strides.iter().any(|&s| s < 0) {
        return None;
    }
    let all = bytemuck::try_cast_slice::<u8, T>(data.storage.bytes()).ok()?;
    Some(Operand {
        all,
        offset: data.offset / size,
        strides: &data.strides,
    })
}

impl<'a, T> Operand<'a, T> {
    /// The matrix of batch entry `b` (batch axes are all but the last two).
    fn matrix(
        &self,
        batch_shape: &[usize],
        b: usize,
        rows: usize,
        cols: usize,
    ) -> Result<MatRef<'a, T>> {
        let nd = self.strides.len();
        let (mut rem, mut off) = (b, self.offset);
        for d in (0..batch_shape.len()).rev() {
            off += (rem % batch_shape[d]) * self.strides[d] as usize;
            rem /= batch_shape[d];
        }
        let (rs, cs) = (self.strides[nd - 2] as usize, self.strides[nd - 1] as usize);
        MatRef::new(&self.all[off..], rows, cols, rs, cs).map_err(|e| Error::Backend {
            op: "matmul",
            msg: e.to_string(),
        })
    }
}

/// An operand: its data, shape and element type.
pub type Input<'a> = (&'a Data, &'a [usize], DType);

/// `a [.., M, K] @ b [.., K, N] (+ bias [.., M, N])`, all broadcast to the same batch.
/// The operands may have different float types (an f32 activation times bf16
/// weights): each is widened while packing, never converted as a whole.
pub fn matmul(
    a: Input,
    b: Input,
    bias: Option<&Data>,
    dtype: DType,
    out_shape: &[usize],
) -> Result<Data> {
    let n_out = numel(out_shape);
    let mut out = F32Out::new(n_out, dtype);
    if let Some(bias) = bias {
        out.as_mut_slice()
            .copy_from_slice(f32_rows(bias, out_shape, dtype).as_slice());
    }
    let accumulate = bias.is_some();
    let c = out.as_mut_slice();
    match a.2 {
        DType::F32 => with_b::<f32>(a, b, out_shape, c, accumulate)?,
        DType::BF16 => with_b::<bf16>(a, b, out_shape, c, accumulate)?,
        DType::F16 => with_b::<f16>(a, b, out_shape, c, accumulate)?,
        other => return Err(no_kernel(other)),
    }
    Ok(Data::contiguous(out.finish(), 0, out_shape))
}

fn no_kernel(dtype: DType) -> Error {
    Error::Backend {
        op: "matmul",
        msg: format!("no kernel for {dtype}"),
    }
}

fn with_b<TA: Element + bytemuck::Pod>(
    a: Input,
    b: Input,
    out_shape: &[usize],
    out: &mut [f32],
    accumulate: bool,
) -> Result<()> {
    match b.2 {
        DType::F32 => run::<TA, f32>(a, b, out_shape, out, accumulate),
        DType::BF16 => run::<TA, bf16>(a, b, out_shape, out, accumulate),
        DType::F16 => run::<TA, f16>(a, b, out_shape, out, accumulate),
        other => Err(no_kernel(other)),
    }
}

fn run<TA: Element + bytemuck::Pod, TB: Element + bytemuck::Pod>(
    a: Input,
    b: Input,
    out_shape: &[usize],
    out: &mut [f32],
    accumulate: bool,
) -> Result<()> {
    match (typed::<TA>(a.0), typed::<TB>(b.0)) {
        (Some(ta), Some(tb)) => batched(&ta, &tb, a.1, b.1, out_shape, out, accumulate),
        _ => {
            // Misaligned or reversed operands: convert both to contiguous f32 first.
            let (ca, cb) = (f32_rows(a.0, a.1, a.2), f32_rows(b.0, b.1, b.2));
            let (sa, sb) = (contiguous_strides(a.1), contiguous_strides(b.1));
            let oa = Operand {
                all: ca.as_slice(),
                offset: 0,
                strides: &sa,
            };
            let ob = Operand {
                all: cb.as_slice(),
                offset: 0,
                strides: &sb,
            };
            batched(&oa, &ob, a.1, b.1, out_shape, out, accumulate)
        }
    }
}

fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    ferrite_core::shape::contiguous_strides(shape).to_vec()
}

fn batched<TA: Element, TB: Element>(
    a: &Operand<TA>,
    b: &Operand<TB>,
    a_shape: &[usize],
    b_shape: &[usize],
    out_shape: &[usize],
    out: &mut [f32],
    accumulate: bool,
) -> Result<()> {
    let nd = out_shape.len();
    let (m, n, k) = (out_shape[nd - 2], out_shape[nd - 1], a_shape[nd - 1]);
    let batch_shape = &out_shape[..nd - 2];
    debug_assert_eq!(&a_shape[..nd - 2], batch_shape);
    debug_assert_eq!(&b_shape[..nd - 2], batch_shape);
    if m * n == 0 {
        return Ok(());
    }
    if k == 0 {
        // An empty sum: zero (or just the bias). Empty operands have no bytes
        // to slice per batch entry.
        if !accumulate {
            out.fill(0.0);
        }
        return Ok(());
    }
    let one = |bi: usize, c: &mut [f32]| -> Result<()> {
        let am = a.matrix(batch_shape, bi, m, k)?;
        let bm = b.matrix(batch_shape, bi, k, n)?;
        gemm(am, bm, c, n, accumulate).map_err(|e| Error::Backend {
            op: "matmul",
            msg: e.to_string(),
        })
    };
    if 2 * m * n * k < SMALL_GEMM_FLOPS && out.len() > m * n {
        team::try_parallel_chunks_mut(out, m * n, one)
    } else {
        out.chunks_mut(m * n)
            .enumerate()
            .try_for_each(|(bi, c)| one(bi, c))
    }
}
