//! Element-wise math on tiles of registers. The f32 domain uses the SIMD
//! kernels of `ferrite-kernels`; f64 (exact integer arithmetic) stays scalar.

use crate::access::Real;
use ferrite_core::prim::{BinaryOp, UnaryOp};

/// Per-element functions in both domains.
pub trait Math: Real {
    /// `dst[i] = op(src[i])`.
    fn unary(op: UnaryOp, src: &[Self], dst: &mut [Self]);
    fn binary(op: BinaryOp, a: &[Self], b: &[Self], out: &mut [Self]);
    /// `dst[i] = op(x[i]) * y[i]`, exactly as `unary` then `binary(Mul)`.
    fn unary_mul(op: UnaryOp, x: &[Self], y: &[Self], dst: &mut [Self]);
}

/// Applies `f` to every element; generic so each op gets its own inlined,
/// vectorisable loop instead of an indirect call per element.
#[inline(always)]
fn map1<T: Copy>(x: &mut [T], f: impl Fn(T) -> T) {
    x.iter_mut().for_each(|v| *v = f(*v));
}

#[inline(always)]
fn map2<T: Copy>(a: &[T], b: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
    out.iter_mut()
        .zip(a.iter().zip(b))
        .for_each(|(o, (&x, &y))| *o = f(x, y));
}

macro_rules! scalar_unary {
    ($t:ty, $op:expr, $x:expr, $erf:path) => {{
        use std::f64::consts::FRAC_2_SQRT_PI;
        let x = $x;
        match $op {
            UnaryOp::Neg => map1(x, |v: $t| -v),
            UnaryOp::Abs => map1(x, |v: $t| v.abs()),
            UnaryOp::Exp => map1(x, |v: $t| v.exp()),
            UnaryOp::Log => map1(x, |v: $t| v.ln()),
            UnaryOp::Sqrt => map1(x, |v: $t| v.sqrt()),
            UnaryOp::Rsqrt => map1(x, |v: $t| 1.0 / v.sqrt()),
            UnaryOp::Square => map1(x, |v: $t| v * v),
            UnaryOp::Sin => map1(x, |v: $t| v.sin()),
            UnaryOp::Cos => map1(x, |v: $t| v.cos()),
            UnaryOp::Tanh => map1(x, |v: $t| v.tanh()),
            UnaryOp::Sigmoid => map1(x, |v: $t| 1.0 / (1.0 + (-v).exp())),
            UnaryOp::Silu => map1(x, |v: $t| v / (1.0 + (-v).exp())),
            UnaryOp::GeluErf => map1(x, |v: $t| {
                0.5 * v * (1.0 + $erf(v / std::f64::consts::SQRT_2 as $t))
            }),
            UnaryOp::GeluTanh => map1(x, |v: $t| {
                let c = (FRAC_2_SQRT_PI / std::f64::consts::SQRT_2) as $t;
                0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())
            }),
            // max(x, 0) as MLX computes it: NaN passes through and -0 gives +0
            // (`<=`, not `<`: -0.0 < 0.0 is false, which would keep the sign).
            UnaryOp::Relu => map1(x, |v: $t| if v <= 0.0 { 0.0 } else { v }),
            UnaryOp::Relu2 => map1(x, |v: $t| if v < 0.0 { 0.0 } else { v * v }),
            UnaryOp::LogicalNot => map1(x, |v| if v == 0.0 { 1.0 } else { 0.0 }),
        }
    }};
}

