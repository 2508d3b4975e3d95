//! `continue_final_message`: render the conversation so that its last message
//! stays open and the model continues it (prefilling a reply). Templates
//! always close a message, so, as transformers does, the text is tagged before
//! rendering and the render is cut at the tag.

use crate::{Error, Result};
use minijinja::value::ValueKind;
use minijinja::Value;

const TAG: &str = "CONTINUE_FINAL_MESSAGE_TAG ";
const REASONING_FIELDS: [&str; 3] = ["reasoning_content", "thinking", "reasoning"];

/// A message as key/value pairs in their order.
pub(crate) type Message = Vec<(Value, Value)>;

fn get<'a>(message: &'a Message, key: &str) -> Option<&'a Value> {
    message
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn input(msg: impl Into<String>) -> Error {
    Error::Input(msg.into())
}

/// Tags `field` of the last message; returns the text the render must keep.
pub(crate) fn mark(messages: &mut [Message], field: &str, source: &str) -> Result<String> {
    let last = messages
        .last_mut()
        .ok_or_else(|| input("continue_final_message is set but the conversation is empty!"))?;
    let Some(final_message) = get(last, field).cloned() else {
        return Err(input(format!(
            "continue_final_message is set but the final message has no \"{field}\" to continue!"
        )));
    };
    // Reasoning is copied under several names; whichever the template reads is tagged.
    let fields: Vec<String> = if REASONING_FIELDS.contains(&field) {
        REASONING_FIELDS
            .iter()
            .filter(|f| get(last, f) == Some(&final_message))
            .map(|f| f.to_string())
            .collect()
    } else {
        vec![field.to_string()]
    };
    if !fields.iter().any(|f| source.contains(f.as_str())) {
        return Err(input(format!(
            "continue_final_message is set to \"{field}\" but this is not an accepted field in the chat_template"
        )));
    }
    if final_message.kind() == ValueKind::Seq {
        let mut blocks: Vec<Value> = final_message
            .try_iter()
            .map_err(|e| input(e.to_string()))?
            .collect();
        // The last block with text is the one continued.
        let found = blocks
            .iter()
            .rposition(|b| b.get_attr("text").is_ok_and(|t| !t.is_undefined()));
        let Some(i) = found else {
            return Err(input(
                "continue_final_message is set but we could not find any text to continue in the final message!",
            ));
        };
        let block = &blocks[i];
        let mut pairs: Message = Vec::new();
        let mut text = String::new();
        for key in block.try_iter().map_err(|e| input(e.to_string()))? {
            let mut value = block.get_item(&key).unwrap_or_default();
            if key.as_str() == Some("text") {
                text = value.as_str().unwrap_or_default().to_string();
                value = Value::from(format!("{text}{TAG}"));
            }
            pairs.push((key, value));
        }
        blocks[i] = Value::from_pairs(pairs);
        if let Some(slot) = last.iter_mut().find(|(k, _)| k.as_str() == Some(field)) {
            slot.1 = Value::from(blocks);
        }
        return Ok(text);
    }
    let Some(text) = final_message.as_str().map(str::to_string) else {
        return Err(input(format!(
            "the final message's \"{field}\" is not text to continue"
        )));
    };
    for (key, value) in last.iter_mut() {
        if key.as_str().is_some_and(|k| fields.iter().any(|f| f == k)) {
            *value = Value::from(format!("{}{TAG}", value.as_str().unwrap_or_default()));
        }
    }
    Ok(text)
}

/// Cuts the render just before the tag, as transformers does: where the
/// template kept the tag's trailing space, exactly there; where it trimmed
/// the message, the whitespace before the tag goes too.
pub(crate) fn cut(rendered: &str, final_text: &str) -> Result<String> {
    let tag = TAG.trim();
    let Some(at) = rendered
        .rfind(tag)
        .filter(|_| rendered.contains(final_text.trim()))
    else {
        return Err(input(format!(
            "continue_final_message is set but the final message does not appear in the chat after \
             applying the chat template! This can happen if the chat template deletes portions of the \
             final message. Please verify the chat template and final message in your chat to ensure \
             they are compatible.Final message to continue: {}\nRendered chat:\n{rendered}",
            final_text.trim()
        )));
    };
    Ok(if rendered[at..].starts_with(TAG) {
        rendered[..at].to_string()
    } else {
        rendered[..at].trim_end().to_string()
    })
}
