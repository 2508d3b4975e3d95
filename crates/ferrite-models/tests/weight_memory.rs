//! A model whose streamed weights are copied into memory computes exactly what
//! the same model read in place from its file computes.

use ferrite_core::{Array, DType};
use ferrite_formats::SafeTensorsWriter;
use ferrite_models::{Logits, ModelSource, WeightMemory};

const CONFIG: &str = r#"{"model_type": "llama", "vocab_size": 40, "hidden_size": 24,
  "intermediate_size": 36, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "tie_word_embeddings": TIED}"#;

/// A random two-layer model in `dtype`, with or without its own output head.
fn model_dir(dtype: DType, tied: bool) -> tempfile::TempDir {
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("model.embed_tokens.weight".into(), vec![40, 24]),
        ("model.norm.weight".into(), vec![24]),
    ];
    if !tied {
        shapes.push(("lm_head.weight".into(), vec![40, 24]));
    }
    for l in 0..2 {
        for (suffix, shape) in [
            ("input_layernorm.weight", vec![24]),
            ("post_attention_layernorm.weight", vec![24]),
            ("self_attn.q_proj.weight", vec![24, 24]),
            ("self_attn.k_proj.weight", vec![12, 24]),
            ("self_attn.v_proj.weight", vec![12, 24]),
            ("self_attn.o_proj.weight", vec![24, 24]),
            ("mlp.gate_proj.weight", vec![36, 24]),
            ("mlp.up_proj.weight", vec![36, 24]),
            ("mlp.down_proj.weight", vec![24, 36]),
        ] {
            shapes.push((format!("model.layers.{l}.{suffix}"), shape));
        }
    }
    let mut w = SafeTensorsWriter::new();
    for (i, (name, shape)) in shapes.into_iter().enumerate() {
        let a = Array::random_normal(&shape, 0.0, 0.2, i as u64 + 1, DType::F32)
            .and_then(|a| a.astype(dtype))
            .unwrap();
        a.eval().unwrap();
        w.add_tensor(name, a);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = CONFIG.replace("TIED", if tied { "true" } else { "false" });
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    w.write(dir.path().join("model.safetensors")).unwrap();
    dir
}

/// Prefill logits of every position, then one cached decode step's.
fn logits(source: &ModelSource, memory: WeightMemory) -> (WeightMemory, Vec<f32>) {
    let loaded = source.load_with(memory).unwrap();
    let m = &loaded.model;
    let mut cache = m.new_cache();
    let mut out: Vec<f32> = m
        .forward(&[1, 7, 39, 2, 0], &mut cache, Logits::All)
        .and_then(|l| Ok(l.to_vec()?))
        .unwrap();
    let step: Vec<f32> = m
        .forward(&[5], &mut cache, Logits::Last)
        .and_then(|l| Ok(l.to_vec()?))
        .unwrap();
    out.extend(step);
    (loaded.summary.memory, out)
}

#[test]
fn resident_and_mapped_weights_give_identical_logits() {
    ferrite_cpu::install();
    for dtype in [DType::F32, DType::BF16, DType::F16] {
        for tied in [false, true] {
            let dir = model_dir(dtype, tied);
            let source = ModelSource::open(dir.path()).unwrap();
            let (m_mem, mapped) = logits(&source, WeightMemory::Mapped);
            let (r_mem, resident) = logits(&source, WeightMemory::Resident);
            assert_eq!(m_mem, WeightMemory::Mapped);
            assert_eq!(r_mem, WeightMemory::Resident);
            assert!(mapped.iter().all(|v| v.is_finite()));
            assert_eq!(mapped, resident, "{dtype} tied={tied}");
            // Auto settles on one of the two and says which.
            let (auto_mem, auto) = logits(&source, WeightMemory::Auto);
            assert_ne!(auto_mem, WeightMemory::Auto);
            assert_eq!(auto, mapped, "{dtype} tied={tied} auto");
        }
    }
}

#[test]
fn the_summary_says_where_the_weights_are() {
    ferrite_cpu::install();
    let dir = model_dir(DType::F32, false);
    let source = ModelSource::open(dir.path()).unwrap();
    for (memory, says) in [
        (WeightMemory::Resident, "of weights (in memory)"),
        (WeightMemory::Mapped, "of weights (mapped)"),
    ] {
        let line = source.load_with(memory).unwrap().summary.to_string();
        assert!(line.contains(says), "{line}");
    }
}

#[test]
fn a_shape_error_comes_before_any_copy() {
    ferrite_cpu::install();
    let dir = model_dir(DType::F32, false);
    let config = CONFIG
        .replace("TIED", "false")
        .replace("\"intermediate_size\": 36", "\"intermediate_size\": 40");
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let source = ModelSource::open(dir.path()).unwrap();
    let err = match source.load_with(WeightMemory::Resident) {
        Ok(_) => panic!("a model with the wrong MLP width loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("mlp.gate_proj.weight") && err.contains("does not match the config"),
        "{err}"
    );
}

/// A decode step reads every weight but the embedding table, of which it reads
/// one row; with a tied head the table is the head and is read whole.
#[test]
fn decode_weights_are_all_but_the_embedding_rows_not_looked_up() {
    ferrite_cpu::install();
    let per_block = 2 * 24 + 2 * 24 * 24 + 2 * 12 * 24 + 3 * 36 * 24;
    for tied in [false, true] {
        let dir = model_dir(DType::BF16, tied);
        let loaded = ModelSource::open(dir.path()).unwrap().load().unwrap();
        let m = &loaded.model;
        // Two blocks, the final norm, the head (the table itself when tied).
        let elements = 2 * per_block + 24 + 40 * 24;
        let arrays = m.decode_weights();
        assert_eq!(arrays.len(), 2 * 9 + 2, "tied={tied}");
        assert_eq!(arrays.iter().map(|a| a.size()).sum::<usize>(), elements);
        let row = if tied { 0 } else { 24 };
        assert_eq!(m.decode_weight_bytes(), 2 * (elements + row), "tied={tied}");
        let (_, all_bytes) = m.parameter_stats();
        assert_eq!(all_bytes, 2 * (elements + if tied { 0 } else { 40 * 24 }));
    }
}
