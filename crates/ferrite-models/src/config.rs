//! Hyper-parameters of a Llama-family model, from `config.json` or GGUF metadata.

use std::path::{Path, PathBuf};

use ferrite_core::prim::RopeLayout;
use ferrite_core::Llama3RopeScaling;
use ferrite_formats::gguf::{Gguf, Value};
use ferrite_nn::RopeScaling;
use serde_json::Value as Json;

use crate::error::{Error, Result};

/// The architectures one [`crate::Llama`] definition covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Mistral,
    Qwen2,
}

/// What `ferrite` can load, for error messages.
pub const SUPPORTED: &str = "llama (Llama 2/3/3.1/3.2, TinyLlama), mistral, qwen2";

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Mistral => "mistral",
            Arch::Qwen2 => "qwen2",
        }
    }

    /// The `general.architecture` GGUF uses (llama.cpp files Mistral under llama).
    pub fn gguf_name(self) -> &'static str {
        match self {
            Arch::Llama | Arch::Mistral => "llama",
            Arch::Qwen2 => "qwen2",
        }
    }
}

/// Everything the model definition needs besides the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    pub arch: Arch,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f32,
    pub rope_theta: f32,
    pub rope_scaling: RopeScaling,
    /// Split halves for Hugging Face weights; interleaved pairs for GGUF Llama
    /// files, whose q/k rows the converter permuted to match.
    pub rope_layout: RopeLayout,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    /// q/k/v projections carry biases (Qwen2).
    pub attention_bias: bool,
    pub sliding_window: Option<usize>,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
}

impl LlamaConfig {
    /// Bytes of f32 K and V cached per token over all layers.
    pub fn kv_bytes_per_token(&self) -> usize {
        2 * self.n_layers * self.n_kv_heads * self.head_dim * 4
    }

    /// Reads a Hugging Face `config.json`.
    pub fn from_hf_file(path: &Path) -> Result<LlamaConfig> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.into(),
            what: "cannot read",
            source,
        })?;
        let json: Json = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: path.into(),
            msg: format!("not valid JSON: {e}"),
        })?;
        HfConfig { path, json: &json }.parse()
    }

    /// Reads the `general.architecture` hyper-parameters of a GGUF file.
    /// `freq_factors` is the `rope_freqs.weight` tensor if the file has one.
    pub fn from_gguf(g: &Gguf, freq_factors: Option<Vec<f32>>) -> Result<LlamaConfig> {
        GgufConfig { g }.parse(freq_factors)
    }

    fn check(self, path: &Path) -> Result<LlamaConfig> {
        let bad = |msg: String| {
            Err(Error::Config {
                path: path.into(),
                msg,
            })
        };
        let dims = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.n_layers),
            ("num_attention_heads", self.n_heads),
            ("num_key_value_heads", self.n_kv_heads),
            ("head_dim", self.head_dim),
        ];
        if let Some((name, _)) = dims.iter().find(|(_, v)| *v == 0) {
            return bad(format!("{name} must be positive"));
        }
        // Weight sizes must fit in memory arithmetic before any shape is built from them.
        let sizes = [
            self.n_heads.checked_mul(self.head_dim),
            self.vocab_size.checked_mul(self.hidden_size),
            self.intermediate_size.checked_mul(self.hidden_size),
            self.n_heads
                .checked_mul(self.head_dim)
                .and_then(|q| q.checked_mul(self.hidden_size)),
        ];
        if sizes
            .iter()
            .any(|s| s.is_none_or(|n| n > isize::MAX as usize / 8))
        {
            return bad("the dimensions are too large to hold in memory".into());
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return bad(format!(
                "{} attention heads is not a multiple of {} KV heads",
                self.n_heads, self.n_kv_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(format!("head_dim {} must be even for RoPE", self.head_dim));
        }
        if !(self.rms_norm_eps >= 0.0 && self.rope_theta > 0.0) {
            return bad("rms_norm_eps must be >= 0 and rope_theta > 0".into());
        }
        if self.sliding_window == Some(0) {
            return bad("sliding_window must be positive".into());
        }
        Ok(self)
    }
}

struct HfConfig<'a> {
    path: &'a Path,
    json: &'a Json,
}

