//! A compiled chat template and the arguments it is rendered with.

use crate::env::{environment, py_none, Raised};
use crate::prefill::{self, Message};
use crate::strftime::strftime;
use crate::{Error, Result};
use minijinja::value::ValueKind;
use minijinja::{Environment, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::SystemTime;

/// A JSON value whose objects keep their keys in the order written, as
/// Python's dicts do: templates print tool schemas with `tojson`, and the
/// model must see the keys in the order it was trained on.
#[derive(Clone, Debug, PartialEq)]
pub struct Json(pub(crate) Value);

impl Json {
    /// Parses JSON text, keeping every object's key order.
    pub fn parse(text: &str) -> Result<Json> {
        serde_json::from_str::<Value>(text)
            .map(Json)
            .map_err(|e| Error::Input(format!("not valid JSON: {e}")))
    }

    /// Any serializable value; maps keep the order in which they serialize.
    /// A `serde_json::Value` keeps its keys in the order written only with
    /// serde_json's `preserve_order` feature, which this workspace enables;
    /// without it, it sorts them.
    pub fn from_serialize<T: serde::Serialize>(value: &T) -> Json {
        Json(Value::from(minijinja::value::Serde(value)))
    }
}

impl FromStr for Json {
    type Err = Error;
    fn from_str(s: &str) -> Result<Json> {
        Json::parse(s)
    }
}

impl From<serde_json::Value> for Json {
    fn from(v: serde_json::Value) -> Json {
        Json::from_serialize(&v)
    }
}

impl From<&str> for Json {
    /// A JSON string value (not parsed).
    fn from(s: &str) -> Json {
        Json(Value::from(s))
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json(Value::from(b))
    }
}

/// What a template is rendered with: the variables transformers'
/// `apply_chat_template` passes.
#[derive(Clone, Debug)]
pub struct RenderArgs {
    /// The conversation: a list of `{"role", "content", ...}` objects
    /// (`tool_calls`, `name`, `tool_call_id`, `reasoning_content`... as the
    /// template expects them). Keys whose value is `null` are dropped first, as
    /// transformers does.
    pub messages: Json,
    /// Ask the template to end with the header of an assistant turn.
    pub add_generation_prompt: bool,
    /// `bos_token` in the template; left undefined when `None`.
    pub bos_token: Option<String>,
    /// `eos_token` in the template; left undefined when `None`.
    pub eos_token: Option<String>,
    /// Tool schemas (a list of `{"type": "function", "function": {...}}`);
    /// `None` renders as Python's `None`, which templates test with `is none`.
    pub tools: Option<Json>,
    /// Documents for retrieval-augmented templates (a list of objects).
    pub documents: Option<Json>,
    /// Further template variables (`enable_thinking`, `date_string`,
    /// `unk_token`...); they override every other variable of the same name.
    pub extra: BTreeMap<String, Json>,
    /// The time `strftime_now` reads; the system clock when `None`.
    pub now: Option<SystemTime>,
    /// Leave the last message open so that the model continues it (a
    /// prefilled reply): the field to continue, `"content"` usually, or
    /// `"reasoning_content"`. transformers' `continue_final_message`; not
    /// together with `add_generation_prompt`.
    pub continue_final_message: Option<String>,
}

impl RenderArgs {
    /// Arguments for `messages` with everything else unset.
    pub fn new(messages: Json) -> RenderArgs {
        RenderArgs {
            messages,
            add_generation_prompt: false,
            bos_token: None,
            eos_token: None,
            tools: None,
            documents: None,
            extra: BTreeMap::new(),
            now: None,
            continue_final_message: None,
        }
    }
}

/// A compiled chat template.
///
/// ```
/// use ferrite_chat::{ChatTemplate, Json, RenderArgs};
/// let t = ChatTemplate::new(
///     "{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}\n{% endfor %}\
///      {% if add_generation_prompt %}<|assistant|>{% endif %}",
/// )?;
/// let mut args = RenderArgs::new(Json::parse(r#"[{"role": "user", "content": " Hi "}]"#)?);
/// args.add_generation_prompt = true;
/// assert_eq!(t.render(&args)?, "<|user|>Hi\n<|assistant|>");
/// # Ok::<(), ferrite_chat::Error>(())
/// ```
pub struct ChatTemplate {
    name: String,
    source: String,
    env: Environment<'static>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source` (named `chat_template` in errors).
    pub fn new(source: &str) -> Result<ChatTemplate> {
        ChatTemplate::with_name("chat_template", source)
    }

    /// Compiles `source`; `name` (a file, or `default`/`tool_use`) appears in
    /// every error this template gives.
    pub fn with_name(name: &str, source: &str) -> Result<ChatTemplate> {
        let mut env = environment();
        env.add_template_owned(name.to_string(), generation_as_if(source))
            .map_err(|e| Error::Syntax {
                name: name.to_string(),
                message: describe(&e),
            })?;
        Ok(ChatTemplate {
            name: name.to_string(),
            source: source.to_string(),
            env,
        })
    }

    /// The name given at compile time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders the conversation in `args`, as `apply_chat_template(...,
    /// tokenize=False)` would. A template's `raise_exception(msg)` becomes
    /// [`Error::Raised`] whose message is `msg`.
    pub fn render(&self, args: &RenderArgs) -> Result<String> {
        let mut messages = normalize_messages(&args.messages.0)?;
        let continued = match &args.continue_final_message {
            Some(_) if args.add_generation_prompt => {
                return Err(Error::Input(
                    "continue_final_message and add_generation_prompt are not compatible. Use \
                     continue_final_message when you want the model to continue the final message, and \
                     add_generation_prompt when you want to add a header that will prompt it to start a \
                     new assistant message instead."
                        .into(),
                ))
            }
            Some(field) => Some(prefill::mark(&mut messages, field, &self.source)?),
            None => None,
        };
        let messages = Value::from(
            messages
                .into_iter()
                .map(Value::from_pairs)
                .collect::<Vec<_>>(),
        );
        let template = self
            .env
            .get_template(&self.name)
            .map_err(|e| self.failure(e))?;
        let rendered = template
            .render(self.context(messages, args))
            .map_err(|e| self.failure(e))?;
        match continued {
            Some(text) => prefill::cut(&rendered, &text),
            None => Ok(rendered),
        }
    }

    fn context(&self, messages: Value, args: &RenderArgs) -> Value {
        let now = args.now;
        let strftime_now = Value::from_function(move |format: &str| {
            strftime(format, now.unwrap_or_else(SystemTime::now))
        });
        let opt = |j: &Option<Json>| j.as_ref().map_or_else(py_none, |j| j.0.clone());
        let mut vars: Vec<(String, Value)> = vec![
            ("messages".into(), messages),
            ("tools".into(), opt(&args.tools)),
            ("documents".into(), opt(&args.documents)),
            (
                "add_generation_prompt".into(),
                Value::from(args.add_generation_prompt),
            ),
            ("strftime_now".into(), strftime_now),
        ];
        for (key, token) in [
            ("bos_token", &args.bos_token),
            ("eos_token", &args.eos_token),
        ] {
            if let Some(token) = token {
                vars.push((key.into(), Value::from(token.as_str())));
            }
        }
        for (key, value) in &args.extra {
            vars.retain(|(k, _)| k != key);
            let value = if value.0.is_none() {
                py_none()
            } else {
                value.0.clone()
            };
            vars.push((key.clone(), value));
        }
        Value::from_pairs(vars)
    }

    fn failure(&self, e: minijinja::Error) -> Error {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if let Some(Raised(message)) = err.downcast_ref::<Raised>() {
                return Error::Raised {
                    name: self.name.clone(),
                    message: message.clone(),
                };
            }
            source = err.source();
        }
        Error::Render {
            name: self.name.clone(),
            message: describe(&e),
        }
    }
}

