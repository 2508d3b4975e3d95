//! GEMM on every ISA against an f64 reference, over awkward shapes and layouts.

mod common;

use common::{each_isa, rng};
use ferrite_kernels::isa::{bf16_dot_active, with_bf16_dot};
use ferrite_kernels::{gemm, gemm_f32, with_isa, Element, KernelError, MatRef};
use half::{bf16, f16};
use rand::Rng;
use std::sync::OnceLock;

/// How a logical `rows x cols` operand is laid out in memory.
#[derive(Clone, Copy, Debug)]
enum Layout {
    RowMajor,
    /// Column-major storage, i.e. a transposed view of a row-major matrix.
    ColMajor,
    /// Row-major with 3 elements of padding per row (a sub-matrix view).
    Padded,
    /// Neither stride is 1.
    Strided,
}

const LAYOUTS: [Layout; 4] = [
    Layout::RowMajor,
    Layout::ColMajor,
    Layout::Padded,
    Layout::Strided,
];

/// Stores `vals` (logical row-major) in `layout`; returns data and (row, col) strides.
fn store<T: Copy>(
    vals: &[T],
    rows: usize,
    cols: usize,
    layout: Layout,
    fill: T,
) -> (Vec<T>, usize, usize) {
    let (rs, cs, len) = match layout {
        Layout::RowMajor => (cols, 1, rows * cols),
        Layout::ColMajor => (1, rows, rows * cols),
        Layout::Padded => (cols + 3, 1, rows * (cols + 3)),
        Layout::Strided => (2 * cols + 1, 2, rows * (2 * cols + 1)),
    };
    let mut d = vec![fill; len.max(1)];
    for i in 0..rows {
        for j in 0..cols {
            d[i * rs + j * cs] = vals[i * cols + j];
        }
    }
    (d, rs, cs)
}

/// Products at least this large (in multiply-adds) use several threads.
const PARALLEL_MACS: usize = 1 << 21;

/// Thread pools of 1, 2 and 3 threads, shared by all tests.
fn pools() -> &'static [rayon::ThreadPool] {
    static POOLS: OnceLock<Vec<rayon::ThreadPool>> = OnceLock::new();
    POOLS.get_or_init(|| {
        (1..=3)
            .map(|t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .expect("thread pool")
            })
            .collect()
    })
}

struct Case {
    m: usize,
    n: usize,
    k: usize,
    la: Layout,
    lb: Layout,
    accumulate: bool,
    ldc_pad: usize,
}

/// Runs one case on every ISA. The inputs are exactly representable in `TA` / `TB`, so the
/// f64 reference is the exact product of the values the kernel sees.
fn check<TA: Element, TB: Element>(case: &Case, seed: u64, ta: fn(f32) -> TA, tb: fn(f32) -> TB) {
    let Case {
        m,
        n,
        k,
        la,
        lb,
        accumulate,
        ldc_pad,
    } = *case;
    let mut r = rng(seed);
    let av: Vec<TA> = (0..m * k).map(|_| ta(r.gen_range(-1.0..1.0))).collect();
    let bv: Vec<TB> = (0..k * n).map(|_| tb(r.gen_range(-1.0..1.0))).collect();
    let ldc = n + ldc_pad;
    let c0: Vec<f32> = (0..m.max(1) * ldc)
        .map(|_| r.gen_range(-1.0..1.0))
        .collect();
    let (ad, ars, acs) = store(&av, m, k, la, ta(f32::NAN));
    let (bd, brs, bcs) = store(&bv, k, n, lb, tb(f32::NAN));
    let a = MatRef::new(&ad, m, k, ars, acs).expect("valid A view");
    let b = MatRef::new(&bd, k, n, brs, bcs).expect("valid B view");

    let mut want = vec![0f64; m * n];
    let mut bound = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut s, mut g) = (0f64, 0f64);
            for p in 0..k {
                let x = f64::from(av[i * k + p].to_f32()) * f64::from(bv[p * n + j].to_f32());
                s += x;
                g += x.abs();
            }
            if accumulate {
                s += f64::from(c0[i * ldc + j]);
                g += f64::from(c0[i * ldc + j].abs());
            }
            want[i * n + j] = s;
            bound[i * n + j] = g;
        }
    }
    each_isa(|isa| {
        let mut c = c0.clone();
        gemm(a, b, &mut c, ldc, accumulate).expect("valid gemm");
        if m * n * k >= PARALLEL_MACS {
            // The threads split the output, each running the whole loop nest on its part, so
            // every thread count must give the same bits (determinism), and 1 and 3 threads
            // cover the unsplit blocking and uneven parts.
            // The kernel overrides are per thread: carry them into the pool.
            let dot = bf16_dot_active();
            for pool in pools() {
                let mut ct = c0.clone();
                pool.install(|| {
                    with_bf16_dot(dot, || {
                        with_isa(isa, || gemm(a, b, &mut ct, ldc, accumulate))
                    })
                })
                .flatten()
                .expect("available kernels")
                .expect("valid gemm");
                let threads = pool.current_num_threads();
                assert!(
                    c.iter().zip(&ct).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{isa}: m={m} n={n} k={k}: {threads} threads give different bits"
                );
            }
        }
        for i in 0..m {
            for j in 0..n {
                let got = f64::from(c[i * ldc + j]);
                // Forward error bound of any f32 summation order: (k + 1) u sum|a b|, with
                // a 2x margin; an indexing bug misplaces a whole term (~|a b| >> bound).
                let tol = 2.0 * (k as f64 + 1.0) * f64::from(f32::EPSILON / 2.0) * bound[i * n + j]
                    + 1e-30;
                let w = want[i * n + j];
                assert!(
                    (got - w).abs() <= tol,
                    "{isa}: m={m} n={n} k={k} {la:?}x{lb:?} acc={accumulate}: c[{i},{j}] = {got}, want {w} (tol {tol})"
                );
            }
            // Padding between output rows is never touched.
            for j in n..ldc {
                assert_eq!(
                    c[i * ldc + j].to_bits(),
                    c0[i * ldc + j].to_bits(),
                    "{isa}: padding written"
                );
            }
        }
    });
}

