//! Tokenizers for Ferrite: from a Hugging Face `tokenizer.json` (through the
//! `tokenizers` crate) or from a GGUF file's vocabulary, which is encoded and
//! decoded exactly as llama.cpp does: SentencePiece-style (`llama`) and
//! byte-level BPE (`gpt2`) with its pre-tokenizer variants.
//!
//! ```no_run
//! use ferrite_tokenizer::Tokenizer;
//!
//! let tok = Tokenizer::from_tokenizer_json("tokenizer.json")?;
//! // A chat template that already emits the BOS text gets no second BOS.
//! let ids = tok.encode_prompt("<|begin_of_text|>Hello", true)?;
//! let mut stream = tok.stream_decoder(true);
//! let mut text = String::new();
//! for &id in &ids {
//!     text += &stream.push(id)?; // whole characters only
//! }
//! text += &stream.finish();
//! assert_eq!(text, tok.decode(&ids, true)?);
//! # Ok::<(), ferrite_tokenizer::Error>(())
//! ```

mod bpe;
mod decode;
mod encode;
mod error;
mod gguf;
mod hf;
mod pretokenize;
mod spm;
mod spm_model;
mod stream;
mod symbols;
mod vocab;

use std::path::Path;

use ferrite_formats::gguf::Value;
use ferrite_formats::Gguf;

pub use error::{Error, Result};
pub use stream::StreamDecoder;
pub use vocab::VocabKind;

use vocab::{attr, DecodeStyle, Vocab};

/// Token texts llama.cpp treats as ending generation when present.
const EOG_NAMES: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "<|end_of_text|>",
    "<｜end▁of▁sentence｜>",
];

/// A tokenizer: encode text to ids and decode ids to text.
pub struct Tokenizer {
    vocab: Vocab,
    hf: Option<hf::HfEncoder>,
    eos_ids: Vec<u32>,
}

impl Tokenizer {
    /// The tokenizer of a GGUF file (`tokenizer.ggml.*` metadata).
    pub fn from_gguf(gguf: &Gguf) -> Result<Tokenizer> {
        // Name the file: "tokenizer.ggml.model is missing" alone does not say
        // which of the files a command was given lacks it.
        Self::from_lookup(&|k| gguf.get(k)).map_err(|e| match e {
            Error::Metadata(msg) => Error::File {
                path: gguf.path().to_path_buf(),
                msg: format!("GGUF tokenizer metadata: {msg}"),
            },
            e => e,
        })
    }

