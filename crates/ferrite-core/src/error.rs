//! The one error type of the array core. Messages start with the op name, as
//! in MLX (`"[matmul] ..."`), so a failure points at the line that built it.

use crate::DType;

/// Everything that can go wrong while building or evaluating arrays.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Shapes that cannot be combined, or an op argument that does not fit the shape.
    #[error("[{op}] {msg}")]
    Shape { op: &'static str, msg: String },
    /// A dtype an op does not accept.
    #[error("[{op}] unsupported dtype {dtype}: {msg}")]
    DType {
        op: &'static str,
        dtype: DType,
        msg: String,
    },
    /// A bad argument that is not about shapes or dtypes.
    #[error("[{op}] {msg}")]
    Argument { op: &'static str, msg: String },
    /// Raw data that does not match the shape and dtype it is given for.
    #[error("[{op}] {msg}")]
    Data { op: &'static str, msg: String },
    /// No backend has been installed to evaluate arrays.
    #[error("no backend installed: call ferrite_cpu::install() (or use the `ferrite` CLI) before evaluating arrays")]
    NoBackend,
    /// A backend failed while running a primitive.
    #[error("[{op}] backend error: {msg}")]
    Backend { op: &'static str, msg: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn shape_err<T>(op: &'static str, msg: impl Into<String>) -> Result<T> {
    Err(Error::Shape {
        op,
        msg: msg.into(),
    })
}

pub(crate) fn arg_err<T>(op: &'static str, msg: impl Into<String>) -> Result<T> {
    Err(Error::Argument {
        op,
        msg: msg.into(),
    })
}

pub(crate) fn dtype_err<T>(op: &'static str, dtype: DType, msg: impl Into<String>) -> Result<T> {
    Err(Error::DType {
        op,
        dtype,
        msg: msg.into(),
    })
}
