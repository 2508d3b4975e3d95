//! Products for attention with few query rows (a decode step): `S = Q Kᵀ` and `O = P V`
//! where `Q` and `P` have a handful of rows. A GEMM would pack K and V first, tripling the
//! traffic of a step whose cost is reading them; these read each K and V row once, in
//! place, for all query rows together.

use crate::simd::{multiversion, Simd};
use crate::{isa, KernelError};

fn rows_of(what: &'static str, len: usize, d: usize) -> Result<usize, KernelError> {
    if d == 0 || !len.is_multiple_of(d) {
        return Err(KernelError::Mismatch {
            what,
            expected: len.next_multiple_of(d.max(1)),
            got: len,
        });
    }
    Ok(len / d)
}

fn expect_len(what: &'static str, expected: usize, got: usize) -> Result<(), KernelError> {
    if expected == got {
        Ok(())
    } else {
        Err(KernelError::Mismatch {
            what,
            expected,
            got,
        })
    }
}

/// `s[i * n + j] = q[i] · k[j]` for the `m = q.len() / d` rows of `q` and the
/// `n = k.len() / d` rows of `k` (both row-major, rows of length `d`).
///
/// # Errors
/// [`KernelError::Mismatch`] if `d` is 0 or does not divide the lengths, or if
/// `s.len() != m * n`.
pub fn row_dots(q: &[f32], k: &[f32], d: usize, s: &mut [f32]) -> Result<(), KernelError> {
    let m = rows_of("query length (a multiple of d)", q.len(), d)?;
    let n = rows_of("key length (a multiple of d)", k.len(), d)?;
    expect_len("scores length (m * n)", m * n, s.len())?;
    // SAFETY: the lengths were just checked.
    unsafe {
        row_dots_k(
            isa::active(),
            q.as_ptr(),
            k.as_ptr(),
            d,
            m,
            n,
            s.as_mut_ptr(),
        )
    };
    Ok(())
}

/// `out[i] = sum_j p[i * n + j] v[j]` for the `m = out.len() / d` output rows and the
/// `n = v.len() / d` rows of `v` (row-major, rows of length `d`). Each element sums over
/// `j` in order, so the result does not depend on the thread count.
///
/// # Errors
/// [`KernelError::Mismatch`] if `d` is 0 or does not divide the lengths, or if
/// `p.len() != m * n`.
pub fn mix_rows(p: &[f32], v: &[f32], d: usize, out: &mut [f32]) -> Result<(), KernelError> {
    let m = rows_of("output length (a multiple of d)", out.len(), d)?;
    let n = rows_of("value length (a multiple of d)", v.len(), d)?;
    expect_len("weights length (m * n)", m * n, p.len())?;
    // SAFETY: the lengths were just checked.
    unsafe {
        mix_rows_k(
            isa::active(),
            p.as_ptr(),
            v.as_ptr(),
            d,
            m,
            n,
            out.as_mut_ptr(),
        )
    };
    Ok(())
}

/// Keys and query rows per block of [`row_dots`]: the key rows stay in L1 while every query
/// row passes, and each loaded vector feeds several FMAs.
const KEYS: usize = 4;
const QROWS: usize = 2;

