//! Element-wise math on contiguous f32 slices.
//!
//! Each function is written once over [`Simd`]; the scalar instantiation is the reference
//! path and `UnaryOp::eval`. Maximum errors measured against high-precision references
//! on dense grids: exp 1.1 ulp on [-80, 80], log 0.8 ulp, tanh 1.5 ulp, sigmoid 2.4 ulp,
//! silu 3.3 ulp, gelu_tanh 3.2 ulp, gelu_erf 5.3 ulp (3.9e-7 relative), rsqrt 1.5 ulp; sqrt is
//! correctly rounded. Special values (NaN, +-inf, overflow, underflow to subnormal/zero)
//! follow libm. sin and cos use the standard library per element on every ISA.

use crate::simd::{multiversion, Simd};
use crate::{isa, KernelError};

/// An element-wise function, applied by [`unary`] and [`unary_inplace`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `e^x`.
    Exp,
    /// Natural logarithm (NaN below zero, `-inf` at zero).
    Log,
    /// Square root.
    Sqrt,
    /// `1 / sqrt(x)`, computed with a true division (not the hardware estimate).
    Rsqrt,
    /// Hyperbolic tangent.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `x * sigmoid(x)` (a.k.a. swish).
    Silu,
    /// `x * Phi(x)` with the exact normal CDF `Phi(x) = erfc(-x / sqrt 2) / 2`.
    GeluErf,
    /// `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`.
    GeluTanh,
    /// Sine (scalar on every ISA).
    Sin,
    /// Cosine (scalar on every ISA).
    Cos,
}

impl UnaryOp {
    /// Applies the operation to one value, through the same scalar code as the slice path.
    pub fn eval(self, x: f32) -> f32 {
        let mut v = [x];
        unary_inplace_on(crate::Isa::Scalar, self, &mut v);
        v[0]
    }
}

/// `out[i] = op(x[i])`.
///
/// # Errors
/// [`KernelError::Mismatch`] if the lengths differ.
pub fn unary(op: UnaryOp, x: &[f32], out: &mut [f32]) -> Result<(), KernelError> {
    if x.len() != out.len() {
        return Err(KernelError::Mismatch {
            what: "output length",
            expected: x.len(),
            got: out.len(),
        });
    }
    let isa = isa::active();
    if x.len() >= PARALLEL_MIN {
        crate::team::parallel_chunks_mut(out, CHUNK, |c, o| {
            let i = &x[c * CHUNK..c * CHUNK + o.len()];
            apply(isa, op, i.as_ptr(), o.as_mut_ptr(), i.len())
        });
    } else {
        apply(isa, op, x.as_ptr(), out.as_mut_ptr(), x.len());
    }
    Ok(())
}

/// `out[i] = op(x[i]) * y[i]` in one pass, as a gated MLP's `silu(a) * b` needs; equal bit
/// for bit to [`unary`] followed by an f32 multiply. Runs on the calling thread.
///
/// # Errors
/// [`KernelError::Mismatch`] if the lengths differ.
pub fn unary_mul(op: UnaryOp, x: &[f32], y: &[f32], out: &mut [f32]) -> Result<(), KernelError> {
    for (what, len) in [
        ("second input length", y.len()),
        ("output length", out.len()),
    ] {
        if len != x.len() {
            return Err(KernelError::Mismatch {
                what,
                expected: x.len(),
                got: len,
            });
        }
    }
    let isa = isa::active();
    let (x, y, o, n) = (x.as_ptr(), y.as_ptr(), out.as_mut_ptr(), x.len());
    // SAFETY (all arms): three slices of `n` elements; `out` is borrowed mutably, so it
    // overlaps neither input.
    unsafe {
        match op {
            UnaryOp::Exp => map_mul_k::<Exp>(isa, x, y, o, n),
            UnaryOp::Log => map_mul_k::<Log>(isa, x, y, o, n),
            UnaryOp::Sqrt => map_mul_k::<Sqrt>(isa, x, y, o, n),
            UnaryOp::Rsqrt => map_mul_k::<Rsqrt>(isa, x, y, o, n),
            UnaryOp::Tanh => map_mul_k::<Tanh>(isa, x, y, o, n),
            UnaryOp::Sigmoid => map_mul_k::<Sigmoid>(isa, x, y, o, n),
            UnaryOp::Silu => map_mul_k::<Silu>(isa, x, y, o, n),
            UnaryOp::GeluErf => map_mul_k::<GeluErf>(isa, x, y, o, n),
            UnaryOp::GeluTanh => map_mul_k::<GeluTanh>(isa, x, y, o, n),
            UnaryOp::Sin | UnaryOp::Cos => {
                let f = if op == UnaryOp::Sin {
                    f32::sin
                } else {
                    f32::cos
                };
                for i in 0..n {
                    *o.add(i) = f(*x.add(i)) * *y.add(i);
                }
            }
        }
    }
    Ok(())
}

