//! Scaled dot-product attention with grouped-query heads: query head `h`
//! reads K/V head `h / (Hq / Hkv)` in place, never a repeated copy.

use crate::access::store_run;
use crate::layout::{f32_rows, F32Rows};
use crate::pool::{PooledBuf, Scratch};
use crate::rows;
use ferrite_core::{DType, Data};
use rayon::prelude::*;

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

pub fn attention(a: &AttentionInputs) -> Data {
    let (qs, ks, vs) = (a.q.1, a.k.1, a.v.1);
    let (b, hq, tq, d) = (qs[0], qs[1], qs[2], qs[3]);
    let (hkv, tk, dv) = (ks[1], ks[2], vs[3]);
    let group = hq / hkv.max(1);
    let q = f32_rows(a.q.0, qs, a.dtype);
    let k = f32_rows(a.k.0, ks, a.dtype);
    let v = f32_rows(a.v.0, vs, a.dtype);
    let mask_shape = [b, hq, tq, tk];
    let mask: Option<F32Rows> = a.mask.map(|(m, dt)| {
        let mut rows = f32_rows(m, &mask_shape, dt);
        if dt == DType::Bool {
            let mut s = Scratch::<f32>::new(b * hq * tq * tk);
            for (o, &keep) in s.as_mut().iter_mut().zip(rows.as_slice()) {
                *o = if keep != 0.0 { 0.0 } else { f32::NEG_INFINITY };
            }
            rows = F32Rows::Owned(s);
        }
        rows
    });
    let (q, k, v) = (q.as_slice(), k.as_slice(), v.as_slice());
    let mask = mask.as_ref().map(|m| m.as_slice());
    let n_out = b * hq * tq * dv;
    let mut out = Scratch::<f32>::new(n_out);
    // Keys a causal query row may see: all up to its own position, counted
    // from the end so a decode step (tq = 1) sees the whole cache.
    let shift = tk as isize - tq as isize;
    if dv > 0 {
        out.as_mut().par_chunks_mut(dv).enumerate().for_each(|(row, o)| {
            let (bh, i) = (row / tq.max(1), row % tq.max(1));
            let (bi, h) = (bh / hq, bh % hq);
            let kv = bi * hkv + h / group;
            let qrow = &q[row * d..(row + 1) * d];
            let visible = if a.causal { (i as isize + shift + 1).clamp(0, tk as isize) as usize } else { tk };
            let mut scores = vec![0f32; visible];
            for (j, s) in scores.iter_mut().enumerate() {
                let krow = &k[(kv * tk + j) * d..(kv * tk + j + 1) * d];
                *s = rows::dot(qrow, krow) * a.scale + mask.map_or(0.0, |m| m[row * tk + j]);
            }
            let mut probs = vec![0f32; visible];
            rows::softmax(&scores, &mut probs);
            o.fill(0.0);
            for (j, &p) in probs.iter().enumerate() {
                rows::axpy(p, &v[(kv * tk + j) * dv..(kv * tk + j + 1) * dv], o);
            }
        });
    }
    let mut buf = PooledBuf::take(n_out * a.dtype.size().unwrap_or(4));
    store_run(out.as_slice(), a.dtype, buf.bytes_mut());
    Data::contiguous(buf.into_storage(), 0, &[b, hq, tq, dv])
}
