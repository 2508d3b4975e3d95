//! The benchmark cases of the foundation issue, shared by the criterion bench
//! (`benches/ops.rs`) and the JSON-printing example that `bench/vs_mlx.py`
//! compares with MLX (`examples/bench_ops.rs`).

use ferrite_core::prim::RopeLayout;
use ferrite_core::{Array, DType, Result};

/// What one run does, for throughput figures.
#[derive(Clone, Copy)]
pub enum Work {
    Flops(usize),
    /// Bytes read plus written.
    Bytes(usize),
    /// Graph nodes built and evaluated.
    Nodes(usize),
}

impl Work {
    /// The JSON field naming the work (`"flops": N` ...).
    #[allow(dead_code)] // used by the example, not by the criterion bench
    pub fn json(self) -> String {
        match self {
            Work::Flops(n) => format!("\"flops\": {n}"),
            Work::Bytes(n) => format!("\"bytes\": {n}"),
            Work::Nodes(n) => format!("\"nodes\": {n}"),
        }
    }
}

/// One timed case: `run` evaluates the whole op once.
pub struct Case {
    pub name: String,
    pub shape: String,
    pub work: Work,
    pub run: Box<dyn FnMut() -> Result<()>>,
}

fn rand(shape: &[usize], seed: u64, dtype: DType) -> Result<Array> {
    let a = Array::random_normal(shape, 0.0, 1.0, seed, DType::F32)?.astype(dtype)?;
    a.eval()?;
    Ok(a)
}

fn case(name: &str, shape: String, work: Work, run: impl FnMut() -> Result<()> + 'static) -> Case {
    Case {
        name: name.into(),
        shape,
        work,
        run: Box::new(run),
    }
}

/// Every case whose name contains `filter`.
pub fn cases(filter: &str) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    for (m, k, n) in [(1, 2048, 2048), (512, 2048, 2048), (2048, 2048, 5632)] {
        for dtype in [DType::F32, DType::BF16] {
            let (a, b) = (rand(&[m, k], 1, dtype)?, rand(&[k, n], 2, dtype)?);
            let flops = 2 * m * k * n;
            out.push(case(
                &format!("matmul_{dtype}"),
                format!("{m}x{k}x{n}"),
                Work::Flops(flops),
                move || a.matmul(&b)?.eval(),
            ));
        }
    }
    for shape in [[32usize, 4096], [1, 32000]] {
        let x = rand(&shape, 3, DType::F32)?;
        let w = rand(&shape[1..], 4, DType::F32)?;
        let bytes = Work::Bytes(2 * 4 * shape[0] * shape[1]);
        // rms_norm also reads its weight row once.
        let norm_bytes = Work::Bytes(4 * (2 * shape[0] * shape[1] + shape[1]));
        let s = format!("{}x{}", shape[0], shape[1]);
        let x2 = x.clone();
        out.push(case("softmax", s.clone(), bytes, move || {
            x.softmax(-1)?.eval()
        }));
        out.push(case("rms_norm", s, norm_bytes, move || {
            x2.rms_norm(Some(&w), 1e-5)?.eval()
        }));
    }
    let x = rand(&[1, 32, 512, 64], 5, DType::F32)?;
    out.push(case(
        "rope",
        "1x32x512x64".into(),
        Work::Bytes(2 * 4 * 32 * 512 * 64),
        move || {
            x.rope(64, RopeLayout::SplitHalves, 10000.0, 1.0, 0, None)?
                .eval()
        },
    ));
    let q = rand(&[1, 32, 1, 128], 6, DType::F32)?;
    let (kc, vc) = (
        rand(&[1, 4, 1024, 128], 7, DType::F32)?,
        rand(&[1, 4, 1024, 128], 8, DType::F32)?,
    );
    out.push(case(
        "attention_decode",
        "q1x32x1x128_kv1x4x1024x128".into(),
        // K and V read, q read and the output written.
        Work::Bytes(4 * (2 * 4 * 1024 * 128 + 2 * 32 * 128)),
        move || Array::attention(&q, &kc, &vc, 1.0 / (128f32).sqrt(), false, None)?.eval(),
    ));
    for shape in [[64usize, 5632], [2048, 5632]] {
        let (a, b) = (rand(&shape, 9, DType::F32)?, rand(&shape, 10, DType::F32)?);
        let s = format!("{}x{}", shape[0], shape[1]);
        let bytes = Work::Bytes(3 * 4 * shape[0] * shape[1]);
        let (a2, b2) = (a.clone(), b.clone());
        out.push(case("silu_mul_fused", s.clone(), bytes, move || {
            a.silu()?.mul(&b)?.eval()
        }));
        out.push(case("silu_mul_unfused", s, bytes, move || {
            let s = a2.silu()?;
            s.eval()?;
            s.mul(&b2)?.eval()
        }));
    }
    let x = rand(&[4], 11, DType::F32)?;
    out.push(case(
        "graph_overhead_per_node",
        "1000 adds on [4]".into(),
        Work::Nodes(1000),
        move || {
            let mut y = x.clone();
            for _ in 0..1000 {
                y = y.add(&x)?;
                y.eval()?;
            }
            Ok(())
        },
    ));
    out.retain(|c| c.name.contains(filter));
    Ok(out)
}
