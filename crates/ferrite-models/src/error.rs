//! The crate's error type.

use std::path::PathBuf;

/// Loading or running a model failed. Messages name the file or tensor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A config file or GGUF metadata that is missing a key or holds a bad value.
    #[error("{}: {msg}", path.display())]
    Config { path: PathBuf, msg: String },
    /// Something valid but not supported here; the message lists what is.
    #[error("{}: {msg}", path.display())]
    Unsupported { path: PathBuf, msg: String },
    /// A weight that is missing or has the wrong shape or type.
    #[error("{}: tensor '{tensor}': {msg}", path.display())]
    Weight {
        path: PathBuf,
        tensor: String,
        msg: String,
    },
    #[error(transparent)]
    Format(#[from] ferrite_formats::Error),
    #[error(transparent)]
    Core(#[from] ferrite_core::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
