//! Matrix products with NumPy `matmul` semantics.

use crate::array::Array;
use crate::dtype::DType;
use crate::error::{dtype_err, shape_err, Result};
use crate::prim::Prim;
use crate::shape::{broadcast_shapes, Dims};

impl Array {
    /// `self @ other`: batched over leading axes with broadcasting; a 1-D
    /// operand is a row (left) or column (right) vector, as in NumPy.
    pub fn matmul(&self, other: &Array) -> Result<Array> {
        matmul_impl(self, other, None)
    }

    /// `self @ other + bias` in one kernel (bias broadcast onto the result).
    pub fn matmul_bias(&self, other: &Array, bias: &Array) -> Result<Array> {
        matmul_impl(self, other, Some(bias))
    }
}

fn float_operand(x: &Array, promoted: DType) -> Result<Array> {
    if x.dtype().is_float() {
        Ok(x.clone())
    } else {
        x.astype(promoted)
    }
}

fn matmul_impl(a: &Array, b: &Array, bias: Option<&Array>) -> Result<Array> {
    let dtype = DType::promote(a.dtype(), b.dtype()).unwrap_or(a.dtype());
    if !dtype.is_float() {
        return dtype_err("matmul", dtype, "matmul needs floating-point operands");
    }
    if a.ndim() == 0 || b.ndim() == 0 {
        return shape_err("matmul", "operands must have at least one axis");
    }
    let a2 = if a.ndim() == 1 {
        a.reshape(&[1, a.shape()[0] as isize])?
    } else {
        a.clone()
    };
    let b2 = if b.ndim() == 1 {
        b.reshape(&[b.shape()[0] as isize, 1])?
    } else {
        b.clone()
    };
    let (m, k) = (a2.shape()[a2.ndim() - 2], a2.shape()[a2.ndim() - 1]);
    let (kb, n) = (b2.shape()[b2.ndim() - 2], b2.shape()[b2.ndim() - 1]);
    if k != kb {
        return shape_err(
            "matmul",
            format!("inner dimensions differ: {:?} @ {:?}", a.shape(), b.shape()),
        );
    }
    let batch = broadcast_shapes(
        "matmul",
        &a2.shape()[..a2.ndim() - 2],
        &b2.shape()[..b2.ndim() - 2],
    )?;
    let full = |rows: usize, cols: usize| -> Dims {
        let mut s = batch.clone();
        s.push(rows);
        s.push(cols);
        s
    };
    // Float operands keep their own dtypes: the kernels widen each one while packing,
    // which gives the promoted product exactly without materialising a converted copy
    // (an f32 activation times bf16 weights must not copy the weights every call).
    let a3 = float_operand(&a2, dtype)?.broadcast_to(&full(m, k))?;
    let b3 = float_operand(&b2, dtype)?.broadcast_to(&full(k, n))?;
    let out_shape = full(m, n);
    if crate::shape::numel_checked(&out_shape).is_none() {
        return shape_err("matmul", format!("result shape {out_shape:?} overflows"));
    }
    let mut inputs = vec![a3, b3];
    if let Some(bias) = bias {
        let shape = broadcast_shapes("matmul", bias.shape(), &out_shape)?;
        if shape != out_shape {
            return shape_err(
                "matmul",
                format!(
                    "bias {:?} does not broadcast to {out_shape:?}",
                    bias.shape()
                ),
            );
        }
        inputs.push(bias.astype(dtype)?.broadcast_to(&out_shape)?);
    }
    let out = Array::pending(
        out_shape.clone(),
        dtype,
        Prim::MatMul {
            has_bias: bias.is_some(),
        },
        inputs,
    );
    // Drop the axes that 1-D operands gained, as NumPy does.
    let mut final_shape: Vec<isize> = batch.iter().map(|&d| d as isize).collect();
    if a.ndim() > 1 {
        final_shape.push(m as isize);
    }
    if b.ndim() > 1 {
        final_shape.push(n as isize);
    }
    out.reshape(&final_shape)
}
