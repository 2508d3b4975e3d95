use ferrite_core::{Array, Result};

use crate::layer_err;

/// `y = x Wᵀ (+ b)` with `W` stored `[out, in]`, as in Hugging Face and GGUF
/// files. The transpose is a stride swap, so the weights are read in place.
#[derive(Clone, Debug)]
pub struct Linear {
    weight: Array,
    bias: Option<Array>,
}

impl Linear {
    /// Checks that `weight` is `[out, in]` and `bias`, if any, is `[out]`.
    pub fn new(weight: Array, bias: Option<Array>) -> Result<Linear> {
        if weight.ndim() != 2 {
            return layer_err(
                "Linear",
                format!("weight must be [out, in], got {:?}", weight.shape()),
            );
        }
        if let Some(b) = &bias {
            if b.shape() != [weight.shape()[0]] {
                return layer_err(
                    "Linear",
                    format!(
                        "bias {:?} does not match weight {:?}",
                        b.shape(),
                        weight.shape()
                    ),
                );
            }
        }
        Ok(Linear { weight, bias })
    }

    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    pub fn weight(&self) -> &Array {
        &self.weight
    }

    pub fn bias(&self) -> Option<&Array> {
        self.bias.as_ref()
    }

    /// The weight and the bias, if any.
    pub fn parameters(&self) -> impl Iterator<Item = &Array> {
        std::iter::once(&self.weight).chain(self.bias.as_ref())
    }

    /// `x [..., in] -> [..., out]`.
    pub fn forward(&self, x: &Array) -> Result<Array> {
        let wt = self.weight.transpose()?;
        match &self.bias {
            Some(b) => x.matmul_bias(&wt, b),
            None => x.matmul(&wt),
        }
    }
}
