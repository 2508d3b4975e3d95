//! Broken or unsupported model directories and files give one clear error
//! naming the file and the problem.

use std::path::Path;

use ferrite_core::{Array, DType};
use ferrite_formats::gguf::Value;
use ferrite_formats::{GgufWriter, SafeTensorsWriter};
use ferrite_models::ModelSource;

const CONFIG: &str = r#"{"model_type": "llama", "vocab_size": 16, "hidden_size": 8,
  "intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2,
  "num_key_value_heads": 1, "rms_norm_eps": 1e-5}"#;

fn tensors(skip: &str, wrong_shape: &str) -> SafeTensorsWriter {
    let shapes: &[(&str, &[usize])] = &[
        ("model.embed_tokens.weight", &[16, 8]),
        ("model.norm.weight", &[8]),
        ("lm_head.weight", &[16, 8]),
        ("model.layers.0.input_layernorm.weight", &[8]),
        ("model.layers.0.post_attention_layernorm.weight", &[8]),
        ("model.layers.0.self_attn.q_proj.weight", &[8, 8]),
        ("model.layers.0.self_attn.k_proj.weight", &[4, 8]),
        ("model.layers.0.self_attn.v_proj.weight", &[4, 8]),
        ("model.layers.0.self_attn.o_proj.weight", &[8, 8]),
        ("model.layers.0.mlp.gate_proj.weight", &[12, 8]),
        ("model.layers.0.mlp.up_proj.weight", &[12, 8]),
        ("model.layers.0.mlp.down_proj.weight", &[8, 12]),
    ];
    let mut w = SafeTensorsWriter::new();
    for (i, (name, shape)) in shapes.iter().enumerate() {
        if *name == skip {
            continue;
        }
        let shape: Vec<usize> = if *name == wrong_shape {
            shape.iter().map(|d| d + 1).collect()
        } else {
            shape.to_vec()
        };
        w.add_tensor(
            *name,
            Array::random_normal(&shape, 0.0, 0.1, i as u64, DType::F32).unwrap(),
        );
    }
    w
}

fn model_dir(config: &str, weights: SafeTensorsWriter) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    weights.write(dir.path().join("model.safetensors")).unwrap();
    dir
}

