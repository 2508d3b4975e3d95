//! tokenizer.json: encoding through the `tokenizers` crate, and the
//! `tokenizer.ggml.*` metadata llama.cpp's `convert_hf_to_gguf.py` would write
//! for it (SentencePiece-converted BPE → `llama`, byte-level BPE → `gpt2`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ferrite_formats::gguf::{Value, ValueArray};
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::pretokenize::PreConfig;

/// The two encoders: one that splits special-token text out of the input and
/// one that treats it as plain text (`encode_special_tokens`).
pub(crate) struct HfEncoder {
    parse: tokenizers::Tokenizer,
    plain: tokenizers::Tokenizer,
}

impl HfEncoder {
    pub fn load(path: &Path) -> Result<HfEncoder> {
        let parse = tokenizers::Tokenizer::from_file(path).map_err(|e| Error::TokenizerJson {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        let mut plain = parse.clone();
        plain.set_encode_special_tokens(true);
        Ok(HfEncoder { parse, plain })
    }

    pub fn encode(&self, text: &str, parse_special: bool) -> Result<Vec<u32>> {
        let t = if parse_special {
            &self.parse
        } else {
            &self.plain
        };
        let enc = t
            .encode(text, false)
            .map_err(|e| Error::Hf(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.parse
            .decode(ids, skip_special)
            .map_err(|e| Error::Hf(e.to_string()))
    }
}

/// What a tokenizer.json (with its sibling config files) converts to.
pub(crate) struct Converted {
    pub meta: Vec<(String, Value)>,
    pub strip_leading_space: bool,
    pub extra_eos: Vec<u32>,
}

fn err(path: &Path, msg: impl Into<String>) -> Error {
    Error::TokenizerJson {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn read_json(path: &Path) -> Result<Json> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| Error::File {
        path: path.to_path_buf(),
        msg: format!("invalid JSON: {e}"),
    })
}

fn sibling(path: &Path, name: &str) -> Option<Json> {
    let p: PathBuf = path.with_file_name(name);
    p.is_file().then(|| read_json(&p).ok()).flatten()
}

/// Every object in `j` (depth first), for finding steps inside `Sequence`s.
fn objects<'a>(j: &'a Json, out: &mut Vec<&'a serde_json::Map<String, Json>>) {
    match j {
        Json::Object(m) => {
            out.push(m);
            for v in m.values() {
                objects(v, out);
            }
        }
        Json::Array(a) => a.iter().for_each(|v| objects(v, out)),
        _ => {}
    }
}

fn steps<'a>(j: &'a Json, ty: &str) -> Vec<&'a serde_json::Map<String, Json>> {
    let mut all = Vec::new();
    objects(j, &mut all);
    all.into_iter()
        .filter(|m| m.get("type").and_then(Json::as_str) == Some(ty))
        .collect()
}

/// A config token: `"<s>"` or `{"content": "<s>", ...}`.
fn token_content(j: Option<&Json>) -> Option<&str> {
    match j? {
        Json::String(s) => Some(s),
        Json::Object(m) => m.get("content")?.as_str(),
        _ => None,
    }
}

pub(crate) fn convert(path: &Path) -> Result<Converted> {
    let j = read_json(path)?;
    let model = j.get("model").ok_or_else(|| err(path, "no \"model\""))?;
    let model_type = model.get("type").and_then(Json::as_str).unwrap_or("");
    if model_type != "BPE" {
        return Err(err(
            path,
            format!("model type {model_type:?} is not supported (only BPE: SentencePiece-converted or byte-level)"),
        ));
    }
    let vocab = model
        .get("vocab")
        .and_then(Json::as_object)
        .ok_or_else(|| err(path, "model.vocab is not an object"))?;
    let mut added: Vec<(u32, String, bool)> = Vec::new();
    for t in j
        .get("added_tokens")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let id = t.get("id").and_then(Json::as_u64);
        let content = t.get("content").and_then(Json::as_str);
        let (Some(id), Some(content)) = (id, content) else {
            return Err(err(path, format!("malformed added token {t}")));
        };
        let id =
            u32::try_from(id).map_err(|_| err(path, format!("added token id {id} too large")))?;
        let special = t.get("special").and_then(Json::as_bool).unwrap_or(false);
        added.push((id, content.to_string(), special));
    }
    let mut n = 0usize;
    for (tok, id) in vocab {
        let id = id
            .as_u64()
            .filter(|&i| i < u32::MAX as u64)
            .ok_or_else(|| err(path, format!("token {tok:?} has a bad id")))?;
        n = n.max(id as usize + 1);
    }
    for (id, _, _) in &added {
        n = n.max(*id as usize + 1);
    }
    let mut tokens: Vec<String> = (0..n).map(|i| format!("[PAD{i}]")).collect();
    let mut types: Vec<i32> = vec![5; n];
    for (tok, id) in vocab {
        let i = id.as_u64().unwrap_or(0) as usize;
        tokens[i] = tok.clone();
        types[i] = 1;
    }
    let byte_fallback = model.get("byte_fallback").and_then(Json::as_bool) == Some(true);
    let byte_level = !steps(&j["pre_tokenizer"], "ByteLevel").is_empty()
        || !steps(&j["decoder"], "ByteLevel").is_empty();
    let spm = !byte_level;
    if spm {
        for (i, t) in tokens.iter().enumerate() {
            let is_byte = t.len() == 6 && t.starts_with("<0x") && t.ends_with('>');
            if byte_fallback && is_byte && u8::from_str_radix(&t[3..5], 16).is_ok() {
                types[i] = 6;
            }
        }
    }
    let unk_text = model.get("unk_token").and_then(Json::as_str);
    for (id, content, special) in &added {
        tokens[*id as usize] = content.clone();
        types[*id as usize] = if Some(content.as_str()) == unk_text {
            2
        } else if *special {
            3
        } else {
            4
        };
    }
    let by_text: HashMap<&str, u32> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i as u32))
        .collect();
    if by_text.len() != tokens.len() {
        return Err(err(path, "the vocabulary has duplicate tokens"));
    }

    let mut merges: Vec<String> = Vec::new();
    for m in model
        .get("merges")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let s = match m {
            Json::String(s) => s.clone(),
            Json::Array(p) if p.len() == 2 => match (p[0].as_str(), p[1].as_str()) {
                (Some(a), Some(b)) => format!("{a} {b}"),
                _ => return Err(err(path, format!("malformed merge {m}"))),
            },
            _ => return Err(err(path, format!("malformed merge {m}"))),
        };
        merges.push(s);
    }

    let mut meta: Vec<(String, Value)> = Vec::new();
    let mut put = |k: &str, v: Value| meta.push((format!("tokenizer.ggml.{k}"), v));
    if spm {
        put("model", Value::String("llama".into()));
        put("pre", Value::String("default".into()));
        let model_file = path.with_file_name("tokenizer.model");
        let (scores, prepend) = if model_file.is_file() {
            let sp = crate::spm_model::load(&model_file)?;
            if sp.pieces.len() > n {
                return Err(err(
                    path,
                    format!(
                        "{} has {} pieces, more than the {n} tokens here",
                        model_file.display(),
                        sp.pieces.len()
                    ),
                ));
            }
            // convert_hf_to_gguf.py takes pieces, scores and types from the
            // SentencePiece model; added tokens past it score -1000.
            let mut scores = vec![-1000.0f32; n];
            for (i, (piece, score, ty)) in sp.pieces.iter().enumerate() {
                if *piece != tokens[i] {
                    return Err(err(
                        path,
                        format!(
                            "token {i} is {:?} here but {piece:?} in {}",
                            tokens[i],
                            model_file.display()
                        ),
                    ));
                }
                scores[i] = *score;
                types[i] = *ty;
            }
            (scores, sp.add_dummy_prefix)
        } else {
            (
                merge_scores(&tokens, &types, &merges, &by_text),
                prepends_space(&j),
            )
        };
        put("tokens", Value::Array(ValueArray::String(tokens.clone())));
        put("scores", Value::Array(ValueArray::F32(scores)));
        put("token_type", Value::Array(ValueArray::I32(types.clone())));
        put("add_space_prefix", Value::Bool(prepend));
    } else {
        put("model", Value::String("gpt2".into()));
        let regex = steps(&j["pre_tokenizer"], "Split")
            .iter()
            .find_map(|m| m.get("pattern")?.get("Regex")?.as_str().map(str::to_string));
        let pre = match regex {
            Some(r) => PreConfig::name_for_regex(&r).unwrap_or_else(|| {
                eprintln!("warning: {}: unrecognised pre-tokenizer regex {r:?}; exporting pre = \"gpt-2\"", path.display());
                "gpt-2"
            }),
            None => "gpt-2",
        };
        put("pre", Value::String(pre.into()));
        put("tokens", Value::Array(ValueArray::String(tokens.clone())));
        put("token_type", Value::Array(ValueArray::I32(types.clone())));
        put("merges", Value::Array(ValueArray::String(merges)));
    }

    // Special tokens: tokenizer_config.json first, then the post-processor, then well-known names.
    let config = sibling(path, "tokenizer_config.json");
    let cfg = |k: &str| config.as_ref().and_then(|c| c.get(k));
    let id_of = |t: Option<&str>| t.and_then(|t| by_text.get(t).copied());
    let template = steps(&j["post_processor"], "TemplateProcessing");
    let single: Vec<&Json> = template
        .first()
        .and_then(|t| t.get("single"))
        .and_then(Json::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let special_at = |item: Option<&&Json>| {
        item.and_then(|i| i.get("SpecialToken"))
            .and_then(|s| s.get("id"))
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    let tmpl_bos = special_at(single.first());
    let tmpl_eos = if single.len() > 1 {
        special_at(single.last())
    } else {
        None
    };
    let first_known = |names: &[&str]| names.iter().find_map(|n| by_text.get(n).copied());
    let bos = id_of(token_content(cfg("bos_token")))
        .or_else(|| id_of(tmpl_bos.as_deref()))
        .or_else(|| first_known(&["<s>", "<|begin_of_text|>"]));
    let eos = id_of(token_content(cfg("eos_token")))
        .or_else(|| id_of(tmpl_eos.as_deref()))
        .or_else(|| first_known(&["</s>", "<|end_of_text|>", "<|endoftext|>"]));
    let unk = id_of(token_content(cfg("unk_token"))).or_else(|| id_of(unk_text));
    let pad = id_of(token_content(cfg("pad_token")));
    let add_bos = cfg("add_bos_token")
        .and_then(Json::as_bool)
        .unwrap_or(tmpl_bos.is_some());
    let add_eos = cfg("add_eos_token")
        .and_then(Json::as_bool)
        .unwrap_or(tmpl_eos.is_some());
    let mut put = |k: &str, v: Value| meta.push((format!("tokenizer.ggml.{k}"), v));
    for (k, id) in [
        ("bos_token_id", bos),
        ("eos_token_id", eos),
        ("unknown_token_id", unk),
        ("padding_token_id", pad),
    ] {
        if let Some(id) = id {
            put(k, Value::U32(id));
        }
    }
    put("add_bos_token", Value::Bool(add_bos && bos.is_some()));
    put("add_eos_token", Value::Bool(add_eos && eos.is_some()));

    let mut extra_eos = Vec::new();
    if let Some(g) = sibling(path, "generation_config.json") {
        match g.get("eos_token_id") {
            Some(Json::Number(x)) => extra_eos.extend(x.as_u64().map(|v| v as u32)),
            Some(Json::Array(a)) => {
                extra_eos.extend(a.iter().filter_map(|v| v.as_u64()).map(|v| v as u32))
            }
            _ => {}
        }
    }
    extra_eos.retain(|&id| (id as usize) < n);

    let strip_leading_space = steps(&j["decoder"], "Strip").iter().any(|m| {
        m.get("content").and_then(Json::as_str) == Some(" ")
            && m.get("start").and_then(Json::as_u64).unwrap_or(0) > 0
    });
    Ok(Converted {
        meta,
        strip_leading_space,
        extra_eos,
    })
}

/// Scores for a SentencePiece vocabulary known only from tokenizer.json: the
/// converter emitted merges in score order, so the token a merge makes first
/// scores highest. Tokens no merge makes never form from a pair.
fn merge_scores(
    tokens: &[String],
    types: &[i32],
    merges: &[String],
    by_text: &HashMap<&str, u32>,
) -> Vec<f32> {
    let mut scores = vec![-1e9f32; tokens.len()];
    for (i, t) in types.iter().enumerate() {
        if *t != 1 || tokens[i].chars().count() == 1 {
            scores[i] = 0.0;
        }
    }
    for (rank, m) in merges.iter().enumerate() {
        if let Some(&id) = by_text.get(m.replacen(' ', "", 1).as_str()) {
            let s = &mut scores[id as usize];
            if *s == -1e9 {
                *s = -(rank as f32);
            }
        }
    }
    scores
}

/// Whether the normalizer or pre-tokenizer prepends `▁` to the text.
fn prepends_space(j: &Json) -> bool {
    steps(&j["normalizer"], "Prepend")
        .iter()
        .any(|m| m.get("prepend").and_then(Json::as_str) == Some("\u{2581}"))
        || steps(&j["pre_tokenizer"], "Metaspace").iter().any(|m| {
            m.get("prepend_scheme").and_then(Json::as_str) != Some("never")
                && m.get("add_prefix_space").and_then(Json::as_bool) != Some(false)
        })
}
