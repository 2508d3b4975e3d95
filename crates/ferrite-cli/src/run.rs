//! `ferrite run [MODEL] [PROMPT]`: stream a continuation (or, with `--chat`,
//! an answer) to stdout.

use std::io::{IsTerminal, Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ferrite_chat::Json;
use ferrite_engine::{Completion, Engine};

use crate::interrupt;
use crate::load::{load_engine, MemoryArgs};
use crate::sampling_args::GenArgs;

#[derive(clap::Args)]
pub struct Args {
    /// A Hugging Face model directory or a GGUF file, then the prompt. One
    /// argument is the model if it names an existing path, an error if it
    /// looks like a path (ends in .gguf or .safetensors, or contains a path
    /// separator and no spaces) but names nothing, and otherwise the prompt
    /// for the built-in tiny model. With no prompt, it is read from stdin when
    /// piped.
    #[arg(num_args = 0..=2, value_name = "MODEL PROMPT")]
    positional: Vec<String>,
    /// Apply the model's chat template to the prompt (as one user message)
    #[arg(long)]
    chat: bool,
    /// A system message (with --chat)
    #[arg(long, requires = "chat")]
    system: Option<String>,
    /// A chat template file to use instead of the model's
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    #[command(flatten)]
    gen: GenArgs,
    #[command(flatten)]
    memory: MemoryArgs,
}

/// The prompt when none is given and stdin is a terminal.
const DEFAULT_PROMPT: &str = "Once upon a time";

pub fn run(args: Args) -> crate::Result<()> {
    let (model, prompt) = resolve(&args.positional)?;
    let prompt = match prompt {
        Some(p) => p,
        None if !std::io::stdin().is_terminal() => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the prompt from stdin: {e}"))?;
            s
        }
        None => DEFAULT_PROMPT.to_string(),
    };
    let engine = load_engine(&model, args.template.as_deref(), &args.memory)?;
    let opts = args.gen.options(engine.default_sampling());
    let text = if args.chat {
        // `json!` keeps keys as written (serde_json's `preserve_order`):
        // role, then content, as transformers' callers build messages.
        let mut messages = vec![];
        if let Some(s) = &args.system {
            messages.push(serde_json::json!({"role": "system", "content": s}));
        }
        messages.push(serde_json::json!({"role": "user", "content": prompt}));
        engine.render_chat(&Json::from_serialize(&messages), true)?
    } else {
        prompt
    };
    let ids = engine.encode_prompt(&text)?;
    args.gen.show_prompt(&text, &ids);
    let done = stream_to_stdout(&engine, &mut engine.new_session(), &ids, &opts)?;
    println!();
    eprintln!("{}", stats_line(&done));
    Ok(())
}

/// Generates from `ids`, printing text as it comes; Ctrl-C ends the answer.
pub fn stream_to_stdout(
    engine: &Engine,
    session: &mut ferrite_engine::Session,
    ids: &[u32],
    opts: &ferrite_engine::GenerateOptions,
) -> crate::Result<Completion> {
    let mut out = std::io::stdout();
    let _generating = interrupt::generating();
    Ok(engine.generate_tokens(session, ids, opts, |piece| {
        let _ = out.write_all(piece.as_bytes()).and_then(|()| out.flush());
        if interrupt::take() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?)
}

/// One line of counts and speeds for stderr.
pub fn stats_line(c: &Completion) -> String {
    let s = &c.stats;
    format!(
        "prompt: {} tokens, {:.1} tokens/s | generated: {} tokens, {:.1} tokens/s | finish: {:?}",
        s.prompt_tokens,
        s.prompt_tokens_per_s(),
        s.generated_tokens,
        s.generate_tokens_per_s(),
        c.finish
    )
}

/// Splits `[MODEL] [PROMPT]`: a first argument that names an existing file or
/// directory is the model. A lone argument that looks like a model path but
/// names nothing is an error: running the default model with a mistyped file
/// name as its prompt would hide the mistake.
fn resolve(pos: &[String]) -> crate::Result<(PathBuf, Option<String>)> {
    match pos {
        [] => Ok((ferrite_engine::default_model::ensure()?, None)),
        [one] if Path::new(one).exists() => Ok((PathBuf::from(one), None)),
        [one] if looks_like_model_path(one) => Err(no_such_model(one)),
        [one] => Ok((ferrite_engine::default_model::ensure()?, Some(one.clone()))),
        [model, prompt, ..] => {
            if !Path::new(model).exists() {
                return Err(no_such_model(model));
            }
            Ok((PathBuf::from(model), Some(prompt.clone())))
        }
    }
}

fn no_such_model(path: &str) -> Box<dyn std::error::Error> {
    format!("{path}: no such model file or directory").into()
}

/// Whether `arg` is meant as a model path rather than a prompt: it is named
/// like a model file, starts like a path, or is one word with a separator
/// (`models/llama`). A prompt with spaces and a slash ("what is 3/4?") stays
/// a prompt.
fn looks_like_model_path(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    let model_file = [".gguf", ".safetensors"]
        .iter()
        .any(|ext| lower.ends_with(ext));
    let path_start = ["/", "./", "../", "~/"].iter().any(|p| arg.starts_with(p));
    let one_word_path =
        arg.chars().any(std::path::is_separator) && !arg.chars().any(char::is_whitespace);
    model_file || path_start || one_word_path
}

#[cfg(test)]
mod tests {
    use super::looks_like_model_path;

    #[test]
    fn model_paths_and_prompts() {
        for path in [
            "nonexistent.gguf",
            "My Model.GGUF",
            "model.safetensors",
            "models/llama",
            "./llama",
            "/opt/My Models/llama",
        ] {
            assert!(looks_like_model_path(path), "{path}");
        }
        for prompt in [
            "Hello there",
            "hi",
            "what is 3/4?",
            "Tell me about a.gguf file",
        ] {
            assert!(!looks_like_model_path(prompt), "{prompt}");
        }
    }
}
