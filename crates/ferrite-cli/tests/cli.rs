//! The `ferrite` binary: output of `info`, `convert` round trips, and the
//! one-line, exit-status-1 contract for every error.

use std::path::Path;
use std::process::{Command, Output};

use ferrite_core::{Array, DType, GgmlType, OpaqueType};
use ferrite_formats::gguf::{Value, ValueArray};
use ferrite_formats::{Gguf, GgufWriter, ModelFile, SafeTensors, SafeTensorsWriter};

fn ferrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(args)
        .output()
        .expect("run ferrite")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command failed with status 1 and exactly one stderr line containing `needle`.
#[track_caller]
fn assert_fails(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.contains(needle), "{err:?} does not mention {needle:?}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
}

fn arr(shape: &[usize], dtype: DType, seed: u8) -> Array {
    let n: usize = shape.iter().product();
    let len = dtype.bytes_for(n as u64).expect("size") as usize;
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect();
    Array::from_bytes(&bytes, shape, dtype).expect("array")
}

fn write_safetensors(path: &Path) {
    let mut w = SafeTensorsWriter::new();
    w.add_metadata("format", "pt")
        .add_tensor("model.embed.weight", arr(&[8, 4], DType::F16, 1))
        .add_tensor("model.norm.weight", arr(&[4], DType::F32, 2))
        .add_tensor("model.proj.weight", arr(&[2, 3, 4], DType::BF16, 3));
    w.write(path).expect("write");
}

fn write_gguf(path: &Path) {
    let mut w = GgufWriter::new();
    let tokens = (0..100).map(|i| format!("tok{i}")).collect();
    w.add_metadata("general.architecture", Value::String("llama".into()))
        .add_metadata("llama.block_count", Value::U32(22))
        .add_metadata(
            "tokenizer.ggml.tokens",
            Value::Array(ValueArray::String(tokens)),
        )
        .add_metadata("flag", Value::Bool(true))
        .add_tensor("token_embd.weight", arr(&[8, 4], DType::F16, 1))
        .add_tensor("output_norm.weight", arr(&[4], DType::F32, 2));
    w.write(path).expect("write");
}

