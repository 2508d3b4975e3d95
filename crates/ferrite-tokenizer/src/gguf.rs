//! Reading a tokenizer from GGUF metadata and writing one back.

use ferrite_formats::gguf::{Value, ValueArray};

use crate::vocab::{Vocab, VocabKind};

/// The `tokenizer.ggml.*` key/values that describe `vocab`, in the layout
/// llama.cpp's `convert_hf_to_gguf.py` writes for Llama models.
pub(crate) fn export(vocab: &Vocab) -> Vec<(String, Value)> {
    let mut meta = Vec::new();
    let mut put = |k: &str, v: Value| meta.push((format!("tokenizer.ggml.{k}"), v));
    match vocab.kind {
        VocabKind::Spm => {
            put("model", Value::String("llama".into()));
            put("pre", Value::String("default".into()));
            put(
                "tokens",
                Value::Array(ValueArray::String(vocab.tokens.clone())),
            );
            put(
                "scores",
                Value::Array(ValueArray::F32(vocab.scores.clone())),
            );
            put(
                "token_type",
                Value::Array(ValueArray::I32(vocab.types.clone())),
            );
        }
        VocabKind::Bpe => {
            put("model", Value::String("gpt2".into()));
            let pre = vocab.pre.as_ref().map(|(c, _)| c.name.clone());
            put("pre", Value::String(pre.unwrap_or_else(|| "gpt-2".into())));
            put(
                "tokens",
                Value::Array(ValueArray::String(vocab.tokens.clone())),
            );
            put(
                "token_type",
                Value::Array(ValueArray::I32(vocab.types.clone())),
            );
            put(
                "merges",
                Value::Array(ValueArray::String(vocab.merges.clone())),
            );
        }
    }
    for (k, id) in [
        ("bos_token_id", vocab.bos),
        ("eos_token_id", vocab.eos),
        ("unknown_token_id", vocab.unk),
        ("padding_token_id", vocab.pad),
    ] {
        if let Some(id) = id {
            put(k, Value::U32(id));
        }
    }
    put("add_bos_token", Value::Bool(vocab.add_bos));
    put("add_eos_token", Value::Bool(vocab.add_eos));
    if vocab.kind == VocabKind::Spm {
        put("add_space_prefix", Value::Bool(vocab.add_space_prefix));
    }
    meta
}