macro_rules! scalar_binary {
    ($t:ty, $op:expr, $a:expr, $b:expr, $out:expr) => {{
        let (a, b, out) = ($a, $b, $out);
        fn bool_of(c: bool) -> $t {
            if c {
                1.0
            } else {
                0.0
            }
        }
        match $op {
            BinaryOp::Add => map2(a, b, out, |x: $t, y: $t| x + y),
            BinaryOp::Sub => map2(a, b, out, |x: $t, y: $t| x - y),
            BinaryOp::Mul => map2(a, b, out, |x: $t, y: $t| x * y),
            BinaryOp::Div => map2(a, b, out, |x: $t, y: $t| x / y),
            BinaryOp::Pow => map2(a, b, out, |x: $t, y: $t| x.powf(y)),
            // NaN-propagating, like MLX (f32::max would drop the NaN).
            BinaryOp::Maximum => map2(
                a,
                b,
                out,
                |x: $t, y: $t| if x.is_nan() || x > y { x } else { y },
            ),
            BinaryOp::Minimum => map2(
                a,
                b,
                out,
                |x: $t, y: $t| if x.is_nan() || x < y { x } else { y },
            ),
            BinaryOp::Eq => map2(a, b, out, |x: $t, y: $t| bool_of(x == y)),
            BinaryOp::Ne => map2(a, b, out, |x: $t, y: $t| bool_of(x != y)),
            BinaryOp::Lt => map2(a, b, out, |x: $t, y: $t| bool_of(x < y)),
            BinaryOp::Le => map2(a, b, out, |x: $t, y: $t| bool_of(x <= y)),
            BinaryOp::Gt => map2(a, b, out, |x: $t, y: $t| bool_of(x > y)),
            BinaryOp::Ge => map2(a, b, out, |x: $t, y: $t| bool_of(x >= y)),
        }
    }};
}

impl Math for f64 {
    fn unary(op: UnaryOp, src: &[f64], dst: &mut [f64]) {
        dst.copy_from_slice(src);
        scalar_unary!(f64, op, dst, libm::erf)
    }
    fn binary(op: BinaryOp, a: &[f64], b: &[f64], out: &mut [f64]) {
        scalar_binary!(f64, op, a, b, out)
    }
    fn unary_mul(op: UnaryOp, x: &[f64], y: &[f64], dst: &mut [f64]) {
        Self::unary(op, x, dst);
        dst.iter_mut().zip(y).for_each(|(d, &b)| *d *= b);
    }
}

/// The SIMD kernel of `op`; `None` for cheap ops that the compiler vectorises from the
/// scalar loop.
fn kernel_op(op: UnaryOp) -> Option<ferrite_kernels::UnaryOp> {
    use ferrite_kernels::UnaryOp as K;
    Some(match op {
        UnaryOp::Exp => K::Exp,
        UnaryOp::Log => K::Log,
        UnaryOp::Sqrt => K::Sqrt,
        UnaryOp::Rsqrt => K::Rsqrt,
        UnaryOp::Tanh => K::Tanh,
        UnaryOp::Sigmoid => K::Sigmoid,
        UnaryOp::Silu => K::Silu,
        UnaryOp::GeluErf => K::GeluErf,
        UnaryOp::GeluTanh => K::GeluTanh,
        UnaryOp::Sin => K::Sin,
        UnaryOp::Cos => K::Cos,
        _ => return None,
    })
}

impl Math for f32 {
    fn unary(op: UnaryOp, src: &[f32], dst: &mut [f32]) {
        match kernel_op(op) {
            // Reading `src` directly saves a copy through the destination tile. The
            // lengths match (both are one tile).
            Some(k) => {
                let _ = ferrite_kernels::unary(k, src, dst);
            }
            None => {
                dst.copy_from_slice(src);
                scalar_unary!(f32, op, dst, libm::erff)
            }
        }
    }
    fn binary(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
        scalar_binary!(f32, op, a, b, out)
    }
    fn unary_mul(op: UnaryOp, x: &[f32], y: &[f32], dst: &mut [f32]) {
        match kernel_op(op) {
            // All three are one tile long.
            Some(k) => {
                let _ = ferrite_kernels::unary_mul(k, x, y, dst);
            }
            None => {
                Self::unary(op, x, dst);
                dst.iter_mut().zip(y).for_each(|(d, &b)| *d *= b);
            }
        }
    }
}
