//! Opening a model file without knowing its format in advance.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use ferrite_core::Array;

use crate::error::{Error, Result};
use crate::gguf::Gguf;
use crate::safetensors::SafeTensors;
use crate::tensor::TensorInfo;

/// A safetensors model (file, index or directory) or a GGUF file.
pub enum ModelFile {
    SafeTensors(SafeTensors),
    Gguf(Gguf),
}

impl ModelFile {
    /// Opens `path` as GGUF when it starts with the GGUF magic or is named
    /// `*.gguf`, and as safetensors otherwise (directories included).
    pub fn open(path: impl AsRef<Path>) -> Result<ModelFile> {
        let path = path.as_ref();
        if path.is_dir() {
            return SafeTensors::open(path).map(ModelFile::SafeTensors);
        }
        let mut magic = [0u8; 4];
        let mut f = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        let n = f
            .read(&mut magic)
            .map_err(|e| Error::io(path, "cannot read", e))?;
        let named_gguf = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
        if (n == 4 && &magic == b"GGUF") || named_gguf {
            Gguf::open(path).map(ModelFile::Gguf)
        } else {
            SafeTensors::open(path).map(ModelFile::SafeTensors)
        }
    }

    /// The path the model was opened from.
    pub fn path(&self) -> &Path {
        match self {
            ModelFile::SafeTensors(s) => s.path(),
            ModelFile::Gguf(g) => g.path(),
        }
    }

    pub fn tensors(&self) -> &[TensorInfo] {
        match self {
            ModelFile::SafeTensors(s) => s.tensors(),
            ModelFile::Gguf(g) => g.tensors(),
        }
    }

    /// A zero-copy array over tensor `name`.
    pub fn array(&self, name: &str) -> Result<Array> {
        match self {
            ModelFile::SafeTensors(s) => s.array(name),
            ModelFile::Gguf(g) => g.array(name),
        }
    }
}
