//! Ferrite's random numbers come from its own counter-based generator, not
//! MLX's bit stream, so instead of comparing values with MLX these tests check
//! the properties users rely on: determinism, independence from shape and
//! threads, the moments of the distributions, and rounding to low precision.

use ferrite_core::{Array, DType};
use ferrite_testkit::compare::values;
use ferrite_testkit::shapes::awkward_shapes;

fn normal(shape: &[usize], seed: u64, dtype: DType) -> Vec<f64> {
    values(&Array::random_normal(shape, 0.0, 1.0, seed, dtype).unwrap()).unwrap()
}

#[test]
fn element_i_depends_only_on_seed_and_i() {
    ferrite_cpu::install();
    for shape in awkward_shapes(4) {
        let n: usize = shape.iter().product();
        let a = normal(&shape, 42, DType::F32);
        assert_eq!(a.len(), n);
        assert_eq!(
            a,
            normal(&shape, 42, DType::F32),
            "{shape:?}: same seed, same values"
        );
        assert_eq!(
            a,
            normal(&[n], 42, DType::F32),
            "{shape:?}: values do not depend on the shape"
        );
        if n > 0 {
            assert_ne!(
                a,
                normal(&shape, 43, DType::F32),
                "{shape:?}: another seed, other values"
            );
        }
    }
}

#[test]
fn threads_do_not_change_values() {
    ferrite_cpu::install();
    // Large enough for the backend to split the work across its thread pool.
    let shape = [3, 129, 1025];
    let reference = normal(&shape, 9, DType::F32);
    let handles: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || normal(&shape, 9, DType::F32)))
        .collect();
    for h in handles {
        assert!(h.join().unwrap() == reference);
    }
}

fn moments(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let kurt = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n / (var * var);
    (mean, var, kurt)
}

#[test]
fn distributions_have_the_right_moments() {
    ferrite_cpu::install();
    let n = 1usize << 18;
    // Bounds are about 5 standard errors of each estimate at this n.
    let xs = values(&Array::random_normal(&[n], 2.0, 3.0, 7, DType::F32).unwrap()).unwrap();
    let (mean, var, kurt) = moments(&xs);
    assert!((mean - 2.0).abs() < 0.03, "normal mean {mean}");
    assert!((var - 9.0).abs() < 0.13, "normal variance {var}");
    assert!((kurt - 3.0).abs() < 0.05, "normal kurtosis {kurt}");
    let within = xs.iter().filter(|&&x| (x - 2.0).abs() < 3.0).count() as f64 / n as f64;
    assert!(
        (within - 0.682_689).abs() < 0.005,
        "fraction within one sigma {within}"
    );

    let us = values(&Array::random_uniform(&[n], -1.0, 3.0, 7, DType::F32).unwrap()).unwrap();
    assert!(
        us.iter().all(|u| (-1.0..3.0).contains(u)),
        "uniform samples leave [-1, 3)"
    );
    let (mean, var, kurt) = moments(&us);
    assert!((mean - 1.0).abs() < 0.012, "uniform mean {mean}");
    assert!((var - 16.0 / 12.0).abs() < 0.01, "uniform variance {var}");
    assert!((kurt - 1.8).abs() < 0.01, "uniform kurtosis {kurt}");
    // Each of 16 equal bins gets its share (5 sigma of a binomial count).
    let mut bins = [0usize; 16];
    us.iter()
        .for_each(|u| bins[((u + 1.0) * 4.0) as usize] += 1);
    let expect = n as f64 / 16.0;
    assert!(
        bins.iter()
            .all(|&b| (b as f64 - expect).abs() < 5.0 * expect.sqrt()),
        "{bins:?}"
    );
}

#[test]
fn low_precision_samples_are_the_f32_samples_rounded() {
    ferrite_cpu::install();
    let shape = [17, 33];
    let f32s = Array::random_normal(&shape, 0.0, 1.0, 5, DType::F32).unwrap();
    for dtype in [DType::F16, DType::BF16] {
        let direct = values(&Array::random_normal(&shape, 0.0, 1.0, 5, dtype).unwrap()).unwrap();
        assert_eq!(
            direct,
            values(&f32s.astype(dtype).unwrap()).unwrap(),
            "{dtype}"
        );
    }
}

#[test]
fn rejects_what_it_cannot_sample() {
    assert!(Array::random_normal(&[3], 0.0, 1.0, 0, DType::I32).is_err());
    assert!(Array::random_uniform(&[3], 1.0, 1.0, 0, DType::F32).is_err());
    assert!(Array::random_uniform(&[3], 0.0, f64::NAN, 0, DType::F32).is_err());
}
