//! The native vocabulary: tokens, their types and scores or merges, special
//! ids and the flags that steer encoding and decoding, read from GGUF
//! `tokenizer.ggml.*` metadata the way llama.cpp's `llama_vocab::load` reads it.

use std::collections::HashMap;

use ferrite_formats::gguf::{Value, ValueArray};

use crate::error::{Error, Result};
use crate::pretokenize::{PreConfig, PreTokenizer};

/// Token attributes (llama.cpp's `llama_token_attr` bits we use).
pub(crate) mod attr {
    pub const NORMAL: u16 = 1 << 0;
    pub const UNKNOWN: u16 = 1 << 1;
    pub const CONTROL: u16 = 1 << 2;
    pub const USER_DEFINED: u16 = 1 << 3;
    pub const UNUSED: u16 = 1 << 4;
    pub const BYTE: u16 = 1 << 5;
    pub const LSTRIP: u16 = 1 << 6;
    pub const RSTRIP: u16 = 1 << 7;

    /// GGUF `token_type` values (gguf's `TokenType`).
    pub fn from_type(t: i32) -> u16 {
        match t {
            1 => NORMAL,
            2 => UNKNOWN,
            3 => CONTROL,
            4 => USER_DEFINED,
            5 => UNUSED,
            6 => BYTE,
            _ => 0,
        }
    }
}

/// Which algorithm a vocabulary encodes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VocabKind {
    /// SentencePiece-style (`tokenizer.ggml.model = "llama"`): score-ordered bigram merges with byte fallback.
    Spm,
    /// Byte-level BPE (`tokenizer.ggml.model = "gpt2"`): a regex pre-tokenizer, then rank-ordered merges.
    Bpe,
}

/// How streamed and full decodes strip the space a SentencePiece encoder prepended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeStyle {
    /// llama.cpp's `llama_detokenize`: one leading space off the first token, unless a removed BOS precedes it.
    LlamaCpp,
    /// Hugging Face's decoder chain: one leading space off the whole text when it has a `Strip` step.
    Hf { strip_leading_space: bool },
}

pub(crate) struct Vocab {
    pub kind: VocabKind,
    pub tokens: Vec<String>,
    pub scores: Vec<f32>,
    pub types: Vec<i32>,
    pub attrs: Vec<u16>,
    pub token_to_id: HashMap<String, u32>,
    /// (left id, right id) → (rank, id of the merged token if it is one).
    pub ranks: HashMap<(u32, u32), (u32, Option<u32>)>,
    pub merges: Vec<String>,
    pub pre: Option<(PreConfig, PreTokenizer)>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    pub add_space_prefix: bool,
    pub clean_spaces: bool,
    pub ignore_merges: bool,
    pub decode_style: DecodeStyle,
    /// Control, user-defined and unknown tokens, longest text first: the order
    /// llama.cpp splits them out of raw text.
    pub special_cache: Vec<u32>,
    /// Each byte's fallback token: `<0xXX>` (SPM) or its GPT-2 character (BPE).
    pub byte_tokens: [Option<u32>; 256],
    /// Each token's text as decoded bytes (special tokens as their text).
    pub pieces: Vec<Vec<u8>>,
}

/// Looks metadata up by key.
pub(crate) type Lookup<'a> = dyn Fn(&str) -> Option<&'a Value> + 'a;

fn key(k: &str) -> String {
    format!("tokenizer.ggml.{k}")
}

fn get_string(get: &Lookup<'_>, k: &str) -> Result<Option<String>> {
    match get(&key(k)) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(Error::Metadata(format!(
            "{} must be a string, found {}",
            key(k),
            v.type_name()
        ))),
    }
}

fn get_bool(get: &Lookup<'_>, k: &str) -> Result<Option<bool>> {
    match get(&key(k)) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(Error::Metadata(format!(
            "{} must be a bool, found {}",
            key(k),
            v.type_name()
        ))),
    }
}

fn get_id(get: &Lookup<'_>, k: &str, n_tokens: usize) -> Result<Option<Option<u32>>> {
    let Some(v) = get(&key(k)) else {
        return Ok(None);
    };
    let id = v.as_u64().ok_or_else(|| {
        Error::Metadata(format!(
            "{} must be a non-negative integer, found {}",
            key(k),
            v.type_name()
        ))
    })?;
    // llama.cpp ignores an out-of-range special id with a warning and keeps its default.
    if id >= n_tokens as u64 {
        eprintln!(
            "warning: {} = {id} is outside the vocabulary ({n_tokens} tokens); ignored",
            key(k)
        );
        return Ok(None);
    }
    Ok(Some(Some(id as u32)))
}