impl HfConfig<'_> {
    fn err(&self, msg: String) -> Error {
        Error::Config {
            path: self.path.into(),
            msg,
        }
    }

    fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?
            .ok_or_else(|| self.err(format!("missing '{key}'")))
    }

    fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.json.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v.as_u64().map(|n| Some(n as usize)).ok_or_else(|| {
                self.err(format!("'{key}' must be a non-negative integer, got {v}"))
            }),
        }
    }

    fn f32_or(&self, key: &str, default: f32) -> Result<f32> {
        match self.json.get(key) {
            None | Some(Json::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| self.err(format!("'{key}' must be a number, got {v}"))),
        }
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.json.get(key) {
            None | Some(Json::Null) => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(format!("'{key}' must be true or false, got {v}"))),
        }
    }

    fn ids(&self, key: &str) -> Result<Vec<u32>> {
        match self.json.get(key) {
            None | Some(Json::Null) => Ok(vec![]),
            Some(Json::Array(a)) => a
                .iter()
                .map(|v| v.as_u64().map(|n| n as u32))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.err(format!("'{key}' must hold token ids"))),
            Some(v) => v
                .as_u64()
                .map(|n| vec![n as u32])
                .ok_or_else(|| self.err(format!("'{key}' must be a token id or a list of them"))),
        }
    }

    fn parse(&self) -> Result<LlamaConfig> {
        let Some(model_type) = self.json.get("model_type").and_then(Json::as_str) else {
            return Err(self.err(format!("no \"model_type\" string (supported: {SUPPORTED})")));
        };
        let arch = match model_type {
            "llama" => Arch::Llama,
            "mistral" => Arch::Mistral,
            "qwen2" => Arch::Qwen2,
            other => {
                return Err(Error::Unsupported {
                    path: self.path.into(),
                    msg: format!("model_type '{other}' is not supported; supported: {SUPPORTED}"),
                })
            }
        };
        let act = self
            .json
            .get("hidden_act")
            .and_then(Json::as_str)
            .unwrap_or("silu");
        if act != "silu" {
            return Err(Error::Unsupported {
                path: self.path.into(),
                msg: format!("hidden_act '{act}' is not supported (only silu)"),
            });
        }
        if self.bool_or("mlp_bias", false)? {
            return Err(Error::Unsupported {
                path: self.path.into(),
                msg: "mlp_bias is not supported".into(),
            });
        }
        let hidden = self.usize("hidden_size")?;
        let n_heads = self.usize("num_attention_heads")?;
        let head_dim = match self.opt_usize("head_dim")? {
            Some(d) => d,
            None if n_heads > 0 => hidden / n_heads,
            None => 0,
        };
        // Qwen2 declares a window but applies it only with use_sliding_window.
        let window = match arch {
            // transformers' MistralConfig default when the key is absent; null means none.
            Arch::Mistral if self.json.get("sliding_window").is_none() => Some(4096),
            Arch::Mistral => self.opt_usize("sliding_window")?,
            Arch::Qwen2 if self.bool_or("use_sliding_window", false)? => {
                self.opt_usize("sliding_window")?
            }
            _ => None,
        };
        LlamaConfig {
            arch,
            vocab_size: self.usize("vocab_size")?,
            hidden_size: hidden,
            intermediate_size: self.usize("intermediate_size")?,
            n_layers: self.usize("num_hidden_layers")?,
            n_heads,
            n_kv_heads: self.opt_usize("num_key_value_heads")?.unwrap_or(n_heads),
            head_dim,
            rms_norm_eps: self.f32_or("rms_norm_eps", 1e-6)?,
            rope_theta: self.f32_or("rope_theta", 10000.0)?,
            rope_scaling: self.rope_scaling()?,
            rope_layout: RopeLayout::SplitHalves,
            max_position_embeddings: self.opt_usize("max_position_embeddings")?.unwrap_or(4096),
            tie_word_embeddings: self.bool_or("tie_word_embeddings", false)?,
            attention_bias: arch == Arch::Qwen2 || self.bool_or("attention_bias", false)?,
            sliding_window: window,
            bos_token_id: self.ids("bos_token_id")?.first().copied(),
            eos_token_ids: self.ids("eos_token_id")?,
        }
        .check(self.path)
    }

    fn rope_scaling(&self) -> Result<RopeScaling> {
        let s = match self.json.get("rope_scaling") {
            None | Some(Json::Null) => return Ok(RopeScaling::None),
            Some(s) => s,
        };
        let kind = s
            .get("rope_type")
            .or_else(|| s.get("type"))
            .and_then(Json::as_str)
            .unwrap_or("default");
        let num = |key: &str| -> Result<f32> {
            s.get(key)
                .and_then(Json::as_f64)
                .map(|x| x as f32)
                .ok_or_else(|| self.err(format!("rope_scaling needs a number '{key}'")))
        };
        match kind {
            "default" => Ok(RopeScaling::None),
            "linear" => Ok(RopeScaling::Linear {
                factor: num("factor")?,
            }),
            "llama3" => Ok(RopeScaling::Llama3(Llama3RopeScaling {
                factor: num("factor")?,
                low_freq_factor: num("low_freq_factor")?,
                high_freq_factor: num("high_freq_factor")?,
                original_max_position_embeddings: num("original_max_position_embeddings")?,
            })),
            other => Err(Error::Unsupported {
                path: self.path.into(),
                msg: format!(
                    "rope_scaling type '{other}' is not supported (default, linear, llama3)"
                ),
            }),
        }
    }
}

struct GgufConfig<'a> {
    g: &'a Gguf,
}

