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
     "tol": {"atol", "rtol", "why"}}   # |ferrite - mlx| <= atol + rtol·|mlx|;
                                       # atol = rtol = 0 is bit-exact: -0.0 != +0.0
  A view step turns the stored base array into the operand, on both sides:
    ["transpose", perm] | ["slice", [[start, stop, step], ...]] (null = Python's
    default) | ["broadcast", shape]
  so transposed, strided, reversed and stride-0 inputs reach the op exactly
  as they would in user code.

Everything is seeded: one MLX version always writes the same cases.
Random sampling is not compared (Ferrite's generator is its own, tested in Rust).
"""
import sys

import mlx.core as mx

from mlx_case_lib import Suite
from mlx_cases_elementwise import astype_cases, elementwise_binary, elementwise_unary, where_cases
from mlx_cases_layout import (
    argreduce_all_cases,
    creation_cases,
    reduction_cases,
    shape_cases,
    shape_edge_cases,
    signed_zero_cases,
)
from mlx_cases_misc import chain_cases, error_cases, large_cases
from mlx_cases_nn import (
    attention_cases,
    attention_edge_cases,
    matmul_cases,
    norm_cases,
    rope_cases,
    softmax_cases,
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
        # Added later, at the end so the cases above keep their seeded inputs.
        shape_edge_cases,
        argreduce_all_cases,
        signed_zero_cases,
        attention_edge_cases,
    ):
        build(s)
    s.save(sys.argv[1])
    print(f"{len(s.cases)} cases written to {sys.argv[1]}")


if __name__ == "__main__":
    main()