fn get_array<'a>(get: &Lookup<'a>, k: &str) -> Result<Option<&'a ValueArray>> {
    match get(&key(k)) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(v) => Err(Error::Metadata(format!(
            "{} must be an array, found {}",
            key(k),
            v.type_name()
        ))),
    }
}

fn int_array(a: &ValueArray, name: &str) -> Result<Vec<i64>> {
    Ok(match a {
        ValueArray::I32(v) => v.iter().map(|&x| x.into()).collect(),
        ValueArray::U32(v) => v.iter().map(|&x| x.into()).collect(),
        ValueArray::I64(v) => v.clone(),
        ValueArray::U8(v) => v.iter().map(|&x| x.into()).collect(),
        ValueArray::I8(v) => v.iter().map(|&x| x.into()).collect(),
        ValueArray::I16(v) => v.iter().map(|&x| x.into()).collect(),
        ValueArray::U16(v) => v.iter().map(|&x| x.into()).collect(),
        _ => {
            return Err(Error::Metadata(format!(
                "{} must be an integer array",
                key(name)
            )))
        }
    })
}

impl Vocab {
    /// Reads `tokenizer.ggml.*` metadata. `decode_style` is llama.cpp's for GGUF files.
    pub fn from_metadata(get: &Lookup<'_>, decode_style: DecodeStyle) -> Result<Vocab> {
        let model = get_string(get, "model")?
            .ok_or_else(|| Error::Metadata("tokenizer.ggml.model is missing".into()))?;
        let kind = match model.as_str() {
            "llama" => VocabKind::Spm,
            "gpt2" => VocabKind::Bpe,
            other => {
                return Err(Error::Metadata(format!(
                "tokenizer.ggml.model = {other:?} is not supported (only \"llama\" and \"gpt2\")"
            )))
            }
        };
        let tokens = match get_array(get, "tokens")? {
            Some(ValueArray::String(v)) => v.clone(),
            Some(_) => {
                return Err(Error::Metadata(
                    "tokenizer.ggml.tokens must be an array of strings".into(),
                ))
            }
            None => return Err(Error::Metadata("tokenizer.ggml.tokens is missing".into())),
        };
        let n = tokens.len();
        if n == 0 || n > u32::MAX as usize {
            return Err(Error::Metadata(format!(
                "tokenizer.ggml.tokens has {n} tokens"
            )));
        }
        let scores = match get_array(get, "scores")? {
            None => vec![0.0; n],
            Some(ValueArray::F32(v)) => v.clone(),
            Some(ValueArray::I32(v)) => v.iter().map(|&x| x as f32).collect(),
            Some(_) => {
                return Err(Error::Metadata(
                    "tokenizer.ggml.scores must be an f32 or i32 array".into(),
                ))
            }
        };
        if scores.len() != n {
            return Err(Error::Metadata(format!(
                "tokenizer.ggml.scores has {} entries for {n} tokens",
                scores.len()
            )));
        }
        let types: Vec<i32> = match get_array(get, "token_type")? {
            None => vec![1; n],
            Some(a) => int_array(a, "token_type")?
                .into_iter()
                .map(|t| i32::try_from(t).unwrap_or(0))
                .collect(),
        };
        if types.len() != n {
            return Err(Error::Metadata(format!(
                "tokenizer.ggml.token_type has {} entries for {n} tokens",
                types.len()
            )));
        }
        let mut token_to_id = HashMap::with_capacity(n);
        for (i, t) in tokens.iter().enumerate() {
            if let Some(prev) = token_to_id.insert(t.clone(), i as u32) {
                return Err(Error::Metadata(format!(
                    "duplicate token {t:?} at ids {prev} and {i}"
                )));
            }
        }
        let mut attrs: Vec<u16> = types.iter().map(|&t| attr::from_type(t)).collect();

        let mut merges = Vec::new();
        let mut ranks = HashMap::new();
        let mut pre = None;
        let (mut add_bos, mut add_eos, mut add_space_prefix, mut clean_spaces, mut ignore_merges);
        let (mut bos, mut eos, mut unk);
        match kind {
            VocabKind::Spm => {
                bos = Some(1);
                eos = Some(2);
                unk = Some(0);
                add_bos = true;
                add_eos = false;
                add_space_prefix = true;
                clean_spaces = false;
                ignore_merges = false;
            }
            VocabKind::Bpe => {
                merges = match get_array(get, "merges")? {
                    Some(ValueArray::String(v)) => v.clone(),
                    Some(_) => {
                        return Err(Error::Metadata(
                            "tokenizer.ggml.merges must be an array of strings".into(),
                        ))
                    }
                    None => {
                        return Err(Error::Metadata(
                            "tokenizer.ggml.merges is missing (required for gpt2 vocabularies)"
                                .into(),
                        ))
                    }
                };
                for (rank, m) in merges.iter().enumerate() {
                    // The separator is the first space after the first byte, as in llama.cpp.
                    let split = m.bytes().skip(1).position(|b| b == b' ').map(|p| p + 1);
                    let Some(pos) = split else {
                        return Err(Error::Metadata(format!(
                            "merge {rank} ({m:?}) is not two tokens separated by a space"
                        )));
                    };
                    let (l, r) = (&m[..pos], &m[pos + 1..]);
                    let lookup = |s: &str| {
                        token_to_id.get(s).copied().ok_or_else(|| {
                            Error::Metadata(format!(
                                "merge {rank} ({m:?}) refers to {s:?}, which is not a token"
                            ))
                        })
                    };
                    let (li, ri) = (lookup(l)?, lookup(r)?);
                    let merged = token_to_id.get(&format!("{l}{r}")).copied();
                    ranks.entry((li, ri)).or_insert((rank as u32, merged));
                }
                let name = get_string(get, "pre")?;
                let config = match name.as_deref() {
                    None => {
                        eprintln!("warning: tokenizer.ggml.pre is missing; using the \"default\" pre-tokenizer (encodings may differ from the model's own tokenizer)");
                        PreConfig::for_name("default")
                    }
                    Some(n) => PreConfig::for_name(n).or_else(|| {
                        eprintln!("warning: unknown tokenizer.ggml.pre {n:?}; falling back to the \"gpt-2\" pre-tokenizer (encodings may differ from the model's own tokenizer)");
                        PreConfig::for_name("gpt-2")
                    }),
                }
                .ok_or_else(|| Error::Metadata("no fallback pre-tokenizer".into()))?;
                add_bos = config.add_bos;
                add_eos = false;
                add_space_prefix = false;
                clean_spaces = config.clean_spaces;
                ignore_merges = config.ignore_merges;
                // llama.cpp's gpt2 defaults are 11 for both; they are nearly always overridden.
                bos = if config.no_bos { None } else { Some(11) };
                eos = Some(11);
                unk = None;
                let compiled = PreTokenizer::new(&config)?;
                pre = Some((config, compiled));
            }
        }
        let in_range = |id: Option<u32>| id.filter(|&i| (i as usize) < n);
        bos = in_range(bos);
        eos = in_range(eos);
        unk = in_range(unk);
        let mut pad = None;
        if let Some(v) = get_id(get, "bos_token_id", n)? {
            bos = v;
        }
        if let Some(v) = get_id(get, "eos_token_id", n)? {
            eos = v;
        }
        if let Some(v) = get_id(get, "unknown_token_id", n)? {
            unk = v;
        }
        if let Some(v) = get_id(get, "padding_token_id", n)? {
            pad = v;
        }
        if let Some(b) = get_bool(get, "add_space_prefix")? {
            add_space_prefix = b;
        }
        if let Some(b) = get_bool(get, "add_bos_token")? {
            add_bos = b;
        }
        if let Some(b) = get_bool(get, "add_eos_token")? {
            add_eos = b;
        }
        if add_bos && bos.is_none() {
            return Err(Error::Metadata(
                "tokenizer.ggml.add_bos_token is true, but there is no BOS token".into(),
            ));
        }
        if add_eos && eos.is_none() {
            return Err(Error::Metadata(
                "tokenizer.ggml.add_eos_token is true, but there is no EOS token".into(),
            ));
        }
        if decode_style != DecodeStyle::LlamaCpp {
            clean_spaces = false;
        }
        if kind == VocabKind::Spm {
            ignore_merges = false;
        }

        let mut special_cache: Vec<u32> = (0..n as u32)
            .filter(|&i| {
                attrs[i as usize] & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) != 0
            })
            .collect();
        special_cache.sort_by_key(|&i| std::cmp::Reverse(tokens[i as usize].len()));

