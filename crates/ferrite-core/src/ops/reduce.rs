//! Reductions over any set of axes, with or without kept dimensions.

use crate::array::Array;
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::computable;
use crate::prim::{ArgReduceOp, Prim, ReduceOp};
use crate::shape::{normalize_axes, normalize_axis, Dims};

fn reduced_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Dims {
    let mut out = Dims::new();
    for (i, &d) in shape.iter().enumerate() {
        if !axes.contains(&i) {
            out.push(d);
        } else if keepdims {
            out.push(1);
        }
    }
    out
}

impl Array {
    /// Reduces over `axes` (all axes if empty).
    pub fn reduce(&self, op: ReduceOp, axes: &[isize], keepdims: bool) -> Result<Array> {
        computable("reduce", self.dtype())?;
        let axes = if axes.is_empty() {
            (0..self.ndim()).collect()
        } else {
            normalize_axes("reduce", axes, self.ndim())?
        };
        let extreme = matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::LogSumExp);
        if extreme && axes.iter().any(|&a| self.shape()[a] == 0) {
            // The max of nothing has no value (±inf would be made up), so MLX rejects it.
            return crate::error::shape_err(
                "reduce",
                format!(
                    "cannot take {op:?} over an empty axis: shape {:?}, axes {axes:?}",
                    self.shape()
                ),
            );
        }
        let dtype = match op {
            // Sums of booleans count; integer sums keep integer type (MLX widens small ones).
            ReduceOp::Sum
                if self.dtype() == DType::Bool
                    || self.dtype() == DType::U8
                    || self.dtype() == DType::I8 =>
            {
                DType::I32
            }
            ReduceOp::Sum | ReduceOp::Max | ReduceOp::Min => self.dtype(),
            _ if self.dtype().is_float() => self.dtype(),
            _ => DType::F32,
        };
        let shape = reduced_shape(self.shape(), &axes, keepdims);
        Ok(Array::pending(
            shape,
            dtype,
            Prim::Reduce { op, axes, keepdims },
            vec![self.clone()],
        ))
    }

    pub fn sum(&self, axes: &[isize], keepdims: bool) -> Result<Array> {
        self.reduce(ReduceOp::Sum, axes, keepdims)
    }

    pub fn mean(&self, axes: &[isize], keepdims: bool) -> Result<Array> {
        self.reduce(ReduceOp::Mean, axes, keepdims)
    }

    pub fn max(&self, axes: &[isize], keepdims: bool) -> Result<Array> {
        self.reduce(ReduceOp::Max, axes, keepdims)
    }

    pub fn min(&self, axes: &[isize], keepdims: bool) -> Result<Array> {
        self.reduce(ReduceOp::Min, axes, keepdims)
    }

    /// `log(sum(exp(x)))`, computed stably.
    pub fn logsumexp(&self, axes: &[isize], keepdims: bool) -> Result<Array> {
        self.reduce(ReduceOp::LogSumExp, axes, keepdims)
    }

    /// Variance, dividing by `n - ddof`.
    pub fn var(&self, axes: &[isize], keepdims: bool, ddof: u32) -> Result<Array> {
        self.reduce(ReduceOp::Var { ddof }, axes, keepdims)
    }

    fn arg_reduce(&self, op: ArgReduceOp, axis: isize, keepdims: bool) -> Result<Array> {
        computable("arg_reduce", self.dtype())?;
        let axis = normalize_axis("arg_reduce", axis, self.ndim())?;
        if self.shape()[axis] == 0 {
            return crate::error::shape_err(
                "arg_reduce",
                format!("cannot take argmax/argmin of empty axis {axis}"),
            );
        }
        let shape = reduced_shape(self.shape(), &[axis], keepdims);
        Ok(Array::pending(
            shape,
            DType::I32,
            Prim::ArgReduce { op, axis, keepdims },
            vec![self.clone()],
        ))
    }

    /// Index of the first maximum along `axis` (as i32).
    pub fn argmax(&self, axis: isize, keepdims: bool) -> Result<Array> {
        self.arg_reduce(ArgReduceOp::ArgMax, axis, keepdims)
    }

    /// Index of the first minimum along `axis`.
    pub fn argmin(&self, axis: isize, keepdims: bool) -> Result<Array> {
        self.arg_reduce(ArgReduceOp::ArgMin, axis, keepdims)
    }

    /// Over every axis: the index into the row-major flattened array (MLX's
    /// `axis=None`), shape `[]`, or all ones with `keepdims`.
    fn arg_reduce_all(&self, op: ArgReduceOp, keepdims: bool) -> Result<Array> {
        computable("arg_reduce", self.dtype())?;
        if self.size() == 0 {
            return crate::error::shape_err(
                "arg_reduce",
                format!(
                    "cannot take argmax/argmin of an empty array (shape {:?})",
                    self.shape()
                ),
            );
        }
        let index = self.flatten()?.arg_reduce(op, 0, false)?;
        if keepdims {
            index.reshape(&vec![1; self.ndim()])
        } else {
            Ok(index)
        }
    }

    /// Index of the first maximum over all axes, counted in the row-major
    /// flattened array (as i32; MLX's `argmax(x)` with `axis=None`). The
    /// result has shape `[]`, or one size-1 axis per input axis with
    /// `keepdims`. An empty array is rejected.
    pub fn argmax_all(&self, keepdims: bool) -> Result<Array> {
        self.arg_reduce_all(ArgReduceOp::ArgMax, keepdims)
    }

    /// Index of the first minimum over all axes, as [`Array::argmax_all`].
    pub fn argmin_all(&self, keepdims: bool) -> Result<Array> {
        self.arg_reduce_all(ArgReduceOp::ArgMin, keepdims)
    }
}