/// transformers' `{% generation %}...{% endgeneration %}` only marks the
/// assistant's text for training masks and renders its body unchanged;
/// minijinja has no such tag, so it becomes `{% if true %}...{% endif %}`.
/// Only the keyword changes, so whitespace control and line numbers stay.
fn generation_as_if(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(open) = rest.find("{%") {
        let (before, tag) = rest.split_at(open + 2);
        out.push_str(before);
        let body = tag.trim_start_matches(['-', '+']);
        let body = body.trim_start();
        let keyword = ["endgeneration", "generation"]
            .into_iter()
            .find(|k| body.starts_with(k));
        let closes = keyword.is_some_and(|k| {
            body[k.len()..]
                .trim_start()
                .trim_start_matches(['-', '+'])
                .starts_with("%}")
        });
        match keyword {
            Some(k) if closes => {
                let at = tag.len() - body.len();
                out.push_str(&tag[..at]);
                out.push_str(if k == "generation" {
                    "if true"
                } else {
                    "endif"
                });
                rest = &tag[at + k.len()..];
            }
            _ => rest = tag,
        }
    }
    out.push_str(rest);
    out
}

/// An engine error in one line: what went wrong and the template line.
fn describe(e: &minijinja::Error) -> String {
    let mut msg = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(line) = e.line() {
        msg.push_str(&format!(" (line {line})"));
    }
    msg
}

