#!/usr/bin/env python3
"""MLX reference cases for Ferrite's op conformance test.

Usage: mlx_cases.py OUT_DIR

Writes two files (read by crates/ferrite-testkit/tests/mlx_conformance.rs):

* OUT_DIR/cases.safetensors: every case's input base arrays ("<id>.in<k>")
  and MLX's output ("<id>.out"), saved by mx.save_safetensors so bf16 and
  empty or 0-d arrays survive unchanged.
* OUT_DIR/manifest.json: {"mlx": version, "cases": [case, ...]} where a case is
    {"name": readable description, "op": Ferrite op name, "params": {...},
     "inputs": [{"key": tensor name, "view": [step, ...]}, ...],
     "output": tensor name or null,
     "error": MLX's error message or null (then Ferrite must reject the op
              when building it),
     "tol": {"atol", "rtol", "why"}}   # |ferrite - mlx| <= atol + rtol·|mlx|
  A view step turns the stored base array into the operand, on both sides:
    ["transpose", perm] | ["slice", [[start, stop, step], ...]] (null = Python's
    default) | ["broadcast", shape]
  so transposed, strided, reversed and stride-0 inputs reach the op exactly
  as they would in user code.

Everything is seeded: one MLX version always writes the same cases.
Random sampling is not compared (Ferrite's generator is its own, tested in Rust).
"""

import json
import math
import sys
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np

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


EXACT = tol(0, 0, "moves, selects, compares or converts values: bit-exact")


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

UNARY = {
    # name: (MLX function, input maker(g, shape, dt), kind, ops in MLX's composite)
    "negative": (mx.negative, lambda g, s, d: g.normal(s, d, 3), "exact", 1),
    "abs": (mx.abs, lambda g, s, d: g.normal(s, d, 3), "exact", 1),
    "exp": (mx.exp, lambda g, s, d: g.uniform(s, -10, 10, d), "transc", 1),
    "log": (mx.log, lambda g, s, d: g.uniform(s, 0.01, 100, d), "transc", 1),
    "sqrt": (mx.sqrt, lambda g, s, d: g.uniform(s, 0, 100, d), "rounded", 1),
    "rsqrt": (mx.rsqrt, lambda g, s, d: g.uniform(s, 0.01, 100, d), "transc", 1),
    "square": (mx.square, lambda g, s, d: g.normal(s, d, 3), "rounded", 1),
    "sin": (mx.sin, lambda g, s, d: g.uniform(s, -10, 10, d), "transc", 1),
    "cos": (mx.cos, lambda g, s, d: g.uniform(s, -10, 10, d), "transc", 1),
    "tanh": (mx.tanh, lambda g, s, d: g.normal(s, d, 3), "transc", 1),
    "sigmoid": (mx.sigmoid, lambda g, s, d: g.normal(s, d, 5), "transc", 1),
    "silu": (nn.silu, lambda g, s, d: g.normal(s, d, 5), "transc", 2),
    # x * (1 + erf(x / sqrt 2)) / 2
    "gelu": (nn.gelu, lambda g, s, d: g.normal(s, d, 3), "transc", 5),
    # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    "gelu_tanh": (nn.gelu_approx, lambda g, s, d: g.normal(s, d, 3), "transc", 8),
    "relu": (nn.relu, lambda g, s, d: g.normal(s, d, 3), "exact", 1),
    # max(x, 0)^2
    "relu2": (nn.relu2, lambda g, s, d: g.normal(s, d, 3), "rounded", 1),
}

SHAPES_1 = [(), (1,), (7,), (3, 5), (17, 33), (2, 0, 3), (1, 1, 129), (4, 3, 2, 5)]

# (exp(85) is finite: MLX's exp saturates to inf a little below ln(FLT_MAX) = 88.72.)
SPECIALS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    math.inf,
    -math.inf,
    math.nan,
    1e-40,
    -1e-40,
    85.0,
    -87.5,
    100.0,
    -100.0,
    1e30,
    -1e30,
]


def unary_tol(kind, dt, x, ops):
    if kind == "exact" or dt not in ULP:
        return EXACT if kind == "exact" else transcendental("f32", mags(x))
    if kind == "rounded":
        return rounded(dt)
    return transcendental(dt, max(mags(x), 1.0), ops)


def elementwise_unary(s):
    g = s.g
    for op, (fn, make, kind, ops) in UNARY.items():
        for i, shape in enumerate(SHAPES_1):
            for dt in FLOATS:
                if dt != "f32" and i % 3 != 0:
                    continue
                layout = LAYOUTS[(i + len(op)) % len(LAYOUTS)]
                a = operand(shape, lambda sh: make(g, sh, dt), layout)
                x = a.value()
                s.case(op, [a], fn, unary_tol(kind, dt, x, ops))
        # IEEE special values: infinities, NaN, signed zeros, subnormals, overflow.
        # MLX composes x·σ(x) and the gelus naively, so at -inf it gets
        # -inf·0 = NaN where Ferrite returns the limit -0: -inf is left out there.
        specials = [v for v in SPECIALS if ops == 1 or v != -math.inf]
        t = unary_tol(kind, "f32", mx.array([1.0]), ops)
        if op == "exp":
            # Measured against float64: MLX's exp is within ~8 ulp on [-20, 20]
            # and ~32 ulp beyond (exp(85) is off by 3e-6); Ferrite's within 1.
            # It also flushes subnormal results (exp(-100)) to zero.
            t = tol(
                2.0**-126, 40 * ULP["f32"], "MLX's vectorised exp: up to ~32 f32 ulp for |x| > 20; subnormals flushed"
            )
        s.case(op, [Operand(g.to_mx(specials, "f32"))], fn, t, label="specials")
    # Integer inputs: sign ops keep the type, transcendental ones give f32 (as in MLX).
    for op in ("negative", "abs", "square", "relu", "exp", "sqrt", "sin", "sigmoid"):
        fn, _, kind, _ = UNARY[op]
        a = operand((3, 7), lambda sh: g.ints(sh, -5, 6, "i32"), "T")
        s.case(op, [a], fn, EXACT if kind != "transc" and op != "sqrt" else transcendental("f32", 5), label="int")
    a = operand((4, 5), lambda sh: g.ints(sh, -100, 100, "i8"), "step")
    s.case("abs", [a], mx.abs, EXACT, label="i8")
    a = Operand(g.bools((3, 4)))
    s.case("logical_not", [a], mx.logical_not, EXACT)
    a = operand((5, 3), lambda sh: g.ints(sh, -2, 3, "i32"), "T")
    s.case("logical_not", [a], mx.logical_not, EXACT, label="int")


BINARY = {
    "add": (mx.add, "rounded"),
    "sub": (mx.subtract, "rounded"),
    "mul": (mx.multiply, "rounded"),
    "div": (mx.divide, "rounded"),
    "pow": (mx.power, "transc"),
    "maximum": (mx.maximum, "exact"),
    "minimum": (mx.minimum, "exact"),
    "eq": (mx.equal, "exact"),
    "ne": (mx.not_equal, "exact"),
    "lt": (mx.less, "exact"),
    "le": (mx.less_equal, "exact"),
    "gt": (mx.greater, "exact"),
    "ge": (mx.greater_equal, "exact"),
}

PAIRS = [
    ((), ()),
    ((7,), (7,)),
    ((3, 1, 5), (4, 1)),
    ((17, 33), (33,)),
    ((1,), (129,)),
    ((2, 0, 3), (3,)),
    ((0,), (1,)),
    ((2, 3, 4, 5), (2, 1, 4, 1)),
    ((1, 1), (1, 1)),
    ((129, 3), (129, 1)),
    ((5, 1, 3), ()),
]