    /// The tokenizer described by GGUF metadata key/values (as [`Tokenizer::gguf_metadata`] returns).
    pub fn from_gguf_metadata(meta: &[(String, Value)]) -> Result<Tokenizer> {
        Self::from_lookup(&|k| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v))
    }

    fn from_lookup(get: &vocab::Lookup<'_>) -> Result<Tokenizer> {
        let vocab = Vocab::from_metadata(get, DecodeStyle::LlamaCpp)?;
        Ok(Self::assemble(vocab, None, Vec::new()))
    }

    /// A Hugging Face `tokenizer.json`. Sibling files are read when present:
    /// `tokenizer_config.json` (`bos_token`, `eos_token`, `unk_token`,
    /// `pad_token`, `add_bos_token`, `add_eos_token`) and
    /// `generation_config.json` (its `eos_token_id` list joins [`eos_ids`](Self::eos_ids)).
    pub fn from_tokenizer_json(path: impl AsRef<Path>) -> Result<Tokenizer> {
        let path = path.as_ref();
        let conv = hf::convert(path)?;
        let encoder = hf::HfEncoder::load(path)?;
        let meta = conv.meta;
        let get = |k: &str| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let vocab = Vocab::from_metadata(
            &get,
            DecodeStyle::Hf {
                strip_leading_space: conv.strip_leading_space,
            },
        )
        .map_err(|e| Error::TokenizerJson {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        Ok(Self::assemble(vocab, Some(encoder), conv.extra_eos))
    }

    fn assemble(vocab: Vocab, hf: Option<hf::HfEncoder>, extra_eos: Vec<u32>) -> Tokenizer {
        let mut eos_ids: Vec<u32> = vocab.eos.into_iter().collect();
        let named = EOG_NAMES
            .iter()
            .filter_map(|n| vocab.token_to_id.get(*n).copied());
        for id in extra_eos.into_iter().chain(named) {
            if !eos_ids.contains(&id) {
                eos_ids.push(id);
            }
        }
        Tokenizer { vocab, hf, eos_ids }
    }

    /// Encodes `text`. `add_special` adds BOS/EOS as the model's settings ask;
    /// `parse_special` turns special-token text such as `<|eot_id|>` into its
    /// token (llama.cpp's `tokenize(..., special = true)`); without it that
    /// text is encoded as ordinary characters.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<u32>> {
        let Some(hf) = &self.hf else {
            return encode::encode(&self.vocab, text, add_special, parse_special);
        };
        let mut ids = Vec::new();
        if add_special && self.vocab.add_bos {
            ids.extend(self.vocab.bos);
        }
        ids.extend(hf.encode(text, parse_special)?);
        if add_special && self.vocab.add_eos {
            ids.extend(self.vocab.eos);
        }
        Ok(ids)
    }

    /// Encodes a rendered prompt, parsing special tokens. When `add_bos` is
    /// true and the model uses a BOS, one is prepended unless the text already
    /// begins with it (a chat template that emits `<s>` or
    /// `<|begin_of_text|>` itself), so a prompt never starts with two.
    pub fn encode_prompt(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        let mut ids = self.encode(text, false, true)?;
        if let (true, true, Some(bos)) = (add_bos, self.vocab.add_bos, self.vocab.bos) {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// Decodes `ids`. With `skip_special`, control and unknown tokens render
    /// as nothing (and, for GGUF vocabularies, a leading BOS and trailing EOS
    /// the model adds are dropped as llama.cpp's `remove_special` does);
    /// without it they render as their text.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        match &self.hf {
            Some(hf) => {
                for &id in ids {
                    self.vocab.check_id(id)?;
                }
                hf.decode(ids, skip_special)
            }
            None => decode::decode(&self.vocab, ids, skip_special),
        }
    }

    /// A decoder that takes ids one at a time and returns only whole characters.
    pub fn stream_decoder(&self, skip_special: bool) -> StreamDecoder<'_> {
        StreamDecoder::new(self, skip_special)
    }

    /// The bytes token `id` decodes to on its own (special tokens as their text;
    /// a byte token as its single byte, which may be part of a character).
    pub fn token_to_piece(&self, id: u32) -> Result<&[u8]> {
        self.vocab.check_id(id)?;
        Ok(self.vocab.piece(id, true))
    }

    /// The vocabulary entry of `id` as stored (`▁Hello`, `ĠHello`, `<0x0A>`).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.vocab.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of a vocabulary entry, e.g. `id_of("<|eot_id|>")`.
    pub fn id_of(&self, token: &str) -> Option<u32> {
        self.vocab.token_to_id.get(token).copied()
    }

    /// Number of tokens, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// SentencePiece-style or byte-level BPE.
    pub fn kind(&self) -> VocabKind {
        self.vocab.kind
    }

    /// The byte-level pre-tokenizer's name (`llama-bpe`, `qwen2`, ...), if any.
    pub fn pre_tokenizer(&self) -> Option<&str> {
        self.vocab.pre.as_ref().map(|(c, _)| c.name.as_str())
    }

    /// True for control and unknown tokens: the ones `skip_special` hides.
    pub fn is_special(&self, id: u32) -> bool {
        self.vocab
            .attrs
            .get(id as usize)
            .is_some_and(|a| a & (attr::CONTROL | attr::UNKNOWN) != 0)
    }

    /// The BOS token, if the model has one.
    pub fn bos_id(&self) -> Option<u32> {
        self.vocab.bos
    }

    /// The model's EOS token (the first of [`eos_ids`](Self::eos_ids)).
    pub fn eos_id(&self) -> Option<u32> {
        self.vocab.eos
    }

    /// Every token that ends generation: the EOS token, generation_config's
    /// `eos_token_id` list, end-of-turn tokens found by name (`<|eot_id|>`,
    /// `<|im_end|>`, ...) and any added with [`add_eos_id`](Self::add_eos_id).
    pub fn eos_ids(&self) -> Vec<u32> {
        self.eos_ids.clone()
    }

    /// Makes `id` end generation too; an id outside the vocabulary is an error.
    pub fn add_eos_id(&mut self, id: u32) -> Result<()> {
        self.vocab.check_id(id)?;
        if !self.eos_ids.contains(&id) {
            self.eos_ids.push(id);
        }
        Ok(())
    }

    /// The token unencodable text becomes (SentencePiece models without a byte token for it).
    pub fn unk_id(&self) -> Option<u32> {
        self.vocab.unk
    }

    /// The padding token, if the model names one.
    pub fn pad_id(&self) -> Option<u32> {
        self.vocab.pad
    }

    /// Whether `encode(.., add_special = true, ..)` prepends BOS / appends EOS.
    pub fn adds_bos(&self) -> bool {
        self.vocab.add_bos
    }

    /// See [`adds_bos`](Self::adds_bos).
    pub fn adds_eos(&self) -> bool {
        self.vocab.add_eos
    }

    /// The `tokenizer.ggml.*` metadata for a GGUF file, as llama.cpp's
    /// `convert_hf_to_gguf.py` writes it for Llama models: SentencePiece
    /// vocabularies as `model = "llama"` with tokens, scores and token types;
    /// byte-level ones as `model = "gpt2"` with tokens, token types, merges and
    /// `pre`; plus special ids and `add_bos_token`/`add_eos_token`.
    /// [`Tokenizer::from_gguf`] on a file holding it encodes identically.
    pub fn gguf_metadata(&self) -> Vec<(String, Value)> {
        gguf::export(&self.vocab)
    }
}
