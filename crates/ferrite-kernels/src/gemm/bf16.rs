//! bf16 x bf16 -> f32 microkernel on AVX-512 BF16 (`vdpbf16ps`) and its packing.
//!
//! Pair layout: k is grouped in pairs, `dst[(k / 2) * 2w + 2i + k % 2]` for panel width
//! `w`; an odd `kc` is zero-padded to even.
//!
//! `vdpbf16ps acc, a, b` adds `a[2l] * b[2l] + a[2l + 1] * b[2l + 1]` to f32 lane `l`, so
//! packed panels interleave consecutive k pairs (see [`super::pack`]). Each A pair is
//! broadcast as one 32-bit value. Products of two bf16 are exact in f32, so the result
//! equals an f32 accumulation of the exact products in a particular order, except that
//! the instruction treats bf16 subnormal inputs as zero and flushes subnormal sums.

#![cfg(target_arch = "x86_64")]

use super::kernel::{prefetch_tile, store_tile};
use super::transpose::pack_rows_transposed;
use crate::mat::MatRef;
use crate::simd::x86::Avx512;
use half::bf16;
use std::arch::x86_64::*;

/// Tile rows.
pub(crate) const MR: usize = 14;
/// Tile width in 16-lane vectors (NR = 32 columns).
pub(crate) const NV: usize = 2;

/// # Safety
/// `a` valid for `kp * MR` u16 reads and `b` for `kp * NV * 16` (`kp` even).
#[inline(always)]
unsafe fn micro(kp: usize, a: *const u16, b: *const u16) -> [[__m512; NV]; MR] {
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        let mut a = a.cast::<i32>();
        let mut b = b;
        for _ in 0..kp / 2 {
            let mut bv = [_mm512_setzero_si512(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_loadu_si512(b.add(v * 32).cast());
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32(a.add(i).read_unaligned()));
                for (x, &bx) in row.iter_mut().zip(&bv) {
                    *x = _mm512_dpbf16_ps(*x, ai, std::mem::transmute::<__m512i, __m512bh>(bx));
                }
            }
            a = a.add(MR);
            b = b.add(NV * 32);
        }
        acc
    }
}

/// Packed-block loop, see [`super::kernel::macro_f32`]; `kp` is the even padded depth.
///
/// # Safety
/// CPU must support AVX-512 F/BW/VL/DQ and BF16; `a`/`b` hold the packed panels for
/// `rows`/`cols`, and `c` is valid for `rows x cols` with row stride `ldc`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn macro_bf16(
    kp: usize,
    a: &[u16],
    b: &[u16],
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    let nr = NV * 16;
    assert!(
        a.len() >= rows.div_ceil(MR) * MR * kp && b.len() >= cols.div_ceil(nr) * nr * kp,
        "gemm driver bug: packed panels shorter than the block they describe"
    );
    // Loop order and C prefetch as in `macro_f32`.
    for (ip, i0) in (0..rows).step_by(MR).enumerate() {
        let ap = a[ip * MR * kp..].as_ptr();
        for (jp, j0) in (0..cols).step_by(nr).enumerate() {
            let bp = b[jp * nr * kp..].as_ptr();
            let (h, w) = (MR.min(rows - i0), nr.min(cols - j0));
            unsafe {
                let cp = c.add(i0 * ldc + j0);
                prefetch_tile::<Avx512>(cp, ldc, h, w);
                let acc = micro(kp, ap, bp);
                store_tile::<Avx512, MR, NV>(&acc, cp, ldc, h, w, accumulate);
            }
        }
    }
}

/// Packs rows `[i0, i0 + rows)` x k `[p0, p0 + kc)` of `a` as `MR`-row pair panels.
pub(crate) fn pack_a(
    a: &MatRef<'_, bf16>,
    i0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    dst: &mut [u16],
) {
    let kp = kc.next_multiple_of(2);
    for (pi, panel) in dst.chunks_exact_mut(MR * kp).enumerate() {
        let r0 = pi * MR;
        let valid = MR.min(rows.saturating_sub(r0));
        pack_panel(a, i0 + r0, valid, p0, kc, MR, panel);
    }
}

