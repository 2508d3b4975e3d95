//! Choosing the next token from logits.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// How the next token is chosen. Filters apply in llama.cpp's order:
/// penalties, top-k, top-p, min-p, then temperature; a temperature of 0 is
/// greedy (the filters then do not matter).
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    pub temperature: f32,
    /// Keep the `k` most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest set whose probability reaches `p`; 1 keeps all.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one; 0 keeps all.
    pub min_p: f32,
    /// Divide positive logits (multiply negative ones) of recent tokens; 1 is off.
    pub repeat_penalty: f32,
    /// Subtract `count * frequency_penalty` from recent tokens' logits.
    pub frequency_penalty: f32,
    /// Subtract `presence_penalty` from every recent token's logit.
    pub presence_penalty: f32,
    /// How many recent tokens the penalties look at.
    pub penalty_last_n: usize,
    /// Seeds the random choice: the same seed, model and prompt give the same text.
    pub seed: u64,
}

impl Default for SamplingParams {
    /// llama.cpp's defaults.
    fn default() -> Self {
        SamplingParams {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            penalty_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding: always the most likely token.
    pub fn greedy() -> SamplingParams {
        SamplingParams {
            temperature: 0.0,
            ..SamplingParams::default()
        }
    }

    /// Rejects values that have no meaning, naming the option.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, v: f32, want: &str| {
            Err(Error::Invalid(format!("{name} = {v} is invalid: {want}")))
        };
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad("temperature", self.temperature, "must be >= 0");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", self.top_p, "must be in (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p", self.min_p, "must be in [0, 1]");
        }
        if !(self.repeat_penalty > 0.0 && self.repeat_penalty.is_finite()) {
            return bad("repeat_penalty", self.repeat_penalty, "must be > 0");
        }
        if !self.frequency_penalty.is_finite() || !self.presence_penalty.is_finite() {
            return Err(Error::Invalid("penalties must be finite numbers".into()));
        }
        Ok(())
    }
}

/// A sampler with its random state.
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Result<Sampler> {
        params.validate()?;
        let rng = ChaCha8Rng::seed_from_u64(params.seed);
        Ok(Sampler { params, rng })
    }

    /// Picks a token from `logits` given the tokens seen so far (`history`,
    /// prompt included, for the penalties). `logits` is modified in place.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let p = &self.params;
        self.apply_penalties(logits, history);
        if p.temperature == 0.0 {
            return argmax(logits);
        }
        let mut cand: Vec<(f32, u32)> = logits
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.is_nan())
            .map(|(i, &l)| (l, i as u32))
            .collect();
        if cand.is_empty() {
            return 0;
        }
        let by_logit = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0);
        if p.top_k > 0 && p.top_k < cand.len() {
            cand.select_nth_unstable_by(p.top_k - 1, by_logit);
            cand.truncate(p.top_k);
        }
        cand.sort_unstable_by(by_logit);
        // top-p and min-p on the probabilities at temperature 1, as llama.cpp.
        let probs = softmax(cand.iter().map(|c| c.0), 1.0);
        if p.top_p < 1.0 {
            let mut sum = 0.0;
            let keep = probs
                .iter()
                .position(|&q| {
                    sum += q;
                    sum >= p.top_p
                })
                .map_or(cand.len(), |i| i + 1);
            cand.truncate(keep);
        }
        if p.min_p > 0.0 {
            let floor = p.min_p * probs[0];
            let keep = probs
                .iter()
                .take(cand.len())
                .take_while(|&&q| q >= floor)
                .count();
            cand.truncate(keep.max(1));
        }
        let probs = softmax(cand.iter().map(|c| c.0), p.temperature);
        let r: f32 = self.rng.gen();
        let mut acc = 0.0;
        for (q, c) in probs.iter().zip(&cand) {
            acc += q;
            if r < acc {
                return c.1;
            }
        }
        cand[cand.len() - 1].1
    }

    fn apply_penalties(&self, logits: &mut [f32], history: &[u32]) {
        let p = &self.params;
        let off =
            p.repeat_penalty == 1.0 && p.frequency_penalty == 0.0 && p.presence_penalty == 0.0;
        if off || p.penalty_last_n == 0 {
            return;
        }
        let recent = &history[history.len().saturating_sub(p.penalty_last_n)..];
        let mut counts: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        for &t in recent {
            *counts.entry(t).or_default() += 1;
        }
        for (&t, &c) in &counts {
            let Some(l) = logits.get_mut(t as usize) else {
                continue;
            };
            *l = if *l > 0.0 {
                *l / p.repeat_penalty
            } else {
                *l * p.repeat_penalty
            };
            *l -= c as f32 * p.frequency_penalty + p.presence_penalty;
        }
    }
}