#[test]
fn info_text_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let st = dir.path().join("m.safetensors");
    write_safetensors(&st);
    let o = ferrite(&["info", st.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("safetensors, 3 tensors, 128 B"), "{text}");
    assert!(text.contains("format = \"pt\""), "{text}");
    assert!(text
        .lines()
        .any(|l| l.contains("model.proj.weight") && l.contains("bf16") && l.contains("[2, 3, 4]")));

    let o = ferrite(&["info", "--json", st.to_str().expect("utf8")]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    assert_eq!(j["format"], "safetensors");
    assert_eq!(j["metadata"]["format"], "pt");
    // Largest elements first, as the writer lays them out.
    assert_eq!(j["tensors"][0]["name"], "model.norm.weight");
    assert_eq!(j["tensors"][2]["shape"], serde_json::json!([2, 3, 4]));
    assert_eq!(j["tensor_bytes"], 128);

    let g = dir.path().join("m.gguf");
    write_gguf(&g);
    let text = stdout(&ferrite(&["info", g.to_str().expect("utf8")]));
    assert!(text.contains("GGUF v3"), "{text}");
    assert!(text.contains("llama.block_count: u32 = 22"), "{text}");
    assert!(
        text.contains("tokenizer.ggml.tokens: array[string] = [\"tok0\""),
        "{text}"
    );
    assert!(text.contains("... (100 items)]"), "{text}");
    let j: serde_json::Value = serde_json::from_str(&stdout(&ferrite(&[
        "info",
        "--json",
        g.to_str().expect("utf8"),
    ])))
    .expect("json");
    assert_eq!(
        j["metadata"]["tokenizer.ggml.tokens"]
            .as_array()
            .map(Vec::len),
        Some(100)
    );
    assert_eq!(j["metadata_types"]["llama.block_count"], "u32");
    assert_eq!(j["version"], 3);
}

fn same_tensors(a: &ModelFile, b: &ModelFile) {
    assert_eq!(a.tensors().len(), b.tensors().len());
    for t in a.tensors() {
        let u = b
            .tensors()
            .iter()
            .find(|u| u.name == t.name)
            .expect("tensor kept");
        assert_eq!((&u.shape, u.dtype), (&t.shape, t.dtype), "{}", t.name);
        let x = a
            .array(&t.name)
            .and_then(|x| x.to_bytes().map_err(|e| panic!("{e}")))
            .expect("a");
        let y = b
            .array(&t.name)
            .and_then(|y| y.to_bytes().map_err(|e| panic!("{e}")))
            .expect("b");
        assert_eq!(x, y, "{}", t.name);
    }
}

#[test]
fn convert_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n).to_str().expect("utf8").to_string();
    write_safetensors(Path::new(&p("a.safetensors")));

    let o = ferrite(&["convert", &p("a.safetensors"), &p("b.gguf")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("wrote"), "{}", stdout(&o));
    let g = Gguf::open(p("b.gguf")).expect("gguf");
    assert_eq!(g.get("format"), Some(&Value::String("pt".into())));
    // Row-major [8, 4] is ne = [4, 8] in the file; the logical shape is kept.
    assert_eq!(
        g.tensor("model.embed.weight").map(|t| t.shape.clone()),
        Some(vec![8, 4])
    );

    assert!(ferrite(&["convert", &p("b.gguf"), &p("c.safetensors")])
        .status
        .success());
    let c = SafeTensors::open(p("c.safetensors")).expect("c");
    assert_eq!(c.metadata().get("format").map(String::as_str), Some("pt"));
    same_tensors(
        &ModelFile::open(p("a.safetensors")).expect("a"),
        &ModelFile::SafeTensors(c),
    );

    // GGUF metadata that is not a string becomes JSON text.
    write_gguf(Path::new(&p("d.gguf")));
    assert!(ferrite(&["convert", &p("d.gguf"), &p("e.safetensors")])
        .status
        .success());
    let e = SafeTensors::open(p("e.safetensors")).expect("e");
    assert_eq!(
        e.metadata().get("llama.block_count").map(String::as_str),
        Some("22")
    );
    assert_eq!(e.metadata().get("flag").map(String::as_str), Some("true"));
    assert_eq!(
        e.metadata().get("general.architecture").map(String::as_str),
        Some("llama")
    );
    assert!(e
        .metadata()
        .get("tokenizer.ggml.tokens")
        .is_some_and(|s| s.starts_with("[\"tok0\",\"tok1\"")));
    same_tensors(
        &ModelFile::open(p("d.gguf")).expect("d"),
        &ModelFile::SafeTensors(e),
    );

    // A custom alignment survives GGUF -> safetensors -> GGUF.
    let mut w = GgufWriter::new();
    w.add_metadata("general.alignment", Value::U32(64))
        .add_tensor("t", arr(&[3], DType::F32, 0))
        .add_tensor("u", arr(&[5], DType::F32, 1));
    w.write(p("f.gguf")).expect("write");
    assert!(ferrite(&["convert", &p("f.gguf"), &p("g.safetensors")])
        .status
        .success());
    assert!(ferrite(&["convert", &p("g.safetensors"), &p("h.gguf")])
        .status
        .success());
    let h = Gguf::open(p("h.gguf")).expect("h");
    assert_eq!(
        (h.alignment(), h.get("general.alignment")),
        (64, Some(&Value::U32(64)))
    );
    same_tensors(
        &ModelFile::open(p("f.gguf")).expect("f"),
        &ModelFile::Gguf(h),
    );

    // Every GGUF value type comes back with its type: GGUF -> safetensors -> GGUF.
    let values = [
        ("u8", Value::U8(7)),
        ("i8", Value::I8(-7)),
        ("u16", Value::U16(7)),
        ("i16", Value::I16(-7)),
        ("u32", Value::U32(7)),
        ("i32", Value::I32(-7)),
        ("u64", Value::U64(u64::MAX)),
        ("i64", Value::I64(i64::MIN)),
        ("f32", Value::F32(0.1)),
        ("f32.nan", Value::F32(f32::NAN)),
        ("f64", Value::F64(-1e300)),
        ("f64.inf", Value::F64(f64::INFINITY)),
        ("bool", Value::Bool(false)),
        ("string", Value::String("42".into())),
        ("empty", Value::Array(ValueArray::F32(vec![]))),
        (
            "nested",
            Value::Array(ValueArray::Array(vec![
                ValueArray::U8(vec![1]),
                ValueArray::String(vec!["x".into()]),
            ])),
        ),
    ];
    let mut w = GgufWriter::new();
    for (k, v) in &values {
        w.add_metadata(*k, v.clone());
    }
    w.add_tensor("t", arr(&[3], DType::F32, 0));
    w.write(p("i.gguf")).expect("write");
    for (from, to) in [("i.gguf", "j.safetensors"), ("j.safetensors", "k.gguf")] {
        let o = ferrite(&["convert", &p(from), &p(to)]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let k = Gguf::open(p("k.gguf")).expect("k");
    assert_eq!(k.metadata().len(), values.len(), "{:?}", k.metadata());
    for (key, v) in &values {
        let back = k.get(key).map(|b| format!("{b:?}"));
        assert_eq!(back, Some(format!("{v:?}")), "{key}");
    }

    // A GGUF holding the reserved types key itself is refused, not overwritten.
    let mut w = GgufWriter::new();
    w.add_metadata("ferrite.gguf_types", Value::String("{}".into()))
        .add_tensor("t", arr(&[3], DType::F32, 0));
    w.write(p("n.gguf")).expect("write");
    assert_fails(
        &ferrite(&["convert", &p("n.gguf"), &p("o.safetensors")]),
        "n.gguf: metadata key 'ferrite.gguf_types' is reserved",
    );

    // A types entry that does not fit its value is an error naming both.
    let mut w = SafeTensorsWriter::new();
    w.add_metadata("n", "300")
        .add_metadata("ferrite.gguf_types", r#"{"n": "u8"}"#)
        .add_tensor("t", arr(&[3], DType::F32, 0));
    w.write(p("l.safetensors")).expect("write");
    assert_fails(
        &ferrite(&["convert", &p("l.safetensors"), &p("m.gguf")]),
        "l.safetensors: metadata 'n': \"300\" is not a GGUF \"u8\"",
    );
}

#[test]
fn convert_sharded_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for (i, name) in ["x", "y"].iter().enumerate() {
        let mut w = SafeTensorsWriter::new();
        w.add_tensor(*name, arr(&[3, 2], DType::F32, i as u8));
        w.write(d.join(format!("model-{i}.safetensors")))
            .expect("shard");
    }
    let index = r#"{"weight_map": {"x": "model-0.safetensors", "y": "model-1.safetensors"}}"#;
    std::fs::write(d.join("model.safetensors.index.json"), index).expect("index");
    let out = dir.path().join("out.gguf");
    let o = ferrite(&[
        "convert",
        d.to_str().expect("utf8"),
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    same_tensors(
        &ModelFile::open(d).expect("dir"),
        &ModelFile::open(&out).expect("out"),
    );
}

#[test]
fn every_error_is_one_line_and_status_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n).to_str().expect("utf8").to_string();

    assert_fails(
        &ferrite(&["info", &p("missing.safetensors")]),
        "missing.safetensors: cannot open: No such file",
    );
    std::fs::write(p("bad.gguf"), b"GGUF\x01\x00\x00\x00").expect("write");
    assert_fails(
        &ferrite(&["info", &p("bad.gguf")]),
        "bad.gguf: GGUF version 1 is not supported",
    );
    std::fs::write(p("bad.safetensors"), b"\xff\xff\xff\xff\xff\xff\xff\x00{}").expect("write");
    assert_fails(
        &ferrite(&["info", "--json", &p("bad.safetensors")]),
        "bad.safetensors: header length",
    );

    write_safetensors(Path::new(&p("a.safetensors")));
    assert_fails(
        &ferrite(&["convert", &p("a.safetensors"), &p("out.bin")]),
        "out.bin: cannot tell the output format",
    );
    assert_fails(
        &ferrite(&["convert", &p("a.safetensors"), &p("no/dir/out.gguf")]),
        "no/dir/out.gguf: cannot create temporary file",
    );

    let mut w = GgufWriter::new();
    let q4 = DType::Block(GgmlType::from_name("Q4_0").expect("q4_0"));
    w.add_tensor("blk.0.attn_q.weight", arr(&[2, 32], q4, 0));
    w.write(p("q.gguf")).expect("write");
    assert_fails(
        &ferrite(&["convert", &p("q.gguf"), &p("q.safetensors")]),
        "q.safetensors: tensor 'blk.0.attn_q.weight' has dtype q4_0, which safetensors cannot store",
    );

    // fp8 and other safetensors-only types open and convert to safetensors, not to GGUF.
    let f8 = DType::Opaque(OpaqueType::from_name("F8_E4M3").expect("f8"));
    let mut w = SafeTensorsWriter::new();
    w.add_tensor("w", arr(&[2, 3], f8, 0));
    w.write(p("f8.safetensors")).expect("write");
    let o = ferrite(&["info", &p("f8.safetensors")]);
    assert!(
        o.status.success() && stdout(&o).contains("f8_e4m3"),
        "{}",
        stderr(&o)
    );
    assert_fails(
        &ferrite(&["convert", &p("f8.safetensors"), &p("f8.gguf")]),
        "f8.gguf: tensor 'w' has dtype f8_e4m3, which GGUF cannot store",
    );

    assert_fails(
        &ferrite(&["info"]),
        "required arguments were not provided: <FILE>",
    );
    assert_fails(&ferrite(&["frobnicate"]), "unrecognized subcommand");
    assert_fails(&ferrite(&["info", "--bogus", "x"]), "--bogus");
    // Nothing but the inputs is left behind.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "a.safetensors",
            "bad.gguf",
            "bad.safetensors",
            "f8.safetensors",
            "q.gguf"
        ]
    );

    let o = ferrite(&["--help"]);
    assert!(o.status.success() && stdout(&o).contains("convert"));
}

