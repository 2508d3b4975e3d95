//! GGUF (versions 2 and 3, little-endian), the llama.cpp model format.

mod json;
mod read;
mod value;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrite_core::{Array, HostBytes};

use crate::error::{Error, Result};
use crate::source::Source;
use crate::tensor::TensorInfo;

pub use read::{DEFAULT_ALIGNMENT, MAX_ALIGNMENT, MAX_DIMS, MAX_NESTING};
pub use value::{Value, ValueArray};
pub use write::GgufWriter;

/// An open GGUF file: memory-mapped, with metadata and tensor descriptors
/// parsed and validated.
///
/// Tensor shapes are row-major (slowest dimension first): GGUF's `ne[]` list,
/// which is fastest-first, reversed. A `[4096, 32000]` `ne` is shape
/// `[32000, 4096]`, i.e. 32000 rows of 4096 elements.
pub struct Gguf {
    path: PathBuf,
    source: Arc<Source>,
    version: u32,
    alignment: u64,
    data_offset: u64,
    metadata: Vec<(String, Value)>,
    tensors: Vec<TensorInfo>,
    by_name: HashMap<String, usize>,
}

impl Gguf {
    /// Maps and validates a GGUF file.
    pub fn open(path: impl AsRef<Path>) -> Result<Gguf> {
        let path = path.as_ref();
        Self::from_source(path, Source::map(path)?)
    }

    /// Parses a whole GGUF file held in memory; errors name the file
    /// `<memory>`. This is the entry point the fuzzers use.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Gguf> {
        Self::from_source(Path::new("<memory>"), Arc::new(Source::Owned(bytes)))
    }

    fn from_source(path: &Path, source: Arc<Source>) -> Result<Gguf> {
        let p = read::parse(source.bytes()).map_err(|b| b.at(path))?;
        let by_name = p
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(Gguf {
            path: path.to_path_buf(),
            source,
            version: p.version,
            alignment: p.alignment,
            data_offset: p.data_offset,
            metadata: p.metadata,
            tensors: p.tensors,
            by_name,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Tensor data alignment in bytes (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// File offset of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Metadata entries in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    /// The metadata value for `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Tensor descriptors in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The descriptor of tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// A zero-copy array over tensor `name`'s bytes in the mapped file;
    /// quantized tensors come back as [`ferrite_core::DType::Block`] arrays.
    pub fn array(&self, name: &str) -> Result<Array> {
        match self.by_name.get(name) {
            Some(&i) => crate::tensor::array(&self.path, &self.source, &self.tensors[i]),
            None => Err(Error::format(
                &self.path,
                format!("no tensor named '{name}'"),
            )),
        }
    }
}
