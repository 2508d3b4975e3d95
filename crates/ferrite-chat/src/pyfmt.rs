//! Python's text forms of template values: `str()` (what `{{ x }}` and
//! `|string` print in Jinja2) and `json.dumps` (what transformers' `tojson`
//! filter returns). Templates print these into prompts, so a model sees
//! `True`, `None` and `{'a': 1}` exactly as Python writes them.

use crate::env::is_none;
use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value};
use std::fmt::Write;

/// Python's `str(value)`; undefined prints as nothing, as Jinja2's `Undefined` does.
pub(crate) fn py_str(v: &Value) -> Result<String, Error> {
    match v.kind() {
        ValueKind::Undefined => Ok(String::new()),
        ValueKind::String => Ok(v.as_str().unwrap_or_default().to_string()),
        _ => {
            let mut out = String::new();
            py_repr(v, &mut out)?;
            Ok(out)
        }
    }
}

/// Python's `repr(value)` for the JSON-like values templates see.
fn py_repr(v: &Value, out: &mut String) -> Result<(), Error> {
    if is_none(v) {
        out.push_str("None");
        return Ok(());
    }
    match v.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number(v)?),
        ValueKind::String => repr_str(v.as_str().unwrap_or_default(), out),
        ValueKind::Seq | ValueKind::Iterable => {
            let tuple = v.is_tuple();
            out.push(if tuple { '(' } else { '[' });
            let mut n = 0;
            for (i, item) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(&item, out)?;
                n += 1;
            }
            if tuple && n == 1 {
                out.push(',');
            }
            out.push(if tuple { ')' } else { ']' });
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(&key, out)?;
                out.push_str(": ");
                py_repr(&v.get_item(&key)?, out)?;
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{v}");
        }
    }
    Ok(())
}

/// Python's string repr: single quotes unless the text has `'` and no `"`.
fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// An int as Python prints it, or a float as Python's `repr(float)` does:
/// shortest round-trip digits, exponent form below 1e-4 and from 1e16.
fn number(v: &Value) -> Result<String, Error> {
    if v.is_integer() {
        return Ok(v.to_string());
    }
    let f = f64::try_from(v.clone())?;
    Ok(py_float(f))
}

pub(crate) fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest digits that round-trip, as Python's repr does.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let (neg, digits) = match mantissa.strip_prefix('-') {
            Some(m) => (true, m.replace('.', "")),
            None => (false, mantissa.replace('.', "")),
        };
        let point = exp + 1; // digits before the decimal point
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        if point <= 0 {
            s.push_str("0.");
            s.push_str(&"0".repeat((-point) as usize));
            s.push_str(&digits);
        } else if point as usize >= digits.len() {
            s.push_str(&digits);
            s.push_str(&"0".repeat(point as usize - digits.len()));
            s.push_str(".0");
        } else {
            s.push_str(&digits[..point as usize]);
            s.push('.');
            s.push_str(&digits[point as usize..]);
        }
        s
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// The arguments of Python's `json.dumps` that transformers' `tojson` exposes.
pub(crate) struct JsonStyle {
    pub ensure_ascii: bool,
    /// `None`: one line; `Some(s)`: a newline and `s` repeated per level.
    pub indent: Option<String>,
    pub item_sep: String,
    pub key_sep: String,
    pub sort_keys: bool,
}

impl JsonStyle {
    /// Python's defaults: `", "` between items, or `","` once indenting.
    pub fn new(ensure_ascii: bool, indent: Option<String>, sort_keys: bool) -> Self {
        let item_sep = if indent.is_some() { "," } else { ", " };
        JsonStyle {
            ensure_ascii,
            indent,
            item_sep: item_sep.into(),
            key_sep: ": ".into(),
            sort_keys,
        }
    }
}

/// Python's `json.dumps(value, ...)`.
pub(crate) fn json_dumps(v: &Value, style: &JsonStyle) -> Result<String, Error> {
    let mut out = String::new();
    dump(v, style, 0, &mut out)?;
    Ok(out)
}

fn newline(style: &JsonStyle, level: usize, out: &mut String) {
    if let Some(indent) = &style.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(indent);
        }
    }
}

fn dump(v: &Value, style: &JsonStyle, level: usize, out: &mut String) -> Result<(), Error> {
    if is_none(v) {
        out.push_str("null");
        return Ok(());
    }
    match v.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if v.is_integer() {
                out.push_str(&v.to_string());
            } else {
                let f = f64::try_from(v.clone())?;
                out.push_str(&match py_float(f).as_str() {
                    "nan" => "NaN".into(),
                    "inf" => "Infinity".into(),
                    "-inf" => "-Infinity".into(),
                    s => s.to_string(),
                });
            }
        }
        ValueKind::String => json_str(v.as_str().unwrap_or_default(), style.ensure_ascii, out),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(style, level + 1, out);
                dump(item, style, level + 1, out)?;
            }
            newline(style, level, out);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter()?.collect();
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if style.sort_keys {
                keys.sort();
            }
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(style, level + 1, out);
                match key.kind() {
                    ValueKind::String => {
                        json_str(key.as_str().unwrap_or_default(), style.ensure_ascii, out)
                    }
                    // Python turns int, float, bool and None keys into their JSON text, quoted.
                    _ => {
                        let mut text = String::new();
                        dump(key, style, 0, &mut text)?;
                        json_str(&text, style.ensure_ascii, out);
                    }
                }
                out.push_str(&style.key_sep);
                dump(&v.get_item(key)?, style, level + 1, out)?;
            }
            newline(style, level, out);
            out.push('}');
        }
        kind => {
            let name = match kind {
                ValueKind::Undefined => "Undefined".to_string(),
                other => other.to_string(),
            };
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("Object of type {name} is not JSON serializable"),
            ));
        }
    }
    Ok(())
}

fn json_str(s: &str, ensure_ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7f) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        for (f, want) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (21.5, "21.5"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345.6, "123456789012345.6"),
            (-2.0, "-2.0"),
            (1e22, "1e+22"),
        ] {
            assert_eq!(py_float(f), want, "{f}");
        }
    }

    #[test]
    fn repr_matches_python() {
        let v = Value::from(minijinja::value::Serde(
            serde_json::json!([{"a": "it's"}, null, true, 1.0, "x\n"]),
        ));
        assert_eq!(
            py_str(&v).unwrap(),
            r#"[{'a': "it's"}, None, True, 1.0, 'x\n']"#
        );
    }
}
