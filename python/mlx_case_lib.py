"""Shared pieces of the MLX conformance cases: dtypes, tolerances, operands
with view steps, and the Suite that records cases (see mlx_cases.py)."""

import json
import math

import mlx.core as mx
import numpy as np
from pathlib import Path

SEED = 20251122

MX = {
    "bool": mx.bool_,
    "u8": mx.uint8,
    "i8": mx.int8,
    "i32": mx.int32,
    "i64": mx.int64,
    "f16": mx.float16,
    "bf16": mx.bfloat16,
    "f32": mx.float32,
}
NP = {"bool": np.bool_, "u8": np.uint8, "i8": np.int8, "i32": np.int32, "i64": np.int64}
FLOATS = ("f32", "f16", "bf16")
# Spacing of a type's numbers relative to their value, at most (one ulp, relative).
ULP = {"f32": 2.0**-23, "f16": 2.0**-10, "bf16": 2.0**-7}


def name_of(dtype):
    return next(k for k, v in MX.items() if v == dtype)


# ---------------------------------------------------------------- tolerances


def tol(atol, rtol, why):
    return {"atol": float(atol), "rtol": float(rtol), "why": why}


# Bit-exact: the Rust side also tells -0.0 from +0.0 under this tolerance.
EXACT = tol(0, 0, "moves, selects, compares or converts values: bit-exact, sign of zero included")


def rounded(dt, why="one correctly rounded result on both sides"):
    """Element-wise +,-,*,/,sqrt,square: IEEE-exact in both, but for f16/bf16
    MLX may round an f32 intermediate differently (1 ulp)."""
    if dt not in ULP:
        return tol(0, 0, "integer arithmetic is exact")
    return tol(0, ULP[dt], f"{why}; 1 {dt} ulp for a different rounding path")


def transcendental(dt, scale=1.0, ops=1):
    """Ferrite evaluates in f32 with its own SIMD approximations and rounds once
    to `dt`; MLX uses its own f32 approximations and, for f16/bf16, rounds after each of
    the `ops` primitive ops a composite (gelu, silu ...) is built from. Near a
    zero of the function relative error is meaningless, so an absolute term
    scales with the inputs' magnitude `scale` (cancellation in e.g. 1 + erf)."""
    if dt == "f32":
        return tol(
            8 * ULP["f32"] * scale,
            8 * ULP["f32"],
            "Ferrite's and MLX's f32 approximations: a few ulp each; absolute term for cancellation near zeros",
        )
    if dt not in ULP:
        return transcendental("f32", scale)
    return tol(
        ops * ULP[dt] * scale,
        ops * ULP[dt],
        f"Ferrite rounds once to {dt}; MLX rounds after each of {ops} op(s) in {dt}",
    )


def accumulated(dt, k, scale, extra_ops=1):
    """Sums of `k` terms of magnitude ~`scale`: both sides round differently
    (Ferrite accumulates in f64/f32, MLX in f32 with its own order); the error
    grows like sqrt(k)·eps times the size of the partial sums (~sqrt(k)·scale),
    plus the final rounding to `dt` (and `extra_ops` more for composites)."""
    k = max(k, 1)
    acc = 2 * math.sqrt(k) * ULP["f32"] * math.sqrt(k) * scale
    if dt == "f32":
        return tol(acc, 2 * math.sqrt(k) * ULP["f32"], f"sum of {k} f32 terms in a different order: ~sqrt(K)·eps")
    u = ULP.get(dt, ULP["f32"])
    return tol(
        acc + extra_ops * u * scale,
        (extra_ops + 1) * u,
        f"sum of {k} terms accumulated in f32, then {extra_ops + 1} rounding(s) to {dt}",
    )


# ---------------------------------------------------------------- data


class Operand:
    """A base array stored in the file plus the view steps that make the operand."""

    def __init__(self, base, view=(), layout="contig"):
        self.base = base
        self.view = [list(s) for s in view]
        self.layout = layout

    def value(self):
        x = self.base
        for kind, arg in self.view:
            if kind == "transpose":
                x = mx.transpose(x, arg)
            elif kind == "slice":
                x = x[tuple(slice(*s) for s in arg)]
            elif kind == "broadcast":
                x = mx.broadcast_to(x, arg)
            else:
                raise ValueError(kind)
        return x


class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def to_mx(self, values, dt):
        if dt in ULP:
            return mx.array(np.asarray(values, dtype=np.float32)).astype(MX[dt])
        return mx.array(np.asarray(values).astype(NP[dt]))

    def normal(self, shape, dt="f32", scale=1.0):
        return self.to_mx(self.rng.standard_normal(shape) * scale, dt)

    def uniform(self, shape, lo, hi, dt="f32"):
        return self.to_mx(self.rng.uniform(lo, hi, shape), dt)

    def ints(self, shape, lo, hi, dt="i32"):
        return self.to_mx(self.rng.integers(lo, hi, shape), dt)

    def bools(self, shape, p=0.5):
        return self.to_mx(self.rng.random(shape) < p, "bool")


