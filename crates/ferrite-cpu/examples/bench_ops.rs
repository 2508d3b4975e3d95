//! Times the benchmark shapes on Ferrite and prints one JSON object
//! per line: `{"name", "shape", "ferrite_s", "flops"?, "bytes"?}` (median
//! seconds). `bench/vs_mlx.py` runs the same shapes in MLX and adds ratios.
//!
//! Run: `cargo run --release -p ferrite-cpu --example bench_ops [-- NAME_FILTER]`

use ferrite_core::prim::RopeLayout;
use ferrite_core::{Array, DType, Result};
use std::time::Instant;

fn median_secs(mut f: impl FnMut() -> Result<()>, min_runs: usize, budget_s: f64) -> Result<f64> {
    f()?; // warm-up: fills the buffer pool and caches
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min_runs || (start.elapsed().as_secs_f64() < budget_s && times.len() < 1000) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}

fn rand(shape: &[usize], seed: u64, dtype: DType) -> Result<Array> {
    let a = Array::random_normal(shape, 0.0, 1.0, seed, DType::F32)?.astype(dtype)?;
    a.eval()?;
    Ok(a)
}

struct Report<'a> {
    filter: &'a str,
}

impl Report<'_> {
    fn run(&self, name: &str, shape: &str, work: &str, f: impl FnMut() -> Result<()>) -> Result<()> {
        if !name.contains(self.filter) {
            return Ok(());
        }
        let secs = median_secs(f, 5, 2.0)?;
        println!("{{\"name\": \"{name}\", \"shape\": \"{shape}\", \"ferrite_s\": {secs:.9}{work}}}");
        Ok(())
    }
}

fn main() -> Result<()> {
    ferrite_cpu::install();
    let filter = std::env::args().nth(1).unwrap_or_default();
    let r = Report { filter: &filter };

    for (m, k, n) in [(1, 2048, 2048), (512, 2048, 2048), (2048, 2048, 5632)] {
        for dtype in [DType::F32, DType::BF16] {
            let (a, b) = (rand(&[m, k], 1, dtype)?, rand(&[k, n], 2, dtype)?);
            let flops = 2.0 * (m * k * n) as f64;
            let name = format!("matmul_{dtype}");
            r.run(&name, &format!("{m}x{k}x{n}"), &format!(", \"flops\": {flops}"), || a.matmul(&b)?.eval())?;
        }
    }
    for shape in [[32usize, 4096], [1, 32000]] {
        let x = rand(&shape, 3, DType::F32)?;
        let w = rand(&shape[1..], 4, DType::F32)?;
        let bytes = format!(", \"bytes\": {}", 2 * 4 * shape[0] * shape[1]);
        let s = format!("{}x{}", shape[0], shape[1]);
        r.run("softmax", &s, &bytes, || x.softmax(-1)?.eval())?;
        r.run("rms_norm", &s, &bytes, || x.rms_norm(Some(&w), 1e-5)?.eval())?;
    }
    let x = rand(&[1, 32, 512, 64], 5, DType::F32)?;
    let bytes = format!(", \"bytes\": {}", 2 * 4 * 32 * 512 * 64);
    r.run("rope", "1x32x512x64", &bytes, || x.rope(64, RopeLayout::SplitHalves, 10000.0, 1.0, 0, None)?.eval())?;

    let q = rand(&[1, 32, 1, 128], 6, DType::F32)?;
    let (kc, vc) = (rand(&[1, 4, 1024, 128], 7, DType::F32)?, rand(&[1, 4, 1024, 128], 8, DType::F32)?);
    let bytes = format!(", \"bytes\": {}", 2 * 4 * 4 * 1024 * 128);
    r.run("attention_decode", "q1x32x1x128_kv1x4x1024x128", &bytes, || {
        Array::attention(&q, &kc, &vc, 1.0 / (128f32).sqrt(), false, None)?.eval()
    })?;

    for shape in [[64usize, 5632], [2048, 5632]] {
        let (a, b) = (rand(&shape, 9, DType::F32)?, rand(&shape, 10, DType::F32)?);
        let s = format!("{}x{}", shape[0], shape[1]);
        let bytes = format!(", \"bytes\": {}", 3 * 4 * shape[0] * shape[1]);
        r.run("silu_mul_fused", &s, &bytes, || a.silu()?.mul(&b)?.eval())?;
        r.run("silu_mul_unfused", &s, &bytes, || {
            let s = a.silu()?;
            s.eval()?;
            s.mul(&b)?.eval()
        })?;
    }

    let nodes = 1000;
    let x = rand(&[4], 11, DType::F32)?;
    r.run("graph_overhead_per_node", "1000 adds on [4]", ", \"nodes\": 1000", || {
        let mut y = x.clone();
        for _ in 0..nodes {
            y = y.add(&x)?;
            y.eval()?;
        }
        Ok(())
    })?;
    Ok(())
}