const DIMS: [usize; 10] = [1, 2, 5, 13, 17, 31, 64, 97, 129, 300];

#[test]
fn f32_awkward_shapes_all_layouts() {
    let mut seed = 0;
    for (mi, &m) in DIMS.iter().enumerate() {
        for (ni, &n) in DIMS.iter().enumerate() {
            // Rotate k and the layouts through the list so every value meets every other.
            let k = DIMS[(mi + 3 * ni) % DIMS.len()];
            let case = Case {
                m,
                n,
                k,
                la: LAYOUTS[(mi + ni) % 4],
                lb: LAYOUTS[(mi / 2 + ni) % 4],
                accumulate: (mi + ni) % 3 == 0,
                ldc_pad: ni % 2 * 5,
            };
            seed += 1;
            check(&case, seed, |x| x, |x| x);
        }
    }
}

#[test]
fn f32_large_crosses_every_block_boundary() {
    // m > MC, n > NC (4096), k > KC: several packed blocks (on 1 thread), parallel path,
    // edge tiles.
    let case = Case {
        m: 350,
        n: 4130,
        k: 530,
        la: Layout::RowMajor,
        lb: Layout::RowMajor,
        accumulate: true,
        ldc_pad: 0,
    };
    check(&case, 7, |x| x, |x| x);
    let case = Case {
        m: 200,
        n: 300,
        k: 700,
        la: Layout::ColMajor,
        lb: Layout::ColMajor,
        accumulate: false,
        ldc_pad: 1,
    };
    check(&case, 8, |x| x, |x| x);
    // m > 4096: A is packed in several row slabs (on 1 thread); the threads split rows.
    let case = Case {
        m: 4200,
        n: 17,
        k: 33,
        la: Layout::RowMajor,
        lb: Layout::ColMajor,
        accumulate: true,
        ldc_pad: 2,
    };
    check(&case, 9, |x| x, |x| x);
}

