//! Row kernels, reductions and conversions on every ISA against f64 / `half` references.

mod common;

use common::{each_isa, randv, rng, SIZES};
use ferrite_kernels as fk;
use half::{bf16, f16};

/// Relative tolerance for length-n reductions of same-sign-ish data: the forward error
/// bound `n u` of recursive summation is pessimistic, blocked sums do far better, so
/// allow `(16 + sqrt(n)) u` on the sum of magnitudes.
fn red_tol(n: usize, mag: f64) -> f64 {
    (16.0 + (n as f64).sqrt()) * f64::from(f32::EPSILON) * mag + 1e-30
}

#[test]
fn reductions_and_blas1() {
    for (s, &n) in SIZES.iter().enumerate() {
        let mut r = rng(s as u64);
        let a = randv(&mut r, n, -2.0, 2.0);
        let b = randv(&mut r, n, -2.0, 2.0);
        let sum: f64 = a.iter().map(|&x| f64::from(x)).sum();
        let mag: f64 = a.iter().map(|&x| f64::from(x.abs())).sum();
        let dot: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        let dmag: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| f64::from((x * y).abs()))
            .sum();
        let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        each_isa(|isa| {
            assert!(
                (f64::from(fk::sum(&a)) - sum).abs() <= red_tol(n, mag),
                "{isa} sum n={n}"
            );
            assert_eq!(fk::max(&a), max, "{isa} max n={n}");
            let d = fk::dot(&a, &b).unwrap();
            assert!(
                (f64::from(d) - dot).abs() <= red_tol(n, dmag),
                "{isa} dot n={n}"
            );
            let mut y = b.clone();
            fk::axpy(0.75, &a, &mut y).unwrap();
            for i in 0..n {
                // One fused (or two) roundings per element.
                let want = 0.75 * f64::from(a[i]) + f64::from(b[i]);
                assert!(
                    (f64::from(y[i]) - want).abs() <= 1.2e-7 * (want.abs() + 1.5),
                    "{isa} axpy"
                );
            }
            let mut z = a.clone();
            fk::scale(-3.0, &mut z);
            assert!(
                z.iter().zip(&a).all(|(&z, &x)| z == -3.0 * x),
                "{isa} scale is exact per element"
            );
        });
    }
    assert!(fk::dot(&[1.0], &[]).is_err());
    assert!(fk::axpy(1.0, &[1.0], &mut []).is_err());
}

