"""Issue 4's speed comparison: TinyLlama-shaped models in bf16, f16 and f32,
Ferrite against llama.cpp (same GGUF, which Ferrite converts) and mlx-lm
(same Hugging Face directory), with the memory-bandwidth bound of generation.

usage: python3 bench/llm_vs_peers.py [--dtypes bf16,f16,f32] [--work /tmp/ferrite-llm-bench]
           [--llama-python /tmp/lcpp/bin/python] [--mlx-python .venv/bin/python]
           [--pp 512] [--tg 128] [--mlx-pp 64] [--mlx-tg 8] [--pairs 5]

Needs target/release/ferrite and the peaks example (cargo build --release -p
ferrite-cli; cargo build --release -p ferrite-kernels --example peaks),
../shared/tools/make_model.py, a Python with llama-cpp-python for the
llama.cpp side and the repository venv for mlx-lm. Every side runs in its own
process under /usr/bin/time, which reports its peak resident memory. mlx-lm
runs one short trial (its CPU path is slow here). Prints one JSON object per
line.

The bound on generation moves with the read bandwidth, which other tenants of a
shared machine change from minute to minute, and one run of each engine can land
in different stretches. Besides one bound from the highest of three readings,
the script measures `--pairs` rounds: a bandwidth reading (`peaks dram`, a few
seconds), a Ferrite tg run, llama.cpp tg runs with its default file mapping and
with `use_mmap=False` (--no-mmap), and another reading. Per round it reports two
fractions of the bound for Ferrite:

* `fraction_in_process`, the primary one: `ferrite bench` itself reads the very
  weights a decode step streams (its pages, its placement) with the kernels'
  `read_peak` right before and right after the timed run, and divides the run's
  rate by the faster of the two readings (`tg_fraction_of_bound` in its JSON);
* `fraction`, from the `peaks dram` readings around the round, seconds to a
  minute away from the run: noisier, kept for comparison and used for llama.cpp's
  fraction (`llama_cpp_fraction`, its faster mode).

It also reports Ferrite's rate over the faster llama.cpp mode; over the rounds,
the medians and the worst ratio. Both readings use `read_peak` (every thread
streams its part with L2 prefetches 16 KiB ahead) over memory on 2 MiB pages, as
Ferrite's loaded weights are; that is still not a strict upper bound, so
fractions a little above 100% can occur.
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared")

LLAMA = r'''
import json, sys, time
from llama_cpp import Llama
path, pp, tg, threads, mmap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "mmap"
n = max(pp, tg, 8)
llm = Llama(model_path=path, n_ctx=n, n_batch=n, n_ubatch=n, n_threads=threads, n_threads_batch=threads,
            use_mmap=mmap, verbose=False)
toks = [(i * 7919 + 13) % llm.n_vocab() for i in range(n)]
pp_s = None
if pp:
    llm.eval(toks[:pp]); llm.reset()
    t = time.perf_counter(); llm.eval(toks[:pp]); pp_s = pp / (time.perf_counter() - t)
    llm.reset()
llm.eval(toks[:8]); llm.reset()
t = time.perf_counter()
for x in toks[:tg]:
    llm.eval([x])
print(json.dumps({"pp": pp_s, "tg": tg / (time.perf_counter() - t)}))
'''

MLX = r'''
import json, sys, time
from pathlib import Path
import mlx.core as mx
from mlx_lm.utils import load_model
from mlx_lm.models.cache import make_prompt_cache
path, pp, tg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model, _ = load_model(Path(path))
toks = [(i * 7919 + 13) % 32000 for i in range(pp + tg)]
cache = make_prompt_cache(model)
t = time.perf_counter(); out = model(mx.array([toks[:pp]]), cache=cache); mx.eval(out)
pp_s = pp / (time.perf_counter() - t)
t = time.perf_counter()
for x in toks[pp:pp + tg]:
    out = model(mx.array([[x]]), cache=cache); mx.eval(out)
print(json.dumps({"pp": pp_s, "tg": tg / (time.perf_counter() - t)}))
'''


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (stdout, peak RSS in MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        out = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%M", *cmd],
                             check=True, capture_output=True, text=True, env=env)
        rss_kb = int(tf.read().strip().splitlines()[-1])
    return out.stdout, rss_kb / 1024


def dram_read_gbs():
    peaks = os.path.join(ROOT, "target/release/examples/peaks")
    out = subprocess.run([peaks, "dram"], check=True, capture_output=True, text=True).stdout
    m = re.search(r"DRAM read peak \(1 GiB\)\s+\d+ thread\(s\):\s+([0-9.]+) GB/s", out)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtypes", default="bf16,f16,f32")
    ap.add_argument("--work", default="/tmp/ferrite-llm-bench")
    ap.add_argument("--llama-python", default="/tmp/lcpp/bin/python")
    ap.add_argument("--mlx-python", default=os.path.join(ROOT, ".venv/bin/python"))
    ap.add_argument("--pp", type=int, default=512); ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--mlx-pp", type=int, default=64); ap.add_argument("--mlx-tg", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=5)
    a = ap.parse_args()
    ferrite = os.path.join(ROOT, "target/release/ferrite")
    os.makedirs(a.work, exist_ok=True)
    for dtype in a.dtypes.split(","):
        d = os.path.join(a.work, f"tinyllama-{dtype}")
        if not os.path.exists(os.path.join(d, "model.safetensors")):
            subprocess.run([a.mlx_python, os.path.join(SHARED, "tools/make_model.py"), "tinyllama-1.1b", d,
                            "--tokenizer-json", os.path.join(SHARED, "data/tokenizers/llama2/tokenizer.json"),
                            "--dtype", dtype], check=True, capture_output=True)
        gguf = d + ".gguf"
        if not os.path.exists(gguf):
            subprocess.run([ferrite, "convert", d, gguf], check=True, capture_output=True)
        weight_bytes = os.path.getsize(gguf)
        # Read bandwidth before Ferrite, between the sides and after them; the bound uses
        # the highest, since one reading can land in a neighbour's busy stretch.
        bws = [dram_read_gbs()]
        out, rss = timed([ferrite, "bench", d, "-p", str(a.pp), "-n", str(a.tg), "-r", "1", "--json"])
        f = json.loads(out)
        extra = {}
        if dtype == "bf16":
            # The opt-in vdpbf16ps path (activations rounded to bf16); the default widens
            # bf16 weights to f32 and keeps activations exact.
            env = dict(os.environ, FERRITE_BF16_DOT="1")
            out, _ = timed([ferrite, "bench", d, "-p", str(a.pp), "-n", "0", "-r", "1", "--json"], env)
            extra["ferrite_pp_bf16_dot"] = json.loads(out)["pp_tokens_per_s"]
        bws.append(dram_read_gbs())
        out, lrss = timed([a.llama_python, "-c", LLAMA, gguf, str(a.pp), str(a.tg), "2", "mmap"])
        l = json.loads(out)
        bws.append(dram_read_gbs())
        bw = max(bws)
        out, mrss = timed([a.mlx_python, "-c", MLX, d, str(a.mlx_pp), str(a.mlx_tg)])
        m = json.loads(out)
        # Generation reads every weight but the embedding table (one row of it) per token.
        bound = bw * 1e9 / f["decode_weight_bytes"]
        # Rounds: a bandwidth reading, Ferrite's tg, llama.cpp's tg with its file mapped
        # (its default) and read into memory (--no-mmap), another reading. Side by side
        # in time, so a neighbour's busy stretch hits all three alike.
        paired = []
        for _ in range(a.pairs):
            before = dram_read_gbs()
            out, _ = timed([ferrite, "bench", d, "-p", "0", "-n", str(a.tg), "-r", "1", "--json"])
            run = json.loads(out)
            tg = run["tg_tokens_per_s"]
            lcpp = {}
            for mode in ("mmap", "no-mmap"):
                out, _ = timed([a.llama_python, "-c", LLAMA, gguf, "0", str(a.tg), "2", mode])
                lcpp[mode] = json.loads(out)["tg"]
            after = dram_read_gbs()
            bound_bytes = max(before, after) * 1e9
            paired.append({"tg": tg, "llama_cpp_tg": lcpp, "dram_read_gbs": [before, after],
                           "weights_read_gbs": run["tg_read_gbs"][0],
                           "fraction_in_process": run["tg_fraction_of_bound"],
                           "fraction": tg * f["decode_weight_bytes"] / bound_bytes,
                           "llama_cpp_fraction": max(lcpp.values()) * f["decode_weight_bytes"] / bound_bytes,
                           "ratio_vs_llama_cpp_best": tg / max(lcpp.values())})
        fractions = [p["fraction"] for p in paired]
        rounds = {
            "ferrite_tg_median": statistics.median(p["tg"] for p in paired),
            "llama_cpp_tg_median": {m: statistics.median(p["llama_cpp_tg"][m] for p in paired)
                                    for m in ("mmap", "no-mmap")},
            "tg_ratio_vs_llama_cpp_best_median": statistics.median(p["ratio_vs_llama_cpp_best"] for p in paired),
            "tg_ratio_vs_llama_cpp_best_min": min(p["ratio_vs_llama_cpp_best"] for p in paired),
            "fraction_in_process_median": statistics.median(p["fraction_in_process"] for p in paired),
            "fraction_in_process_min": min(p["fraction_in_process"] for p in paired),
            "llama_cpp_fraction_median": statistics.median(p["llama_cpp_fraction"] for p in paired),
        } if paired else {}
        print(json.dumps({
            "dtype": dtype, "weight_bytes": f["weight_bytes"], "decode_weight_bytes": f["decode_weight_bytes"],
            "gguf_bytes": weight_bytes,
            "dram_read_gbs": bw, "dram_read_gbs_each": bws, "tg_bound_tokens_per_s": bound,
            "ferrite": {"pp": f["pp_tokens_per_s"], "tg": f["tg_tokens_per_s"], "peak_rss_mib": rss},
            "llama_cpp": {"pp": l["pp"], "tg": l["tg"], "peak_rss_mib": lrss},
            "mlx_lm": {"pp": m["pp"], "tg": m["tg"], "pp_tokens": a.mlx_pp, "tg_tokens": a.mlx_tg, "peak_rss_mib": mrss},
            "ratio_vs_llama_cpp": {"pp": f["pp_tokens_per_s"] / l["pp"], "tg": f["tg_tokens_per_s"] / l["tg"]},
            "ratio_vs_mlx_lm": {"pp": f["pp_tokens_per_s"] / m["pp"], "tg": f["tg_tokens_per_s"] / m["tg"]},
            "tg_fraction_of_bound": f["tg_tokens_per_s"] / bound,
            "tg_fraction_paired_median": statistics.median(fractions) if fractions else None,
            "tg_paired": paired,
            "tg_rounds": rounds,
            **extra,
        }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
