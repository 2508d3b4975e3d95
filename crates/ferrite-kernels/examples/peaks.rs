//! Machine peaks and GEMM throughput.
//!
//! Run with `cargo run -p ferrite-kernels --release --example peaks [-- bandwidth|dram]`;
//! `bandwidth` measures only (c) and (d), `dram` only the DRAM read rate of (c).
//! Measures (a) the AVX-512 FMA peak, (b) the `vdpbf16ps` peak, single core and all
//! cores, (c) DRAM and L2-resident read bandwidth, (d) read+write bandwidth (copy and
//! `c = a * b`) with L2-, L3- and DRAM-sized buffers, and (e) GEMM GFLOP/s with % of peak,
//! on one thread and on all threads (a dedicated rayon pool each). All timings are the
//! best of several runs, which filters out interference from other processes.

use ferrite_kernels::isa::with_bf16_dot;
use ferrite_kernels::{gemm, gemm_f32, read_peak, sum, MatRef};
use half::bf16;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Best time of `reps` runs (after one warm-up run).
fn best_of(reps: usize, mut f: impl FnMut()) -> Duration {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Runs `f(thread_index)` on `threads` OS threads at once; returns the sum of results.
fn on_threads(threads: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                s.spawn({
                    let f = &f;
                    move || f(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(f64::NAN))
            .sum()
    })
}

#[cfg(target_arch = "x86_64")]
mod loops {
    use std::arch::x86_64::*;

    /// 16 independent accumulators: more than latency (4) x ports (2) needs.
    const ACC: usize = 16;

    /// Returns the flops performed (2 per lane per FMA).
    #[target_feature(enable = "avx512f")]
    pub fn fma(iters: usize) -> f64 {
        let mut acc = [_mm512_set1_ps(0.0); ACC];
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(1e-7);
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for x in acc {
            s = _mm512_add_ps(s, x);
        }
        std::hint::black_box(s);
        (iters * ACC * 16 * 2) as f64
    }

    /// Returns the flops performed (2 products + 2 adds per lane per instruction).
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub fn dpbf16(iters: usize) -> f64 {
        let mut acc = [_mm512_set1_ps(0.0); ACC];
        let a: __m512bh = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3), _mm512_set1_ps(1e-3));
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_dpbf16_ps(*x, a, a);
            }
        }
        let mut s = _mm512_setzero_ps();
        for x in acc {
            s = _mm512_add_ps(s, x);
        }
        std::hint::black_box(s);
        (iters * ACC * 16 * 4) as f64
    }

    /// `dst = src`, or `dst = src * src2` when `src2` is given: the traffic of a unary or
    /// binary element-wise op. `stream` uses non-temporal stores, which skip the read
    /// for ownership of each written line. Lengths are multiples of 64 floats.
    #[target_feature(enable = "avx512f")]
    pub fn rw(src: &[f32], src2: Option<&[f32]>, dst: &mut [f32], stream: bool) {
        let n = dst.len().min(src.len()) / 64 * 64;
        let (a, d) = (src.as_ptr(), dst.as_mut_ptr());
        let b = src2.map(<[f32]>::as_ptr);
        // SAFETY: every access is below `n`, within all slices (`src2` is as long as `src`).
        unsafe {
            for i in (0..n).step_by(64) {
                let mut v = [_mm512_setzero_ps(); 4];
                for (k, x) in v.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(a.add(i + 16 * k));
                    if let Some(b) = b {
                        *x = _mm512_mul_ps(*x, _mm512_loadu_ps(b.add(i + 16 * k)));
                    }
                }
                for (k, x) in v.into_iter().enumerate() {
                    if stream {
                        _mm512_stream_ps(d.add(i + 16 * k), x);
                    } else {
                        _mm512_storeu_ps(d.add(i + 16 * k), x);
                    }
                }
            }
            if stream {
                _mm_sfence();
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn compute_peak(name: &str, threads: usize, f: fn(usize) -> f64) -> f64 {
    let iters = 20_000_000;
    let mut flops = 0.0;
    let t = best_of(3, || flops = on_threads(threads, |_| f(iters)));
    let g = flops / t.as_secs_f64() / 1e9;
    println!("{name:<28} {threads} thread(s): {g:8.1} GFLOP/s");
    g
}

fn bandwidth(name: &str, bytes: usize, threads: usize, passes: usize) {
    let n = bytes / 4;
    let buf: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let chunk = n / threads;
    let t = best_of(3, || {
        on_threads(threads, |i| {
            let part = &buf[i * chunk..(i + 1) * chunk];
            (0..passes)
                .map(|_| sum(black_box(part)))
                .sum::<f32>()
                .into()
        });
    });
    let gbs = (chunk * threads * 4 * passes) as f64 / t.as_secs_f64() / 1e9;
    println!("{name:<28} {threads} thread(s): {gbs:8.1} GB/s");
}

/// DRAM read bandwidth with [`read_peak`] on every thread (best of 3): the bound that
/// bandwidth-bound kernels are measured against. The buffer is on 2 MiB pages where
/// the kernel has them, as a loaded model's weights are (`WeightMemory::Resident`);
/// on 4 KiB pages the same read runs 8–20% slower here, which would understate it.
fn read_peak_gbs(bytes: usize) {
    let mut buf = memmap2::MmapMut::map_anon(bytes).expect("cannot map the read buffer");
    // Only advice: without huge pages the reading is of 4 KiB pages.
    let _ = buf.advise(memmap2::Advice::HugePage);
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let t = best_of(3, || {
        black_box(read_peak(black_box(&buf)));
    });
    let gbs = bytes as f64 / t.as_secs_f64() / 1e9;
    let threads = ferrite_kernels::team::threads();
    println!(
        "{:<28} {threads} thread(s): {gbs:8.1} GB/s",
        "DRAM read peak (1 GiB)"
    );
}

/// The traffic of one element-wise pass, for [`read_write`].
#[derive(Clone, Copy, PartialEq)]
enum Traffic {
    /// One read and one write per element (rms_norm, softmax, rope, unary ops).
    Copy,
    /// Two reads and one write (binary ops such as silu(a) * b).
    Mul,
    /// As `Copy` with non-temporal stores.
    CopyStream,
}

/// Read+write bandwidth: each thread repeats `passes` passes over its own arrays of
/// `bytes_per_array` each (one source for copies, two for `Mul`, one destination),
/// allocated and first touched by that thread. Counts bytes read plus bytes written, the
/// same accounting as the op benchmarks; the hardware's extra read for ownership of each
/// written line (absent with streaming stores) is not counted.
#[cfg(target_arch = "x86_64")]
fn read_write(name: &str, t: Traffic, bytes_per_array: usize, threads: usize, passes: usize) {
    // `loops::rw` works in blocks of 64 floats.
    let n = bytes_per_array / 4 / 64 * 64;
    let barrier = std::sync::Barrier::new(threads);
    let secs = on_threads(threads, |i| {
        let a = fill(n, i as u32 + 1);
        let b = (t == Traffic::Mul).then(|| fill(n, i as u32 + 7));
        // Streaming stores need 64-byte aligned addresses.
        let mut dbuf = vec![0f32; n + 16];
        let skip = dbuf.as_ptr().align_offset(64).min(16);
        let d = &mut dbuf[skip..skip + n];
        let mut run = || {
            // SAFETY: `main` only calls this after checking avx512f.
            unsafe { loops::rw(&a, b.as_deref(), d, t == Traffic::CopyStream) };
            black_box(d.as_mut_ptr());
        };
        run();
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            // All threads start and end each repetition together, so it lasts as long as
            // the slowest thread: the figure is a true all-threads rate.
            barrier.wait();
            let start = Instant::now();
            for _ in 0..passes {
                run();
            }
            barrier.wait();
            best = best.min(start.elapsed().as_secs_f64());
        }
        // Thread 0's clock speaks for all (`on_threads` sums the results).
        if i == 0 {
            best
        } else {
            0.0
        }
    });
    let arrays = if t == Traffic::Mul { 3 } else { 2 };
    let gbs = (arrays * n * 4 * passes * threads) as f64 / secs / 1e9;
    println!("{name:<28} {threads} thread(s): {gbs:8.1} GB/s");
}

fn fill(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// One GEMM configuration to time.
struct Variant {
    name: &'static str,
    /// Uses the bf16 dot-product kernel, so its peak is the bf16 dot peak.
    dot: bool,
}

/// Times `variant` at `threads` threads (a dedicated rayon pool); returns GFLOP/s.
fn time_gemm(
    m: usize,
    k: usize,
    n: usize,
    v: &Variant,
    threads: usize,
    data: &Data,
) -> Option<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .ok()?;
    let mut c = vec![0.0f32; m * n];
    let reps = if m * n * k > 1 << 32 { 3 } else { 10 };
    let am = MatRef::row_major(&data.a, m, k).ok()?;
    let bm = MatRef::row_major(&data.b, k, n).ok()?;
    let btm = MatRef::row_major(&data.bt, n, k).ok()?.t();
    let a16 = MatRef::row_major(&data.a16, m, k).ok()?;
    let b16 = MatRef::row_major(&data.b16, k, n).ok()?;
    let t = pool.install(|| {
        best_of(reps, || {
            let _ = match v.name {
                "f32" => gemm_f32(am, bm, &mut c, n, false),
                "f32 B^T" => gemm_f32(am, btm, &mut c, n, false),
                _ => with_bf16_dot(v.dot, || gemm(a16, b16, &mut c, n, false)).unwrap_or(Ok(())),
            };
        })
    });
    Some(2.0 * (m * n * k) as f64 / t.as_secs_f64() / 1e9)
}

struct Data {
    a: Vec<f32>,
    b: Vec<f32>,
    bt: Vec<f32>,
    a16: Vec<bf16>,
    b16: Vec<bf16>,
}

/// Single-core and all-core peaks of one kind of arithmetic.
#[derive(Clone, Copy)]
struct Peak {
    one: f64,
    all: f64,
}

fn bench_gemm(m: usize, k: usize, n: usize, threads: usize, f32_peak: Peak, dot_peak: Peak) {
    let a = fill(m * k, 1);
    let b = fill(k * n, 2);
    let data = Data {
        bt: (0..k * n).map(|i| b[(i % k) * n + i / k]).collect(),
        a16: a.iter().map(|&x| bf16::from_f32(x)).collect(),
        b16: b.iter().map(|&x| bf16::from_f32(x)).collect(),
        a,
        b,
    };
    let mut variants = vec![
        Variant {
            name: "f32",
            dot: false,
        },
        Variant {
            name: "f32 B^T",
            dot: false,
        },
        Variant {
            name: "bf16 widen",
            dot: false,
        },
    ];
    if ferrite_kernels::isa::has_bf16_dot() {
        variants.push(Variant {
            name: "bf16 dot",
            dot: true,
        });
    }
    for v in &variants {
        let peak = if v.dot { dot_peak } else { f32_peak };
        let (Some(g1), Some(gn)) = (
            time_gemm(m, k, n, v, 1, &data),
            time_gemm(m, k, n, v, threads, &data),
        ) else {
            continue;
        };
        println!(
            "gemm {m:>4}x{k:>4}x{n:>4} {:<10} 1 thread {g1:7.1} GFLOP/s ({:5.1}% of 1-core peak) | {threads} threads {gn:7.1} GFLOP/s ({:5.1}% of {threads}-core peak)",
            v.name,
            100.0 * g1 / peak.one,
            100.0 * gn / peak.all,
        );
    }
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "ISA: {}, bf16 dot available: {}, used by default: {}; load average: {}",
        ferrite_kernels::isa::active(),
        ferrite_kernels::isa::has_bf16_dot(),
        ferrite_kernels::isa::bf16_dot_default(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let mut f32_peak = Peak {
        one: f64::NAN,
        all: f64::NAN,
    };
    let mut dot_peak = f32_peak;
    let only_bandwidth = std::env::args().any(|a| a == "bandwidth");
    if std::env::args().any(|a| a == "dram") {
        // One quick reading, for scripts that pair it with a run right after.
        read_peak_gbs(1 << 30);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if !only_bandwidth {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: feature checked just above.
            f32_peak.one = compute_peak("f32 FMA peak", 1, |n| unsafe { loops::fma(n) });
            f32_peak.all = compute_peak("f32 FMA peak", threads, |n| unsafe { loops::fma(n) });
        }
        if is_x86_feature_detected!("avx512bf16") {
            // SAFETY: feature checked just above.
            dot_peak.one = compute_peak("bf16 dot peak", 1, |n| unsafe { loops::dpbf16(n) });
            dot_peak.all = compute_peak("bf16 dot peak", threads, |n| unsafe { loops::dpbf16(n) });
        }
    }
    read_peak_gbs(1 << 30);
    bandwidth("DRAM read, plain sum (1 GiB)", 1 << 30, threads, 1);
    bandwidth("L2 read (512 KiB/thread)", threads << 19, threads, 2000);
    bandwidth("L2 read (512 KiB)", 1 << 19, 1, 2000);
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        // Per-thread working sets: 512 KiB (L2 is 2 MiB per core), 8 MiB (beyond both
        // L2s, inside the 260 MiB L3), 1 GiB in all (DRAM).
        let kinds = [
            ("copy", Traffic::Copy),
            ("a*b", Traffic::Mul),
            ("copy, streaming stores", Traffic::CopyStream),
        ];
        for (what, t) in kinds {
            let arrays = if t == Traffic::Mul { 3 } else { 2 };
            for th in [1, threads] {
                let levels = [
                    ("L2", (512 << 10) / arrays, 4000),
                    ("L3", (8 << 20) / arrays, 200),
                    ("DRAM", (1 << 30) / arrays / th, 2),
                ];
                for (level, bytes, passes) in levels {
                    if t == Traffic::CopyStream && level != "DRAM" {
                        continue;
                    }
                    read_write(&format!("{level} {what}"), t, bytes, th, passes);
                }
            }
        }
    }
    if only_bandwidth {
        return;
    }
    println!(
        "(bf16 widen = bf16 inputs widened to f32 while packing, f32 kernel, % of the f32 peak;"
    );
    println!(" bf16 dot = vdpbf16ps kernel, % of the bf16 dot peak)");
    for (m, k, n) in [(1, 2048, 2048), (512, 2048, 2048), (2048, 2048, 5632)] {
        bench_gemm(m, k, n, threads, f32_peak, dot_peak);
    }
}