def binary_inputs(g, op, dt):
    """Makers for a and b that keep `op` in its well-defined domain."""
    if op == "div":

        def den(sh):
            sign = np.where(g.rng.random(sh) < 0.5, -1.0, 1.0)
            return g.to_mx(sign * g.rng.uniform(0.5, 4.0, sh), dt)

        return (lambda sh: g.normal(sh, dt, 3)), den
    if op == "pow":
        if dt in ULP:
            return (lambda sh: g.uniform(sh, 0.1, 3.0, dt)), (lambda sh: g.uniform(sh, -2.0, 2.0, dt))
        return (lambda sh: g.ints(sh, -3, 4, dt)), (lambda sh: g.ints(sh, 0, 4, dt))
    if BINARY[op][1] == "exact":
        # Small integers (also as floats) so that ties and equalities occur.
        return (lambda sh: g.ints(sh, -3, 4, dt)), (lambda sh: g.ints(sh, -3, 4, dt))
    if dt in ULP:
        return (lambda sh: g.normal(sh, dt, 3)), (lambda sh: g.normal(sh, dt, 3))
    return (lambda sh: g.ints(sh, -1000, 1000, dt)), (lambda sh: g.ints(sh, -1000, 1000, dt))


def binary_tol(op, out_dt, a, b):
    kind = BINARY[op][1]
    if kind == "exact":
        return EXACT
    if out_dt not in ULP:
        return tol(0, 0, "integer arithmetic is exact")
    if kind == "rounded":
        return rounded(out_dt)
    return transcendental(out_dt, max(mags(a, b), 1.0) ** 2)


