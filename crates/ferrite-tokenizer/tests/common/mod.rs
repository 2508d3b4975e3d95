//! Paths and loaders shared by the tests.
#![allow(dead_code)]

use std::path::PathBuf;

use ferrite_formats::Gguf;
use ferrite_tokenizer::Tokenizer;

/// `../shared/data` beside the checkout.
pub fn shared() -> PathBuf {
    ferrite_testkit::repo_root().join("../shared/data")
}

/// The llama.cpp vocabularies with test cases in `../shared/data/vocab`.
pub const VOCABS: &[&str] = &[
    "llama-spm",
    "phi-3",
    "gpt-2",
    "starcoder",
    "deepseek-coder",
    "llama-bpe",
    "qwen2",
];

/// The tokenizer of `ggml-vocab-NAME.gguf`.
pub fn gguf_vocab(name: &str) -> Tokenizer {
    let path = shared().join(format!("vocab/ggml-vocab-{name}.gguf"));
    let gguf = Gguf::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Tokenizer::from_gguf(&gguf).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `../shared/data/tokenizers/NAME/tokenizer.json`.
pub fn tokenizer_json(name: &str) -> PathBuf {
    shared().join(format!("tokenizers/{name}/tokenizer.json"))
}
