//! Vector reductions and BLAS-1 style updates on contiguous slices.
//!
//! Reductions keep four vector accumulators (enough to hide FMA/add latency and keep two
//! loads per cycle in flight), so their summation order, and hence the last bits of the
//! result, differs between ISAs.

use crate::simd::{multiversion, Simd};
use crate::{isa, KernelError};

fn same_len(a: usize, b: usize) -> Result<(), KernelError> {
    if a == b {
        Ok(())
    } else {
        Err(KernelError::Mismatch {
            what: "slice length",
            expected: a,
            got: b,
        })
    }
}

/// Sum of all elements (0 for an empty slice).
pub fn sum(x: &[f32]) -> f32 {
    // SAFETY: pointer and length come from one slice.
    unsafe { sum_k(isa::active(), x.as_ptr(), x.len()) }
}

/// Largest element (`-inf` for an empty slice). Whether a NaN element is returned or
/// skipped is unspecified.
pub fn max(x: &[f32]) -> f32 {
    // SAFETY: pointer and length come from one slice.
    unsafe { max_k(isa::active(), x.as_ptr(), x.len()) }
}

/// Dot product `sum(a[i] * b[i])`.
///
/// # Errors
/// [`KernelError::Mismatch`] if the lengths differ.
pub fn dot(a: &[f32], b: &[f32]) -> Result<f32, KernelError> {
    same_len(a.len(), b.len())?;
    // SAFETY: both slices have `a.len()` elements.
    Ok(unsafe { dot_k(isa::active(), a.as_ptr(), b.as_ptr(), a.len()) })
}

/// `y += alpha * x`.
///
/// # Errors
/// [`KernelError::Mismatch`] if the lengths differ.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    same_len(x.len(), y.len())?;
    // SAFETY: both slices have `x.len()` elements.
    unsafe { axpy_k(isa::active(), alpha, x.as_ptr(), y.as_mut_ptr(), x.len()) };
    Ok(())
}

/// `x *= alpha` in place.
pub fn scale(alpha: f32, x: &mut [f32]) {
    // SAFETY: pointer and length come from one slice.
    unsafe { scale_k(isa::active(), alpha, x.as_mut_ptr(), x.len()) }
}

/// Sum of `n` floats at `x`.
///
/// # Safety
/// `x` valid for `n` reads.
#[inline(always)]
pub(crate) unsafe fn sum_impl<S: Simd>(x: *const f32, n: usize) -> f32 {
    let l = S::LANES;
    unsafe {
        let mut acc = [S::splat(0.0); 4];
        let mut i = 0;
        while i + 4 * l <= n {
            for (u, a) in acc.iter_mut().enumerate() {
                *a = S::add(*a, S::load(x.add(i + u * l)));
            }
            i += 4 * l;
        }
        while i + l <= n {
            acc[0] = S::add(acc[0], S::load(x.add(i)));
            i += l;
        }
        let v = S::add(S::add(acc[0], acc[1]), S::add(acc[2], acc[3]));
        let mut s = S::hsum(v);
        for j in i..n {
            s += *x.add(j);
        }
        s
    }
}

/// # Safety
/// `x` valid for `n` reads.
#[inline(always)]
pub(crate) unsafe fn max_impl<S: Simd>(x: *const f32, n: usize) -> f32 {
    let l = S::LANES;
    unsafe {
        let mut acc = [S::splat(f32::NEG_INFINITY); 4];
        let mut i = 0;
        while i + 4 * l <= n {
            for (u, a) in acc.iter_mut().enumerate() {
                *a = S::max(*a, S::load(x.add(i + u * l)));
            }
            i += 4 * l;
        }
        while i + l <= n {
            acc[0] = S::max(acc[0], S::load(x.add(i)));
            i += l;
        }
        let v = S::max(S::max(acc[0], acc[1]), S::max(acc[2], acc[3]));
        let mut m = S::hmax(v);
        for j in i..n {
            let e = *x.add(j);
            if e > m {
                m = e;
            }
        }
        m
    }
}

/// # Safety
/// `a` and `b` valid for `n` reads.
#[inline(always)]
pub(crate) unsafe fn dot_impl<S: Simd>(a: *const f32, b: *const f32, n: usize) -> f32 {
    let l = S::LANES;
    unsafe {
        let mut acc = [S::splat(0.0); 4];
        let mut i = 0;
        while i + 4 * l <= n {
            for (u, s) in acc.iter_mut().enumerate() {
                *s = S::madd(S::load(a.add(i + u * l)), S::load(b.add(i + u * l)), *s);
            }
            i += 4 * l;
        }
        while i + l <= n {
            acc[0] = S::madd(S::load(a.add(i)), S::load(b.add(i)), acc[0]);
            i += l;
        }
        let v = S::add(S::add(acc[0], acc[1]), S::add(acc[2], acc[3]));
        let mut s = S::hsum(v);
        for j in i..n {
            s += *a.add(j) * *b.add(j);
        }
        s
    }
}

/// # Safety
/// `x` valid for `n` reads, `y` for `n` reads and writes.
#[inline(always)]
unsafe fn axpy_impl<S: Simd>(alpha: f32, x: *const f32, y: *mut f32, n: usize) {
    let l = S::LANES;
    unsafe {
        let av = S::splat(alpha);
        let mut i = 0;
        while i + l <= n {
            S::store(y.add(i), S::fma(av, S::load(x.add(i)), S::load(y.add(i))));
            i += l;
        }
        for j in i..n {
            *y.add(j) += alpha * *x.add(j);
        }
    }
}

/// # Safety
/// `x` valid for `n` reads and writes.
#[inline(always)]
pub(crate) unsafe fn scale_impl<S: Simd>(alpha: f32, x: *mut f32, n: usize) {
    let l = S::LANES;
    unsafe {
        let av = S::splat(alpha);
        let mut i = 0;
        while i + l <= n {
            S::store(x.add(i), S::mul(av, S::load(x.add(i))));
            i += l;
        }
        for j in i..n {
            *x.add(j) *= alpha;
        }
    }
}

multiversion!(unsafe fn sum_k(x: *const f32, n: usize) -> f32 => sum_impl);
multiversion!(unsafe fn max_k(x: *const f32, n: usize) -> f32 => max_impl);
multiversion!(unsafe fn dot_k(a: *const f32, b: *const f32, n: usize) -> f32 => dot_impl);
multiversion!(unsafe fn axpy_k(alpha: f32, x: *const f32, y: *mut f32, n: usize) => axpy_impl);
multiversion!(unsafe fn scale_k(alpha: f32, x: *mut f32, n: usize) => scale_impl);
