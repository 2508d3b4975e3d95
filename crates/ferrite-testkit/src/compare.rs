//! Element-wise comparison with a stated tolerance, and a report that
//! collects every failing case so one run shows them all.

use ferrite_core::{Array, DType};
use half::{bf16, f16};

/// Allowed difference: `|got - want| <= atol + rtol·|want|`. NaN must meet
/// NaN and an infinity the same infinity, whatever the tolerance. An exact
/// tolerance (`atol == rtol == 0`, [`Tolerance::EXACT`]) is bit-exact: it
/// also tells -0.0 from +0.0, which a zero difference alone would not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub atol: f64,
    pub rtol: f64,
}

impl Tolerance {
    pub const EXACT: Tolerance = Tolerance {
        atol: 0.0,
        rtol: 0.0,
    };

    /// True for the bit-exact tolerance (no allowed difference at all).
    pub fn is_exact(self) -> bool {
        self.atol == 0.0 && self.rtol == 0.0
    }

    /// How far `got` is from `want` in units of the allowance (≤ 1 passes).
    fn excess(self, got: f64, want: f64) -> f64 {
        if got.is_nan() || want.is_nan() || got.is_infinite() || want.is_infinite() {
            let same = (got.is_nan() && want.is_nan()) || got == want;
            return if same { 0.0 } else { f64::INFINITY };
        }
        let diff = (got - want).abs();
        if diff == 0.0 {
            // Equal values; only the sign of a zero can still differ.
            let sign_differs = got.is_sign_negative() != want.is_sign_negative();
            return if sign_differs && self.is_exact() {
                f64::INFINITY
            } else {
                0.0
            };
        }
        let allowed = self.atol + self.rtol * want.abs();
        if allowed == 0.0 {
            f64::INFINITY
        } else {
            diff / allowed
        }
    }
}

/// The element that exceeds its allowance the most.
#[derive(Clone, Debug, PartialEq)]
pub struct Worst {
    pub index: Vec<usize>,
    pub got: f64,
    pub want: f64,
}

/// The result of comparing two arrays of one shape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diff {
    /// Largest `|got - want|` over finite pairs.
    pub max_abs: f64,
    /// Largest `|got - want| / |want|` over finite pairs with `want != 0`.
    pub max_rel: f64,
    /// The worst element's error as a fraction of its allowance (≤ 1 passes;
    /// a small value on every run means the tolerance could be tighter).
    pub max_excess: f64,
    /// Elements outside the tolerance.
    pub failures: usize,
    /// The worst element (present whenever `failures > 0`).
    pub worst: Option<Worst>,
}

impl Diff {
    pub fn passed(&self) -> bool {
        self.failures == 0
    }
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "max abs {:.3e}, max rel {:.3e}, {:.2} of allowance",
            self.max_abs, self.max_rel, self.max_excess
        )?;
        if let Some(w) = &self.worst {
            write!(
                f,
                "; {} bad, worst at {:?}: got {:e}, want {:e}",
                self.failures, w.index, w.got, w.want
            )?;
        }
        Ok(())
    }
}

/// Compares row-major values of `shape` element by element.
pub fn compare(got: &[f64], want: &[f64], shape: &[usize], tol: Tolerance) -> Diff {
    assert_eq!(got.len(), want.len(), "compare: lengths differ");
    let mut diff = Diff::default();
    let mut worst = (0.0f64, 0usize);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if g.is_finite() && w.is_finite() {
            let d = (g - w).abs();
            diff.max_abs = diff.max_abs.max(d);
            if w != 0.0 {
                diff.max_rel = diff.max_rel.max(d / w.abs());
            }
        }
        let e = tol.excess(g, w);
        diff.max_excess = diff.max_excess.max(e);
        if e > 1.0 {
            diff.failures += 1;
            if diff.failures == 1 || e > worst.0 {
                worst = (e, i);
            }
        }
    }
    if diff.failures > 0 {
        let i = worst.1;
        diff.worst = Some(Worst {
            index: unravel(i, shape),
            got: got[i],
            want: want[i],
        });
    }
    diff
}

/// The multi-index of row-major flat index `flat` in `shape`.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &d) in index.iter_mut().zip(shape).rev() {
        *slot = flat % d.max(1);
        flat /= d.max(1);
    }
    index
}

