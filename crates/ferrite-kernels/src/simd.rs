//! A minimal vector abstraction so that each numerical algorithm is written once and
//! instantiated for scalar, AVX2 and AVX-512.
//!
//! Every method is `#[inline(always)]` and `unsafe`: callers must only use an x86 impl from
//! inside a function compiled with the matching `#[target_feature]` (see
//! [`crate::multiversion!`]), which is what lets LLVM inline the intrinsics, and pointers
//! must be valid for `LANES` elements.

/// One SIMD flavour: a vector of `LANES` f32 values and its comparison mask.
pub(crate) trait Simd: Copy + 'static {
    const LANES: usize;
    type V: Copy;
    type M: Copy;

    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c` with a single rounding.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a * b + c`, fused where that is fast (vector ISAs) and not where it would be a
    /// library call (scalar without hardware FMA). For throughput code only.
    unsafe fn madd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// x86 semantics: returns `b` when either operand is NaN.
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// x86 semantics: returns `b` when either operand is NaN.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sqrt(a: Self::V) -> Self::V;
    unsafe fn abs(a: Self::V) -> Self::V;
    /// Magnitude of `mag` with the sign bit of `sign`.
    unsafe fn copysign(mag: Self::V, sign: Self::V) -> Self::V;
    /// Round to the nearest integer, ties to even.
    unsafe fn round(a: Self::V) -> Self::V;
    /// Rounds toward minus infinity.
    unsafe fn floor(a: Self::V) -> Self::V;
    /// `a - floor(a)`, in `[0, 1)` for finite `a`.
    #[inline(always)]
    unsafe fn frac(a: Self::V) -> Self::V {
        unsafe { Self::sub(a, Self::floor(a)) }
    }
    /// `x * 2^floor(t)` for finite `t` in `[-252, 255)`, as [`Simd::ldexp`].
    #[inline(always)]
    unsafe fn ldexp_floor(x: Self::V, t: Self::V) -> Self::V {
        unsafe { Self::ldexp(x, Self::floor(t)) }
    }
    unsafe fn lt(a: Self::V, b: Self::V) -> Self::M;
    unsafe fn is_nan(a: Self::V) -> Self::M;
    /// `a` where `m` is set, else `b`.
    unsafe fn select(m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    /// `2^n` for integral `n` in `[-126, 127]`.
    unsafe fn pow2i(n: Self::V) -> Self::V;
    /// `x * 2^n` for integral `n` in `[-252, 254]`, with one rounding even when the result
    /// is subnormal, over/underflowing to inf/0 like libm; NaN in either gives NaN.
    #[inline(always)]
    unsafe fn ldexp(x: Self::V, n: Self::V) -> Self::V {
        unsafe {
            // Two half-steps keep each factor a normal power of two; the first product is
            // exact, so only the second one rounds.
            let half = Self::round(Self::mul(n, Self::splat(0.5)));
            let half = Self::min(Self::max(half, Self::splat(-126.0)), Self::splat(127.0));
            let rest = Self::sub(n, half);
            let rest = Self::min(Self::max(rest, Self::splat(-126.0)), Self::splat(127.0));
            Self::mul(Self::mul(x, Self::pow2i(half)), Self::pow2i(rest))
        }
    }
    /// `t / d` for finite `t` and `d` in `[1, 2]`, within 0.6 ulp: a true division where
    /// that is cheap, the reciprocal estimate plus one correction where it is not.
    #[inline(always)]
    unsafe fn div_near(t: Self::V, d: Self::V) -> Self::V {
        unsafe { Self::div(t, d) }
    }
    /// `(e, m)` with `x = m * 2^e`, `m` in `[1, 2)`, for positive normal `x`.
    unsafe fn frexp(x: Self::V) -> (Self::V, Self::V);
    unsafe fn hsum(v: Self::V) -> f32;
    /// Lane `t` is the sum of the lanes of `v[t]`, for `v.len() == LANES`: the horizontal
    /// sums of a whole vector's worth of vectors, which share their shuffles (a transpose
    /// as an add tree) instead of paying one [`Simd::hsum`] each.
    unsafe fn sums(v: &[Self::V]) -> Self::V;
    /// Hint that the cache line at `p` will be written soon (no-op where unsupported).
    unsafe fn prefetch(p: *const f32);
    unsafe fn hmax(v: Self::V) -> f32;
    unsafe fn load_bf16(p: *const u16) -> Self::V;
    unsafe fn load_f16(p: *const u16) -> Self::V;
    /// Round to nearest even; NaN stays a (quiet) NaN.
    unsafe fn store_bf16(p: *mut u16, v: Self::V);
    /// Round to nearest even; NaN stays a (quiet) NaN.
    unsafe fn store_f16(p: *mut u16, v: Self::V);
}

/// The portable reference flavour: one lane.
#[derive(Clone, Copy)]
pub(crate) struct Scalar;

impl Simd for Scalar {
    const LANES: usize = 1;
    type V = f32;
    type M = bool;

