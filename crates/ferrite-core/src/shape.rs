//! Shapes, strides and NumPy broadcasting.

use crate::error::{shape_err, Result};
use smallvec::SmallVec;

/// A shape or a stride list; almost always ≤ 6 axes, so it lives inline.
pub type Dims = SmallVec<[usize; 6]>;
/// Strides in elements; negative for reversed slices.
pub type Strides = SmallVec<[isize; 6]>;

/// Number of elements of a shape (1 for a scalar), `None` on overflow.
pub fn numel_checked(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Number of elements; callers have validated the shape when it was built.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of a contiguous array of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Strides {
    let mut strides: Strides = SmallVec::from_elem(0, shape.len());
    let mut acc = 1isize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc *= d.max(1) as isize;
    }
    strides
}

/// Resolves a possibly negative axis against `ndim`.
pub fn normalize_axis(op: &'static str, axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n {
        return shape_err(
            op,
            format!("axis {axis} is out of range for an array with {ndim} dimensions"),
        );
    }
    Ok(a as usize)
}

/// Resolves a list of axes, rejecting duplicates.
pub fn normalize_axes(op: &'static str, axes: &[isize], ndim: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = normalize_axis(op, a, ndim)?;
        if out.contains(&a) {
            return shape_err(op, format!("axis {a} appears more than once"));
        }
        out.push(a);
    }
    out.sort_unstable();
    Ok(out)
}

/// The broadcast shape of two shapes under NumPy rules.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return shape_err(
                    op,
                    format!("shapes {a:?} and {b:?} cannot be broadcast together"),
                );
            }
        };
    }
    Ok(out)
}

/// Strides that read an array of `shape`/`strides` as if broadcast to `target`
/// (stride 0 along broadcast axes). `shape` must broadcast to `target`.
pub fn broadcast_strides(shape: &[usize], strides: &[isize], target: &[usize]) -> Strides {
    let offset = target.len() - shape.len();
    let mut out: Strides = SmallVec::from_elem(0, target.len());
    for i in 0..shape.len() {
        if shape[i] != 1 || target[i + offset] == 1 {
            out[i + offset] = strides[i];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting() {
        assert_eq!(
            broadcast_shapes("t", &[3, 1, 5], &[4, 1])
                .unwrap()
                .as_slice(),
            &[3, 4, 5]
        );
        assert!(broadcast_shapes("t", &[3], &[4]).is_err());
        assert_eq!(
            broadcast_shapes("t", &[0, 1], &[1, 7]).unwrap().as_slice(),
            &[0, 7]
        );
        assert_eq!(
            broadcast_strides(&[4, 1], &[1, 1], &[3, 4, 5]).as_slice(),
            &[0, 1, 0]
        );
    }

    #[test]
    fn strides() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
        assert!(normalize_axes("t", &[0, -3], 3).is_err());
    }
}
