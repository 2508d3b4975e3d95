"""Reference logits from mlx-lm for a Hugging Face model directory.

usage: mlx_logits.py MODEL_DIR OUT_DIR IDS PREFILL

IDS is a comma-separated token list. Writes little-endian f32 files:
  OUT_DIR/full.f32   [T, vocab]: one forward pass over all of IDS
  OUT_DIR/cached.f32 [T, vocab]: the first PREFILL ids at once through a KV
                     cache, then the rest one token at a time
Computation is in float32 (bf16/f16 weights are widened first), the precision
Ferrite computes activations in. Mistral's sliding window is applied to every
layer, as transformers' MistralModel does (mlx-lm only applies it when
config.json lists layer_types).
"""
import json, os, sys
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx_lm.models.cache import make_prompt_cache
from mlx_lm.utils import load_model


def main():
    model_dir, out_dir, ids, prefill = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    ids = [int(t) for t in ids.split(",")]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    overrides = {}
    windowed = cfg.get("model_type") == "mistral" and cfg.get("sliding_window")
    if windowed:
        # mlx-lm's Llama needs one full-attention layer to exist; declare layer
        # 0 full, then switch it to the window like the others (its cache and
        # mask are chosen per layer from use_sliding).
        n = cfg["num_hidden_layers"]
        overrides["layer_types"] = ["full_attention"] + ["sliding_attention"] * (n - 1)
    model, _ = load_model(Path(model_dir), model_config=overrides)
    if windowed:
        model.model.layers[0].use_sliding = True
        model.model.swa_idx = 0
    model.set_dtype(mx.float32)
    full = model(mx.array([ids]))[0].astype(mx.float32)
    cache = make_prompt_cache(model)
    rows = [model(mx.array([ids[:prefill]]), cache=cache)[0]]
    for t in ids[prefill:]:
        rows.append(model(mx.array([[t]]), cache=cache)[0])
    cached = mx.concatenate(rows, axis=0).astype(mx.float32)
    os.makedirs(out_dir, exist_ok=True)
    np.array(full).astype("<f4").tofile(os.path.join(out_dir, "full.f32"))
    np.array(cached).astype("<f4").tofile(os.path.join(out_dir, "cached.f32"))
    print(json.dumps({"tokens": len(ids), "vocab": int(full.shape[-1])}))


if __name__ == "__main__":
    main()
