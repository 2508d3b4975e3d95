//! `ferrite convert IN OUT`: safetensors ↔ GGUF.
//!
//! A Hugging Face model directory (one with `config.json`) converted to
//! `.gguf` becomes a model llama.cpp runs: llama.cpp's tensor names, q/k rows
//! permuted for its RoPE, hyper-parameters under `llama.*`/`qwen2.*`, the
//! tokenizer as `tokenizer.ggml.*` and the chat template
//! (`ferrite_models::convert`). Everything else is a container conversion:
//!
//! The output format comes from OUT's extension (`.gguf` or `.safetensors`);
//! IN may be a file, a `model.safetensors.index.json` or a model directory.
//! Tensors keep their names, logical shapes and bytes: nothing is cast or
//! renamed, so this changes the container, not the model (llama.cpp also
//! wants its own tensor names and `general.*` keys to run a model). Any dtype
//! the target holds is copied: f32, f16, bf16, i8, i32, i64, f64 and i16 both
//! ways, quantized GGML types only to GGUF, bool, u8 and the safetensors types
//! GGML lacks (u16, u32, u64, c64, fp8, fp6, fp4) only to safetensors.
//!
//! Metadata: safetensors `__metadata__` strings become GGUF string values;
//! GGUF strings become `__metadata__` strings, and every other GGUF value is
//! stored as its JSON text (`42`, `true`, `["a","b"]`, non-finite floats as
//! `"NaN"`/`"inf"`), since safetensors metadata holds only strings. Their GGUF
//! types go in one more entry, [`TYPES_KEY`], so converting back restores every
//! value with its exact type. Without that entry (a file from elsewhere) values
//! stay strings, except `general.alignment`, which GGUF requires to be a u32.
//! safetensors keeps metadata sorted by key, so the GGUF order is not kept. A
//! GGUF that itself holds a [`TYPES_KEY`] entry is refused rather than have it
//! overwritten.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use ferrite_formats::gguf::Value;
use ferrite_formats::{GgufWriter, ModelFile, SafeTensorsWriter, TensorInfo};
use serde_json::Value as Json;

use crate::output::{human_bytes, print};

#[derive(clap::Args)]
pub struct Args {
    /// Input: a .safetensors or .gguf file, a model.safetensors.index.json, or a model directory
    input: PathBuf,
    /// Output file; its extension (.gguf or .safetensors) picks the format
    output: PathBuf,
}

enum Target {
    Gguf,
    SafeTensors,
}

fn target(path: &Path) -> crate::Result<Target> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("gguf") => Ok(Target::Gguf),
        Some("safetensors") => Ok(Target::SafeTensors),
        _ => Err(format!(
            "{}: cannot tell the output format from the extension (use .gguf or .safetensors)",
            path.display()
        )
        .into()),
    }
}

/// The safetensors metadata entry holding the GGUF types of the other entries: a
/// JSON object from key to [`Value::type_descriptor`].
const TYPES_KEY: &str = "ferrite.gguf_types";

/// GGUF metadata as safetensors strings: strings as they are, other values as JSON
/// text, their types under [`TYPES_KEY`].
fn safetensors_metadata(
    path: &Path,
    meta: &[(String, Value)],
) -> crate::Result<Vec<(String, String)>> {
    if meta.iter().any(|(k, _)| k == TYPES_KEY) {
        return Err(format!(
            "{}: metadata key '{TYPES_KEY}' is reserved for the types of the other values",
            path.display()
        )
        .into());
    }
    let mut out = Vec::with_capacity(meta.len() + 1);
    let mut types = serde_json::Map::new();
    for (k, v) in meta {
        match v {
            Value::String(s) => out.push((k.clone(), s.clone())),
            v => {
                out.push((k.clone(), v.to_json().to_string()));
                types.insert(k.clone(), v.type_descriptor());
            }
        }
    }
    if !types.is_empty() {
        out.push((TYPES_KEY.to_string(), Json::Object(types).to_string()));
    }
    Ok(out)
}

