//! Element types and validated strided matrix views.

use crate::KernelError;
use half::{bf16, f16};

/// Storage type of a matrix element, see [`Element::KIND`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElemKind {
    /// IEEE binary32.
    F32,
    /// bfloat16 ([`half::bf16`]).
    Bf16,
    /// IEEE binary16 ([`half::f16`]).
    F16,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::bf16 {}
    impl Sealed for half::f16 {}
}

/// A floating-point element type the kernels can read: `f32`, `bf16` or `f16`.
/// Sealed: the kernels rely on `KIND` describing the exact bit layout.
pub trait Element: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The storage format, used to pick kernels at compile time.
    const KIND: ElemKind;
    /// Exact widening conversion.
    fn to_f32(self) -> f32;
}

impl Element for f32 {
    const KIND: ElemKind = ElemKind::F32;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

impl Element for bf16 {
    const KIND: ElemKind = ElemKind::Bf16;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f32::from_bits(u32::from(self.to_bits()) << 16)
    }
}

impl Element for f16 {
    const KIND: ElemKind = ElemKind::F16;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// Loads `S::LANES` consecutive elements of type `T` at `p`, widened to f32.
///
/// # Safety
/// `p` must be valid for `S::LANES` reads and `S` usable (see [`crate::simd`]).
#[inline(always)]
pub(crate) unsafe fn load_as_f32<S: crate::simd::Simd, T: Element>(p: *const T) -> S::V {
    // `KIND` is a constant, so each instantiation keeps exactly one arm; the casts are
    // exact reinterpretations because `KIND` names the concrete type.
    unsafe {
        match T::KIND {
            ElemKind::F32 => S::load(p.cast()),
            ElemKind::Bf16 => S::load_bf16(p.cast()),
            ElemKind::F16 => S::load_f16(p.cast()),
        }
    }
}

/// A read-only strided matrix view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
///
/// Strides are in elements, so a transposed operand is the same data with the strides (and
/// the dimensions) swapped, see [`MatRef::t`]. Construction checks that every element is
/// inside `data`, which is what lets the kernels read it without bounds checks.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A view with explicit strides. Zero strides (broadcasting) are allowed.
    ///
    /// # Errors
    /// [`KernelError::OutOfBounds`] if the last element lies outside `data` or the extent
    /// overflows `usize`. An empty view (zero rows or columns) is always accepted.
    pub fn new(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self, KernelError> {
        let err = KernelError::OutOfBounds {
            rows,
            cols,
            row_stride,
            col_stride,
            len: data.len(),
        };
        if rows > 0 && cols > 0 {
            let last = (rows - 1)
                .checked_mul(row_stride)
                .zip((cols - 1).checked_mul(col_stride))
                .and_then(|(r, c)| r.checked_add(c));
            match last {
                Some(last) if last < data.len() => {}
                _ => return Err(err),
            }
        }
        Ok(MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A dense row-major `rows x cols` view (row stride `cols`, column stride 1).
    ///
    /// # Errors
    /// [`KernelError::OutOfBounds`] if `data` is shorter than `rows * cols`.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self, KernelError> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transposed view (no data is touched).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Elements between consecutive rows.
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }

    /// Elements between consecutive columns.
    pub fn col_stride(&self) -> usize {
        self.col_stride
    }

    /// The backing slice.
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// Pointer to element `(i, j)`; in bounds for `i < rows`, `j < cols` by construction.
    #[inline(always)]
    pub(crate) fn ptr_at(&self, i: usize, j: usize) -> *const T {
        debug_assert!(i < self.rows && j < self.cols);
        self.data
            .as_ptr()
            .wrapping_add(i * self.row_stride + j * self.col_stride)
    }
}

impl<T: Copy> MatRef<'_, T> {
    /// Element `(i, j)`, or `None` outside the view.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        (i < self.rows && j < self.cols)
            .then(|| self.data[i * self.row_stride + j * self.col_stride])
    }
}

/// Checks that a row-major `rows x cols` output with row stride `ld` fits in `len`.
pub(crate) fn check_out(
    rows: usize,
    cols: usize,
    ld: usize,
    len: usize,
) -> Result<(), KernelError> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if ld < cols {
        return Err(KernelError::Mismatch {
            what: "output row stride must be at least the column count",
            expected: cols,
            got: ld,
        });
    }
    let need = (rows - 1)
        .checked_mul(ld)
        .and_then(|r| r.checked_add(cols))
        .unwrap_or(usize::MAX);
    if need > len {
        return Err(KernelError::Mismatch {
            what: "output slice length",
            expected: need,
            got: len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let d = [0.0f32; 12];
        assert!(MatRef::row_major(&d, 3, 4).is_ok());
        assert!(MatRef::row_major(&d, 4, 4).is_err());
        assert!(MatRef::new(&d, 4, 3, 1, 4).is_ok());
        assert!(MatRef::new(&d, 2, 2, usize::MAX, 1).is_err());
        assert!(MatRef::new(&d[..0], 0, 5, 7, 7).is_ok());
        let m = MatRef::new(&d, 3, 4, 4, 1).map(MatRef::t);
        assert_eq!(m.ok().and_then(|m| m.get(3, 2)), Some(0.0));
        assert!(check_out(2, 3, 2, 100).is_err());
        assert!(check_out(2, 3, 4, 7).is_ok());
        assert!(check_out(2, 3, 4, 6).is_err());
    }
}
