//! Text generation on Ferrite models.
//!
//! An [`Engine`] holds a loaded model, its tokenizer and chat template. It
//! generates with a KV cache (the prompt runs in one pass, then one token per
//! step), samples with [`SamplingParams`], stops on end-of-generation tokens,
//! stop strings or a token budget, and streams text in whole UTF-8
//! characters. [`perplexity()`] and [`bench`] measure quality and speed the way
//! llama.cpp's tools do.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ferrite_engine::{Engine, GenerateOptions, SamplingParams};
//! let engine = Engine::builder().model("models/tiny").build()?;
//! let opts = GenerateOptions {
//!     max_tokens: 32,
//!     sampling: SamplingParams { seed: 7, ..SamplingParams::default() },
//!     ..GenerateOptions::default()
//! };
//! engine.generate_stream("The capital of France is", &opts, |text| {
//!     print!("{text}");
//!     ControlFlow::Continue(())
//! })?;
//! # Ok::<(), ferrite_engine::Error>(())
//! ```

pub mod bandwidth;
pub mod bench;
pub mod default_model;
mod engine;
mod error;
mod perplexity;
mod sampling;
mod stop;

pub use engine::{
    load_templates, load_tokenizer, Completion, Engine, EngineBuilder, FinishReason,
    GenerateOptions, Session, Stats,
};
pub use error::{Error, Result};
/// Where [`EngineBuilder::weight_memory`] keeps the weights.
pub use ferrite_models::WeightMemory;
pub use perplexity::{perplexity, PerplexityReport};
pub use sampling::{argmax, Sampler, SamplingParams};
pub use stop::StopMatcher;
