use ferrite_core::{Array, Result};

use crate::{layer_err, Linear};

/// The Llama feed-forward block: `down(silu(gate(x)) * up(x))`. The
/// activation and product fuse into one element-wise pass.
#[derive(Clone, Debug)]
pub struct SwiGlu {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl SwiGlu {
    pub fn new(gate: Linear, up: Linear, down: Linear) -> Result<SwiGlu> {
        let ok = gate.out_features() == up.out_features()
            && gate.in_features() == up.in_features()
            && down.in_features() == gate.out_features()
            && down.out_features() == gate.in_features();
        if !ok {
            return layer_err(
                "SwiGlu",
                format!(
                    "gate {:?}, up {:?} and down {:?} do not chain",
                    gate.weight().shape(),
                    up.weight().shape(),
                    down.weight().shape()
                ),
            );
        }
        Ok(SwiGlu { gate, up, down })
    }

    /// The weights (and biases), for counting parameters.
    pub fn parameters(&self) -> Vec<&Array> {
        [&self.gate, &self.up, &self.down]
            .into_iter()
            .flat_map(Linear::parameters)
            .collect()
    }

    pub fn forward(&self, x: &Array) -> Result<Array> {
        let h = self.gate.forward(x)?.silu()?.mul(&self.up.forward(x)?)?;
        self.down.forward(&h)
    }
}
