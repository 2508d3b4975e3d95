use ferrite_core::{Array, Result};

/// One layer's cached keys and values, `[B, H_kv, T, D]` each.
#[derive(Clone, Debug, Default)]
pub struct LayerKv {
    kv: Option<(Array, Array)>,
}

impl LayerKv {
    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.kv.as_ref().map_or(0, |(k, _)| k.shape()[2])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends new positions and returns the whole cache.
    ///
    /// A contiguous cache grown by concatenation costs a copy of the cache per
    /// step, which is small next to reading the weights at these sizes; the
    /// paged cache of the serving engine replaces it.
    pub fn append(&mut self, k: Array, v: Array) -> Result<(Array, Array)> {
        let both = match self.kv.take() {
            None => (k.contiguous()?, v.contiguous()?),
            Some((pk, pv)) => (
                Array::concatenate(&[pk, k], 2)?,
                Array::concatenate(&[pv, v], 2)?,
            ),
        };
        self.kv = Some(both.clone());
        Ok(both)
    }

    /// Keeps the first `n` positions (a conversation rewound to a shared prefix).
    pub fn truncate(&mut self, n: usize) -> Result<()> {
        if n >= self.len() {
            return Ok(());
        }
        self.kv = match self.kv.take() {
            Some((k, v)) if n > 0 => Some((k.slice_axis(2, 0, n)?, v.slice_axis(2, 0, n)?)),
            _ => None,
        };
        Ok(())
    }

    /// The cached arrays, so a caller can evaluate them with the step's output.
    pub fn arrays(&self) -> impl Iterator<Item = &Array> {
        self.kv.iter().flat_map(|(k, v)| [k, v])
    }
}

/// The key/value cache of a whole model, one [`LayerKv`] per layer.
#[derive(Clone, Debug)]
pub struct KvCache {
    layers: Vec<LayerKv>,
}

impl KvCache {
    pub fn new(layers: usize) -> KvCache {
        KvCache {
            layers: vec![LayerKv::default(); layers],
        }
    }

    /// Positions cached (the position of the next token).
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, LayerKv::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn layer_mut(&mut self, i: usize) -> Option<&mut LayerKv> {
        self.layers.get_mut(i)
    }

    /// Every cached array (to evaluate together with a step's logits).
    pub fn arrays(&self) -> Vec<Array> {
        self.layers
            .iter()
            .flat_map(|l| l.arrays().cloned())
            .collect()
    }

    /// Keeps the first `n` positions of every layer.
    pub fn truncate(&mut self, n: usize) -> Result<()> {
        self.layers.iter_mut().try_for_each(|l| l.truncate(n))
    }

    /// Forgets everything (a new conversation).
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|l| l.kv = None);
    }
}