/// `x[i] = op(x[i])`.
pub fn unary_inplace(op: UnaryOp, x: &mut [f32]) {
    unary_inplace_on(isa::active(), op, x);
}

fn unary_inplace_on(isa: crate::Isa, op: UnaryOp, x: &mut [f32]) {
    if x.len() >= PARALLEL_MIN {
        crate::team::parallel_chunks_mut(x, CHUNK, |_, c| {
            apply(isa, op, c.as_ptr(), c.as_mut_ptr(), c.len())
        });
    } else {
        apply(isa, op, x.as_ptr(), x.as_mut_ptr(), x.len());
    }
}

/// Slices at least this long are split over the team threads in `CHUNK`-element pieces.
const PARALLEL_MIN: usize = 1 << 17;
const CHUNK: usize = 1 << 15;

/// Runs `op` over `n` elements; `src` may equal `dst` (each element is read before the
/// same index is written), but the ranges must not otherwise overlap.
fn apply(isa: crate::Isa, op: UnaryOp, src: *const f32, dst: *mut f32, n: usize) {
    // SAFETY (all arms): callers pass pointers from slices of `n` elements.
    unsafe {
        match op {
            UnaryOp::Exp => map_k::<Exp>(isa, src, dst, n),
            UnaryOp::Log => map_k::<Log>(isa, src, dst, n),
            UnaryOp::Sqrt => map_k::<Sqrt>(isa, src, dst, n),
            UnaryOp::Rsqrt => map_k::<Rsqrt>(isa, src, dst, n),
            UnaryOp::Tanh => map_k::<Tanh>(isa, src, dst, n),
            UnaryOp::Sigmoid => map_k::<Sigmoid>(isa, src, dst, n),
            UnaryOp::Silu => map_k::<Silu>(isa, src, dst, n),
            UnaryOp::GeluErf => map_k::<GeluErf>(isa, src, dst, n),
            UnaryOp::GeluTanh => map_k::<GeluTanh>(isa, src, dst, n),
            UnaryOp::Sin => map_std(src, dst, n, f32::sin),
            UnaryOp::Cos => map_std(src, dst, n, f32::cos),
        }
    }
}

/// # Safety
/// As [`apply`].
unsafe fn map_std(src: *const f32, dst: *mut f32, n: usize, f: fn(f32) -> f32) {
    for i in 0..n {
        unsafe { *dst.add(i) = f(*src.add(i)) };
    }
}

/// One vectorised element-wise function.
pub(crate) trait Op {
    /// # Safety
    /// Only inside code compiled for `S` (see [`crate::simd`]).
    unsafe fn v<S: Simd>(x: S::V) -> S::V;
}

/// # Safety
/// As [`apply`].
#[inline(always)]
unsafe fn map_impl<S: Simd, O: Op>(src: *const f32, dst: *mut f32, n: usize) {
    let l = S::LANES;
    let full = n - n % l;
    let mut i = 0;
    unsafe {
        while i < full {
            S::store(dst.add(i), O::v::<S>(S::load(src.add(i))));
            i += l;
        }
        if full < n {
            // Lane-sized stack buffer: the vector code never touches memory past the slice.
            let mut t = [0f32; 16];
            std::ptr::copy_nonoverlapping(src.add(full), t.as_mut_ptr(), n - full);
            S::store(t.as_mut_ptr(), O::v::<S>(S::load(t.as_ptr())));
            std::ptr::copy_nonoverlapping(t.as_ptr(), dst.add(full), n - full);
        }
    }
}

