//! Chat templates: the Jinja templates models publish, rendered exactly as
//! `transformers`' `apply_chat_template(..., tokenize=False)` renders them.
//!
//! * [`ChatTemplate`] compiles a template once (from `tokenizer_config.json`,
//!   `chat_template.jinja`, or GGUF's `tokenizer.chat_template`) and renders
//!   [`RenderArgs`]: `messages`, `add_generation_prompt`, `bos_token`,
//!   `eos_token`, `tools`, `documents` and any extra variables, optionally
//!   leaving the last message open for the model to continue
//!   (`continue_final_message`).
//! * [`ModelTemplates`] reads a Hugging Face model directory: its templates by
//!   name and its special tokens; a model without one gives
//!   [`Error::NoTemplate`].
//! * [`Json`] carries messages and tools with their key order, which Python
//!   keeps and templates print.
//!
//! The environment matches transformers': `trim_blocks`, `lstrip_blocks`,
//! loop controls, `raise_exception(msg)` (surfaced as [`Error::Raised`] with
//! `msg`), `tojson` as `json.dumps(ensure_ascii=False, indent, separators,
//! sort_keys)`, `strftime_now(fmt)` (UTC), `namespace`, values printed as
//! Python's `str()` (`True`, `None`, `{'a': 1}`), and Python's string, list and
//! dict methods.

mod env;
mod error;
mod hf;
mod prefill;
mod pyfmt;
mod strftime;
mod template;

pub use error::{Error, Result};
pub use hf::ModelTemplates;
pub use template::{ChatTemplate, Json, RenderArgs};
