//! Activations' composites, normalizations, RoPE and attention.

use crate::array::Array;
use crate::dtype::DType;
use crate::error::{arg_err, dtype_err, shape_err, Result};
use crate::ops::floating;
use crate::prim::{Prim, RopeLayout};
use crate::shape::{broadcast_shapes, normalize_axis, Dims};

impl Array {
    /// Softmax along `axis`, subtracting the maximum first.
    pub fn softmax(&self, axis: isize) -> Result<Array> {
        self.softmax_impl(axis, false)
    }

    /// `x - logsumexp(x)` along `axis`.
    pub fn log_softmax(&self, axis: isize) -> Result<Array> {
        self.softmax_impl(axis, true)
    }

    fn softmax_impl(&self, axis: isize, log: bool) -> Result<Array> {
        floating("softmax", self.dtype())?;
        let axis = normalize_axis("softmax", axis, self.ndim())?;
        Ok(Array::pending(
            self.shape().into(),
            self.dtype(),
            Prim::Softmax { axis, log },
            vec![self.clone()],
        ))
    }

    /// RMSNorm over the last axis: `x / sqrt(mean(x²) + eps) * weight`.
    pub fn rms_norm(&self, weight: Option<&Array>, eps: f32) -> Result<Array> {
        floating("rms_norm", self.dtype())?;
        let mut inputs = vec![self.clone()];
        if let Some(w) = weight {
            inputs.push(norm_param("rms_norm", self, w)?);
        }
        Ok(Array::pending(
            self.shape().into(),
            promoted(&inputs),
            Prim::RmsNorm { eps },
            inputs,
        ))
    }

    /// LayerNorm over the last axis with optional weight and bias.
    pub fn layer_norm(
        &self,
        weight: Option<&Array>,
        bias: Option<&Array>,
        eps: f32,
    ) -> Result<Array> {
        floating("layer_norm", self.dtype())?;
        let mut inputs = vec![self.clone()];
        if let Some(w) = weight {
            inputs.push(norm_param("layer_norm", self, w)?);
        }
        if let Some(b) = bias {
            inputs.push(norm_param("layer_norm", self, b)?);
        }
        let prim = Prim::LayerNorm {
            eps,
            has_weight: weight.is_some(),
            has_bias: bias.is_some(),
        };
        Ok(Array::pending(
            self.shape().into(),
            promoted(&inputs),
            prim,
            inputs,
        ))
    }

    /// Rotary position embedding (see [`Prim::Rope`]); `freqs`, if given,
    /// replaces `base` (e.g. [`llama3_rope_freqs`]).
    pub fn rope(
        &self,
        dims: usize,
        layout: RopeLayout,
        base: f32,
        scale: f32,
        offset: usize,
        freqs: Option<&Array>,
    ) -> Result<Array> {
        floating("rope", self.dtype())?;
        let last = self.shape().last().copied().unwrap_or(0);
        if self.ndim() < 2 {
            return shape_err(
                "rope",
                format!(
                    "input needs at least 2 axes (positions, features), got {:?}",
                    self.shape()
                ),
            );
        }
        if dims == 0 || !dims.is_multiple_of(2) || dims > last {
            return arg_err(
                "rope",
                format!("dims {dims} must be even, positive and at most the last axis {last}"),
            );
        }
        let mut inputs = vec![self.clone()];
        if let Some(f) = freqs {
            if f.shape() != [dims / 2] {
                return shape_err(
                    "rope",
                    format!("freqs must have shape [{}], got {:?}", dims / 2, f.shape()),
                );
            }
            inputs.push(f.astype(DType::F32)?);
        }
        let prim = Prim::Rope {
            dims,
            layout,
            base,
            scale,
            offset,
            has_freqs: freqs.is_some(),
        };
        Ok(Array::pending(
            self.shape().into(),
            self.dtype(),
            prim,
            inputs,
        ))
    }

