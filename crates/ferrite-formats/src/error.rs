//! The crate's single error type.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong reading or writing a model file. Every variant
/// names the file, so the message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening, mapping, reading or writing the file failed.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        /// What was being done, e.g. "cannot open".
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// The file is malformed, uses something this crate does not support, or a
    /// writer was given something the format cannot hold.
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    /// Ferrite could not build or read an array for a tensor.
    #[error("{}: tensor '{tensor}': {source}", path.display())]
    Array {
        path: PathBuf,
        tensor: String,
        /// Boxed: core errors are large and this one is rare.
        #[source]
        source: Box<ferrite_core::Error>,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: &Path, what: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            what,
            source,
        }
    }

    pub(crate) fn array(path: &Path, tensor: &str, source: ferrite_core::Error) -> Error {
        Error::Array {
            path: path.to_path_buf(),
            tensor: tensor.to_string(),
            source: Box::new(source),
        }
    }

    pub(crate) fn format(path: &Path, msg: impl Into<String>) -> Error {
        Error::Format {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}

/// A parse failure before the file name is known: parsers work on bytes and
/// the caller attaches the path.
#[derive(Debug)]
pub(crate) struct Bad(pub String);

impl Bad {
    pub(crate) fn at(self, path: &Path) -> Error {
        Error::format(path, self.0)
    }
}

/// Returns early with a [`Bad`] built from a format string.
macro_rules! bad {
    ($($arg:tt)*) => {
        return Err($crate::error::Bad(format!($($arg)*)))
    };
}
pub(crate) use bad;