multiversion!(unsafe fn map_k<O: Op>(src: *const f32, dst: *mut f32, n: usize) => map_impl);

/// # Safety
/// `x`, `y` valid for `n` reads, `dst` for `n` writes, not overlapping the inputs.
#[inline(always)]
unsafe fn map_mul_impl<S: Simd, O: Op>(x: *const f32, y: *const f32, dst: *mut f32, n: usize) {
    let l = S::LANES;
    let full = n - n % l;
    let mut i = 0;
    unsafe {
        while i < full {
            let v = O::v::<S>(S::load(x.add(i)));
            S::store(dst.add(i), S::mul(v, S::load(y.add(i))));
            i += l;
        }
        if full < n {
            // As in `map_impl`: the vector code never touches memory past the slices.
            let (mut t, mut u) = ([0f32; 16], [0f32; 16]);
            std::ptr::copy_nonoverlapping(x.add(full), t.as_mut_ptr(), n - full);
            std::ptr::copy_nonoverlapping(y.add(full), u.as_mut_ptr(), n - full);
            let v = O::v::<S>(S::load(t.as_ptr()));
            S::store(t.as_mut_ptr(), S::mul(v, S::load(u.as_ptr())));
            std::ptr::copy_nonoverlapping(t.as_ptr(), dst.add(full), n - full);
        }
    }
}

multiversion!(unsafe fn map_mul_k<O: Op>(x: *const f32, y: *const f32, dst: *mut f32, n: usize) => map_mul_impl);

/// Horner evaluation of `c[0] + c[1] x + ...`.
#[inline(always)]
unsafe fn poly<S: Simd>(x: S::V, c: &[f32]) -> S::V {
    unsafe {
        let mut p = S::splat(c[c.len() - 1]);
        for &ci in c[..c.len() - 1].iter().rev() {
            p = S::fma(p, x, S::splat(ci));
        }
        p
    }
}

/// `e^x`: `x = n ln2 + r` with `|r| <= ln2 / 2` (Cody-Waite split of ln2 so `n * LN2_HI`
/// is exact), a degree-6 polynomial for `e^r` (relative-error minimax fit, 1.9e-9), then
/// `* 2^n`.
#[inline(always)]
pub(crate) unsafe fn exp_v<S: Simd>(x: S::V) -> S::V {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const C: [f32; 7] = [
        1.0,
        1.0,
        0.499_999_9,
        0.166_664_2,
        0.041_668_23,
        0.008_374_858,
        0.001_383_679,
    ];
    // Adding 1.5 * 2^23 rounds any |v| < 2^22 to an integer (ties to even).
    const ROUND: f32 = 12_582_912.0;
    unsafe {
        // Beyond these bounds the result is inf / 0 anyway; clamping keeps n in range.
        // With the bound as the first operand, min/max return x when it is NaN, so NaN
        // flows through to the result.
        let xc = S::min(S::splat(89.0), S::max(S::splat(-104.0), x));
        let n = S::madd(xc, S::splat(std::f32::consts::LOG2_E), S::splat(ROUND));
        let n = S::sub(n, S::splat(ROUND));
        let r = S::fma(n, S::splat(-LN2_HI), xc);
        let r = S::fma(n, S::splat(-LN2_LO), r);
        S::ldexp(poly::<S>(r, &C), n)
    }
}

