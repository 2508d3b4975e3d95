//! The few-query-row attention products on every ISA against f64 references.

mod common;

use common::{each_isa, randv, rng};
use ferrite_kernels::{mix_rows, row_dots};

/// `|got - want| <= 1e-6 * sum |terms|`: reordered f32 sums of `n` products.
fn close(got: f32, want: f64, mag: f64, n: usize) -> bool {
    (f64::from(got) - want).abs() <= 1.2e-7 * (n as f64 + 2.0) * mag + 1e-30
}

#[test]
fn row_dots_and_mix_rows_match_f64_on_awkward_shapes() {
    let mut seed = 0;
    for d in [1usize, 3, 8, 16, 17, 64, 127, 128, 130, 300] {
        for m in [1usize, 2, 3, 4, 7, 8] {
            for n in [0usize, 1, 3, 4, 5, 9, 33, 70] {
                seed += 1;
                let mut r = rng(seed);
                let q = randv(&mut r, m * d, -1.0, 1.0);
                let k = randv(&mut r, n * d, -1.0, 1.0);
                let p = randv(&mut r, m * n, 0.0, 1.0);
                each_isa(|isa| {
                    let mut s = vec![f32::NAN; m * n];
                    row_dots(&q, &k, d, &mut s).unwrap();
                    for i in 0..m {
                        for j in 0..n {
                            let terms =
                                (0..d).map(|c| f64::from(q[i * d + c]) * f64::from(k[j * d + c]));
                            let want: f64 = terms.clone().sum();
                            let mag: f64 = terms.map(f64::abs).sum();
                            let got = s[i * n + j];
                            assert!(
                                close(got, want, mag, d),
                                "{isa} row_dots d={d} m={m} n={n} [{i},{j}]: {got} vs {want}"
                            );
                        }
                    }
                    let mut o = vec![f32::NAN; m * d];
                    mix_rows(&p, &k, d, &mut o).unwrap();
                    for i in 0..m {
                        for c in 0..d {
                            let terms =
                                (0..n).map(|j| f64::from(p[i * n + j]) * f64::from(k[j * d + c]));
                            let want: f64 = terms.clone().sum();
                            let mag: f64 = terms.map(f64::abs).sum();
                            let got = o[i * d + c];
                            assert!(
                                close(got, want, mag, n),
                                "{isa} mix_rows d={d} m={m} n={n} [{i},{c}]: {got} vs {want}"
                            );
                        }
                    }
                });
            }
        }
    }
}

#[test]
fn shape_errors() {
    let mut s = [0.0; 2];
    assert!(row_dots(&[1.0; 4], &[1.0; 4], 0, &mut s).is_err());
    assert!(row_dots(&[1.0; 4], &[1.0; 3], 2, &mut s).is_err());
    assert!(row_dots(&[1.0; 4], &[1.0; 4], 2, &mut s[..1]).is_err());
    let mut o = [0.0; 4];
    assert!(mix_rows(&[1.0; 4], &[1.0; 4], 2, &mut o[..3]).is_err());
    assert!(mix_rows(&[1.0; 3], &[1.0; 4], 2, &mut o).is_err());
    assert!(mix_rows(&[1.0; 4], &[1.0; 4], 2, &mut o).is_ok());
}
