//! Scaled dot-product attention with grouped-query heads. The `Hq / Hkv`
//! query heads that share a K/V head are stacked into one matrix, so each
//! K/V head is read by two products (`S = Q Kᵀ`, `O = P V`) in place: K/V are
//! never repeated in memory. With few stacked rows (a decode step) the
//! products are `row_dots` / `mix_rows`, which read each K and V row once
//! without packing; otherwise they are GEMMs.

use crate::access::load_run;
use crate::layout::{f32_rows, F32Rows};
use crate::pool::{F32Out, Scratch};
use ferrite_core::{DType, Data, Error, Result};
use ferrite_kernels::team;
use ferrite_kernels::{self as kernels, gemm_f32, MatRef};

/// Score rows computed at once per K/V head, bounding scratch to ~16 MiB of f32.
const SCORE_BUDGET: usize = 4 << 20;
/// Up to this many stacked query rows per K/V head, the packing of a GEMM costs more than
/// it saves.
const FEW_ROWS: usize = 16;

pub struct AttentionInputs<'a> {
    pub q: (&'a Data, &'a [usize]),
    pub k: (&'a Data, &'a [usize]),
    pub v: (&'a Data, &'a [usize]),
    pub dtype: DType,
    /// Additive f32 mask or boolean keep-mask, a (usually stride-0) view
    /// broadcast to `[B, Hq, Tq, Tk]`; it is read row by row, never expanded.
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
    let q = q.as_slice();
    let (k, v) = (
        Heads::new(a.k.0, ks, a.dtype),
        Heads::new(a.v.0, vs, a.dtype),
    );
    let n_out = b * hq * tq * dv;
    let mut out = F32Out::new(n_out, a.dtype);
    // Query row i may see keys up to i + (tk - tq): the last query is aligned
    // with the last key, so a decode step (tq = 1) sees the whole cache.
    let shift = tk as isize - tq as isize;
    let rows_per_head = group * tq;
    // `row_dots` needs rows of non-zero length; with d = 0 the GEMM gives zero scores.
    let few_rows = rows_per_head <= FEW_ROWS && d > 0;
    if n_out > 0 {
        team::try_parallel_chunks_mut(
            out.as_mut_slice(),
            rows_per_head * dv,
            |bh, o| -> Result<()> {
                let (bi, h) = (bh / hkv, bh % hkv);
                let (kmat, vmat) = (k.head(bi, h)?, v.head(bi, h)?);
                let qmat = &q[(bi * hq + h * group) * tq * d..(bi * hq + (h + 1) * group) * tq * d];
                let chunk = (SCORE_BUDGET / tk.max(1)).clamp(1, rows_per_head);
                let mut scores = Scratch::<f32>::new(chunk * tk);
                let mut mask_row = Scratch::<f32>::new(if a.mask.is_some() { tk } else { 0 });
                for r0 in (0..rows_per_head).step_by(chunk) {
                    let rows = chunk.min(rows_per_head - r0);
                    let s = &mut scores.as_mut_slice()[..rows * tk];
                    let qrows = &qmat[r0 * d..(r0 + rows) * d];
                    let orows = &mut o[r0 * dv..(r0 + rows) * dv];
                    if few_rows {
                        kernels::row_dots(qrows, kmat, d, s).map_err(kernel_err)?;
                    } else {
                        let qm = MatRef::row_major(qrows, rows, d).map_err(kernel_err)?;
                        let km = MatRef::row_major(kmat, tk, d).map_err(kernel_err)?.t();
                        gemm_f32(qm, km, s, tk, false).map_err(kernel_err)?;
                    }
                    for (r, srow) in s.chunks_mut(tk.max(1)).enumerate().take(rows) {
                        let row = r0 + r;
                        let (head, i) = (h * group + row / tq, row % tq);
                        let visible = if a.causal {
                            (i as isize + shift + 1).clamp(0, tk as isize) as usize
                        } else {
                            tk
                        };
                        let (seen, hidden) = srow.split_at_mut(visible);
                        hidden.fill(f32::NEG_INFINITY);
                        kernels::scale(a.scale, seen);
                        if let Some((m, dt)) = a.mask {
                            read_mask_row(m, dt, [bi, head, i], mask_row.as_mut_slice());
                            for (x, &mj) in seen.iter_mut().zip(mask_row.as_slice()) {
                                *x += mj;
                            }
                        }
                        kernels::softmax_inplace(srow, tk).map_err(kernel_err)?;
                    }
                    if few_rows {
                        kernels::mix_rows(s, vmat, dv, orows).map_err(kernel_err)?;
                    } else {
                        let pm = MatRef::row_major(&s[..], rows, tk).map_err(kernel_err)?;
                        let vm = MatRef::row_major(vmat, tk, dv).map_err(kernel_err)?;
                        gemm_f32(pm, vm, orows, dv, false).map_err(kernel_err)?;
                    }
                }
                Ok(())
            },
        )?;
    }
    Ok(Data::contiguous(out.finish(), 0, &[b, hq, tq, dv]))
}

