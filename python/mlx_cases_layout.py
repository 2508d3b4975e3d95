"""MLX conformance cases: views and shape ops, creation, reductions."""

import mlx.core as mx
import numpy as np

from mlx_case_lib import *  # noqa: F403 (the shared case vocabulary)


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


# ---------------------------------------------------------------- shape edges


def expand_target(xshape, shape):
    """The broadcast shape Ferrite's `expand` asks for: -1 keeps an existing
    axis (aligned from the right); any other -1 is left for MLX to reject."""
    off = len(shape) - len(xshape)
    if off < 0:
        return list(shape)
    return [xshape[i - off] if d == -1 and i >= off else d for i, d in enumerate(shape)]


def shape_edge_cases(s):
    """Empty axes, size-1 axes and 0-d inputs for the view and copy ops, and
    `expand` (PyTorch-style broadcast_to, where -1 keeps an axis)."""
    g = s.g
    for dt in ("f32", "bf16", "i32", "bool"):
        mk = (
            (lambda sh, dt=dt: g.normal(sh, dt))
            if dt in ULP
            else (lambda sh: g.bools(sh)) if dt == "bool" else (lambda sh: g.ints(sh, -50, 50, "i32"))
        )
        for shape, layout in [((2, 0, 3), "T"), ((0,), "contig"), ((), "contig"), ((1, 1, 4), "neg")]:
            s.case("flatten", [operand(shape, mk, layout)], mx.flatten, EXACT, label="edge")
        for shape, layout in [((3, 0, 2), "T"), ((0, 4), "contig"), ((1, 5, 1), "step")]:
            s.case("transpose", [operand(shape, mk, layout)], mx.transpose, EXACT, label="edge")
        for shape, layout, a, b in [((2, 0, 3), "contig", 1, 2), ((0, 5), "neg", 0, -1), ((4, 1, 3), "T", 0, 1)]:
            s.case(
                "swapaxes",
                [operand(shape, mk, layout)],
                lambda x, a=a, b=b: mx.swapaxes(x, a, b),
                EXACT,
                params={"a": a, "b": b},
                label="edge",
            )
        for shape, layout, axis in [((0, 3), "contig", 1), ((2, 0), "T", -1), ((), "contig", 0), ((0,), "contig", 0)]:
            s.case(
                "expand_dims",
                [operand(shape, mk, layout)],
                lambda x, axis=axis: mx.expand_dims(x, axis),
                EXACT,
                params={"axis": axis},
                label="edge",
            )
        for shape, layout, perm in [
            ((1, 3, 1), "contig", [2, 0, 1]),
            ((4, 1), "T", [1, 0]),
            ((1, 1, 5), "bcast", [2, 1, 0]),
            ((2, 1, 3, 1), "neg", [3, 1, 0, 2]),
        ]:
            s.case(
                "permute",
                [operand(shape, mk, layout)],
                lambda x, perm=perm: mx.transpose(x, perm),
                EXACT,
                params={"perm": perm},
                label="size-1",
            )
        for shape, layout, args in [
            ((1, 5), "contig", [[None, None, -1], [1, 4, 1]]),
            ((4, 1, 3), "T", [[None, None, 2], [0, 1, 1], [-1, None, -1]]),
            ((1,), "contig", [[-1, None, 1]]),
            ((1, 3), "step", [[1, None, 1]]),
            ((1, 1), "bcast", [[None, None, -1], [None, None, -1]]),
        ]:
            s.case(
                "slice",
                [operand(shape, mk, layout)],
                lambda x, args=args: x[tuple(slice(*t) for t in args)],
                EXACT,
                params={"args": args},
                label="size-1",
            )
        # stack: empty parts, size-1 axes and 0-d parts (one or several).
        for label, axis, parts in [
            ("empty", 0, [((0, 3), "contig"), ((0, 3), "T"), ((0, 3), "neg")]),
            ("empty", 1, [((0, 3), "contig"), ((0, 3), "step")]),
            ("empty", -1, [((2, 0), "T"), ((2, 0), "contig")]),
            ("empty", 0, [((0,), "contig")]),
            ("size-1", 1, [((1, 4), "contig"), ((1, 4), "T"), ((1, 4), "step")]),
            ("size-1", -1, [((3, 1), "neg"), ((3, 1), "bcast")]),
            ("size-1", 0, [((1,), "contig")]),
            ("0-d", 0, [((), "contig"), ((), "contig"), ((), "contig")]),
        ]:
            ops = [operand(sh, mk, layout) for sh, layout in parts]
            s.case(
                "stack", ops, lambda *xs, axis=axis: mx.stack(xs, axis), EXACT, params={"axis": axis}, label=label
            )
        # take_along_axis with empty data or index axes (the index broadcasts
        # against the data on the other axes), and along a size-1 axis.
        for shape, layout, idx_shape, axis in [
            ((0, 5), "contig", (0, 2), 1),
            ((0, 5), "T", (1, 2), 1),
            ((4, 6), "neg", (4, 0), 1),
            ((3, 5, 2), "T", (3, 0, 2), 1),
            ((3, 0, 2), "contig", (3, 0, 2), 1),
            ((5, 1), "T", (5, 3), 1),
            ((1, 6), "step", (4, 6), 0),
        ]:
            n = shape[axis]
            ix = operand(idx_shape, lambda sh, n=n: g.ints(sh, -n, max(n, 1), "i32"), "contig")
            s.case(
                "take_along_axis",
                [operand(shape, mk, layout), ix],
                lambda x, i, axis=axis: mx.take_along_axis(x, i, axis),
                EXACT,
                params={"axis": axis},
                label="edge",
            )
        # index_select along a size-1 axis (indices 0 and -1 only) and on empty data.
        for shape, layout, idx, axis in [
            ((1, 5), "contig", [0, -1, 0], 0),
            ((4, 1, 3), "T", [0, 0], 1),
            ((1,), "contig", [-1], 0),
            ((0, 4), "contig", [3, 0, -4], 1),
        ]:
            ix = Operand(g.to_mx(idx, "i32"))
            s.case(
                "index_select",
                [operand(shape, mk, layout), ix],
                lambda x, i, axis=axis: mx.take(x, i, axis),
                EXACT,
                params={"axis": axis},
                label="edge",
            )
        # expand: -1 keeps an axis, other sizes broadcast a size-1 axis or add leading ones.
        for shape, layout, target in [
            ((3, 1), "contig", [2, -1, 4]),
            ((4, 1, 3), "T", [-1, 5, -1]),
            ((1,), "contig", [0]),
            ((), "contig", [3, 2]),
            ((2, 1), "step", [-1, -1]),
            ((5,), "neg", [3, -1]),
            ((0, 1), "contig", [-1, 4]),
            ((1, 3), "bcast", [2, 2, -1, -1]),
        ]:
            a = operand(shape, mk, layout)
            want = expand_target(shape, target)
            s.case(
                "expand",
                [a],
                lambda x, want=want: mx.broadcast_to(x, want),
                EXACT,
                params={"shape": target},
                label=f"{target}",
            )
    z = lambda *shape: Operand(g.to_mx(np.zeros(shape), "f32"))
    for shape, target, label in [
        ((3,), [4], "3 to 4"),
        ((3,), [-1, 3], "-1 on a new axis"),
        ((2, 3), [3], "fewer axes"),
        ((3,), [-2], "negative size"),
    ]:
        want = expand_target(shape, target)
        s.error(
            "expand",
            [z(*shape)],
            lambda x, want=want: mx.broadcast_to(x, want),
            params={"shape": target},
            label=label,
        )


