//! Writing safetensors files.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use ferrite_core::Array;

use super::dtype;
use crate::error::{Error, Result};
use crate::output::{padding, write_array, write_atomically};

/// Collects tensors and `__metadata__`, then writes a safetensors file.
///
/// Tensors are laid out by descending element size (then in the order added)
/// so that every tensor starts aligned to its element size, and the header is
/// padded with spaces to a multiple of 8 bytes, as the reference writer does.
///
/// ```no_run
/// # fn main() -> ferrite_formats::Result<()> {
/// use ferrite_core::{Array, DType};
/// use ferrite_formats::SafeTensorsWriter;
/// let w = Array::from_bytes(&[0u8; 16], &[2, 2], DType::F32).unwrap();
/// let mut out = SafeTensorsWriter::new();
/// out.add_metadata("format", "pt").add_tensor("w", w);
/// out.write("model.safetensors")?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct SafeTensorsWriter {
    metadata: BTreeMap<String, String>,
    tensors: Vec<(String, Array)>,
}

/// A planned tensor: its index in `tensors` and its range in the data section.
struct Slot {
    index: usize,
    begin: u64,
    end: u64,
}

impl SafeTensorsWriter {
    pub fn new() -> SafeTensorsWriter {
        SafeTensorsWriter::default()
    }

    /// Sets a `__metadata__` entry (replacing an earlier value for `key`).
    pub fn add_metadata(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds a tensor; its data is read only when the file is written.
    pub fn add_tensor(&mut self, name: impl Into<String>, array: Array) -> &mut Self {
        self.tensors.push((name.into(), array));
        self
    }

    /// Writes the file atomically (temporary file, then rename).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        self.write_with_progress(path, &mut |_| {})
    }

    /// Like [`write`](Self::write), calling `progress` with the number of
    /// tensor bytes written after each tensor.
    pub fn write_with_progress(
        &self,
        path: impl AsRef<Path>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let path = path.as_ref();
        let (header, slots) = self.plan(path)?;
        write_atomically(path, |w| {
            self.write_body(w, path, &header, &slots, progress)
        })
    }

    /// The whole file in memory (for tests and small files).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let path = Path::new("<memory>");
        let (header, slots) = self.plan(path)?;
        let mut out = Vec::new();
        self.write_body(&mut out, path, &header, &slots, &mut |_| {})?;
        Ok(out)
    }

    fn write_body(
        &self,
        w: &mut dyn Write,
        path: &Path,
        header: &[u8],
        slots: &[Slot],
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let io = |e| Error::io(path, "cannot write", e);
        w.write_all(&(header.len() as u64).to_le_bytes())
            .map_err(io)?;
        w.write_all(header).map_err(io)?;
        for s in slots {
            let (name, array) = &self.tensors[s.index];
            write_array(w, path, name, array, s.end - s.begin)?;
            progress(s.end - s.begin);
        }
        Ok(())
    }

    /// Validates the tensors and builds the padded JSON header.
    fn plan(&self, path: &Path) -> Result<(Vec<u8>, Vec<Slot>)> {
        let fail = |msg: String| Error::format(path, msg);
        let mut seen = HashSet::new();
        let mut dtype_names = Vec::with_capacity(self.tensors.len());
        for (name, array) in &self.tensors {
            if name == "__metadata__" || !seen.insert(name.as_str()) {
                return Err(fail(format!(
                    "tensor name '{name}' is reserved or used twice"
                )));
            }
            let Some(dtype_name) = dtype::to_name(array.dtype()) else {
                let dt = array.dtype();
                return Err(fail(format!(
                    "tensor '{name}' has dtype {dt}, which safetensors cannot store"
                )));
            };
            dtype_names.push(dtype_name);
        }
        let mut order: Vec<usize> = (0..self.tensors.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(dtype::element_size(self.tensors[i].1.dtype())));

        let mut json = serde_json::Map::new();
        if !self.metadata.is_empty() {
            let meta = self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            json.insert("__metadata__".into(), serde_json::Value::Object(meta));
        }
        let mut slots = Vec::with_capacity(order.len());
        let mut offset = 0u64;
        for index in order {
            let (name, array) = &self.tensors[index];
            let shape = array.shape();
            let elements = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
            let Some(size) = elements.and_then(|n| array.dtype().bytes_for(n)) else {
                return Err(fail(format!(
                    "tensor '{name}': size of shape {shape:?} overflows"
                )));
            };
            let (begin, end) = (offset, offset + size);
            json.insert(
                name.clone(),
                serde_json::json!({"dtype": dtype_names[index], "shape": shape, "data_offsets": [begin, end]}),
            );
            slots.push(Slot { index, begin, end });
            offset = end;
        }
        let mut header =
            serde_json::to_vec(&json).map_err(|e| fail(format!("cannot encode header: {e}")))?;
        // Padding keeps the data section 8-byte aligned.
        header.resize(
            header.len() + padding(header.len() as u64, 8) as usize,
            b' ',
        );
        Ok((header, slots))
    }
}
