//! safetensors: one file, or a sharded model described by
//! `model.safetensors.index.json`.
//!
//! Dtypes: BOOL, U8, I8, I32, I64, F16, BF16 and F32 map to the Ferrite dtype
//! of the same name. F64 and I16 have GGML types, so they are carried as
//! opaque [`ferrite_core::DType::Block`] data (read, written and converted to
//! GGUF, not computed with). U16, U32, U64, C64 and the 8-, 6- and 4-bit
//! floats have neither: they are [`ferrite_core::DType::Opaque`] bytes, read,
//! shown and written to safetensors, while a GGUF cannot store them. Sub-byte
//! types pack whole bytes per tensor (an even count of 4-bit elements, a
//! multiple of 4 of 6-bit ones), as the reference implementation requires.
//!
//! Validation goes beyond the reference reader in one respect and stops short
//! in another: duplicate JSON keys are rejected (a JSON map would silently
//! keep one), while gaps between tensors' data are allowed (they are harmless;
//! the reference rejects them). Unknown fields in a tensor entry are ignored.

mod dtype;
mod header;
mod index;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrite_core::{Array, HostBytes};

use crate::error::{Error, Result};
use crate::source::Source;
use crate::tensor::TensorInfo;

pub use header::MAX_HEADER_BYTES;
pub use write::SafeTensorsWriter;

/// Name of the index of a sharded model inside its directory.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// Name of a single-file model inside its directory.
pub const SINGLE_FILE: &str = "model.safetensors";

/// An open safetensors model: every shard memory-mapped, every header validated.
///
/// Opening reads only the headers; [`SafeTensors::array`] returns arrays that
/// point into the mapped file, so nothing is copied until computed with.
pub struct SafeTensors {
    path: PathBuf,
    shards: Vec<Shard>,
    tensors: Vec<TensorInfo>,
    /// Shard index of each entry of `tensors`.
    tensor_shard: Vec<usize>,
    by_name: HashMap<String, usize>,
    metadata: BTreeMap<String, String>,
}

struct Shard {
    path: PathBuf,
    source: Arc<Source>,
}

impl SafeTensors {
    /// Opens a `.safetensors` file, a `model.safetensors.index.json`, or a
    /// directory holding either (the index wins).
    pub fn open(path: impl AsRef<Path>) -> Result<SafeTensors> {
        let path = path.as_ref();
        if path.is_dir() {
            let index = path.join(INDEX_FILE);
            if index.is_file() {
                return index::open(&index);
            }
            let single = path.join(SINGLE_FILE);
            if single.is_file() {
                return Self::open_file(&single);
            }
            return Err(Error::format(
                path,
                format!("directory has neither {INDEX_FILE} nor {SINGLE_FILE}"),
            ));
        }
        if path.to_string_lossy().ends_with(".index.json") {
            return index::open(path);
        }
        Self::open_file(path)
    }

    /// Parses a whole safetensors file held in memory; errors name the file
    /// `<memory>`. This is the entry point the fuzzers use.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SafeTensors> {
        Self::from_source(Path::new("<memory>"), Arc::new(Source::Owned(bytes)))
    }

    fn open_file(path: &Path) -> Result<SafeTensors> {
        Self::from_source(path, Source::map(path)?)
    }

    fn from_source(path: &Path, source: Arc<Source>) -> Result<SafeTensors> {
        let h = header::parse(source.bytes()).map_err(|b| b.at(path))?;
        let shard = Shard {
            path: path.to_path_buf(),
            source,
        };
        Ok(Self::assemble(
            path,
            vec![shard],
            h.tensors.into_iter().map(|t| (t, 0)).collect(),
            h.metadata,
        ))
    }

    fn assemble(
        path: &Path,
        shards: Vec<Shard>,
        tensors: Vec<(TensorInfo, usize)>,
        metadata: BTreeMap<String, String>,
    ) -> SafeTensors {
        let (tensors, tensor_shard): (Vec<_>, Vec<_>) = tensors.into_iter().unzip();
        let by_name = tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        SafeTensors {
            path: path.to_path_buf(),
            shards,
            tensors,
            tensor_shard,
            by_name,
            metadata,
        }
    }

    /// The path this model was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shard files, in the order their tensors are listed.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.shards.iter().map(|s| s.path.as_path())
    }

    /// The `__metadata__` string map (for a sharded model, the union over the
    /// shards; the first shard listing a key wins).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Every tensor, in data-offset order (shard by shard).
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The descriptor of tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// The file holding tensor `name`.
    pub fn file_of(&self, name: &str) -> Option<&Path> {
        self.by_name
            .get(name)
            .map(|&i| self.shards[self.tensor_shard[i]].path.as_path())
    }

    /// A zero-copy array over tensor `name`'s bytes in the mapped file.
    pub fn array(&self, name: &str) -> Result<Array> {
        let Some(&i) = self.by_name.get(name) else {
            return Err(Error::format(
                &self.path,
                format!("no tensor named '{name}'"),
            ));
        };
        let shard = &self.shards[self.tensor_shard[i]];
        crate::tensor::array(&shard.path, &shard.source, &self.tensors[i])
    }
}
