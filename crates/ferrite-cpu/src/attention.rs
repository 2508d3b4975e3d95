//! Scaled dot-product attention with grouped-query heads. The `Hq / Hkv`
//! query heads that share a K/V head are stacked into one matrix, so each
//! K/V head is read by two GEMMs (`S = Q Kᵀ`, `O = P V`) in place: K/V are
//! never repeated in memory, and a decode step streams the cache once.

use crate::layout::{f32_rows, F32Rows};
use crate::pool::{F32Out, Scratch};
use ferrite_core::{DType, Data, Error, Result};
use ferrite_kernels::{self as kernels, gemm_f32, MatRef};
use rayon::prelude::*;

/// Score rows computed at once per K/V head, bounding scratch to ~16 MiB of f32.
const SCORE_BUDGET: usize = 4 << 20;

pub struct AttentionInputs<'a> {
    pub q: (&'a Data, &'a [usize]),
    pub k: (&'a Data, &'a [usize]),
    pub v: (&'a Data, &'a [usize]),
    pub dtype: DType,
    /// Additive f32 mask or boolean keep-mask, already broadcast to `[B, Hq, Tq, Tk]`.
    pub mask: Option<(&'a Data, DType)>,
    pub scale: f32,
    pub causal: bool,
}

fn kernel_err(e: ferrite_kernels::KernelError) -> Error {
    Error::Backend {
        op: "attention",
        msg: e.to_string(),
    }
}

pub fn attention(a: &AttentionInputs) -> Result<Data> {
    let (qs, ks, vs) = (a.q.1, a.k.1, a.v.1);
    let (b, hq, tq, d) = (qs[0], qs[1], qs[2], qs[3]);
    let (hkv, tk, dv) = (ks[1], ks[2], vs[3]);
    let group = hq / hkv.max(1);
    let q = f32_rows(a.q.0, qs, a.dtype);
    let k = f32_rows(a.k.0, ks, a.dtype);
    let v = f32_rows(a.v.0, vs, a.dtype);
    let mask = a.mask.map(|(m, dt)| additive_mask(m, dt, [b, hq, tq, tk]));
    let (q, k, v) = (q.as_slice(), k.as_slice(), v.as_slice());
    let mask = mask.as_ref().map(|m| m.as_slice());
    let n_out = b * hq * tq * dv;
    let mut out = F32Out::new(n_out, a.dtype);
    // Query row i may see keys up to i + (tk - tq): the last query is aligned
    // with the last key, so a decode step (tq = 1) sees the whole cache.
    let shift = tk as isize - tq as isize;
    let rows_per_head = group * tq;
    if n_out > 0 {
        out.as_mut_slice()
            .par_chunks_mut(rows_per_head * dv)
            .enumerate()
            .try_for_each(|(bh, o)| -> Result<()> {
                let (bi, h) = (bh / hkv, bh % hkv);
                let kmat = &k[(bi * hkv + h) * tk * d..(bi * hkv + h + 1) * tk * d];
                let vmat = &v[(bi * hkv + h) * tk * dv..(bi * hkv + h + 1) * tk * dv];
                let qmat = &q[(bi * hq + h * group) * tq * d..(bi * hq + (h + 1) * group) * tq * d];
                let chunk = (SCORE_BUDGET / tk.max(1)).clamp(1, rows_per_head);
                let mut scores = Scratch::<f32>::new(chunk * tk);
                for r0 in (0..rows_per_head).step_by(chunk) {
                    let rows = chunk.min(rows_per_head - r0);
                    let s = &mut scores.as_mut_slice()[..rows * tk];
                    let qm = MatRef::row_major(&qmat[r0 * d..(r0 + rows) * d], rows, d)
                        .map_err(kernel_err)?;
                    let km = MatRef::row_major(kmat, tk, d).map_err(kernel_err)?.t();
                    gemm_f32(qm, km, s, tk, false).map_err(kernel_err)?;
                    for (r, srow) in s.chunks_mut(tk.max(1)).enumerate().take(rows) {
                        let row = r0 + r;
                        let (head, i) = (h * group + row / tq, row % tq);
                        let visible = if a.causal {
                            (i as isize + shift + 1).clamp(0, tk as isize) as usize
                        } else {
                            tk
                        };
                        let mrow = mask.map(|m| &m[((bi * hq + head) * tq + i) * tk..][..tk]);
                        for (j, x) in srow.iter_mut().enumerate() {
                            *x = if j >= visible {
                                f32::NEG_INFINITY
                            } else {
                                *x * a.scale + mrow.map_or(0.0, |m| m[j])
                            };
                        }
                        kernels::softmax_inplace(srow, tk).map_err(kernel_err)?;
                    }
                    let pm = MatRef::row_major(&s[..], rows, tk).map_err(kernel_err)?;
                    let vm = MatRef::row_major(vmat, tk, dv).map_err(kernel_err)?;
                    gemm_f32(pm, vm, &mut o[r0 * dv..(r0 + rows) * dv], dv, false)
                        .map_err(kernel_err)?;
                }
                Ok(())
            })?;
    }
    Ok(Data::contiguous(out.finish(), 0, &[b, hq, tq, dv]))
}

/// The mask as additive f32 (a boolean keep-mask becomes 0 / -inf).
fn additive_mask(m: &Data, dtype: DType, shape: [usize; 4]) -> F32Rows {
    let rows = f32_rows(m, &shape, dtype);
    if dtype != DType::Bool {
        return rows;
    }
    let mut s = Scratch::<f32>::new(shape.iter().product());
    for (o, &keep) in s.as_mut_slice().iter_mut().zip(rows.as_slice()) {
        *o = if keep != 0.0 { 0.0 } else { f32::NEG_INFINITY };
    }
    F32Rows::Owned(s)
}