/// `2^t` for `t <= 128` (NaN stays NaN): `t = floor(t) + f` with `f` in `[0, 1)`, a
/// degree-6 polynomial for `2^f` (relative-error fit, 2.0e-9), then `* 2^floor(t)`.
/// Four operations fewer than [`exp_v`] with an `x * log2(e)` folded into the caller's
/// argument: no range reduction by ln 2 (`frac` is one `vreduceps` on AVX-512, the
/// scaling one `vscalefps`), one clamp instead of two.
#[inline(always)]
pub(crate) unsafe fn exp2_v<S: Simd>(t: S::V) -> S::V {
    const C: [f32; 7] = [
        1.0,
        0.693_147_06,
        0.240_229_31,
        0.055_485_28,
        0.009_675_453,
        0.001_246_783_3,
        0.000_216_129_61,
    ];
    unsafe {
        // Below -160 the result is 0 anyway; the clamp keeps floor(t) in ldexp's range and
        // turns -inf into 0 (bound first: NaN flows through).
        let t = S::max(S::splat(-160.0), t);
        S::ldexp_floor(poly::<S>(S::frac(t), &C), t)
    }
}

/// `ln x`: `x = m 2^e` with `m` in `[sqrt(1/2), sqrt 2)`, `f = m - 1` (exact),
/// `s = f / (2 + f)`, `ln m = f - s (f - R(s^2))` from the atanh series
/// `ln m = 2s + 2s^3/3 + 2s^5/5 + ...`, so the leading term `f` carries no rounding.
#[inline(always)]
pub(crate) unsafe fn log_v<S: Simd>(x: S::V) -> S::V {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const R: [f32; 5] = [2.0 / 3.0, 2.0 / 5.0, 2.0 / 7.0, 2.0 / 9.0, 2.0 / 11.0];
    unsafe {
        // Subnormals: scale into the normal range first.
        let tiny = S::lt(x, S::splat(f32::MIN_POSITIVE));
        let xs = S::select(tiny, S::mul(x, S::splat(8_388_608.0)), x);
        let (e, m) = S::frexp(xs);
        let e = S::select(tiny, S::sub(e, S::splat(23.0)), e);
        let big = S::lt(S::splat(std::f32::consts::SQRT_2), m);
        let m = S::select(big, S::mul(m, S::splat(0.5)), m);
        let e = S::select(big, S::add(e, S::splat(1.0)), e);
        let f = S::sub(m, S::splat(1.0));
        let s = S::div(f, S::add(f, S::splat(2.0)));
        let z = S::mul(s, s);
        let r = S::mul(z, poly::<S>(z, &R));
        let lm = S::sub(f, S::mul(s, S::sub(f, r)));
        let y = S::fma(e, S::splat(LN2_HI), S::fma(e, S::splat(LN2_LO), lm));
        // Special values, in increasing priority: x <= 0 -> -inf, x < 0 -> NaN,
        // +inf -> +inf, NaN -> NaN.
        let y = S::select(S::lt(x, S::splat(1e-45)), S::splat(f32::NEG_INFINITY), y);
        let y = S::select(S::lt(x, S::splat(0.0)), S::splat(f32::NAN), y);
        let y = S::select(S::lt(S::splat(f32::MAX), x), x, y);
        S::select(S::is_nan(x), x, y)
    }
}

/// `tanh x`: odd Taylor series through `x^17` for `|x| < 0.55` (< 1 ulp there), else
/// `1 - 2 / (e^{2|x|} + 1)` whose subtraction is benign since the result exceeds 0.5.
#[inline(always)]
pub(crate) unsafe fn tanh_v<S: Simd>(x: S::V) -> S::V {
    const C: [f32; 8] = [
        -1.0 / 3.0,
        2.0 / 15.0,
        -17.0 / 315.0,
        62.0 / 2835.0,
        -1382.0 / 155_925.0,
        21844.0 / 6_081_075.0,
        -929_569.0 / 638_512_875.0,
        6_404_582.0 / 10_854_718_875.0,
    ];
    unsafe {
        let a = S::abs(x);
        let z = S::mul(x, x);
        let small = S::fma(S::mul(x, z), poly::<S>(z, &C), x);
        let e = exp_v::<S>(S::add(a, a));
        let large = S::sub(
            S::splat(1.0),
            S::div(S::splat(2.0), S::add(e, S::splat(1.0))),
        );
        let large = S::copysign(large, x);
        let y = S::select(S::lt(a, S::splat(0.55)), small, large);
        S::select(S::is_nan(x), x, y)
    }
}

