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

    /// This array with `update` written over positions `start..start + n` of `axis`
    /// (`n = update.shape()[axis]`; every other axis must match). `update` is
    /// converted to this array's dtype.
    ///
    /// The result is a new array as always, but when this array's buffer is seen by
    /// nothing else at evaluation time (no other handle, view or later consumer),
    /// the backend writes `update` into that buffer in place: an append to a
    /// preallocated cache costs the appended elements, not a copy of the cache.
    ///
    /// ```
    /// use ferrite_core::Array;
    /// let cache = Array::zeros(&[2, 4], ferrite_core::DType::F32)?;
    /// let row = Array::from_slice(&[1.0f32, 2.0], &[2, 1])?;
    /// let cache = cache.slice_update(&row, 1, 2)?; // columns 2..3 of each row
    /// assert_eq!(cache.shape(), [2, 4]);
    /// # Ok::<(), ferrite_core::Error>(())
    /// ```
    pub fn slice_update(&self, update: &Array, axis: isize, start: usize) -> Result<Array> {
        computable("slice_update", self.dtype())?;
        computable("slice_update", update.dtype())?;
        let axis = normalize_axis("slice_update", axis, self.ndim())?;
        let fits = update.ndim() == self.ndim()
            && (0..self.ndim()).all(|i| i == axis || update.shape()[i] == self.shape()[i])
            && start
                .checked_add(update.shape()[axis])
                .is_some_and(|end| end <= self.shape()[axis]);
        if !fits {
            return shape_err(
                "slice_update",
                format!(
                    "cannot write {:?} at {start} of axis {axis} of {:?}",
                    update.shape(),
                    self.shape()
                ),
            );
        }
        Ok(Array::pending(
            self.shape().into(),
            self.dtype(),
            Prim::SliceUpdate { axis, start },
            vec![self.clone(), update.astype(self.dtype())?],
        ))
    }
}