    #[inline(always)]
    unsafe fn splat(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> f32 {
        unsafe { p.read() }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: f32) {
        unsafe { p.write(v) }
    }
    #[inline(always)]
    unsafe fn add(a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    unsafe fn sub(a: f32, b: f32) -> f32 {
        a - b
    }
    #[inline(always)]
    unsafe fn mul(a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    unsafe fn div(a: f32, b: f32) -> f32 {
        a / b
    }
    #[inline(always)]
    unsafe fn fma(a: f32, b: f32, c: f32) -> f32 {
        // `f32::mul_add` is a libm call on baseline x86_64. In f64 the product is exact
        // and the sum rounds once before the final rounding; that double rounding can only
        // matter in rare halfway cases, and the error-free transformations built on `fma`
        // (`fma(a, b, -ab)`) have exactly representable results, so they stay exact.
        ((a as f64) * (b as f64) + (c as f64)) as f32
    }
    #[inline(always)]
    unsafe fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    unsafe fn min(a: f32, b: f32) -> f32 {
        if a < b {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    unsafe fn max(a: f32, b: f32) -> f32 {
        if a > b {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    unsafe fn sqrt(a: f32) -> f32 {
        a.sqrt()
    }
    #[inline(always)]
    unsafe fn abs(a: f32) -> f32 {
        a.abs()
    }
    #[inline(always)]
    unsafe fn copysign(mag: f32, sign: f32) -> f32 {
        mag.copysign(sign)
    }
    #[inline(always)]
    unsafe fn round(a: f32) -> f32 {
        // Adding and removing 1.5 * 2^23 rounds to an integer with the current (nearest
        // even) mode, inline, unlike `round_ties_even` on baseline x86_64; beyond 2^22
        // every f32 is already an integer.
        const MAGIC: f32 = 12_582_912.0;
        if a.abs() < 4_194_304.0 {
            ((a.abs() + MAGIC) - MAGIC).copysign(a)
        } else {
            a
        }
    }
    #[inline(always)]
    unsafe fn floor(a: f32) -> f32 {
        a.floor()
    }
    #[inline(always)]
    unsafe fn lt(a: f32, b: f32) -> bool {
        a < b
    }
    #[inline(always)]
    unsafe fn is_nan(a: f32) -> bool {
        a.is_nan()
    }
    #[inline(always)]
    unsafe fn select(m: bool, a: f32, b: f32) -> f32 {
        if m {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    unsafe fn pow2i(n: f32) -> f32 {
        f32::from_bits(((n as i32 + 127) as u32) << 23)
    }
    #[inline(always)]
    unsafe fn frexp(x: f32) -> (f32, f32) {
        let bits = x.to_bits();
        let e = ((bits >> 23) & 0xff) as i32 - 127;
        (e as f32, f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000))
    }
    #[inline(always)]
    unsafe fn prefetch(_p: *const f32) {}
    #[inline(always)]
    unsafe fn hsum(v: f32) -> f32 {
        v
    }
    #[inline(always)]
    unsafe fn sums(v: &[f32]) -> f32 {
        v[0]
    }
    #[inline(always)]
    unsafe fn hmax(v: f32) -> f32 {
        v
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> f32 {
        unsafe { half::bf16::from_bits(p.read()).to_f32() }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> f32 {
        unsafe { half::f16::from_bits(p.read()).to_f32() }
    }
    #[inline(always)]
    unsafe fn store_bf16(p: *mut u16, v: f32) {
        unsafe { p.write(half::bf16::from_f32(v).to_bits()) }
    }
    #[inline(always)]
    unsafe fn store_f16(p: *mut u16, v: f32) {
        unsafe { p.write(half::f16::from_f32(v).to_bits()) }
    }
}

/// Generates `$vis fn $name(isa: Isa, args...)` that runs the `#[inline(always)]` generic
/// `$generic::<S: Simd>(args...)` compiled for the requested ISA.
///
/// Soundness rests on [`crate::isa`]: the crate only ever passes an `Isa` that
/// [`Isa::is_supported`](crate::Isa::is_supported) has confirmed for the running CPU.
macro_rules! multiversion {
    ($(#[$attr:meta])* $vis:vis unsafe fn $name:ident $(<$($g:ident : $gb:path),*>)?
        ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $generic:ident) => {
        $(#[$attr])*
        /// # Safety
        /// Same contract as the generic implementation this dispatches to.
        #[allow(clippy::too_many_arguments)]
        $vis unsafe fn $name $(<$($g: $gb),*>)? (isa: $crate::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn v512 $(<$($g: $gb),*>)? ($($arg: $ty),*) $(-> $ret)? {
                unsafe { $generic::<$crate::simd::x86::Avx512 $(, $($g),*)?>($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma,f16c")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn v256 $(<$($g: $gb),*>)? ($($arg: $ty),*) $(-> $ret)? {
                unsafe { $generic::<$crate::simd::x86::Avx2 $(, $($g),*)?>($($arg),*) }
            }
            match isa {
                // SAFETY: an `Isa` other than Scalar only reaches here after detection
                // confirmed the CPU has its features (module docs of `crate::isa`).
                #[cfg(target_arch = "x86_64")]
                $crate::Isa::Avx512 => unsafe { v512 $(::<$($g),*>)? ($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::Isa::Avx2 => unsafe { v256 $(::<$($g),*>)? ($($arg),*) },
                _ => unsafe { $generic::<$crate::simd::Scalar $(, $($g),*)?>($($arg),*) },
            }
        }
    };
}
pub(crate) use multiversion;

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;
