#!/usr/bin/env bash
# The main job: build Ferrite, make a small Llama-shaped model offline, inspect
# it, convert it to GGUF and back, and benchmark the core ops against MLX.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
shared="${FERRITE_SHARED:-../shared}"
py="$(python/ensure_venv.sh)"
cargo build --release -p ferrite-cli
ferrite=target/release/ferrite
demo=target/demo
mkdir -p "$demo"
if [[ ! -f "$demo/tiny/model.safetensors" ]]; then
  "$py" "$shared/tools/make_model.py" tiny "$demo/tiny" \
    --tokenizer-json "$shared/data/tokenizers/llama2/tokenizer.json" --dtype bf16
fi
echo "== ferrite info (safetensors)"
"$ferrite" info "$demo/tiny/model.safetensors"
echo "== ferrite convert -> GGUF -> safetensors"
"$ferrite" convert "$demo/tiny/model.safetensors" "$demo/tiny.gguf"
"$ferrite" info "$demo/tiny.gguf" | head -40
"$ferrite" convert "$demo/tiny.gguf" "$demo/tiny-roundtrip.safetensors"
echo "== ops versus MLX (ratio > 1: Ferrite is faster)"
"$py" bench/vs_mlx.py
