//! Decode-step GEMV throughput against the DRAM read peak.
//!
//! Run with `cargo run -p ferrite-kernels --release --example decode_gemv [-- f16|bf16|f32 [ROUNDS]]`.
//! Streams a TinyLlama-shaped set of weights (22 layers of q, k, v, o, gate, up, down plus
//! the output head: 1.03 G elements) through `gemm` with a 1-row A, as one generation step
//! does. Each round reads the same memory with the fastest plain reader (`read_peak`)
//! right before and right after the step, and divides the step's rate by the higher of
//! the two, so that both see the same background load on a shared machine; the median
//! and quartiles of that ratio over the rounds are printed, and of the ratio to a plain
//! two-thread sum (no software prefetch) read right after.

use ferrite_kernels::{gemm, read_peak, sum, Element, MatRef};
use half::{bf16, f16};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dtype = args.first().map(String::as_str).unwrap_or("f16");
    let rounds = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(12);
    match dtype {
        "f16" => run::<f16>(dtype, rounds, f16::from_f32),
        "bf16" => run::<bf16>(dtype, rounds, bf16::from_f32),
        "f32" => run::<f32>(dtype, rounds, |v| v),
        other => eprintln!("unknown dtype {other}: use f16, bf16 or f32"),
    }
}

fn run<T: Element + Copy + Send + Sync>(dtype: &str, rounds: usize, from_f32: fn(f32) -> T) {
    let (d, kv, ff, vocab, layers) = (2048usize, 256usize, 5632usize, 32000usize, 22usize);
    let mut shapes = Vec::new();
    for _ in 0..layers {
        for (o, i) in [(d, d), (kv, d), (kv, d), (d, d), (ff, d), (ff, d), (d, ff)] {
            shapes.push((o, i));
        }
    }
    shapes.push((vocab, d));
    let total: usize = shapes.iter().map(|(o, i)| o * i).sum();
    let weights: Vec<T> = (0..total)
        .map(|i| from_f32(((i % 13) as f32 - 6.0) * 1e-3))
        .collect();
    let bytes = std::mem::size_of_val(weights.as_slice());
    let x: Vec<f32> = (0..ff).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut y = vec![0.0f32; vocab];
    let mut step = || {
        let mut off = 0;
        for &(o, i) in &shapes {
            let w = MatRef::row_major(&weights[off..off + o * i], o, i).expect("view");
            let a = MatRef::row_major(&x[..i], 1, i).expect("view");
            gemm(a, w.t(), &mut y[..o], o, false).expect("gemm");
            off += o * i;
        }
        black_box(&y);
    };
    // SAFETY: any bit pattern is a valid u8, and the slice covers exactly the weights.
    let raw: &[u8] = unsafe { std::slice::from_raw_parts(weights.as_ptr().cast(), bytes) };
    let read = || {
        let t = Instant::now();
        black_box(read_peak(black_box(raw)));
        t.elapsed().as_secs_f64()
    };
    // The same bytes summed as f32 by two threads, each over one half: what the hardware
    // prefetchers alone deliver, for comparison. The fill above keeps them normal floats.
    let as_f32: &[f32] = unsafe { std::slice::from_raw_parts(weights.as_ptr().cast(), bytes / 4) };
    let plain_sum = || {
        let t = Instant::now();
        let (lo, hi) = as_f32.split_at(as_f32.len() / 2);
        let (a, b) = rayon::join(|| sum(black_box(lo)), || sum(black_box(hi)));
        black_box(a + b);
        t.elapsed().as_secs_f64()
    };
    step();
    let (mut vs_peak, mut vs_sum) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let before = read();
        let t = Instant::now();
        step();
        let s = t.elapsed().as_secs_f64();
        let after = read();
        vs_peak.push(before.min(after) / s);
        vs_sum.push(plain_sum() / s);
    }
    let median = |r: &mut Vec<f64>| {
        r.sort_by(f64::total_cmp);
        let q = |p: usize| 100.0 * r[(r.len() - 1) * p / 4];
        format!("median {:.1}% (quartiles {:.1}-{:.1}%)", q(2), q(1), q(3))
    };
    println!(
        "{:.2} GB of {dtype} weights per step, {rounds} rounds: step / read peak {}; step / plain sum {}",
        bytes as f64 / 1e9,
        median(&mut vs_peak),
        median(&mut vs_sum)
    );
}