/// # Safety
/// `q` valid for `m * d` reads, `k` for `n * d`, `s` for `m * n` writes.
#[inline(always)]
unsafe fn row_dots_impl<S: Simd>(
    q: *const f32,
    k: *const f32,
    d: usize,
    m: usize,
    n: usize,
    s: *mut f32,
) {
    let pairs = m - m % QROWS;
    let half = S::LANES / 2;
    let mut j = 0;
    unsafe {
        // Blocks of `LANES / 2` keys (none for the scalar flavour): pairs of query rows
        // through `dots_lanes`, a last odd row through `dots_block`.
        while half > 0 && j + half <= n {
            let (k0, s0) = (k.add(j * d), s.add(j));
            for i in (0..pairs).step_by(QROWS) {
                dots_lanes::<S>(q.add(i * d), k0, d, n, s0.add(i * n));
            }
            for i in pairs..m {
                for t in (0..half).step_by(KEYS) {
                    let (kt, st) = (k0.add(t * d), s0.add(i * n + t));
                    dots_block::<S, 1, KEYS>(q.add(i * d), kt, d, n, st);
                }
            }
            j += half;
        }
        while j < n {
            let (q0, k0, s0) = (q, k.add(j * d), s.add(j));
            if j + KEYS <= n {
                for i in (0..pairs).step_by(QROWS) {
                    dots_block::<S, QROWS, KEYS>(q0.add(i * d), k0, d, n, s0.add(i * n));
                }
                for i in pairs..m {
                    dots_block::<S, 1, KEYS>(q0.add(i * d), k0, d, n, s0.add(i * n));
                }
                j += KEYS;
            } else {
                for i in 0..m {
                    dots_block::<S, 1, 1>(q0.add(i * d), k0, d, n, s0.add(i * n));
                }
                j += 1;
            }
        }
    }
}

/// `s[r * n + t] = q[r] · k[t]` for 2 query rows and `LANES / 2` consecutive key rows: one
/// accumulator per score, and all `LANES` horizontal sums done together by [`Simd::sums`]
/// (about a third of the shuffles and adds of separate ones).
///
/// # Safety
/// `q` valid for `2 * d` reads, `k` for `LANES / 2 * d`, `s` for 2 rows of stride `n`
/// holding `LANES / 2` elements.
#[inline(always)]
unsafe fn dots_lanes<S: Simd>(q: *const f32, k: *const f32, d: usize, n: usize, s: *mut f32) {
    let l = S::LANES;
    let (b, full) = (l / 2, d - d % l);
    unsafe {
        let mut acc = [S::splat(0.0); 16];
        let mut c = 0;
        while c < full {
            let (q0, q1) = (S::load(q.add(c)), S::load(q.add(d + c)));
            for t in 0..b {
                let kv = S::load(k.add(t * d + c));
                acc[t] = S::madd(q0, kv, acc[t]);
                acc[b + t] = S::madd(q1, kv, acc[b + t]);
            }
            c += l;
        }
        let mut v = [0f32; 16];
        S::store(v.as_mut_ptr(), S::sums(&acc[..l]));
        for r in 0..2 {
            for t in 0..b {
                let mut x = v[r * b + t];
                for c in full..d {
                    x += *q.add(r * d + c) * *k.add(t * d + c);
                }
                *s.add(r * n + t) = x;
            }
        }
    }
}

/// `s[r * n + t] = q[r] · k[t]` for `R` query rows and `B` consecutive key rows.
///
/// # Safety
/// `q` valid for `R * d` reads, `k` for `B * d`, `s` for `R` rows of stride `n` holding
/// `B` elements.
#[inline(always)]
unsafe fn dots_block<S: Simd, const R: usize, const B: usize>(
    q: *const f32,
    k: *const f32,
    d: usize,
    n: usize,
    s: *mut f32,
) {
    let l = S::LANES;
    let full = d - d % l;
    unsafe {
        let mut acc = [[S::splat(0.0); B]; R];
        let mut c = 0;
        while c < full {
            let kv: [S::V; B] = std::array::from_fn(|t| S::load(k.add(t * d + c)));
            for (r, row) in acc.iter_mut().enumerate() {
                let qv = S::load(q.add(r * d + c));
                for (a, &kt) in row.iter_mut().zip(&kv) {
                    *a = S::madd(qv, kt, *a);
                }
            }
            c += l;
        }
        for (r, row) in acc.into_iter().enumerate() {
            for (t, a) in row.into_iter().enumerate() {
                let mut v = S::hsum(a);
                for c in full..d {
                    v += *q.add(r * d + c) * *k.add(t * d + c);
                }
                *s.add(r * n + t) = v;
            }
        }
    }
}

