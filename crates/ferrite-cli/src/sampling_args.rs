//! Generation options shared by `run` and `chat`.

use ferrite_engine::{GenerateOptions, SamplingParams};

#[derive(clap::Args, Clone, Debug)]
pub struct GenArgs {
    /// Most tokens to generate
    #[arg(long, short = 'n', default_value_t = 256)]
    pub max_tokens: usize,
    /// Temperature; 0 is greedy [default: the model's generation_config.json, else 0.8]
    #[arg(long = "temp")]
    pub temperature: Option<f32>,
    /// Keep the k most likely tokens (0: all) [default: model's, else 40]
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Nucleus sampling threshold (1: off) [default: model's, else 0.95]
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Drop tokens below min_p x the top probability (0: off) [default: model's, else 0.05]
    #[arg(long)]
    pub min_p: Option<f32>,
    /// Penalise recent tokens (1: off)
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    /// Subtract count x this from recent tokens' logits
    #[arg(long)]
    pub frequency_penalty: Option<f32>,
    /// Subtract this from every recent token's logit
    #[arg(long)]
    pub presence_penalty: Option<f32>,
    /// How many recent tokens the penalties look at
    #[arg(long)]
    pub repeat_last_n: Option<usize>,
    /// Random seed; the same seed, model and prompt give the same text
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop before this text (repeatable)
    #[arg(long)]
    pub stop: Vec<String>,
    /// Keep generating past the end-of-sequence token, up to --max-tokens (as
    /// llama.cpp's --ignore-eos: for timing and testing)
    #[arg(long)]
    pub ignore_eos: bool,
    /// Print the exact prompt text and its token ids to stderr before generating
    #[arg(long)]
    pub verbose_prompt: bool,
}

impl GenArgs {
    /// With `--verbose-prompt`, shows what the model is actually given
    /// (template output, BOS handling) on stderr.
    pub fn show_prompt(&self, text: &str, ids: &[u32]) {
        if self.verbose_prompt {
            eprintln!("prompt text: {text:?}");
            eprintln!("prompt ids ({}): {ids:?}", ids.len());
        }
    }

    /// The options, starting from the model's defaults.
    pub fn options(&self, model_defaults: &SamplingParams) -> GenerateOptions {
        let d = model_defaults;
        GenerateOptions {
            max_tokens: self.max_tokens,
            sampling: SamplingParams {
                temperature: self.temperature.unwrap_or(d.temperature),
                top_k: self.top_k.unwrap_or(d.top_k),
                top_p: self.top_p.unwrap_or(d.top_p),
                min_p: self.min_p.unwrap_or(d.min_p),
                repeat_penalty: self.repeat_penalty.unwrap_or(d.repeat_penalty),
                frequency_penalty: self.frequency_penalty.unwrap_or(d.frequency_penalty),
                presence_penalty: self.presence_penalty.unwrap_or(d.presence_penalty),
                penalty_last_n: self.repeat_last_n.unwrap_or(d.penalty_last_n),
                seed: self.seed,
            },
            stop: self.stop.clone(),
            ignore_eos: self.ignore_eos,
        }
    }
}
