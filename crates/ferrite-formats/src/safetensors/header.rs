//! Parsing and validating a safetensors header from raw bytes.
//!
//! Layout: an 8-byte little-endian header length `n`, `n` bytes of UTF-8 JSON
//! (`{"name": {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {..}}`),
//! then the data section; offsets are relative to the data section.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use ferrite_core::DType;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::dtype;
use crate::error::{bad, Bad};
use crate::tensor::{checked_elements, find_overlap, show_range, TensorInfo};

/// Headers larger than this are rejected before being read; real ones are a
/// few hundred kilobytes even for thousands of tensors.
pub const MAX_HEADER_BYTES: u64 = 100 << 20;

/// A validated header: tensors sorted by data offset, and `__metadata__`.
pub(crate) struct Header {
    pub tensors: Vec<TensorInfo>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawTensor {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// The JSON object, kept in file order with duplicate keys rejected (serde_json
/// maps would silently keep the last one).
struct RawHeader {
    tensors: Vec<(String, RawTensor)>,
    metadata: Option<Vec<(String, String)>>,
}

/// A JSON object of strings with duplicate keys rejected.
struct StringMap(Vec<(String, String)>);

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMap, A::Error> {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    if !seen.insert(k.clone()) {
                        return Err(de::Error::custom(format!(
                            "duplicate __metadata__ key '{k}'"
                        )));
                    }
                    let v = map.next_value::<String>().map_err(|e| {
                        de::Error::custom(format!("__metadata__ '{k}' must be a string: {e}"))
                    })?;
                    out.push((k, v));
                }
                Ok(StringMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object mapping tensor names to descriptors")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
                let mut seen = HashSet::new();
                let mut out = RawHeader {
                    tensors: Vec::new(),
                    metadata: None,
                };
                while let Some(k) = map.next_key::<String>()? {
                    if !seen.insert(k.clone()) {
                        return Err(de::Error::custom(format!("duplicate tensor name '{k}'")));
                    }
                    if k == "__metadata__" {
                        out.metadata = Some(map.next_value::<StringMap>()?.0);
                    } else {
                        let t = map
                            .next_value::<RawTensor>()
                            .map_err(|e| de::Error::custom(format!("tensor '{k}': {e}")))?;
                        out.tensors.push((k, t));
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// Validates a whole file held in `buf`: everything the header claims must lie
/// inside `buf`, so later slicing cannot go out of bounds.
pub(crate) fn parse(buf: &[u8]) -> Result<Header, Bad> {
    let file_len = buf.len() as u64;
    let Some(len_bytes) = buf.get(..8) else {
        bad!("file is {file_len} bytes, too short for the 8-byte header length");
    };
    let mut le = [0u8; 8];
    le.copy_from_slice(len_bytes);
    let n = u64::from_le_bytes(le);
    if n > MAX_HEADER_BYTES {
        bad!(
            "header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit (not a safetensors file?)"
        );
    }
    // n <= MAX_HEADER_BYTES, so this cannot overflow.
    let data_start = 8 + n;
    if data_start > file_len {
        bad!("header length {n} extends past end of file ({file_len} bytes)");
    }
    let json = &buf[8..data_start as usize];
    let text = match std::str::from_utf8(json) {
        Ok(t) => t,
        Err(e) => bad!(
            "header is not valid UTF-8 (at byte {})",
            8 + e.valid_up_to()
        ),
    };
    if !text.starts_with('{') {
        bad!("header does not start with '{{' (not a safetensors file?)");
    }
    let raw: RawHeader = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => bad!("invalid header JSON: {e}"),
    };

    let mut tensors = Vec::with_capacity(raw.tensors.len());
    for (name, t) in raw.tensors {
        tensors.push(validate(name, t, data_start, file_len)?);
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
    tensors.sort_by(|a, b| (a.range.start, &a.name).cmp(&(b.range.start, &b.name)));
    let metadata = raw.metadata.unwrap_or_default().into_iter().collect();
    Ok(Header { tensors, metadata })
}

fn validate(name: String, t: RawTensor, data_start: u64, file_len: u64) -> Result<TensorInfo, Bad> {
    let dtype: DType = dtype::from_name(&t.dtype, &name)?;
    let shape = &t.shape;
    let Some(elements) = checked_elements(shape) else {
        bad!("tensor '{name}': element count of shape {shape:?} overflows u64");
    };
    let Some(needed) = dtype.bytes_for(elements) else {
        if elements % dtype.block_size() as u64 != 0 {
            bad!(
                "tensor '{name}': {elements} elements of {} are not a whole number of bytes",
                t.dtype
            );
        }
        bad!(
            "tensor '{name}': byte size of shape {shape:?} ({}) overflows u64",
            t.dtype
        );
    };
    let [begin, end] = t.data_offsets;
    if begin > end {
        bad!("tensor '{name}': data_offsets [{begin}, {end}] are reversed");
    }
    if end - begin != needed {
        bad!(
            "tensor '{name}': data_offsets [{begin}, {end}] hold {} bytes but shape {shape:?} of {} needs {needed}",
            end - begin,
            t.dtype
        );
    }
    let range = match (data_start.checked_add(begin), data_start.checked_add(end)) {
        (Some(b), Some(e)) if e <= file_len => b..e,
        _ => bad!(
            "tensor '{name}' data [{begin}..{end}) (relative to the data section at byte {data_start}) extends past end of file ({file_len} bytes)"
        ),
    };
    let mut dims = Vec::with_capacity(shape.len());
    for &d in shape {
        match usize::try_from(d) {
            Ok(d) => dims.push(d),
            Err(_) => bad!("tensor '{name}': dimension {d} does not fit in memory"),
        }
    }
    Ok(TensorInfo {
        name,
        dtype,
        shape: dims,
        range,
    })
}
