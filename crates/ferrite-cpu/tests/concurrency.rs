//! Several threads build and evaluate random graphs at once, some sharing
//! pending nodes, and must get exactly the single-threaded results.

use ferrite_core::{Array, DType, Result};
use rand::{Rng, SeedableRng};

/// Builds a random graph of `steps` ops over `leaves` (square `n×n` f32 arrays).
fn random_graph(seed: u64, leaves: &[Array], steps: usize) -> Result<Array> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pool: Vec<Array> = leaves.to_vec();
    for _ in 0..steps {
        let a = pool[rng.gen_range(0..pool.len())].clone();
        let b = pool[rng.gen_range(0..pool.len())].clone();
        let next = match rng.gen_range(0..10) {
            0 => a.add(&b)?,
            1 => a.mul(&b)?.tanh()?,
            2 => a.transpose()?,
            3 => a.softmax(rng.gen_range(0..2))?,
            4 => a.matmul(&b)?.mul_scalar(0.05)?,
            5 => a.sum(&[1], true)?.broadcast_to(a.shape())?,
            6 => a.silu()?.sub(&b)?,
            7 => a.rms_norm(None, 1e-5)?,
            8 => a.astype(DType::BF16)?.astype(DType::F32)?,
            _ => a.maximum(&b.negative()?)?,
        };
        pool.push(next);
    }
    let out = pool.split_off(leaves.len());
    out.iter()
        .try_fold(Array::zeros(leaves[0].shape(), DType::F32)?, |acc, x| {
            acc.add(&x.tanh()?)
        })
}

#[test]
fn threads_match_single_threaded_results() -> Result<()> {
    ferrite_cpu::install();
    let n = 48;
    let leaves: Vec<Array> = (0..4)
        .map(|s| Array::random_normal(&[n, n], 0.0, 1.0, s, DType::F32))
        .collect::<Result<_>>()?;
    let seeds: Vec<u64> = (0..16).collect();
    let expected: Vec<Vec<f32>> = seeds
        .iter()
        .map(|&s| random_graph(s, &leaves, 30)?.to_vec::<f32>())
        .collect::<Result<_>>()?;

    // A pending node every thread reads, so evaluations race on shared state.
    let shared = leaves[0].matmul(&leaves[1])?.exp()?.sum(&[0], false)?;
    let shared_expected = {
        let copy = leaves[0].matmul(&leaves[1])?.exp()?.sum(&[0], false)?;
        copy.to_vec::<f32>()?
    };
    let fresh_leaves: Vec<Array> = (0..4)
        .map(|s| Array::random_normal(&[n, n], 0.0, 1.0, s, DType::F32))
        .collect::<Result<_>>()?;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (leaves, shared, seeds, expected) = (&fresh_leaves, &shared, &seeds, &expected);
                let shared_expected = &shared_expected;
                scope.spawn(move || -> Result<()> {
                    for round in 0..3 {
                        for (i, &s) in seeds.iter().enumerate().skip(t % 3) {
                            let got = random_graph(s, leaves, 30)?.to_vec::<f32>()?;
                            assert_eq!(got, expected[i], "thread {t} round {round} seed {s}");
                        }
                        let got = shared.add_scalar(t as f64)?.to_vec::<f32>()?;
                        let want: Vec<f32> = shared_expected.iter().map(|v| v + t as f32).collect();
                        assert_eq!(got, want, "thread {t}: shared node");
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("worker thread panicked"))
    })
}
