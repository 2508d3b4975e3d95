//! Kernels over contiguous rows: softmax family and normalisations.
//!
//! Every function takes a buffer of `rows * n` elements holding `rows` rows of length `n`
//! back to back and treats each row independently (rows are spread over the team threads
//! when the buffer is large).

use crate::reduce::{dot_impl, max_impl, scale_impl, sum_impl};
use crate::simd::{multiversion, Simd};
use crate::unary::{exp2_v, exp_v, log_v};
use crate::{isa, KernelError};

/// Buffers with at least this many elements are split over the team threads (`crate::team`) by rows.
const PARALLEL_MIN: usize = 1 << 16;

fn check(x: usize, out: usize, n: usize) -> Result<usize, KernelError> {
    if out != x {
        return Err(KernelError::Mismatch {
            what: "output length",
            expected: x,
            got: out,
        });
    }
    if x == 0 {
        return Ok(0);
    }
    if n == 0 || !x.is_multiple_of(n) {
        return Err(KernelError::Mismatch {
            what: "buffer length must be a multiple of the (non-zero) row length",
            expected: x.next_multiple_of(n.max(1)),
            got: x,
        });
    }
    Ok(x / n)
}

fn check_param(p: Option<&[f32]>, n: usize, what: &'static str) -> Result<(), KernelError> {
    match p {
        Some(p) if p.len() != n => Err(KernelError::Mismatch {
            what,
            expected: n,
            got: p.len(),
        }),
        _ => Ok(()),
    }
}

/// Runs `f(src, dst, rows)` over row ranges; `src` may equal `dst`.
fn by_rows(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    rows: usize,
    f: impl Fn(*const f32, *mut f32, usize) + Sync,
) {
    #[derive(Clone, Copy)]
    struct P(*const f32, *mut f32);
    // SAFETY: each task gets a disjoint range of rows of both buffers.
    unsafe impl Send for P {}
    unsafe impl Sync for P {}
    impl P {
        // A method so closures capture the Send wrapper, not the raw fields.
        fn at(self, off: usize) -> (*const f32, *mut f32) {
            (self.0.wrapping_add(off), self.1.wrapping_add(off))
        }
    }
    let p = P(src, dst);
    if rows > 1 && rows * n >= PARALLEL_MIN {
        let per = rows.div_ceil(4 * crate::team::threads()).max(1);
        crate::team::parallel_for(rows.div_ceil(per), |t| {
            let (s, d) = p.at(t * per * n);
            f(s, d, per.min(rows - t * per));
        });
    } else {
        let (s, d) = p.at(0);
        f(s, d, rows);
    }
}

/// Numerically stable softmax of each row: `exp(x - max) / sum(exp(x - max))`.
///
/// # Errors
/// [`KernelError::Mismatch`] if `out.len() != x.len()` or `x.len()` is not a multiple of `n`.
pub fn softmax(x: &[f32], out: &mut [f32], n: usize) -> Result<(), KernelError> {
    let rows = check(x.len(), out.len(), n)?;
    let isa = isa::active();
    // SAFETY: both buffers hold `rows * n` elements.
    by_rows(x.as_ptr(), out.as_mut_ptr(), n, rows, |s, d, r| unsafe {
        softmax_k(isa, s, d, n, r)
    });
    Ok(())
}

/// [`softmax`] in place.
///
/// # Errors
/// [`KernelError::Mismatch`] if `x.len()` is not a multiple of `n`.
pub fn softmax_inplace(x: &mut [f32], n: usize) -> Result<(), KernelError> {
    let rows = check(x.len(), x.len(), n)?;
    let isa = isa::active();
    let p = x.as_mut_ptr();
    // SAFETY: the kernel reads each element before writing the same index.
    by_rows(p, p, n, rows, |s, d, r| unsafe {
        softmax_k(isa, s, d, n, r)
    });
    Ok(())
}

/// `x - logsumexp(x)` for each row.
///
/// # Errors
/// As [`softmax`].
pub fn log_softmax(x: &[f32], out: &mut [f32], n: usize) -> Result<(), KernelError> {
    let rows = check(x.len(), out.len(), n)?;
    let isa = isa::active();
    // SAFETY: both buffers hold `rows * n` elements.
    by_rows(x.as_ptr(), out.as_mut_ptr(), n, rows, |s, d, r| unsafe {
        log_softmax_k(isa, s, d, n, r)
    });
    Ok(())
}

