//! Element-wise math on tiles of registers. The f32 domain uses the SIMD
//! kernels of `ferrite-kernels`; f64 (exact integer arithmetic) stays scalar.

use crate::access::Real;
use ferrite_core::prim::{BinaryOp, UnaryOp};

/// Per-element functions in both domains.
pub trait Math: Real {
    fn unary(op: UnaryOp, x: &mut [Self]);
    fn binary(op: BinaryOp, a: &[Self], b: &[Self], out: &mut [Self]);
}

macro_rules! scalar_unary {
    ($t:ty, $op:expr, $x:expr, $erf:path) => {{
        use std::f64::consts::FRAC_2_SQRT_PI;
        let f: fn($t) -> $t = match $op {
            UnaryOp::Neg => |v| -v,
            UnaryOp::Abs => |v| v.abs(),
            UnaryOp::Exp => |v| v.exp(),
            UnaryOp::Log => |v| v.ln(),
            UnaryOp::Sqrt => |v| v.sqrt(),
            UnaryOp::Rsqrt => |v| 1.0 / v.sqrt(),
            UnaryOp::Square => |v| v * v,
            UnaryOp::Sin => |v| v.sin(),
            UnaryOp::Cos => |v| v.cos(),
            UnaryOp::Tanh => |v| v.tanh(),
            UnaryOp::Sigmoid => |v| 1.0 / (1.0 + (-v).exp()),
            UnaryOp::Silu => |v| v / (1.0 + (-v).exp()),
            UnaryOp::GeluErf => |v| 0.5 * v * (1.0 + $erf(v / std::f64::consts::SQRT_2 as $t)),
            UnaryOp::GeluTanh => |v| {
                let c = (FRAC_2_SQRT_PI / std::f64::consts::SQRT_2) as $t;
                0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())
            },
            // NaN passes through, as in MLX's maximum(x, 0).
            UnaryOp::Relu => |v| if v < 0.0 { 0.0 } else { v },
            UnaryOp::Relu2 => |v| if v < 0.0 { 0.0 } else { v * v },
            UnaryOp::LogicalNot => |v| if v == 0.0 { 1.0 } else { 0.0 },
        };
        $x.iter_mut().for_each(|v| *v = f(*v));
    }};
}

macro_rules! scalar_binary {
    ($t:ty, $op:expr, $a:expr, $b:expr, $out:expr) => {{
        fn bool_of(c: bool) -> $t {
            if c { 1.0 } else { 0.0 }
        }
        let f: fn($t, $t) -> $t = match $op {
            BinaryOp::Add => |x, y| x + y,
            BinaryOp::Sub => |x, y| x - y,
            BinaryOp::Mul => |x, y| x * y,
            BinaryOp::Div => |x, y| x / y,
            BinaryOp::Pow => |x, y| x.powf(y),
            // NaN-propagating, like MLX (f32::max would drop the NaN).
            BinaryOp::Maximum => |x, y| if x.is_nan() || x > y { x } else { y },
            BinaryOp::Minimum => |x, y| if x.is_nan() || x < y { x } else { y },
            BinaryOp::Eq => |x, y| bool_of(x == y),
            BinaryOp::Ne => |x, y| bool_of(x != y),
            BinaryOp::Lt => |x, y| bool_of(x < y),
            BinaryOp::Le => |x, y| bool_of(x <= y),
            BinaryOp::Gt => |x, y| bool_of(x > y),
            BinaryOp::Ge => |x, y| bool_of(x >= y),
        };
        $out.iter_mut().zip($a.iter().zip($b)).for_each(|(o, (&x, &y))| *o = f(x, y));
    }};
}

impl Math for f64 {
    fn unary(op: UnaryOp, x: &mut [f64]) {
        scalar_unary!(f64, op, x, libm::erf)
    }
    fn binary(op: BinaryOp, a: &[f64], b: &[f64], out: &mut [f64]) {
        scalar_binary!(f64, op, a, b, out)
    }
}

impl Math for f32 {
    fn unary(op: UnaryOp, x: &mut [f32]) {
        use ferrite_kernels::UnaryOp as K;
        let simd = match op {
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
            // Cheap ops that the compiler vectorises from the scalar loop.
            _ => return scalar_unary!(f32, op, x, libm::erff),
        };
        ferrite_kernels::unary_inplace(simd, x);
    }
    fn binary(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
        scalar_binary!(f32, op, a, b, out)
    }
}
