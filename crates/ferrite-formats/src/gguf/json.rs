//! GGUF values as JSON, and back.
//!
//! JSON alone loses a value's GGUF type (`2` may be a u8 or an f64; `[]` has no
//! element type), so [`Value::type_descriptor`] describes the type separately and
//! [`Value::from_typed_json`] rebuilds the exact value from the two. This is how
//! `ferrite convert` carries GGUF metadata through safetensors, whose metadata holds
//! only strings, and brings it back unchanged.
//!
//! Descriptors: a scalar type's name (`"u32"`, `"f64"`, `"string"` ...);
//! `{"array": "i32"}` for an array of scalars; `{"array": [D1, D2, ...]}` for an
//! array of arrays, one array descriptor per element (GGUF lets each nested array
//! have its own element type).

use serde_json::{json, Value as J};

use super::value::{type_name, Value, ValueArray};

/// A float as JSON; the non-finite ones, which JSON numbers cannot hold, as the
/// strings `"NaN"`, `"inf"` and `"-inf"`.
fn float(v: f64) -> J {
    if v.is_nan() {
        J::from("NaN")
    } else if v.is_infinite() {
        J::from(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        J::from(v)
    }
}

fn parse_float(j: &J) -> Option<f64> {
    match j {
        J::Number(n) => n.as_f64(),
        J::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn parse_int<T: TryFrom<u64> + TryFrom<i64>>(j: &J) -> Option<T> {
    match j.as_u64() {
        Some(u) => T::try_from(u).ok(),
        None => T::try_from(j.as_i64()?).ok(),
    }
}

impl Value {
    /// The value as JSON: numbers, booleans, strings and (nested) arrays;
    /// non-finite floats as the strings `"NaN"`, `"inf"`, `"-inf"`.
    pub fn to_json(&self) -> J {
        match self {
            Value::U8(v) => J::from(*v),
            Value::I8(v) => J::from(*v),
            Value::U16(v) => J::from(*v),
            Value::I16(v) => J::from(*v),
            Value::U32(v) => J::from(*v),
            Value::I32(v) => J::from(*v),
            Value::F32(v) => float(f64::from(*v)),
            Value::Bool(v) => J::from(*v),
            Value::String(v) => J::from(v.as_str()),
            Value::Array(a) => a.to_json(),
            Value::U64(v) => J::from(*v),
            Value::I64(v) => J::from(*v),
            Value::F64(v) => float(*v),
        }
    }

    /// The full type of the value (see the module docs), so that
    /// [`Value::from_typed_json`] can rebuild it from [`Value::to_json`].
    pub fn type_descriptor(&self) -> J {
        match self {
            Value::Array(a) => a.descriptor(),
            v => J::from(type_name(v.type_id())),
        }
    }

    /// Rebuilds a value from its JSON and its type descriptor; `None` when the JSON
    /// does not fit the type (a number out of range, a wrong shape, an unknown type).
    ///
    /// ```
    /// use ferrite_formats::gguf::Value;
    /// let v = Value::F32(f32::NAN);
    /// let back = Value::from_typed_json(&v.to_json(), &v.type_descriptor()).unwrap();
    /// assert!(matches!(back, Value::F32(x) if x.is_nan()));
    /// ```
    pub fn from_typed_json(value: &J, descriptor: &J) -> Option<Value> {
        match descriptor {
            J::String(name) => scalar(name, value),
            J::Object(o) if o.len() == 1 => array(value, o.get("array")?).map(Value::Array),
            _ => None,
        }
    }
}

fn scalar(name: &str, j: &J) -> Option<Value> {
    Some(match name {
        "u8" => Value::U8(parse_int(j)?),
        "i8" => Value::I8(parse_int(j)?),
        "u16" => Value::U16(parse_int(j)?),
        "i16" => Value::I16(parse_int(j)?),
        "u32" => Value::U32(parse_int(j)?),
        "i32" => Value::I32(parse_int(j)?),
        "u64" => Value::U64(parse_int(j)?),
        "i64" => Value::I64(parse_int(j)?),
        // f64 → f32 is exact here: the JSON number was printed from an f32.
        "f32" => Value::F32(parse_float(j)? as f32),
        "f64" => Value::F64(parse_float(j)?),
        "bool" => Value::Bool(j.as_bool()?),
        "string" => Value::String(j.as_str()?.to_string()),
        _ => return None,
    })
}

fn array(j: &J, elem: &J) -> Option<ValueArray> {
    let items = j.as_array()?;
    let name = match elem {
        J::Array(descs) if descs.len() == items.len() => {
            let inner = items.iter().zip(descs).map(|(item, d)| match d {
                J::Object(o) if o.len() == 1 => array(item, o.get("array")?),
                _ => None,
            });
            return inner.collect::<Option<_>>().map(ValueArray::Array);
        }
        J::String(name) => name.as_str(),
        _ => return None,
    };
    fn all<T>(items: &[J], f: impl Fn(&J) -> Option<T>) -> Option<Vec<T>> {
        items.iter().map(f).collect()
    }
    Some(match name {
        "u8" => ValueArray::U8(all(items, parse_int)?),
        "i8" => ValueArray::I8(all(items, parse_int)?),
        "u16" => ValueArray::U16(all(items, parse_int)?),
        "i16" => ValueArray::I16(all(items, parse_int)?),
        "u32" => ValueArray::U32(all(items, parse_int)?),
        "i32" => ValueArray::I32(all(items, parse_int)?),
        "u64" => ValueArray::U64(all(items, parse_int)?),
        "i64" => ValueArray::I64(all(items, parse_int)?),
        "f32" => ValueArray::F32(all(items, |j| parse_float(j).map(|v| v as f32))?),
        "f64" => ValueArray::F64(all(items, parse_float)?),
        "bool" => ValueArray::Bool(all(items, J::as_bool)?),
        "string" => ValueArray::String(all(items, |j| j.as_str().map(str::to_string))?),
        _ => return None,
    })
}

impl ValueArray {
    pub(crate) fn to_json(&self) -> J {
        fn all<T: Copy + Into<J>>(v: &[T]) -> J {
            J::Array(v.iter().map(|&x| x.into()).collect())
        }
        match self {
            ValueArray::U8(v) => all(v),
            ValueArray::I8(v) => all(v),
            ValueArray::U16(v) => all(v),
            ValueArray::I16(v) => all(v),
            ValueArray::U32(v) => all(v),
            ValueArray::I32(v) => all(v),
            ValueArray::F32(v) => J::Array(v.iter().map(|&x| float(x.into())).collect()),
            ValueArray::Bool(v) => all(v),
            ValueArray::String(v) => J::Array(v.iter().map(|s| J::from(s.as_str())).collect()),
            ValueArray::Array(v) => J::Array(v.iter().map(ValueArray::to_json).collect()),
            ValueArray::U64(v) => all(v),
            ValueArray::I64(v) => all(v),
            ValueArray::F64(v) => J::Array(v.iter().map(|&x| float(x)).collect()),
        }
    }

    fn descriptor(&self) -> J {
        let elem = match self {
            ValueArray::Array(v) => J::Array(v.iter().map(ValueArray::descriptor).collect()),
            a => J::from(type_name(a.elem_type_id())),
        };
        json!({ "array": elem })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value) {
        // Through text, as convert stores it.
        let text = v.to_json().to_string();
        let desc = v.type_descriptor().to_string();
        let back = Value::from_typed_json(
            &serde_json::from_str(&text).expect("json"),
            &serde_json::from_str(&desc).expect("descriptor"),
        )
        .unwrap_or_else(|| panic!("{v:?} did not come back from {text} / {desc}"));
        // Debug shows NaN and -0.0 as such, so equal text means the same bits here.
        assert_eq!(format!("{back:?}"), format!("{v:?}"));
    }

    #[test]
    fn every_type_comes_back_exactly() {
        let values = [
            Value::U8(255),
            Value::I8(-128),
            Value::U16(65535),
            Value::I16(-32768),
            Value::U32(u32::MAX),
            Value::I32(i32::MIN),
            Value::U64(u64::MAX),
            Value::I64(i64::MIN),
            Value::F32(0.1),
            Value::F32(-0.0),
            Value::F32(f32::MIN_POSITIVE / 8.0),
            Value::F32(f32::MAX),
            Value::F32(f32::NAN),
            Value::F32(f32::NEG_INFINITY),
            Value::F64(1e-310),
            Value::F64(f64::INFINITY),
            Value::F64(std::f64::consts::PI),
            Value::Bool(true),
            Value::String("\"quoted\" \u{1b} é".into()),
            Value::Array(ValueArray::U8(vec![])),
            Value::Array(ValueArray::F32(vec![1.5, f32::NAN, -0.0])),
            Value::Array(ValueArray::String(vec!["a".into(), String::new()])),
            Value::Array(ValueArray::Array(vec![
                ValueArray::I64(vec![i64::MAX]),
                ValueArray::String(vec![]),
                ValueArray::Array(vec![ValueArray::Bool(vec![false])]),
            ])),
            Value::Array(ValueArray::Array(vec![])),
        ];
        for v in &values {
            round_trip(v);
        }
    }

    #[test]
    fn json_that_does_not_fit_the_type_is_refused() {
        let cases = [
            (json!(256), json!("u8")),
            (json!(-1), json!("u64")),
            (json!(1.5), json!("i32")),
            (json!("x"), json!("f32")),
            (json!([1, 2]), json!({"array": "bool"})),
            (
                json!([[1]]),
                json!({"array": [{"array": "u8"}, {"array": "u8"}]}),
            ),
            (json!(1), json!("complex")),
            (json!(1), json!({"array": "u8", "extra": 1})),
        ];
        for (v, d) in &cases {
            assert!(Value::from_typed_json(v, d).is_none(), "{v} as {d}");
        }
    }
}
