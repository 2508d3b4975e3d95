//! How the LLM commands treat what they are given: a first `run` argument
//! that looks like a model path, files that are not models (each error says
//! what is supported and names the file), `tokenize --file`, and what they
//! show while loading and measuring (progress on stderr, one size unit).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{fails, json, ok, shared, stderr, stdout, Home};
use ferrite_core::{Array, DType, OpaqueType};
use ferrite_formats::gguf::Value;
use ferrite_formats::{Gguf, GgufWriter, SafeTensors, SafeTensorsWriter};

#[test]
fn run_fails_for_a_model_path_that_names_nothing() {
    let home = Home::new();
    for path in ["nonexistent.gguf", "weights.safetensors", "models/llama"] {
        let o = home.ferrite(&["run", path]);
        fails(&o, &format!("{path}: no such model file or directory"));
        // Nothing ran: the error is the only line (no default-model load line).
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
    // A prompt with a slash and spaces is still a prompt for the default model.
    let o = home.ferrite(&["run", "what is 3/4 of 8?", "-n", "2"]);
    ok(&o);
    assert!(stderr(&o).contains("generated: 2 tokens"), "{}", stderr(&o));
}

/// The tiny model converted to GGUF (`base.gguf` in `dir`, made once), written
/// again as `name` with `edit` applied to its metadata.
fn edited_gguf(
    home: &Home,
    dir: &Path,
    name: &str,
    edit: impl Fn(&mut Vec<(String, Value)>),
) -> PathBuf {
    let base = dir.join("base.gguf");
    if !base.exists() {
        let model = home.model();
        ok(&home.ferrite(&["convert", model.to_str().unwrap(), base.to_str().unwrap()]));
    }
    let g = Gguf::open(&base).unwrap();
    let mut meta = g.metadata().to_vec();
    edit(&mut meta);
    let mut w = GgufWriter::new();
    for (k, v) in meta {
        w.add_metadata(k, v);
    }
    for t in g.tensors() {
        w.add_tensor(t.name.clone(), g.array(&t.name).unwrap());
    }
    let out = dir.join(name);
    w.write(&out).unwrap();
    out
}

#[test]
fn unsupported_model_files_say_what_is_supported() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("t.txt");
    std::fs::write(&text, "The quick brown fox. ".repeat(40)).unwrap();
    let t = text.to_str().unwrap();

    // An existing file that is not GGUF: what a model is, and what the file starts with.
    let bin = dir.path().join("model.bin");
    std::fs::write(&bin, "# Ferrite notes\n").unwrap();
    let b = bin.to_str().unwrap();
    for o in [
        home.ferrite(&["run", b, "hi"]),
        home.ferrite(&["perplexity", b, "--file", t]),
        home.ferrite(&["bench", b]),
    ] {
        fails(
            &o,
            "a model is a Hugging Face directory (with config.json) or a .gguf file",
        );
        assert!(
            stderr(&o).contains(r##"starts with "# Fe""##),
            "{}",
            stderr(&o)
        );
    }

    // A .gguf shorter than its magic is truncated, not "not a model".
    let short = dir.path().join("short.gguf");
    std::fs::write(&short, "GG").unwrap();
    fails(
        &home.ferrite(&["run", short.to_str().unwrap(), "hi"]),
        "short.gguf: truncated: 2 bytes, shorter than the GGUF magic",
    );

    // general.architecture present with the wrong type: not "missing".
    let arch = edited_gguf(&home, dir.path(), "arch.gguf", |meta| {
        for (k, v) in meta.iter_mut() {
            if k == "general.architecture" {
                *v = Value::U32(7);
            }
        }
    });
    let a = arch.to_str().unwrap();
    for o in [
        home.ferrite(&["run", a, "hi"]),
        home.ferrite(&["perplexity", a, "--file", t]),
        home.ferrite(&["bench", a]),
    ] {
        fails(
            &o,
            "arch.gguf: metadata 'general.architecture' has type u32, expected string",
        );
    }

    // A model directory whose q projection is fp8 (opened as opaque bytes): loading
    // and converting name the tensor and its type.
    let model = home.model();
    let fp8 = dir.path().join("fp8");
    std::fs::create_dir(&fp8).unwrap();
    for f in std::fs::read_dir(&model).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, fp8.join(f.file_name().unwrap())).unwrap();
    }
    let st = SafeTensors::open(model.join("model.safetensors")).unwrap();
    let mut w = SafeTensorsWriter::new();
    let q = "model.layers.0.self_attn.q_proj.weight";
    for t in st.tensors() {
        let a = st.array(&t.name).unwrap();
        let a = if t.name == q {
            let f8 = DType::Opaque(OpaqueType::from_name("F8_E4M3").unwrap());
            let n: usize = t.shape.iter().product();
            Array::from_bytes(&vec![0x38; n], &t.shape, f8).unwrap()
        } else {
            a
        };
        w.add_tensor(t.name.clone(), a);
    }
    w.write(fp8.join("model.safetensors")).unwrap();
    let f = fp8.to_str().unwrap();
    let out = dir.path().join("fp8.gguf");
    fails(
        &home.ferrite(&["convert", f, out.to_str().unwrap()]),
        &format!("tensor '{q}': has type f8_e4m3; only f32, f16 and bf16 weights convert"),
    );
    assert!(!out.exists());
    fails(&home.ferrite(&["run", f, "hi"]), q);

    // No tokenizer metadata: the error names the file.
    let bare = edited_gguf(&home, dir.path(), "no-tokenizer.gguf", |meta| {
        meta.retain(|(k, _)| !k.starts_with("tokenizer."));
    });
    let n = bare.to_str().unwrap();
    for o in [
        home.ferrite(&["run", n, "hi"]),
        home.ferrite(&["perplexity", n, "--file", t]),
        home.ferrite(&["tokenize", n, "hi"]),
    ] {
        fails(
            &o,
            "no-tokenizer.gguf: GGUF tokenizer metadata: tokenizer.ggml.model is missing",
        );
    }
}

