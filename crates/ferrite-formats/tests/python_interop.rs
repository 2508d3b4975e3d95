//! Files written by the reference Python packages (`safetensors`, llama.cpp's
//! `gguf`) read exactly here, and files written here read exactly there.
//!
//! Needs the venv from python/ensure_venv.sh (pinned by python/requirements.txt);
//! if it cannot be made the test fails, unless FERRITE_SKIP_PYTHON=1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{array, every_value, ggml};
use ferrite_core::{Array, DType, GGML_TYPES, OPAQUE_TYPES};
use ferrite_formats::gguf::{Value, ValueArray};
use ferrite_formats::{Gguf, GgufWriter, SafeTensors, SafeTensorsWriter};
use serde_json::{json, Map, Value as Json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, or `None` when skipping was asked for explicitly.
fn python() -> Option<PathBuf> {
    if std::env::var("FERRITE_SKIP_PYTHON").is_ok_and(|v| v == "1") {
        eprintln!("FERRITE_SKIP_PYTHON=1: skipping the Python interop test");
        return None;
    }
    let out = Command::new("bash")
        .arg(repo().join("python/ensure_venv.sh"))
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "python/ensure_venv.sh failed (set FERRITE_SKIP_PYTHON=1 to skip this test):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn script(python: &Path, cmd: &str, dir: &Path) {
    let out = Command::new(python)
        .arg(repo().join("python/formats_roundtrip.py"))
        .args([cmd, &dir.display().to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "formats_roundtrip.py {cmd} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A GGUF value as the manifest writes it: `[type, payload]`, arrays as
/// `["array", element type, [values]]`.
fn canon(v: &Value) -> Json {
    match v {
        Value::Array(a) => canon_array(a),
        Value::String(s) => json!(["string", s]),
        v => json!([v.type_name(), v.to_json()]),
    }
}

fn canon_array(a: &ValueArray) -> Json {
    let elems: Vec<Json> = match a {
        ValueArray::Array(inner) => inner.iter().map(canon_array).collect(),
        a => (0..a.len())
            .filter_map(|i| a.get(i))
            .map(|v| canon(&v))
            .collect(),
    };
    let elem = Value::Array(a.clone()).type_name();
    let elem = elem
        .trim_start_matches("array[")
        .trim_end_matches(']')
        .to_string();
    json!(["array", elem, elems])
}

fn st_name(d: DType) -> String {
    match d {
        DType::Block(t) => t.name.to_string(),
        DType::Opaque(t) => t.name.to_string(),
        DType::Bool => "BOOL".into(),
        d => d.name().to_uppercase(),
    }
}

fn tensor_json(dtype: String, a: &Array) -> Json {
    let hex: String = a
        .to_bytes()
        .expect("bytes")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({"dtype": dtype, "shape": a.shape(), "hex": hex})
}

fn safetensors_json(st: &SafeTensors) -> Json {
    let tensors: Map<String, Json> = st
        .tensors()
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                tensor_json(st_name(t.dtype), &st.array(&t.name).expect("array")),
            )
        })
        .collect();
    json!({"metadata": st.metadata(), "tensors": tensors})
}

fn gguf_json(g: &Gguf) -> Json {
    let meta: Vec<Json> = g
        .metadata()
        .iter()
        .map(|(k, v)| json!([k, canon(v)]))
        .collect();
    let tensors: Map<String, Json> = g
        .tensors()
        .iter()
        .map(|t| {
            let name = t
                .dtype
                .ggml_type()
                .map(|g| g.name)
                .unwrap_or("?")
                .to_string();
            (
                t.name.clone(),
                tensor_json(name, &g.array(&t.name).expect("array")),
            )
        })
        .collect();
    json!({"metadata": meta, "tensors": tensors, "alignment": g.alignment()})
}

/// The first difference between two JSON values, as a path and both sides.
fn first_diff(a: &Json, b: &Json, at: &str) -> Option<String> {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            let keys = x.keys().chain(y.keys());
            keys.filter_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_diff(p, q, &format!("{at}.{k}")),
                _ => Some(format!("{at}.{k}: present on one side only")),
            })
            .next()
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_diff(p, q, &format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!(
            "{at}: expected {:.200}, got {:.200}",
            a.to_string(),
            b.to_string()
        )),
    }
}

