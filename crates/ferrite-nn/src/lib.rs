//! Neural-network layers built from `ferrite-core` ops.
//!
//! Layers hold their parameters as [`Array`]s of any dtype the ops accept
//! (f32, bf16, f16; block-quantized weights plug in through the same
//! [`Linear`] later), and their `forward` methods only build graph nodes:
//! nothing runs until the caller evaluates. Activations are computed in the
//! dtype the ops promote to, so f32 activations with bf16 weights stay f32.
//!
//! ```
//! use ferrite_core::{Array, DType};
//! use ferrite_nn::{Linear, RmsNorm};
//! ferrite_cpu::install();
//! let w = Array::random_normal(&[3, 4], 0.0, 0.1, 1, DType::F32)?;
//! let proj = Linear::new(w, None)?;
//! let norm = RmsNorm::new(Array::ones(&[4], DType::F32)?, 1e-5)?;
//! let x = Array::random_normal(&[2, 4], 0.0, 1.0, 2, DType::F32)?;
//! let y = proj.forward(&norm.forward(&x)?)?;
//! assert_eq!(y.shape(), &[2, 3]);
//! # Ok::<(), ferrite_core::Error>(())
//! ```

mod attention;
mod embedding;
mod kv_cache;
mod linear;
mod mlp;
mod norm;
mod rope;

pub use attention::{Attention, AttentionConfig};
pub use embedding::Embedding;
pub use kv_cache::{KvCache, LayerKv};
pub use linear::Linear;
pub use mlp::SwiGlu;
pub use norm::RmsNorm;
pub use rope::{Rope, RopeScaling};

use ferrite_core::{Error, Result};

/// A shape error attributed to a layer.
pub(crate) fn layer_err<T>(layer: &'static str, msg: impl Into<String>) -> Result<T> {
    Err(Error::Shape {
        op: layer,
        msg: msg.into(),
    })
}
