//! `ferrite chat MODEL`: an interactive conversation in the terminal. The
//! whole conversation is rendered with the chat template each turn; the KV
//! cache keeps the part already run, so only the new turn is processed.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use ferrite_chat::Json;
use serde_json::json;

use crate::load::{load_engine, MemoryArgs};
use crate::run::{stats_line, stream_to_stdout};
use crate::sampling_args::GenArgs;

#[derive(clap::Args)]
pub struct Args {
    /// A Hugging Face model directory or a GGUF file
    model: PathBuf,
    /// A system message that starts the conversation
    #[arg(long)]
    system: Option<String>,
    /// A chat template file to use instead of the model's
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// Print token counts and speeds after each answer
    #[arg(long)]
    stats: bool,
    #[command(flatten)]
    gen: GenArgs,
    #[command(flatten)]
    memory: MemoryArgs,
}

pub fn run(args: Args) -> crate::Result<()> {
    let engine = load_engine(&args.model, args.template.as_deref(), &args.memory)?;
    let opts = args.gen.options(engine.default_sampling());
    // Messages are `json!` objects, whose keys keep the order written
    // (serde_json's `preserve_order`): role, then content, as transformers'
    // callers build them, for templates that print whole messages.
    let start = || -> Vec<serde_json::Value> {
        args.system
            .iter()
            .map(|s| json!({"role": "system", "content": s}))
            .collect()
    };
    // Fail now, not after the first question, if the model has no template.
    engine.templates().select(false)?;
    eprintln!(
        "Chat with {}. Ctrl-C stops an answer; /clear starts over; /exit or Ctrl-D quits.",
        args.model.display()
    );
    let mut messages = start();
    let mut session = engine.new_session();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        eprint!("> ");
        let _ = std::io::stderr().flush();
        let Some(line) = lines.next() else {
            eprintln!();
            return Ok(());
        };
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        match line.trim() {
            "" => continue,
            "/exit" | "/quit" => return Ok(()),
            "/clear" => {
                messages = start();
                session = engine.new_session();
                continue;
            }
            _ => {}
        }
        messages.push(json!({"role": "user", "content": line}));
        let prompt = engine.render_chat(&Json::from_serialize(&messages), true)?;
        let ids = engine.encode_prompt(&prompt)?;
        args.gen.show_prompt(&prompt, &ids);
        if ids.len() >= engine.context_length() {
            // The conversation outgrew the context: say so, drop this turn,
            // and keep the program (and its history) alive.
            messages.pop();
            eprintln!(
                "error: the conversation has {} tokens; the model's context holds {} (/clear starts over)",
                ids.len(),
                engine.context_length()
            );
            continue;
        }
        let done = stream_to_stdout(&engine, &mut session, &ids, &opts)?;
        println!();
        if args.stats {
            eprintln!("{}", stats_line(&done));
        }
        messages.push(json!({"role": "assistant", "content": done.text}));
    }
}
