//! Model definitions and loading.
//!
//! One [`Llama`] definition serves Llama 2/3/3.1/3.2, TinyLlama, Mistral and
//! Qwen2, loaded from a Hugging Face directory or a GGUF file;
//! [`convert::hf_to_gguf`] writes the GGUF llama.cpp would. The weights are
//! mapped, and the ones every decode step streams are copied onto 2 MiB pages
//! unless [`WeightMemory`] says otherwise.
//!
//! ```no_run
//! use ferrite_models::{Logits, ModelSource};
//! ferrite_cpu::install();
//! let source = ModelSource::open(std::path::Path::new("models/tiny"))?;
//! let loaded = source.load()?;
//! eprintln!("{}", loaded.summary);
//! let mut cache = loaded.model.new_cache();
//! let logits = loaded.model.forward(&[1, 450, 4996], &mut cache, Logits::Last)?;
//! let row: Vec<f32> = logits.to_vec()?;
//! # Ok::<(), ferrite_models::Error>(())
//! ```

mod config;
pub mod convert;
mod error;
mod llama;
mod load;
mod resident;
mod weights;

pub use config::{Arch, LlamaConfig, SUPPORTED};
pub use error::{Error, Result};
pub use ferrite_nn::KvCache;
pub use llama::{Llama, Logits};
pub use load::{LoadSummary, Loaded, ModelSource};
pub use resident::WeightMemory;
pub use weights::{gguf_name, GgufWeights, HfWeights, Weights};
