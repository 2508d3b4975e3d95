#!/usr/bin/env bash
# Sets up and runs every test: Rust unit, integration, conformance against MLX
# and round trips through Python's safetensors/gguf (the tests create the
# pinned Python venv in .venv themselves on first use).
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
