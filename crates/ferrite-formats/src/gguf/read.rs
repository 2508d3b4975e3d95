//! Parsing and validating a GGUF file from raw bytes.
//!
//! Layout (little-endian): magic `GGUF`, version u32, tensor count u64,
//! metadata count u64, metadata entries (key string, type u32, value), tensor
//! descriptors (name, n_dims u32, ne[n_dims] u64 fastest-first, type u32,
//! offset u64), padding to `general.alignment`, then tensor data.
//!
//! Every length read from the file is checked against the bytes left before
//! anything is allocated for it, so a few crafted bytes cannot ask for more
//! memory than the file itself holds.

use std::collections::HashSet;

use ferrite_core::GgmlType;

use super::value::{min_size, type_id, type_name, Value, ValueArray};
use crate::error::{bad, Bad};
use crate::tensor::{checked_elements, find_overlap, show_range, TensorInfo};

/// `GGML_MAX_DIMS` in ggml.h.
pub const MAX_DIMS: u32 = 4;
/// Alignment when `general.alignment` is absent (`GGUF_DEFAULT_ALIGNMENT`).
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Largest `general.alignment` accepted; real files use 32.
pub const MAX_ALIGNMENT: u64 = 1 << 20;
/// Deepest accepted nesting of arrays inside arrays.
pub const MAX_NESTING: u32 = 16;
/// Cap on up-front reservations for lists whose elements are boxed; larger
/// lists grow as they are actually read.
const RESERVE_CAP: usize = 1 << 12;