def elementwise_binary(s):
    g = s.g
    for op, (fn, kind) in BINARY.items():
        for i, (sa, sb) in enumerate(PAIRS):
            dts = ["f32"] + (["f16", "bf16", "i32"] if i % 2 == 0 else [])
            for dt in dts:
                ma, mb = binary_inputs(g, op, dt)
                a = operand(sa, ma, LAYOUTS[(i + len(op)) % len(LAYOUTS)])
                b = operand(sb, mb, LAYOUTS[(i + 2 * len(op) + 1) % len(LAYOUTS)])
                s.case(op, [a, b], fn, lambda out_dt, a=a, b=b: binary_tol(op, out_dt, a.value(), b.value()))
        # Mixed dtypes promote as in MLX: f16+bf16 -> f32, int+f16 -> f16, bool+f32 -> f32.
        mixes = [("f16", "bf16"), ("i32", "f16"), ("bool", "f32"), ("i32", "f32"), ("u8", "i32"), ("i8", "i64")]
        for j, (da, db) in enumerate(mixes):

            def mk(dt):
                if dt == "bool":
                    return lambda sh: g.bools(sh)
                if dt in ULP:
                    return binary_inputs(g, op, dt)[0 if op != "div" else 1]
                lo = 0 if dt == "u8" or op == "pow" else -3
                return lambda sh: g.ints(sh, lo if op != "div" else 1, 4, dt)

            a = operand((3, 4), mk(da), LAYOUTS[j % len(LAYOUTS)])
            b = operand((4,), mk(db), "contig")
            s.case(op, [a, b], fn, lambda out_dt, a=a, b=b: binary_tol(op, out_dt, a.value(), b.value()), label="mixed")
    # NaN and infinities: maximum/minimum propagate NaN; comparisons with NaN are false.
    sa = Operand(g.to_mx(SPECIALS, "f32"))
    sb = Operand(g.to_mx(SPECIALS[::-1], "f32"))
    for op in ("maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "add", "mul", "div", "pow"):
        s.case(op, [sa, sb], BINARY[op][0], binary_tol(op, "f32", mx.array([1.0]), mx.array([1.0])), label="specials")
    # Integer overflow wraps around (C semantics in MLX).
    a = Operand(g.to_mx([200, 255, 3, 128], "u8"))
    b = Operand(g.to_mx([100, 1, 250, 128], "u8"))
    s.case("add", [a, b], mx.add, EXACT, label="u8 wraps")
    s.case("sub", [b, a], mx.subtract, EXACT, label="u8 wraps")
    # Weak Python scalars keep the array's dtype.
    for dt in FLOATS:
        a = operand((5, 7), lambda sh: g.normal(sh, dt, 3), "T")
        s.case("add_scalar", [a], lambda x: x + 0.5, rounded(dt), params={"value": 0.5})
        s.case("mul_scalar", [a], lambda x: x * 3.0, rounded(dt), params={"value": 3.0})


def where_cases(s):
    g = s.g
    shapes = [
        ((3, 4), (3, 4), (3, 4)),
        ((3, 1), (1, 4), (4,)),
        ((2, 0, 3), (3,), ()),
        ((17,), (1,), (17,)),
        ((4, 1, 5), (3, 1), (1, 5)),
    ]
    for i, (sc, sa, sb) in enumerate(shapes):
        for dt in ("f32", "bf16", "i32"):
            mk = (lambda sh, dt=dt: g.normal(sh, dt)) if dt in ULP else (lambda sh, dt=dt: g.ints(sh, -9, 9, dt))
            c = operand(sc, lambda sh: g.bools(sh), LAYOUTS[i % len(LAYOUTS)])
            a = operand(sa, mk, LAYOUTS[(i + 1) % len(LAYOUTS)])
            b = operand(sb, mk, LAYOUTS[(i + 3) % len(LAYOUTS)])
            s.case("where", [c, a, b], mx.where, EXACT)
    # A float condition means "non-zero"; operands of different types promote.
    c = Operand(g.to_mx([0.0, 0.5, -0.0, 2.0, math.nan], "f32"))
    a = Operand(g.ints((5,), -9, 9, "i32"))
    b = Operand(g.normal((5,), "f16"))
    s.case("where", [c, a, b], mx.where, EXACT, label="float cond, mixed")


def astype_cases(s):
    g = s.g
    dts = ["bool", "u8", "i8", "i32", "i64", "f16", "bf16", "f32"]

    # Values each source type can hold that every destination can represent
    # after truncation; out-of-range float->int is undefined in MLX (C++ UB).
    def source(dt, dst, shape):
        if dt == "bool":
            return g.bools(shape)
        if dt == "u8":
            return g.ints(shape, 0, 256 if dst != "i8" else 128, "u8")
        if dt == "i8":
            return g.ints(shape, -128 if dst != "u8" else 0, 128, "i8")
        if dt in ("i32", "i64"):
            lim = {"u8": (0, 256), "i8": (-128, 128), "f16": (-65504, 65505)}.get(dst, (-(2**31), 2**31 - 1))
            vals = g.rng.integers(lim[0], lim[1], shape)
            if vals.size:
                vals.flat[0] = 0  # a zero for ->bool
            return g.to_mx(vals, dt)
        big = 6e4 if dt == "f16" else 3e6  # f16 holds up to 65504
        lim = {"u8": (0, 255.99), "i8": (-128.99, 127.99), "i32": (-big, big), "i64": (-big, big)}.get(dst)
        if lim is not None:
            return g.uniform(shape, lim[0], lim[1], dt)
        # Float to float: many mantissa bits (f32->bf16 must round to nearest even),
        # a zero, values that overflow f16/bf16 and f16 subnormals.
        vals = g.rng.standard_normal(shape) * 100
        flat = vals.reshape(-1)
        extra = [0.0, 1.00390625, 1.01171875, 70000.0, 3e-6, -1e-7, 65519.0, 65520.0]
        flat[: min(len(extra), flat.size)] = extra[: flat.size]
        return g.to_mx(vals, dt)

    for i, src in enumerate(dts):
        for j, dst in enumerate(dts):
            if src == dst:
                continue
            layout = LAYOUTS[(i + j) % len(LAYOUTS)]
            a = operand((5, 9), lambda sh: source(src, dst, sh), layout)
            s.case(
                "astype", [a], lambda x, dst=dst: x.astype(MX[dst]), EXACT, params={"dtype": dst}, label=f"{src}->{dst}"
            )
    # Integer narrowing wraps (C semantics), as MLX does.
    a = Operand(g.to_mx([300, -129, 70000, 255, -1], "i32"))
    for dst in ("u8", "i8"):
        s.case(
            "astype", [a], lambda x, dst=dst: x.astype(MX[dst]), EXACT, params={"dtype": dst}, label=f"i32->{dst} wraps"
        )
    a = Operand(g.to_mx([2**40 + 3, -(2**35) - 1, 7], "i64"))
    s.case("astype", [a], lambda x: x.astype(mx.int32), EXACT, params={"dtype": "i32"}, label="i64->i32 wraps")
    # Large integers round to nearest in float.
    a = Operand(g.to_mx([2**24 + 1, 2**24 + 3, -(2**25) - 3, 2**31 - 1], "i32"))
    for dst in ("f32", "bf16", "f16"):
        s.case("astype", [a], lambda x, dst=dst: x.astype(MX[dst]), EXACT, params={"dtype": dst}, label="i32 rounding")


# ---------------------------------------------------------------- shapes


def shape_cases(s):
    g = s.g
    for dt in ("f32", "bf16", "i32", "bool"):
        mk = (
            (lambda sh, dt=dt: g.normal(sh, dt))
            if dt in ULP
            else (lambda sh: g.bools(sh)) if dt == "bool" else (lambda sh: g.ints(sh, -50, 50, "i32"))
        )
        # reshape: contiguous, inferred axis, and non-contiguous views (which must copy
        # unless the strides allow a view).
        for shape, layout, new in [
            ((3, 4, 5), "contig", [12, 5]),
            ((3, 4, 5), "T", [-1]),
            ((3, 4, 5), "T", [5, 2, 6]),
            ((4, 6), "T", [6, 2, 2]),
            ((4, 6), "step", [2, 2, 6]),
            ((4, 6), "neg", [24]),
            ((3, 4), "bcast", [2, 6]),
            ((2, 0, 3), "contig", [0, 6]),
            ((2, 0, 3), "T", [3, -1, 2]),
            ((), "contig", [1, 1]),
            ((1, 7, 1), "step", [7]),
            ((4, 3, 2, 5), "Tneg", [5, 6, 4]),
        ]:
            a = operand(shape, mk, layout)
            s.case("reshape", [a], lambda x, new=new: mx.reshape(x, new), EXACT, params={"shape": new})
        a = operand((3, 5, 2), mk, "step")
        s.case("flatten", [a], mx.flatten, EXACT)
        for shape, layout, perm in [
            ((2, 3, 4), "contig", [2, 0, 1]),
            ((2, 3, 4, 5), "neg", [1, 3, 0, 2]),
            ((3, 0, 2), "T", [1, 2, 0]),
            ((5, 7), "bcast", [1, 0]),
        ]:
            a = operand(shape, mk, layout)
            s.case("permute", [a], lambda x, perm=perm: mx.transpose(x, perm), EXACT, params={"perm": perm})
        a = operand((3, 4, 5), mk, "step")
        s.case("transpose", [a], mx.transpose, EXACT)
        s.case("swapaxes", [a], lambda x: mx.swapaxes(x, 0, -1), EXACT, params={"a": 0, "b": -1})
        # Python slices: steps, negative steps, negative and out-of-range bounds, empty results.
        for shape, layout, args in [
            ((10,), "contig", [[1, 8, 3]]),
            ((10,), "contig", [[None, None, -1]]),
            ((10,), "contig", [[-2, 1, -3]]),
            ((10,), "contig", [[-100, 100, 4]]),
            ((10,), "contig", [[5, 2, 1]]),
            ((10,), "contig", [[8, 20, -2]]),
            ((7, 9), "T", [[None, None, 2], [7, -10, -2]]),
            ((6, 5, 4), "step", [[1, None, 1], [None, None, -2]]),
            ((6, 5, 4), "neg", [[None, None, -3]]),
            ((4, 5), "bcast", [[3, 0, -1], [1, 4, 2]]),
            ((3, 0, 4), "contig", [[None, None, -1], [None, None, 2], [1, 3, 1]]),
            ((3, 33), "contig", [[0, 1, 1], [32, None, 1]]),
            ((3, 4), "contig", [[3, None, 1], [1, None, 1]]),
            ((3, 4), "T", [[None, None, -1], [5, 9, 1]]),
        ]:
            a = operand(shape, mk, layout)
            s.case("slice", [a], lambda x, args=args: x[tuple(slice(*t) for t in args)], EXACT, params={"args": args})
        for shape, layout, target in [
            ((3, 1), "contig", [2, 3, 4]),
            ((1,), "contig", [0]),
            ((), "contig", [3, 2]),
            ((4, 1, 3), "T", [2, 4, 5, 3]),
            ((5,), "neg", [3, 5]),
        ]:
            a = operand(shape, mk, layout)
            s.case("broadcast_to", [a], lambda x, t=target: mx.broadcast_to(x, t), EXACT, params={"shape": target})
        for axis in (0, 2, -1):
            a = operand((3, 4), mk, "T")
            s.case("expand_dims", [a], lambda x, axis=axis: mx.expand_dims(x, axis), EXACT, params={"axis": axis})
        for axes, shape, layout in [
            ([], (1, 3, 1, 4, 1), "contig"),
            ([0, -1], (1, 3, 1, 4, 1), "step"),
            ([1], (2, 1, 0), "T"),
        ]:
            a = operand(shape, mk, layout)
            s.case(
                "squeeze", [a], lambda x, axes=axes: mx.squeeze(x, axes if axes else None), EXACT, params={"axes": axes}
            )
        # concatenate / stack, with views and an empty part.
        for axis, shapes in [
            (0, [(2, 3), (4, 3), (1, 3)]),
            (1, [(2, 3), (2, 0), (2, 5)]),
            (-1, [(2, 3, 4), (2, 3, 1)]),
            (0, [(3,)]),
        ]:
            ops = [operand(sh, mk, LAYOUTS[k % len(LAYOUTS)]) for k, sh in enumerate(shapes)]
            s.case("concatenate", ops, lambda *xs, axis=axis: mx.concatenate(xs, axis), EXACT, params={"axis": axis})
        for axis in (0, 1, -1):
            ops = [operand((3, 4), mk, layout) for layout in ("contig", "T", "neg")]
            s.case("stack", ops, lambda *xs, axis=axis: mx.stack(xs, axis), EXACT, params={"axis": axis})
        # take / index_select / take_along_axis with negative indices and index views.
        for shape, layout, idx_shape, axis, idt in [
            ((7, 5), "contig", (4,), 0, "i32"),
            ((7, 5), "T", (2, 3), 1, "i64"),
            ((3, 4, 6), "neg", (5,), -1, "u8"),
            ((3, 4, 6), "step", (), 1, "i32"),
            ((3, 4, 6), "contig", (0,), 2, "i32"),
        ]:
            a = operand(shape, mk, layout)
            n = a.value().shape[axis]
            lo = 0 if idt == "u8" else -n
            ix = operand(idx_shape, lambda sh: g.ints(sh, lo, n, idt), "step" if len(idx_shape) else "contig")
            s.case("take", [a, ix], lambda x, i, axis=axis: mx.take(x, i, axis), EXACT, params={"axis": axis})
            if len(idx_shape) == 1:
                s.case(
                    "index_select", [a, ix], lambda x, i, axis=axis: mx.take(x, i, axis), EXACT, params={"axis": axis}
                )
        for shape, idx_shape, axis in [
            ((4, 6), (4, 3), 1),
            ((4, 6), (2, 6), 0),
            ((3, 5, 2), (1, 4, 2), 1),
            ((3, 5, 2), (3, 1, 1), -1),
        ]:
            a = operand(shape, mk, "T")
            n = shape[axis]
            ix = operand(idx_shape, lambda sh: g.ints(sh, -n, n, "i32"), "contig")
            s.case(
                "take_along_axis",
                [a, ix],
                lambda x, i, axis=axis: mx.take_along_axis(x, i, axis),
                EXACT,
                params={"axis": axis},
            )


def creation_cases(s):
    for start, stop, step, dt in [
        (0, 10, 1, "f32"),
        (0, 5, 0.5, "f16"),
        (5, 0, -1.5, "f32"),
        (-3, 4, 0.25, "bf16"),
        (5, 0, 1, "i32"),
        (-7, 30, 3, "i32"),
        (0, 40, 7, "i64"),
        (2, 9, 2, "u8"),
        (0, 5, 1.5, "i32"),
        (0.5, 10, 2.7, "i32"),
        (-2.5, 3, 1.2, "i64"),
    ]:
        s.case(
            "arange",
            [],
            lambda: mx.arange(start, stop, step, dtype=MX[dt]),
            EXACT,
            params={"start": start, "stop": stop, "step": step, "dtype": dt},
            label=f"{start}:{stop}:{step} {dt}",
        )
    # MLX accumulates start + step by repeated addition in the output type; an
    # inexact step (0.1) then drifts by up to ~n/2 ulp of the largest value.
    s.case(
        "arange",
        [],
        lambda: mx.arange(0, 10, 0.1, dtype=mx.float32),
        tol(100 * 10 * ULP["f32"], 0, "MLX adds an inexact f32 step 100 times: ~n ulp drift"),
        params={"start": 0, "stop": 10, "step": 0.1, "dtype": "f32"},
        label="0:10:0.1 f32",
    )
    # MLX's full promotes `dtype` with the Python value's type (a float value
    # makes an int32 request float32), so the value is passed as the requested kind.
    for shape, value, dt in [
        ((2, 3), 1.5, "f32"),
        ((0, 4), 2.0, "bf16"),
        ((), -3, "i32"),
        ((3, 1, 2), True, "bool"),
        ((7,), 0.1, "f16"),
        ((2, 2), 300, "i64"),
    ]:
        s.case(
            "full",
            [],
            lambda: mx.full(shape, value, dtype=MX[dt]),
            EXACT,
            params={"shape": list(shape), "value": float(value), "dtype": dt},
        )
    for shape, dt in [((4, 5), "f32"), ((0,), "i32"), ((), "bf16")]:
        s.case("zeros", [], lambda: mx.zeros(shape, dtype=MX[dt]), EXACT, params={"shape": list(shape), "dtype": dt})
        s.case("ones", [], lambda: mx.ones(shape, dtype=MX[dt]), EXACT, params={"shape": list(shape), "dtype": dt})


# ---------------------------------------------------------------- reductions


def reduction_cases(s):
    g = s.g
    red = {
        "sum": lambda x, ax, kd: mx.sum(x, ax, keepdims=kd),
        "mean": lambda x, ax, kd: mx.mean(x, ax, keepdims=kd),
        "max": lambda x, ax, kd: mx.max(x, ax, keepdims=kd),
        "min": lambda x, ax, kd: mx.min(x, ax, keepdims=kd),
        "logsumexp": lambda x, ax, kd: mx.logsumexp(x, ax, keepdims=kd),
        "var": lambda x, ax, kd: mx.var(x, ax, keepdims=kd),
    }
    configs = [
        ((3, 5, 7), None),
        ((3, 5, 7), [0]),
        ((3, 5, 7), [-1]),
        ((3, 5, 7), [0, 2]),
        ((129,), [0]),
        ((4, 1, 33), [1, 2]),
        ((2, 3, 4, 5), [1, 3]),
        ((2, 0, 3), [0]),
        ((17, 9), [0, 1]),
    ]
    for op, fn in red.items():
        for i, (shape, axes) in enumerate(configs):
            for dt in ("f32", "f16", "bf16", "i32", "bool"):
                if dt in ("i32", "bool") and op not in ("sum", "max", "min", "mean"):
                    continue
                if dt != "f32" and i % 2 == 1:
                    continue
                if 0 in shape and op in ("max", "min", "logsumexp"):
                    continue  # MLX rejects these; see the error cases
                mk = (
                    (lambda sh, dt=dt: g.normal(sh, dt, 2))
                    if dt in ULP
                    else (lambda sh: g.bools(sh)) if dt == "bool" else (lambda sh: g.ints(sh, -1000, 1000, "i32"))
                )
                layout = LAYOUTS[(i + len(op)) % len(LAYOUTS)]
                a = operand(shape, mk, layout)
                x = a.value()
                k = int(np.prod([x.shape[d] for d in (axes if axes is not None else range(x.ndim))]))
                for kd in (False, True):
                    if op in ("max", "min") or dt in ("i32", "bool"):
                        t = EXACT if op not in ("mean",) else accumulated("f32", k, mags(x))
                    elif op == "logsumexp":
                        t = accumulated(dt, k, 1.0, extra_ops=3)
                        t = tol(t["atol"] + transcendental("f32", mags(x))["atol"], t["rtol"], t["why"] + ", exp/log")
                    elif op == "var":
                        # MLX computes E[x²] - E[x]²: its cancellation error is
                        # relative to E[x²], not to the variance.
                        t = accumulated(dt, k, 2 * rms(x) ** 2, extra_ops=3)
                    else:
                        t = accumulated(dt, k, mags(x))
                    params = {"axes": axes, "keepdims": kd}
                    s.case(op, [a], lambda x, axes=axes, kd=kd, fn=fn: fn(x, axes, kd), t, params=params)
    for ddof in (1, 2):
        a = operand((6, 9), lambda sh: g.normal(sh), "T")
        s.case(
            "var",
            [a],
            lambda x, ddof=ddof: mx.var(x, -1, ddof=ddof),
            accumulated("f32", 6, 9),
            params={"axes": [-1], "keepdims": False, "ddof": ddof},
        )
    # Large magnitudes and -inf entries: logsumexp must subtract the maximum.
    big = Operand(g.to_mx(g.rng.standard_normal((4, 9)) * 1000, "f32"))
    s.case(
        "logsumexp",
        [big],
        lambda x: mx.logsumexp(x, -1),
        accumulated("f32", 9, 1000),
        params={"axes": [-1], "keepdims": False},
        label="large",
    )
    ninf = g.rng.standard_normal((3, 8))
    ninf[:, ::3] = -np.inf
    ninf[2, :] = -np.inf
    a = Operand(g.to_mx(ninf, "f32"))
    s.case(
        "logsumexp",
        [a],
        lambda x: mx.logsumexp(x, -1),
        accumulated("f32", 8, 3),
        params={"axes": [-1], "keepdims": False},
        label="-inf",
    )
    # argmax/argmin: MLX returns uint32; Ferrite returns i32 by design, so the
    # reference is converted (the values are what is compared).
    for op, fn in (("argmax", mx.argmax), ("argmin", mx.argmin)):
        for i, (shape, axis) in enumerate(
            [((3, 5, 7), 0), ((3, 5, 7), -1), ((17, 33), 1), ((129,), 0), ((2, 1, 3), 1)]
        ):
            for dt in ("f32", "bf16", "i32"):
                # Few distinct values: ties must resolve to the first index.
                mk = lambda sh, dt=dt: g.ints(sh, -3, 4, dt)
                a = operand(shape, mk, LAYOUTS[(i + len(op)) % len(LAYOUTS)])
                for kd in (False, True):
                    s.case(
                        op,
                        [a],
                        lambda x, axis=axis, kd=kd, fn=fn: fn(x, axis, keepdims=kd),
                        EXACT,
                        params={"axis": axis, "keepdims": kd},
                        out_cast=mx.int32,
                    )


# ---------------------------------------------------------------- nn


def log_softmax(x, axis):
    """nn.log_softmax without its mx.compile wrapper, which crashes or returns
    NaN on a size-1 axis in MLX 0.32.4; same formula (shift by the max first)."""
    x = x - mx.max(x, axis=axis, keepdims=True)
    return x - mx.logsumexp(x, axis=axis, keepdims=True)


def softmax(x, axis):
    """MLX's softmax with precise=True for f16/bf16: the default accumulates
    the sum of exponentials in the input type, which for a bf16 row of 1000
    terms drops the small ones and is off by ~20% (measured against float64);
    Ferrite, like precise=True, accumulates in f32."""
    return mx.softmax(x, axis, precise=True)


def softmax_cases(s):
    g = s.g
    for i, (shape, axis) in enumerate(
        [
            ((3, 17, 33), -1),
            ((3, 17, 33), 0),
            ((3, 17, 33), 1),
            ((7,), 0),
            ((4, 1), -1),
            ((2, 0, 5), -1),
            ((2, 129), -1),
        ]
    ):
        for dt in FLOATS:
            if dt != "f32" and i % 2 == 1:
                continue
            a = operand(shape, lambda sh: g.normal(sh, dt, 3), LAYOUTS[i % len(LAYOUTS)])
            k = shape[axis] if shape else 1
            s.case(
                "softmax", [a], lambda x, axis=axis: softmax(x, axis), softmax_tol(dt, k, 1.0), params={"axis": axis}
            )
            if 0 not in shape:  # MLX's logsumexp rejects empty arrays
                s.case(
                    "log_softmax",
                    [a],
                    lambda x, axis=axis: log_softmax(x, axis),
                    softmax_tol(dt, k, 1.0, log=True),
                    params={"axis": axis},
                )
    # Large magnitudes (naive exp overflows) and -inf entries (masked logits).
    big = Operand(g.to_mx(g.rng.standard_normal((5, 33)) * 1000, "f32"))
    ninf = g.rng.standard_normal((4, 17)) * 3
    ninf[:, 1::3] = -np.inf
    ninf[0, 2:] = -np.inf
    masked = Operand(g.to_mx(ninf, "f32"))
    for label, a in (("large", big), ("-inf", masked)):
        s.case(
            "softmax",
            [a],
            lambda x: softmax(x, -1),
            softmax_tol("f32", a.value().shape[-1], 1.0),
            params={"axis": -1},
            label=label,
        )
        s.case(
            "log_softmax",
            [a],
            lambda x: log_softmax(x, -1),
            softmax_tol("f32", a.value().shape[-1], 1000.0, log=True),
            params={"axis": -1},
            label=label,
        )


def softmax_tol(dt, k, scale, log=False):
    """exp of shifted values (|x| up to ~scale·6) in f32, a sum of k terms and
    one division or log, then one rounding to dt (log_softmax's reference is
    composed of MLX ops, each rounding in dt: the extra term below)."""
    t = accumulated(dt, k, 1.0)
    if log:
        # log_softmax values are x - max - log(sum): absolute error of the
        # subtraction is relative to the inputs' magnitude.
        u = ULP.get(dt, ULP["f32"])
        return tol(t["atol"] + 4 * u * scale * 6, t["rtol"], t["why"] + "; x - lse rounds at the inputs' magnitude")
    return t


def norm_cases(s):
    g = s.g
    for i, shape in enumerate([(3, 17), (2, 3, 129), (1, 4096), (5, 1), (0, 8), (4, 7, 64)]):
        for dt in FLOATS:
            if dt != "f32" and i % 2 == 1:
                continue
            d = shape[-1]
            layout = LAYOUTS[i % len(LAYOUTS)]
            x = operand(shape, lambda sh: g.normal(sh, dt, 2), layout)
            w = Operand(g.normal((d,), dt))
            bias = Operand(g.normal((d,), dt))
            wmag = max(mags(w.value()), 1.0)
            for eps in (1e-5, 1e-6):
                t = norm_tol(dt, d, 4.0 * wmag)
                s.case("rms_norm", [x, w], lambda x, w, eps=eps: mx.fast.rms_norm(x, w, eps), t, params={"eps": eps})
                if eps == 1e-5:
                    s.case(
                        "rms_norm",
                        [x],
                        lambda x: mx.fast.rms_norm(x, None, 1e-5),
                        norm_tol(dt, d, 4.0),
                        params={"eps": 1e-5},
                        label="no weight",
                    )
                for hw, hb in ((True, True), (True, False), (False, True), (False, False)):
                    ops = [x] + ([w] if hw else []) + ([bias] if hb else [])

                    def fn(x, *p, hw=hw, hb=hb, eps=eps):
                        return mx.fast.layer_norm(x, p[0] if hw else None, p[-1] if hb else None, eps)

                    s.case(
                        "layer_norm",
                        ops,
                        fn,
                        norm_tol(dt, d, 4.0 * wmag + 4.0),
                        params={"eps": eps, "has_weight": hw, "has_bias": hb},
                    )
    # A half-precision input with f32 parameters promotes to f32, as in MLX
    # (and as Hugging Face Llama's RMSNorm does with an f32 weight).
    for dt in ("bf16", "f16"):
        x = Operand(g.normal((4, 96), dt, 2))
        w32, b32 = Operand(g.normal((96,), "f32")), Operand(g.normal((96,), "f32"))
        t = norm_tol(dt, 96, 4.0 * max(mags(w32.value()), 1.0) + 4.0)
        s.case("rms_norm", [x, w32], lambda x, w: mx.fast.rms_norm(x, w, 1e-5), t, params={"eps": 1e-5}, label="f32 weight")
        s.case(
            "layer_norm",
            [x, w32, b32],
            lambda x, w, b: mx.fast.layer_norm(x, w, b, 1e-5),
            t,
            params={"eps": 1e-5, "has_weight": True, "has_bias": True},
            label="f32 params",
        )


def norm_tol(dt, d, scale):
    """A mean over d terms (sqrt(d)·eps relative), rsqrt, then a scale and
    shift; MLX's fast kernels accumulate in f32 and round once to dt."""
    rel = 2 * math.sqrt(d) * ULP["f32"] + 4 * ULP["f32"]
    u = ULP.get(dt, ULP["f32"])
    if dt == "f32":
        return tol(rel * scale, rel, f"mean of {d} squares in f32 (sqrt(d)·eps), rsqrt and scaling")
    return tol(
        rel * scale + u * scale, rel + 2 * u, f"f32 statistics over {d} features, weight applied then rounded to {dt}"
    )


def llama3_freqs(dims, base, factor, low, high, orig):
    """mlx-lm's Llama3RoPE frequencies (models/rope_utils.py), reimplemented."""
    low_wavelen = orig / low
    high_wavelen = orig / high
    freqs = base ** (mx.arange(0, dims, 2) / dims)
    wavelens = 2 * mx.pi * freqs
    freqs = mx.where(wavelens > low_wavelen, freqs * factor, freqs)
    is_medium = (wavelens > high_wavelen) & (wavelens < low_wavelen)
    smooth = (orig / wavelens - low) / (high - low)
    smooth_freqs = freqs / ((1 - smooth) / factor + smooth)
    return mx.where(is_medium, smooth_freqs, freqs)


def rope_cases(s):
    g = s.g
    llama = dict(factor=8.0, low=1.0, high=4.0, orig=8192.0)
    for dims, base in ((128, 500000.0), (64, 10000.0), (16, 10000.0)):
        p = {
            "dims": dims,
            "base": base,
            "factor": llama["factor"],
            "low_freq_factor": llama["low"],
            "high_freq_factor": llama["high"],
            "original_max_position_embeddings": llama["orig"],
        }
        s.case(
            "llama3_rope_freqs",
            [],
            lambda dims=dims, base=base: llama3_freqs(dims, base, **llama),
            tol(0, 4 * ULP["f32"], "base**(2i/d) by powf in f32 on both sides: a few ulp"),
            params=p,
            label=f"dims={dims}",
        )
    cases = [
        # shape (B, H, T, D), layout, dims, traditional, base, scale, offset, freqs
        ((1, 4, 7, 64), "contig", 64, False, 10000.0, 1.0, 0, False),
        ((1, 4, 7, 64), "contig", 64, True, 10000.0, 1.0, 0, False),
        ((2, 3, 5, 32), "T", 16, False, 10000.0, 1.0, 3, False),
        ((2, 3, 5, 32), "step", 16, True, 10000.0, 0.5, 3, False),
        ((1, 2, 9, 128), "contig", 128, False, 500000.0, 1.0, 100, True),
        ((1, 2, 9, 128), "neg", 128, True, 500000.0, 1.0, 17, True),
        ((1, 8, 1, 64), "contig", 64, False, 10000.0, 1.0, 1000, False),
        ((3, 6, 8), "contig", 6, False, 10000.0, 2.0, 1, False),
        ((1, 2, 0, 16), "contig", 16, True, 10000.0, 1.0, 0, False),
    ]
    for i, (shape, layout, dims, trad, base, scale, offset, use_freqs) in enumerate(cases):
        for dt in FLOATS:
            if dt != "f32" and i % 2 == 1:
                continue
            x = operand(shape, lambda sh: g.normal(sh, dt), layout)
            ops = [x]
            if use_freqs:
                ops.append(Operand(llama3_freqs(dims, base, **llama)))

            def fn(x, *f, dims=dims, trad=trad, base=base, scale=scale, offset=offset):
                return mx.fast.rope(
                    x,
                    dims,
                    traditional=trad,
                    base=None if f else base,
                    scale=scale,
                    offset=offset,
                    freqs=f[0] if f else None,
                )

            max_pos = (offset + shape[-2]) * scale
            s.case(
                "rope",
                ops,
                fn,
                rope_tol(dt, max_pos, mags(x.value())),
                params={"dims": dims, "traditional": trad, "base": base, "scale": scale, "offset": offset},
            )
    # The common layout: projections are (B, T, H, D) and RoPE sees the transpose.
    xb = Operand(g.normal((2, 5, 4, 32)), [["transpose", [0, 2, 1, 3]]], "BTHD->BHTD")
    s.case(
        "rope",
        [xb],
        lambda x: mx.fast.rope(x, 32, traditional=False, base=10000.0, scale=1.0, offset=4),
        rope_tol("f32", 9, mags(xb.value())),
        params={"dims": 32, "traditional": False, "base": 10000.0, "scale": 1.0, "offset": 4},
    )


def rope_tol(dt, max_pos, mag):
    """Angles pos·θ reach `max_pos` radians; computing them in f32 (MLX) vs
    f64 (Ferrite) differs by ~max_pos·eps, which moves outputs by that times |x|."""
    ang = 4 * max(max_pos, 1.0) * ULP["f32"]
    u = ULP.get(dt, 0.0)
    return tol(
        (ang + 4 * ULP["f32"]) * mag + u * mag,
        2 * u,
        f"angles up to {max_pos:g} rad computed in f32 by MLX: ~pos·eps; then rounding to {dt}",
    )


def attention_cases(s):
    g = s.g
    cases = [
        # B, Hq, Hkv, Tq, Tk, D, Dv, mask
        (1, 32, 4, 5, 9, 16, 16, "causal"),
        (1, 32, 4, 7, 7, 16, 16, "causal"),
        (2, 4, 2, 7, 7, 8, 8, None),
        (1, 8, 8, 1, 17, 32, 32, None),
        (1, 8, 2, 1, 17, 32, 32, "causal"),
        (2, 6, 3, 4, 11, 16, 16, "additive"),
        (1, 4, 1, 3, 5, 8, 8, "bool"),
        (1, 4, 2, 3, 5, 8, 6, None),
        (1, 2, 2, 33, 33, 64, 64, "causal"),
    ]
    for i, (b, hq, hkv, tq, tk, d, dv, mask) in enumerate(cases):
        for dt in FLOATS:
            if dt != "f32" and i % 3 != 0 and mask != "bool":
                continue
            layout = LAYOUTS[i % 3]  # contig, T (heads/time swapped views), step
            q = operand((b, hq, tq, d), lambda sh: g.normal(sh, dt), layout)
            k = operand((b, hkv, tk, d), lambda sh: g.normal(sh, dt), "contig")
            v = operand((b, hkv, tk, dv), lambda sh: g.normal(sh, dt), layout)
            ops = [q, k, v]
            if mask == "additive":
                m = g.rng.standard_normal((tq, tk))
                m[:, ::4] = -np.inf
                ops.append(Operand(g.to_mx(m, dt)))
            elif mask == "bool":
                keep = g.rng.random((b, 1, tq, tk)) < 0.6
                keep[..., 0] = True  # no fully masked row (its softmax is undefined)
                ops.append(Operand(g.to_mx(keep, "bool")))
            scale = 1.0 / math.sqrt(d)

            def fn(q, k, v, *m, scale=scale, mask=mask):
                mk = "causal" if mask == "causal" else (m[0] if m else None)
                return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mk)

            t = attention_tol(dt, d, tk)
            s.case(
                "attention",
                ops,
                fn,
                t,
                params={"scale": scale, "mask": mask if mask in (None, "causal") else "array"},
                label=mask or "",
            )