#[test]
fn python_written_files_read_exactly() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    script(&python, "write", dir.path());
    let manifest: Json = serde_json::from_slice(
        &std::fs::read(dir.path().join("py_manifest.json")).expect("manifest"),
    )
    .expect("json");

    let files = manifest["files"].as_object().expect("files");
    assert!(files.len() >= 4);
    for (name, expected) in files {
        let path = dir.path().join(name);
        let got = if name.ends_with(".gguf") {
            gguf_json(&Gguf::open(&path).expect("open gguf"))
        } else {
            safetensors_json(&SafeTensors::open(&path).expect("open safetensors"))
        };
        if let Some(d) = first_diff(expected, &got, name) {
            panic!("{d}");
        }
    }
}

#[test]
fn ferrite_written_files_read_exactly_in_python() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Map::new();

    let mut st = SafeTensorsWriter::new();
    st.add_metadata("format", "pt")
        .add_metadata("ключ", "значение\n");
    let mut st_tensors = Map::new();
    let mut dtypes = DType::ALL.to_vec();
    dtypes.extend([ggml("F64"), ggml("I16")]);
    dtypes.extend(OPAQUE_TYPES.iter().map(|&t| DType::Opaque(t)));
    for (i, &dt) in dtypes.iter().enumerate() {
        let shape: &[usize] = if dt.block_size() > 1 {
            // 4- and 6-bit types: a whole number of bytes.
            &[3, 4]
        } else {
            [&[2, 3][..], &[5], &[], &[0, 2], &[1, 2, 3, 1, 2]][i % 5]
        };
        let a = if dt == DType::Bool {
            let bytes: Vec<u8> = (0..shape.iter().product::<usize>())
                .map(|x| (x % 2) as u8)
                .collect();
            Array::from_bytes(&bytes, shape, dt).expect("bool")
        } else {
            array(shape, dt, i as u8)
        };
        st_tensors.insert(format!("t.{dt}"), tensor_json(st_name(dt), &a));
        st.add_tensor(format!("t.{dt}"), a);
    }
    st.write(dir.path().join("rust.safetensors"))
        .expect("write safetensors");
    files.insert(
        "rust.safetensors".into(),
        json!({"metadata": {"format": "pt", "ключ": "значение\n"}, "tensors": st_tensors}),
    );

    for alignment in [None, Some(64u32)] {
        let mut w = GgufWriter::new();
        let mut meta = Vec::new();
        if let Some(a) = alignment {
            w.add_metadata("general.alignment", Value::U32(a));
            meta.push(json!(["general.alignment", ["u32", a]]));
        }
        for (k, v) in every_value() {
            meta.push(json!([k, canon(&v)]));
            w.add_metadata(k, v);
        }
        let mut tensors = Map::new();
        for (i, t) in GGML_TYPES.iter().enumerate() {
            let shape = if t.block_size == 1 {
                vec![3, 1, 2]
            } else {
                vec![2, 2 * t.block_size]
            };
            let a = array(&shape, t.dtype(), i as u8);
            tensors.insert(format!("t.{}", t.name), tensor_json(t.name.to_string(), &a));
            w.add_tensor(format!("t.{}", t.name), a);
        }
        let name = format!("rust_align{}.gguf", alignment.unwrap_or(32));
        w.write(dir.path().join(&name)).expect("write gguf");
        files.insert(
            name,
            json!({"metadata": meta, "tensors": tensors, "alignment": alignment.unwrap_or(32)}),
        );
    }

    let manifest = json!({"files": files});
    std::fs::write(dir.path().join("rust_manifest.json"), manifest.to_string()).expect("manifest");
    script(&python, "check", dir.path());
}
