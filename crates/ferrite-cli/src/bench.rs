//! `ferrite bench MODEL`: prompt-processing and generation speed, as
//! llama-bench reports them (pp512 and tg128 by default).

use std::path::PathBuf;

use ferrite_engine::bench::{generation_speed, prompt_speed, Speed};
use ferrite_models::WeightMemory;
use serde_json::json;

use crate::load::{load_model, MemoryArgs};
use crate::output::{human_bytes, print};
use crate::progress::Steps;

#[derive(clap::Args)]
pub struct Args {
    /// A Hugging Face model directory or a GGUF file
    model: PathBuf,
    /// Prompt tokens processed in one batch (0 skips)
    #[arg(long, short = 'p', default_value_t = 512)]
    n_prompt: usize,
    /// Tokens generated one at a time (0 skips)
    #[arg(long, short = 'n', default_value_t = 128)]
    n_gen: usize,
    /// Repetitions of each test (after one warm-up)
    #[arg(long, short = 'r', default_value_t = 3)]
    repetitions: usize,
    /// Print {"pp_tokens_per_s": ..., "tg_tokens_per_s": ..., "threads": ...}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    memory: MemoryArgs,
}

pub fn run(args: Args) -> crate::Result<()> {
    let loaded = load_model(&args.model, &args.memory)?;
    let ctx = loaded.model.config().max_position_embeddings;
    for (name, n) in [("--n-prompt", args.n_prompt), ("--n-gen", args.n_gen)] {
        if n > ctx {
            return Err(format!("{name} {n} exceeds the model's context of {ctx}").into());
        }
    }
    if args.repetitions == 0 {
        return Err("--repetitions must be at least 1".into());
    }
    let threads = rayon::current_num_threads();
    let reps = args.repetitions;
    // Each test runs for seconds to minutes: say which one is running.
    let steps = Steps::new();
    let runs = format!("1 warm-up + {reps} run{}", if reps == 1 { "" } else { "s" });
    let pp = (args.n_prompt > 0)
        .then(|| {
            steps.step(&format!("bench: pp{} ({runs})", args.n_prompt));
            prompt_speed(&loaded.model, args.n_prompt, reps)
        })
        .transpose()?;
    let tg = (args.n_gen > 0)
        .then(|| {
            steps.step(&format!("bench: tg{} ({runs})", args.n_gen));
            generation_speed(&loaded.model, args.n_gen, reps)
        })
        .transpose()?;
    drop(steps);
    let decode_bytes = loaded.model.decode_weight_bytes();
    if args.json {
        let j = json!({
            "model": args.model.display().to_string(),
            "parameters": loaded.summary.parameters,
            "weight_bytes": loaded.summary.weight_bytes,
            "decode_weight_bytes": decode_bytes,
            "weights_in_memory": loaded.summary.memory == WeightMemory::Resident,
            "threads": threads,
            "n_prompt": args.n_prompt,
            "n_gen": args.n_gen,
            "pp_tokens_per_s": pp.as_ref().map(Speed::mean),
            "pp_stddev": pp.as_ref().map(Speed::stddev),
            "tg_tokens_per_s": tg.as_ref().map(Speed::mean),
            "tg_stddev": tg.as_ref().map(Speed::stddev),
            "tg_read_gbs": tg.as_ref().map(|t| &t.read_gbs),
            "tg_fraction_of_bound": tg.as_ref().and_then(|t| t.fraction_of_bound(decode_bytes)),
        });
        return print(&format!("{j}\n"));
    }
    let s = &loaded.summary;
    let mut out = String::from(
        "| model | size | params | threads | test | t/s |\n|---|---|---|---|---|---|\n",
    );
    let name = args
        .model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (test, speed) in [("pp", &pp), ("tg", &tg)] {
        if let Some(sp) = speed {
            out += &format!(
                "| {name} {} | {} | {:.2} M | {threads} | {test}{} | {:.2} ± {:.2} |\n",
                s.dtype,
                human_bytes(s.weight_bytes as u64),
                s.parameters as f64 / 1e6,
                sp.tokens,
                sp.mean(),
                sp.stddev()
            );
        }
    }
    if let Some(t) = &tg {
        if let (Some(fraction), Some(gbs)) =
            (t.fraction_of_bound(decode_bytes), t.read_gbs_median())
        {
            out += &format!(
                "\ntg{}: streamed its {} of weights per token at {:.0}% of the rate \
                 a plain read of them reached around each run ({gbs:.1} GB/s)\n",
                t.tokens,
                human_bytes(decode_bytes as u64),
                fraction * 100.0,
            );
        }
    }
    print(&out)
}
