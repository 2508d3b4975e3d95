//! The crate's one error type.

use std::path::PathBuf;

/// Why a chat template could not be loaded, compiled or rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model ships no chat template and none was given.
    #[error("this model has no chat template; pass --template FILE or use plain prompts")]
    NoTemplate,
    /// A named template (e.g. `tool_use`) was asked for and the model lacks it.
    #[error("this model has no chat template named {wanted:?} (it has: {available})")]
    UnknownTemplate { wanted: String, available: String },
    /// The template is not valid Jinja.
    #[error("chat template {name:?} does not compile: {message}")]
    Syntax { name: String, message: String },
    /// The template called `raise_exception(message)`: the conversation is not
    /// one it accepts. Displays exactly `message`, as Python shows it.
    #[error("{message}")]
    Raised { name: String, message: String },
    /// Rendering failed inside the template (undefined attribute, type error...).
    #[error("chat template {name:?} failed: {message}")]
    Render { name: String, message: String },
    /// The messages, tools or extra arguments are not what a template accepts.
    #[error("invalid chat input: {0}")]
    Input(String),
    /// A model file could not be read or is not the JSON expected.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
