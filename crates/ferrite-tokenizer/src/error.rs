//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong loading a vocabulary or encoding and decoding text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or parsed.
    #[error("{}: {msg}", path.display())]
    File { path: PathBuf, msg: String },
    /// GGUF tokenizer metadata is missing, mistyped or inconsistent.
    #[error("GGUF tokenizer metadata: {0}")]
    Metadata(String),
    /// A tokenizer.json could not be turned into a vocabulary.
    #[error("tokenizer.json {}: {msg}", path.display())]
    TokenizerJson { path: PathBuf, msg: String },
    /// A pre-tokenizer regex failed on some input (for example fancy-regex's backtrack limit).
    #[error("pre-tokenizer regex `{pattern}` failed: {msg}")]
    Regex { pattern: String, msg: String },
    /// A token id outside the vocabulary.
    #[error("token id {id} is out of range (the vocabulary has {size} tokens)")]
    IdOutOfRange { id: u32, size: usize },
    /// Text needed a byte token the vocabulary lacks, and there is no unknown token.
    #[error(
        "cannot encode byte 0x{0:02X}: the vocabulary has no token for it and no unknown token"
    )]
    NoByteToken(u8),
    /// The Hugging Face `tokenizers` library reported an error.
    #[error("tokenizers: {0}")]
    Hf(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
