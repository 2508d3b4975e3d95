//! `ferrite`: the command-line tool. Each subcommand lives in its own module
//! with a clap `Args` struct and a `run` function; add one by adding a module
//! and a variant to [`Command`].

mod bench;
mod chat;
mod convert;
mod info;
mod interrupt;
mod load;
mod output;
mod perplexity;
mod progress;
mod run;
mod sampling_args;
mod template;
mod tokenize;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ferrite",
    version,
    about = "Ferrite: run and inspect ML models"
)]
struct Cli {
    /// Threads for computation [default: one per core]
    #[arg(long, short = 't', global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model file's metadata and tensors
    Info(info::Args),
    /// Convert between safetensors and GGUF; a Hugging Face model directory to a llama.cpp GGUF
    Convert(convert::Args),
    /// Generate text from a prompt (streams to stdout)
    Run(run::Args),
    /// Chat with a model in the terminal
    Chat(chat::Args),
    /// Print the token ids of a text
    Tokenize(tokenize::Args),
    /// Print the prompt a model's chat template renders for some messages
    Template(template::Args),
    /// Perplexity of a text, as llama-perplexity computes it
    Perplexity(perplexity::Args),
    /// Prompt-processing and generation speed, as llama-bench reports them
    Bench(bench::Args),
}

/// Installs the CPU backend, the thread pool and the Ctrl-C handler.
fn configure(threads: Option<usize>) -> Result<()> {
    if threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| format!("cannot start {n} threads: {e}"))?;
    }
    ferrite_cpu::install();
    interrupt::install();
    Ok(())
}

/// What every subcommand returns; the message is printed as one line.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "ferrite: internal error: {}{at}",
            output::printable(&msg.replace('\n', " "))
        );
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message spans several lines; keep its text, drop the usage block.
            let text = e.to_string();
            let lines: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("{} (see 'ferrite --help')", lines.join(" "));
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = configure(cli.threads) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Info(args) => info::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Run(args) => run::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Tokenize(args) => tokenize::run(args),
        Command::Template(args) => template::run(args),
        Command::Perplexity(args) => perplexity::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: {}",
                output::printable(&e.to_string().replace('\n', " "))
            );
            ExitCode::FAILURE
        }
    }
}
