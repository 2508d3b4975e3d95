//! safetensors dtype names and Ferrite dtypes (the mapping is described in
//! the parent module).

use ferrite_core::{DType, GgmlType, OpaqueType};

use crate::error::{bad, Bad};

/// GGML ids of the carried types.
const GGML_F64: u32 = 28;
const GGML_I16: u32 = 25;

pub(crate) fn from_name(name: &str, tensor: &str) -> Result<DType, Bad> {
    Ok(match name {
        "BOOL" => DType::Bool,
        "U8" => DType::U8,
        "I8" => DType::I8,
        "I32" => DType::I32,
        "I64" => DType::I64,
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "F32" => DType::F32,
        "F64" | "I16" => {
            let id = if name == "F64" { GGML_F64 } else { GGML_I16 };
            match GgmlType::from_id(id) {
                Some(t) => DType::Block(t),
                None => bad!("unsupported dtype {name} in tensor '{tensor}'"),
            }
        }
        n => match OpaqueType::from_name(n) {
            Some(t) => DType::Opaque(t),
            None => bad!("unknown dtype '{n}' in tensor '{tensor}'"),
        },
    })
}

/// The safetensors name for a dtype, `None` when safetensors cannot hold it
/// (quantized GGML blocks).
pub(crate) fn to_name(dtype: DType) -> Option<&'static str> {
    Some(match dtype {
        DType::Bool => "BOOL",
        DType::U8 => "U8",
        DType::I8 => "I8",
        DType::I32 => "I32",
        DType::I64 => "I64",
        DType::F16 => "F16",
        DType::BF16 => "BF16",
        DType::F32 => "F32",
        DType::Block(t) if t.id == GGML_F64 => "F64",
        DType::Block(t) if t.id == GGML_I16 => "I16",
        DType::Block(_) => return None,
        // Only the listed types: a hand-made one would write a header no reader accepts.
        DType::Opaque(t) if OpaqueType::from_name(t.name) == Some(t) => t.name,
        DType::Opaque(_) => return None,
    })
}

/// Bytes per element of a dtype safetensors can hold (1 for sub-byte types): the
/// alignment its data wants.
pub(crate) fn element_size(dtype: DType) -> u64 {
    match dtype {
        DType::Block(t) => t.type_size as u64,
        DType::Opaque(t) if t.block_size == 1 => t.type_size as u64,
        d => d.size().unwrap_or(1) as u64,
    }
}