/// `out[r] = ln(sum(exp(row r)))`, computed as `max + ln(sum(exp(x - max)))`; a row of
/// all `-inf` gives `-inf`.
///
/// # Errors
/// [`KernelError::Mismatch`] if `x.len() != out.len() * n`.
pub fn logsumexp(x: &[f32], n: usize, out: &mut [f32]) -> Result<(), KernelError> {
    if Some(x.len()) != out.len().checked_mul(n) {
        return Err(KernelError::Mismatch {
            what: "input length (rows * n)",
            expected: out.len().saturating_mul(n),
            got: x.len(),
        });
    }
    if n == 0 {
        out.fill(f32::NEG_INFINITY);
        return Ok(());
    }
    let isa = isa::active();
    for (row, o) in x.chunks_exact(n).zip(out.iter_mut()) {
        // SAFETY: the row has `n` elements.
        *o = unsafe { lse_k(isa, row.as_ptr(), n) };
    }
    Ok(())
}

/// RMS normalisation: `out = x / sqrt(mean(x^2) + eps) * weight` per row.
///
/// # Errors
/// As [`softmax`], or if `weight` is not of length `n`.
pub fn rms_norm(
    x: &[f32],
    weight: Option<&[f32]>,
    eps: f32,
    out: &mut [f32],
    n: usize,
) -> Result<(), KernelError> {
    let rows = check(x.len(), out.len(), n)?;
    check_param(weight, n, "weight length")?;
    let isa = isa::active();
    // Addresses rather than raw pointers so the row closure is Sync.
    let w = weight.map_or(std::ptr::null(), <[f32]>::as_ptr) as usize;
    // SAFETY: buffers hold `rows * n` elements, `w` is null or `n` elements.
    by_rows(x.as_ptr(), out.as_mut_ptr(), n, rows, |s, d, r| unsafe {
        rms_norm_k(isa, s, d, n, r, w as *const f32, eps)
    });
    Ok(())
}