def attention_tol(dt, d, tk):
    """q·k over d terms (scores ~ unit size after scaling), softmax over tk
    keys and a weighted sum of tk values (|v| ~ 3). MLX's CPU path runs the
    unfused ops in dt, rounding scores and probabilities to dt."""
    acc = 2 * (math.sqrt(d) + math.sqrt(tk)) * ULP["f32"] * 3
    if dt == "f32":
        return tol(acc, 8 * ULP["f32"], f"dot products of {d} and softmax over {tk} in f32")
    u = ULP[dt]
    return tol(acc + 2 * u * 3, 2 * u, f"MLX rounds scores, probabilities and outputs to {dt}")


def matmul_cases(s):
    g = s.g
    cases = [
        ((3, 5), (5, 7), "contig", "contig"),
        ((17, 33), (33, 1), "T", "contig"),
        ((2, 3, 4), (2, 4, 5), "contig", "T"),
        ((2, 1, 3, 4), (5, 4, 6), "step", "neg"),
        ((1, 3, 129), (129, 2), "contig", "T"),
        ((8,), (8, 3), "neg", "contig"),
        ((4, 8), (8,), "T", "step"),
        ((8,), (8,), "contig", "neg"),
        ((3, 0), (0, 4), "contig", "contig"),
        ((0, 5), (5, 2), "contig", "T"),
        ((4, 7), (3, 7, 2), "bcast", "contig"),
        ((1, 1), (1, 1), "contig", "contig"),
    ]
    for i, (sa, sb, la, lb) in enumerate(cases):
        for dt in FLOATS:
            if dt != "f32" and i % 2 == 1:
                continue
            a = operand(sa, lambda sh: g.normal(sh, dt), la)
            b = operand(sb, lambda sh: g.normal(sh, dt), lb)
            k = sa[-1]
            s.case("matmul", [a, b], mx.matmul, accumulated(dt, k, 3.0))
            if len(sa) >= 1 and len(sb) >= 2:
                n = sb[-1]
                for bshape in [(n,)] + ([(1, n), (sa[-2], n)] if len(sa) >= 2 else []):
                    c = Operand(g.normal(bshape, dt))
                    s.case("matmul_bias", [a, b, c], lambda a, b, c: mx.addmm(c, a, b), accumulated(dt, k + 1, 3.0))
    a = operand((3, 4), lambda sh: g.normal(sh, "f16"), "contig")
    b = operand((4, 2), lambda sh: g.normal(sh, "f32"), "T")
    s.case("matmul", [a, b], mx.matmul, accumulated("f32", 4, 3.0), label="mixed")


