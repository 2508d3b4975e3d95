//! Files written by this crate read back exactly; real llama.cpp files open.

mod common;

use std::fs;
use std::path::Path;

use common::{array, every_value, ggml};
use ferrite_core::{DType, GGML_TYPES};
use ferrite_formats::gguf::{Value, ValueArray};
use ferrite_formats::{Gguf, GgufWriter, ModelFile, SafeTensors, SafeTensorsWriter};

fn bytes(a: &ferrite_core::Array) -> Vec<u8> {
    a.to_bytes().expect("bytes")
}

/// Every dtype safetensors and Ferrite share, plus the carried F64 and I16.
fn safetensors_dtypes() -> Vec<DType> {
    let mut v = DType::ALL.to_vec();
    v.extend([ggml("F64"), ggml("I16")]);
    v
}

#[test]
fn safetensors_roundtrip_every_dtype() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.safetensors");
    let mut w = SafeTensorsWriter::new();
    w.add_metadata("format", "pt")
        .add_metadata("note", "ünïcode");
    let mut expected = Vec::new();
    for (i, &dt) in safetensors_dtypes().iter().enumerate() {
        let shape: &[usize] = match i % 3 {
            0 => &[3, 5],
            1 => &[7],
            _ => &[2, 1, 3],
        };
        let a = array(shape, dt, i as u8);
        expected.push((format!("t{i}.{dt}"), shape.to_vec(), dt, bytes(&a)));
        w.add_tensor(format!("t{i}.{dt}"), a);
    }
    w.add_tensor("scalar", array(&[], DType::F32, 9))
        .add_tensor("empty", array(&[0, 4], DType::F16, 0));
    w.write(&path).expect("write");

    let st = SafeTensors::open(&path).expect("open");
    assert_eq!(
        st.metadata().get("note").map(String::as_str),
        Some("ünïcode")
    );
    assert_eq!(st.tensors().len(), expected.len() + 2);
    for (name, shape, dt, data) in &expected {
        let t = st.tensor(name).expect("tensor");
        assert_eq!((&t.shape, t.dtype), (shape, *dt), "{name}");
        // Larger elements first keeps every tensor aligned to its element size.
        assert_eq!(
            (t.range.start - 8) % 8 % (data.len() as u64 / t.elements()),
            0,
            "{name}"
        );
        let a = st.array(name).expect("array");
        assert_eq!((a.shape(), a.dtype()), (shape.as_slice(), *dt));
        assert_eq!(&bytes(&a), data, "{name}");
    }
    assert_eq!(st.tensor("scalar").map(|t| t.elements()), Some(1));
    assert_eq!(st.tensor("empty").map(|t| t.bytes()), Some(0));
    assert!(st
        .array("missing")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("no tensor named 'missing'"));
}

#[test]
fn gguf_roundtrip_every_value_and_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    for alignment in [None, Some(64u32), Some(1)] {
        let path = dir.path().join("m.gguf");
        let mut w = GgufWriter::new();
        if let Some(a) = alignment {
            w.add_metadata("general.alignment", Value::U32(a));
        }
        for (k, v) in every_value() {
            w.add_metadata(k, v);
        }
        let mut expected = Vec::new();
        for (i, t) in GGML_TYPES.iter().enumerate() {
            // Two rows of one block each, plus a 3-d shape for scalar types.
            let shape = if t.block_size == 1 {
                vec![2, 3, 5]
            } else {
                vec![2, t.block_size]
            };
            let a = array(&shape, t.dtype(), i as u8);
            expected.push((t.name.to_string(), shape, t.dtype(), bytes(&a)));
            w.add_tensor(t.name, a);
        }
        w.write(&path).expect("write");

        let g = Gguf::open(&path).expect("open");
        let align = u64::from(alignment.unwrap_or(32));
        assert_eq!((g.version(), g.alignment()), (3, align));
        assert_eq!(g.data_offset() % align, 0);
        let meta: Vec<_> = g
            .metadata()
            .iter()
            .filter(|(k, _)| k.starts_with("test."))
            .cloned()
            .collect();
        assert_eq!(meta, every_value());
        for (name, shape, dt, data) in &expected {
            let t = g.tensor(name).expect("tensor");
            assert_eq!((&t.shape, t.dtype), (shape, *dt), "{name}");
            assert_eq!(t.range.start % align, 0, "{name}");
            assert_eq!(&bytes(&g.array(name).expect("array")), data, "{name}");
        }
    }
}

