//! GGUF metadata values.

use std::fmt;

/// A metadata value with its GGUF type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(ValueArray),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A typed GGUF array. Elements are stored unboxed, so a huge token list costs
/// about what it does in the file.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueArray {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    /// Arrays of arrays; each inner array has its own element type.
    Array(Vec<ValueArray>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

/// GGUF value type ids (`gguf_type` in gguf.h).
pub(crate) mod type_id {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// The smallest encoding of one value of type `id` (a string is at least its
/// 8-byte length, an array its type and count), `None` for unknown ids.
pub(crate) fn min_size(id: u32) -> Option<u64> {
    use type_id::*;
    Some(match id {
        U8 | I8 | BOOL => 1,
        U16 | I16 => 2,
        U32 | I32 | F32 => 4,
        U64 | I64 | F64 | STRING => 8,
        ARRAY => 12,
        _ => return None,
    })
}

/// The name of a value type id, for messages.
pub(crate) fn type_name(id: u32) -> &'static str {
    use type_id::*;
    match id {
        U8 => "u8",
        I8 => "i8",
        U16 => "u16",
        I16 => "i16",
        U32 => "u32",
        I32 => "i32",
        F32 => "f32",
        BOOL => "bool",
        STRING => "string",
        ARRAY => "array",
        U64 => "u64",
        I64 => "i64",
        F64 => "f64",
        _ => "unknown",
    }
}

impl Value {
    /// The GGUF type id of this value.
    pub fn type_id(&self) -> u32 {
        use type_id::*;
        match self {
            Value::U8(_) => U8,
            Value::I8(_) => I8,
            Value::U16(_) => U16,
            Value::I16(_) => I16,
            Value::U32(_) => U32,
            Value::I32(_) => I32,
            Value::F32(_) => F32,
            Value::Bool(_) => BOOL,
            Value::String(_) => STRING,
            Value::Array(_) => ARRAY,
            Value::U64(_) => U64,
            Value::I64(_) => I64,
            Value::F64(_) => F64,
        }
    }

    /// The type's name: `u32`, `string`, `array[string]` ...
    pub fn type_name(&self) -> String {
        match self {
            Value::Array(a) => format!("array[{}]", type_name(a.elem_type_id())),
            v => type_name(v.type_id()).to_string(),
        }
    }

    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// An unsigned or non-negative integer value as u64.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
}

impl ValueArray {
    /// The element type id.
    pub fn elem_type_id(&self) -> u32 {
        use type_id::*;
        match self {
            ValueArray::U8(_) => U8,
            ValueArray::I8(_) => I8,
            ValueArray::U16(_) => U16,
            ValueArray::I16(_) => I16,
            ValueArray::U32(_) => U32,
            ValueArray::I32(_) => I32,
            ValueArray::F32(_) => F32,
            ValueArray::Bool(_) => BOOL,
            ValueArray::String(_) => STRING,
            ValueArray::Array(_) => ARRAY,
            ValueArray::U64(_) => U64,
            ValueArray::I64(_) => I64,
            ValueArray::F64(_) => F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ValueArray::U8(v) => v.len(),
            ValueArray::I8(v) => v.len(),
            ValueArray::U16(v) => v.len(),
            ValueArray::I16(v) => v.len(),
            ValueArray::U32(v) => v.len(),
            ValueArray::I32(v) => v.len(),
            ValueArray::F32(v) => v.len(),
            ValueArray::Bool(v) => v.len(),
            ValueArray::String(v) => v.len(),
            ValueArray::Array(v) => v.len(),
            ValueArray::U64(v) => v.len(),
            ValueArray::I64(v) => v.len(),
            ValueArray::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as a [`Value`].
    pub fn get(&self, i: usize) -> Option<Value> {
        Some(match self {
            ValueArray::U8(v) => Value::U8(*v.get(i)?),
            ValueArray::I8(v) => Value::I8(*v.get(i)?),
            ValueArray::U16(v) => Value::U16(*v.get(i)?),
            ValueArray::I16(v) => Value::I16(*v.get(i)?),
            ValueArray::U32(v) => Value::U32(*v.get(i)?),
            ValueArray::I32(v) => Value::I32(*v.get(i)?),
            ValueArray::F32(v) => Value::F32(*v.get(i)?),
            ValueArray::Bool(v) => Value::Bool(*v.get(i)?),
            ValueArray::String(v) => Value::String(v.get(i)?.clone()),
            ValueArray::Array(v) => Value::Array(v.get(i)?.clone()),
            ValueArray::U64(v) => Value::U64(*v.get(i)?),
            ValueArray::I64(v) => Value::I64(*v.get(i)?),
            ValueArray::F64(v) => Value::F64(*v.get(i)?),
        })
    }
}

/// Shows at most this many array elements; `{:#}` shows them all.
const SHOWN_ELEMENTS: usize = 8;

/// Text form for `ferrite info`: strings quoted, arrays abbreviated to their
/// first elements and length unless the alternate flag (`{:#}`) is given.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write!(f, "{s:?}"),
            Value::Array(a) => {
                let n = a.len();
                let shown = if f.alternate() {
                    n
                } else {
                    n.min(SHOWN_ELEMENTS)
                };
                f.write_str("[")?;
                for i in 0..shown {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(v) = a.get(i) {
                        fmt::Display::fmt(&v, f)?;
                    }
                }
                if shown < n {
                    write!(f, ", ... ({n} items)")?;
                }
                f.write_str("]")
            }
            Value::U8(v) => write!(f, "{v}"),
            Value::I8(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
        }
    }
}