/// safetensors metadata as GGUF values, restoring the types [`safetensors_metadata`]
/// recorded.
fn gguf_metadata(
    path: &Path,
    meta: &BTreeMap<String, String>,
) -> crate::Result<Vec<(String, Value)>> {
    let bad = |msg: String| -> Box<dyn std::error::Error> {
        format!("{}: metadata {msg}", path.display()).into()
    };
    let types = match meta.get(TYPES_KEY) {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Json::Object(o)) => o,
            _ => return Err(bad(format!("'{TYPES_KEY}' is not a JSON object"))),
        },
    };
    let mut out = Vec::with_capacity(meta.len());
    for (k, text) in meta {
        if k == TYPES_KEY {
            continue;
        }
        let value = match types.get(k) {
            Some(desc) => serde_json::from_str(text)
                .ok()
                .and_then(|j| Value::from_typed_json(&j, desc))
                .ok_or_else(|| bad(format!("'{k}': {text:?} is not a GGUF {desc}")))?,
            None => match text.parse() {
                Ok(a) if k == "general.alignment" => Value::U32(a),
                _ => Value::String(text.clone()),
            },
        };
        out.push((k.clone(), value));
    }
    Ok(out)
}

const BYTES_BAR: &str = "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";

/// A Hugging Face model directory to the GGUF llama.cpp's converter writes.
fn convert_model(dir: &Path, out: &Path) -> crate::Result<()> {
    let tok = ferrite_tokenizer::Tokenizer::from_tokenizer_json(dir.join("tokenizer.json"))?;
    let mut extra = tok.gguf_metadata();
    let templates = ferrite_chat::ModelTemplates::from_hf_dir(dir)?;
    // As llama.cpp's converter: the default template under
    // tokenizer.chat_template, named ones (tool_use, rag...) under a suffix.
    if let Ok(t) = templates.select(false) {
        extra.push((
            "tokenizer.chat_template".into(),
            Value::String(t.source().to_string()),
        ));
    }
    for (name, t) in &templates.templates {
        if name != "default" {
            extra.push((
                format!("tokenizer.chat_template.{name}"),
                Value::String(t.source().to_string()),
            ));
        }
    }
    let writer = ferrite_models::convert::hf_to_gguf(dir, extra)?;
    let total = writer.tensor_bytes();
    let bar = crate::progress::bar(total, BYTES_BAR);
    writer.write_with_progress(out, &mut |n| bar.inc(n))?;
    bar.finish_and_clear();
    print(&format!(
        "wrote {}: llama.cpp-layout GGUF of {}, {}\n",
        out.display(),
        dir.display(),
        human_bytes(total)
    ))
}

pub fn run(args: Args) -> crate::Result<()> {
    let target = target(&args.output)?;
    if matches!(target, Target::Gguf) && args.input.join("config.json").is_file() {
        return convert_model(&args.input, &args.output);
    }
    let model = ModelFile::open(&args.input)?;
    let tensors = model.tensors();
    let total: u64 = tensors.iter().map(TensorInfo::bytes).sum();

    let bar = crate::progress::bar(total, BYTES_BAR);
    let mut progress = |n: u64| bar.inc(n);

    match target {
        Target::Gguf => {
            let mut w = GgufWriter::new();
            match &model {
                ModelFile::Gguf(g) => g.metadata().iter().for_each(|(k, v)| {
                    w.add_metadata(k.clone(), v.clone());
                }),
                ModelFile::SafeTensors(st) => {
                    for (k, v) in gguf_metadata(&args.input, st.metadata())? {
                        w.add_metadata(k, v);
                    }
                }
            }
            for t in tensors {
                w.add_tensor(t.name.clone(), model.array(&t.name)?);
            }
            w.write_with_progress(&args.output, &mut progress)?;
        }
        Target::SafeTensors => {
            let mut w = SafeTensorsWriter::new();
            match &model {
                ModelFile::Gguf(g) => {
                    for (k, v) in safetensors_metadata(&args.input, g.metadata())? {
                        w.add_metadata(k, v);
                    }
                }
                ModelFile::SafeTensors(st) => st.metadata().iter().for_each(|(k, v)| {
                    w.add_metadata(k.clone(), v.clone());
                }),
            }
            for t in tensors {
                w.add_tensor(t.name.clone(), model.array(&t.name)?);
            }
            w.write_with_progress(&args.output, &mut progress)?;
        }
    }
    bar.finish_and_clear();
    print(&format!(
        "wrote {}: {} tensors, {}\n",
        args.output.display(),
        tensors.len(),
        human_bytes(total)
    ))
}
