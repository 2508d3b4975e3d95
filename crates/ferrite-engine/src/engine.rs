//! A loaded model with its tokenizer and chat template, and the generation loop.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrite_chat::{ChatTemplate, Json, ModelTemplates};
use ferrite_core::Array;
use ferrite_formats::gguf::Value;
use ferrite_models::{KvCache, Llama, LoadSummary, Logits, ModelSource, WeightMemory};
use ferrite_tokenizer::Tokenizer;

use crate::error::{Error, Result};
use crate::sampling::{Sampler, SamplingParams};
use crate::stop::StopMatcher;

/// Options of one generation.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Most tokens to generate.
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Generation ends before any of these strings; they are not returned.
    pub stop: Vec<String>,
    /// Keep going past end-of-generation tokens (for benchmarks).
    pub ignore_eos: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 256,
            sampling: SamplingParams::default(),
            stop: Vec::new(),
            ignore_eos: false,
        }
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    Eos,
    /// A stop string was reached.
    Stop,
    /// `max_tokens` were generated, or the context is full.
    Length,
    /// The caller's callback asked to stop.
    Cancelled,
}

/// Token counts and timings of one generation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Prompt tokens that were run (a reused prefix is not counted).
    pub prompt_tokens: usize,
    pub prompt_secs: f64,
    pub generated_tokens: usize,
    pub generate_secs: f64,
}

impl Stats {
    pub fn prompt_tokens_per_s(&self) -> f64 {
        self.prompt_tokens as f64 / self.prompt_secs.max(1e-9)
    }

    pub fn generate_tokens_per_s(&self) -> f64 {
        self.generated_tokens as f64 / self.generate_secs.max(1e-9)
    }
}

/// The result of a generation.
#[derive(Clone, Debug)]
pub struct Completion {
    pub text: String,
    pub tokens: Vec<u32>,
    pub finish: FinishReason,
    pub stats: Stats,
}

/// A conversation's KV cache and the tokens in it, so a follow-up prompt that
/// extends the previous one only runs its new tokens.
pub struct Session {
    cache: KvCache,
    tokens: Vec<u32>,
}

impl Session {
    /// Tokens currently in the cache.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }
}

/// A model ready to generate.
///
/// ```no_run
/// use ferrite_engine::{Engine, GenerateOptions};
/// let engine = Engine::builder().model("models/tiny").build()?;
/// let out = engine.generate("Once upon a time", &GenerateOptions::default())?;
/// println!("{}", out.text);
/// # Ok::<(), ferrite_engine::Error>(())
/// ```
pub struct Engine {
    model: Llama,
    tokenizer: Tokenizer,
    templates: ModelTemplates,
    summary: LoadSummary,
    path: PathBuf,
    sampling: SamplingParams,
}

/// Configures and loads an [`Engine`].
#[derive(Default)]
pub struct EngineBuilder {
    path: Option<PathBuf>,
    template: Option<String>,
    memory: WeightMemory,
}

