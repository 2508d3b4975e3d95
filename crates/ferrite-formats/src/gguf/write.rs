//! Writing GGUF v3 files.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use ferrite_core::Array;

use super::read::{DEFAULT_ALIGNMENT, MAX_ALIGNMENT, MAX_DIMS, MAX_NESTING};
use super::value::{Value, ValueArray};
use crate::error::{Error, Result};
use crate::output::{padding, write_array, write_atomically};

/// Collects metadata and tensors, then writes a GGUF v3 file that llama.cpp
/// and its `gguf` Python package read back exactly.
///
/// Tensor data is aligned to `general.alignment` when that metadata entry is
/// set (it must be a u32 power of two), else to 32 bytes. Shapes are given
/// row-major (slowest first) and stored reversed as GGUF's `ne[]`.
///
/// ```no_run
/// # fn main() -> ferrite_formats::Result<()> {
/// use ferrite_core::{Array, DType};
/// use ferrite_formats::gguf::{GgufWriter, Value};
/// let w = Array::from_bytes(&[0u8; 24], &[2, 3], DType::F32).unwrap();
/// let mut out = GgufWriter::new();
/// out.add_metadata("general.architecture", Value::String("llama".into()))
///     .add_tensor("token_embd.weight", w);
/// out.write("model.gguf")?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<(String, Array)>,
}

impl GgufWriter {
    pub fn new() -> GgufWriter {
        GgufWriter::default()
    }

    /// Sets a metadata entry; a key set twice keeps its first position and
    /// the last value.
    pub fn add_metadata(&mut self, key: impl Into<String>, value: Value) -> &mut Self {
        let key = key.into();
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.metadata.push((key, value)),
        }
        self
    }

    /// Adds a tensor; its data is read only when the file is written.
    pub fn add_tensor(&mut self, name: impl Into<String>, array: Array) -> &mut Self {
        self.tensors.push((name.into(), array));
        self
    }

    /// Bytes of tensor data the file will hold (for progress bars).
    pub fn tensor_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .map(|(_, a)| a.dtype().bytes_for(a.size() as u64).unwrap_or(0))
            .sum()
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
        let plan = self.plan(path)?;
        write_atomically(path, |w| self.write_body(w, path, &plan, progress))
    }

    /// The whole file in memory (for tests and small files).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let path = Path::new("<memory>");
        let plan = self.plan(path)?;
        let mut out = Vec::new();
        self.write_body(&mut out, path, &plan, &mut |_| {})?;
        Ok(out)
    }

    fn write_body(
        &self,
        w: &mut dyn Write,
        path: &Path,
        plan: &Plan,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let io = |e| Error::io(path, "cannot write", e);
        let zeros = vec![0u8; plan.alignment as usize];
        w.write_all(&plan.header).map_err(io)?;
        w.write_all(&zeros[..padding(plan.header.len() as u64, plan.alignment) as usize])
            .map_err(io)?;
        for ((name, array), &size) in self.tensors.iter().zip(&plan.sizes) {
            write_array(w, path, name, array, size)?;
            w.write_all(&zeros[..padding(size, plan.alignment) as usize])
                .map_err(io)?;
            progress(size);
        }
        Ok(())
    }

    /// Validates everything and encodes the header (metadata and tensor
    /// descriptors) so that writing cannot fail half-way on bad input.
    fn plan(&self, path: &Path) -> Result<Plan> {
        let fail = |msg: String| Error::format(path, msg);
        let alignment = match self.metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, Value::U32(a))) if a.is_power_of_two() && u64::from(*a) <= MAX_ALIGNMENT => {
                u64::from(*a)
            }
            Some((_, v)) => {
                return Err(fail(format!(
                    "general.alignment must be a u32 power of two up to {MAX_ALIGNMENT}, not {v}"
                )))
            }
        };
        let mut h = Vec::new();
        h.extend_from_slice(b"GGUF");
        h.extend_from_slice(&3u32.to_le_bytes());
        h.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        h.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_str(&mut h, key);
            h.extend_from_slice(&value.type_id().to_le_bytes());
            put_value(&mut h, value, 0).map_err(|()| {
                fail(format!(
                    "metadata '{key}': arrays nested deeper than {MAX_NESTING} levels"
                ))
            })?;
        }

        let mut names = HashSet::new();
        let mut sizes = Vec::with_capacity(self.tensors.len());
        let mut offset = 0u64;
        for (name, array) in &self.tensors {
            if !names.insert(name.as_str()) {
                return Err(fail(format!("duplicate tensor name '{name}'")));
            }
            let dtype = array.dtype();
            let Some(ggml) = dtype.ggml_type() else {
                return Err(fail(format!(
                    "tensor '{name}' has dtype {dtype}, which GGUF cannot store"
                )));
            };
            let shape = array.shape();
            if shape.len() > MAX_DIMS as usize {
                return Err(fail(format!(
                    "tensor '{name}' has {} dimensions; GGUF allows at most {MAX_DIMS}",
                    shape.len()
                )));
            }
            let ne0 = shape.last().copied().unwrap_or(1);
            if !ne0.is_multiple_of(ggml.block_size) {
                return Err(fail(format!(
                    "tensor '{name}': last dimension {ne0} is not a multiple of the {} block size {}",
                    ggml.name, ggml.block_size
                )));
            }
            let elements = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
            let Some(size) = elements.and_then(|n| ggml.bytes_for(n)) else {
                return Err(fail(format!(
                    "tensor '{name}': size of shape {shape:?} overflows"
                )));
            };
            put_str(&mut h, name);
            h.extend_from_slice(&(shape.len() as u32).to_le_bytes());
            for &d in shape.iter().rev() {
                h.extend_from_slice(&(d as u64).to_le_bytes());
            }
            h.extend_from_slice(&ggml.id.to_le_bytes());
            h.extend_from_slice(&offset.to_le_bytes());
            offset += size + padding(size, alignment);
            sizes.push(size);
        }
        Ok(Plan {
            header: h,
            alignment,
            sizes,
        })
    }
}

struct Plan {
    header: Vec<u8>,
    alignment: u64,
    /// Data bytes of each tensor, in order.
    sizes: Vec<u64>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Encodes a value without its type id; `Err` when arrays nest deeper than
/// readers accept.
fn put_value(out: &mut Vec<u8>, v: &Value, depth: u32) -> std::result::Result<(), ()> {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => put_str(out, s),
        Value::Array(a) => put_array(out, a, depth + 1)?,
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
    Ok(())
}

fn put_array(out: &mut Vec<u8>, a: &ValueArray, depth: u32) -> std::result::Result<(), ()> {
    if depth > MAX_NESTING {
        return Err(());
    }
    out.extend_from_slice(&a.elem_type_id().to_le_bytes());
    out.extend_from_slice(&(a.len() as u64).to_le_bytes());
    macro_rules! each {
        ($v:expr) => {
            for x in $v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        };
    }
    match a {
        ValueArray::U8(v) => out.extend_from_slice(v),
        ValueArray::I8(v) => each!(v),
        ValueArray::U16(v) => each!(v),
        ValueArray::I16(v) => each!(v),
        ValueArray::U32(v) => each!(v),
        ValueArray::I32(v) => each!(v),
        ValueArray::F32(v) => each!(v),
        ValueArray::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
        ValueArray::String(v) => v.iter().for_each(|s| put_str(out, s)),
        ValueArray::Array(v) => {
            for inner in v {
                put_array(out, inner, depth + 1)?;
            }
        }
        ValueArray::U64(v) => each!(v),
        ValueArray::I64(v) => each!(v),
        ValueArray::F64(v) => each!(v),
    }
    Ok(())
}