fn softmax64(x: &[f32]) -> Vec<f64> {
    let m = x
        .iter()
        .map(|&v| f64::from(v))
        .fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|&v| (f64::from(v) - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[test]
fn softmax_family() {
    for (s, &n) in SIZES.iter().enumerate().filter(|(_, &n)| n > 0) {
        let rows = 3;
        let mut r = rng(50 + s as u64);
        let x = randv(&mut r, rows * n, -30.0, 30.0);
        each_isa(|isa| {
            let mut y = vec![0.0; x.len()];
            fk::softmax(&x, &mut y, n).unwrap();
            let mut yi = x.clone();
            fk::softmax_inplace(&mut yi, n).unwrap();
            let mut ls = vec![0.0; x.len()];
            fk::log_softmax(&x, &mut ls, n).unwrap();
            let mut lse = vec![0.0; rows];
            fk::logsumexp(&x, n, &mut lse).unwrap();
            for row in 0..rows {
                let xr = &x[row * n..(row + 1) * n];
                let want = softmax64(xr);
                let lse64 = xr
                    .iter()
                    .map(|&v| f64::from(v))
                    .fold(f64::NEG_INFINITY, f64::max)
                    + xr.iter()
                        .map(|&v| f64::from(v))
                        .map(|v| {
                            (v - xr
                                .iter()
                                .map(|&w| f64::from(w))
                                .fold(f64::NEG_INFINITY, f64::max))
                            .exp()
                        })
                        .sum::<f64>()
                        .ln();
                // lse: exp/log ~2 ulp, the sum adds red_tol-like error relative to its value.
                assert!(
                    (f64::from(lse[row]) - lse64).abs() <= 4e-7 * lse64.abs() + 1e-6,
                    "{isa} lse n={n}"
                );
                for j in 0..n {
                    let (got, w) = (f64::from(y[row * n + j]), want[j]);
                    // f32 `x - max` rounds by up to u |x - max|, which exp turns into that
                    // much relative error; plus exp (2e-7), the sum and one division.
                    let d = f64::from(xr[j])
                        - xr.iter()
                            .map(|&v| f64::from(v))
                            .fold(f64::NEG_INFINITY, f64::max);
                    let tol = (1e-6 + 6e-8 * d.abs()) * w + red_tol(n, w);
                    assert!((got - w).abs() <= tol, "{isa} softmax n={n}: {got} vs {w}");
                    assert_eq!(
                        y[row * n + j].to_bits(),
                        yi[row * n + j].to_bits(),
                        "{isa} in-place"
                    );
                    // log_softmax = x - lse: absolute error is that of lse.
                    let lw = f64::from(xr[j]) - lse64;
                    assert!(
                        (f64::from(ls[row * n + j]) - lw).abs()
                            <= 4e-7 * (lse64.abs() + lw.abs()) + 1e-6
                    );
                }
            }
        });
    }
    let mut out = [0.0f32; 1];
    fk::logsumexp(&[f32::NEG_INFINITY; 3], 3, &mut out).unwrap();
    assert_eq!(out[0], f32::NEG_INFINITY);
    assert!(
        fk::softmax(&[1.0; 6], &mut [0.0; 6], 4).is_err(),
        "6 is not a multiple of 4"
    );
    assert!(fk::softmax(&[1.0; 4], &mut [0.0; 3], 4).is_err());
    // Large buffer: parallel over rows.
    let x: Vec<f32> = (0..70_000).map(|i| (i % 100) as f32 * 0.1).collect();
    let mut y = vec![0.0; x.len()];
    fk::softmax(&x, &mut y, 100).unwrap();
    assert!(y
        .chunks(100)
        .all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-5));
}

#[test]
fn norms() {
    for (s, &n) in SIZES.iter().enumerate().filter(|(_, &n)| n > 0) {
        let rows = 2;
        let mut r = rng(80 + s as u64);
        let x = randv(&mut r, rows * n, -3.0, 5.0);
        let w = randv(&mut r, n, 0.5, 1.5);
        let b = randv(&mut r, n, -1.0, 1.0);
        let eps = 1e-5f32;
        each_isa(|isa| {
            for (wo, bo) in [
                (None, None),
                (Some(&w[..]), None),
                (Some(&w[..]), Some(&b[..])),
                (None, Some(&b[..])),
            ] {
                let mut ln = vec![0.0; x.len()];
                fk::layer_norm(&x, wo, bo, eps, &mut ln, n).unwrap();
                let mut rn = vec![0.0; x.len()];
                if bo.is_none() {
                    fk::rms_norm(&x, wo, eps, &mut rn, n).unwrap();
                }
                for row in 0..rows {
                    let xr: Vec<f64> = x[row * n..(row + 1) * n]
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect();
                    let mean = xr.iter().sum::<f64>() / n as f64;
                    let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
                    let ms = xr.iter().map(|v| v * v).sum::<f64>() / n as f64;
                    for j in 0..n {
                        let wj = wo.map_or(1.0, |w| f64::from(w[j]));
                        let bj = bo.map_or(0.0, |b| f64::from(b[j]));
                        let want = (xr[j] - mean) / (var + f64::from(eps)).sqrt() * wj + bj;
                        // Normalised values are O(1) with ~1e-6 relative error from the
                        // mean/variance sums; compare absolutely at that scale.
                        let got = f64::from(ln[row * n + j]);
                        assert!(
                            (got - want).abs() <= 4e-6 * (want.abs() + 1.0),
                            "{isa} layer_norm n={n}: {got} vs {want}"
                        );
                        if bo.is_none() {
                            let want = xr[j] / (ms + f64::from(eps)).sqrt() * wj;
                            let got = f64::from(rn[row * n + j]);
                            assert!(
                                (got - want).abs() <= 2e-6 * (want.abs() + 1.0),
                                "{isa} rms_norm n={n}"
                            );
                        }
                    }
                }
            }
        });
    }
    assert!(fk::rms_norm(&[1.0; 4], Some(&[1.0; 3]), 1e-5, &mut [0.0; 4], 4).is_err());
    assert!(fk::layer_norm(&[1.0; 4], None, Some(&[1.0; 5]), 1e-5, &mut [0.0; 4], 4).is_err());
}

#[test]
fn rms_norm_rows_normalise_the_same_alone_or_together() {
    // Rows after the first are summed while the previous one is scaled; the bits must
    // not depend on that (a decode step normalises one row, a prompt many).
    for (s, &n) in SIZES.iter().enumerate().filter(|(_, &n)| n > 0) {
        let rows = 5;
        let mut r = rng(300 + s as u64);
        let x = randv(&mut r, rows * n, -3.0, 5.0);
        let w = randv(&mut r, n, 0.5, 1.5);
        each_isa(|isa| {
            for wo in [None, Some(&w[..])] {
                let mut together = vec![0.0; x.len()];
                fk::rms_norm(&x, wo, 1e-5, &mut together, n).unwrap();
                for row in 0..rows {
                    let mut alone = vec![0.0; n];
                    fk::rms_norm(&x[row * n..(row + 1) * n], wo, 1e-5, &mut alone, n).unwrap();
                    let same = alone
                        .iter()
                        .zip(&together[row * n..(row + 1) * n])
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{isa} rms_norm n={n}: row {row} differs");
                }
            }
        });
    }
}

#[test]
fn conversions_match_half_bit_for_bit() {
    let mut r = rng(99);
    // Random bit patterns cover every exponent, subnormals, infinities, NaNs and exact
    // rounding ties (low mantissa bits of random patterns hit 0x8000 / 0x1000 often
    // enough; explicit ties are appended).
    let mut bits: Vec<u32> = (0..50_000).map(|_| rand::Rng::gen(&mut r)).collect();
    bits.extend([
        0x3f80_8000,
        0x3f81_8000,
        0x7f7f_ffff,
        0x0000_8000,
        0x8000_0001,
        0x3f80_1000,
        0x3f80_3000,
    ]);
    let x: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
    for &n in SIZES.iter().chain(&[x.len()]) {
        let xs = &x[..n];
        each_isa(|isa| {
            let mut h = vec![bf16::ZERO; n];
            fk::f32_to_bf16(xs, &mut h).unwrap();
            let mut g = vec![f16::ZERO; n];
            fk::f32_to_f16(xs, &mut g).unwrap();
            for i in 0..n {
                let (wb, wh) = (bf16::from_f32(xs[i]), f16::from_f32(xs[i]));
                if xs[i].is_nan() {
                    assert!(h[i].is_nan() && g[i].is_nan(), "{isa}: NaN must stay NaN");
                } else {
                    assert_eq!(h[i].to_bits(), wb.to_bits(), "{isa} bf16({:#x})", bits[i]);
                    assert_eq!(g[i].to_bits(), wh.to_bits(), "{isa} f16({:#x})", bits[i]);
                }
            }
            let mut back = vec![0.0f32; n];
            fk::bf16_to_f32(&h, &mut back).unwrap();
            assert!(
                back.iter()
                    .zip(&h)
                    .all(|(b, h)| b.to_bits() == h.to_f32().to_bits()),
                "{isa} bf16 widen"
            );
            fk::f16_to_f32(&g, &mut back).unwrap();
            for (b, h) in back.iter().zip(&g) {
                assert!(
                    b.to_bits() == h.to_f32().to_bits() || (b.is_nan() && h.is_nan()),
                    "{isa} f16 widen"
                );
            }
        });
    }
    assert!(fk::f32_to_bf16(&[1.0], &mut []).is_err());
}

/// Rows longer than one softmax block: a max that rises from block to block (each rise
/// rescales the earlier blocks), leading blocks of -inf, and a max too large for the
/// log2-scaled offset.
#[test]
fn softmax_long_rows() {
    let n = 3 * 4096 + 37;
    let mut r = rng(77);
    let mut rising = randv(&mut r, n, -20.0, 20.0);
    for (j, v) in rising.iter_mut().enumerate() {
        *v += j as f32 * 0.01;
    }
    let mut masked = randv(&mut r, n, -5.0, 5.0);
    masked[..5000].fill(f32::NEG_INFINITY);
    let huge: Vec<f32> = randv(&mut r, n, -1.0, 1.0)
        .iter()
        .map(|v| 3.3e38 + v * 1e32)
        .collect();
    each_isa(|isa| {
        for x in [&rising, &masked, &huge] {
            let mut y = vec![0.0; n];
            fk::softmax(x, &mut y, n).unwrap();
            let m = x
                .iter()
                .map(|&v| f64::from(v))
                .fold(f64::NEG_INFINITY, f64::max);
            for (j, (&got, w)) in y.iter().zip(softmax64(x)).enumerate() {
                let d = f64::from(x[j]) - m;
                // (-inf entries: d is -inf and the only right answer is 0.)
                let tol = if w == 0.0 {
                    0.0
                } else {
                    (1e-6 + 6e-8 * d.abs()) * w + red_tol(n, w)
                };
                assert!(
                    (f64::from(got) - w).abs() <= tol,
                    "{isa} j={j}: {got} vs {w}"
                );
            }
        }
        let mut y = vec![0.0; 5000];
        fk::softmax(&vec![f32::NEG_INFINITY; 5000], &mut y, 5000).unwrap();
        assert!(y.iter().all(|v| v.is_nan()), "{isa}: all -inf gives NaN");
    });
}