/// Packs k `[p0, p0 + kc)` x columns `[j0, j0 + cols)` of `b` as `NR`-column pair panels.
pub(crate) fn pack_b(
    b: &MatRef<'_, bf16>,
    j0: usize,
    cols: usize,
    p0: usize,
    kc: usize,
    dst: &mut [u16],
) {
    // A B panel is an A panel of the transposed matrix.
    let bt = b.t();
    let (nr, kp) = (NV * 16, kc.next_multiple_of(2));
    for (pi, panel) in dst.chunks_exact_mut(nr * kp).enumerate() {
        let c0 = pi * nr;
        let valid = nr.min(cols.saturating_sub(c0));
        pack_panel(&bt, j0 + c0, valid, p0, kc, nr, panel);
    }
}

/// `dst[(k / 2) * 2w + 2i + k % 2] = m(r0 + i, p0 + k)`, zero-padded in i and k.
fn pack_panel(
    m: &MatRef<'_, bf16>,
    r0: usize,
    valid: usize,
    p0: usize,
    kc: usize,
    w: usize,
    dst: &mut [u16],
) {
    let (rs, cs) = (m.row_stride(), m.col_stride());
    if valid < w || !kc.is_multiple_of(2) {
        dst.fill(0);
    }
    if valid == 0 {
        return;
    }
    assert!(
        dst.len() >= kc.next_multiple_of(2) * w,
        "bf16 pack: panel buffer too short"
    );
    let src = m.ptr_at(r0, p0).cast::<u16>();
    // SAFETY (all three): the CPU has AVX-512 BF16 (this family is only built then); rows
    // r0..r0 + valid and k p0..p0 + kc are in bounds (MatRef invariant); `dst` holds the
    // panel (checked above); bf16 is a transparent u16.
    unsafe {
        if cs == 1 {
            pack_pairs_from_rows(src, rs, valid, kc, w, dst.as_mut_ptr());
        } else if rs == 1 {
            pack_pairs_from_cols(src, cs, valid, kc, w, dst.as_mut_ptr());
        } else {
            for k in 0..kc {
                for i in 0..valid {
                    *dst.as_mut_ptr().add((k / 2) * 2 * w + 2 * i + k % 2) =
                        *src.add(i * rs + k * cs);
                }
            }
        }
    }
}

/// Rows contiguous along k (a row-major A, or B stored as a `n x k` weight): the two
/// values of a pair are adjacent, so packing is a 32-bit transpose.
///
/// # Safety
/// As in [`pack_panel`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")]
unsafe fn pack_pairs_from_rows(
    src: *const u16,
    rs: usize,
    valid: usize,
    kc: usize,
    w: usize,
    dst: *mut u16,
) {
    let pairs = kc / 2;
    unsafe {
        if rs.is_multiple_of(2) {
            // Pairs reinterpreted as f32 bit patterns: the transpose only moves bits.
            pack_rows_transposed::<f32>(src.cast(), rs / 2, valid, pairs, w, dst.cast());
        } else {
            for kk in 0..pairs {
                for i in 0..valid {
                    let pair = src.add(i * rs + 2 * kk).cast::<u32>().read_unaligned();
                    dst.cast::<u32>().add(kk * w + i).write_unaligned(pair);
                }
            }
        }
        if !kc.is_multiple_of(2) {
            for i in 0..valid {
                *dst.add(pairs * 2 * w + 2 * i) = *src.add(i * rs + kc - 1);
            }
        }
    }
}

/// Rows contiguous across the panel (a row-major B): each 16-pair output vector
/// interleaves 16 values of k row `2kk` with 16 of row `2kk + 1`.
///
/// # Safety
/// As in [`pack_panel`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")]
unsafe fn pack_pairs_from_cols(
    src: *const u16,
    cs: usize,
    valid: usize,
    kc: usize,
    w: usize,
    dst: *mut u16,
) {
    for kk in 0..kc.div_ceil(2) {
        let r0 = src.wrapping_add(2 * kk * cs);
        let second = 2 * kk + 1 < kc;
        for i0 in (0..valid).step_by(16) {
            let mask = ((1u32 << (valid - i0).min(16)) - 1) as __mmask16;
            // SAFETY: masked loads touch only elements i0..valid of rows 2kk, 2kk + 1 < kc;
            // the masked store writes pairs i0..valid of this k-pair group.
            unsafe {
                let lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, r0.add(i0).cast()));
                let hi = if second {
                    _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, r0.add(cs + i0).cast()))
                } else {
                    _mm512_setzero_si512()
                };
                let v = _mm512_or_si512(lo, _mm512_slli_epi32::<16>(hi));
                _mm512_mask_storeu_epi32(dst.add(kk * 2 * w + 2 * i0).cast(), mask, v);
            }
        }
    }
}
