//! The Llama-family decoder: one definition for Llama 2/3, TinyLlama,
//! Mistral and Qwen2, whatever file the weights come from.

use ferrite_core::{Array, DType, SliceArg};
use ferrite_nn::{Attention, AttentionConfig, Embedding, KvCache, Linear, RmsNorm, Rope, SwiGlu};

use crate::config::LlamaConfig;
use crate::error::{Error, Result};
use crate::weights::Weights;

/// Which positions to compute logits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// Only the last position (generation): the vocabulary projection, the
    /// largest matmul of a step, runs on one row.
    Last,
    /// Every position (perplexity, comparisons with references).
    All,
}

struct Block {
    attn_norm: RmsNorm,
    attn: Attention,
    mlp_norm: RmsNorm,
    mlp: SwiGlu,
}

/// A loaded Llama-family model.
pub struct Llama {
    cfg: LlamaConfig,
    embed: Embedding,
    blocks: Vec<Block>,
    norm: RmsNorm,
    head: Linear,
}

/// Activations run in f32 whatever the weights' dtype: the matmul kernels
/// widen bf16/f16 weights while packing, so this costs no extra pass.
const ACT: DType = DType::F32;

impl Llama {
    /// Builds the model from `w`, checking every tensor's shape against `cfg`.
    pub fn load(cfg: LlamaConfig, w: &dyn Weights) -> Result<Llama> {
        let l = Loader { w, cfg: &cfg };
        let (h, v) = (cfg.hidden_size, cfg.vocab_size);
        let embed = Embedding::new(l.get(EMBED, &[v, h])?)?;
        let head = match head_name(&cfg, w) {
            EMBED => Linear::new(embed.table().clone(), None)?,
            name => Linear::new(l.get(name, &[v, h])?, None)?,
        };
        let blocks = (0..cfg.n_layers)
            .map(|i| l.block(i))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::new(l.get("model.norm.weight", &[h])?, cfg.rms_norm_eps)?;
        Ok(Llama {
            embed,
            blocks,
            norm,
            head,
            cfg,
        })
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// An empty cache for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.blocks.len())
    }

    /// Runs `ids` at positions `cache.len()..`, appending to `cache`, and
    /// returns f32 logits `[T, vocab]` (or `[1, vocab]` for [`Logits::Last`]).
    /// Only builds the graph: evaluate the result together with
    /// `cache.arrays()` so the cache is computed in the same pass.
    pub fn forward(&self, ids: &[u32], cache: &mut KvCache, which: Logits) -> Result<Array> {
        if ids.is_empty() {
            return Err(Error::Core(ferrite_core::Error::Argument {
                op: "Llama::forward",
                msg: "no tokens to run".into(),
            }));
        }
        let t = ids.len();
        let mut x = self
            .embed
            .forward(ids, ACT)?
            .reshape(&[1, t as isize, -1])?;
        for (i, b) in self.blocks.iter().enumerate() {
            let kv = cache.layer_mut(i).ok_or_else(|| {
                Error::Core(ferrite_core::Error::Argument {
                    op: "Llama::forward",
                    msg: "the cache belongs to a model with fewer layers".into(),
                })
            })?;
            let a = b.attn.forward(&b.attn_norm.forward(&x)?, kv)?;
            x = x.add(&a)?;
            let m = b.mlp.forward(&b.mlp_norm.forward(&x)?)?;
            x = x.add(&m)?;
        }
        let x = x.reshape(&[t as isize, -1])?;
        let x = match which {
            Logits::All => x,
            Logits::Last => x.slice(&[
                SliceArg::range(t as isize - 1, t as isize),
                SliceArg::full(),
            ])?,
        };
        Ok(self.head.forward(&self.norm.forward(&x)?)?)
    }

    /// Total parameters (a tied head counted once) and their bytes.
    pub fn parameter_stats(&self) -> (usize, usize) {
        let mut arrays: Vec<&Array> = vec![self.embed.table(), self.norm_weight()];
        if !self.head_is_tied() {
            arrays.push(self.head.weight());
        }
        arrays.extend(self.blocks.iter().flat_map(Block::parameters));
        let n = arrays.iter().map(|a| a.size()).sum();
        (n, arrays.into_iter().map(array_bytes).sum())
    }

    /// The weights one decode step reads whole, in the order it reads them:
    /// every block's norms and projections, the final norm and the output head
    /// (the embedding table when tied; otherwise the step reads one row of it).
    pub fn decode_weights(&self) -> Vec<&Array> {
        let mut arrays: Vec<&Array> = self.blocks.iter().flat_map(Block::parameters).collect();
        arrays.extend([self.norm_weight(), self.head.weight()]);
        arrays
    }

