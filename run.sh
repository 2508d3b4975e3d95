#!/usr/bin/env bash
# The main job: build Ferrite; generate text with the built-in default model;
# make a small Llama-shaped model offline, chat with it through its template,
# convert it to a llama.cpp GGUF and run that, measure perplexity and speed;
# then benchmark the core ops against MLX.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
shared="${FERRITE_SHARED:-../shared}"
py="$(python/ensure_venv.sh)"
cargo build --release -p ferrite-cli
ferrite=target/release/ferrite
demo=target/demo
mkdir -p "$demo"
export FERRITE_HOME="$demo/home"
echo "== ferrite run (built-in default model: random weights, so gibberish)"
"$ferrite" run "Once upon a time" -n 24 --seed 1 </dev/null
if [[ ! -f "$demo/small/model.safetensors" ]]; then
  "$py" "$shared/tools/make_model.py" small "$demo/small" \
    --tokenizer-json "$shared/data/tokenizers/llama3/tokenizer.json" --dtype bf16 \
    tie_word_embeddings=true --embed-std 0.1
fi
echo "== ferrite info"
"$ferrite" info "$demo/small/model.safetensors" | head -20
echo "== the Llama 3.1 chat template, and a chat answer"
printf '[{"role":"system","content":"You are terse."},{"role":"user","content":"Hi!"}]' >"$demo/messages.json"
"$ferrite" template "$demo/small" --messages "$demo/messages.json" --no-generation-prompt
echo
"$ferrite" run "$demo/small" "What is Ferrite?" --chat -n 16 --temp 0 </dev/null
echo "== tokenize"
"$ferrite" tokenize "$demo/small" "Hello, world! 123" --json
echo "== convert to a llama.cpp GGUF and generate from it (same tokens as the directory)"
"$ferrite" convert "$demo/small" "$demo/small.gguf"
"$ferrite" run "$demo/small.gguf" "What is Ferrite?" --chat -n 16 --temp 0 </dev/null
echo "== perplexity and speed"
"$ferrite" perplexity "$demo/small" --file "$shared/notes/what-users-ask.md" --ctx 256 --chunks 4
"$ferrite" bench "$demo/small" -p 256 -n 64 -r 2
echo "== ops versus MLX (ratio > 1: Ferrite is faster)"
"$py" bench/vs_mlx.py