    /// Scaled dot-product attention with grouped-query heads (see
    /// [`Prim::Attention`]); K/V heads are shared by `Hq / Hkv` query heads
    /// without being repeated in memory.
    pub fn attention(
        q: &Array,
        k: &Array,
        v: &Array,
        scale: f32,
        causal: bool,
        mask: Option<&Array>,
    ) -> Result<Array> {
        floating("attention", q.dtype())?;
        if k.dtype() != q.dtype() || v.dtype() != q.dtype() {
            return dtype_err(
                "attention",
                k.dtype(),
                format!("q, k and v must share a dtype (q is {})", q.dtype()),
            );
        }
        let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
        if qs.len() != 4 || ks.len() != 4 || vs.len() != 4 {
            return shape_err(
                "attention",
                format!("q, k, v must be [B, H, T, D]; got {qs:?}, {ks:?}, {vs:?}"),
            );
        }
        let kv_shape_ok =
            ks[0] == qs[0] && vs[0] == qs[0] && ks[1] == vs[1] && ks[2] == vs[2] && ks[3] == qs[3];
        if !kv_shape_ok || ks[1] == 0 || qs[1] % ks[1] != 0 {
            return shape_err(
                "attention",
                format!("incompatible q {qs:?}, k {ks:?}, v {vs:?} (need equal batch, key dim, and Hq a multiple of Hkv)"),
            );
        }
        if causal && mask.is_some() {
            return arg_err(
                "attention",
                "give either causal or an explicit mask, not both",
            );
        }
        let shape: Dims = [qs[0], qs[1], qs[2], vs[3]].into_iter().collect();
        let mut inputs = vec![q.clone(), k.clone(), v.clone()];
        if let Some(m) = mask {
            let full = [qs[0], qs[1], qs[2], ks[2]];
            if broadcast_shapes("attention", m.shape(), &full)?.as_slice() != full {
                return shape_err(
                    "attention",
                    format!("mask {:?} does not broadcast to {full:?}", m.shape()),
                );
            }
            let m = if m.dtype() == DType::Bool {
                m.clone()
            } else {
                m.astype(DType::F32)?
            };
            inputs.push(m.broadcast_to(&full)?);
        }
        let prim = Prim::Attention {
            scale,
            causal,
            has_mask: mask.is_some(),
        };
        Ok(Array::pending(shape, q.dtype(), prim, inputs))
    }
}

fn norm_param(op: &'static str, x: &Array, p: &Array) -> Result<Array> {
    if x.ndim() == 0 {
        return shape_err(op, "input needs at least one axis to normalise over");
    }
    let last = x.shape().last().copied().unwrap_or(0);
    if p.shape() != [last] {
        return shape_err(
            op,
            format!("parameter shape {:?} must be [{last}]", p.shape()),
        );
    }
    floating(op, p.dtype())?;
    Ok(p.clone())
}

/// Normalisations return the promoted type of the input and its parameters,
/// as MLX does (a bf16 input with an f32 weight gives f32).
fn promoted(inputs: &[Array]) -> DType {
    inputs.iter().skip(1).fold(inputs[0].dtype(), |d, p| {
        DType::promote(d, p.dtype()).unwrap_or(d)
    })
}

/// Llama 3's RoPE frequency scaling (`rope_type: "llama3"` in config.json).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Llama3RopeScaling {
    pub factor: f32,
    pub low_freq_factor: f32,
    pub high_freq_factor: f32,
    pub original_max_position_embeddings: f32,
}

/// The `dims / 2` periods (MLX's `freqs`) for Llama 3 scaling: long
/// wavelengths are stretched by `factor`, short ones kept, the band between
/// interpolated smoothly.
pub fn llama3_rope_freqs(dims: usize, base: f32, s: Llama3RopeScaling) -> Result<Array> {
    if dims == 0 || !dims.is_multiple_of(2) || s.high_freq_factor <= s.low_freq_factor {
        return arg_err(
            "llama3_rope_freqs",
            "dims must be even and high_freq_factor > low_freq_factor",
        );
    }
    let low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
    let high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
    let freqs: Vec<f32> = (0..dims / 2)
        .map(|i| {
            let f = base.powf((2 * i) as f32 / dims as f32);
            let wavelen = 2.0 * std::f32::consts::PI * f;
            if wavelen > low_wavelen {
                f * s.factor
            } else if wavelen <= high_wavelen || wavelen == low_wavelen {
                f
            } else {
                let smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor)
                    / (s.high_freq_factor - s.low_freq_factor);
                f / ((1.0 - smooth) / s.factor + smooth)
            }
        })
        .collect();
    Array::from_slice(&freqs, &[dims / 2])
}