fn load_error(path: &Path) -> String {
    match ModelSource::open(path).and_then(|s| s.load()) {
        Ok(_) => panic!("{} loaded but should not", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_complete_model_loads() {
    ferrite_cpu::install();
    let dir = model_dir(CONFIG, tensors("", ""));
    let loaded = ModelSource::open(dir.path()).unwrap().load().unwrap();
    let s = loaded.summary.to_string();
    assert!(
        s.contains("M parameters") && s.contains("KV cache per token"),
        "{s}"
    );
}

#[test]
fn directory_problems_are_named() {
    ferrite_cpu::install();
    let empty = tempfile::tempdir().unwrap();
    assert!(load_error(empty.path()).contains("no config.json"));
    assert!(load_error(&empty.path().join("nope.gguf")).contains("cannot open"));
    let file = empty.path().join("model.safetensors");
    std::fs::write(&file, b"x").unwrap();
    assert!(load_error(&file).contains("pass the model's directory"));

    // (config.json, tensor left out, tensor with a wrong shape, expected message)
    let with = |from: &str, to: &str| CONFIG.replace(from, to);
    let cases = [
        (
            r#"{"model_type": "gpt2"}"#.to_string(),
            "",
            "",
            "model_type 'gpt2' is not supported; supported: llama",
        ),
        ("{not json".to_string(), "", "", "not valid JSON"),
        (
            r#"{"vocab_size": 3}"#.to_string(),
            "",
            "",
            "no \"model_type\" string",
        ),
        (
            with("\"vocab_size\": 16", "\"vocab_size\": 18446744073709551615"),
            "",
            "",
            "too large",
        ),
        (
            with("\"hidden_size\": 8", "\"hidden_size\": \"8\""),
            "",
            "",
            "'hidden_size' must be a non-negative integer",
        ),
        (
            with("\"num_key_value_heads\": 1", "\"num_key_value_heads\": 3"),
            "",
            "",
            "not a multiple of 3 KV heads",
        ),
        (
            with(
                "\"rms_norm_eps\": 1e-5",
                "\"rms_norm_eps\": 1e-5, \"hidden_act\": \"gelu\"",
            ),
            "",
            "",
            "hidden_act 'gelu'",
        ),
        (
            with("\"rms_norm_eps\": 1e-5", "\"rms_norm_eps\": 1e-5, \"mlp_bias\": true"),
            "",
            "",
            "mlp_bias is not supported",
        ),
        (
            with(
                "\"rms_norm_eps\": 1e-5",
                "\"rms_norm_eps\": 1e-5, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}",
            ),
            "",
            "",
            "rope_scaling type 'yarn' is not supported",
        ),
        (
            with(
                "\"rms_norm_eps\": 1e-5",
                "\"rms_norm_eps\": 1e-5, \"rope_scaling\": {\"rope_type\": \"linear\"}",
            ),
            "",
            "",
            "rope_scaling needs a number 'factor'",
        ),
        (
            with("\"num_hidden_layers\": 1", "\"num_hidden_layers\": 0"),
            "",
            "",
            "num_hidden_layers must be positive",
        ),
        (
            with("\"num_attention_heads\": 2", "\"num_attention_heads\": 2, \"head_dim\": 3"),
            "",
            "",
            "head_dim 3 must be even",
        ),
        (
            CONFIG.to_string(),
            "model.layers.0.mlp.up_proj.weight",
            "",
            "tensor 'model.layers.0.mlp.up_proj.weight': missing",
        ),
        (
            CONFIG.to_string(),
            "",
            "model.layers.0.self_attn.k_proj.weight",
            "shape [5, 9] does not match the config, which needs [4, 8]",
        ),
    ];
    for (config, skip, wrong, want) in cases {
        let dir = model_dir(&config, tensors(skip, wrong));
        let err = load_error(dir.path());
        assert!(err.contains(want), "expected '{want}' in: {err}");
    }
}

#[test]
fn unsupported_weight_types_are_named() {
    ferrite_cpu::install();
    let mut w = tensors("model.norm.weight", "");
    w.add_tensor(
        "model.norm.weight",
        Array::from_slice(&[1i32; 8], &[8]).unwrap(),
    );
    let dir = model_dir(CONFIG, w);
    let err = load_error(dir.path());
    assert!(
        err.contains("tensor 'model.norm.weight'")
            && err.contains("not supported for weights yet (supported: f32, f16, bf16)"),
        "{err}"
    );
}

#[test]
fn gguf_metadata_problems_are_named() {
    ferrite_cpu::install();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let write = |entries: &[(&str, Value)]| {
        let mut w = GgufWriter::new();
        w.add_metadata("general.architecture", Value::String("llama".into()));
        for (k, v) in entries {
            w.add_metadata(*k, v.clone());
        }
        w.write(&path).unwrap();
        load_error(&path)
    };
    let err = write(&[]);
    assert!(
        err.contains("missing metadata 'llama.embedding_length'"),
        "{err}"
    );
    let base = [
        ("llama.embedding_length", Value::U32(8)),
        ("llama.attention.head_count", Value::U32(2)),
        ("llama.feed_forward_length", Value::U32(12)),
        ("llama.block_count", Value::U32(1)),
        ("llama.vocab_size", Value::U32(16)),
    ];
    let mut partial = base.to_vec();
    partial.push(("llama.rope.dimension_count", Value::U32(2)));
    let err = write(&partial);
    assert!(err.contains("partial rotary embeddings"), "{err}");
    let mut yarn = base.to_vec();
    yarn.push(("llama.rope.scaling.type", Value::String("yarn".into())));
    let err = write(&yarn);
    assert!(
        err.contains("rope scaling type 'yarn' is not supported"),
        "{err}"
    );
    let mut wrong = base.to_vec();
    wrong[0] = ("llama.embedding_length", Value::String("8".into()));
    let err = write(&wrong);
    assert!(
        err.contains("'llama.embedding_length' must be an unsigned integer"),
        "{err}"
    );
}

#[test]
fn unsupported_gguf_architecture_is_named() {
    ferrite_cpu::install();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", Value::String("gemma3".into()));
    w.write(&path).unwrap();
    let err = load_error(&path);
    assert!(
        err.contains("architecture 'gemma3' is not supported") && err.contains("m.gguf"),
        "{err}"
    );
}

#[test]
fn zero_dimensional_tensors_are_errors_not_panics() {
    ferrite_cpu::install();
    let scalar = || Array::from_slice(&[1.0f32], &[]).unwrap();
    // A GGUF without vocab_size whose token_embd.weight has no dimensions.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", Value::String("llama".into()));
    for (k, v) in [
        ("llama.embedding_length", 8u32),
        ("llama.attention.head_count", 2),
        ("llama.feed_forward_length", 12),
        ("llama.block_count", 1),
    ] {
        w.add_metadata(k, Value::U32(v));
    }
    w.add_tensor("token_embd.weight", scalar());
    w.write(&path).unwrap();
    let err = load_error(&path);
    assert!(
        err.contains("m.gguf") && err.contains("vocab_size"),
        "{err}"
    );

    // Converting a directory whose q_proj weight has no dimensions.
    let mut st = tensors("model.layers.0.self_attn.q_proj.weight", "");
    st.add_tensor("model.layers.0.self_attn.q_proj.weight", scalar());
    let model = model_dir(CONFIG, st);
    let err = ferrite_models::convert::hf_to_gguf(model.path(), vec![])
        .err()
        .expect("a 0-d q_proj must not convert")
        .to_string();
    assert!(err.contains("rows do not split"), "{err}");
}