#[test]
fn gguf_stores_ne_fastest_first() {
    let mut w = GgufWriter::new();
    w.add_tensor("t", array(&[3, 64], ggml("Q8_0"), 0));
    let file = w.to_bytes().expect("write");
    // Descriptor after the 24-byte header: name (8 + 1), n_dims, ne[0], ne[1], type.
    let at = 24 + 9;
    let u64_at = |i: usize| u64::from_le_bytes(file[i..i + 8].try_into().expect("8 bytes"));
    assert_eq!(
        u32::from_le_bytes(file[at..at + 4].try_into().expect("4 bytes")),
        2
    );
    assert_eq!((u64_at(at + 4), u64_at(at + 12)), (64, 3));
    let g = Gguf::from_bytes(file).expect("parse");
    assert_eq!(g.tensors()[0].shape, vec![3, 64]);
    assert_eq!(g.tensors()[0].bytes(), 3 * 2 * 34);
}

#[test]
fn writers_reject_what_the_format_cannot_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = |r: ferrite_formats::Result<()>| r.expect_err("must fail").to_string();

    let mut g = GgufWriter::new();
    g.add_tensor("b", array(&[2], DType::Bool, 0));
    assert!(err(g.write(dir.path().join("x.gguf")))
        .contains("tensor 'b' has dtype bool, which GGUF cannot store"));
    let mut g = GgufWriter::new();
    g.add_tensor("t", array(&[1, 1, 1, 1, 1], DType::F32, 0));
    assert!(err(g.write(dir.path().join("x.gguf"))).contains("at most 4"));
    let mut g = GgufWriter::new();
    g.add_tensor("t", array(&[1], DType::F32, 0))
        .add_tensor("t", array(&[1], DType::F32, 0));
    assert!(err(g.write(dir.path().join("x.gguf"))).contains("duplicate tensor name 't'"));
    let mut g = GgufWriter::new();
    g.add_metadata("general.alignment", Value::U32(24));
    assert!(err(g.write(dir.path().join("x.gguf"))).contains("general.alignment must be"));
    let mut deep = ValueArray::U8(vec![]);
    for _ in 0..20 {
        deep = ValueArray::Array(vec![deep]);
    }
    let mut g = GgufWriter::new();
    g.add_metadata("deep", Value::Array(deep));
    assert!(err(g.write(dir.path().join("x.gguf"))).contains("nested deeper"));

    let mut s = SafeTensorsWriter::new();
    s.add_tensor("q", array(&[32], ggml("Q4_0"), 0));
    assert!(err(s.write(dir.path().join("x.safetensors")))
        .contains("tensor 'q' has dtype q4_0, which safetensors cannot store"));
    let mut s = SafeTensorsWriter::new();
    s.add_tensor("__metadata__", array(&[1], DType::F32, 0));
    assert!(err(s.write(dir.path().join("x.safetensors"))).contains("reserved"));
    // Nothing, not even a temporary file, is left behind.
    assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn failed_write_keeps_the_old_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.safetensors");
    fs::write(&path, b"old").expect("write");
    let mut s = SafeTensorsWriter::new();
    s.add_tensor("q", array(&[32], ggml("Q4_0"), 0));
    assert!(s.write(&path).is_err());
    assert_eq!(fs::read(&path).expect("read"), b"old");
    let err = SafeTensorsWriter::new()
        .write(dir.path().join("no/such/dir/m.safetensors"))
        .expect_err("no dir");
    assert!(
        err.to_string()
            .contains("no/such/dir/m.safetensors: cannot create temporary file"),
        "{err}"
    );
}

fn write_shard(path: &Path, names: &[&str], seed: u8) {
    let mut w = SafeTensorsWriter::new();
    w.add_metadata("format", "pt");
    for (i, n) in names.iter().enumerate() {
        w.add_tensor(*n, array(&[4, 2], DType::BF16, seed + i as u8));
    }
    w.write(path).expect("write shard");
}