/// The index of the largest logit (the first on ties), ignoring NaN.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] || logits[best].is_nan() {
            best = i;
        }
    }
    best as u32
}

fn softmax(logits: impl Iterator<Item = f32> + Clone, temperature: f32) -> Vec<f32> {
    let max = logits.clone().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.map(|l| ((l - max) / temperature).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|x| x / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits() -> Vec<f32> {
        vec![1.0, 3.0, 2.0, -1.0, 2.5, 0.0]
    }

    #[test]
    fn greedy_takes_the_largest() {
        let mut s = Sampler::new(SamplingParams::greedy()).unwrap();
        assert_eq!(s.sample(&mut logits(), &[]), 1);
    }

    #[test]
    fn top_k_one_is_greedy_whatever_the_temperature() {
        let params = SamplingParams {
            temperature: 5.0,
            top_k: 1,
            ..SamplingParams::default()
        };
        let mut s = Sampler::new(params).unwrap();
        for _ in 0..50 {
            assert_eq!(s.sample(&mut logits(), &[]), 1);
        }
    }

    /// Every token 400 samples at temperature 1 produce with these filters.
    fn reachable(top_p: f32, min_p: f32) -> Vec<u32> {
        let params = SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p,
            min_p,
            ..SamplingParams::default()
        };
        let mut s = Sampler::new(params).unwrap();
        let seen: std::collections::BTreeSet<u32> =
            (0..400).map(|_| s.sample(&mut logits(), &[])).collect();
        seen.into_iter().collect()
    }

    #[test]
    fn filters_keep_only_allowed_tokens() {
        // top_p 0.5 at temperature 1 keeps tokens 1 (p=.43) and 4 (p=.26).
        assert_eq!(reachable(0.5, 0.0), vec![1, 4]);
        // min_p 0.5: p/p_max >= 0.5 keeps tokens 1 (1.0) and 4 (0.61), not 2 (0.37).
        assert_eq!(reachable(1.0, 0.5), vec![1, 4]);
        // Neither: every token can come up.
        assert_eq!(reachable(1.0, 0.0), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn frequencies_follow_the_softmax() {
        let params = SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            seed: 3,
            ..SamplingParams::default()
        };
        let mut s = Sampler::new(params).unwrap();
        let l = logits();
        let want = softmax(l.iter().copied(), 1.0);
        let n = 20000;
        let mut counts = vec![0usize; l.len()];
        for _ in 0..n {
            counts[s.sample(&mut l.clone(), &[]) as usize] += 1;
        }
        for (c, p) in counts.iter().zip(&want) {
            let f = *c as f32 / n as f32;
            // 4 standard deviations of a binomial proportion.
            let sd = (p * (1.0 - p) / n as f32).sqrt();
            assert!((f - p).abs() < 4.0 * sd + 1e-3, "freq {f} vs p {p}");
        }
    }

    #[test]
    fn same_seed_same_choices() {
        let params = SamplingParams {
            seed: 42,
            top_k: 0,
            min_p: 0.0,
            ..SamplingParams::default()
        };
        let run = || {
            let mut s = Sampler::new(params.clone()).unwrap();
            (0..30)
                .map(|_| s.sample(&mut logits(), &[]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn penalties_follow_llama_cpp() {
        let params = SamplingParams {
            repeat_penalty: 2.0,
            frequency_penalty: 0.5,
            presence_penalty: 0.25,
            ..SamplingParams::greedy()
        };
        let s = Sampler::new(params).unwrap();
        let mut l = logits();
        s.apply_penalties(&mut l, &[1, 1, 3]);
        assert_eq!(l[1], 3.0 / 2.0 - 2.0 * 0.5 - 0.25);
        assert_eq!(l[3], -2.0 - 0.5 - 0.25); // -1 × 2, then the penalties
        assert_eq!(l[2], 2.0);
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = Sampler::new(SamplingParams {
            top_p: 0.0,
            ..SamplingParams::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("top_p"), "{err}");
        let err = Sampler::new(SamplingParams {
            temperature: -1.0,
            ..SamplingParams::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("temperature"), "{err}");
        for (params, name) in [
            (
                SamplingParams {
                    min_p: 1.5,
                    ..SamplingParams::default()
                },
                "min_p",
            ),
            (
                SamplingParams {
                    repeat_penalty: 0.0,
                    ..SamplingParams::default()
                },
                "repeat_penalty",
            ),
            (
                SamplingParams {
                    presence_penalty: f32::NAN,
                    ..SamplingParams::default()
                },
                "penalties",
            ),
        ] {
            let err = Sampler::new(params).err().unwrap().to_string();
            assert!(err.contains(name), "{err}");
        }
    }
}
