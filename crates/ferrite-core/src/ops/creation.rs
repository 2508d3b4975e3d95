//! Arrays made from nothing: constants, ranges and seeded random numbers.

use crate::array::Array;
use crate::dtype::DType;
use crate::error::{arg_err, Error, Result};
use crate::ops::computable;
use crate::prim::Prim;
use crate::shape::{numel_checked, Dims};

fn checked_shape(op: &'static str, shape: &[usize]) -> Result<()> {
    numel_checked(shape)
        .map(|_| ())
        .ok_or_else(|| Error::Shape {
            op,
            msg: format!("shape {shape:?} overflows"),
        })
}

impl Array {
    /// An array of `shape` with every element equal to `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Array> {
        checked_shape("full", shape)?;
        computable("full", dtype)?;
        Ok(Array::pending(
            shape.into(),
            dtype,
            Prim::Full { value },
            vec![],
        ))
    }

    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Array> {
        Array::full(shape, 0.0, dtype)
    }

    pub fn ones(shape: &[usize], dtype: DType) -> Result<Array> {
        Array::full(shape, 1.0, dtype)
    }

    /// A 0-d constant of this array's dtype, for ops with a Python-style
    /// scalar operand that should not promote the array (MLX's weak scalars).
    pub fn scalar_like(&self, value: f64) -> Result<Array> {
        // A fractional value promotes an integer array to f32, as in MLX.
        let dtype = if !self.dtype().is_float() && value.fract() != 0.0 {
            DType::F32
        } else {
            self.dtype()
        };
        Array::full(&[], value, dtype)
    }

    /// `[start, start + step, ...)` up to (excluding) `stop`.
    pub fn arange(start: f64, stop: f64, step: f64, dtype: DType) -> Result<Array> {
        computable("arange", dtype)?;
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
            return arg_err(
                "arange",
                format!("invalid range start={start} stop={stop} step={step}"),
            );
        }
        let n = ((stop - start) / step).ceil().max(0.0);
        if n > (1u64 << 40) as f64 {
            return arg_err("arange", format!("range of {n} elements is too large"));
        }
        // Integer ranges step by the difference of their first two values
        // truncated, as in MLX and NumPy: arange(0, 5, 1.5) as i32 is [0, 1, 2, 3].
        let (start, step) = if dtype.is_integer() {
            (start.trunc(), (start + step).trunc() - start.trunc())
        } else {
            (start, step)
        };
        Ok(Array::pending(
            Dims::from_slice(&[n as usize]),
            dtype,
            Prim::Arange { start, step },
            vec![],
        ))
    }

    /// Normal samples; the same seed and shape always give the same values,
    /// whatever the thread count.
    pub fn random_normal(
        shape: &[usize],
        mean: f64,
        std: f64,
        seed: u64,
        dtype: DType,
    ) -> Result<Array> {
        checked_shape("random_normal", shape)?;
        crate::ops::floating("random_normal", dtype)?;
        Ok(Array::pending(
            shape.into(),
            dtype,
            Prim::RandomNormal { seed, mean, std },
            vec![],
        ))
    }

    /// Uniform samples in `[low, high)`, reproducible from the seed.
    pub fn random_uniform(
        shape: &[usize],
        low: f64,
        high: f64,
        seed: u64,
        dtype: DType,
    ) -> Result<Array> {
        checked_shape("random_uniform", shape)?;
        crate::ops::floating("random_uniform", dtype)?;
        if low.partial_cmp(&high) != Some(std::cmp::Ordering::Less) {
            return arg_err(
                "random_uniform",
                format!("low {low} must be below high {high}"),
            );
        }
        Ok(Array::pending(
            shape.into(),
            dtype,
            Prim::RandomUniform { seed, low, high },
            vec![],
        ))
    }
}
