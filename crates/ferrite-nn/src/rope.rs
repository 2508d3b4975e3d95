use ferrite_core::prim::RopeLayout;
use ferrite_core::{llama3_rope_freqs, Array, Llama3RopeScaling, Result};

use crate::layer_err;

/// How a model stretches RoPE positions beyond its training length.
#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    /// Plain `pos · base^(-2i/d)`.
    None,
    /// Positions divided by `factor` (Hugging Face `rope_type: "linear"`).
    Linear { factor: f32 },
    /// Llama 3.1's band-wise scaling of the frequencies.
    Llama3(Llama3RopeScaling),
    /// Per-frequency factors `f_i` multiplying each period `base^(2i/d)`, as
    /// GGUF files carry them in `rope_freqs.weight` (llama.cpp's freq_factors).
    FreqFactors(Vec<f32>),
}

/// Rotary position embedding of the first `dims` features of each head.
#[derive(Clone, Debug)]
pub struct Rope {
    dims: usize,
    layout: RopeLayout,
    base: f32,
    scale: f32,
    periods: Option<Array>,
}

impl Rope {
    pub fn new(dims: usize, base: f32, layout: RopeLayout, scaling: &RopeScaling) -> Result<Rope> {
        let mut rope = Rope {
            dims,
            layout,
            base,
            scale: 1.0,
            periods: None,
        };
        match scaling {
            RopeScaling::None => {}
            RopeScaling::Linear { factor } => {
                if factor.is_nan() || *factor <= 0.0 {
                    return layer_err(
                        "Rope",
                        format!("linear scaling factor {factor} must be > 0"),
                    );
                }
                rope.scale = 1.0 / factor;
            }
            RopeScaling::Llama3(s) => rope.periods = Some(llama3_rope_freqs(dims, base, *s)?),
            RopeScaling::FreqFactors(f) => {
                if f.len() != dims / 2 {
                    return layer_err(
                        "Rope",
                        format!("{} frequency factors for {} rotated dims", f.len(), dims),
                    );
                }
                let periods: Vec<f32> = f
                    .iter()
                    .enumerate()
                    .map(|(i, &fi)| {
                        let period = (base as f64).powf(2.0 * i as f64 / dims as f64);
                        (period * fi as f64) as f32
                    })
                    .collect();
                rope.periods = Some(Array::from_slice(&periods, &[dims / 2])?);
            }
        }
        Ok(rope)
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn layout(&self) -> RopeLayout {
        self.layout
    }

    /// Rotates `x [..., T, head_dim]` for positions `offset..offset + T`.
    pub fn forward(&self, x: &Array, offset: usize) -> Result<Array> {
        x.rope(
            self.dims,
            self.layout,
            self.base,
            self.scale,
            offset,
            self.periods.as_ref(),
        )
    }
}
