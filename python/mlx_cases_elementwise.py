"""MLX conformance cases: unary and binary element-wise ops, where, casts."""

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from mlx_case_lib import *  # noqa: F403 (the shared case vocabulary)


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
        # zeros of both signs, values that overflow f16/bf16 and f16 subnormals.
        vals = g.rng.standard_normal(shape) * 100
        flat = vals.reshape(-1)
        extra = [0.0, -0.0, 1.00390625, 1.01171875, 70000.0, 3e-6, -1e-7, 65519.0, 65520.0]
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
