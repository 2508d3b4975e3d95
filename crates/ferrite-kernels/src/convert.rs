//! Vectorised f16 / bf16 <-> f32 slice conversion.
//!
//! Narrowing rounds to nearest, ties to even, and keeps NaN a NaN; subnormals are kept,
//! exactly like `half`'s `from_f32` (which is the scalar path).

use crate::mat::{ElemKind, Element};
use crate::simd::{multiversion, Simd};
use crate::{isa, Isa, KernelError};
use half::{bf16, f16};

fn check_len(src: usize, dst: usize) -> Result<(), KernelError> {
    if src == dst {
        Ok(())
    } else {
        Err(KernelError::Mismatch {
            what: "destination length",
            expected: src,
            got: dst,
        })
    }
}

/// Widens `src` into `dst`.
///
/// # Errors
/// [`KernelError::Mismatch`] if the lengths differ.
pub fn f16_to_f32(src: &[f16], dst: &mut [f32]) -> Result<(), KernelError> {
    check_len(src.len(), dst.len())?;
    widen_with(isa::active(), src, dst);
    Ok(())
}

/// Widens `src` into `dst` (exact: bf16 is the top half of an f32).
///
/// # Errors
/// [`KernelError::Mismatch`] if the lengths differ.
pub fn bf16_to_f32(src: &[bf16], dst: &mut [f32]) -> Result<(), KernelError> {
    check_len(src.len(), dst.len())?;
    widen_with(isa::active(), src, dst);
    Ok(())
}

/// Narrows `src` into `dst`, rounding to nearest even; overflow becomes infinity.
///
/// # Errors
/// [`KernelError::Mismatch`] if the lengths differ.
pub fn f32_to_f16(src: &[f32], dst: &mut [f16]) -> Result<(), KernelError> {
    check_len(src.len(), dst.len())?;
    // SAFETY: lengths are equal and f16 is a transparent u16.
    unsafe {
        narrow_f16(
            isa::active(),
            src.as_ptr(),
            dst.as_mut_ptr().cast(),
            src.len(),
        )
    }
    Ok(())
}

/// Narrows `src` into `dst`, rounding to nearest even; overflow becomes infinity.
///
/// # Errors
/// [`KernelError::Mismatch`] if the lengths differ.
pub fn f32_to_bf16(src: &[f32], dst: &mut [bf16]) -> Result<(), KernelError> {
    check_len(src.len(), dst.len())?;
    // SAFETY: lengths are equal and bf16 is a transparent u16.
    unsafe {
        narrow_bf16(
            isa::active(),
            src.as_ptr(),
            dst.as_mut_ptr().cast(),
            src.len(),
        )
    }
    Ok(())
}

/// Widens `min(src.len(), dst.len())` elements of any [`Element`] type.
pub(crate) fn widen_with<T: Element>(isa: Isa, src: &[T], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    // SAFETY: both pointers are valid for `n` elements; the casts follow `KIND`.
    unsafe {
        match T::KIND {
            ElemKind::F32 => std::ptr::copy_nonoverlapping(s.cast::<f32>(), d, n),
            ElemKind::Bf16 => widen_bf16(isa, s.cast(), d, n),
            ElemKind::F16 => widen_f16(isa, s.cast(), d, n),
        }
    }
}

macro_rules! converter {
    ($imp:ident, $src:ty, $dst:ty, $zero:expr, |$p:ident, $q:ident| $body:expr) => {
        #[inline(always)]
        unsafe fn $imp<S: Simd>(src: *const $src, dst: *mut $dst, n: usize) {
            let l = S::LANES;
            let full = n - n % l;
            let mut i = 0;
            while i < full {
                let ($p, $q) = unsafe { (src.add(i), dst.add(i)) };
                unsafe { $body };
                i += l;
            }
            if full < n {
                // The tail goes through a lane-sized stack buffer so the vector code never
                // touches memory past the slices.
                let mut a = [$zero; 16];
                let mut b = [<$dst>::default(); 16];
                unsafe { std::ptr::copy_nonoverlapping(src.add(full), a.as_mut_ptr(), n - full) };
                let ($p, $q) = (a.as_ptr(), b.as_mut_ptr());
                unsafe { $body };
                unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), dst.add(full), n - full) };
            }
        }
    };
}

converter!(widen_bf16_impl, u16, f32, 0u16, |p, q| S::store(
    q,
    S::load_bf16(p)
));
converter!(widen_f16_impl, u16, f32, 0u16, |p, q| S::store(
    q,
    S::load_f16(p)
));
converter!(narrow_bf16_impl, f32, u16, 0f32, |p, q| S::store_bf16(
    q,
    S::load(p)
));
converter!(narrow_f16_impl, f32, u16, 0f32, |p, q| S::store_f16(
    q,
    S::load(p)
));

multiversion!(unsafe fn widen_bf16(src: *const u16, dst: *mut f32, n: usize) => widen_bf16_impl);
multiversion!(unsafe fn widen_f16(src: *const u16, dst: *mut f32, n: usize) => widen_f16_impl);
multiversion!(unsafe fn narrow_bf16(src: *const f32, dst: *mut u16, n: usize) => narrow_bf16_impl);
multiversion!(unsafe fn narrow_f16(src: *const f32, dst: *mut u16, n: usize) => narrow_f16_impl);