    /// Weight bytes one decode step reads: [`Llama::decode_weights`] and one
    /// row of the embedding table (unless the output head is that table).
    /// Divided into a memory bandwidth, this bounds generation speed.
    pub fn decode_weight_bytes(&self) -> usize {
        let whole: usize = self.decode_weights().into_iter().map(array_bytes).sum();
        let table = self.embed.table();
        if self.head_is_tied() {
            whole
        } else {
            whole + array_bytes(table) / table.shape()[0].max(1)
        }
    }

    fn head_is_tied(&self) -> bool {
        self.head.weight().id() == self.embed.table().id()
    }

    fn norm_weight(&self) -> &Array {
        self.norm.weight()
    }
}

fn array_bytes(a: &Array) -> usize {
    a.dtype().bytes_for(a.size() as u64).unwrap_or(0) as usize
}

impl Block {
    fn parameters(&self) -> Vec<&Array> {
        let mut p = vec![self.attn_norm.weight(), self.mlp_norm.weight()];
        p.extend(self.attn.parameters());
        p.extend(self.mlp.parameters());
        p
    }
}

const EMBED: &str = "model.embed_tokens.weight";

/// The tensor the output head multiplies with: the embedding table when the
/// config ties them or the file has no separate head.
fn head_name(cfg: &LlamaConfig, w: &dyn Weights) -> &'static str {
    if cfg.tie_word_embeddings || w.info("lm_head.weight").is_none() {
        EMBED
    } else {
        "lm_head.weight"
    }
}

/// Projection names within a block, after `model.layers.N.`.
const PROJECTIONS: [&str; 7] = [
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
];

/// The weights a decode step reads whole: every block's projections and the
/// output head, by Hugging Face name.
pub(crate) fn streamed_weight_names(cfg: &LlamaConfig, w: &dyn Weights) -> Vec<String> {
    let mut names: Vec<String> = (0..cfg.n_layers)
        .flat_map(|i| PROJECTIONS.map(|p| format!("model.layers.{i}.{p}.weight")))
        .collect();
    names.push(head_name(cfg, w).into());
    names
}

struct Loader<'a> {
    w: &'a dyn Weights,
    cfg: &'a LlamaConfig,
}

impl Loader<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Array> {
        let a = self.w.array(name)?;
        if a.shape() != shape {
            return Err(Error::Weight {
                path: self.w.path().into(),
                tensor: name.into(),
                msg: format!(
                    "shape {:?} does not match the config, which needs {shape:?}",
                    a.shape()
                ),
            });
        }
        Ok(a)
    }

    fn linear(&self, name: &str, out: usize, inp: usize, bias: bool) -> Result<Linear> {
        let w = self.get(&format!("{name}.weight"), &[out, inp])?;
        let b = if bias {
            Some(self.get(&format!("{name}.bias"), &[out])?)
        } else {
            None
        };
        Ok(Linear::new(w, b)?)
    }

    fn block(&self, i: usize) -> Result<Block> {
        let c = self.cfg;
        let p = format!("model.layers.{i}.");
        let (h, d) = (c.hidden_size, c.head_dim);
        let (q_out, kv_out) = (c.n_heads * d, c.n_kv_heads * d);
        let bias = c.attention_bias;
        let rope = Rope::new(d, c.rope_theta, c.rope_layout, &c.rope_scaling)?;
        let attn = Attention::new(
            self.linear(&format!("{p}self_attn.q_proj"), q_out, h, bias)?,
            self.linear(&format!("{p}self_attn.k_proj"), kv_out, h, bias)?,
            self.linear(&format!("{p}self_attn.v_proj"), kv_out, h, bias)?,
            self.linear(&format!("{p}self_attn.o_proj"), h, q_out, false)?,
            AttentionConfig {
                n_heads: c.n_heads,
                n_kv_heads: c.n_kv_heads,
                head_dim: d,
                rope,
                sliding_window: c.sliding_window,
            },
        )?;
        let f = c.intermediate_size;
        let mlp = SwiGlu::new(
            self.linear(&format!("{p}mlp.gate_proj"), f, h, false)?,
            self.linear(&format!("{p}mlp.up_proj"), f, h, false)?,
            self.linear(&format!("{p}mlp.down_proj"), h, f, false)?,
        )?;
        Ok(Block {
            attn_norm: RmsNorm::new(
                self.get(&format!("{p}input_layernorm.weight"), &[h])?,
                c.rms_norm_eps,
            )?,
            attn,
            mlp_norm: RmsNorm::new(
                self.get(&format!("{p}post_attention_layernorm.weight"), &[h])?,
                c.rms_norm_eps,
            )?,
            mlp,
        })
    }
}

impl Llama {
    /// The dtype of the first layer's projections (what the weights mostly are).
    pub fn weight_dtype(&self) -> DType {
        self.blocks
            .first()
            .and_then(|b| b.attn.parameters().first().map(|a| a.dtype()))
            .unwrap_or(self.embed.table().dtype())
    }
}
