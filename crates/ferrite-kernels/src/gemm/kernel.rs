//! The f32 register-blocked microkernel, written once over [`Simd`] and instantiated per
//! ISA with its own tile shape, and the tile store shared with the bf16 kernel.

use crate::simd::Simd;

/// Largest `MR * NR` of any microkernel tile (sizes the stack buffer for edge tiles).
pub(crate) const MAX_TILE: usize = 1024;

/// Writes (or adds, when `accumulate`) the `rows x cols` top-left part of an `MR x NV`-vector
/// accumulator tile into `c` (row stride `ldc`).
///
/// # Safety
/// `c` must be valid for a `rows x cols` block with row stride `ldc`; `rows <= MR`,
/// `cols <= NV * S::LANES`.
#[inline(always)]
pub(crate) unsafe fn store_tile<S: Simd, const MR: usize, const NV: usize>(
    acc: &[[S::V; NV]; MR],
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    let l = S::LANES;
    unsafe {
        if rows == MR && cols == NV * l {
            for (i, row) in acc.iter().enumerate() {
                for (v, &x) in row.iter().enumerate() {
                    let p = c.add(i * ldc + v * l);
                    let x = if accumulate { S::add(S::load(p), x) } else { x };
                    S::store(p, x);
                }
            }
        } else {
            let w = NV * l;
            let mut tmp = [0f32; MAX_TILE];
            for (i, row) in acc.iter().enumerate() {
                for (v, &x) in row.iter().enumerate() {
                    S::store(tmp.as_mut_ptr().add(i * w + v * l), x);
                }
            }
            for i in 0..rows {
                for j in 0..cols {
                    let p = c.add(i * ldc + j);
                    let t = tmp[i * w + j];
                    *p = if accumulate { *p + t } else { t };
                }
            }
        }
    }
}

/// `MR x (NV * LANES)` outer-product accumulation over `kc` steps of packed panels.
///
/// # Safety
/// `a` valid for `kc * MR` reads, `b` for `kc * NV * S::LANES`.
#[inline(always)]
unsafe fn micro<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    mut a: *const f32,
    mut b: *const f32,
) -> [[S::V; NV]; MR] {
    unsafe {
        let mut acc = [[S::splat(0.0); NV]; MR];
        for _ in 0..kc {
            let mut bv = [S::splat(0.0); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = S::load(b.add(v * S::LANES));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = S::splat(*a.add(i));
                for (x, &bx) in row.iter_mut().zip(&bv) {
                    *x = S::madd(ai, bx, *x);
                }
            }
            a = a.add(MR);
            b = b.add(NV * S::LANES);
        }
        acc
    }
}

/// Runs the microkernel over a packed `rows x cols` block. A panels are the outer loop:
/// each `MR x kc` A panel (the broadcast operand, ~9 KiB) stays in L1 while the task's
/// B panels (the vector operand, a few hundred KiB) stream from L2.
///
/// # Safety
/// `a` holds `ceil(rows / MR)` packed A panels of depth `kc`, `b` holds `ceil(cols / NR)`
/// packed B panels, and `c` is valid for `rows x cols` with row stride `ldc`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn macro_f32<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    a: &[f32],
    b: &[f32],
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    let nr = NV * S::LANES;
    debug_assert!(MR * nr <= MAX_TILE);
    // Checked in release too: the microkernel reads the panels through raw pointers.
    assert!(
        a.len() >= rows.div_ceil(MR) * MR * kc && b.len() >= cols.div_ceil(nr) * nr * kc,
        "gemm driver bug: packed panels shorter than the block they describe"
    );
    for (ip, i0) in (0..rows).step_by(MR).enumerate() {
        let ap = a[ip * MR * kc..].as_ptr();
        for (jp, j0) in (0..cols).step_by(nr).enumerate() {
            let bp = b[jp * nr * kc..].as_ptr();
            let (h, w) = (MR.min(rows - i0), nr.min(cols - j0));
            unsafe {
                let cp = c.add(i0 * ldc + j0);
                prefetch_tile::<S>(cp, ldc, h, w);
                let acc = micro::<S, MR, NV>(kc, ap, bp);
                store_tile::<S, MR, NV>(&acc, cp, ldc, h, w, accumulate);
            }
        }
    }
}

/// Starts fetching an `h x w` C tile: it is touched only after the k loop, so its misses
/// then overlap with the compute instead of stalling the stores.
///
/// # Safety
/// The tile must be inside C; `h, w >= 1`.
#[inline(always)]
pub(crate) unsafe fn prefetch_tile<S: Simd>(c: *const f32, ldc: usize, h: usize, w: usize) {
    for i in 0..h {
        unsafe {
            let row = c.add(i * ldc);
            S::prefetch(row);
            S::prefetch(row.add(w - 1));
        }
    }
}