        // llama.cpp strips whitespace after Phi-3's special tokens, keyed on the model name.
        if let Some(Value::String(name)) = get("general.name") {
            let name = name.to_lowercase();
            if name.contains("phi-3") || name.contains("phi3") {
                for &id in &special_cache {
                    attrs[id as usize] |= attr::RSTRIP;
                }
                let mut set = |t: &str, on: bool| {
                    if let Some(&id) = token_to_id.get(t) {
                        if on {
                            attrs[id as usize] |= attr::RSTRIP;
                        } else {
                            attrs[id as usize] &= !attr::RSTRIP;
                        }
                    }
                };
                set("</s>", true);
                for t in ["<unk>", "<s>", "<|endoftext|>"] {
                    set(t, false);
                }
            }
        }

        let mut byte_tokens = [None; 256];
        for (b, slot) in byte_tokens.iter_mut().enumerate() {
            *slot = match kind {
                VocabKind::Spm => token_to_id
                    .get(&format!("<0x{b:02X}>"))
                    .copied()
                    .or_else(|| {
                        let s = char::from_u32(b as u32).filter(|_| b < 0x80)?.to_string();
                        token_to_id.get(&s).copied()
                    }),
                VocabKind::Bpe => token_to_id
                    .get(&crate::pretokenize::byte_to_char()[b].to_string())
                    .copied(),
            };
        }

