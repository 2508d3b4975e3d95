//! Views and shape changes: reshape, permute, slice with steps, broadcast,
//! plus concatenate and stack. Views never copy when evaluated.

use crate::array::Array;
use crate::error::{arg_err, shape_err, Result};
use crate::ops::computable;
use crate::prim::Prim;
use crate::shape::{broadcast_shapes, normalize_axis, numel, numel_checked, Dims};

/// One axis of a Python-style slice `start:stop:step`; `None` means "from the
/// end the step points away from", as in Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceArg {
    pub start: Option<isize>,
    pub stop: Option<isize>,
    pub step: isize,
}

impl SliceArg {
    /// `start:stop` with step 1.
    pub fn range(start: isize, stop: isize) -> SliceArg {
        SliceArg {
            start: Some(start),
            stop: Some(stop),
            step: 1,
        }
    }

    /// The whole axis (`:`).
    pub fn full() -> SliceArg {
        SliceArg {
            start: None,
            stop: None,
            step: 1,
        }
    }

    /// Python's `slice.indices`: the first index and the element count.
    fn resolve(self, len: usize) -> (usize, usize) {
        let n = len as isize;
        let clamp = |v: isize, lo: isize, hi: isize| v.max(lo).min(hi);
        let norm = |v: isize| if v < 0 { v + n } else { v };
        if self.step > 0 {
            let start = self.start.map_or(0, |s| clamp(norm(s), 0, n));
            let stop = self.stop.map_or(n, |s| clamp(norm(s), 0, n));
            // (span - 1) / step + 1 cannot overflow, whatever the step.
            let count = if stop > start {
                (stop - start - 1) / self.step + 1
            } else {
                0
            };
            (start as usize, count as usize)
        } else {
            let start = self.start.map_or(n - 1, |s| clamp(norm(s), -1, n - 1));
            let stop = self.stop.map_or(-1, |s| clamp(norm(s), -1, n - 1));
            let count = if start > stop {
                ((start - stop - 1) as usize / self.step.unsigned_abs()) as isize + 1
            } else {
                0
            };
            (start.max(0) as usize, count as usize)
        }
    }
}

