//! Element types, including the opaque GGML block-quantized formats.
//!
//! Formats are data, not code: every GGML type id llama.cpp knows is one row of
//! [`GGML_TYPES`], with its block size and bytes per block; every safetensors type
//! GGML lacks is one row of [`OPAQUE_TYPES`].

use std::fmt;

/// A GGML tensor type as stored in GGUF files (`ggml_type` in ggml.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GgmlType {
    /// The numeric id written in GGUF tensor descriptors.
    pub id: u32,
    /// llama.cpp's upper-case name, e.g. `Q4_K`.
    pub name: &'static str,
    /// Elements per block (1 for plain scalar types).
    pub block_size: usize,
    /// Bytes per block.
    pub type_size: usize,
}

const fn ggml(id: u32, name: &'static str, block_size: usize, type_size: usize) -> GgmlType {
    GgmlType {
        id,
        name,
        block_size,
        type_size,
    }
}

/// Every GGML type id in use by llama.cpp (ids 4, 5, 31-33 and 36-38 were
/// removed upstream and are rejected as unknown).
pub const GGML_TYPES: &[GgmlType] = &[
    ggml(0, "F32", 1, 4),
    ggml(1, "F16", 1, 2),
    ggml(2, "Q4_0", 32, 18),
    ggml(3, "Q4_1", 32, 20),
    ggml(6, "Q5_0", 32, 22),
    ggml(7, "Q5_1", 32, 24),
    ggml(8, "Q8_0", 32, 34),
    ggml(9, "Q8_1", 32, 40),
    ggml(10, "Q2_K", 256, 84),
    ggml(11, "Q3_K", 256, 110),
    ggml(12, "Q4_K", 256, 144),
    ggml(13, "Q5_K", 256, 176),
    ggml(14, "Q6_K", 256, 210),
    ggml(15, "Q8_K", 256, 292),
    ggml(16, "IQ2_XXS", 256, 66),
    ggml(17, "IQ2_XS", 256, 74),
    ggml(18, "IQ3_XXS", 256, 98),
    ggml(19, "IQ1_S", 256, 50),
    ggml(20, "IQ4_NL", 32, 18),
    ggml(21, "IQ3_S", 256, 110),
    ggml(22, "IQ2_S", 256, 82),
    ggml(23, "IQ4_XS", 256, 136),
    ggml(24, "I8", 1, 1),
    ggml(25, "I16", 1, 2),
    ggml(26, "I32", 1, 4),
    ggml(27, "I64", 1, 8),
    ggml(28, "F64", 1, 8),
    ggml(29, "IQ1_M", 256, 56),
    ggml(30, "BF16", 1, 2),
    ggml(34, "TQ1_0", 256, 54),
    ggml(35, "TQ2_0", 256, 66),
    ggml(39, "MXFP4", 32, 17),
    ggml(40, "NVFP4", 64, 36),
    ggml(41, "Q1_0", 128, 18),
];

impl GgmlType {
    /// Looks a type up by its GGUF id; `None` for ids llama.cpp does not define.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        GGML_TYPES.iter().copied().find(|t| t.id == id)
    }

    /// Looks a type up by its llama.cpp name (case-insensitive).
    pub fn from_name(name: &str) -> Option<GgmlType> {
        GGML_TYPES
            .iter()
            .copied()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Bytes needed for `n_elements` elements, or `None` when the count is not a
    /// whole number of blocks or the size overflows.
    pub fn bytes_for(&self, n_elements: u64) -> Option<u64> {
        block_bytes(n_elements, self.block_size, self.type_size)
    }

    /// The native Ferrite dtype for this GGML type, if it is a plain scalar type
    /// Ferrite computes with; other types stay opaque [`DType::Block`].
    pub fn dtype(self) -> DType {
        match self.id {
            0 => DType::F32,
            1 => DType::F16,
            24 => DType::I8,
            26 => DType::I32,
            27 => DType::I64,
            30 => DType::BF16,
            _ => DType::Block(self),
        }
    }
}

fn block_bytes(n_elements: u64, block_size: usize, type_size: usize) -> Option<u64> {
    let bs = block_size as u64;
    // A hand-made type with no elements per block describes no valid layout.
    if bs == 0 || !n_elements.is_multiple_of(bs) {
        return None;
    }
    (n_elements / bs).checked_mul(type_size as u64)
}

/// A storage type safetensors defines and GGML does not (`U32`, `F8_E4M3`, `F4` ...).
/// Such tensors are carried as bytes, so their files open, show and convert to
/// safetensors; they are not computed with, and GGUF, which has no id for them,
/// cannot store them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpaqueType {
    /// The safetensors name, e.g. `F8_E4M3`.
    pub name: &'static str,
    /// Elements per block: 2 for 4-bit, 4 for 6-bit types (whole bytes), else 1.
    pub block_size: usize,
    /// Bytes per block.
    pub type_size: usize,
}

const fn opaque(name: &'static str, block_size: usize, type_size: usize) -> OpaqueType {
    OpaqueType {
        name,
        block_size,
        type_size,
    }
}

/// Every safetensors dtype without a GGML counterpart (safetensors 0.8's list).
pub const OPAQUE_TYPES: &[OpaqueType] = &[
    opaque("U16", 1, 2),
    opaque("U32", 1, 4),
    opaque("U64", 1, 8),
    opaque("C64", 1, 8),
    opaque("F8_E4M3", 1, 1),
    opaque("F8_E4M3FNUZ", 1, 1),
    opaque("F8_E5M2", 1, 1),
    opaque("F8_E5M2FNUZ", 1, 1),
    opaque("F8_E8M0", 1, 1),
    opaque("F6_E2M3", 4, 3),
    opaque("F6_E3M2", 4, 3),
    opaque("F4", 2, 1),
];