impl EngineBuilder {
    /// A Hugging Face model directory or a GGUF file.
    pub fn model(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// A chat template to use instead of the model's own.
    pub fn chat_template(mut self, source: impl Into<String>) -> Self {
        self.template = Some(source.into());
        self
    }

    /// Where the weights live while the model runs (default
    /// [`WeightMemory::Auto`]: copied onto 2 MiB pages when they fit).
    pub fn weight_memory(mut self, memory: WeightMemory) -> Self {
        self.memory = memory;
        self
    }

    /// Loads the model, its tokenizer and its chat template.
    pub fn build(self) -> Result<Engine> {
        let path = self
            .path
            .ok_or_else(|| Error::Invalid("no model given".into()))?;
        ferrite_cpu::install();
        let source = ModelSource::open(&path)?;
        let loaded = source.load_with(self.memory)?;
        let tokenizer = load_tokenizer(&source)?;
        let mut templates = load_templates(&source, &tokenizer)?;
        if let Some(t) = self.template {
            templates.templates.clear();
            templates
                .templates
                .insert("default".into(), ChatTemplate::new(&t)?);
        }
        let sampling = match &source {
            ModelSource::HfDir(dir) => generation_defaults(dir)?,
            ModelSource::Gguf(_) => SamplingParams::default(),
        };
        Ok(Engine {
            model: loaded.model,
            tokenizer,
            templates,
            summary: loaded.summary,
            path,
            sampling,
        })
    }
}

/// The tokenizer a model source carries: `tokenizer.json` beside a Hugging
/// Face model, the `tokenizer.ggml.*` metadata of a GGUF file.
pub fn load_tokenizer(source: &ModelSource) -> Result<Tokenizer> {
    let mut tok = match source {
        ModelSource::HfDir(dir) => {
            let path = dir.join("tokenizer.json");
            if !path.is_file() {
                return Err(Error::File {
                    path: dir.display().to_string(),
                    msg: "no tokenizer.json in the model directory".into(),
                });
            }
            Tokenizer::from_tokenizer_json(&path)?
        }
        ModelSource::Gguf(g) => Tokenizer::from_gguf(g)?,
    };
    if let Ok(cfg) = source.config() {
        for id in cfg.eos_token_ids {
            if (id as usize) < tok.vocab_size() {
                tok.add_eos_id(id)?;
            }
        }
    }
    Ok(tok)
}

/// The chat templates a model source carries, with its special tokens.
pub fn load_templates(source: &ModelSource, tok: &Tokenizer) -> Result<ModelTemplates> {
    match source {
        ModelSource::HfDir(dir) => Ok(ModelTemplates::from_hf_dir(dir)?),
        ModelSource::Gguf(g) => {
            let strings = g.metadata().iter().filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.as_str(), s.as_str())),
                _ => None,
            });
            let mut t = ModelTemplates::from_gguf_metadata(strings)?;
            let named = [("bos_token", tok.bos_id()), ("eos_token", tok.eos_id())];
            for (key, id) in named {
                if let Some(text) = id.and_then(|i| tok.token_text(i)) {
                    t.special_tokens.insert(key.into(), text.to_string());
                }
            }
            Ok(t)
        }
    }
}

/// Sampling defaults from `generation_config.json` where the model sets them;
/// `do_sample: false` means greedy.
fn generation_defaults(dir: &Path) -> Result<SamplingParams> {
    let path = dir.join("generation_config.json");
    let mut p = SamplingParams::default();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(p);
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::File {
        path: path.display().to_string(),
        msg: format!("not valid JSON: {e}"),
    })?;
    let num = |k: &str| json.get(k).and_then(serde_json::Value::as_f64);
    if let Some(t) = num("temperature") {
        p.temperature = t as f32;
    }
    if let Some(v) = num("top_p") {
        p.top_p = v as f32;
    }
    if let Some(v) = num("top_k") {
        p.top_k = v as usize;
    }
    if let Some(v) = num("min_p") {
        p.min_p = v as f32;
    }
    if let Some(v) = num("repetition_penalty") {
        p.repeat_penalty = v as f32;
    }
    if json.get("do_sample") == Some(&serde_json::Value::Bool(false)) {
        p.temperature = 0.0;
    }
    // Name the file: the user gave no such option.
    p.validate().map_err(|e| Error::File {
        path: path.display().to_string(),
        msg: e.to_string(),
    })?;
    Ok(p)
}

impl Engine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    pub fn model(&self) -> &Llama {
        &self.model
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn templates(&self) -> &ModelTemplates {
        &self.templates
    }

    /// What loading found (parameters, dtype, bytes, load time).
    pub fn summary(&self) -> &LoadSummary {
        &self.summary
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sampling defaults of this model (its generation_config.json, else llama.cpp's).
    pub fn default_sampling(&self) -> &SamplingParams {
        &self.sampling
    }

    /// Most tokens the context holds.
    pub fn context_length(&self) -> usize {
        self.model.config().max_position_embeddings
    }

    /// A fresh conversation.
    pub fn new_session(&self) -> Session {
        Session {
            cache: self.model.new_cache(),
            tokens: Vec::new(),
        }
    }

    /// Renders `messages` with the model's chat template (the prompt text,
    /// exactly as the template produces it).
    pub fn render_chat(&self, messages: &Json, add_generation_prompt: bool) -> Result<String> {
        let template = self.templates.select(false)?;
        let mut args = self.templates.args(messages.clone());
        args.add_generation_prompt = add_generation_prompt;
        Ok(template.render(&args)?)
    }

    /// Tokens of a prompt: BOS added unless the text already starts with it.
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tokenizer.encode_prompt(text, true)?)
    }

    /// Generates a continuation of `prompt` and returns it whole.
    pub fn generate(&self, prompt: &str, opts: &GenerateOptions) -> Result<Completion> {
        self.generate_stream(prompt, opts, |_| ControlFlow::Continue(()))
    }

