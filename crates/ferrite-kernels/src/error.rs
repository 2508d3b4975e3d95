//! The crate's error type.

/// Why a kernel refused its arguments. Kernels validate every caller-supplied length,
/// shape and stride before touching memory, so bad input is an error, never UB.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// A strided matrix view reaches past the end of its slice (or its extent overflows).
    #[error(
        "matrix view {rows}x{cols} with strides ({row_stride}, {col_stride}) does not fit in {len} elements"
    )]
    OutOfBounds {
        /// Rows of the view.
        rows: usize,
        /// Columns of the view.
        cols: usize,
        /// Elements between consecutive rows.
        row_stride: usize,
        /// Elements between consecutive columns.
        col_stride: usize,
        /// Length of the backing slice.
        len: usize,
    },
    /// Two sizes that must agree do not.
    #[error("{what}: expected {expected}, got {got}")]
    Mismatch {
        /// Which quantity disagrees.
        what: &'static str,
        /// The size implied by the other arguments.
        expected: usize,
        /// The size that was passed.
        got: usize,
    },
}
