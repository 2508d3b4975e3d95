//! Prompt-processing and generation speed, measured as llama-bench does.

use std::time::Instant;

use ferrite_models::{Llama, Logits};

use crate::engine::eval_with_cache;
use crate::error::Result;

/// One measured figure: tokens per second over repetitions.
#[derive(Clone, Debug)]
pub struct Speed {
    pub tokens: usize,
    /// Tokens per second of each repetition.
    pub runs: Vec<f64>,
}

impl Speed {
    pub fn mean(&self) -> f64 {
        self.runs.iter().sum::<f64>() / self.runs.len().max(1) as f64
    }

    pub fn stddev(&self) -> f64 {
        let m = self.mean();
        let n = self.runs.len();
        if n < 2 {
            return 0.0;
        }
        (self.runs.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    }
}

/// Deterministic token ids below `vocab` (the content does not change the cost).
fn tokens(n: usize, vocab: usize) -> Vec<u32> {
    (0..n).map(|i| ((i * 7919 + 13) % vocab) as u32).collect()
}

/// `n` prompt tokens in one batch from an empty cache, `reps` times after one
/// warm-up run.
pub fn prompt_speed(model: &Llama, n: usize, reps: usize) -> Result<Speed> {
    let ids = tokens(n, model.config().vocab_size);
    let mut runs = Vec::new();
    for r in 0..=reps {
        let mut cache = model.new_cache();
        let t = Instant::now();
        let logits = model.forward(&ids, &mut cache, Logits::Last)?;
        eval_with_cache(&logits, &cache)?;
        if r > 0 {
            runs.push(n as f64 / t.elapsed().as_secs_f64());
        }
    }
    Ok(Speed { tokens: n, runs })
}

/// Tokens in the warm-up before generation runs: enough to touch every
/// weight page and start the workers. A full-length warm-up would only
/// double the time (llama-bench warms generation with one token).
const GENERATION_WARM_UP: usize = 8;

/// `n` tokens generated one at a time from an empty cache, `reps` times
/// after a short warm-up run.
pub fn generation_speed(model: &Llama, n: usize, reps: usize) -> Result<Speed> {
    let ids = tokens(n, model.config().vocab_size);
    let mut runs = Vec::new();
    for r in 0..=reps {
        let mut cache = model.new_cache();
        let run = if r == 0 {
            &ids[..n.min(GENERATION_WARM_UP)]
        } else {
            &ids[..]
        };
        let t = Instant::now();
        for &id in run {
            let logits = model.forward(&[id], &mut cache, Logits::Last)?;
            eval_with_cache(&logits, &cache)?;
        }
        if r > 0 {
            runs.push(n as f64 / t.elapsed().as_secs_f64());
        }
    }
    Ok(Speed { tokens: n, runs })
}
