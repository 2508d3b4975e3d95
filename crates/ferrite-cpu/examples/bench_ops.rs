//! Times the foundation issue's benchmark cases and prints one JSON object per
//! line: `{"name", "shape", "ferrite_s", "flops"|"bytes"|"nodes"}` (median
//! seconds). `bench/vs_mlx.py` runs the same cases in MLX and adds ratios.
//!
//! Run: `cargo run --release -p ferrite-cpu --example bench_ops [-- NAME_FILTER]`

#[path = "../benches/cases/mod.rs"]
mod cases;

use std::time::Instant;

fn main() -> ferrite_core::Result<()> {
    ferrite_cpu::install();
    let filter = std::env::args().nth(1).unwrap_or_default();
    for mut c in cases::cases(&filter)? {
        (c.run)()?; // warm-up: fills the buffer pool and caches
        let mut times = Vec::new();
        let start = Instant::now();
        while times.len() < 5 || (start.elapsed().as_secs_f64() < 2.0 && times.len() < 1000) {
            let t = Instant::now();
            (c.run)()?;
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let median = times[times.len() / 2];
        println!(
            "{{\"name\": \"{}\", \"shape\": \"{}\", \"ferrite_s\": {median:.9}, {}}}",
            c.name,
            c.shape,
            c.work.json()
        );
    }
    Ok(())
}
