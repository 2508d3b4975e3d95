//! The Jinja environment transformers renders chat templates in, rebuilt on
//! minijinja: `trim_blocks`, `lstrip_blocks`, loop controls, `raise_exception`,
//! transformers' own `tojson`, Python's printing of values and Python's
//! string/list/dict methods.

use crate::pyfmt::{json_dumps, py_str, JsonStyle};
use minijinja::value::{Kwargs, Object, ObjectRepr, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use std::sync::Arc;

/// Marks an error as the template's own `raise_exception(message)`, so that
/// the caller gets the message alone rather than an engine failure.
#[derive(Debug)]
pub(crate) struct Raised(pub String);

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Raised {}

/// Python's `None` where Python would fail to iterate it. minijinja treats
/// `none` as an empty list in `for` loops; Jinja2 raises "'NoneType' object is
/// not iterable", which is how tool-only templates reject a call without
/// tools. `tools` and `documents` left unset are this object: falsy, `is none`,
/// printed `None`, `null` in JSON, and not iterable.
#[derive(Debug)]
pub(crate) struct PyNone;

impl Object for PyNone {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("None")
    }
}

/// The value Python passes for an argument left out: `None`.
pub(crate) fn py_none() -> Value {
    Value::from_object(PyNone)
}

/// True for `none` and for [`PyNone`].
pub(crate) fn is_none(v: &Value) -> bool {
    v.is_none() || v.downcast_object_ref::<PyNone>().is_some()
}

pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build();
    if let Ok(syntax) = syntax {
        env.set_syntax(syntax);
    }
    // Errors carry the template's line; the source itself is not needed.
    env.set_debug(false);
    env.set_formatter(|out, _state, value| {
        out.write_str(&py_str(value)?)?;
        Ok(())
    });
    env.set_unknown_method_callback(methods);
    env.add_filter("tojson", tojson);
    env.add_filter("indent", indent);
    env.add_filter("string", |v: &Value| py_str(v));
    env.add_function("raise_exception", raise_exception);
    env.add_test("none", |v: &Value| is_none(v));
    // Jinja2's `sequence` is "has a length and indexing": dicts pass too.
    env.add_test("sequence", |v: &Value| {
        matches!(
            v.kind(),
            ValueKind::Seq | ValueKind::Map | ValueKind::String
        )
    });
    env
}

fn raise_exception(message: Option<&Value>) -> Result<Value, Error> {
    let message = match message {
        Some(m) => py_str(m)?,
        None => String::new(),
    };
    Err(Error::new(ErrorKind::InvalidOperation, message.clone()).with_source(Raised(message)))
}

/// transformers' `tojson(x, ensure_ascii=False, indent=None, separators=None,
/// sort_keys=False)`: `json.dumps` with those arguments, HTML left unescaped.
fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false);
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let indent = match kwargs.get::<Option<Value>>("indent")? {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) => match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => Some(" ".repeat(usize::try_from(v.as_i64().unwrap_or(0)).unwrap_or(0))),
        },
    };
    let mut style = JsonStyle::new(ensure_ascii, indent, sort_keys);
    if let Some(seps) = kwargs.get::<Option<Value>>("separators")? {
        if !seps.is_none() {
            let parts: Vec<Value> = seps.try_iter()?.collect();
            match parts.as_slice() {
                [item, key] if item.as_str().is_some() && key.as_str().is_some() => {
                    style.item_sep = item.as_str().unwrap_or_default().to_string();
                    style.key_sep = key.as_str().unwrap_or_default().to_string();
                }
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: separators must be two strings",
                    ))
                }
            }
        }
    }
    kwargs.assert_all_used()?;
    json_dumps(value, &style).map(Value::from)
}

/// The widest `indent` a template may ask for.
const MAX_INDENT: i64 = 4096;