/// Output rows and column vectors per block of [`mix_rows`]: 3 x 8 accumulators plus the
/// value vector fit the 32 AVX-512 registers.
const ROWS: usize = 3;
const COLS: usize = 8;
/// Floats of `v` per key block of [`mix_rows`] (16 KiB): every output row block passes over
/// one key block while it sits in L1, so `v` comes from L2 or beyond once, not once per
/// row block.
const MIX_BLOCK: usize = 4096;

/// # Safety
/// `p` valid for `m * n` reads, `v` for `n * d`, `out` for `m * d` writes.
#[inline(always)]
unsafe fn mix_rows_impl<S: Simd>(
    p: *const f32,
    v: *const f32,
    d: usize,
    m: usize,
    n: usize,
    out: *mut f32,
) {
    let l = S::LANES;
    let full = d - d % l;
    let keys = (MIX_BLOCK / d).max(1);
    unsafe {
        let mut j0 = 0;
        // At least one pass, so that n = 0 stores zeros.
        loop {
            let (kn, first) = (keys.min(n - j0), j0 == 0);
            let (p, v) = (p.add(j0), v.add(j0 * d));
            let mut c = 0;
            while c < full {
                let wide = c + COLS * l <= full;
                let mut i = 0;
                while i < m {
                    let (p, o) = (p.add(i * n), out.add(i * d + c));
                    let v = v.add(c);
                    match (wide, i + ROWS <= m) {
                        (true, true) => mix_block::<S, ROWS, COLS>(p, v, d, n, kn, first, o),
                        (true, false) => mix_block::<S, 1, COLS>(p, v, d, n, kn, first, o),
                        _ => mix_block::<S, 1, 1>(p, v, d, n, kn, first, o),
                    }
                    i += if wide && i + ROWS <= m { ROWS } else { 1 };
                }
                c += if wide { COLS * l } else { l };
            }
            j0 += kn;
            if j0 >= n {
                break;
            }
        }
        for i in 0..m {
            for c in full..d {
                let mut acc = 0.0;
                for j in 0..n {
                    acc += *p.add(i * n + j) * *v.add(j * d + c);
                }
                *out.add(i * d + c) = acc;
            }
        }
    }
}

/// `out[r][x] (+)= sum_j p[r * n + j] v[j * d + x]` over `kn` keys for `R` rows and `C`
/// column vectors: the sums start from 0 for the first key block, else from `out`, which
/// holds the earlier blocks' sums exactly, so each element still adds its terms in key
/// order.
///
/// # Safety
/// `p` valid for `R` rows of stride `n` holding `kn` reads, `v` for `kn` rows of stride `d`
/// holding `C` vectors, `out` for `R` rows of stride `d` holding `C` vectors.
#[inline(always)]
unsafe fn mix_block<S: Simd, const R: usize, const C: usize>(
    p: *const f32,
    v: *const f32,
    d: usize,
    n: usize,
    kn: usize,
    first: bool,
    out: *mut f32,
) {
    let l = S::LANES;
    unsafe {
        let mut acc: [[S::V; C]; R] = std::array::from_fn(|r| {
            std::array::from_fn(|x| {
                if first {
                    S::splat(0.0)
                } else {
                    S::load(out.add(r * d + x * l))
                }
            })
        });
        for j in 0..kn {
            let w: [S::V; R] = std::array::from_fn(|r| S::splat(*p.add(r * n + j)));
            let vv: [S::V; C] = std::array::from_fn(|x| S::load(v.add(j * d + x * l)));
            for (row, &wr) in acc.iter_mut().zip(&w) {
                for (a, &vx) in row.iter_mut().zip(&vv) {
                    *a = S::madd(wr, vx, *a);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (x, a) in row.iter().enumerate() {
                S::store(out.add(r * d + x * l), *a);
            }
        }
    }
}

multiversion!(unsafe fn row_dots_k(q: *const f32, k: *const f32, d: usize, m: usize, n: usize, s: *mut f32) => row_dots_impl);
multiversion!(unsafe fn mix_rows_k(p: *const f32, v: *const f32, d: usize, m: usize, n: usize, out: *mut f32) => mix_rows_impl);
