//! Ferrite's array core: lazy n-dimensional arrays on a graph.
//!
//! An [`Array`] is a node: shape, dtype, and the primitive and inputs that
//! produce it. Op builders validate and infer shapes immediately, so a bad
//! shape fails where the op is written; nothing is computed until
//! [`Array::eval`] (or a read such as [`Array::to_vec`]) hands the graph to the
//! installed [`backend::Backend`].
//!
//! ```
//! use ferrite_core::{Array, DType};
//! let a = Array::from_slice(&[1.0f32, 2.0, 3.0], &[3])?;
//! let b = a.exp()?.mul(&a)?; // builds two nodes, computes nothing
//! assert_eq!(b.shape(), &[3]);
//! assert_eq!(b.dtype(), DType::F32);
//! // b.to_vec::<f32>() evaluates once a backend (ferrite_cpu::install()) is installed.
//! # Ok::<(), ferrite_core::Error>(())
//! ```

mod array;
pub mod backend;
mod dtype;
mod error;
mod eval;
pub mod fusion;
pub mod graph;
mod ops;
pub mod prim;
pub mod random;
pub mod shape;
mod storage;
pub mod view;

pub use array::{Array, Element};
pub use dtype::{DType, GgmlType, OpaqueType, GGML_TYPES, OPAQUE_TYPES};
pub use error::{Error, Result};
pub use eval::eval;
pub use ops::{llama3_rope_freqs, Llama3RopeScaling, SliceArg};
pub use storage::{AlignedBuf, Data, HostBytes};
