//! Every Ferrite op against MLX.
//!
//! `python/mlx_cases.py` (run once in the pinned venv, cached under
//! `target/mlx-cases/<hash of the scripts and requirements>`) writes seeded
//! inputs, MLX's outputs and a manifest. Each case is rebuilt here with
//! Ferrite's public API: the stored base arrays are loaded, turned into the
//! same views (transposes, stepped and reversed slices, broadcasts), the op is
//! applied, and the result is compared with MLX's under the case's stated
//! tolerance. Cases MLX rejects must be rejected by Ferrite when the op is
//! built. Every failure is collected and reported in one table.
//!
//! `FERRITE_CONFORMANCE_FILTER=text` runs only cases whose name contains
//! `text`; `FERRITE_CONFORMANCE_VERBOSE=1` prints every case's error, which
//! is how the tolerances were checked against what actually differs.

use ferrite_core::prim::RopeLayout;
use ferrite_core::{llama3_rope_freqs, Array, DType, Llama3RopeScaling, Result, SliceArg};
use ferrite_testkit::compare::{compare, decode, values, Report, Tolerance};
use ferrite_testkit::python::{run_script, skip_requested};
use ferrite_testkit::{content_hash, repo_root, target_dir};
use safetensors::SafeTensors;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const SCRIPT: &str = "python/mlx_cases.py";
/// Every file the script reads: its modules and the pinned requirements.
const SOURCES: &[&str] = &[
    "python/mlx_cases.py",
    "python/mlx_case_lib.py",
    "python/mlx_cases_elementwise.py",
    "python/mlx_cases_layout.py",
    "python/mlx_cases_nn.py",
    "python/mlx_cases_misc.py",
    "python/requirements.txt",
];

/// The directory holding this script version's cases, generating it if needed.
fn cases_dir() -> std::result::Result<PathBuf, String> {
    let read = |p: &str| fs::read(repo_root().join(p)).map_err(|e| format!("cannot read {p}: {e}"));
    let sources = SOURCES
        .iter()
        .map(|p| read(p))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let key = content_hash(sources.iter().map(|s| s.as_slice()));
    let dir = target_dir().join("mlx-cases").join(format!("{key:016x}"));
    if dir.join("manifest.json").is_file() {
        return Ok(dir);
    }
    // Generate privately, then rename: a concurrent run never sees half a directory.
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    run_script(Path::new(SCRIPT), &[&tmp])?;
    if let Err(e) = fs::rename(&tmp, &dir) {
        let _ = fs::remove_dir_all(&tmp);
        if !dir.join("manifest.json").is_file() {
            return Err(format!("cannot move cases into {}: {e}", dir.display()));
        }
    }
    Ok(dir)
}