        let mut vocab = Vocab {
            kind,
            tokens,
            scores,
            types,
            attrs,
            token_to_id,
            ranks,
            merges,
            pre,
            bos,
            eos,
            unk,
            pad,
            add_bos,
            add_eos,
            add_space_prefix,
            clean_spaces,
            ignore_merges,
            decode_style,
            special_cache,
            byte_tokens,
            pieces: Vec::new(),
        };
        vocab.pieces = (0..n as u32).map(|i| vocab.make_piece(i)).collect();
        Ok(vocab)
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn check_id(&self, id: u32) -> Result<()> {
        if (id as usize) < self.tokens.len() {
            Ok(())
        } else {
            Err(Error::IdOutOfRange {
                id,
                size: self.tokens.len(),
            })
        }
    }

    /// The bytes a token decodes to, as llama.cpp's `token_to_piece(special = true)`.
    fn make_piece(&self, id: u32) -> Vec<u8> {
        let i = id as usize;
        let a = self.attrs[i];
        let text = &self.tokens[i];
        if a & (attr::UNKNOWN | attr::CONTROL | attr::USER_DEFINED) != 0 {
            return text.as_bytes().to_vec();
        }
        if a & attr::NORMAL != 0 {
            return match self.kind {
                VocabKind::Spm => text.replace('\u{2581}', " ").into_bytes(),
                VocabKind::Bpe => {
                    let mut out = Vec::with_capacity(text.len());
                    for c in text.chars() {
                        match crate::pretokenize::char_to_byte(c) {
                            Some(b) => out.push(b),
                            // llama.cpp marks characters outside GPT-2's map this way.
                            None => {
                                out.extend_from_slice(b"[UNK_BYTE_0x");
                                let mut buf = [0u8; 4];
                                for b in c.encode_utf8(&mut buf).bytes() {
                                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                                }
                                out.extend_from_slice(text.as_bytes());
                                out.push(b']');
                            }
                        }
                    }
                    out
                }
            };
        }
        if a & attr::BYTE != 0 {
            let hex = text.get(3..5).and_then(|h| u8::from_str_radix(h, 16).ok());
            return hex.map(|b| vec![b]).unwrap_or_default();
        }
        Vec::new()
    }

    /// A token's bytes when decoding; control and unknown tokens are empty unless `special`.
    pub fn piece(&self, id: u32, special: bool) -> &[u8] {
        let i = id as usize;
        if !special && self.attrs[i] & (attr::UNKNOWN | attr::CONTROL) != 0 {
            return &[];
        }
        &self.pieces[i]
    }
}