/// Decodes native-endian elements of `dtype` to f64 (exact for every
/// computable dtype except i64 beyond 2^53).
pub fn decode(bytes: &[u8], dtype: DType) -> Vec<f64> {
    fn each<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        bytes
            .chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunk of N bytes")))
            .collect()
    }
    match dtype {
        DType::Bool => each(bytes, |[b]| (b != 0) as u8 as f64),
        DType::U8 => each(bytes, |[b]| b as f64),
        DType::I8 => each(bytes, |[b]| b as i8 as f64),
        DType::I32 => each(bytes, |b| i32::from_ne_bytes(b) as f64),
        DType::I64 => each(bytes, |b| i64::from_ne_bytes(b) as f64),
        DType::F16 => each(bytes, |b| f16::from_ne_bytes(b).to_f64()),
        DType::BF16 => each(bytes, |b| bf16::from_ne_bytes(b).to_f64()),
        DType::F32 => each(bytes, |b| f32::from_ne_bytes(b) as f64),
        d @ (DType::Block(_) | DType::Opaque(_)) => panic!("decode: {d} has no element values"),
    }
}

/// Evaluates `a` and returns its elements as f64, row-major.
pub fn values(a: &Array) -> ferrite_core::Result<Vec<f64>> {
    Ok(decode(&a.to_bytes()?, a.dtype()))
}

/// Failures of many cases, reported together as one table.
#[derive(Debug)]
pub struct Report {
    title: String,
    checked: usize,
    rows: Vec<(String, String, String)>,
}

impl Report {
    pub fn new(title: impl Into<String>) -> Report {
        Report {
            title: title.into(),
            checked: 0,
            rows: Vec::new(),
        }
    }

    /// Records a case that passed.
    pub fn pass(&mut self) {
        self.checked += 1;
    }

    /// Records a failing case: its description, op and what went wrong.
    pub fn fail(&mut self, case: &str, op: &str, problem: impl Into<String>) {
        self.checked += 1;
        self.rows
            .push((case.to_string(), op.to_string(), problem.into()));
    }

    pub fn failures(&self) -> usize {
        self.rows.len()
    }

    pub fn checked(&self) -> usize {
        self.checked
    }

    /// Panics with a table of every failure, if there is any.
    pub fn finish(self) {
        if self.rows.is_empty() {
            return;
        }
        let w0 = self
            .rows
            .iter()
            .map(|r| r.0.chars().count())
            .max()
            .unwrap_or(0)
            .min(70);
        let w1 = self.rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        let mut table = format!(
            "{}: {} of {} cases failed\n{:<w0$} | {:<w1$} | problem\n",
            self.title,
            self.rows.len(),
            self.checked,
            "case",
            "op"
        );
        table.push_str(&format!(
            "{}-+-{}-+-{}\n",
            "-".repeat(w0),
            "-".repeat(w1),
            "-".repeat(40)
        ));
        for (case, op, problem) in &self.rows {
            let case: String = case.chars().take(w0).collect();
            table.push_str(&format!("{case:<w0$} | {op:<w1$} | {problem}\n"));
        }
        panic!("{table}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_and_special_values() {
        let tol = Tolerance {
            atol: 0.0,
            rtol: 1e-3,
        };
        let d = compare(
            &[1.0005, f64::NAN, f64::INFINITY],
            &[1.0, f64::NAN, f64::INFINITY],
            &[3],
            tol,
        );
        assert!(d.passed(), "{d}");
        let d = compare(
            &[1.0, 2.5, f64::NAN, 4.0],
            &[1.0, 2.0, 3.0, 4.0],
            &[2, 2],
            tol,
        );
        assert_eq!(d.failures, 2);
        // A NaN where a number belongs is the worst possible error.
        assert_eq!(d.worst.unwrap().index, vec![1, 0]);
        assert!(!compare(&[-0.0, 1.0], &[0.0, 1.0 + 1e-12], &[2], Tolerance::EXACT).passed());
    }

    #[test]
    fn exact_tells_the_sign_of_zero() {
        let exact = Tolerance::EXACT;
        for (got, want) in [(-0.0, 0.0), (0.0, -0.0)] {
            let d = compare(&[1.0, got], &[1.0, want], &[2], exact);
            assert_eq!(d.failures, 1, "{got} vs {want}: {d}");
            assert_eq!(d.worst.unwrap().index, vec![1]);
        }
        assert!(compare(&[-0.0, 0.0], &[-0.0, 0.0], &[2], exact).passed());
        // NaN still meets NaN, whatever its sign bit.
        assert!(compare(&[f64::NAN], &[-f64::NAN], &[1], exact).passed());
        // A stated tolerance compares values, and -0.0 == +0.0 as values.
        let loose = Tolerance {
            atol: 0.0,
            rtol: 1e-6,
        };
        assert!(compare(&[-0.0], &[0.0], &[1], loose).passed());
    }

    #[test]
    fn unravel_row_major() {
        assert_eq!(unravel(7, &[2, 3, 2]), vec![1, 0, 1]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
    }
}
