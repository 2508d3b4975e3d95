//! Opening a model from a path: a Hugging Face directory or a GGUF file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrite_core::DType;
use ferrite_formats::{human_bytes, Gguf, TensorInfo};

use crate::config::LlamaConfig;
use crate::error::{Error, Result};
use crate::llama::{streamed_weight_names, Llama};
use crate::resident::{ResidentWeights, WeightMemory};
use crate::weights::{GgufWeights, HfWeights, Weights};

/// Where a model was loaded from; the tokenizer and chat template live there too.
pub enum ModelSource {
    /// A Hugging Face directory (`config.json`, safetensors, `tokenizer.json`, ...).
    HfDir(PathBuf),
    /// A GGUF file, kept open: its metadata holds the tokenizer and template.
    Gguf(Gguf),
}

impl ModelSource {
    /// Decides what `path` is without loading weights.
    pub fn open(path: &Path) -> Result<ModelSource> {
        if path.is_dir() {
            if !path.join("config.json").is_file() {
                return Err(Error::Config {
                    path: path.into(),
                    msg: "directory has no config.json (expected a Hugging Face model directory)"
                        .into(),
                });
            }
            return Ok(ModelSource::HfDir(path.into()));
        }
        if !path.exists() {
            return Err(Error::Io {
                path: path.into(),
                what: "cannot open",
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("safetensors" | "json")) {
            return Err(Error::Config {
                path: path.into(),
                msg: "pass the model's directory (the one with config.json), not one of its files"
                    .into(),
            });
        }
        check_gguf_magic(path, ext.as_deref() == Some("gguf"))?;
        Ok(ModelSource::Gguf(Gguf::open(path)?))
    }

    pub fn path(&self) -> &Path {
        match self {
            ModelSource::HfDir(p) => p,
            ModelSource::Gguf(g) => g.path(),
        }
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> Result<LlamaConfig> {
        match self {
            ModelSource::HfDir(dir) => LlamaConfig::from_hf_file(&dir.join("config.json")),
            ModelSource::Gguf(g) => {
                let factors = match g.tensor("rope_freqs.weight") {
                    Some(_) => Some(g.array("rope_freqs.weight")?.to_f32_vec()?),
                    None => None,
                };
                LlamaConfig::from_gguf(g, factors)
            }
        }
    }

    /// Loads the weights, with the streamed ones where [`WeightMemory::Auto`]
    /// puts them.
    pub fn load(&self) -> Result<Loaded> {
        self.load_with(WeightMemory::Auto)
    }

    /// Loads the weights, with the streamed ones (projections and output head)
    /// in `memory`; everything else points into the mapped files.
    pub fn load_with(&self, memory: WeightMemory) -> Result<Loaded> {
        let start = Instant::now();
        let cfg = self.config()?;
        let (hf, gguf);
        let w: &dyn Weights = match self {
            ModelSource::HfDir(dir) => {
                hf = HfWeights::open(dir)?;
                &hf
            }
            ModelSource::Gguf(g) => {
                gguf = GgufWeights::new(g);
                &gguf
            }
        };
        let streamed = streamed_weight_names(&cfg, w);
        let streamed_bytes = streamed
            .iter()
            .filter_map(|n| w.info(n))
            .map(TensorInfo::bytes)
            .sum();
        let memory = memory.resolve(streamed_bytes);
        // Built over the mapped file first, so a missing tensor or a wrong shape
        // is reported before gigabytes are copied; the mapped model costs no I/O.
        let mapped = Llama::load(cfg.clone(), w)?;
        let model = match memory {
            WeightMemory::Resident => Llama::load(cfg, &ResidentWeights::copy(w, &streamed)?)?,
            _ => mapped,
        };
        let (parameters, weight_bytes) = model.parameter_stats();
        let summary = LoadSummary {
            parameters,
            weight_bytes,
            dtype: model.weight_dtype(),
            kv_bytes_per_token: model.config().kv_bytes_per_token(),
            load_time: start.elapsed(),
            memory,
        };
        Ok(Loaded { model, summary })
    }
}

/// A model ready to run, with what loading it found.
pub struct Loaded {
    pub model: Llama,
    pub summary: LoadSummary,
}

/// The one line printed after loading.
#[derive(Clone, Debug)]
pub struct LoadSummary {
    pub parameters: usize,
    pub weight_bytes: usize,
    /// The dtype of the projection weights.
    pub dtype: DType,
    pub kv_bytes_per_token: usize,
    pub load_time: Duration,
    /// Where the streamed weights ended up: `Mapped` or `Resident`.
    pub memory: WeightMemory,
}

impl fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.2}M parameters, {}, {} of weights ({}), {} KV cache per token, loaded in {:.2} s",
            self.parameters as f64 / 1e6,
            self.dtype,
            human_bytes(self.weight_bytes as u64),
            match self.memory {
                WeightMemory::Resident => "in memory",
                _ => "mapped",
            },
            human_bytes(self.kv_bytes_per_token as u64),
            self.load_time.as_secs_f64()
        )
    }
}

/// What a model path may be, for messages about paths that are neither.
const WHAT_A_MODEL_IS: &str =
    "a model is a Hugging Face directory (with config.json) or a .gguf file";

/// Fails for a file that does not start with the GGUF magic, saying what a model is
/// (a `.bin` or a text file passed by mistake) rather than only that the magic is
/// wrong. A file that cannot be read is left to the GGUF reader, so the I/O error
/// is reported once, by the code that reads the file.
fn check_gguf_magic(path: &Path, named_gguf: bool) -> Result<()> {
    use std::io::Read;
    let mut magic = Vec::with_capacity(4);
    let read = std::fs::File::open(path).and_then(|f| f.take(4).read_to_end(&mut magic));
    if read.is_err() || magic == b"GGUF" {
        return Ok(());
    }
    let msg = if magic.len() < 4 && named_gguf {
        format!(
            "truncated: {} bytes, shorter than the GGUF magic",
            magic.len()
        )
    } else {
        format!(
            "not a model file: it starts with {:?}, not the GGUF magic; {WHAT_A_MODEL_IS}",
            String::from_utf8_lossy(&magic)
        )
    };
    Err(Error::Unsupported {
        path: path.into(),
        msg,
    })
}