#[test]
fn ferrite_matches_mlx() {
    if skip_requested() {
        eprintln!("FERRITE_SKIP_PYTHON=1: skipping the MLX conformance suite");
        return;
    }
    ferrite_cpu::install();
    let dir = cases_dir().unwrap_or_else(|e| panic!("{e}"));
    let bytes = fs::read(dir.join("cases.safetensors")).expect("read cases.safetensors");
    let tensors = SafeTensors::deserialize(&bytes).expect("parse cases.safetensors");
    let manifest: Value =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).expect("read manifest"))
            .expect("parse manifest");
    let cases = manifest["cases"].as_array().expect("manifest has cases");
    let filter = std::env::var("FERRITE_CONFORMANCE_FILTER").unwrap_or_default();
    let verbose = std::env::var_os("FERRITE_CONFORMANCE_VERBOSE").is_some_and(|v| v == "1");

    let mut report = Report::new(format!("Ferrite vs MLX {}", manifest["mlx"]));
    let mut per_op: BTreeMap<String, usize> = BTreeMap::new();
    for case in cases
        .iter()
        .filter(|c| c["name"].as_str().unwrap_or("").contains(&filter))
    {
        let name = case["name"].as_str().unwrap_or("?");
        let op = case["op"].as_str().unwrap_or("?");
        *per_op.entry(op.to_string()).or_default() += 1;
        // A panic inside Ferrite is one more failure to list, not the end of the run.
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&tensors, case)))
            .unwrap_or_else(|p| Err(format!("panicked: {}", panic_text(&p))));
        match outcome {
            Ok(note) => {
                if verbose {
                    eprintln!("ok   {name}: {note}");
                }
                report.pass();
            }
            Err(problem) => {
                if verbose {
                    eprintln!("FAIL {name}: {problem}");
                }
                report.fail(name, op, problem);
            }
        }
    }
    let counts: Vec<String> = per_op.iter().map(|(op, n)| format!("{op} {n}")).collect();
    eprintln!(
        "{} cases ({}), {} failed",
        report.checked(),
        counts.join(", "),
        report.failures()
    );
    assert!(
        report.checked() > 0 || !filter.is_empty(),
        "the manifest holds no cases"
    );
    report.finish();
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs one case; `Ok` carries a note on how close it was.
fn check(tensors: &SafeTensors, case: &Value) -> std::result::Result<String, String> {
    let inputs = case["inputs"]
        .as_array()
        .ok_or("case has no inputs list")?
        .iter()
        .map(|input| operand(tensors, input))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let op = case["op"].as_str().ok_or("case has no op")?;
    let params = Params(&case["params"]);
    let built = build(op, &params, &inputs);
    if let Some(mlx_error) = case["error"].as_str() {
        return match built {
            Err(e) => Ok(format!("rejected as MLX does: {e}")),
            Ok(a) => Err(format!(
                "MLX rejects it ({mlx_error}) but Ferrite built {:?} {}",
                a.shape(),
                a.dtype()
            )),
        };
    }
    let got = built.map_err(|e| format!("Ferrite rejects it: {e}"))?;
    let key = case["output"].as_str().ok_or("case has no output")?;
    let want = tensors.tensor(key).map_err(|e| format!("{key}: {e}"))?;
    let want_dtype = dtype_of(want.dtype())?;
    if got.shape() != want.shape() || got.dtype() != want_dtype {
        return Err(format!(
            "shape/dtype: Ferrite {:?} {}, MLX {:?} {want_dtype}",
            got.shape(),
            got.dtype(),
            want.shape()
        ));
    }
    let got_values = values(&got).map_err(|e| format!("evaluation failed: {e}"))?;
    let want_values = decode(want.data(), want_dtype);
    let t = &case["tol"];
    let tol = Tolerance {
        atol: t["atol"].as_f64().unwrap_or(0.0),
        rtol: t["rtol"].as_f64().unwrap_or(0.0),
    };
    let diff = compare(&got_values, &want_values, want.shape(), tol);
    let why = t["why"].as_str().unwrap_or("");
    if diff.passed() {
        Ok(format!(
            "{diff} (atol {:.1e}, rtol {:.1e})",
            tol.atol, tol.rtol
        ))
    } else {
        Err(format!(
            "{diff}; allowed atol {:.1e} rtol {:.1e} ({why})",
            tol.atol, tol.rtol
        ))
    }
}

fn dtype_of(d: safetensors::Dtype) -> std::result::Result<DType, String> {
    use safetensors::Dtype as S;
    Ok(match d {
        S::BOOL => DType::Bool,
        S::U8 => DType::U8,
        S::I8 => DType::I8,
        S::I32 => DType::I32,
        S::I64 => DType::I64,
        S::F16 => DType::F16,
        S::BF16 => DType::BF16,
        S::F32 => DType::F32,
        other => {
            return Err(format!(
                "MLX produced {other:?}, which Ferrite has no dtype for"
            ))
        }
    })
}

/// Loads an input's base array and applies its view steps.
fn operand(tensors: &SafeTensors, input: &Value) -> std::result::Result<Array, String> {
    let key = input["key"].as_str().ok_or("input has no key")?;
    let t = tensors.tensor(key).map_err(|e| format!("{key}: {e}"))?;
    let mut a =
        Array::from_bytes(t.data(), t.shape(), dtype_of(t.dtype())?).map_err(|e| e.to_string())?;
    for step in input["view"].as_array().ok_or("input has no view")? {
        let arg = &step[1];
        a = match step[0].as_str() {
            Some("transpose") => a.permute(&usizes(arg)),
            Some("slice") => a.slice(&slice_args(arg)),
            Some("broadcast") => a.broadcast_to(&usizes(arg)),
            other => return Err(format!("unknown view step {other:?}")),
        }
        .map_err(|e| format!("view step {step}: {e}"))?;
    }
    Ok(a)
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_u64().expect("a size") as usize)
        .collect()
}

