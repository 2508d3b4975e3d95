//! Gathering by index arrays. Indices are integers; negative ones count from
//! the end; an index out of range is an evaluation error, never a wild read.

use crate::array::Array;
use crate::error::{dtype_err, shape_err, Result};
use crate::ops::computable;
use crate::prim::Prim;
use crate::shape::{broadcast_shapes, normalize_axis, Dims};

fn integer_indices(op: &'static str, indices: &Array) -> Result<()> {
    if !indices.dtype().is_integer() {
        return dtype_err(op, indices.dtype(), "indices must be an integer array");
    }
    Ok(())
}

impl Array {
    /// NumPy's `take(a, indices, axis)`: the axis is replaced by the shape of
    /// `indices` (an embedding lookup is `table.take(&ids, 0)`).
    pub fn take(&self, indices: &Array, axis: isize) -> Result<Array> {
        computable("take", self.dtype())?;
        integer_indices("take", indices)?;
        let axis = normalize_axis("take", axis, self.ndim())?;
        if self.shape()[axis] == 0 && indices.size() > 0 {
            return shape_err("take", format!("cannot take from empty axis {axis}"));
        }
        let mut shape: Dims = self.shape()[..axis].into();
        shape.extend_from_slice(indices.shape());
        shape.extend_from_slice(&self.shape()[axis + 1..]);
        if crate::shape::numel_checked(&shape).is_none() {
            return shape_err("take", format!("result shape {shape:?} overflows"));
        }
        Ok(Array::pending(
            shape,
            self.dtype(),
            Prim::Take { axis },
            vec![self.clone(), indices.clone()],
        ))
    }

    /// Selects whole slices along `axis` with a 1-D index array.
    pub fn index_select(&self, axis: isize, indices: &Array) -> Result<Array> {
        if indices.ndim() != 1 {
            return shape_err(
                "index_select",
                format!("indices must be 1-D, got shape {:?}", indices.shape()),
            );
        }
        self.take(indices, axis)
    }

    /// NumPy's `take_along_axis`: `out[..., i, ...] = a[..., indices[..., i, ...], ...]`,
    /// with the other axes broadcast between `self` and `indices`.
    pub fn take_along_axis(&self, indices: &Array, axis: isize) -> Result<Array> {
        computable("take_along_axis", self.dtype())?;
        integer_indices("take_along_axis", indices)?;
        if indices.ndim() != self.ndim() {
            return shape_err(
                "take_along_axis",
                format!(
                    "indices have {} axes, the array has {}",
                    indices.ndim(),
                    self.ndim()
                ),
            );
        }
        let axis = normalize_axis("take_along_axis", axis, self.ndim())?;
        let mut a_shape: Dims = self.shape().into();
        a_shape[axis] = 1;
        let mut i_shape: Dims = indices.shape().into();
        i_shape[axis] = 1;
        let mut shape = broadcast_shapes("take_along_axis", &a_shape, &i_shape)?;
        shape[axis] = indices.shape()[axis];
        let mut src_shape = shape.clone();
        src_shape[axis] = self.shape()[axis];
        let src = self.broadcast_to(&src_shape)?;
        let idx = indices.broadcast_to(&shape)?;
        Ok(Array::pending(
            shape,
            self.dtype(),
            Prim::GatherAlong { axis },
            vec![src, idx],
        ))
    }
}
