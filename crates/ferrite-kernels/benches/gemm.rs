//! GEMM throughput for the decode (m = 1) and prefill shapes, f32 and bf16.
//!
//! `cargo bench -p ferrite-kernels --bench gemm`; `FERRITE_ISA=avx2` etc. forces a path.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrite_kernels::{gemm, MatRef};
use half::bf16;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const SHAPES: [(usize, usize, usize); 3] = [(1, 2048, 2048), (512, 2048, 2048), (2048, 2048, 5632)];

fn bench(c: &mut Criterion) {
    let mut r = StdRng::seed_from_u64(0);
    let mut g = c.benchmark_group("gemm");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (m, k, n) in SHAPES {
        let a: Vec<f32> = (0..m * k).map(|_| r.gen_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| r.gen_range(-1.0..1.0)).collect();
        let a16: Vec<bf16> = a.iter().map(|&x| bf16::from_f32(x)).collect();
        let b16: Vec<bf16> = b.iter().map(|&x| bf16::from_f32(x)).collect();
        let mut out = vec![0.0f32; m * n];
        g.throughput(Throughput::Elements((2 * m * n * k) as u64));
        let id = format!("{m}x{k}x{n}");
        let (Ok(am), Ok(bm)) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n)) else {
            continue;
        };
        g.bench_function(BenchmarkId::new("f32", &id), |bch| {
            bch.iter(|| gemm(am, bm, &mut out, n, false))
        });
        // B given transposed (an n x k weight), as a linear layer stores it.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        if let Ok(btm) = MatRef::row_major(&bt, n, k) {
            g.bench_function(BenchmarkId::new("f32_bT", &id), |bch| {
                bch.iter(|| gemm(am, btm.t(), &mut out, n, false))
            });
        }
        let (Ok(am), Ok(bm)) = (MatRef::row_major(&a16, m, k), MatRef::row_major(&b16, k, n))
        else {
            continue;
        };
        g.bench_function(BenchmarkId::new("bf16", &id), |bch| {
            bch.iter(|| gemm(am, bm, &mut out, n, false))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