impl GgufConfig<'_> {
    fn path(&self) -> PathBuf {
        self.g.path().to_path_buf()
    }

    fn err(&self, msg: String) -> Error {
        Error::Config {
            path: self.path(),
            msg,
        }
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.g.get(key) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                self.err(format!(
                    "metadata '{key}' must be an unsigned integer, got {}",
                    v.type_name()
                ))
            }),
        }
    }

    fn u64(&self, key: &str) -> Result<u64> {
        self.opt_u64(key)?
            .ok_or_else(|| self.err(format!("missing metadata '{key}'")))
    }

    fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        match self.g.get(key) {
            None => Ok(None),
            Some(Value::F32(x)) => Ok(Some(*x)),
            Some(Value::F64(x)) => Ok(Some(*x as f32)),
            Some(v) => Err(self.err(format!(
                "metadata '{key}' must be a float, got {}",
                v.type_name()
            ))),
        }
    }

    fn parse(&self, freq_factors: Option<Vec<f32>>) -> Result<LlamaConfig> {
        let arch_name = match self.g.get("general.architecture") {
            Some(Value::String(s)) => s.as_str(),
            Some(v) => {
                return Err(self.err(format!(
                    "metadata 'general.architecture' has type {}, expected string",
                    v.type_name()
                )))
            }
            None => return Err(self.err("missing metadata 'general.architecture'".into())),
        };
        let arch = match arch_name {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            other => {
                return Err(Error::Unsupported {
                    path: self.path(),
                    msg: format!("architecture '{other}' is not supported; supported: {SUPPORTED}"),
                })
            }
        };
        let key = |k: &str| format!("{arch_name}.{k}");
        let hidden = self.u64(&key("embedding_length"))? as usize;
        let n_heads = self.u64(&key("attention.head_count"))? as usize;
        let head_dim = match self.opt_u64(&key("attention.key_length"))? {
            Some(d) => d as usize,
            None if n_heads > 0 => hidden / n_heads,
            None => 0,
        };
        let rope_dims = self.opt_u64(&key("rope.dimension_count"))?;
        if rope_dims.is_some_and(|d| d as usize != head_dim) {
            return Err(Error::Unsupported {
                path: self.path(),
                msg:
                    "partial rotary embeddings (rope.dimension_count < head size) are not supported"
                        .into(),
            });
        }
        let rope_scaling = match (
            freq_factors,
            self.g
                .get(&key("rope.scaling.type"))
                .and_then(Value::as_str),
        ) {
            (Some(f), _) => RopeScaling::FreqFactors(f),
            (None, None | Some("none")) => RopeScaling::None,
            (None, Some("linear")) => RopeScaling::Linear {
                factor: self
                    .opt_f32(&key("rope.scaling.factor"))?
                    .ok_or_else(|| self.err("linear rope scaling without a factor".into()))?,
            },
            (None, Some(other)) => {
                return Err(Error::Unsupported {
                    path: self.path(),
                    msg: format!(
                    "rope scaling type '{other}' is not supported (none, linear, llama3 factors)"
                ),
                })
            }
        };
        let vocab = match self.opt_u64(&key("vocab_size"))? {
            Some(v) => v as usize,
            None => self
                .g
                .tensor("token_embd.weight")
                .and_then(|t| t.shape.first().copied())
                .ok_or_else(|| self.err("no vocab_size and no token_embd.weight".into()))?,
        };
        let eos = self.opt_u64("tokenizer.ggml.eos_token_id")?;
        LlamaConfig {
            arch,
            vocab_size: vocab,
            hidden_size: hidden,
            intermediate_size: self.u64(&key("feed_forward_length"))? as usize,
            n_layers: self.u64(&key("block_count"))? as usize,
            n_heads,
            n_kv_heads: self
                .opt_u64(&key("attention.head_count_kv"))?
                .map_or(n_heads, |n| n as usize),
            head_dim,
            rms_norm_eps: self
                .opt_f32(&key("attention.layer_norm_rms_epsilon"))?
                .unwrap_or(1e-5),
            rope_theta: self.opt_f32(&key("rope.freq_base"))?.unwrap_or(10000.0),
            rope_scaling,
            // llama.cpp's converter permutes Llama q/k rows for interleaved RoPE;
            // Qwen2 keeps Hugging Face's layout (NEOX rope in llama.cpp).
            rope_layout: match arch {
                Arch::Qwen2 => RopeLayout::SplitHalves,
                _ => RopeLayout::Interleaved,
            },
            max_position_embeddings: self
                .opt_u64(&key("context_length"))?
                .map_or(4096, |n| n as usize),
            tie_word_embeddings: self.g.tensor("output.weight").is_none(),
            attention_bias: self.g.tensor("blk.0.attn_q.bias").is_some(),
            sliding_window: self
                .opt_u64(&key("attention.sliding_window"))?
                .map(|n| n as usize),
            bos_token_id: self
                .opt_u64("tokenizer.ggml.bos_token_id")?
                .map(|n| n as u32),
            eos_token_ids: eos.map(|n| vec![n as u32]).unwrap_or_default(),
        }
        .check(self.g.path())
    }
}
