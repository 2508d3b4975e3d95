//! `ferrite tokenize MODEL TEXT`: token ids (and pieces) of a text.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ferrite_formats::Gguf;
use ferrite_tokenizer::Tokenizer;
use serde_json::json;

use crate::output::print;

#[derive(clap::Args)]
pub struct Args {
    /// Anything that carries a tokenizer: a model directory, a tokenizer.json,
    /// or a GGUF file (a vocabulary-only one too)
    model: PathBuf,
    /// The text to encode
    text: String,
    /// Do not add the BOS (and EOS) the model adds
    #[arg(long)]
    no_bos: bool,
    /// Encode special-token text such as <|eot_id|> as ordinary characters
    #[arg(long)]
    no_parse_special: bool,
    /// Print {"ids": [...], "pieces": [...]}
    #[arg(long)]
    json: bool,
}

/// The tokenizer at `path`, without loading any weights.
pub fn tokenizer_at(path: &Path) -> crate::Result<Tokenizer> {
    if path.is_dir() {
        let json = path.join("tokenizer.json");
        if json.is_file() {
            return Ok(Tokenizer::from_tokenizer_json(&json)?);
        }
        return Err(format!("{}: no tokenizer.json in this directory", path.display()).into());
    }
    if !path.exists() {
        return Err(format!("{}: no such file or directory", path.display()).into());
    }
    if path.extension().is_some_and(|e| e == "json") {
        return Ok(Tokenizer::from_tokenizer_json(path)?);
    }
    Ok(Tokenizer::from_gguf(&Gguf::open(path)?)?)
}

pub fn run(args: Args) -> crate::Result<()> {
    let tok = tokenizer_at(&args.model)?;
    let ids = tok.encode(&args.text, !args.no_bos, !args.no_parse_special)?;
    let pieces: Vec<String> = ids
        .iter()
        .map(|&id| {
            tok.token_to_piece(id)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        })
        .collect::<Result<_, _>>()?;
    if args.json {
        return print(&format!("{}\n", json!({"ids": ids, "pieces": pieces})));
    }
    let mut out = String::new();
    for (id, piece) in ids.iter().zip(&pieces) {
        let _ = writeln!(out, "{id:>8} -> {piece:?}");
    }
    print(&out)
}