    /// Generates a continuation of `prompt`, calling `on_text` after every
    /// generated token with the text it releases: text is released as soon as
    /// it is complete UTF-8 and cannot be part of a stop string, so a piece may
    /// be empty. Returning `Break` stops generation (at any token, whether or
    /// not it showed text).
    pub fn generate_stream(
        &self,
        prompt: &str,
        opts: &GenerateOptions,
        on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Completion> {
        let ids = self.encode_prompt(prompt)?;
        self.generate_tokens(&mut self.new_session(), &ids, opts, on_text)
    }

    /// Continues `session` with `prompt` tokens (the whole conversation so
    /// far; a prefix already in the session's cache is not run again).
    pub fn generate_tokens(
        &self,
        session: &mut Session,
        prompt: &[u32],
        opts: &GenerateOptions,
        mut on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Completion> {
        let mut sampler = Sampler::new(opts.sampling.clone())?;
        let ctx = self.context_length();
        if prompt.is_empty() {
            return Err(Error::Invalid("the prompt has no tokens".into()));
        }
        if prompt.len() >= ctx {
            return Err(Error::Invalid(format!(
                "the prompt has {} tokens; the model's context holds {ctx}",
                prompt.len()
            )));
        }
        let start = Instant::now();
        let reused = self.reuse_prefix(session, prompt)?;
        let mut logits = self.step(session, &prompt[reused..])?;
        let mut stats = Stats {
            prompt_tokens: prompt.len() - reused,
            prompt_secs: start.elapsed().as_secs_f64(),
            ..Stats::default()
        };
        let gen_start = Instant::now();
        let mut stream = self.tokenizer.stream_decoder(true);
        let mut stops = StopMatcher::new(&opts.stop);
        let (mut text, mut tokens) = (String::new(), Vec::new());
        let mut emit = |piece: &str, text: &mut String| {
            text.push_str(piece);
            on_text(piece).is_continue()
        };
        let mut finish = FinishReason::Length;
        while tokens.len() < opts.max_tokens && session.tokens.len() < ctx {
            let tok = sampler.sample(&mut logits, &session.tokens);
            if !opts.ignore_eos && self.tokenizer.eos_ids().contains(&tok) {
                finish = FinishReason::Eos;
                break;
            }
            tokens.push(tok);
            let (safe, stopped) = stops.push(&stream.push(tok)?);
            let go_on = emit(&safe, &mut text);
            if stopped {
                finish = FinishReason::Stop;
                break;
            }
            if !go_on {
                finish = FinishReason::Cancelled;
                break;
            }
            if tokens.len() < opts.max_tokens && session.tokens.len() < ctx {
                logits = self.step(session, &[tok])?;
            } else {
                // The last token is not run; keep the session consistent with its cache.
                break;
            }
        }
        if finish != FinishReason::Stop {
            let (tail, stopped) = stops.push(&stream.finish());
            for piece in [tail, stops.finish()] {
                if !piece.is_empty() {
                    emit(&piece, &mut text);
                }
            }
            if stopped {
                finish = FinishReason::Stop;
            }
        }
        stats.generated_tokens = tokens.len();
        stats.generate_secs = gen_start.elapsed().as_secs_f64();
        Ok(Completion {
            text,
            tokens,
            finish,
            stats,
        })
    }

    /// Keeps the longest prefix of the session that `prompt` starts with, leaving
    /// at least one prompt token to run (its logits are needed); returns its length.
    fn reuse_prefix(&self, session: &mut Session, prompt: &[u32]) -> Result<usize> {
        let common = session
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count()
            .min(prompt.len() - 1);
        session.cache.truncate(common)?;
        session.tokens.truncate(common);
        Ok(common)
    }

    /// Runs `ids` through the model, appending them to the session, and
    /// returns the logits of the last one.
    fn step(&self, session: &mut Session, ids: &[u32]) -> Result<Vec<f32>> {
        let logits = self.model.forward(ids, &mut session.cache, Logits::Last)?;
        eval_with_cache(&logits, &session.cache)?;
        session.tokens.extend_from_slice(ids);
        Ok(logits.to_vec::<f32>()?)
    }
}

/// Evaluates `out` and the cache arrays in one pass, so the cache holds data
/// (not a growing graph) after every step.
pub(crate) fn eval_with_cache(out: &Array, cache: &KvCache) -> Result<()> {
    let mut all = vec![out.clone()];
    all.extend(cache.arrays());
    Ok(ferrite_core::eval(&all)?)
}
