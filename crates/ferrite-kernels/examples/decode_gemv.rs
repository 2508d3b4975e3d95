//! Decode-step GEMV throughput against the DRAM read peak.
//!
//! Run with `cargo run -p ferrite-kernels --release --example decode_gemv [-- huge]`.
//! Streams a TinyLlama-shaped set of f16 weights (22 layers of q, k, v, o, gate, up, down
//! plus the output head: 2.07 GB) through `gemm` with a 1-row A, as one generation step
//! does, and prints GB/s next to the read peak of the same memory (a plain sum over it,
//! one half per thread), each the best of a round of runs, the two alternated so that
//! both see the same background load. `huge` asks for transparent huge pages.

use ferrite_kernels::{gemm, sum, MatRef};
use half::f16;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let huge = std::env::args().any(|a| a == "huge");
    let (d, kv, ff, vocab, layers) = (2048usize, 256usize, 5632usize, 32000usize, 22usize);
    let mut shapes = Vec::new();
    for _ in 0..layers {
        for (o, i) in [(d, d), (kv, d), (kv, d), (d, d), (ff, d), (ff, d), (d, ff)] {
            shapes.push((o, i));
        }
    }
    shapes.push((vocab, d));
    let total: usize = shapes.iter().map(|(o, i)| o * i).sum();
    let mut map = memmap2::MmapMut::map_anon(total * 2).expect("map");
    // SAFETY (the slices over `map` below): the mapping is `total` u16s long, page-aligned,
    // and outlives them.
    if huge {
        map.advise(memmap2::Advice::HugePage).expect("madvise");
    }
    {
        let words: &mut [u16] =
            unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr().cast(), total) };
        for (i, w) in words.iter_mut().enumerate() {
            *w = f16::from_f32(((i % 13) as f32 - 6.0) * 1e-3).to_bits();
        }
    }
    let weights: &[f16] = unsafe { std::slice::from_raw_parts(map.as_ptr().cast(), total) };
    let x: Vec<f32> = (0..ff).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut y = vec![0.0f32; vocab];
    let step = || {
        let mut off = 0;
        for &(o, i) in &shapes {
            let w = MatRef::row_major(&weights[off..off + o * i], o, i).expect("view");
            let a = MatRef::row_major(&x[..i], 1, i).expect("view");
            gemm(a, w.t(), &mut y[..o], o, false).expect("gemm");
            off += o * i;
        }
        black_box(&y);
    };
    let mut step = step;
    let bytes = (total * 2) as f64;
    // The same bytes as f32, for the read peak.
    let as_f32: &[f32] = unsafe { std::slice::from_raw_parts(map.as_ptr().cast(), total / 2) };
    let read_all = || {
        let (lo, hi) = as_f32.split_at(as_f32.len() / 2);
        let (a, b) = rayon::join(|| sum(black_box(lo)), || sum(black_box(hi)));
        black_box(a + b);
    };
    let secs = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    step();
    for round in 0..3 {
        let (mut gemv, mut read) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..4 {
            gemv = gemv.min(secs(&mut step));
            read = read.min(secs(&mut { read_all }));
        }
        let (g, r) = (bytes / gemv / 1e9, bytes / read / 1e9);
        println!(
            "round {round}: step {:.1} ms = {g:.1} GB/s; read peak {r:.1} GB/s; step / peak {:.0}%",
            gemv * 1e3,
            100.0 * g / r
        );
    }
}