/// Layer normalisation: `out = (x - mean) / sqrt(var + eps) * weight + bias` per row, with
/// the biased (population) variance computed in a second pass for accuracy.
///
/// # Errors
/// As [`softmax`], or if `weight` / `bias` are not of length `n`.
pub fn layer_norm(
    x: &[f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    eps: f32,
    out: &mut [f32],
    n: usize,
) -> Result<(), KernelError> {
    let rows = check(x.len(), out.len(), n)?;
    check_param(weight, n, "weight length")?;
    check_param(bias, n, "bias length")?;
    let isa = isa::active();
    // Addresses rather than raw pointers so the row closure is Sync.
    let w = weight.map_or(std::ptr::null(), <[f32]>::as_ptr) as usize;
    let b = bias.map_or(std::ptr::null(), <[f32]>::as_ptr) as usize;
    // SAFETY: buffers hold `rows * n` elements, `w` / `b` are null or `n` elements.
    by_rows(x.as_ptr(), out.as_mut_ptr(), n, rows, |s, d, r| unsafe {
        layer_norm_k(isa, s, d, n, r, w as *const f32, b as *const f32, eps)
    });
    Ok(())
}

/// `sum(exp(x - m))` over `n` elements, optionally storing the terms into `dst`.
///
/// # Safety
/// `x` valid for `n` reads; `dst` null or valid for `n` writes (may equal `x`).
#[inline(always)]
unsafe fn exp_sum<S: Simd>(x: *const f32, dst: *mut f32, n: usize, m: f32) -> f32 {
    let l = S::LANES;
    let full = n - n % l;
    unsafe {
        let mv = S::splat(m);
        let mut acc = S::splat(0.0);
        let mut i = 0;
        while i < full {
            let e = exp_v::<S>(S::sub(S::load(x.add(i)), mv));
            if !dst.is_null() {
                S::store(dst.add(i), e);
            }
            acc = S::add(acc, e);
            i += l;
        }
        let mut t = [f32::NEG_INFINITY; 16];
        std::ptr::copy_nonoverlapping(x.add(full), t.as_mut_ptr(), n - full);
        // Padding lanes are -inf, so they contribute exp(-inf) = 0.
        let e = exp_v::<S>(S::sub(S::load(t.as_ptr()), mv));
        S::store(t.as_mut_ptr(), e);
        if !dst.is_null() {
            std::ptr::copy_nonoverlapping(t.as_ptr(), dst.add(full), n - full);
        }
        S::hsum(S::add(acc, e))
    }
}

/// # Safety
/// `x` valid for `n` reads, `n > 0`.
#[inline(always)]
unsafe fn lse_impl<S: Simd>(x: *const f32, n: usize) -> f32 {
    unsafe {
        let m = max_impl::<S>(x, n);
        if m.is_infinite() {
            return m;
        }
        let s = exp_sum::<S>(x, std::ptr::null_mut(), n, m);
        m + lane0::<S>(log_v::<S>(S::splat(s)))
    }
}

/// Lane 0 of a vector (used where a scalar result was splatted).
#[inline(always)]
unsafe fn lane0<S: Simd>(v: S::V) -> f32 {
    let mut t = [0f32; 16];
    unsafe { S::store(t.as_mut_ptr(), v) };
    t[0]
}

/// Elements per softmax block: a block of input and of output (32 KiB together) stays in
/// the 48 KiB L1 between the block's max pass and its exp pass, so a long row is read from
/// L2 once for both.
const SOFTMAX_BLOCK: usize = 4096;

/// Stores `2^(x log2(e) - c)` for `n` elements of `x` into `y` and returns their sum.
/// Folding the shift and the change of base into one FMA lets [`exp2_v`] skip the ln 2
/// range reduction. `c` is an integer, so blocks with different `c` differ by exact
/// powers of two; the FMA rounds `t` once, by the same `u |t|` that `x - max` costs a
/// plain `exp`.
///
/// # Safety
/// `x` valid for `n` reads and `y` for `n` writes (may be equal).
#[inline(always)]
unsafe fn exp2_store_sum<S: Simd>(x: *const f32, y: *mut f32, n: usize, c: f32) -> f32 {
    let l = S::LANES;
    let full = n - n % l;
    unsafe {
        let (k, cv) = (S::splat(std::f32::consts::LOG2_E), S::splat(-c));
        // Two accumulators: one add chain per vector would be the loop's longest latency.
        let (mut a0, mut a1) = (S::splat(0.0), S::splat(0.0));
        let mut i = 0;
        while i + 2 * l <= full {
            let e0 = exp2_v::<S>(S::fma(S::load(x.add(i)), k, cv));
            let e1 = exp2_v::<S>(S::fma(S::load(x.add(i + l)), k, cv));
            S::store(y.add(i), e0);
            S::store(y.add(i + l), e1);
            a0 = S::add(a0, e0);
            a1 = S::add(a1, e1);
            i += 2 * l;
        }
        if i < full {
            let e = exp2_v::<S>(S::fma(S::load(x.add(i)), k, cv));
            S::store(y.add(i), e);
            a0 = S::add(a0, e);
        }
        let mut t = [f32::NEG_INFINITY; 16];
        std::ptr::copy_nonoverlapping(x.add(full), t.as_mut_ptr(), n - full);
        // Padding lanes are -inf, so they contribute 2^-inf = 0.
        let e = exp2_v::<S>(S::fma(S::load(t.as_ptr()), k, cv));
        S::store(t.as_mut_ptr(), e);
        std::ptr::copy_nonoverlapping(t.as_ptr(), y.add(full), n - full);
        S::hsum(S::add(S::add(a0, a1), e))
    }
}

/// Softmax of one row, `exp(x - max) / sum`: one exp per element, stored once, then one
/// scaling pass.
///
/// Each block takes its max (reading the block into L1) and stores its terms
/// `2^(x log2(e) - c)` with the running offset `c = ceil(max so far * log2(e))`; when a
/// block raises `c`, the running sum is rescaled by an exact power of two and the earlier
/// blocks get that factor in the scaling pass. `offs` keeps each block's `c`.
///
/// # Safety
/// `x` and `y` valid for `n` elements (may be equal), `n > 0`.
#[inline(always)]
unsafe fn softmax_row<S: Simd>(x: *const f32, y: *mut f32, n: usize, offs: &mut Vec<f32>) {
    offs.clear();
    let (mut c, mut sum) = (f32::NEG_INFINITY, 0.0f32);
    let mut b = 0;
    unsafe {
        while b < n {
            let len = SOFTMAX_BLOCK.min(n - b);
            let m = max_impl::<S>(x.add(b), len);
            let cb = (m * std::f32::consts::LOG2_E).ceil();
            if m.is_finite() && !cb.is_finite() {
                // A max beyond f32::MAX / log2(e): the offset overflows, so shift by the
                // max itself (the order of the steps does not matter here).
                let m = max_impl::<S>(x, n);
                let s = exp_sum::<S>(x, y, n, m);
                scale_impl::<S>(1.0 / s, y, n);
                return;
            }
            if cb > c {
                sum *= (c - cb).exp2();
                c = cb;
            }
            if c == f32::NEG_INFINITY && m == f32::NEG_INFINITY {
                // Only -inf so far: terms are 0 (and 2^(-inf + inf) would be NaN).
                std::ptr::write_bytes(y.add(b), 0, len);
            } else {
                sum += exp2_store_sum::<S>(x.add(b), y.add(b), len, c);
            }
            offs.push(c);
            b += len;
        }
        if c == f32::NEG_INFINITY {
            // A row of -inf: exp(x - max) is NaN everywhere, as the plain formula gives.
            sum = f32::NAN;
        }
        let inv = 1.0 / sum;
        for (j, &cb) in offs.iter().enumerate() {
            let b = j * SOFTMAX_BLOCK;
            // (cb - c) is an integer <= 0 or -inf, so the factor is exact (or 0).
            let f = if cb == c { inv } else { (cb - c).exp2() * inv };
            scale_impl::<S>(f, y.add(b), SOFTMAX_BLOCK.min(n - b));
        }
    }
}

/// # Safety
/// `src` and `dst` valid for `rows * n` elements (may be equal).
#[inline(always)]
unsafe fn softmax_impl<S: Simd>(src: *const f32, dst: *mut f32, n: usize, rows: usize) {
    let mut offs = Vec::with_capacity(n.div_ceil(SOFTMAX_BLOCK));
    for r in 0..rows {
        unsafe { softmax_row::<S>(src.add(r * n), dst.add(r * n), n, &mut offs) };
    }
}

/// # Safety
/// As [`softmax_impl`].
#[inline(always)]
unsafe fn log_softmax_impl<S: Simd>(src: *const f32, dst: *mut f32, n: usize, rows: usize) {
    let l = S::LANES;
    for r in 0..rows {
        unsafe {
            let (x, y) = (src.add(r * n), dst.add(r * n));
            let lse = lse_impl::<S>(x, n);
            let lv = S::splat(lse);
            let mut i = 0;
            while i + l <= n {
                S::store(y.add(i), S::sub(S::load(x.add(i)), lv));
                i += l;
            }
            for j in i..n {
                *y.add(j) = *x.add(j) - lse;
            }
        }
    }
}

/// `y = (x - mean) * r * w + b` with optional (null) `w` and `b`.
///
/// # Safety
/// `x`, `y` valid for `n`; `w`, `b` null or valid for `n`.
#[inline(always)]
unsafe fn affine<S: Simd>(
    x: *const f32,
    y: *mut f32,
    n: usize,
    mean: f32,
    r: f32,
    w: *const f32,
    b: *const f32,
) {
    let l = S::LANES;
    unsafe {
        let (mv, rv) = (S::splat(mean), S::splat(r));
        let mut i = 0;
        while i + l <= n {
            let mut v = S::mul(S::sub(S::load(x.add(i)), mv), rv);
            if !w.is_null() {
                v = S::mul(v, S::load(w.add(i)));
            }
            if !b.is_null() {
                v = S::add(v, S::load(b.add(i)));
            }
            S::store(y.add(i), v);
            i += l;
        }
        for j in i..n {
            let mut v = (*x.add(j) - mean) * r;
            if !w.is_null() {
                v *= *w.add(j);
            }
            if !b.is_null() {
                v += *b.add(j);
            }
            *y.add(j) = v;
        }
    }
}

/// # Safety
/// As [`affine`], for `rows` rows.
#[inline(always)]
unsafe fn rms_norm_impl<S: Simd>(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    rows: usize,
    w: *const f32,
    eps: f32,
) {
    for r in 0..rows {
        unsafe {
            let x = src.add(r * n);
            let ms = dot_impl::<S>(x, x, n) / n as f32;
            let inv = 1.0 / (ms + eps).sqrt();
            affine::<S>(x, dst.add(r * n), n, 0.0, inv, w, std::ptr::null());
        }
    }
}

/// # Safety
/// As [`affine`], for `rows` rows.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn layer_norm_impl<S: Simd>(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    rows: usize,
    w: *const f32,
    b: *const f32,
    eps: f32,
) {
    let l = S::LANES;
    for r in 0..rows {
        unsafe {
            let x = src.add(r * n);
            let mean = sum_impl::<S>(x, n) / n as f32;
            let mv = S::splat(mean);
            let mut acc = S::splat(0.0);
            let mut i = 0;
            while i + l <= n {
                let d = S::sub(S::load(x.add(i)), mv);
                acc = S::fma(d, d, acc);
                i += l;
            }
            let mut var = S::hsum(acc);
            for j in i..n {
                let d = *x.add(j) - mean;
                var += d * d;
            }
            let inv = 1.0 / (var / n as f32 + eps).sqrt();
            affine::<S>(x, dst.add(r * n), n, mean, inv, w, b);
        }
    }
}

multiversion!(unsafe fn softmax_k(src: *const f32, dst: *mut f32, n: usize, rows: usize) => softmax_impl);
multiversion!(unsafe fn log_softmax_k(src: *const f32, dst: *mut f32, n: usize, rows: usize) => log_softmax_impl);
multiversion!(unsafe fn lse_k(x: *const f32, n: usize) -> f32 => lse_impl);
multiversion!(unsafe fn rms_norm_k(src: *const f32, dst: *mut f32, n: usize, rows: usize, w: *const f32, eps: f32) => rms_norm_impl);
multiversion!(unsafe fn layer_norm_k(src: *const f32, dst: *mut f32, n: usize, rows: usize, w: *const f32, b: *const f32, eps: f32) => layer_norm_impl);
