//! Hugging Face directory -> GGUF, laid out as llama.cpp's converter lays it
//! out, so llama.cpp runs the result and Ferrite reads it back identically.

use std::path::Path;

use ferrite_core::{llama3_rope_freqs, Array, DType, Llama3RopeScaling};
use ferrite_formats::gguf::Value;
use ferrite_formats::{GgufWriter, SafeTensors};
use ferrite_nn::RopeScaling;

use crate::config::{Arch, LlamaConfig};
use crate::error::{Error, Result};
use crate::weights::gguf_name;

/// Tensors a checkpoint may carry that llama.cpp recomputes and skips.
const SKIPPED_SUFFIXES: &[&str] = &["rotary_emb.inv_freq"];

/// Builds a GGUF writer for the model in `dir`: metadata, then every tensor
/// under its GGUF name. `extra` (the tokenizer's `tokenizer.ggml.*` keys and
/// the chat template) is appended as given.
pub fn hf_to_gguf(dir: &Path, extra: Vec<(String, Value)>) -> Result<GgufWriter> {
    let cfg = LlamaConfig::from_hf_file(&dir.join("config.json"))?;
    let st = SafeTensors::open(dir)?;
    let mut w = GgufWriter::new();
    let arch = cfg.arch.gguf_name();
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    w.add_metadata("general.architecture", Value::String(arch.into()));
    w.add_metadata("general.name", Value::String(name));
    let file_type = file_type(&st, dir)?;
    w.add_metadata("general.file_type", Value::U32(file_type));
    for (k, v) in hyper_parameters(&cfg) {
        w.add_metadata(format!("{arch}.{k}"), v);
    }
    for (k, v) in extra {
        w.add_metadata(k, v);
    }
    if let RopeScaling::Llama3(s) = &cfg.rope_scaling {
        let f = llama3_freq_factors(cfg.head_dim, cfg.rope_theta, s)?;
        w.add_tensor("rope_freqs.weight", Array::from_slice(&f, &[f.len()])?);
    }
    for info in st.tensors() {
        if SKIPPED_SUFFIXES.iter().any(|s| info.name.ends_with(s)) {
            continue;
        }
        let gname = gguf_name(&info.name).ok_or_else(|| Error::Weight {
            path: st.path().into(),
            tensor: info.name.clone(),
            msg: "has no GGUF name (not part of a Llama-family model)".into(),
        })?;
        if !info.dtype.is_float() {
            return Err(Error::Weight {
                path: st.path().into(),
                tensor: info.name.clone(),
                msg: format!(
                    "has type {}; only f32, f16 and bf16 weights convert",
                    info.dtype
                ),
            });
        }
        let mut a = st.array(&info.name)?;
        if cfg.arch != Arch::Qwen2 {
            if gname.ends_with("attn_q.weight") || gname.ends_with("attn_q.bias") {
                a = permute_for_interleaved_rope(&a, cfg.n_heads)?;
            } else if gname.ends_with("attn_k.weight") || gname.ends_with("attn_k.bias") {
                a = permute_for_interleaved_rope(&a, cfg.n_kv_heads)?;
            }
        }
        // llama.cpp keeps 1-D tensors (norms, biases) in f32.
        if a.ndim() == 1 && a.dtype() != DType::F32 {
            a = a.astype(DType::F32)?;
        }
        w.add_tensor(gname, a);
    }
    Ok(w)
}

fn file_type(st: &SafeTensors, dir: &Path) -> Result<u32> {
    // llama.cpp's LLAMA_FTYPE values: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_BF16 = 32.
    let matrix = st.tensors().iter().find(|t| t.shape.len() == 2);
    match matrix.map(|t| t.dtype) {
        Some(DType::F32) | None => Ok(0),
        Some(DType::F16) => Ok(1),
        Some(DType::BF16) => Ok(32),
        Some(other) => Err(Error::Unsupported {
            path: dir.into(),
            msg: format!("weights of type {other} cannot be converted (f32, f16, bf16)"),
        }),
    }
}

fn hyper_parameters(c: &LlamaConfig) -> Vec<(&'static str, Value)> {
    let u = |n: usize| Value::U32(n as u32);
    let mut kv = vec![
        ("context_length", u(c.max_position_embeddings)),
        ("embedding_length", u(c.hidden_size)),
        ("block_count", u(c.n_layers)),
        ("feed_forward_length", u(c.intermediate_size)),
        ("rope.dimension_count", u(c.head_dim)),
        ("attention.head_count", u(c.n_heads)),
        ("attention.head_count_kv", u(c.n_kv_heads)),
        (
            "attention.layer_norm_rms_epsilon",
            Value::F32(c.rms_norm_eps),
        ),
        ("rope.freq_base", Value::F32(c.rope_theta)),
        ("vocab_size", u(c.vocab_size)),
    ];
    if c.head_dim * c.n_heads != c.hidden_size {
        kv.push(("attention.key_length", u(c.head_dim)));
        kv.push(("attention.value_length", u(c.head_dim)));
    }
    if let RopeScaling::Linear { factor } = c.rope_scaling {
        kv.push(("rope.scaling.type", Value::String("linear".into())));
        kv.push(("rope.scaling.factor", Value::F32(factor)));
    }
    if let Some(wnd) = c.sliding_window {
        // llama.cpp's llama architecture ignores this key (it attends to the
        // whole context); Ferrite reads it back and keeps Mistral's window.
        kv.push(("attention.sliding_window", u(wnd)));
    }
    kv
}

/// Hugging Face stores q/k rows so that RoPE rotates the two halves of each
/// head; llama.cpp's Llama graph rotates adjacent pairs. Reordering each head's
/// rows `[half, pair]` -> `[pair, half]` makes the two agree, as llama.cpp's
/// converter does.
pub fn permute_for_interleaved_rope(w: &Array, heads: usize) -> Result<Array> {
    let rows = w.shape().first().copied().unwrap_or(0);
    if heads == 0 || rows == 0 || !rows.is_multiple_of(2 * heads) {
        return Err(Error::Core(ferrite_core::Error::Shape {
            op: "permute_for_interleaved_rope",
            msg: format!("{rows} rows do not split into {heads} heads of pairs"),
        }));
    }
    let half = (rows / heads / 2) as isize;
    let mut split: Vec<isize> = vec![heads as isize, 2, half];
    split.extend(w.shape()[1..].iter().map(|&d| d as isize));
    let back: Vec<isize> = w.shape().iter().map(|&d| d as isize).collect();
    Ok(w.reshape(&split)?.swapaxes(1, 2)?.reshape(&back)?)
}

/// The per-frequency period multipliers llama.cpp stores in `rope_freqs.weight`
/// for Llama 3.1 scaling: the scaled periods divided by the plain ones.
fn llama3_freq_factors(dims: usize, base: f32, s: &Llama3RopeScaling) -> Result<Vec<f32>> {
    let periods = llama3_rope_freqs(dims, base, *s)?.to_f32_vec()?;
    Ok(periods
        .iter()
        .enumerate()
        .map(|(i, &p)| (p as f64 / (base as f64).powf(2.0 * i as f64 / dims as f64)) as f32)
        .collect())
}
