use ferrite_core::{Array, Result};

use crate::layer_err;

/// RMSNorm over the last axis with a learned scale.
#[derive(Clone, Debug)]
pub struct RmsNorm {
    weight: Array,
    eps: f32,
}

impl RmsNorm {
    pub fn new(weight: Array, eps: f32) -> Result<RmsNorm> {
        if weight.ndim() != 1 {
            return layer_err(
                "RmsNorm",
                format!("weight must be 1-D, got {:?}", weight.shape()),
            );
        }
        Ok(RmsNorm { weight, eps })
    }

    pub fn weight(&self) -> &Array {
        &self.weight
    }

    pub fn forward(&self, x: &Array) -> Result<Array> {
        x.rms_norm(Some(&self.weight), self.eps)
    }
}
