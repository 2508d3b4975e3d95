//! A Hugging Face model directory's chat templates and special tokens.

use crate::{ChatTemplate, Error, Json, RenderArgs, Result};
use serde_json::Value as JsonValue;
use std::collections::BTreeMap;
use std::path::Path;

/// The special-token variables transformers passes to every template (its
/// `SPECIAL_TOKENS_ATTRIBUTES`), each when the tokenizer sets it.
const SPECIAL_TOKENS: [&str; 7] = [
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
];

/// Every chat template a model ships, by name, with its special tokens.
#[derive(Debug, Default)]
pub struct ModelTemplates {
    /// Templates by name; a single unnamed template is named `default`.
    pub templates: BTreeMap<String, ChatTemplate>,
    /// `bos_token`, `eos_token`, `unk_token`... as strings, where set.
    pub special_tokens: BTreeMap<String, String>,
}

impl ModelTemplates {
    /// Reads `dir/chat_template.jinja` if present, else `chat_template` in
    /// `dir/tokenizer_config.json` (a string, or a list of `{name, template}`),
    /// and the special tokens of `tokenizer_config.json` (strings, or
    /// `{"content": ...}` objects). A model with no template has an empty
    /// `templates`; [`ModelTemplates::select`] then says so. Files in
    /// `dir/additional_chat_templates/NAME.jinja` add named templates.
    pub fn from_hf_dir(dir: &Path) -> Result<ModelTemplates> {
        let config_path = dir.join("tokenizer_config.json");
        let config: JsonValue = match std::fs::read_to_string(&config_path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::File {
                path: config_path.clone(),
                message: format!("not valid JSON: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => JsonValue::Null,
            Err(e) => {
                return Err(Error::File {
                    path: config_path,
                    message: e.to_string(),
                })
            }
        };
        let mut out = ModelTemplates::default();
        for key in SPECIAL_TOKENS {
            let token = match config.get(key) {
                Some(JsonValue::String(s)) => Some(s.clone()),
                Some(JsonValue::Object(o)) => {
                    o.get("content").and_then(|c| c.as_str()).map(String::from)
                }
                _ => None,
            };
            if let Some(token) = token {
                out.special_tokens.insert(key.to_string(), token);
            }
        }
        // As transformers: template files, when there are any, replace the
        // templates of tokenizer_config.json.
        let jinja_path = dir.join("chat_template.jinja");
        if jinja_path.is_file() {
            out.insert("default", &read(&jinja_path)?)?;
        }
        let extra_dir = dir.join("additional_chat_templates");
        if extra_dir.is_dir() {
            let entries = std::fs::read_dir(&extra_dir).map_err(|e| Error::File {
                path: extra_dir.clone(),
                message: e.to_string(),
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if let Some(name) = name.strip_suffix(".jinja") {
                    out.insert(name, &read(&path)?)?;
                }
            }
        }
        match config.get("chat_template") {
            _ if !out.templates.is_empty() => {}
            Some(JsonValue::String(source)) => out.insert("default", source)?,
            Some(JsonValue::Array(list)) => {
                for entry in list {
                    match (entry.get("name").and_then(|n| n.as_str()), entry.get("template").and_then(|t| t.as_str())) {
                        (Some(name), Some(source)) => out.insert(name, source)?,
                        _ => {
                            return Err(Error::File {
                                path: config_path,
                                message: "chat_template list entries must be {\"name\": ..., \"template\": ...}".into(),
                            })
                        }
                    }
                }
            }
            None | Some(JsonValue::Null) => {}
            Some(_) => {
                return Err(Error::File {
                    path: config_path,
                    message: "chat_template must be a string or a list of {name, template}".into(),
                })
            }
        }
        Ok(out)
    }

    /// The templates of a GGUF file's metadata: `tokenizer.chat_template` is
    /// `default`, and `tokenizer.chat_template.NAME` is `NAME`, as llama.cpp
    /// writes them; other entries are ignored. GGUF names special tokens by
    /// id, so the caller fills [`ModelTemplates::special_tokens`] from the
    /// vocabulary.
    pub fn from_gguf_metadata<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ModelTemplates> {
        let mut out = ModelTemplates::default();
        for (key, value) in entries {
            if key == "tokenizer.chat_template" {
                out.insert("default", value)?;
            } else if let Some(name) = key.strip_prefix("tokenizer.chat_template.") {
                out.insert(name, value)?;
            }
        }
        Ok(out)
    }

    fn insert(&mut self, name: &str, source: &str) -> Result<()> {
        self.templates
            .insert(name.to_string(), ChatTemplate::with_name(name, source)?);
        Ok(())
    }

    /// The template transformers' `apply_chat_template` picks: `tool_use`
    /// when tools are given and the model has one, else `default` (or the
    /// only template there is); [`Error::NoTemplate`] when the model has none.
    pub fn select(&self, with_tools: bool) -> Result<&ChatTemplate> {
        if with_tools {
            if let Some(t) = self.templates.get("tool_use") {
                return Ok(t);
            }
        }
        if self.templates.is_empty() {
            return Err(Error::NoTemplate);
        }
        self.named("default")
    }

    /// A template by name (e.g. `tool_use`, `rag`).
    pub fn named(&self, name: &str) -> Result<&ChatTemplate> {
        self.templates
            .get(name)
            .ok_or_else(|| Error::UnknownTemplate {
                wanted: name.to_string(),
                available: self
                    .templates
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Render arguments for `messages` with this model's special tokens set,
    /// as `apply_chat_template` passes them.
    pub fn args(&self, messages: Json) -> RenderArgs {
        let mut args = RenderArgs::new(messages);
        for (key, token) in &self.special_tokens {
            match key.as_str() {
                "bos_token" => args.bos_token = Some(token.clone()),
                "eos_token" => args.eos_token = Some(token.clone()),
                _ => {
                    args.extra.insert(key.clone(), Json::from(token.as_str()));
                }
            }
        }
        args
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
