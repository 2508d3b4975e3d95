//! Element-wise ops with NumPy broadcasting and type promotion.

use crate::array::Array;
use crate::dtype::DType;
use crate::error::{dtype_err, Result};
use crate::ops::computable;
use crate::prim::{BinaryOp, Prim, UnaryOp};
use crate::shape::broadcast_shapes;

/// The dtype a unary op produces: transcendental functions of integers give
/// f32 (as MLX does), sign/magnitude ops keep the input type.
fn unary_out_dtype(op: UnaryOp, dtype: DType) -> DType {
    use UnaryOp::*;
    match op {
        LogicalNot => DType::Bool,
        Neg | Abs | Square | Relu | Relu2 => dtype,
        _ if dtype.is_float() => dtype,
        _ => DType::F32,
    }
}

impl Array {
    pub(crate) fn unary(&self, op: UnaryOp) -> Result<Array> {
        computable("unary", self.dtype())?;
        if matches!(op, UnaryOp::Neg) && self.dtype() == DType::Bool {
            return dtype_err("negative", DType::Bool, "use logical_not for booleans");
        }
        let out = unary_out_dtype(op, self.dtype());
        Ok(Array::pending(
            self.shape().into(),
            out,
            Prim::Unary(op),
            vec![self.clone()],
        ))
    }

    pub(crate) fn binary(&self, other: &Array, op: BinaryOp) -> Result<Array> {
        computable("binary", self.dtype())?;
        computable("binary", other.dtype())?;
        let shape = broadcast_shapes("binary", self.shape(), other.shape())?;
        let promoted = DType::promote(self.dtype(), other.dtype()).unwrap_or(DType::F32);
        let (a, b) = (self.astype(promoted)?, other.astype(promoted)?);
        let out = match op {
            op if op.is_comparison() => DType::Bool,
            // True division, as in NumPy and MLX: integers divide to f32.
            BinaryOp::Div if !promoted.is_float() => {
                let (a, b) = (a.astype(DType::F32)?, b.astype(DType::F32)?);
                return Ok(Array::pending(
                    shape,
                    DType::F32,
                    Prim::Binary(op),
                    vec![a, b],
                ));
            }
            _ => promoted,
        };
        Ok(Array::pending(shape, out, Prim::Binary(op), vec![a, b]))
    }

    /// Converts to `dtype` (a no-op returning `self` if it already is).
    pub fn astype(&self, dtype: DType) -> Result<Array> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        computable("astype", self.dtype())?;
        computable("astype", dtype)?;
        Ok(Array::pending(
            self.shape().into(),
            dtype,
            Prim::Cast,
            vec![self.clone()],
        ))
    }

    /// A row-major contiguous copy (the data is copied even if it already is).
    pub fn contiguous(&self) -> Result<Array> {
        computable("contiguous", self.dtype())?;
        Ok(Array::pending(
            self.shape().into(),
            self.dtype(),
            Prim::Cast,
            vec![self.clone()],
        ))
    }

    /// `where(cond, a, b)`: elements of `a` where `cond` is true (non-zero), else of `b`.
    pub fn where_(cond: &Array, a: &Array, b: &Array) -> Result<Array> {
        computable("where", cond.dtype())?;
        computable("where", a.dtype())?;
        computable("where", b.dtype())?;
        let shape = broadcast_shapes("where", cond.shape(), a.shape())?;
        let shape = broadcast_shapes("where", &shape, b.shape())?;
        let promoted = DType::promote(a.dtype(), b.dtype()).unwrap_or(DType::F32);
        let inputs = vec![
            cond.astype(DType::Bool)?,
            a.astype(promoted)?,
            b.astype(promoted)?,
        ];
        Ok(Array::pending(shape, promoted, Prim::Where, inputs))
    }
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {
        impl Array { $( $(#[$doc])* pub fn $name(&self) -> Result<Array> { self.unary(UnaryOp::$op) } )* }
    };
}

macro_rules! binary_ops {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {
        impl Array { $( $(#[$doc])* pub fn $name(&self, other: &Array) -> Result<Array> { self.binary(other, BinaryOp::$op) } )* }
    };
}

unary_ops! {
    negative => Neg, abs => Abs, exp => Exp, log => Log, sqrt => Sqrt, rsqrt => Rsqrt,
    square => Square, sin => Sin, cos => Cos, tanh => Tanh, sigmoid => Sigmoid,
    /// `x * sigmoid(x)`.
    silu => Silu,
    /// GELU with the exact erf.
    gelu => GeluErf,
    /// GELU with the tanh approximation.
    gelu_tanh => GeluTanh,
    relu => Relu,
    /// `relu(x)²`, as in some recent LLMs.
    relu2 => Relu2,
    logical_not => LogicalNot,
}

binary_ops! {
    add => Add, sub => Sub, mul => Mul,
    /// True division (integers divide to f32).
    div => Div,
    pow => Pow, maximum => Maximum, minimum => Minimum,
    eq => Eq, ne => Ne, lt => Lt, le => Le, gt => Gt, ge => Ge,
}

impl Array {
    /// `self + value`, keeping this array's dtype.
    pub fn add_scalar(&self, value: f64) -> Result<Array> {
        self.add(&self.scalar_like(value)?)
    }

    /// `self * value`, keeping this array's dtype.
    pub fn mul_scalar(&self, value: f64) -> Result<Array> {
        self.mul(&self.scalar_like(value)?)
    }
}