# ---------------------------------------------------------------- kernel edges


def large_cases(s):
    """Sizes past the backend's thresholds: parallel chunks of the fused
    element-wise kernel (64K elements), parallel rows, blocked GEMM with edge
    tiles on every side, GEMV (M or N = 1), long attention and RoPE."""
    g = s.g
    for dt in ("f32", "bf16"):
        a = operand((129, 1025), lambda sh: g.normal(sh, dt), "T")
        b = operand((1025,), lambda sh: g.normal(sh, dt), "contig")
        s.case("add", [a, b], mx.add, rounded(dt), label="large")
        c = operand((3, 1, 1025), lambda sh: g.bools(sh), "neg")
        s.case("where", [c, a, b], mx.where, EXACT, label="large")
        x = operand((257, 1031), lambda sh: g.normal(sh, dt, 2), "step")
        s.case("softmax", [x], lambda x: softmax(x, 0), softmax_tol(dt, 257, 1.0), params={"axis": 0}, label="large")
        s.case("softmax", [x], lambda x: softmax(x, -1), softmax_tol(dt, 1031, 1.0), params={"axis": -1}, label="large")
        for axes in ([0], [1], None):
            k = 257 * 1031 if axes is None else (257 if axes == [0] else 1031)
            s.case(
                "sum",
                [x],
                lambda x, axes=axes: mx.sum(x, axes),
                accumulated(dt, k, 8.0),
                params={"axes": axes, "keepdims": False},
                label="large",
            )
            s.case(
                "max",
                [x],
                lambda x, axes=axes: mx.max(x, axes),
                EXACT,
                params={"axes": axes, "keepdims": False},
                label="large",
            )
        w = Operand(g.normal((1031,), dt))
        s.case(
            "rms_norm",
            [x, w],
            lambda x, w: mx.fast.rms_norm(x, w, 1e-5),
            norm_tol(dt, 1031, 4.0 * mags(w.value())),
            params={"eps": 1e-5},
            label="large",
        )
        s.case(
            "layer_norm",
            [x, w, w],
            lambda x, w, b: mx.fast.layer_norm(x, w, b, 1e-5),
            norm_tol(dt, 1031, 4.0 * mags(w.value()) + 4.0),
            params={"eps": 1e-5, "has_weight": True, "has_bias": True},
            label="large",
        )
    for dt in FLOATS:
        for sa, sb, la, lb in [
            ((67, 129), (129, 71), "contig", "contig"),
            ((2, 67, 129), (129, 71), "T", "T"),
            ((130, 257), (257, 131), "contig", "T"),
            ((1, 1000), (1000, 300), "contig", "contig"),
            ((300, 1000), (1000, 1), "T", "contig"),
            ((1000,), (1000, 33), "contig", "T"),
            ((5, 2049), (2049, 6), "step", "contig"),
        ]:
            a = operand(sa, lambda sh: g.normal(sh, dt), la)
            b = operand(sb, lambda sh: g.normal(sh, dt), lb)
            s.case("matmul", [a, b], mx.matmul, accumulated(dt, sa[-1], 3.0), label="large")
        c = Operand(g.normal((131,), dt))
        a = operand((130, 257), lambda sh: g.normal(sh, dt), "contig")
        b = operand((257, 131), lambda sh: g.normal(sh, dt), "T")
        s.case("matmul_bias", [a, b, c], lambda a, b, c: mx.addmm(c, a, b), accumulated(dt, 258, 3.0), label="large")
        for b_, hq, hkv, tq, tk, d, mask in [(1, 8, 2, 64, 257, 128, "causal"), (1, 32, 8, 1, 1025, 64, None)]:
            q = operand((b_, hq, tq, d), lambda sh: g.normal(sh, dt), "T")
            k = operand((b_, hkv, tk, d), lambda sh: g.normal(sh, dt), "contig")
            v = operand((b_, hkv, tk, d), lambda sh: g.normal(sh, dt), "contig")
            scale = 1.0 / math.sqrt(d)
            s.case(
                "attention",
                [q, k, v],
                lambda q, k, v, scale=scale, mask=mask: mx.fast.scaled_dot_product_attention(
                    q, k, v, scale=scale, mask=mask
                ),
                attention_tol(dt, d, tk),
                params={"scale": scale, "mask": mask},
                label="large",
            )
        x = operand((1, 32, 64, 128), lambda sh: g.normal(sh, dt), "contig")
        s.case(
            "rope",
            [x],
            lambda x: mx.fast.rope(x, 128, traditional=False, base=500000.0, scale=1.0, offset=7),
            rope_tol(dt, 71, mags(x.value())),
            params={"dims": 128, "traditional": False, "base": 500000.0, "scale": 1.0, "offset": 7},
            label="large",
        )