/// A validated GGUF header.
pub(crate) struct Parsed {
    pub version: u32,
    pub alignment: u64,
    pub data_offset: u64,
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], Bad> {
        if n > self.remaining() {
            bad!(
                "unexpected end of file reading {what}: {n} bytes needed at offset {}, file is {} bytes",
                self.pos,
                self.buf.len()
            );
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Bad> {
        Ok(le(self.take(N as u64, what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, Bad> {
        self.fixed(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, Bad> {
        self.fixed(what).map(u64::from_le_bytes)
    }

    fn string(&mut self, what: &str) -> Result<String, Bad> {
        let at = self.pos;
        let len = self.u64(what)?;
        if len > self.remaining() {
            bad!(
                "{what}: string length {len} at offset {at} exceeds the {} bytes left in the file",
                self.remaining()
            );
        }
        match std::str::from_utf8(self.take(len, what)?) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => bad!(
                "{what}: string at offset {at} is not valid UTF-8 (at byte {})",
                e.valid_up_to()
            ),
        }
    }

    fn bool(&mut self, what: &str) -> Result<bool, Bad> {
        match self.fixed::<1>(what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => bad!("{what}: bool at offset {} is {b}, not 0 or 1", self.pos - 1),
        }
    }

    /// Rejects a count of `n` items of at least `min` bytes each when the rest
    /// of the file cannot hold them.
    fn check_count(&self, n: u64, min: u64, what: &str) -> Result<usize, Bad> {
        match n.checked_mul(min) {
            Some(b) if b <= self.remaining() => Ok(n as usize),
            _ => bad!(
                "{what}: count {n} exceeds what the {} bytes left in the file can hold",
                self.remaining()
            ),
        }
    }

    /// Reads a value of type `ty`; `key` describes it in errors.
    fn value(&mut self, ty: u32, key: &str, depth: u32) -> Result<Value, Bad> {
        use type_id::*;
        Ok(match ty {
            U8 => Value::U8(u8::from_le_bytes(self.fixed(key)?)),
            I8 => Value::I8(i8::from_le_bytes(self.fixed(key)?)),
            U16 => Value::U16(u16::from_le_bytes(self.fixed(key)?)),
            I16 => Value::I16(i16::from_le_bytes(self.fixed(key)?)),
            U32 => Value::U32(u32::from_le_bytes(self.fixed(key)?)),
            I32 => Value::I32(i32::from_le_bytes(self.fixed(key)?)),
            F32 => Value::F32(f32::from_le_bytes(self.fixed(key)?)),
            BOOL => Value::Bool(self.bool(key)?),
            STRING => Value::String(self.string(key)?),
            ARRAY => Value::Array(self.array(key, depth + 1)?),
            U64 => Value::U64(u64::from_le_bytes(self.fixed(key)?)),
            I64 => Value::I64(i64::from_le_bytes(self.fixed(key)?)),
            F64 => Value::F64(f64::from_le_bytes(self.fixed(key)?)),
            other => bad!("{key} has unknown value type id {other}"),
        })
    }

    fn array(&mut self, key: &str, depth: u32) -> Result<ValueArray, Bad> {
        if depth > MAX_NESTING {
            bad!("{key}: arrays nested deeper than {MAX_NESTING} levels");
        }
        let elem = self.u32(key)?;
        let Some(min) = min_size(elem) else {
            bad!("{key}: array has unknown element type id {elem}");
        };
        let count = self.u64(key)?;
        let n = self.check_count(count, min, &format!("{key}: array of {}", type_name(elem)))?;

        // Fixed-size elements: one bounds-checked slice, decoded in place.
        macro_rules! numbers {
            ($t:ty, $variant:ident) => {{
                const W: usize = std::mem::size_of::<$t>();
                let raw = self.take((n * W) as u64, key)?;
                ValueArray::$variant(
                    raw.chunks_exact(W)
                        .map(|c| <$t>::from_le_bytes(le(c)))
                        .collect(),
                )
            }};
        }
        use type_id::*;
        Ok(match elem {
            U8 => numbers!(u8, U8),
            I8 => numbers!(i8, I8),
            U16 => numbers!(u16, U16),
            I16 => numbers!(i16, I16),
            U32 => numbers!(u32, U32),
            I32 => numbers!(i32, I32),
            F32 => numbers!(f32, F32),
            U64 => numbers!(u64, U64),
            I64 => numbers!(i64, I64),
            F64 => numbers!(f64, F64),
            BOOL => ValueArray::Bool((0..n).map(|_| self.bool(key)).collect::<Result<_, _>>()?),
            STRING => {
                let mut v = Vec::with_capacity(n.min(RESERVE_CAP));
                for _ in 0..n {
                    v.push(self.string(key)?);
                }
                ValueArray::String(v)
            }
            _ => {
                let mut v = Vec::with_capacity(n.min(RESERVE_CAP));
                for _ in 0..n {
                    v.push(self.array(key, depth + 1)?);
                }
                ValueArray::Array(v)
            }
        })
    }
}

/// Copies an exactly-sized chunk into an array (callers slice to `N`).
fn le<const N: usize>(c: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(c);
    a
}

/// A tensor descriptor before its data offset is resolved.
struct RawTensor {
    name: String,
    ne: Vec<u64>,
    ggml: GgmlType,
    offset: u64,
    size: u64,
}

pub(crate) fn parse(buf: &[u8]) -> Result<Parsed, Bad> {
    let mut c = Cursor { buf, pos: 0 };
    if buf.len() < 4 {
        bad!("file is {} bytes, too short for a GGUF header", buf.len());
    }
    let magic = c.fixed::<4>("magic")?;
    if &magic != b"GGUF" {
        bad!(
            "not a GGUF file: magic is {:?}, expected \"GGUF\"",
            String::from_utf8_lossy(&magic)
        );
    }
    let version = c.u32("version")?;
    match version {
        2 | 3 => {}
        1 => bad!("GGUF version 1 is not supported (only versions 2 and 3)"),
        v if (1..=3).contains(&v.swap_bytes()) => {
            bad!(
                "big-endian GGUF (version {}) is not supported",
                v.swap_bytes()
            )
        }
        v => bad!("unsupported GGUF version {v} (only versions 2 and 3)"),
    }
    let n_tensors = c.u64("tensor count")?;
    let n_kv = c.u64("metadata count")?;
    // Smallest entries: key length + type + 1-byte value; name length + n_dims + type + offset.
    let n_kv = c.check_count(n_kv, 8 + 4 + 1, "metadata")?;
    let n_tensors = c.check_count(n_tensors, 8 + 4 + 4 + 8, "tensor")?;

    let mut metadata: Vec<(String, Value)> = Vec::with_capacity(n_kv.min(RESERVE_CAP));
    let mut keys = HashSet::new();
    for i in 0..n_kv {
        let key = c.string(&format!("metadata key #{i}"))?;
        if !keys.insert(key.clone()) {
            bad!("duplicate metadata key '{key}'");
        }
        let what = format!("metadata '{key}'");
        let ty = c.u32(&what)?;
        let value = c.value(ty, &what, 0)?;
        metadata.push((key, value));
    }
    let alignment = alignment(&metadata)?;

    let mut raw = Vec::with_capacity(n_tensors.min(RESERVE_CAP));
    let mut names = HashSet::new();
    for i in 0..n_tensors {
        let t = tensor_descriptor(&mut c, i)?;
        if !names.insert(t.name.clone()) {
            bad!("duplicate tensor name '{}'", t.name);
        }
        if !t.offset.is_multiple_of(alignment) {
            bad!(
                "tensor '{}' data offset {} is not a multiple of the alignment {alignment}",
                t.name,
                t.offset
            );
        }
        raw.push(t);
    }

    // pos <= file length and alignment <= MAX_ALIGNMENT: no overflow.
    let data_offset = c.pos as u64 + crate::output::padding(c.pos as u64, alignment);
    let file_len = buf.len() as u64;
    let mut tensors = Vec::with_capacity(raw.len());
    for t in raw {
        let start = data_offset.checked_add(t.offset);
        let range = match start.and_then(|s| Some(s..s.checked_add(t.size)?)) {
            Some(r) if r.end <= file_len => r,
            _ => bad!(
                "tensor '{}' data [{}..{}) (offset {} + data section at {data_offset}) extends past end of file ({file_len} bytes)",
                t.name,
                data_offset.saturating_add(t.offset),
                data_offset.saturating_add(t.offset).saturating_add(t.size),
                t.offset
            ),
        };
        let shape = t.ne.iter().rev().map(|&d| d as usize).collect();
        tensors.push(TensorInfo {
            name: t.name,
            dtype: t.ggml.dtype(),
            shape,
            range,
        });
    }
    if let Some((a, b)) = find_overlap(&tensors) {
        bad!(
            "tensors '{}' {} and '{}' {} overlap",
            a.name,
            show_range(&a.range),
            b.name,
            show_range(&b.range)
        );
    }
    Ok(Parsed {
        version,
        alignment,
        data_offset,
        metadata,
        tensors,
    })
}

fn alignment(metadata: &[(String, Value)]) -> Result<u64, Bad> {
    match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => Ok(DEFAULT_ALIGNMENT),
        Some((_, Value::U32(a))) => {
            let a = u64::from(*a);
            if !a.is_power_of_two() || a > MAX_ALIGNMENT {
                bad!("general.alignment {a} is not a power of two between 1 and {MAX_ALIGNMENT}");
            }
            Ok(a)
        }
        Some((_, v)) => bad!("general.alignment has type {}, expected u32", v.type_name()),
    }
}

fn tensor_descriptor(c: &mut Cursor, i: usize) -> Result<RawTensor, Bad> {
    let name = c.string(&format!("name of tensor #{i}"))?;
    let what = format!("tensor '{name}'");
    let n_dims = c.u32(&what)?;
    if n_dims > MAX_DIMS {
        bad!("{what} has {n_dims} dimensions; GGUF allows at most {MAX_DIMS}");
    }
    let mut ne = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        let d = c.u64(&what)?;
        // ggml keeps ne in int64_t.
        if d > i64::MAX as u64 {
            bad!("{what} has dimension {d}, larger than int64 allows");
        }
        ne.push(d);
    }
    let Some(elements) = checked_elements(&ne) else {
        bad!("{what}: element count of ne {ne:?} overflows u64");
    };
    if usize::try_from(elements).is_err() {
        bad!("{what}: element count {elements} does not fit in memory");
    }
    let id = c.u32(&what)?;
    let Some(ggml) = GgmlType::from_id(id) else {
        bad!("{what} has unknown GGML type id {id}");
    };
    let ne0 = ne.first().copied().unwrap_or(1);
    if !ne0.is_multiple_of(ggml.block_size as u64) {
        bad!(
            "{what}: ne[0] = {ne0} is not a multiple of the {} block size {}",
            ggml.name,
            ggml.block_size
        );
    }
    let Some(size) = ggml.bytes_for(elements) else {
        bad!(
            "{what}: byte size of {elements} {} elements overflows u64",
            ggml.name
        );
    };
    let offset = c.u64(&what)?;
    Ok(RawTensor {
        name,
        ne,
        ggml,
        offset,
        size,
    })
}