fn isizes(v: &Value) -> Vec<isize> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_i64().expect("an integer") as isize)
        .collect()
}

/// `[[start, stop, step], ...]` with null for Python's defaults.
fn slice_args(v: &Value) -> Vec<SliceArg> {
    let bound = |x: &Value| x.as_i64().map(|i| i as isize);
    v.as_array()
        .expect("slice arguments")
        .iter()
        .map(|s| SliceArg {
            start: bound(&s[0]),
            stop: bound(&s[1]),
            step: s[2].as_i64().expect("a step") as isize,
        })
        .collect()
}

/// Typed access to a case's parameters (a missing one is a bug in the script).
struct Params<'a>(&'a Value);

impl Params<'_> {
    fn get(&self, k: &str) -> &Value {
        let v = &self.0[k];
        assert!(
            !v.is_null() || self.0.get(k).is_some(),
            "parameter {k} missing"
        );
        v
    }
    fn f64(&self, k: &str) -> f64 {
        self.get(k)
            .as_f64()
            .unwrap_or_else(|| panic!("parameter {k} is not a number"))
    }
    fn f32(&self, k: &str) -> f32 {
        self.f64(k) as f32
    }
    fn int(&self, k: &str) -> isize {
        self.get(k)
            .as_i64()
            .unwrap_or_else(|| panic!("parameter {k} is not an integer")) as isize
    }
    fn bool(&self, k: &str) -> bool {
        self.get(k)
            .as_bool()
            .unwrap_or_else(|| panic!("parameter {k} is not a bool"))
    }
    fn dtype(&self) -> DType {
        let name = self.get("dtype").as_str().expect("dtype name");
        DType::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .unwrap_or_else(|| panic!("unknown dtype {name}"))
    }
    /// Reduction axes: null means all axes, which Ferrite spells as `[]`.
    fn axes(&self) -> Vec<isize> {
        let v = self.get("axes");
        if v.is_null() {
            vec![]
        } else {
            isizes(v)
        }
    }
}