/// `[B, H, T, D]` data as one row-major `[T, D]` f32 block per head. Read in place when
/// it is f32 with each head's rows contiguous: a KV cache is a prefix along T of a
/// preallocated buffer, so its heads lie `capacity * D` apart and are read without a
/// copy. Anything else is converted into scratch once.
enum Heads {
    InPlace {
        data: Data,
        shape: [usize; 4],
        strides: [usize; 2],
    },
    Packed(F32Rows, [usize; 4]),
}

impl Heads {
    fn new(data: &Data, shape: &[usize], dtype: DType) -> Heads {
        let dims = [shape[0], shape[1], shape[2], shape[3]];
        let st = &data.strides;
        let rows_contiguous = (st[3] == 1 || dims[3] <= 1)
            && (st[2] == dims[3] as isize || dims[2] <= 1)
            && st[0] >= 0
            && st[1] >= 0;
        let aligned = data.offset.is_multiple_of(4)
            && bytemuck::try_cast_slice::<u8, f32>(data.storage.bytes()).is_ok();
        if dtype == DType::F32 && rows_contiguous && aligned {
            return Heads::InPlace {
                data: data.clone(),
                shape: dims,
                strides: [st[0] as usize, st[1] as usize],
            };
        }
        Heads::Packed(f32_rows(data, shape, dtype), dims)
    }

    /// The `[T, D]` rows of head `h` of batch entry `b`.
    fn head(&self, b: usize, h: usize) -> Result<&[f32]> {
        let (all, start, len): (&[f32], usize, usize) = match self {
            Heads::InPlace {
                data,
                shape,
                strides,
            } => (
                bytemuck::cast_slice(data.storage.bytes()),
                data.offset / 4 + b * strides[0] + h * strides[1],
                shape[2] * shape[3],
            ),
            Heads::Packed(rows, shape) => {
                let len = shape[2] * shape[3];
                (rows.as_slice(), (b * shape[1] + h) * len, len)
            }
        };
        if len == 0 {
            // No keys (or zero-width heads): an empty operand may have no bytes at all.
            return Ok(&[]);
        }
        all.get(start..start + len).ok_or_else(|| Error::Backend {
            op: "attention",
            msg: format!("internal: head ({b}, {h}) lies outside its buffer"),
        })
    }
}

/// One row of the mask, read in place through its (often stride-0,
/// broadcast) strides, as additive f32: a boolean keep-mask becomes 0 / -inf.
fn read_mask_row(m: &Data, dtype: DType, [b, h, i]: [usize; 3], out: &mut [f32]) {
    let st = &m.strides;
    let elem = b as isize * st[0] + h as isize * st[1] + i as isize * st[2];
    let start = m.offset as isize + elem * dtype.size().unwrap_or(1) as isize;
    load_run(m.storage.bytes(), dtype, start, st[3], out);
    if dtype == DType::Bool {
        out.iter_mut()
            .for_each(|v| *v = if *v != 0.0 { 0.0 } else { f32::NEG_INFINITY });
    }
}