def chain_cases(s):
    """Element-wise chains that Ferrite fuses into one kernel: the result must
    be what the ops give one by one (MLX runs them unfused)."""
    g = s.g
    for dt in FLOATS:
        a = operand((17, 129), lambda sh: g.normal(sh, dt, 3), "T")
        b = operand((17, 129), lambda sh: g.normal(sh, dt), "neg")
        # silu(a) * b: MLX rounds silu's output to dt before the product.
        t = transcendental(dt, 9.0, ops=3) if dt != "f32" else transcendental(dt, 9.0)
        s.case("swiglu", [a, b], lambda a, b: nn.silu(a) * b, t)
    # An explicit cast inside a chain: the bf16 product must be rounded to
    # bf16 before it is widened back to f32.
    a = operand((33, 65), lambda sh: g.normal(sh, "f32"), "contig")
    b = operand((33, 65), lambda sh: g.normal(sh, "bf16"), "T")
    c = operand((65,), lambda sh: g.normal(sh, "f32"), "contig")
    s.case(
        "cast_chain",
        [a, b, c],
        lambda a, b, c: (a.astype(mx.bfloat16) * b).astype(mx.float32) + c,
        tol(0, ULP["f32"], "each op rounds once in f32; the product is a bf16 value"),
        params={"dtype": "bf16"},
    )
    # Integer wrap-around must happen at the u8 op, not after a widening cast
    # or in a comparison.
    a = Operand(g.to_mx([200, 255, 3, 128], "u8"))
    b = Operand(g.to_mx([100, 1, 250, 128], "u8"))
    c = Operand(g.to_mx([0, 0, 0, 0], "i32"))
    s.case(
        "cast_chain",
        [a, b, c],
        lambda a, b, c: (a.astype(mx.uint8) * b).astype(mx.float32) + c,
        EXACT,
        params={"dtype": "u8"},
        label="u8 wraps",
    )
    c = Operand(g.to_mx([40, 0, 2, 1], "u8"))
    s.case("add_gt", [a, b, c], lambda a, b, c: (a + b) > c, EXACT, label="u8 wraps")


