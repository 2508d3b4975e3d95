"""MLX conformance cases: sizes past the backend thresholds, fused chains, error parity."""

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from mlx_case_lib import *  # noqa: F403 (the shared case vocabulary)
from mlx_cases_nn import attention_tol, kv_operand, norm_tol, rope_tol, softmax, softmax_tol


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
        # K/V: a prefix of a preallocated cache (prefill) and transposed
        # (B, T, H, D) projections (decode), as models pass them, and contiguous.
        for b_, hq, hkv, tq, tk, d, mask, kl in [
            (1, 8, 2, 64, 257, 128, "causal", "cache"),
            (1, 32, 8, 1, 1025, 64, None, "BTHD"),
            (1, 8, 2, 64, 257, 128, "causal", "contig"),
        ]:
            if kl == "contig" and dt != "f32":
                continue
            q = operand((b_, hq, tq, d), lambda sh: g.normal(sh, dt), "T")
            k = kv_operand((b_, hkv, tk, d), lambda sh: g.normal(sh, dt), kl)
            v = kv_operand((b_, hkv, tk, d), lambda sh: g.normal(sh, dt), "contig" if kl == "cache" else kl)
            scale = 1.0 / math.sqrt(d)
            s.case(
                "attention",
                [q, k, v],
                lambda q, k, v, scale=scale, mask=mask: mx.fast.scaled_dot_product_attention(
                    q, k, v, scale=scale, mask=mask
                ),
                attention_tol(dt, d, tk),
                params={"scale": scale, "mask": mask},
                label=f"large K {kl}",
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