impl Array {
    /// Same elements in a new shape; one axis may be `-1` (inferred).
    pub fn reshape(&self, shape: &[isize]) -> Result<Array> {
        let known = shape
            .iter()
            .filter(|&&d| d >= 0)
            .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize));
        let Some(known) = known else {
            return shape_err("reshape", format!("target shape {shape:?} overflows"));
        };
        let inferred = shape.iter().filter(|&&d| d < 0).count();
        if inferred > 1 || shape.iter().any(|&d| d < -1) {
            return shape_err("reshape", format!("invalid target shape {shape:?}"));
        }
        let mut dims: Dims = shape.iter().map(|&d| d.max(0) as usize).collect();
        if inferred == 1 {
            if known == 0 || !self.size().is_multiple_of(known) {
                return shape_err(
                    "reshape",
                    format!("cannot reshape {:?} into {shape:?}", self.shape()),
                );
            }
            if let Some(slot) = shape.iter().position(|&d| d < 0) {
                dims[slot] = self.size() / known;
            }
        }
        if numel_checked(&dims) != Some(self.size()) {
            return shape_err(
                "reshape",
                format!("cannot reshape {:?} into {shape:?}", self.shape()),
            );
        }
        if dims.as_slice() == self.shape() {
            return Ok(self.clone());
        }
        if self.dtype().is_block() {
            // Block data is a byte stream: only whole rows of blocks may regroup.
            let bs = self.dtype().block_size();
            if dims.last().is_none_or(|&d| d % bs != 0) {
                return shape_err(
                    "reshape",
                    format!("last axis of {dims:?} is not a whole number of blocks of {bs}"),
                );
            }
        }
        Ok(Array::pending(
            dims,
            self.dtype(),
            Prim::Reshape,
            vec![self.clone()],
        ))
    }

    /// Reorders axes: output axis `i` is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Array> {
        computable("permute", self.dtype())?;
        let n = self.ndim();
        let mut seen = vec![false; n];
        if perm.len() != n
            || perm
                .iter()
                .any(|&p| p >= n || std::mem::replace(&mut seen[p], true))
        {
            return shape_err(
                "permute",
                format!("{perm:?} is not a permutation of {n} axes"),
            );
        }
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let shape: Dims = perm.iter().map(|&p| self.shape()[p]).collect();
        Ok(Array::pending(
            shape,
            self.dtype(),
            Prim::Permute {
                perm: perm.to_vec(),
            },
            vec![self.clone()],
        ))
    }

    /// Reverses the axes (matrix transpose for 2-D arrays).
    pub fn transpose(&self) -> Result<Array> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permute(&perm)
    }

    /// Exchanges two axes.
    pub fn swapaxes(&self, a: isize, b: isize) -> Result<Array> {
        let (a, b) = (
            normalize_axis("swapaxes", a, self.ndim())?,
            normalize_axis("swapaxes", b, self.ndim())?,
        );
        let mut perm: Vec<usize> = (0..self.ndim()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Python-style slicing, one [`SliceArg`] per leading axis (missing trailing axes are whole).
    pub fn slice(&self, args: &[SliceArg]) -> Result<Array> {
        computable("slice", self.dtype())?;
        if args.len() > self.ndim() {
            return shape_err(
                "slice",
                format!("{} slice arguments for {} axes", args.len(), self.ndim()),
            );
        }
        let mut starts = Dims::new();
        let mut steps = Vec::new();
        let mut shape = Dims::new();
        for (axis, &len) in self.shape().iter().enumerate() {
            let arg = args.get(axis).copied().unwrap_or(SliceArg::full());
            if arg.step == 0 {
                return arg_err("slice", format!("step of axis {axis} is zero"));
            }
            let (start, count) = arg.resolve(len);
            starts.push(start);
            // A step only matters between two elements; a lone element's step
            // is 1 so stride arithmetic never multiplies a huge step.
            steps.push(if count > 1 { arg.step } else { 1 });
            shape.push(count);
        }
        if shape.contains(&0) {
            // An empty view reads nothing; its starts could point past the end
            // of the buffer (e.g. `x[3:]` of 3 rows), so keep the origin at 0.
            starts.iter_mut().for_each(|s| *s = 0);
        }
        if shape.as_slice() == self.shape() && steps.iter().all(|&s| s == 1) {
            return Ok(self.clone());
        }
        Ok(Array::pending(
            shape,
            self.dtype(),
            Prim::Slice { starts, steps },
            vec![self.clone()],
        ))
    }

    /// `start..stop` along one axis.
    pub fn slice_axis(&self, axis: isize, start: usize, stop: usize) -> Result<Array> {
        let axis = normalize_axis("slice", axis, self.ndim())?;
        let mut args = vec![SliceArg::full(); axis + 1];
        args[axis] = SliceArg::range(start as isize, stop as isize);
        self.slice(&args)
    }

    /// A stride-0 view with `shape` (NumPy broadcasting rules).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Array> {
        if numel_checked(shape).is_none() {
            return shape_err(
                "broadcast_to",
                format!("shape {shape:?} has more elements than fit in memory addresses"),
            );
        }
        computable("broadcast_to", self.dtype())?;
        let b = broadcast_shapes("broadcast_to", self.shape(), shape)?;
        if b.as_slice() != shape {
            return shape_err(
                "broadcast_to",
                format!("cannot broadcast {:?} to {shape:?}", self.shape()),
            );
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        Ok(Array::pending(
            shape.into(),
            self.dtype(),
            Prim::Broadcast,
            vec![self.clone()],
        ))
    }

    /// Like PyTorch's `expand`: `-1` keeps an axis, other sizes broadcast it.
    pub fn expand(&self, shape: &[isize]) -> Result<Array> {
        let offset = shape.len().checked_sub(self.ndim());
        let Some(offset) = offset else {
            return shape_err(
                "expand",
                format!("cannot expand {:?} to fewer axes {shape:?}", self.shape()),
            );
        };
        let mut target = Dims::new();
        for (i, &d) in shape.iter().enumerate() {
            match d {
                -1 if i >= offset => target.push(self.shape()[i - offset]),
                d if d >= 0 => target.push(d as usize),
                _ => return shape_err("expand", format!("invalid size {d} at axis {i}")),
            }
        }
        self.broadcast_to(&target)
    }

    /// Inserts a size-1 axis at `axis`.
    pub fn expand_dims(&self, axis: isize) -> Result<Array> {
        let axis = normalize_axis("expand_dims", axis, self.ndim() + 1)?;
        let mut shape: Vec<isize> = self.shape().iter().map(|&d| d as isize).collect();
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// Removes size-1 axes (all of them if `axes` is empty).
    pub fn squeeze(&self, axes: &[isize]) -> Result<Array> {
        let axes = crate::shape::normalize_axes("squeeze", axes, self.ndim())?;
        if let Some(&a) = axes.iter().find(|&&a| self.shape()[a] != 1) {
            return shape_err(
                "squeeze",
                format!("axis {a} has size {}, not 1", self.shape()[a]),
            );
        }
        let shape: Vec<isize> = (0..self.ndim())
            .filter(|i| {
                if axes.is_empty() {
                    self.shape()[*i] != 1
                } else {
                    !axes.contains(i)
                }
            })
            .map(|i| self.shape()[i] as isize)
            .collect();
        self.reshape(&shape)
    }

    /// Joins arrays along an existing axis (dtypes are promoted).
    pub fn concatenate(arrays: &[Array], axis: isize) -> Result<Array> {
        let Some(first) = arrays.first() else {
            return arg_err("concatenate", "no arrays given");
        };
        let axis = normalize_axis("concatenate", axis, first.ndim())?;
        let mut dtype = first.dtype();
        let mut shape: Dims = first.shape().into();
        shape[axis] = 0;
        for a in arrays {
            computable("concatenate", a.dtype())?;
            let same_rank = a.ndim() == first.ndim();
            if !same_rank || (0..a.ndim()).any(|i| i != axis && a.shape()[i] != first.shape()[i]) {
                return shape_err(
                    "concatenate",
                    format!(
                        "shapes {:?} and {:?} differ outside axis {axis}",
                        first.shape(),
                        a.shape()
                    ),
                );
            }
            shape[axis] =
                shape[axis]
                    .checked_add(a.shape()[axis])
                    .ok_or_else(|| crate::Error::Shape {
                        op: "concatenate",
                        msg: "the joined axis overflows".into(),
                    })?;
            dtype = crate::DType::promote(dtype, a.dtype()).unwrap_or(dtype);
        }
        if arrays.len() == 1 {
            return first.astype(dtype);
        }
        let inputs = arrays
            .iter()
            .map(|a| a.astype(dtype))
            .collect::<Result<Vec<_>>>()?;
        Ok(Array::pending(shape, dtype, Prim::Concat { axis }, inputs))
    }

    /// Joins arrays of one shape along a new axis.
    pub fn stack(arrays: &[Array], axis: isize) -> Result<Array> {
        let Some(first) = arrays.first() else {
            return arg_err("stack", "no arrays given");
        };
        if let Some(a) = arrays.iter().find(|a| a.shape() != first.shape()) {
            return shape_err(
                "stack",
                format!("shapes {:?} and {:?} differ", first.shape(), a.shape()),
            );
        }
        let axis = normalize_axis("stack", axis, first.ndim() + 1)?;
        let expanded = arrays
            .iter()
            .map(|a| a.expand_dims(axis as isize))
            .collect::<Result<Vec<_>>>()?;
        Array::concatenate(&expanded, axis as isize)
    }

    /// Collapses all axes into one.
    pub fn flatten(&self) -> Result<Array> {
        self.reshape(&[numel(self.shape()) as isize])
    }
}
