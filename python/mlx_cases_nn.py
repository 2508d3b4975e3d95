"""MLX conformance cases: softmax, norms, RoPE, attention, matmul."""

import math

import mlx.core as mx
import numpy as np

from mlx_case_lib import *  # noqa: F403 (the shared case vocabulary)


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


def kv_operand(shape, make, layout):
    """A K or V operand of `shape` (B, H, T, D) reached the ways K/V reach
    attention in user code, beyond `operand`'s layouts:
    BTHD: projections stored (B, T, H, D) and transposed to (B, H, T, D);
    KT: stored transposed (B, H, D, T), swapped back;
    cache: the first T rows of a longer preallocated (B, H, T + 3, D) cache."""
    b, h, t, d = shape
    if layout == "BTHD":
        return Operand(make((b, t, h, d)), [["transpose", [0, 2, 1, 3]]], layout)
    if layout == "KT":
        return Operand(make((b, h, d, t)), [["transpose", [0, 1, 3, 2]]], layout)
    if layout == "cache":
        full = [None, None, 1]
        return Operand(make((b, h, t + 3, d)), [["slice", [full, full, [0, t, 1], full]]], layout)
    return operand(shape, make, layout)


def attention_case(s, dt, b, hq, hkv, tq, tk, d, dv, mask, k_layout="contig", v_layout="contig", q_layout="contig"):
    g = s.g
    q = operand((b, hq, tq, d), lambda sh: g.normal(sh, dt), q_layout)
    k = kv_operand((b, hkv, tk, d), lambda sh: g.normal(sh, dt), k_layout)
    v = kv_operand((b, hkv, tk, dv), lambda sh: g.normal(sh, dt), v_layout)
    ops = [q, k, v]
    if mask == "additive":
        m = g.rng.standard_normal((tq, tk))
        m[:, ::4] = -np.inf
        ops.append(Operand(g.to_mx(m, dt)))
    elif mask == "bool":
        keep = g.rng.random((b, 1, tq, tk)) < 0.6
        if tk:
            keep[..., 0] = True  # no fully masked row (its softmax is undefined)
        ops.append(Operand(g.to_mx(keep, "bool")))
    # With d = 0 every score is 0 whatever the scale (1/sqrt(0) would be inf).
    scale = 1.0 / math.sqrt(d) if d else 1.0

    def fn(q, k, v, *m, scale=scale, mask=mask):
        mk = "causal" if mask == "causal" else (m[0] if m else None)
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mk)

    s.case(
        "attention",
        ops,
        fn,
        attention_tol(dt, d, tk),
        params={"scale": scale, "mask": mask if mask in (None, "causal") else "array"},
        label=f"{mask or ''} K {k_layout}".strip(),
    )


def attention_edge_cases(s):
    """K (and V) as the strided views they are in models (transposed
    projections, a slice of a preallocated cache, K stored transposed), on
    both the few-row (decode) and the GEMM path, and empty axes: no batch,
    no queries, no keys (MLX gives zeros: an empty weighted sum), zero-length
    keys (all scores 0: a uniform average of V), zero-length values."""
    cases = [
        # B, Hq, Hkv, Tq, Tk, D, Dv, mask, K layout, V layout
        (1, 8, 2, 5, 9, 16, 16, "causal", "BTHD", "BTHD"),
        (1, 8, 2, 1, 17, 32, 32, None, "cache", "cache"),
        (1, 32, 8, 1, 40, 64, 64, "causal", "KT", "cache"),
        (2, 4, 2, 7, 7, 8, 8, "additive", "KT", "contig"),
        (1, 4, 1, 3, 5, 8, 8, "bool", "T", "step"),
        (1, 32, 4, 20, 20, 16, 16, "causal", "step", "T"),
        (2, 6, 3, 4, 11, 16, 12, None, "neg", "contig"),
        (1, 4, 4, 33, 40, 64, 64, "causal", "cache", "BTHD"),
        (1, 4, 2, 9, 9, 16, 16, "additive", "bcast", "contig"),
    ]
    for i, (b, hq, hkv, tq, tk, d, dv, mask, kl, vl) in enumerate(cases):
        for dt in FLOATS if i % 2 == 0 else ("f32",):
            attention_case(s, dt, b, hq, hkv, tq, tk, d, dv, mask, kl, vl, LAYOUTS[i % 3])
    empty = [
        (0, 4, 2, 3, 5, 8, 8, None),
        (0, 4, 2, 3, 5, 8, 8, "causal"),
        (1, 4, 2, 0, 5, 8, 8, "causal"),
        (1, 4, 2, 0, 5, 8, 8, "additive"),
        (1, 4, 1, 0, 5, 8, 8, "bool"),
        (1, 4, 2, 3, 0, 8, 8, None),
        (1, 4, 2, 3, 0, 8, 8, "causal"),
        (2, 4, 4, 3, 0, 8, 8, "additive"),
        (1, 8, 2, 1, 0, 16, 16, None),  # a decode step on an empty cache (few-row path)
        (1, 2, 1, 20, 0, 8, 8, "causal"),  # GEMM path
        (1, 4, 2, 3, 5, 0, 8, None),
        (1, 4, 2, 3, 5, 0, 8, "causal"),
        (1, 2, 1, 20, 24, 0, 4, "causal"),  # Tq <= Tk: no fully masked row
        (1, 4, 2, 3, 5, 8, 0, "causal"),
        (1, 4, 2, 3, 5, 8, 0, "additive"),
    ]
    for i, (b, hq, hkv, tq, tk, d, dv, mask) in enumerate(empty):
        for dt in ("f32", "bf16") if i % 3 == 0 else ("f32",):
            kl = ("contig", "T", "BTHD", "cache")[i % 4]
            attention_case(s, dt, b, hq, hkv, tq, tk, d, dv, mask, kl, kl)
