//! `ferrite tokenize MODEL (TEXT | --file PATH)`: token ids (and pieces) of a text.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use ferrite_formats::Gguf;
use ferrite_tokenizer::Tokenizer;
use serde_json::json;

use crate::output::print;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["text", "file"])))]
// clap would list the required group before MODEL; the model comes first.
#[command(override_usage = "ferrite tokenize [OPTIONS] <MODEL> <TEXT | --file PATH>")]
pub struct Args {
    /// Anything that carries a tokenizer: a model directory, a tokenizer.json,
    /// or a GGUF file (a vocabulary-only one too)
    model: PathBuf,
    /// The text to encode (or use --file)
    text: Option<String>,
    /// Encode this file's whole text, byte for byte (a final newline is part
    /// of it); `-` reads stdin. For texts too long for a command line.
    #[arg(long, short = 'f', value_name = "PATH")]
    file: Option<PathBuf>,
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

/// The text to encode: the argument, or the file (`-`: stdin) named by --file.
fn input_text(args: &Args) -> crate::Result<String> {
    if let Some(text) = &args.text {
        return Ok(text.clone());
    }
    let Some(path) = &args.file else {
        // clap's "input" group requires one of the two.
        return Err("give the text to encode or --file PATH".into());
    };
    let (name, bytes) = if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the text from stdin: {e}"))?;
        ("stdin".to_string(), bytes)
    } else {
        let bytes =
            std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        (path.display().to_string(), bytes)
    };
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        format!("{name}: not UTF-8 text (invalid byte at offset {at})").into()
    })
}

pub fn run(args: Args) -> crate::Result<()> {
    // Read the text before the tokenizer: a bad --file fails fast.
    let text = input_text(&args)?;
    let tok = tokenizer_at(&args.model)?;
    let ids = tok.encode(&text, !args.no_bos, !args.no_parse_special)?;
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
