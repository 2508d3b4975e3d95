//! Where a model's tensors come from. The model asks for Hugging Face names;
//! a GGUF source translates them, so one model definition serves both.

use std::path::{Path, PathBuf};

use ferrite_core::{Array, DType};
use ferrite_formats::{Gguf, SafeTensors, TensorInfo};

use crate::error::{Error, Result};

/// A set of named tensors.
pub trait Weights {
    /// The file the tensors come from, for messages.
    fn path(&self) -> &Path;
    /// The descriptor of the tensor with Hugging Face name `name`, if present.
    fn info(&self, name: &str) -> Option<&TensorInfo>;
    /// A zero-copy array over tensor `name` (Hugging Face naming).
    fn array(&self, name: &str) -> Result<Array>;
}

/// Per-layer tensor names: Hugging Face suffix after `model.layers.N.`, and
/// the GGUF suffix after `blk.N.`.
const LAYER_NAMES: &[(&str, &str)] = &[
    ("input_layernorm.weight", "attn_norm.weight"),
    ("post_attention_layernorm.weight", "ffn_norm.weight"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.o_proj.weight", "attn_output.weight"),
    ("self_attn.q_proj.bias", "attn_q.bias"),
    ("self_attn.k_proj.bias", "attn_k.bias"),
    ("self_attn.v_proj.bias", "attn_v.bias"),
    ("mlp.gate_proj.weight", "ffn_gate.weight"),
    ("mlp.up_proj.weight", "ffn_up.weight"),
    ("mlp.down_proj.weight", "ffn_down.weight"),
];

/// Whole-model tensor names (Hugging Face, GGUF).
const GLOBAL_NAMES: &[(&str, &str)] = &[
    ("model.embed_tokens.weight", "token_embd.weight"),
    ("model.norm.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
];

/// The GGUF name llama.cpp uses for Hugging Face tensor `hf`, if it has one.
pub fn gguf_name(hf: &str) -> Option<String> {
    if let Some((_, g)) = GLOBAL_NAMES.iter().find(|(h, _)| *h == hf) {
        return Some((*g).to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, suffix) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (_, g) = LAYER_NAMES.iter().find(|(h, _)| *h == suffix)?;
    Some(format!("blk.{layer}.{g}"))
}

/// Float dtypes the model runs on today; block-quantized weights come with
/// the quantization kernels.
fn check_dtype(path: &Path, info: &TensorInfo) -> Result<()> {
    match info.dtype {
        DType::F32 | DType::F16 | DType::BF16 => Ok(()),
        other => Err(Error::Weight {
            path: path.into(),
            tensor: info.name.clone(),
            msg: format!(
                "type {other} is not supported for weights yet (supported: f32, f16, bf16)"
            ),
        }),
    }
}

/// A Hugging Face checkpoint: one safetensors file or a sharded index.
pub struct HfWeights {
    st: SafeTensors,
}

impl HfWeights {
    pub fn open(dir_or_file: &Path) -> Result<HfWeights> {
        Ok(HfWeights {
            st: SafeTensors::open(dir_or_file)?,
        })
    }
}

impl Weights for HfWeights {
    fn path(&self) -> &Path {
        self.st.path()
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.st.tensor(name)
    }

    fn array(&self, name: &str) -> Result<Array> {
        let info = self
            .st
            .tensor(name)
            .ok_or_else(|| missing(self.path(), name))?;
        check_dtype(self.path(), info)?;
        Ok(self.st.array(name)?)
    }
}

/// The tensors of a GGUF file under their Hugging Face names.
pub struct GgufWeights<'a> {
    g: &'a Gguf,
    path: PathBuf,
}

impl<'a> GgufWeights<'a> {
    pub fn new(g: &'a Gguf) -> GgufWeights<'a> {
        GgufWeights {
            g,
            path: g.path().to_path_buf(),
        }
    }
}

impl Weights for GgufWeights<'_> {
    fn path(&self) -> &Path {
        &self.path
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.g.tensor(&gguf_name(name)?)
    }

    fn array(&self, name: &str) -> Result<Array> {
        let gname = gguf_name(name).ok_or_else(|| missing(&self.path, name))?;
        let info = self
            .g
            .tensor(&gname)
            .ok_or_else(|| missing(&self.path, &gname))?;
        check_dtype(&self.path, info)?;
        Ok(self.g.array(&gname)?)
    }
}

fn missing(path: &Path, name: &str) -> Error {
    Error::Weight {
        path: path.into(),
        tensor: name.into(),
        msg: "missing from the model file".into(),
    }
}
