//! The crate's error type.

/// Generation failed; the message names the file, option or step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Model(#[from] ferrite_models::Error),
    #[error(transparent)]
    Tokenizer(#[from] ferrite_tokenizer::Error),
    #[error(transparent)]
    Template(#[from] ferrite_chat::Error),
    #[error(transparent)]
    Core(#[from] ferrite_core::Error),
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
    /// An option or input that cannot be used (e.g. a prompt longer than the context).
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