#[test]
fn half_precision_and_mixed_operands() {
    let shapes = [
        (1, 1, 1),
        (2, 33, 3),
        (13, 31, 17),
        (31, 97, 64),
        (129, 65, 301),
        (300, 129, 1025),
    ];
    for (s, &(m, n, k)) in shapes.iter().enumerate() {
        for (li, &la) in LAYOUTS.iter().enumerate() {
            let lb = LAYOUTS[(li + s) % 4];
            let case = Case {
                m,
                n,
                k,
                la,
                lb,
                accumulate: s % 2 == 1,
                ldc_pad: s % 3,
            };
            let seed = (s * 10 + li) as u64;
            // bf16 x bf16 both through the vdpbf16ps kernel (where the CPU has it) and
            // through widening to f32.
            for dot in [false, true] {
                with_bf16_dot(dot, || check(&case, seed, bf16::from_f32, bf16::from_f32));
            }
            check(&case, seed, f16::from_f32, f16::from_f32);
            // f32 x bf16: exact while the dot path is off; on it, A is rounded to bf16,
            // which these A values (bf16-representable) survive exactly.
            with_bf16_dot(false, || check(&case, seed, |x| x, bf16::from_f32));
            let bf16_valued = |x: f32| bf16::from_f32(x).to_f32();
            with_bf16_dot(true, || check(&case, seed, bf16_valued, bf16::from_f32));
            check(&case, seed, bf16::from_f32, |x| x);
            check(&case, seed, |x| x, f16::from_f32);
        }
    }
}

#[test]
fn gemv_layouts_and_types() {
    // m = 1 takes the unpacked GEMV path: both contiguous B layouts, a strided one, and
    // widths/depths around the vector and 4-column unroll boundaries.
    for (s, &(n, k)) in [
        (1, 1),
        (3, 7),
        (17, 33),
        (64, 65),
        (255, 129),
        (1000, 300),
        (4099, 31),
        (2048, 96),
    ]
    .iter()
    .enumerate()
    {
        for (li, &lb) in LAYOUTS.iter().enumerate() {
            let case = Case {
                m: 1,
                n,
                k,
                la: LAYOUTS[(li + 1) % 4],
                lb,
                accumulate: li % 2 == 0,
                ldc_pad: 0,
            };
            let seed = 100 + (s * 4 + li) as u64;
            check(&case, seed, |x| x, |x| x);
            check(&case, seed, |x| x, bf16::from_f32);
            check(&case, seed, bf16::from_f32, f16::from_f32);
        }
    }
}

#[test]
fn empty_and_degenerate() {
    let a = [1.0f32, 2.0];
    let b = [3.0f32, 4.0];
    // k = 0: C is zeroed, or left alone when accumulating.
    let mut c = [5.0f32; 4];
    let e: [f32; 0] = [];
    gemm_f32(
        MatRef::new(&e, 2, 0, 0, 1).unwrap(),
        MatRef::new(&e, 0, 2, 2, 1).unwrap(),
        &mut c,
        2,
        false,
    )
    .unwrap();
    assert_eq!(c, [0.0; 4]);
    let mut c = [5.0f32; 4];
    gemm_f32(
        MatRef::new(&e, 2, 0, 0, 1).unwrap(),
        MatRef::new(&e, 0, 2, 2, 1).unwrap(),
        &mut c,
        2,
        true,
    )
    .unwrap();
    assert_eq!(c, [5.0; 4]);
    // m = 0 / n = 0 need no output storage.
    gemm_f32(
        MatRef::new(&e, 0, 2, 2, 1).unwrap(),
        MatRef::row_major(&b, 2, 1).unwrap(),
        &mut [],
        1,
        false,
    )
    .unwrap();
    // Outer product through the general path.
    let mut c = [0.0f32; 4];
    gemm_f32(
        MatRef::row_major(&a, 2, 1).unwrap(),
        MatRef::row_major(&b, 1, 2).unwrap(),
        &mut c,
        2,
        false,
    )
    .unwrap();
    assert_eq!(c, [3.0, 4.0, 6.0, 8.0]);
}

#[test]
fn invalid_arguments_are_errors() {
    let a = [0.0f32; 6];
    let am = MatRef::row_major(&a, 2, 3).unwrap();
    let bm = MatRef::row_major(&a, 2, 3).unwrap();
    let mut c = [0.0f32; 6];
    assert!(matches!(
        gemm_f32(am, bm, &mut c, 3, false),
        Err(KernelError::Mismatch { .. })
    ));
    let bm = MatRef::row_major(&a, 3, 2).unwrap();
    assert!(gemm_f32(am, bm, &mut c, 1, false).is_err(), "ldc < n");
    assert!(
        gemm_f32(am, bm, &mut c[..3], 2, false).is_err(),
        "C too short"
    );
    assert!(gemm_f32(am, bm, &mut c, 2, false).is_ok());
    assert!(matches!(
        MatRef::new(&a, 2, 3, 4, 1),
        Err(KernelError::OutOfBounds { .. })
    ));
}
