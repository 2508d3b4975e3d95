//! The model `ferrite run` uses when none is given: a tiny Llama (the shape
//! of `make_model.py tiny`) with seeded random weights that Ferrite generates
//! itself, and the Llama 2 tokenizer shipped in the binary. It produces
//! gibberish, but it runs every stage (tokenizer, template, model, sampler)
//! offline on a fresh machine. It is written once, through a temporary
//! directory renamed into place.

use std::path::{Path, PathBuf};

use ferrite_core::{Array, DType};
use ferrite_formats::SafeTensorsWriter;

use crate::error::{Error, Result};

const TOKENIZER: &str = include_str!("../../../assets/llama2-tokenizer.json");
/// Bump when the generated files change, so old caches are not reused.
const VERSION: &str = "tiny-v1";
const VOCAB: usize = 32000;
const HIDDEN: usize = 64;
const FFN: usize = 176;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;

const TEMPLATE: &str = "{% for message in messages %}{% if message['role'] == 'system' %}<|system|>\n{{ message['content'] }}</s>\n{% elif message['role'] == 'user' %}<|user|>\n{{ message['content'] }}</s>\n{% elif message['role'] == 'assistant' %}<|assistant|>\n{{ message['content'] }}</s>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

/// Where the default model is kept: `$FERRITE_HOME/models/...`, else
/// `$XDG_CACHE_HOME/ferrite/models/...`, else `~/.cache/ferrite/models/...`.
pub fn location() -> Result<PathBuf> {
    let base = if let Some(h) = std::env::var_os("FERRITE_HOME") {
        PathBuf::from(h)
    } else if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        PathBuf::from(x).join("ferrite")
    } else if let Some(home) = std::env::var_os("HOME") {
        PathBuf::from(home).join(".cache/ferrite")
    } else {
        return Err(Error::Invalid(
            "no model given, and no FERRITE_HOME or HOME to keep the default model in".into(),
        ));
    };
    Ok(base.join("models").join(VERSION))
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::File {
        path: path.display().to_string(),
        msg: format!("{what}: {e}"),
    }
}

/// The default model's directory ([`location`]), generated on first use.
pub fn ensure() -> Result<PathBuf> {
    let dir = location()?;
    if dir.join("model.safetensors").is_file() {
        return Ok(dir);
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io_err(parent, "cannot create", e))?;
    let tmp = parent.join(format!(".{VERSION}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, "cannot create", e))?;
    write(&tmp)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another process finished first: use its copy.
        Err(_) if dir.join("model.safetensors").is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(io_err(&dir, "cannot create", e)),
    }
}

/// Writes the default model's files into the existing directory `dir`.
pub fn write(dir: &Path) -> Result<()> {
    ferrite_cpu::install();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io_err(&path, "cannot write", e))
    };
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB,
        "hidden_act": "silu", "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16",
        "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "rope_theta": 10000.0, "max_position_embeddings": 512,
    });
    write("config.json", &config.to_string())?;
    write(
        "generation_config.json",
        r#"{"bos_token_id": 1, "eos_token_id": 2}"#,
    )?;
    write("tokenizer.json", TOKENIZER)?;
    let tcfg = serde_json::json!({
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": true, "add_eos_token": false, "chat_template": TEMPLATE,
    });
    write("tokenizer_config.json", &tcfg.to_string())?;
    let mut w = SafeTensorsWriter::new();
    let mut seed = 0u64;
    let mut tensor = |name: String, shape: &[usize], std: f64| -> Result<()> {
        seed += 1;
        let a = Array::random_normal(shape, 0.0, std, seed, DType::F32)?.astype(DType::BF16)?;
        w.add_tensor(name, a);
        Ok(())
    };
    tensor("model.embed_tokens.weight".into(), &[VOCAB, HIDDEN], 0.5)?;
    tensor("lm_head.weight".into(), &[VOCAB, HIDDEN], 0.02)?;
    let head_dim = HIDDEN / HEADS;
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}.");
        tensor(
            format!("{p}self_attn.q_proj.weight"),
            &[HEADS * head_dim, HIDDEN],
            0.04,
        )?;
        tensor(
            format!("{p}self_attn.k_proj.weight"),
            &[KV_HEADS * head_dim, HIDDEN],
            0.04,
        )?;
        tensor(
            format!("{p}self_attn.v_proj.weight"),
            &[KV_HEADS * head_dim, HIDDEN],
            0.02,
        )?;
        tensor(
            format!("{p}self_attn.o_proj.weight"),
            &[HIDDEN, HEADS * head_dim],
            0.02,
        )?;
        tensor(format!("{p}mlp.gate_proj.weight"), &[FFN, HIDDEN], 0.02)?;
        tensor(format!("{p}mlp.up_proj.weight"), &[FFN, HIDDEN], 0.02)?;
        tensor(format!("{p}mlp.down_proj.weight"), &[HIDDEN, FFN], 0.02)?;
    }
    for name in (0..LAYERS)
        .flat_map(|l| {
            ["input_layernorm", "post_attention_layernorm"]
                .map(|n| format!("model.layers.{l}.{n}.weight"))
        })
        .chain(["model.norm.weight".to_string()])
    {
        w.add_tensor(name, Array::ones(&[HIDDEN], DType::BF16)?);
    }
    w.write(dir.join("model.safetensors"))
        .map_err(|e| Error::Model(e.into()))
}
