//! `ferrite info FILE [--json]`: a model's metadata and tensor table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ferrite_formats::gguf::Value;
use ferrite_formats::{Gguf, ModelFile, SafeTensors, TensorInfo};
use serde_json::{json, Map, Value as Json};

use crate::output::{human_bytes, print, printable};

#[derive(clap::Args)]
pub struct Args {
    /// A .safetensors or .gguf file, a model.safetensors.index.json, or a model directory
    file: PathBuf,
    /// Print one JSON object (metadata arrays in full) instead of text
    #[arg(long)]
    json: bool,
}

/// Strings longer than this (chat templates) are cut in text mode.
const SHOWN_CHARS: usize = 120;

pub fn run(args: Args) -> crate::Result<()> {
    let model = ModelFile::open(&args.file).map_err(|e| explain(&args.file, e))?;
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&to_json(&model))?;
        s.push('\n');
        s
    } else {
        to_text(&model)
    };
    print(&text)
}

/// A file of another kind (a README, a .bin) fails deep in the safetensors
/// parser ("header length ... exceeds ..."): keep that detail and say which
/// files `info` reads. Files named as one of those keep the parser's message
/// alone, since there the file, not its kind, is at fault.
fn explain(path: &Path, e: ferrite_formats::Error) -> Box<dyn std::error::Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let named = matches!(ext.as_str(), "safetensors" | "gguf" | "json");
    if matches!(e, ferrite_formats::Error::Format { .. }) && path.is_file() && !named {
        format!("{e}; info reads .safetensors and .gguf files").into()
    } else {
        e.into()
    }
}

fn to_json(model: &ModelFile) -> Json {
    let tensors: Vec<Json> = model
        .tensors()
        .iter()
        .map(|t| {
            json!({"name": t.name, "type": t.dtype.name(), "shape": t.shape, "bytes": t.bytes(), "offset": t.range.start})
        })
        .collect();
    let total: u64 = model.tensors().iter().map(TensorInfo::bytes).sum();
    let mut out = json!({
        "path": model.path().display().to_string(),
        "tensor_count": tensors.len(),
        "tensor_bytes": total,
        "tensors": tensors,
    });
    let extra = match model {
        ModelFile::SafeTensors(st) => json!({
            "format": "safetensors",
            "files": st.files().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "metadata": st.metadata(),
        }),
        ModelFile::Gguf(g) => {
            let mut meta = Map::new();
            let mut types = Map::new();
            for (k, v) in g.metadata() {
                meta.insert(k.clone(), v.to_json());
                types.insert(k.clone(), v.type_name().into());
            }
            json!({
                "format": "gguf",
                "version": g.version(),
                "alignment": g.alignment(),
                "data_offset": g.data_offset(),
                "metadata": meta,
                "metadata_types": types,
            })
        }
    };
    if let (Json::Object(o), Json::Object(e)) = (&mut out, extra) {
        o.extend(e);
    }
    out
}

fn to_text(model: &ModelFile) -> String {
    let mut s = String::new();
    let total: u64 = model.tensors().iter().map(TensorInfo::bytes).sum();
    let summary = format!("{} tensors, {}", model.tensors().len(), human_bytes(total));
    match model {
        ModelFile::SafeTensors(st) => safetensors_text(&mut s, st, &summary),
        ModelFile::Gguf(g) => gguf_text(&mut s, g, &summary),
    }
    tensor_table(&mut s, model.tensors());
    s
}

fn safetensors_text(s: &mut String, st: &SafeTensors, summary: &str) {
    let files = st.files().count();
    let shards = if files > 1 {
        format!(" in {files} files")
    } else {
        String::new()
    };
    let _ = writeln!(s, "{}: safetensors, {summary}{shards}", st.path().display());
    let _ = writeln!(s, "metadata ({}):", st.metadata().len());
    for (k, v) in st.metadata() {
        let _ = writeln!(s, "  {} = {}", printable(k), shorten(&format!("{v:?}")));
    }
}

fn gguf_text(s: &mut String, g: &Gguf, summary: &str) {
    let _ = writeln!(
        s,
        "{}: GGUF v{}, {summary}, alignment {}, data at byte {}",
        g.path().display(),
        g.version(),
        g.alignment(),
        g.data_offset()
    );
    let _ = writeln!(s, "metadata ({}):", g.metadata().len());
    for (k, v) in g.metadata() {
        let shown = match v {
            Value::String(text) => shorten(&format!("{text:?}")),
            v => printable(&v.to_string()),
        };
        let _ = writeln!(s, "  {}: {} = {shown}", printable(k), v.type_name());
    }
}

/// Cuts a long quoted string, saying how long it was.
fn shorten(quoted: &str) -> String {
    let n = quoted.chars().count();
    if n <= SHOWN_CHARS {
        return quoted.to_string();
    }
    let head: String = quoted.chars().take(SHOWN_CHARS).collect();
    format!("{head}... ({n} chars)")
}

fn tensor_table(s: &mut String, tensors: &[TensorInfo]) {
    let _ = writeln!(s, "tensors ({}):", tensors.len());
    let rows: Vec<[String; 4]> = tensors
        .iter()
        .map(|t| {
            [
                printable(&t.name),
                t.dtype.name(),
                format!("{:?}", t.shape),
                t.bytes().to_string(),
            ]
        })
        .collect();
    let header = ["name", "type", "shape", "bytes"].map(String::from);
    let mut width = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let _ = writeln!(
            s,
            "  {:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3]
        );
    }
}