impl OpaqueType {
    /// Looks a type up by its safetensors name (case-sensitive, as safetensors is).
    pub fn from_name(name: &str) -> Option<OpaqueType> {
        OPAQUE_TYPES.iter().copied().find(|t| t.name == name)
    }

    /// Bytes needed for `n_elements` elements, or `None` when the count is not a
    /// whole number of blocks (a 4-bit tensor needs an even count) or overflows.
    pub fn bytes_for(&self, n_elements: u64) -> Option<u64> {
        block_bytes(n_elements, self.block_size, self.type_size)
    }
}

/// The element type of an [`crate::Array`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Bool,
    U8,
    I8,
    I32,
    I64,
    F16,
    BF16,
    F32,
    /// Opaque block-quantized (or otherwise unsupported) GGML data carried as
    /// bytes; the logical shape counts elements, not blocks.
    Block(GgmlType),
    /// A safetensors type GGML lacks, carried as bytes like [`DType::Block`].
    Opaque(OpaqueType),
}

impl DType {
    /// Every computable dtype, in promotion order.
    pub const ALL: [DType; 8] = [
        DType::Bool,
        DType::U8,
        DType::I8,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
    ];

    /// Bytes per element for computable dtypes; `None` for block formats,
    /// whose size is per block (see [`DType::bytes_for`]).
    pub fn size(self) -> Option<usize> {
        Some(match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 => 8,
            DType::Block(_) | DType::Opaque(_) => return None,
        })
    }

    /// Bytes for `n` elements, `None` on overflow or a partial block.
    pub fn bytes_for(self, n: u64) -> Option<u64> {
        match self {
            DType::Block(t) => t.bytes_for(n),
            DType::Opaque(t) => t.bytes_for(n),
            other => n.checked_mul(other.size()? as u64),
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32)
    }

    pub fn is_integer(self) -> bool {
        matches!(self, DType::U8 | DType::I8 | DType::I32 | DType::I64)
    }

    /// Carried as bytes and not computed with: GGML blocks and opaque types.
    pub fn is_block(self) -> bool {
        matches!(self, DType::Block(_) | DType::Opaque(_))
    }

    /// Elements per block of a byte-carried type (1 for everything else).
    pub fn block_size(self) -> usize {
        match self {
            DType::Block(t) => t.block_size,
            DType::Opaque(t) => t.block_size,
            _ => 1,
        }
    }

    /// The GGML type id this dtype is stored as in GGUF, if any (bool and u8 have none).
    pub fn ggml_type(self) -> Option<GgmlType> {
        let id = match self {
            DType::F32 => 0,
            DType::F16 => 1,
            DType::I8 => 24,
            DType::I32 => 26,
            DType::I64 => 27,
            DType::BF16 => 30,
            DType::Block(t) => return Some(t),
            DType::Bool | DType::U8 | DType::Opaque(_) => return None,
        };
        GgmlType::from_id(id)
    }

    /// The short name used in errors and `ferrite info` (`f32`, `bf16`, `q4_k` ...).
    pub fn name(self) -> String {
        match self {
            DType::Bool => "bool".into(),
            DType::U8 => "u8".into(),
            DType::I8 => "i8".into(),
            DType::I32 => "i32".into(),
            DType::I64 => "i64".into(),
            DType::F16 => "f16".into(),
            DType::BF16 => "bf16".into(),
            DType::F32 => "f32".into(),
            DType::Block(t) => t.name.to_ascii_lowercase(),
            DType::Opaque(t) => t.name.to_ascii_lowercase(),
        }
    }

    /// NumPy/MLX-style promotion of two computable dtypes: the result can
    /// represent both inputs as well as the set allows (f16 with bf16 gives f32,
    /// signed with unsigned gives the next wider signed type).
    pub fn promote(a: DType, b: DType) -> Option<DType> {
        use DType::*;
        if a.is_block() || b.is_block() {
            return None;
        }
        if a == b {
            return Some(a);
        }
        let rank = |d: DType| DType::ALL.iter().position(|&x| x == d).unwrap_or(0);
        let (lo, hi) = if rank(a) <= rank(b) { (a, b) } else { (b, a) };
        Some(match (lo, hi) {
            (_, F32) => F32,
            (F16, BF16) => F32,
            (_, F16) => F16,
            (_, BF16) => BF16,
            (U8, I8) => I32,
            (_, hi) => hi,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sizes_positive() {
        for (i, a) in GGML_TYPES.iter().enumerate() {
            assert!(a.block_size > 0 && a.type_size > 0, "{}", a.name);
            for b in &GGML_TYPES[i + 1..] {
                assert_ne!(a.id, b.id);
                assert_ne!(a.name, b.name);
            }
        }
        assert!(GgmlType::from_id(4).is_none());
        assert_eq!(GgmlType::from_name("q4_k").map(|t| t.id), Some(12));
    }

    #[test]
    fn block_bytes() {
        let q4k = GgmlType::from_name("Q4_K").unwrap();
        assert_eq!(q4k.bytes_for(512), Some(288));
        assert_eq!(q4k.bytes_for(100), None);
        assert_eq!(DType::F32.bytes_for(u64::MAX), None);
    }

    #[test]
    fn promotion_matches_numpy_rules() {
        use DType::*;
        assert_eq!(DType::promote(F16, BF16), Some(F32));
        assert_eq!(DType::promote(I32, F16), Some(F16));
        assert_eq!(DType::promote(U8, I8), Some(I32));
        assert_eq!(DType::promote(Bool, I64), Some(I64));
        assert_eq!(DType::promote(BF16, F32), Some(F32));
    }
}
