//! Helpers shared by the integration tests: small valid files and a raw byte
//! builder for crafting malformed ones.
#![allow(dead_code)] // each test binary uses a different subset

use ferrite_core::{Array, DType, GgmlType};
use ferrite_formats::gguf::{GgufWriter, Value, ValueArray};
use ferrite_formats::SafeTensorsWriter;

/// Little-endian byte builder.
#[derive(Clone, Default)]
pub struct Raw(pub Vec<u8>);

impl Raw {
    pub fn new() -> Raw {
        Raw(Vec::new())
    }
    pub fn u8(mut self, v: u8) -> Raw {
        self.0.push(v);
        self
    }
    pub fn u32(mut self, v: u32) -> Raw {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Raw {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(mut self, b: &[u8]) -> Raw {
        self.0.extend_from_slice(b);
        self
    }
    /// A GGUF string: u64 length then bytes.
    pub fn str(self, s: &[u8]) -> Raw {
        self.u64(s.len() as u64).bytes(s)
    }
    /// GGUF magic, version and counts.
    pub fn gguf(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        Raw::new()
            .bytes(b"GGUF")
            .u32(version)
            .u64(n_tensors)
            .u64(n_kv)
    }
    /// A u32 metadata entry.
    pub fn kv_u32(self, key: &str, v: u32) -> Raw {
        self.str(key.as_bytes()).u32(4).u32(v)
    }
    /// A tensor descriptor.
    pub fn tensor(self, name: &str, ne: &[u64], ggml_type: u32, offset: u64) -> Raw {
        let mut r = self.str(name.as_bytes()).u32(ne.len() as u32);
        for &d in ne {
            r = r.u64(d);
        }
        r.u32(ggml_type).u64(offset)
    }
    /// Zero padding up to a multiple of `align`, then `n` data bytes.
    pub fn data(mut self, align: usize, n: usize) -> Raw {
        while !self.0.len().is_multiple_of(align) {
            self.0.push(0);
        }
        self.0.extend((0..n).map(|i| i as u8));
        self
    }
    /// A safetensors file from a header string and `n` data bytes.
    pub fn safetensors(header: &str, n: usize) -> Raw {
        Raw::new()
            .u64(header.len() as u64)
            .bytes(header.as_bytes())
            .bytes(&vec![7u8; n])
    }
}

/// Deterministic bytes for an array of `shape` and `dtype`.
pub fn array(shape: &[usize], dtype: DType, seed: u8) -> Array {
    let n: usize = shape.iter().product();
    let len = dtype.bytes_for(n as u64).expect("size") as usize;
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    Array::from_bytes(&bytes, shape, dtype).expect("array")
}

pub fn ggml(name: &str) -> DType {
    DType::Block(GgmlType::from_name(name).expect("ggml type"))
}

/// A small valid safetensors file with metadata and three dtypes.
pub fn small_safetensors() -> Vec<u8> {
    let mut w = SafeTensorsWriter::new();
    w.add_metadata("format", "pt")
        .add_tensor("a", array(&[2, 3], DType::F32, 1))
        .add_tensor("b", array(&[4], DType::I8, 2))
        .add_tensor("c", array(&[3, 1], DType::BF16, 3));
    w.to_bytes().expect("write")
}

/// One metadata value of every GGUF type, including nested arrays.
pub fn every_value() -> Vec<(String, Value)> {
    let v = vec![
        ("u8", Value::U8(200)),
        ("i8", Value::I8(-100)),
        ("u16", Value::U16(60000)),
        ("i16", Value::I16(-30000)),
        ("u32", Value::U32(4_000_000_000)),
        ("i32", Value::I32(-2_000_000_000)),
        ("f32", Value::F32(1.5)),
        ("bool", Value::Bool(true)),
        ("string", Value::String("héllo".into())),
        ("u64", Value::U64(u64::MAX)),
        ("i64", Value::I64(i64::MIN)),
        ("f64", Value::F64(-2.25)),
        ("arr.u8", Value::Array(ValueArray::U8(vec![1, 2, 3]))),
        ("arr.i32", Value::Array(ValueArray::I32(vec![-1, 0, 1]))),
        ("arr.f32", Value::Array(ValueArray::F32(vec![0.5, -0.25]))),
        (
            "arr.bool",
            Value::Array(ValueArray::Bool(vec![true, false])),
        ),
        (
            "arr.str",
            Value::Array(ValueArray::String(vec!["a".into(), "".into(), "ü".into()])),
        ),
        ("arr.u64", Value::Array(ValueArray::U64(vec![u64::MAX]))),
        ("arr.empty", Value::Array(ValueArray::F64(vec![]))),
        (
            "arr.nested",
            Value::Array(ValueArray::Array(vec![
                ValueArray::I16(vec![1, -2]),
                ValueArray::String(vec!["x".into()]),
                ValueArray::Array(vec![ValueArray::U16(vec![7])]),
            ])),
        ),
    ];
    v.into_iter()
        .map(|(k, v)| (format!("test.{k}"), v))
        .collect()
}

/// A small valid GGUF file: every metadata type, an f32 and a q4_0 tensor.
pub fn small_gguf() -> Vec<u8> {
    let mut w = GgufWriter::new();
    for (k, v) in every_value() {
        w.add_metadata(k, v);
    }
    w.add_tensor("f", array(&[2, 3], DType::F32, 1))
        .add_tensor("q", array(&[2, 32], ggml("Q4_0"), 2));
    w.to_bytes().expect("write")
}