# ---------------------------------------------------------------- error parity


def error_cases(s):
    g = s.g
    z = lambda *shape, dt="f32": Operand(g.to_mx(np.zeros(shape), dt))
    s.error("add", [z(3), z(4)], mx.add, label="broadcast (3,) with (4,)")
    s.error("mul", [z(2, 3), z(3, 2)], mx.multiply, label="broadcast")
    s.error("where", [Operand(g.bools((2,))), z(3), z(3)], mx.where, label="broadcast")
    s.error("matmul", [z(2, 3), z(4, 5)], mx.matmul, label="inner dims")
    s.error("matmul", [z(), z(2, 2)], mx.matmul, label="0-d")
    s.error("matmul", [z(2, 2, dt="i32"), z(2, 2, dt="i32")], mx.matmul, label="integer")
    s.error("matmul", [z(2, 2, 3), z(3, 2, 4)], mx.matmul, label="batch broadcast")
    s.error("matmul_bias", [z(2, 3), z(3, 4), z(3)], lambda a, b, c: mx.addmm(c, a, b), label="bias shape")
    s.error("reshape", [z(6)], lambda x: mx.reshape(x, [4]), params={"shape": [4]}, label="size")
    s.error("reshape", [z(6)], lambda x: mx.reshape(x, [-1, -1]), params={"shape": [-1, -1]}, label="two -1")
    s.error("reshape", [z(6)], lambda x: mx.reshape(x, [4, -1]), params={"shape": [4, -1]}, label="-1 not integral")
    s.error("concatenate", [z(2, 3), z(2, 4)], lambda *xs: mx.concatenate(xs, 0), params={"axis": 0}, label="shape")
    s.error("concatenate", [z(2, 3), z(3)], lambda *xs: mx.concatenate(xs, 0), params={"axis": 0}, label="ndim")
    s.error("concatenate", [z(2, 3), z(2, 3)], lambda *xs: mx.concatenate(xs, 2), params={"axis": 2}, label="axis")
    s.error("stack", [z(2, 3), z(3, 2)], lambda *xs: mx.stack(xs, 0), params={"axis": 0}, label="shape")
    s.error("broadcast_to", [z(3)], lambda x: mx.broadcast_to(x, [4]), params={"shape": [4]}, label="3 to 4")
    s.error("broadcast_to", [z(2, 3)], lambda x: mx.broadcast_to(x, [3]), params={"shape": [3]}, label="fewer axes")
    s.error("permute", [z(2, 3)], lambda x: mx.transpose(x, [0, 0]), params={"perm": [0, 0]}, label="repeated")
    s.error("permute", [z(2, 3)], lambda x: mx.transpose(x, [0]), params={"perm": [0]}, label="short")
    s.error("squeeze", [z(2, 3)], lambda x: mx.squeeze(x, [0]), params={"axes": [0]}, label="size 2")
    s.error("expand_dims", [z(2, 3)], lambda x: mx.expand_dims(x, 3), params={"axis": 3}, label="axis")
    s.error("sum", [z(2, 3)], lambda x: mx.sum(x, [2]), params={"axes": [2], "keepdims": False}, label="axis")
    s.error(
        "sum", [z(2, 3)], lambda x: mx.sum(x, [0, 0]), params={"axes": [0, 0], "keepdims": False}, label="duplicate"
    )
    s.error("max", [z(2, 0, 3)], lambda x: mx.max(x, [1]), params={"axes": [1], "keepdims": False}, label="empty axis")
    s.error("min", [z(0)], lambda x: mx.min(x), params={"axes": None, "keepdims": False}, label="empty")
    s.error(
        "logsumexp",
        [z(2, 0)],
        lambda x: mx.logsumexp(x, [1]),
        params={"axes": [1], "keepdims": False},
        label="empty axis",
    )
    s.error("argmax", [z(2, 0)], lambda x: mx.argmax(x, 1), params={"axis": 1, "keepdims": False}, label="empty axis")
    s.error("argmin", [z(2, 3)], lambda x: mx.argmin(x, 2), params={"axis": 2, "keepdims": False}, label="axis")
    s.error("softmax", [z(2, 3)], lambda x: mx.softmax(x, 2), params={"axis": 2}, label="axis")
    s.error("take", [z(3), z(2)], lambda x, i: mx.take(x, i, 0), params={"axis": 0}, label="float indices")
    s.error(
        "take", [z(3, 2), Operand(g.to_mx([0], "i32"))], lambda x, i: mx.take(x, i, 2), params={"axis": 2}, label="axis"
    )
    s.error(
        "take_along_axis",
        [z(3, 4), Operand(g.to_mx([[0]], "i32")[0])],
        lambda x, i: mx.take_along_axis(x, i, 1),
        params={"axis": 1},
        label="ndim",
    )
    s.error(
        "take_along_axis",
        [z(3, 4), Operand(g.to_mx(np.zeros((2, 1)), "i32"))],
        lambda x, i: mx.take_along_axis(x, i, 1),
        params={"axis": 1},
        label="broadcast",
    )
    s.error("negative", [Operand(g.bools((3,)))], mx.negative, label="bool")
    s.error(
        "rms_norm",
        [z(2, 4), z(3)],
        lambda x, w: mx.fast.rms_norm(x, w, 1e-5),
        params={"eps": 1e-5},
        label="weight shape",
    )
    s.error(
        "layer_norm",
        [z(2, 4), z(3)],
        lambda x, w: mx.fast.layer_norm(x, w, None, 1e-5),
        params={"eps": 1e-5, "has_weight": True, "has_bias": False},
        label="weight shape",
    )
    s.error(
        "layer_norm",
        [z(2, 4), z(5)],
        lambda x, b: mx.fast.layer_norm(x, None, b, 1e-5),
        params={"eps": 1e-5, "has_weight": False, "has_bias": True},
        label="bias shape",
    )
    rope = lambda dims: (lambda x: mx.fast.rope(x, dims, traditional=False, base=10000.0, scale=1.0, offset=0))
    rp = lambda dims: {"dims": dims, "traditional": False, "base": 10000.0, "scale": 1.0, "offset": 0}
    s.error("rope", [z(1, 2, 4, 8)], rope(5), params=rp(5), label="odd dims")
    s.error("rope", [z(1, 2, 4, 8)], rope(10), params=rp(10), label="dims > D")
    att = lambda q, k, v: mx.fast.scaled_dot_product_attention(q, k, v, scale=1.0)
    ap = {"scale": 1.0, "mask": None}
    s.error("attention", [z(1, 6, 2, 4), z(1, 4, 2, 4), z(1, 4, 2, 4)], att, params=ap, label="Hq % Hkv")
    s.error("attention", [z(1, 4, 2, 4), z(1, 4, 3, 4), z(1, 4, 2, 4)], att, params=ap, label="k/v length")
    s.error("attention", [z(1, 4, 2, 4), z(1, 4, 3, 8), z(1, 4, 3, 8)], att, params=ap, label="q/k dim")
    s.error(
        "attention",
        [z(1, 2, 3, 4), z(1, 2, 5, 4), z(1, 2, 5, 4), z(3, 4)],
        lambda q, k, v, m: mx.fast.scaled_dot_product_attention(q, k, v, scale=1.0, mask=m),
        params={"scale": 1.0, "mask": "array"},
        label="mask shape",
    )


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    mx.set_default_device(mx.cpu)
    s = Suite()
    for build in (
        elementwise_unary,
        elementwise_binary,
        where_cases,
        astype_cases,
        shape_cases,
        creation_cases,
        reduction_cases,
        softmax_cases,
        norm_cases,
        rope_cases,
        attention_cases,
        matmul_cases,
        large_cases,
        chain_cases,
        error_cases,
    ):
        build(s)
    s.save(sys.argv[1])
    print(f"{len(s.cases)} cases written to {sys.argv[1]}")


if __name__ == "__main__":
    main()