#[test]
fn tokenize_reads_the_text_from_a_file_or_stdin() {
    let home = Home::new();
    let spm = shared().join("data/vocab/ggml-vocab-llama-spm.gguf");
    let m = spm.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.txt");
    std::fs::write(&small, "Hello world\n").unwrap();
    let from_arg = json(&home.ferrite(&["tokenize", "--json", m, "Hello world\n"]));
    let from_file =
        json(&home.ferrite(&["tokenize", "--json", m, "--file", small.to_str().unwrap()]));
    assert_eq!(from_arg, from_file);
    // `-` is stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["tokenize", "--json", m, "--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Hello world\n")
            .unwrap();
    }
    assert_eq!(json(&child.wait_with_output().unwrap()), from_arg);
    // Larger than one command-line argument may be (128 KiB on Linux).
    let big = dir.path().join("big.txt");
    std::fs::write(
        &big,
        "The quick brown fox jumps over the lazy dog.\n".repeat(6000),
    )
    .unwrap();
    let b = big.to_str().unwrap();
    let ids = json(&home.ferrite(&["tokenize", "--json", "--no-bos", m, "--file", b]));
    let ids = ids["ids"].as_array().unwrap();
    // Each line is the same 10-odd tokens (the first has no leading space).
    assert!(ids.len() > 6000 * 10, "{} ids", ids.len());
    fails(
        &home.ferrite(&["tokenize", m, "text", "--file", b]),
        "cannot be used with",
    );
    fails(
        &home.ferrite(&["tokenize", m]),
        "required arguments were not provided",
    );
    fails(
        &home.ferrite(&["tokenize", m, "--file", "/no/such/text.txt"]),
        "/no/such/text.txt: cannot read",
    );
}

/// The size column of a `bench` table row.
fn bench_size(table: &str) -> String {
    let row = table.lines().nth(2).unwrap_or_default();
    row.split('|').nth(2).unwrap_or_default().trim().to_string()
}

#[test]
fn bench_gives_one_size_unit_and_shows_its_progress_on_stderr() {
    let home = Home::new();
    let model = home.model();
    let m = model.to_str().unwrap();
    let o = home.ferrite(&["bench", m, "-p", "8", "-n", "2", "-r", "1"]);
    let table = ok(&o);
    let err = stderr(&o);
    // The load line and the table give the weights in the same units.
    let size = bench_size(&table);
    assert!(size.ends_with(" MB"), "{table}");
    assert!(
        err.contains(&format!("{size} of weights")),
        "{size} vs {err}"
    );
    // Which test runs is on stderr (one line per test when it is not a
    // terminal); stdout is the table alone.
    assert!(
        err.contains("bench: pp8 (1 warm-up + 1 run)")
            && err.contains("bench: tg2 (1 warm-up + 1 run)"),
        "{err}"
    );
    // The table, then one line on the generation run against the weights'
    // read rate.
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6, "{table}");
    assert!(table.starts_with("| model |"), "{table}");
    assert!(
        lines[4].is_empty() && lines[5].starts_with("tg2: streamed its "),
        "{table}"
    );
}

/// `cmd` run under a pseudo-terminal by util-linux `script`, its output
/// (stdout and stderr together); `None` when `script` is not installed.
fn on_terminal(home: &Home, cmd: &[&str]) -> Option<String> {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line = std::iter::once(env!("CARGO_BIN_EXE_ferrite"))
        .chain(cmd.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let o = Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env("FERRITE_HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .ok()?;
    assert!(o.status.success(), "{}", stdout(&o));
    Some(stdout(&o))
}

#[test]
fn perplexity_and_bench_show_the_loading_spinner_on_a_terminal() {
    let home = Home::new();
    let model = home.model();
    let m = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("t.txt");
    std::fs::write(&text, "The quick brown fox. ".repeat(40)).unwrap();
    let ppl = [
        "perplexity",
        m,
        "--file",
        text.to_str().unwrap(),
        "--ctx",
        "32",
        "--chunks",
        "1",
    ];
    let Some(out) = on_terminal(&home, &ppl) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert!(out.contains(&format!("loading {m}")), "{out:?}");
    let out = on_terminal(&home, &["bench", m, "-p", "8", "-n", "2", "-r", "1"]).unwrap();
    assert!(out.contains(&format!("loading {m}")), "{out:?}");
    assert!(out.contains("bench: pp8"), "{out:?}");
}