/// What transformers does to a conversation before rendering: keys whose
/// value is `null` are dropped, and a message's reasoning (under
/// `reasoning_content`, `thinking` or `reasoning`) is copied to both
/// `thinking` (read by gpt-oss) and `reasoning_content` (read by the rest).
fn normalize_messages(messages: &Value) -> Result<Vec<Message>> {
    if messages.kind() != ValueKind::Seq {
        return Err(Error::Input("messages must be a list of objects".into()));
    }
    let mut out = Vec::new();
    for message in messages
        .try_iter()
        .map_err(|e| Error::Input(e.to_string()))?
    {
        if message.kind() != ValueKind::Map {
            return Err(Error::Input(format!(
                "Chat messages should be dicts, but got {}",
                crate::pyfmt::py_str(&message).unwrap_or_default()
            )));
        }
        let mut pairs: Vec<(Value, Value)> = Vec::new();
        for key in message
            .try_iter()
            .map_err(|e| Error::Input(e.to_string()))?
        {
            let value = message.get_item(&key).unwrap_or_default();
            if !value.is_none() {
                pairs.push((key, value));
            }
        }
        let reasoning = ["reasoning_content", "thinking", "reasoning"]
            .iter()
            .find_map(|k| pairs.iter().find(|(key, _)| key.as_str() == Some(k)))
            .map(|(_, v)| v.clone());
        if let Some(r) = reasoning {
            // Python: {"thinking": r, **message, "reasoning_content": r}
            if !pairs.iter().any(|(k, _)| k.as_str() == Some("thinking")) {
                pairs.insert(0, (Value::from("thinking"), r.clone()));
            }
            match pairs
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some("reasoning_content"))
            {
                Some(slot) => slot.1 = r,
                None => pairs.push((Value::from("reasoning_content"), r)),
            }
        }
        out.push(pairs);
    }
    if out.is_empty() {
        return Err(Error::Input(
            "Cannot apply chat template to an empty conversation. Provide at least one message."
                .into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::generation_as_if;
    use crate::{ChatTemplate, Json, RenderArgs};

    /// serde_json values (read from a file, or built with `json!`) reach the
    /// template with their keys in the order written, as Python's dicts do;
    /// this needs serde_json's `preserve_order`, enabled for the workspace.
    #[test]
    fn serde_json_values_keep_their_key_order() {
        let text =
            r#"[{"role": "user", "content": "x", "z": {"b": 1, "a": [2, {"d": 3, "c": 4}]}}]"#;
        let t = ChatTemplate::new("{{ messages | tojson }}").unwrap();
        let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
        let built = serde_json::json!([
            {"role": "user", "content": "x", "z": {"b": 1, "a": [2, {"d": 3, "c": 4}]}}
        ]);
        for value in [parsed, built] {
            assert_eq!(t.render(&RenderArgs::new(Json::from(value))).unwrap(), text);
        }
        assert_eq!(
            t.render(&RenderArgs::new(Json::parse(text).unwrap()))
                .unwrap(),
            text
        );
    }

    #[test]
    fn generation_tags_become_plain_blocks() {
        assert_eq!(
            generation_as_if(
                "a{%- generation +%}b{% endgeneration -%}c{% generationx %}{{ '{%' }}"
            ),
            "a{%- if true +%}b{% endif -%}c{% generationx %}{{ '{%' }}"
        );
    }
}