#[test]
fn control_characters_from_a_file_are_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n).to_str().expect("utf8").to_string();
    let raw = |s: &str| s.contains(['\x1b', '\r', '\0']);

    let mut w = GgufWriter::new();
    w.add_metadata("evil\x1b[31m\rkey", Value::String("v".into()))
        .add_metadata(
            "list",
            Value::Array(ValueArray::String(vec!["a\x1bb".into()])),
        )
        .add_tensor("t\x1b[2Jx", arr(&[4], DType::F32, 1));
    w.write(p("evil.gguf")).expect("write");
    let o = ferrite(&["info", &p("evil.gguf")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!raw(&text), "raw control characters in {text:?}");
    assert!(
        text.contains("evil\\u{1b}[31m\\rkey") && text.contains("t\\u{1b}[2Jx"),
        "{text}"
    );

    // A safetensors header naming its tensor with ESC and NUL, with an unknown dtype.
    let header = br#"{"a\u001b[31m\u0000b":{"dtype":"XYZ","shape":[1],"data_offsets":[0,1]}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.push(0);
    std::fs::write(p("evil.safetensors"), file).expect("write");
    let o = ferrite(&["info", &p("evil.safetensors")]);
    assert_fails(&o, "unknown dtype 'XYZ' in tensor 'a\\u{1b}[31m\\u{0}b'");
    assert!(!raw(&stderr(&o)), "{:?}", stderr(&o));
}

#[test]
fn info_says_which_files_it_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "# Ferrite\n\nA README, not a model.\n";
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, text).expect("write");
    let o = ferrite(&["info", readme.to_str().expect("utf8")]);
    assert_fails(&o, "; info reads .safetensors and .gguf files");
    // The parser's detail stays.
    assert!(
        stderr(&o).contains("README.md: header length"),
        "{}",
        stderr(&o)
    );
    // A broken file named as a supported kind: the file is at fault, not its kind.
    let broken = dir.path().join("broken.safetensors");
    std::fs::write(&broken, text).expect("write");
    let o = ferrite(&["info", broken.to_str().expect("utf8")]);
    assert_fails(&o, "broken.safetensors: header length");
    assert!(!stderr(&o).contains("info reads"), "{}", stderr(&o));
}
