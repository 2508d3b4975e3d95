//! bf16 x bf16 -> f32 microkernel on AVX-512 BF16 (`vdpbf16ps`).
//!
//! `vdpbf16ps acc, a, b` adds `a[2l] * b[2l] + a[2l + 1] * b[2l + 1]` to f32 lane `l`, so
//! packed panels interleave consecutive k pairs (see [`super::pack`]). Each A pair is
//! broadcast as one 32-bit value. Products of two bf16 are exact in f32, so the result
//! equals an f32 accumulation of the exact products in a particular order, except that
//! the instruction treats bf16 subnormal inputs as zero and flushes subnormal sums.

#![cfg(target_arch = "x86_64")]

use super::kernel::{prefetch_tile, store_tile};
use crate::simd::x86::Avx512;
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
