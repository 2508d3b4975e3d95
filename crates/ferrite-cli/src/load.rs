//! Loading a model for the LLM commands: every one shows the same spinner
//! while loading and prints the same one-line summary afterwards.

use std::path::Path;

use ferrite_engine::Engine;
use ferrite_models::{LoadSummary, Loaded, ModelSource, WeightMemory};
use ferrite_tokenizer::Tokenizer;

/// Where the commands that run a model keep its weights.
#[derive(clap::Args)]
pub struct MemoryArgs {
    /// Read the weights in place from the mapped file instead of copying them
    /// into memory on 2 MiB pages: loads at once and shares the page cache,
    /// but generates more slowly
    #[arg(long)]
    mmap: bool,
}

impl MemoryArgs {
    fn memory(&self) -> WeightMemory {
        if self.mmap {
            WeightMemory::Mapped
        } else {
            WeightMemory::Auto
        }
    }
}

/// Loads a model (or the default one) with its tokenizer and chat template,
/// for `run` and `chat`.
pub fn load_engine(
    model: &Path,
    template: Option<&Path>,
    memory: &MemoryArgs,
) -> crate::Result<Engine> {
    let mut builder = Engine::builder()
        .model(model)
        .weight_memory(memory.memory());
    if let Some(t) = template {
        let src =
            std::fs::read_to_string(t).map_err(|e| format!("{}: cannot read: {e}", t.display()))?;
        builder = builder.chat_template(src);
    }
    let engine = with_spinner(model, || Ok(builder.build()?))?;
    eprintln!("{}", load_line(model, engine.summary()));
    Ok(engine)
}

/// Loads a model's weights, for `bench`.
pub fn load_model(model: &Path, memory: &MemoryArgs) -> crate::Result<Loaded> {
    Ok(load_model_with(model, memory, |_| Ok(()))?.0)
}

/// Loads a model's weights and tokenizer, for `perplexity`.
pub fn load_model_and_tokenizer(
    model: &Path,
    memory: &MemoryArgs,
) -> crate::Result<(Loaded, Tokenizer)> {
    load_model_with(model, memory, |source| {
        Ok(ferrite_engine::load_tokenizer(source)?)
    })
}

/// Opens `model`, runs `first` on it (the tokenizer: cheap, and a file
/// without one then fails before its weights are mapped and checked), then
/// loads the weights.
fn load_model_with<T>(
    model: &Path,
    memory: &MemoryArgs,
    first: impl FnOnce(&ModelSource) -> crate::Result<T>,
) -> crate::Result<(Loaded, T)> {
    let (loaded, extra) = with_spinner(model, || {
        let source = ModelSource::open(model)?;
        let extra = first(&source)?;
        Ok((source.load_with(memory.memory())?, extra))
    })?;
    eprintln!("{}", load_line(model, &loaded.summary));
    Ok((loaded, extra))
}

/// Runs `load` under a "loading PATH" spinner (drawn only on a terminal), and
/// clears it on failure too, so an error stays the last, single line.
fn with_spinner<T>(model: &Path, load: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
    let spinner = crate::progress::spinner(&format!("loading {}", model.display()));
    let result = load();
    spinner.finish_and_clear();
    result
}

/// The one line after loading: the path and [`LoadSummary`]'s text, whose sizes
/// use the decimal units of `bench`, `info` and `convert`.
pub fn load_line(model: &Path, s: &LoadSummary) -> String {
    format!("{}: {s}", model.display())
}