/// Jinja2's `indent(s, width=4, first=False, blank=False)`, which differs
/// from minijinja's at the end of the text: Jinja2 appends a newline, splits
/// with Python's `str.splitlines` and joins the lines again, so a trailing
/// newline survives (`'{\n' | indent(4, first=true)` is `'    {\n'`), where
/// minijinja drops it. Command R's tool-call template relies on that.
fn indent(
    value: &Value,
    width: Option<Value>,
    first: Option<Value>,
    blank: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let Some(text) = value.as_str() else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("indent expects a string, got {}", value.kind()),
        ));
    };
    let width = match width {
        Some(w) => Some(w),
        None => kwargs.get::<Option<Value>>("width")?,
    };
    let flag = |positional: Option<Value>, name: &str| -> Result<bool, Error> {
        Ok(match positional {
            Some(v) => v.is_true(),
            None => kwargs
                .get::<Option<Value>>(name)?
                .is_some_and(|v| v.is_true()),
        })
    };
    let first = flag(first, "first")?;
    let blank = flag(blank, "blank")?;
    kwargs.assert_all_used()?;
    let indention = match width {
        None => " ".repeat(4),
        Some(w) => match (w.as_str(), w.as_i64()) {
            (Some(s), _) => s.to_string(),
            // A template-controlled width: bounded, so `indent(10**12)` is an error
            // rather than an allocation the size of the width on every line.
            (None, Some(n)) if n > MAX_INDENT => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("indent width {n} is larger than {MAX_INDENT}"),
                ))
            }
            (None, Some(n)) => " ".repeat(usize::try_from(n).unwrap_or(0)),
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "indent width must be an integer or a string",
                ))
            }
        },
    };
    let text = format!("{text}\n");
    let lines = splitlines(&text);
    let mut out = if blank {
        lines.join(&format!("\n{indention}"))
    } else {
        let mut out = lines[0].to_string();
        for line in &lines[1..] {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&indention);
            }
            out.push_str(line);
        }
        out
    };
    if first {
        out.insert_str(0, &indention);
    }
    Ok(Value::from(out))
}

/// Python's `str.splitlines()`: splits at `\n`, `\r`, `\r\n`, `\v`, `\f`,
/// `\x1c`-`\x1e`, `\x85`, U+2028 and U+2029; no empty last line.
fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let breaks = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if breaks {
            lines.push(&s[start..i]);
            start = i + c.len_utf8();
            if c == '\r' && chars.peek().is_some_and(|&(_, n)| n == '\n') {
                chars.next();
                start += 1;
            }
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// Python methods on template values: minijinja-contrib's set, plus the few
/// it lacks that chat templates call.
fn methods(state: &mut State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if value.kind() == ValueKind::String {
        let s = value.as_str().unwrap_or_default();
        match (method, args) {
            ("__str__", []) | ("__repr__", []) => return Ok(value.clone()),
            ("removeprefix", [p]) => {
                let p = p.as_str().unwrap_or_default();
                return Ok(Value::from(s.strip_prefix(p).unwrap_or(s)));
            }
            ("removesuffix", [p]) => {
                let p = p.as_str().unwrap_or_default();
                return Ok(Value::from(s.strip_suffix(p).unwrap_or(s)));
            }
            ("rsplit", _) => return rsplit(s, args),
            ("index", [sub]) => {
                let sub = sub.as_str().unwrap_or_default();
                return match s.find(sub) {
                    Some(byte) => Ok(Value::from(s[..byte].chars().count())),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "substring not found",
                    )),
                };
            }
            _ => {}
        }
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// Python's `str.rsplit(sep=None, maxsplit=-1)`.
fn rsplit(s: &str, args: &[Value]) -> Result<Value, Error> {
    let sep = args
        .first()
        .filter(|v| !v.is_none())
        .and_then(|v| v.as_str());
    let max = args.get(1).and_then(Value::as_i64).unwrap_or(-1);
    let limit = if max < 0 {
        usize::MAX
    } else {
        max as usize + 1
    };
    let mut parts: Vec<String> = match sep {
        Some(sep) if !sep.is_empty() => s.rsplitn(limit, sep).map(String::from).collect(),
        Some(_) => return Err(Error::new(ErrorKind::InvalidOperation, "empty separator")),
        None => {
            let mut words: Vec<String> = Vec::new();
            let mut rest = s.trim_end();
            while !rest.is_empty() {
                if words.len() + 1 == limit {
                    words.push(rest.trim_end().to_string());
                    break;
                }
                match rest.rfind(char::is_whitespace) {
                    Some(i) => {
                        let ws = rest[i..].chars().next().map_or(1, char::len_utf8);
                        words.push(rest[i + ws..].to_string());
                        rest = rest[..i].trim_end();
                    }
                    None => {
                        words.push(rest.to_string());
                        break;
                    }
                }
            }
            words
        }
    };
    parts.reverse();
    Ok(Value::from(parts))
}
