"""Ferrite against llama.cpp (through llama-cpp-python) on the same GGUF.

usage: python bench/vs_llama_cpp.py MODEL.gguf TEXT_FILE [--ctx 256] [--chunks 4]
                                    [--ferrite target/release/ferrite] [--threads 2]
                                    [--pp 512] [--tg 128] [--skip-speed]

Run it with a Python that has llama-cpp-python installed (it compiles
llama.cpp; build it outside the repo, e.g.
CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python numpy). Prints one
JSON object per line:
  tokens      llama.cpp's token ids of TEXT equal `ferrite tokenize`'s
  perplexity  llama-perplexity's method on llama.cpp's logits vs `ferrite perplexity`
  speed       pp/tg tokens per second of both (same threads), and the ratio
"""
import argparse, json, subprocess, sys, time

import numpy as np
from llama_cpp import Llama


def ferrite(args, *cmd):
    out = subprocess.run([args.ferrite, "--threads", str(args.threads), *cmd],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def llama_perplexity(llm, ids, ctx, chunks, bos):
    first = ctx // 2
    nll, count = 0.0, 0
    for c in range(min(chunks, len(ids) // ctx)):
        chunk = ids[c * ctx:(c + 1) * ctx]
        inp = list(chunk)
        if bos is not None:
            inp[0] = bos
        llm.reset()
        llm.eval(inp)
        logits = np.array(llm.scores[:ctx], dtype=np.float64)
        for j in range(first, ctx - 1):
            row = logits[j]
            m = row.max()
            nll -= row[chunk[j + 1]] - (m + np.log(np.exp(row - m).sum()))
            count += 1
    return float(np.exp(nll / count)), count


def speed(llm, n_vocab, pp, tg):
    toks = [(i * 7919 + 13) % n_vocab for i in range(max(pp, tg))]
    out = {}
    if pp:
        llm.reset(); llm.eval(toks[:pp])  # warm-up
        llm.reset(); t = time.perf_counter(); llm.eval(toks[:pp])
        out["pp"] = pp / (time.perf_counter() - t)
    if tg:
        llm.reset(); t = time.perf_counter()
        for tok in toks[:tg]:
            llm.eval([tok])
        out["tg"] = tg / (time.perf_counter() - t)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"); ap.add_argument("text")
    ap.add_argument("--ctx", type=int, default=256); ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--ferrite", default="target/release/ferrite"); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pp", type=int, default=512); ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--skip-speed", action="store_true")
    a = ap.parse_args()
    # newline="": the file's exact text (CRLF kept), as `ferrite tokenize --file` reads it.
    text = open(a.text, encoding="utf-8", newline="").read()
    n_ctx = max(a.ctx, a.pp, a.tg)
    llm = Llama(model_path=a.model, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, logits_all=True,
                n_threads=a.threads, n_threads_batch=a.threads, verbose=False)
    ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    # --file, not the text as an argument: one argument is limited to 128 KiB on Linux.
    ours = ferrite(a, "tokenize", "--json", "--no-parse-special", "--file", a.text, "--", a.model)["ids"]
    print(json.dumps({"check": "tokens", "count": len(ids), "equal": ids == ours}), flush=True)
    bos = llm.token_bos() if ids and ids[0] == llm.token_bos() else None
    ppl, count = llama_perplexity(llm, ids, a.ctx, a.chunks, bos)
    f = ferrite(a, "perplexity", a.model, "--file", a.text, "--ctx", str(a.ctx), "--chunks", str(a.chunks), "--json")
    print(json.dumps({"check": "perplexity", "llama_cpp": ppl, "ferrite": f["perplexity"], "tokens": count,
                      "relative_difference": abs(ppl - f["perplexity"]) / ppl}), flush=True)
    if a.skip_speed:
        return
    s = speed(llm, llm.n_vocab(), a.pp, a.tg)
    fb = ferrite(a, "bench", a.model, "-p", str(a.pp), "-n", str(a.tg), "-r", "2", "--json")
    print(json.dumps({"check": "speed", "threads": a.threads,
                      "pp": {"llama_cpp": s.get("pp"), "ferrite": fb["pp_tokens_per_s"],
                             "ratio": fb["pp_tokens_per_s"] / s["pp"] if s.get("pp") else None},
                      "tg": {"llama_cpp": s.get("tg"), "ferrite": fb["tg_tokens_per_s"],
                             "ratio": fb["tg_tokens_per_s"] / s["tg"] if s.get("tg") else None}}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