/// `(e, 1 + e)` with `e = e^-|x|` in `[0, 1]`: the sigmoid is `1 / (1 + e)` for `x >= 0`
/// and `e / (1 + e)` below, so neither side cancels or overflows and the divisor stays in
/// `[1, 2]`, which [`Simd::div_near`] needs.
#[inline(always)]
unsafe fn sigmoid_parts<S: Simd>(x: S::V) -> (S::V, S::V) {
    unsafe {
        let e = exp_v::<S>(S::sub(S::splat(0.0), S::abs(x)));
        (e, S::add(S::splat(1.0), e))
    }
}

/// The `x -> -inf` limit of `x * (something vanishing faster than 1/x)` is -0, where the
/// formulas would give `-inf / inf = NaN`.
#[inline(always)]
unsafe fn neg_tail_zero<S: Simd>(x: S::V, y: S::V) -> S::V {
    unsafe { S::select(S::lt(x, S::splat(-200.0)), S::splat(-0.0), y) }
}

/// `erfc z` for `z >= 0` as `t e^{-z^2 + g(t)}`, `t = 1 / (1 + z/2)`, with `g` a degree-10
/// polynomial in `2.4 t - 1.4` fitted (Lawson-weighted least squares, max error 6e-9 on
/// `z` in `[0, 10]`) to the exact `ln(erfc z) + z^2 - ln t`. `z^2` and the exponent are
/// carried as double-f32 so that large `z` keeps full relative accuracy: the caller passes
/// `z^2 = hi + lo` exactly, since rounding `z` itself would already cost `2 z^2 u` relative.
#[inline(always)]
unsafe fn erfc_pos<S: Simd>(z: S::V, hi: S::V, lo: S::V) -> S::V {
    const G: [f32; 11] = [
        -0.558_595_36,
        0.570_307_14,
        0.015_745_169,
        -0.029_470_442,
        -0.001_046_331_3,
        0.003_707_863_4,
        -0.000_273_725_13,
        -0.000_534_844_1,
        0.000_127_265_26,
        5.509_567_6e-5,
        -2.179_945_1e-5,
    ];
    unsafe {
        let t = S::div(S::splat(1.0), S::fma(z, S::splat(0.5), S::splat(1.0)));
        let g = poly::<S>(S::fma(t, S::splat(2.4), S::splat(-1.4)), &G);
        // s + err = g - hi exactly (two-sum).
        let nhi = S::sub(S::splat(0.0), hi);
        let s = S::add(g, nhi);
        let bb = S::sub(s, g);
        let err = S::add(S::sub(g, S::sub(s, bb)), S::sub(nhi, bb));
        let corr = S::add(S::splat(1.0), S::sub(err, lo));
        let y = S::mul(S::mul(t, exp_v::<S>(s)), corr);
        // erfc(10) < 3e-44 is below f32 resolution; this also maps z = inf to 0.
        S::select(S::lt(z, S::splat(10.0)), y, S::splat(0.0))
    }
}

struct Exp;
impl Op for Exp {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        unsafe { exp_v::<S>(x) }
    }
}

struct Log;
impl Op for Log {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        unsafe { log_v::<S>(x) }
    }
}

struct Sqrt;
impl Op for Sqrt {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        unsafe { S::sqrt(x) }
    }
}

struct Rsqrt;
impl Op for Rsqrt {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        unsafe { S::div(S::splat(1.0), S::sqrt(x)) }
    }
}

struct Tanh;
impl Op for Tanh {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        unsafe { tanh_v::<S>(x) }
    }
}

struct Sigmoid;
impl Op for Sigmoid {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        unsafe {
            let (e, d) = sigmoid_parts::<S>(x);
            S::div_near(S::select(S::lt(x, S::splat(0.0)), e, S::splat(1.0)), d)
        }
    }
}

