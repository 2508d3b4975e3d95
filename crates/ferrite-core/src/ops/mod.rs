//! Op builders: each validates its arguments, promotes dtypes, infers the
//! output shape and returns a pending node. None of them computes anything.

mod creation;
mod elementwise;
mod indexing;
mod linalg;
mod nn;
mod reduce;
mod shape_ops;

pub use nn::{llama3_rope_freqs, Llama3RopeScaling};
pub use shape_ops::SliceArg;

use crate::dtype::DType;
use crate::error::{dtype_err, Result};

/// Rejects byte-carried arrays (GGML blocks, opaque types) in ops that need element
/// values.
pub(crate) fn computable(op: &'static str, dtype: DType) -> Result<()> {
    match dtype {
        DType::Block(_) => dtype_err(
            op,
            dtype,
            "block-quantized data must be dequantized or used by a quantized kernel",
        ),
        DType::Opaque(_) => dtype_err(
            op,
            dtype,
            "data of this type is carried as bytes, not computed with",
        ),
        _ => Ok(()),
    }
}

/// Rejects anything but f32/f16/bf16.
pub(crate) fn floating(op: &'static str, dtype: DType) -> Result<()> {
    if !dtype.is_float() {
        return dtype_err(
            op,
            dtype,
            "expected a floating-point array (f32, f16 or bf16)",
        );
    }
    Ok(())
}
