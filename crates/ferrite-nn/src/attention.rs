use ferrite_core::{Array, DType, Result};

use crate::{layer_err, LayerKv, Linear, Rope};

/// Head counts and position handling of an attention layer.
#[derive(Clone, Debug)]
pub struct AttentionConfig {
    pub n_heads: usize,
    /// Fewer than `n_heads` for grouped-query attention; K/V heads are shared,
    /// never repeated in memory.
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rope: Rope,
    /// Mistral-style: each position sees at most this many positions (itself
    /// included).
    pub sliding_window: Option<usize>,
}

/// Multi-head self-attention with RoPE, GQA and a KV cache.
#[derive(Clone, Debug)]
pub struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    cfg: AttentionConfig,
}

impl Attention {
    pub fn new(
        q: Linear,
        k: Linear,
        v: Linear,
        o: Linear,
        cfg: AttentionConfig,
    ) -> Result<Attention> {
        let (hq, hkv, d) = (cfg.n_heads, cfg.n_kv_heads, cfg.head_dim);
        if hq == 0 || hkv == 0 || d == 0 || !hq.is_multiple_of(hkv) {
            return layer_err(
                "Attention",
                format!("{hq} query heads, {hkv} KV heads, head_dim {d}: need Hq a multiple of Hkv, all > 0"),
            );
        }
        let checks = [
            ("q", q.out_features(), hq * d),
            ("k", k.out_features(), hkv * d),
            ("v", v.out_features(), hkv * d),
            ("o (input)", o.in_features(), hq * d),
        ];
        for (name, got, want) in checks {
            if got != want {
                return layer_err(
                    "Attention",
                    format!("{name} projection has {got} features, the head layout needs {want}"),
                );
            }
        }
        if cfg.rope.dims() > d {
            return layer_err(
                "Attention",
                format!("RoPE dims {} exceed head_dim {d}", cfg.rope.dims()),
            );
        }
        Ok(Attention { q, k, v, o, cfg })
    }

    pub fn config(&self) -> &AttentionConfig {
        &self.cfg
    }

    /// The projections' weights and biases, for counting parameters.
    pub fn parameters(&self) -> Vec<&Array> {
        [&self.q, &self.k, &self.v, &self.o]
            .into_iter()
            .flat_map(Linear::parameters)
            .collect()
    }

    /// `x [B, T, hidden]` at positions `cache.len()..` -> `[B, T, hidden]`;
    /// appends this step's keys and values to `cache`.
    pub fn forward(&self, x: &Array, cache: &mut LayerKv) -> Result<Array> {
        let (b, t) = (x.shape()[0], x.shape()[1]);
        let (hq, hkv, d) = (self.cfg.n_heads, self.cfg.n_kv_heads, self.cfg.head_dim);
        let offset = cache.len();
        let heads = |y: Array, h: usize| -> Result<Array> {
            y.reshape(&[b as isize, t as isize, h as isize, d as isize])?
                .permute(&[0, 2, 1, 3])
        };
        let q = self
            .cfg
            .rope
            .forward(&heads(self.q.forward(x)?, hq)?, offset)?;
        let k = self
            .cfg
            .rope
            .forward(&heads(self.k.forward(x)?, hkv)?, offset)?;
        let v = heads(self.v.forward(x)?, hkv)?;
        let (k, v) = cache.append(k, v)?;
        let scale = 1.0 / (d as f32).sqrt();
        let total = offset + t;
        let out = match self.cfg.sliding_window {
            Some(w) if total > w => {
                let mask = window_mask(offset, t, w)?;
                Array::attention(&q, &k, &v, scale, false, Some(&mask))?
            }
            _ => Array::attention(&q, &k, &v, scale, t > 1, None)?,
        };
        let out =
            out.permute(&[0, 2, 1, 3])?
                .reshape(&[b as isize, t as isize, (hq * d) as isize])?;
        self.o.forward(&out)
    }
}

/// Keep-mask `[T, offset + T]`: query `offset + i` sees key `j` when
/// `j <= offset + i` and `offset + i - j < window`.
fn window_mask(offset: usize, t: usize, window: usize) -> Result<Array> {
    let keys = offset + t;
    let mut keep = vec![0u8; t * keys];
    for i in 0..t {
        let pos = offset + i;
        let first = (pos + 1).saturating_sub(window);
        keep[i * keys + first..i * keys + pos + 1].fill(1);
    }
    Array::from_bytes(&keep, &[t, keys], DType::Bool)
}
