//! Zero-copy readers and writers for safetensors and GGUF model files.
//!
//! Opening a file memory-maps it read-only and validates its whole header:
//! every offset, size, count and string is checked against the file before it
//! is used, so a malformed or hostile file gives an [`Error`] naming the file
//! and the problem, never a panic, an out-of-bounds read or a huge
//! allocation. Tensor data is not read at open time: [`SafeTensors::array`]
//! and [`Gguf::array`] return [`ferrite_core::Array`]s that point into the
//! mapping, so pages are loaded only when computed with.
//!
//! Shapes are always row-major, slowest dimension first. GGUF stores `ne[]`
//! fastest-first; [`TensorInfo::shape`] is that list reversed, and
//! [`GgufWriter`] reverses it back, so a tensor keeps its shape and bytes when
//! converted between the formats.
//!
//! Writers collect tensors (any [`ferrite_core::Array`]) and metadata, write a
//! temporary file in the target's directory, and rename it over the target
//! only once it is complete.
//!
//! ```no_run
//! # fn main() -> ferrite_formats::Result<()> {
//! use ferrite_formats::{ModelFile, gguf::{GgufWriter, Value}};
//!
//! // A safetensors file, a sharded model directory, or a GGUF file.
//! let model = ModelFile::open("model.safetensors")?;
//! let mut out = GgufWriter::new();
//! out.add_metadata("general.name", Value::String("copy".into()));
//! for t in model.tensors() {
//!     println!("{} {} {:?} {} bytes", t.name, t.dtype, t.shape, t.bytes());
//!     out.add_tensor(t.name.clone(), model.array(&t.name)?);
//! }
//! out.write("model.gguf")?;
//! # Ok(()) }
//! ```

mod error;
pub mod gguf;
mod model;
mod output;
mod resident;
pub mod safetensors;
mod source;
mod tensor;

pub use error::{Error, Result};
pub use gguf::{Gguf, GgufWriter};
pub use model::ModelFile;
pub use resident::{huge_pages_available, resident_copies};
pub use safetensors::{SafeTensors, SafeTensorsWriter};
pub use tensor::{human_bytes, TensorInfo};
