use ferrite_core::{Array, DType, Result};

use crate::layer_err;

/// Token embedding: row `id` of a `[vocab, dim]` table.
#[derive(Clone, Debug)]
pub struct Embedding {
    table: Array,
}

impl Embedding {
    pub fn new(table: Array) -> Result<Embedding> {
        if table.ndim() != 2 {
            return layer_err(
                "Embedding",
                format!("table must be [vocab, dim], got {:?}", table.shape()),
            );
        }
        Ok(Embedding { table })
    }

    pub fn vocab_size(&self) -> usize {
        self.table.shape()[0]
    }

    pub fn dim(&self) -> usize {
        self.table.shape()[1]
    }

    /// The table, e.g. for an output head tied to the embedding.
    pub fn table(&self) -> &Array {
        &self.table
    }

    /// `[n]` token ids -> `[n, dim]` rows in `dtype`. Ids are checked here,
    /// because a tokenizer and a model can disagree about the vocabulary.
    pub fn forward(&self, ids: &[u32], dtype: DType) -> Result<Array> {
        let vocab = self.vocab_size();
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= vocab) {
            return layer_err(
                "Embedding",
                format!("token id {bad} is outside the vocabulary of {vocab}"),
            );
        }
        let idx: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
        let idx = Array::from_slice(&idx, &[idx.len()])?;
        self.table.take(&idx, 0)?.astype(dtype)
    }
}