LAYOUTS = ("contig", "T", "step", "neg", "bcast", "Tneg")


def operand(shape, make, layout="contig"):
    """An operand of `shape` reached through `layout` from a stored base made
    by `make(base_shape)`:
    contig: the base itself; T: transpose of the reversed shape; step: every
    other element from index 1 on every axis; neg: every other element in
    reverse; bcast: a base with size-1 (and one missing leading) axes broadcast
    up; Tneg: a transpose, then reversed with step -2."""
    shape = tuple(shape)
    n = len(shape)
    if n == 0 or (layout in ("T", "Tneg") and n < 2):
        layout = "contig" if layout != "Tneg" else "neg"
        if n == 0:
            layout = "contig"
    if layout == "contig":
        return Operand(make(shape), [], layout)
    if layout == "T":
        perm = list(range(n))[::-1]
        return Operand(make(shape[::-1]), [["transpose", perm]], layout)
    if layout == "step":
        base = tuple(2 * d + 1 for d in shape)
        return Operand(make(base), [["slice", [[1, 1 + 2 * d, 2] for d in shape]]], layout)
    if layout in ("neg", "Tneg"):
        base = tuple(2 * d + 1 for d in shape)
        sl = [[2 * d - 1, None, -2] if d > 0 else [0, 0, -1] for d in shape]
        if layout == "neg":
            return Operand(make(base), [["slice", sl]], layout)
        perm = list(range(n))[::-1]
        return Operand(make(base[::-1]), [["transpose", perm], ["slice", sl]], layout)
    if layout == "bcast":
        base = [1 if i % 2 == 0 else d for i, d in enumerate(shape)]
        if n >= 2:
            base = base[1:]
        return Operand(make(tuple(base)), [["broadcast", list(shape)]], layout)
    raise ValueError(layout)


# ---------------------------------------------------------------- the suite


class Suite:
    def __init__(self):
        self.arrays = {}
        self.cases = []
        self.g = Gen(SEED)

    def _inputs(self, cid, operands):
        inputs = []
        for k, o in enumerate(operands):
            key = f"{cid}.in{k}"
            self.arrays[key] = o.base
            inputs.append({"key": key, "view": o.view})
        return inputs

    @staticmethod
    def _describe(operands):
        parts = []
        for o in operands:
            v = o.value()
            s = f"{name_of(v.dtype)}{list(v.shape)}"
            if o.layout != "contig":
                s += f"/{o.layout}"
            parts.append(s)
        return " ".join(parts)

    def case(self, op, operands, fn, tolerance, params=None, label="", out_cast=None):
        """Runs `fn` on the operands' values in MLX and records the case.
        `tolerance` is a dict or a function of the MLX output's dtype name.
        `out_cast` converts MLX's output dtype where Ferrite deliberately
        differs (stated at the call)."""
        cid = len(self.cases)
        out = fn(*[o.value() for o in operands])
        if out_cast is not None:
            out = out.astype(out_cast)
        mx.eval(out)
        key = f"{cid}.out"
        self.arrays[key] = out
        if callable(tolerance):
            tolerance = tolerance(name_of(out.dtype))
        name = f"{op}{'[' + label + ']' if label else ''} {self._describe(operands)}".strip()
        self.cases.append(
            {
                "name": name,
                "op": op,
                "params": params or {},
                "inputs": self._inputs(cid, operands),
                "output": key,
                "error": None,
                "tol": tolerance,
            }
        )

    def error(self, op, operands, fn, params=None, label=""):
        """A case MLX rejects: records MLX's message; Ferrite must reject it too."""
        cid = len(self.cases)
        try:
            mx.eval(fn(*[o.value() for o in operands]))
        except (ValueError, IndexError, RuntimeError) as e:
            message = str(e)
        else:
            raise AssertionError(f"MLX accepted error case {op} {label}")
        self.cases.append(
            {
                "name": f"{op}[{label}] {self._describe(operands)}",
                "op": op,
                "params": params or {},
                "inputs": self._inputs(cid, operands),
                "output": None,
                "error": message,
                "tol": EXACT,
            }
        )

    def save(self, out_dir):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        mx.save_safetensors(str(out_dir / "cases.safetensors"), self.arrays)
        manifest = {"mlx": mx.__version__, "seed": SEED, "cases": self.cases}
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))


def mags(*xs):
    """Largest magnitude among operands (float64), for absolute tolerance terms."""
    m = 0.0
    for x in xs:
        if x.size:
            m = max(m, float(mx.max(mx.abs(x.astype(mx.float32))).item()))
    return m


def rms(x):
    return float(mx.sqrt(mx.mean(mx.square(x.astype(mx.float32)))).item()) if x.size else 0.0


# ---------------------------------------------------------------- element-wise
