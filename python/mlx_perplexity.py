"""Perplexity from mlx-lm logits by llama-perplexity's method.

usage: mlx_perplexity.py MODEL_DIR IDS_FILE CTX CHUNKS BOS

IDS_FILE holds the text's token ids (whitespace-separated, BOS first when the
model adds one). Each chunk of CTX tokens runs from an empty cache with its
first token replaced by BOS (BOS < 0: no replacement); positions CTX/2 ..
CTX-2 are scored against the next token, log-softmax summed in float64.
Prints {"perplexity": ..., "tokens": ...}.
"""
import json, sys
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx_lm.utils import load_model


def main():
    model_dir, ids_file, ctx, chunks, bos = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    ids = [int(t) for t in open(ids_file).read().split()]
    model, _ = load_model(Path(model_dir))
    model.set_dtype(mx.float32)
    first = ctx // 2
    nll, count = 0.0, 0
    for c in range(min(chunks, len(ids) // ctx)):
        chunk = ids[c * ctx:(c + 1) * ctx]
        inp = list(chunk)
        if bos >= 0:
            inp[0] = bos
        logits = np.array(model(mx.array([inp]))[0].astype(mx.float32)).astype(np.float64)
        for j in range(first, ctx - 1):
            row = logits[j]
            m = row.max()
            lse = m + np.log(np.exp(row - m).sum())
            nll -= row[chunk[j + 1]] - lse
            count += 1
    print(json.dumps({"perplexity": float(np.exp(nll / count)), "tokens": count}))


if __name__ == "__main__":
    main()
