//! Opening a model path with errors that say what a model is.

use std::io::Read;
use std::path::Path;

use ferrite_models::ModelSource;

use crate::error::{Error, Result};

/// What a model path may be, for messages about paths that are neither.
const WHAT_A_MODEL_IS: &str =
    "a model is a Hugging Face directory (with config.json) or a .gguf file";

/// [`ModelSource::open`], with a check that makes its error say what to fix: an
/// existing file that is not GGUF (a `.bin`, a text file) is reported as not a
/// model rather than only by its bad magic.
pub fn open_model(path: &Path) -> Result<ModelSource> {
    check_gguf_magic(path)?;
    Ok(ModelSource::open(path)?)
}

/// Fails for a regular file that does not start with the GGUF magic. Files
/// named `.safetensors` or `.json` are left to [`ModelSource::open`], which
/// asks for their directory; a file that cannot be read is left to it too, so
/// the I/O error is reported once, by the code that reads the file.
fn check_gguf_magic(path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !path.is_file() || matches!(ext.as_deref(), Some("safetensors" | "json")) {
        return Ok(());
    }
    let mut magic = Vec::with_capacity(4);
    let read = std::fs::File::open(path).and_then(|f| f.take(4).read_to_end(&mut magic));
    if read.is_err() || magic == b"GGUF" {
        return Ok(());
    }
    let msg = if magic.len() < 4 && ext.as_deref() == Some("gguf") {
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
    Err(Error::File {
        path: path.display().to_string(),
        msg,
    })
}