def argreduce_all_cases(s):
    """argmax/argmin over the flattened array (MLX's axis=None): the index
    counts elements in row-major order of the logical array, whatever the
    view's strides; ties resolve to the first."""
    g = s.g
    for op, fn in (("argmax", mx.argmax), ("argmin", mx.argmin)):
        for shape, layout in [
            ((3, 5, 7), "T"),
            ((17, 33), "neg"),
            ((129,), "contig"),
            ((2, 1, 3), "step"),
            ((4, 6), "bcast"),
            ((), "contig"),
        ]:
            for dt in ("f32", "bf16", "i32"):
                a = operand(shape, lambda sh, dt=dt: g.ints(sh, -3, 4, dt), layout)
                # MLX 0.32 cannot make a keepdims result of a 0-d input ("cannot
                # create std::vector larger than max_size()"): only keepdims=False there.
                for kd in (False, True) if shape else (False,):
                    s.case(
                        op,
                        [a],
                        lambda x, kd=kd, fn=fn: fn(x, keepdims=kd),
                        EXACT,
                        params={"axis": None, "keepdims": kd},
                        label="all",
                        out_cast=mx.int32,  # MLX returns uint32, Ferrite i32 (see reduction_cases)
                    )
        z = Operand(g.to_mx(np.zeros((0, 3)), "f32"))
        s.error(op, [z], lambda x, fn=fn: fn(x), params={"axis": None, "keepdims": False}, label="all, empty")


def signed_zero_cases(s):
    """-0.0 and +0.0 through the bit-exact ops (EXACT tells them apart)."""
    g = s.g
    pa = [0.0, -0.0, 0.0, -0.0, -0.0, 0.0, 1.0, -1.0]
    pb = [-0.0, 0.0, 0.0, -0.0, 1.0, -1.0, -0.0, 0.0]
    for dt in FLOATS:
        a, b = Operand(g.to_mx(pa, dt)), Operand(g.to_mx(pb, dt))
        s.case("maximum", [a, b], mx.maximum, EXACT, label="signed zeros")
        s.case("minimum", [a, b], mx.minimum, EXACT, label="signed zeros")
        c = Operand(g.to_mx([True, False] * 4, "bool"))
        s.case("where", [c, a, b], mx.where, EXACT, label="signed zeros")
        s.case("negative", [a], mx.negative, EXACT, label="signed zeros")
        s.case("abs", [a], mx.abs, EXACT, label="signed zeros")
        s.case("relu", [a], lambda x: mx.maximum(x, 0), EXACT, label="signed zeros")
        for dst in FLOATS:
            if dst != dt:
                s.case(
                    "astype",
                    [a],
                    lambda x, dst=dst: x.astype(MX[dst]),
                    EXACT,
                    params={"dtype": dst},
                    label="signed zeros",
                )
    # Reductions: which zero a max/min of mixed zeros keeps.
    zs = [[0.0, -0.0], [-0.0, 0.0], [-0.0, -0.0], [0.0, 0.0], [-0.0, 1.0], [-1.0, 0.0]]
    for dt in FLOATS:
        a = Operand(g.to_mx(zs, dt))
        for op, fn in (("max", mx.max), ("min", mx.min)):
            for axes in ([-1], [0], None):
                s.case(
                    op,
                    [a],
                    lambda x, axes=axes, fn=fn: fn(x, axes),
                    EXACT,
                    params={"axes": axes, "keepdims": False},
                    label="signed zeros",
                )
