//! Prompt-processing and generation speed, measured as llama-bench does.

use std::time::Instant;

use ferrite_models::{Llama, Logits};

use crate::bandwidth::WeightReader;
use crate::engine::eval_with_cache;
use crate::error::Result;

/// One measured figure: tokens per second over repetitions.
#[derive(Clone, Debug)]
pub struct Speed {
    pub tokens: usize,
    /// Tokens per second of each repetition.
    pub runs: Vec<f64>,
    /// For generation: the rate (GB/s) at which the weights a decode step
    /// streams were read just before and just after each repetition
    /// ([`WeightReader`]); empty when not measured.
    pub read_gbs: Vec<[f64; 2]>,
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

    /// The median over repetitions of the generation rate against the bound
    /// memory bandwidth sets: `bytes_per_token` times tokens per second,
    /// divided by the faster of the two readings around that repetition.
    /// `None` without readings.
    pub fn fraction_of_bound(&self, bytes_per_token: usize) -> Option<f64> {
        let fractions = self
            .runs
            .iter()
            .zip(&self.read_gbs)
            .map(|(tps, [before, after])| tps * bytes_per_token as f64 / (before.max(*after) * 1e9))
            .collect();
        median(fractions)
    }

    /// The median of the faster reading around each repetition, GB/s.
    pub fn read_gbs_median(&self) -> Option<f64> {
        median(self.read_gbs.iter().map(|[b, a]| b.max(*a)).collect())
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
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
    Ok(Speed {
        tokens: n,
        runs,
        read_gbs: Vec::new(),
    })
}

/// Tokens in the warm-up before generation runs: enough to touch every
/// weight page and start the workers. A full-length warm-up would only
/// double the time (llama-bench warms generation with one token).
const GENERATION_WARM_UP: usize = 8;

/// `n` tokens generated one at a time from an empty cache, `reps` times
/// after a short warm-up run, with the weights' read rate measured right
/// before and right after each repetition.
pub fn generation_speed(model: &Llama, n: usize, reps: usize) -> Result<Speed> {
    let ids = tokens(n, model.config().vocab_size);
    let reader = WeightReader::new(&model.decode_weights());
    let mut runs = Vec::new();
    let mut read_gbs = Vec::new();
    for r in 0..=reps {
        let mut cache = model.new_cache();
        let run = if r == 0 {
            &ids[..n.min(GENERATION_WARM_UP)]
        } else {
            &ids[..]
        };
        let before = if r > 0 { reader.read_gbs() } else { None };
        let t = Instant::now();
        for &id in run {
            let logits = model.forward(&[id], &mut cache, Logits::Last)?;
            eval_with_cache(&logits, &cache)?;
        }
        if r > 0 {
            runs.push(n as f64 / t.elapsed().as_secs_f64());
            if let (Some(b), Some(a)) = (before, reader.read_gbs()) {
                read_gbs.push([b, a]);
            }
        }
    }
    Ok(Speed {
        tokens: n,
        runs,
        read_gbs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fraction_of_the_bound_is_the_median_run_against_its_faster_reading() {
        let speed = Speed {
            tokens: 128,
            runs: vec![10.0, 12.0, 8.0],
            read_gbs: vec![[20.0, 25.0], [30.0, 24.0], [16.0, 10.0]],
        };
        // 2 GB per token: 20/25, 24/30, 16/16 of the faster reading.
        let fraction = speed.fraction_of_bound(2_000_000_000).unwrap();
        assert!((fraction - 0.8).abs() < 1e-12, "{fraction}");
        assert_eq!(speed.read_gbs_median(), Some(25.0));
        let even = Speed {
            runs: vec![10.0, 12.0],
            read_gbs: vec![[20.0, 20.0], [30.0, 30.0]],
            ..speed.clone()
        };
        assert_eq!(even.read_gbs_median(), Some(25.0));
        let unmeasured = Speed {
            read_gbs: Vec::new(),
            ..speed
        };
        assert_eq!(unmeasured.fraction_of_bound(1), None);
        assert_eq!(unmeasured.read_gbs_median(), None);
    }
}
