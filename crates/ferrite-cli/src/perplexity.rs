//! `ferrite perplexity MODEL --file TEXT`: perplexity as llama-perplexity
//! computes it (BOS at each chunk start, the second half of each chunk scored).

use std::path::PathBuf;

use ferrite_engine::perplexity;
use serde_json::json;

use crate::load::{load_model_and_tokenizer, MemoryArgs};
use crate::output::print;

#[derive(clap::Args)]
pub struct Args {
    /// A Hugging Face model directory or a GGUF file
    model: PathBuf,
    /// The text to score
    #[arg(long, short = 'f')]
    file: PathBuf,
    /// Tokens per chunk
    #[arg(long, short = 'c', default_value_t = 512)]
    ctx: usize,
    /// Score at most this many chunks
    #[arg(long)]
    chunks: Option<usize>,
    /// Print {"perplexity": ..., "tokens": ..., "chunks": ..., "ctx": ...}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    memory: MemoryArgs,
}

pub fn run(args: Args) -> crate::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("{}: cannot read: {e}", args.file.display()))?;
    let (loaded, tok) = load_model_and_tokenizer(&args.model, &args.memory)?;
    let ids = tok.encode(&text, true, false)?;
    let total = (ids.len() / args.ctx.max(1)).min(args.chunks.unwrap_or(usize::MAX));
    let bar = crate::progress::bar(total as u64, "{bar:40} chunk {pos}/{len} {msg} eta {eta}");
    let report = perplexity(
        &loaded.model,
        &tok,
        &ids,
        args.ctx,
        args.chunks,
        |_, ppl| {
            bar.inc(1);
            bar.set_message(format!("ppl {ppl:.4}"));
        },
    )?;
    bar.finish_and_clear();
    if args.json {
        let j = json!({"perplexity": report.perplexity, "tokens": report.tokens, "chunks": report.chunks, "ctx": report.ctx});
        return print(&format!("{j}\n"));
    }
    print(&format!(
        "perplexity {:.4} over {} tokens ({} chunks of {})\n",
        report.perplexity, report.tokens, report.chunks, report.ctx
    ))
}