/// Builds the op with Ferrite's public API (no evaluation).
fn build(op: &str, p: &Params, x: &[Array]) -> Result<Array> {
    let keepdims = || p.bool("keepdims");
    Ok(match op {
        "negative" => x[0].negative()?,
        "abs" => x[0].abs()?,
        "exp" => x[0].exp()?,
        "log" => x[0].log()?,
        "sqrt" => x[0].sqrt()?,
        "rsqrt" => x[0].rsqrt()?,
        "square" => x[0].square()?,
        "sin" => x[0].sin()?,
        "cos" => x[0].cos()?,
        "tanh" => x[0].tanh()?,
        "sigmoid" => x[0].sigmoid()?,
        "silu" => x[0].silu()?,
        "gelu" => x[0].gelu()?,
        "gelu_tanh" => x[0].gelu_tanh()?,
        "relu" => x[0].relu()?,
        "relu2" => x[0].relu2()?,
        "logical_not" => x[0].logical_not()?,
        "add" => x[0].add(&x[1])?,
        "sub" => x[0].sub(&x[1])?,
        "mul" => x[0].mul(&x[1])?,
        "div" => x[0].div(&x[1])?,
        "pow" => x[0].pow(&x[1])?,
        "maximum" => x[0].maximum(&x[1])?,
        "minimum" => x[0].minimum(&x[1])?,
        "eq" => x[0].eq(&x[1])?,
        "ne" => x[0].ne(&x[1])?,
        "lt" => x[0].lt(&x[1])?,
        "le" => x[0].le(&x[1])?,
        "gt" => x[0].gt(&x[1])?,
        "ge" => x[0].ge(&x[1])?,
        // Chains the backend fuses into one kernel.
        "swiglu" => x[0].silu()?.mul(&x[1])?,
        "cast_chain" => x[0]
            .astype(p.dtype())?
            .mul(&x[1])?
            .astype(DType::F32)?
            .add(&x[2])?,
        "add_gt" => x[0].add(&x[1])?.gt(&x[2])?,
        "add_scalar" => x[0].add_scalar(p.f64("value"))?,
        "mul_scalar" => x[0].mul_scalar(p.f64("value"))?,
        "where" => Array::where_(&x[0], &x[1], &x[2])?,
        "astype" => x[0].astype(p.dtype())?,
        "reshape" => x[0].reshape(&isizes(p.get("shape")))?,
        "flatten" => x[0].flatten()?,
        "permute" => x[0].permute(&usizes(p.get("perm")))?,
        "transpose" => x[0].transpose()?,
        "swapaxes" => x[0].swapaxes(p.int("a"), p.int("b"))?,
        "slice" => x[0].slice(&slice_args(p.get("args")))?,
        "broadcast_to" => x[0].broadcast_to(&usizes(p.get("shape")))?,
        "expand" => x[0].expand(&isizes(p.get("shape")))?,
        "expand_dims" => x[0].expand_dims(p.int("axis"))?,
        "squeeze" => x[0].squeeze(&isizes(p.get("axes")))?,
        "concatenate" => Array::concatenate(x, p.int("axis"))?,
        "stack" => Array::stack(x, p.int("axis"))?,
        "take" => x[0].take(&x[1], p.int("axis"))?,
        "index_select" => x[0].index_select(p.int("axis"), &x[1])?,
        "take_along_axis" => x[0].take_along_axis(&x[1], p.int("axis"))?,
        "arange" => Array::arange(p.f64("start"), p.f64("stop"), p.f64("step"), p.dtype())?,
        "full" => Array::full(&usizes(p.get("shape")), p.f64("value"), p.dtype())?,
        "zeros" => Array::zeros(&usizes(p.get("shape")), p.dtype())?,
        "ones" => Array::ones(&usizes(p.get("shape")), p.dtype())?,
        "sum" => x[0].sum(&p.axes(), keepdims())?,
        "mean" => x[0].mean(&p.axes(), keepdims())?,
        "max" => x[0].max(&p.axes(), keepdims())?,
        "min" => x[0].min(&p.axes(), keepdims())?,
        "logsumexp" => x[0].logsumexp(&p.axes(), keepdims())?,
        "var" => {
            let ddof = p.0.get("ddof").and_then(Value::as_u64).unwrap_or(0) as u32;
            x[0].var(&p.axes(), keepdims(), ddof)?
        }
        // A null axis is MLX's axis=None: over the flattened array.
        "argmax" if p.get("axis").is_null() => x[0].argmax_all(keepdims())?,
        "argmin" if p.get("axis").is_null() => x[0].argmin_all(keepdims())?,
        "argmax" => x[0].argmax(p.int("axis"), keepdims())?,
        "argmin" => x[0].argmin(p.int("axis"), keepdims())?,
        "softmax" => x[0].softmax(p.int("axis"))?,
        "log_softmax" => x[0].log_softmax(p.int("axis"))?,
        "rms_norm" => x[0].rms_norm(x.get(1), p.f32("eps"))?,
        "layer_norm" => {
            let weight = if p.bool("has_weight") { x.get(1) } else { None };
            let bias = if p.bool("has_bias") {
                x.last().filter(|_| x.len() > 1)
            } else {
                None
            };
            x[0].layer_norm(weight, bias, p.f32("eps"))?
        }
        "matmul" => x[0].matmul(&x[1])?,
        "matmul_bias" => x[0].matmul_bias(&x[1], &x[2])?,
        "rope" => {
            let layout = if p.bool("traditional") {
                RopeLayout::Interleaved
            } else {
                RopeLayout::SplitHalves
            };
            let dims = p.int("dims") as usize;
            x[0].rope(
                dims,
                layout,
                p.f32("base"),
                p.f32("scale"),
                p.int("offset") as usize,
                x.get(1),
            )?
        }
        "llama3_rope_freqs" => llama3_rope_freqs(
            p.int("dims") as usize,
            p.f32("base"),
            Llama3RopeScaling {
                factor: p.f32("factor"),
                low_freq_factor: p.f32("low_freq_factor"),
                high_freq_factor: p.f32("high_freq_factor"),
                original_max_position_embeddings: p.f32("original_max_position_embeddings"),
            },
        )?,
        "attention" => {
            let mask = p.get("mask").as_str();
            let causal = mask == Some("causal");
            Array::attention(&x[0], &x[1], &x[2], p.f32("scale"), causal, x.get(3))?
        }
        other => panic!("the manifest names op {other:?}, which this test does not know"),
    })
}
