//! Perplexity as llama.cpp's `llama-perplexity` computes it.

use ferrite_models::{Llama, Logits};
use ferrite_tokenizer::Tokenizer;

use crate::engine::eval_with_cache;
use crate::error::{Error, Result};

/// The result of [`perplexity`].
#[derive(Clone, Debug)]
pub struct PerplexityReport {
    pub perplexity: f64,
    /// Tokens scored (the second half of each chunk, minus one).
    pub tokens: usize,
    pub chunks: usize,
    pub ctx: usize,
}

/// Splits `tokens` (the whole text, tokenized with the model's BOS) into
/// chunks of `ctx`, replaces each chunk's first token with BOS when the model
/// adds one, runs each chunk from an empty cache, and scores the predictions
/// of the second half of each chunk: positions `ctx/2 .. ctx-1` predicting the
/// next token. `progress(chunk, running_ppl)` is called after each chunk.
pub fn perplexity(
    model: &Llama,
    tok: &Tokenizer,
    tokens: &[u32],
    ctx: usize,
    max_chunks: Option<usize>,
    mut progress: impl FnMut(usize, f64),
) -> Result<PerplexityReport> {
    if ctx < 4 {
        return Err(Error::Invalid(format!(
            "--ctx {ctx} is too small (at least 4)"
        )));
    }
    if ctx > model.config().max_position_embeddings {
        return Err(Error::Invalid(format!(
            "--ctx {ctx} exceeds the model's context of {}",
            model.config().max_position_embeddings
        )));
    }
    if max_chunks == Some(0) {
        return Err(Error::Invalid("--chunks 0: score at least 1 chunk".into()));
    }
    if tokens.len() < 2 * ctx {
        return Err(Error::Invalid(format!(
            "the text has {} tokens; perplexity with --ctx {ctx} needs at least {}",
            tokens.len(),
            2 * ctx
        )));
    }
    let available = tokens.len() / ctx;
    let chunks = max_chunks.map_or(available, |k| k.min(available));
    let first = ctx / 2;
    let bos = if tok.adds_bos() { tok.bos_id() } else { None };
    let (mut nll, mut count) = (0.0f64, 0usize);
    for c in 0..chunks {
        let chunk = &tokens[c * ctx..(c + 1) * ctx];
        let mut input = chunk.to_vec();
        if let Some(b) = bos {
            input[0] = b;
        }
        let mut cache = model.new_cache();
        let logits = model.forward(&input, &mut cache, Logits::All)?;
        eval_with_cache(&logits, &cache)?;
        let logits = logits.to_vec::<f32>()?;
        let vocab = logits.len() / ctx;
        for j in first..ctx - 1 {
            let row = &logits[j * vocab..(j + 1) * vocab];
            nll -= log_softmax_at(row, chunk[j + 1] as usize);
            count += 1;
        }
        progress(c, (nll / count as f64).exp());
    }
    Ok(PerplexityReport {
        perplexity: (nll / count as f64).exp(),
        tokens: count,
        chunks,
        ctx,
    })
}

/// `log softmax(row)[target]`, summed in f64 as llama.cpp does.
fn log_softmax_at(row: &[f32], target: usize) -> f64 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let sum: f64 = row.iter().map(|&v| ((v - max) as f64).exp()).sum();
    (row[target] - max) as f64 - sum.ln()
}