struct Silu;
impl Op for Silu {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        unsafe {
            let (e, d) = sigmoid_parts::<S>(x);
            let t = S::select(S::lt(x, S::splat(0.0)), S::mul(x, e), x);
            let y = neg_tail_zero::<S>(x, S::div_near(t, d));
            // Above 88, e < 2^-126 and the result is x, also for x = +inf (where the
            // correction step of `div_near` would meet inf - inf).
            S::select(S::lt(S::splat(88.0), x), x, y)
        }
    }
}

struct GeluErf;
impl Op for GeluErf {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        unsafe {
            // Phi(x) = erfc(-x/sqrt2)/2: use erfc(|x|/sqrt2) directly for x < 0 (tiny
            // result, no cancellation) and 1 - erfc/2 for x >= 0.
            let a = S::abs(x);
            let z = S::mul(a, S::splat(std::f32::consts::FRAC_1_SQRT_2));
            // z^2 = x^2 / 2 exactly as hi + lo (halving is exact).
            let sq = S::mul(a, a);
            let sq_lo = S::fma(a, a, S::sub(S::splat(0.0), sq));
            let half = S::splat(0.5);
            let h = S::mul(
                erfc_pos::<S>(z, S::mul(sq, half), S::mul(sq_lo, half)),
                half,
            );
            let phi = S::select(S::lt(x, S::splat(0.0)), h, S::sub(S::splat(1.0), h));
            let y = neg_tail_zero::<S>(x, S::mul(x, phi));
            S::select(S::is_nan(x), x, y)
        }
    }
}

struct GeluTanh;
impl Op for GeluTanh {
    #[inline(always)]
    unsafe fn v<S: Simd>(x: S::V) -> S::V {
        // 0.5 (1 + tanh u) = sigmoid(2u), so gelu = x / (1 + e^{-2u}) with no cancellation
        // for negative x. e^{-2u} turns an absolute error in 2u into a relative error in
        // the result, so 2u = C1 x + C3 x^3 is carried as hi + lo (C1 = 2 sqrt(2/pi),
        // C3 = 0.044715 C1, each split into two f32); plain f32 would lose ~2u ulp.
        const C1: (f32, f32) = (1.595_769_2, -4.534_068e-8);
        const C3: (f32, f32) = (0.071_354_814, 2.398_832_5e-9);
        unsafe {
            let neg = |v: S::V| S::sub(S::splat(0.0), v);
            // x^3 = x3 + x3l, from the exact x^2 = x2 + x2l.
            let x2 = S::mul(x, x);
            let x2l = S::fma(x, x, neg(x2));
            let x3 = S::mul(x2, x);
            let x3l = S::fma(x2l, x, S::fma(x2, x, neg(x3)));
            // C3 x^3 and C1 x, each as hi + lo.
            let (c3, c3l, c1, c1l) = (
                S::splat(C3.0),
                S::splat(C3.1),
                S::splat(C1.0),
                S::splat(C1.1),
            );
            let p = S::mul(c3, x3);
            let pl = S::fma(c3, x3l, S::fma(c3l, x3, S::fma(c3, x3, neg(p))));
            let q = S::mul(c1, x);
            let ql = S::fma(c1l, x, S::fma(c1, x, neg(q)));
            // Two-sum of the high parts.
            let t = S::add(p, q);
            let bb = S::sub(t, p);
            let err = S::add(S::sub(p, S::sub(t, bb)), S::sub(q, bb));
            let lo = S::add(err, S::add(pl, ql));
            // e^{-(t + lo)} = e^{-t} (1 - lo) to first order (|lo| ~ 1e-7 |t|).
            let e = S::mul(exp_v::<S>(neg(t)), S::sub(S::splat(1.0), lo));
            let y = neg_tail_zero::<S>(x, S::div(x, S::add(S::splat(1.0), e)));
            // Beyond 10 the result is x exactly (e^{-2u} < 2e-38); this also keeps +inf,
            // where the split products above would produce inf - inf.
            S::select(S::lt(S::splat(10.0), x), x, y)
        }
    }
}
