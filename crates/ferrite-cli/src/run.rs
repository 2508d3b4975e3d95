//! `ferrite run [MODEL] [PROMPT]`: stream a continuation (or, with `--chat`,
//! an answer) to stdout.

use std::io::{IsTerminal, Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ferrite_chat::Json;
use ferrite_engine::{Completion, Engine};

use crate::interrupt;
use crate::sampling_args::GenArgs;

#[derive(clap::Args)]
pub struct Args {
    /// A Hugging Face model directory or a GGUF file, then the prompt. With one
    /// argument that is not a path, it is the prompt and the built-in tiny
    /// model is used; with no prompt, it is read from stdin when piped.
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
    let engine = load_engine(&model, args.template.as_deref())?;
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

/// Loads a model (or the default one), printing the one-line load summary.
pub fn load_engine(model: &Path, template: Option<&Path>) -> crate::Result<Engine> {
    let mut builder = Engine::builder().model(model);
    if let Some(t) = template {
        let src =
            std::fs::read_to_string(t).map_err(|e| format!("{}: cannot read: {e}", t.display()))?;
        builder = builder.chat_template(src);
    }
    let spinner = crate::progress::spinner(&format!("loading {}", model.display()));
    let engine = builder.build()?;
    spinner.finish_and_clear();
    eprintln!("{}: {}", model.display(), engine.summary());
    Ok(engine)
}

/// Splits `[MODEL] [PROMPT]`: a first argument that names an existing file or
/// directory is the model.
fn resolve(pos: &[String]) -> crate::Result<(PathBuf, Option<String>)> {
    match pos {
        [] => Ok((ferrite_engine::default_model::ensure()?, None)),
        [one] if Path::new(one).exists() => Ok((PathBuf::from(one), None)),
        [one] => Ok((ferrite_engine::default_model::ensure()?, Some(one.clone()))),
        [model, prompt, ..] => {
            if !Path::new(model).exists() {
                return Err(format!("{model}: no such model file or directory").into());
            }
            Ok((PathBuf::from(model), Some(prompt.clone())))
        }
    }
}