#[test]
fn sharded_safetensors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_shard(&d.join("model-00001-of-00002.safetensors"), &["a", "b"], 0);
    write_shard(
        &d.join("model-00002-of-00002.safetensors"),
        &["c", "unlisted"],
        10,
    );
    let index = r#"{"metadata": {"total_size": 64}, "weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
        "c": "model-00002-of-00002.safetensors"}}"#;
    fs::write(d.join("model.safetensors.index.json"), index).expect("index");

    for open_path in [d.to_path_buf(), d.join("model.safetensors.index.json")] {
        let st = SafeTensors::open(&open_path).expect("open");
        let names: Vec<_> = st.tensors().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(st.files().count(), 2);
        assert!(st
            .file_of("c")
            .expect("c")
            .ends_with("model-00002-of-00002.safetensors"));
        assert_eq!(
            bytes(&st.array("c").expect("c")),
            bytes(&array(&[4, 2], DType::BF16, 10))
        );
        assert_eq!(st.metadata().get("format").map(String::as_str), Some("pt"));
    }
    let model = ModelFile::open(d).expect("model");
    assert_eq!(model.tensors().len(), 3);

    let bad = |index: &str, needle: &str| {
        fs::write(d.join("model.safetensors.index.json"), index).expect("index");
        let e = SafeTensors::open(d)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(needle), "{e:?} does not mention {needle:?}");
    };
    bad(r#"{"weight_map": {"x": "model-00001-of-00002.safetensors"}}"#, "index lists tensor 'x' in 'model-00001-of-00002.safetensors', but that file has no such tensor");
    bad(
        r#"{"weight_map": {"a": "gone.safetensors"}}"#,
        "gone.safetensors: cannot open",
    );
    bad(
        r#"{"weight_map": {"a": "../m.safetensors"}}"#,
        "not a plain relative file name",
    );
    bad(
        r#"{"weight_map": ["a"]}"#,
        "model.safetensors.index.json: invalid index JSON",
    );
    fs::remove_file(d.join("model.safetensors.index.json")).expect("rm");
    assert!(SafeTensors::open(d)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("directory has neither"));
}

#[test]
fn model_file_detects_the_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A GGUF file with a misleading name is still GGUF.
    let path = dir.path().join("model.bin");
    fs::write(&path, common::small_gguf()).expect("write");
    assert!(matches!(ModelFile::open(&path), Ok(ModelFile::Gguf(_))));
    fs::write(&path, common::small_safetensors()).expect("write");
    assert!(matches!(
        ModelFile::open(&path),
        Ok(ModelFile::SafeTensors(_))
    ));
    let missing = dir.path().join("missing.gguf");
    let e = ModelFile::open(&missing)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("missing.gguf: cannot open: No such file"), "{e}");
    fs::write(&path, b"").expect("write");
    let e = ModelFile::open(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("model.bin: file is 0 bytes"), "{e}");
}

/// llama.cpp's own vocabulary files (from its test suite) open and decode.
#[test]
fn llama_cpp_vocab_files_open() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/vocab");
    let dir = if dir.is_dir() {
        dir
    } else {
        Path::new("/work/shared/data/vocab").to_path_buf()
    };
    let mut n = 0;
    for entry in fs::read_dir(&dir).expect("shared/data/vocab") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "gguf") {
            continue;
        }
        let g = Gguf::open(&path).expect("open vocab");
        assert!(matches!(g.version(), 2 | 3));
        let tokens = g.get("tokenizer.ggml.tokens").expect("tokens");
        assert!(
            matches!(tokens, Value::Array(ValueArray::String(t)) if t.len() > 1000),
            "{}",
            path.display()
        );
        assert!(g
            .get("tokenizer.ggml.model")
            .and_then(Value::as_str)
            .is_some());
        n += 1;
    }
    assert!(n >= 5);
}

/// Version 2 has the same layout as 3 (v3 only added big-endian files).
#[test]
fn gguf_v2_reads() {
    let mut file = common::small_gguf();
    file[4..8].copy_from_slice(&2u32.to_le_bytes());
    let g = Gguf::from_bytes(file).expect("v2");
    assert_eq!(g.version(), 2);
    assert_eq!(g.tensors().len(), 2);
    assert_eq!(g.get("test.u8"), Some(&Value::U8(200)));
}
