#!/usr/bin/env python3
"""Runs Ferrite's benchmark shapes and the same ones in MLX, in one run.

Prints one JSON object per line: name, shape, Ferrite's and MLX's median
seconds, and ratio = mlx_s / ferrite_s (above 1.0 means Ferrite is faster);
for f32 matmul also NumPy's (OpenBLAS) median and ratio_vs_numpy; where a
physical peak applies, also Ferrite's GFLOP/s or GB/s.

    python3 bench/vs_mlx.py [NAME_FILTER]      (from the repo root, inside .venv)
"""
import json
import os
import subprocess
import sys
import time

import mlx.core as mx
import mlx.nn as nn
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median(fn, min_runs=5, budget_s=2.0):
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < budget_s and len(times) < 1000):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def rand(shape, dtype=mx.float32, seed=0):
    a = mx.random.normal(shape, key=mx.random.key(seed)).astype(dtype)
    mx.eval(a)
    return a


def mlx_case(name, shape):
    """An MLX closure for Ferrite's case of that name and shape, or None."""
    try:
        dims = [int(x) for x in shape.split("x")]
    except ValueError:
        dims = None  # not a plain AxBxC shape (attention, graph overhead)
    if name.startswith("matmul_"):
        dt = mx.float32 if name.endswith("f32") else mx.bfloat16
        m, k, n = dims
        a, b = rand((m, k), dt, 1), rand((k, n), dt, 2)
        return lambda: mx.eval(a @ b)
    if name in ("softmax", "rms_norm"):
        x, w = rand(tuple(dims), seed=3), rand((dims[1],), seed=4)
        if name == "softmax":
            return lambda: mx.eval(mx.softmax(x, axis=-1))
        return lambda: mx.eval(mx.fast.rms_norm(x, w, 1e-5))
    if name == "rope":
        x = rand(tuple(dims), seed=5)
        return lambda: mx.eval(mx.fast.rope(x, 64, traditional=False, base=10000.0, scale=1.0, offset=0))
    if name == "attention_decode":
        q, k, v = rand((1, 32, 1, 128), seed=6), rand((1, 4, 1024, 128), seed=7), rand((1, 4, 1024, 128), seed=8)
        return lambda: mx.eval(mx.fast.scaled_dot_product_attention(q, k, v, scale=128 ** -0.5))
    if name.startswith("silu_mul"):
        a, b = rand(tuple(dims), seed=9), rand(tuple(dims), seed=10)
        if name.endswith("unfused"):
            def unfused():
                s = nn.silu(a)
                mx.eval(s)
                mx.eval(s * b)
            return unfused
        fused = mx.compile(lambda a, b: nn.silu(a) * b)
        return lambda: mx.eval(fused(a, b))
    if name == "graph_overhead_per_node":
        x = rand((4,), seed=11)

        def chain():
            y = x
            for _ in range(1000):
                y = y + x
                mx.eval(y)
        return chain
    return None


def numpy_case(name, shape):
    """OpenBLAS through NumPy, the practical bar for f32 GEMM on a CPU."""
    if name != "matmul_f32":
        return None
    m, k, n = [int(x) for x in shape.split("x")]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    return lambda: a @ b


def main():
    filt = sys.argv[1] if len(sys.argv) > 1 else ""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ferrite-cpu", "--example", "bench_ops"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "bench_ops")
    out = subprocess.run([exe, filt], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        rec = json.loads(line)
        fn = mlx_case(rec["name"], rec["shape"])
        if fn is not None:
            rec["mlx_s"] = median(fn)
            rec["ratio"] = round(rec["mlx_s"] / rec["ferrite_s"], 3)
        fn = numpy_case(rec["name"], rec["shape"])
        if fn is not None:
            rec["numpy_s"] = median(fn)
            rec["ratio_vs_numpy"] = round(rec["numpy_s"] / rec["ferrite_s"], 3)
        if "flops" in rec:
            rec["ferrite_gflops"] = round(rec["flops"] / rec["ferrite_s"] / 1e9, 1)
        if "bytes" in rec:
            rec["ferrite_gbps"] = round(rec["bytes"] / rec["ferrite_s"] / 1e9, 1)
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
