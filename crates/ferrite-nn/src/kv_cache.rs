use ferrite_core::{Array, Result};

use crate::layer_err;

/// Positions a layer's cache grows by when it is full, as mlx-lm does: growing copies
/// what is cached once, so a step pays for that copy once per this many positions.
const GROW_BY: usize = 256;

/// One layer's cached keys and values.
///
/// Each is kept in a buffer `[B, H_kv, capacity, D]` of which the first `len`
/// positions are filled. A step writes its positions with [`Array::slice_update`],
/// which the backend does in place (the cache is the buffer's only holder), so a
/// decode step costs the new position, not a copy of the cache; attention reads
/// the filled prefix as a view.
#[derive(Clone, Debug, Default)]
pub struct LayerKv {
    buffers: Option<(Array, Array)>,
    len: usize,
}

impl LayerKv {
    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions the buffers hold before they must grow.
    pub fn capacity(&self) -> usize {
        self.buffers.as_ref().map_or(0, |(k, _)| k.shape()[2])
    }

    /// Appends new positions (`[B, H_kv, T, D]` each) and returns views of the whole
    /// cache, `[B, H_kv, len, D]`.
    pub fn append(&mut self, k: Array, v: Array) -> Result<(Array, Array)> {
        if k.ndim() != 4 || v.ndim() != 4 || k.shape()[..3] != v.shape()[..3] {
            return layer_err(
                "LayerKv",
                format!(
                    "keys {:?} and values {:?} must be [B, H_kv, T, D] with the same B, H_kv and T",
                    k.shape(),
                    v.shape()
                ),
            );
        }
        let end = self.len + k.shape()[2];
        // The old buffers stay in `self` until everything is built, so an error leaves
        // the cache as it was; they are replaced before anything is evaluated, so the
        // backend still finds them unshared and writes in place.
        let (kb, vb) = match &self.buffers {
            Some((kb, vb)) if kb.shape()[2] >= end => (kb.clone(), vb.clone()),
            old => {
                let capacity = end.next_multiple_of(GROW_BY);
                (
                    grown(old.as_ref().map(|b| &b.0), &k, self.len, capacity)?,
                    grown(old.as_ref().map(|b| &b.1), &v, self.len, capacity)?,
                )
            }
        };
        let kb = kb.slice_update(&k, 2, self.len)?;
        let vb = vb.slice_update(&v, 2, self.len)?;
        let views = (kb.slice_axis(2, 0, end)?, vb.slice_axis(2, 0, end)?);
        self.buffers = Some((kb, vb));
        self.len = end;
        Ok(views)
    }

    /// Keeps the first `n` positions (a conversation rewound to a shared prefix);
    /// later appends overwrite the rest.
    pub fn truncate(&mut self, n: usize) -> Result<()> {
        if n == 0 {
            self.buffers = None;
        }
        self.len = self.len.min(n);
        Ok(())
    }

    /// The cache buffers, so a caller can evaluate them with the step's output.
    pub fn arrays(&self) -> impl Iterator<Item = &Array> {
        self.buffers.iter().flat_map(|(k, v)| [k, v])
    }
}

/// A buffer like `new` with `capacity` positions, holding the first `len` positions
/// of `old` (if any).
fn grown(old: Option<&Array>, new: &Array, len: usize, capacity: usize) -> Result<Array> {
    let mut shape = new.shape().to_vec();
    shape[2] = capacity;
    let dtype = old.map_or(new.dtype(), Array::dtype);
    let fresh = Array::zeros(&shape, dtype)?;
    match old {
        Some(old) if len > 0 => fresh.slice_update(&old.slice_axis(2, 0, len)?, 2, 0),
        _ => Ok(fresh),
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
        self.layers.iter_mut().for_each(|l| *l = LayerKv::default());
    }
}
