"""Completion latency: naive Keras vs stateful Keras vs the numpy fast path.

A 10-word greedy completion after a 30-word prompt on an LSTM (256 units,
~5,000-token vocabulary), warm, median and p90 over --runs; each row also as a
ratio to the naive baseline measured in the same run. Then the cold start of
`python -m autocomplete complete ... --model DIR` in a fresh process.

Uses models/lstm when it exists (trained completions may stop early at a
sentence end: see the tokens column), else a random-weight model built with
`build_model` whose synthetic vocabulary has no punctuation, so every
completion is exactly 10 words. Also the fast path with the cache of the
prompt (`complete --cache`, token keys). Targets: fast-path greedy p90 <= 2 ms,
cold start < 1.5 s.

    python benchmarks/latency.py [--model models/lstm] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# as `autocomplete complete` does (before numpy is imported): one BLAS thread
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autocomplete.decoding import Completer, encode_prompt  # noqa: E402

EMAIL = (
    "hi mark, thanks for the update on the orion project. the client visit in chicago "
    "went well and they asked about the budget. today due to my current job situation and "
    "family condition, i"
)


def random_model_dir(path: Path, vocab_size: int = 5000, units: int = 256) -> Path:
    """A random-weight LSTM directory laid out like a trained one (plus inference.npz)."""
    import keras

    from autocomplete.artifacts import write_json, write_vocab
    from autocomplete.fastpath import export_inference
    from autocomplete.model import build_model

    keras.utils.set_random_seed(0)
    vocab = ["", "[UNK]", "[start]"] + [f"w{i}" for i in range(vocab_size - 3)]
    model = build_model("lstm", vocab_size, units=units)
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.keras")
    write_vocab(path / "vocab.txt", vocab)
    write_json(path / "config.json", {"cell": "lstm", "units": units, "layers": 1,
                                      "embedding_dim": 128, "window": 256,
                                      "vocab_size": vocab_size})
    export_inference(path, model)
    return path


def timed(fn, runs: int) -> tuple[float, float, object]:
    """Median and p90 wall ms of fn() over `runs` warm calls (one warm-up call first)."""
    out = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 90)), out


def naive_greedy(model, ids: list[int], n_tokens: int) -> list[int]:
    """Re-run the whole prefix through the Keras model for every new token."""
    from autocomplete.keras_step import full_sequence_logits

    ids = list(ids)
    new = []
    for _ in range(n_tokens):
        logits = full_sequence_logits(model, ids)[-1].copy()
        logits[:3] = -np.inf
        tok = int(np.argmax(logits))
        ids.append(tok)
        new.append(tok)
    return new


def cold_start(model_dir: Path, prompt: str, repeats: int = 3) -> float:
    """Median wall seconds of the CLI completing once in a fresh Python process."""
    if (ROOT / "autocomplete" / "cli.py").exists():
        cmd = [sys.executable, "-m", "autocomplete", "complete", prompt, "--model", str(model_dir)]
    else:
        code = ("import sys; from autocomplete.commands.complete import complete; "
                "complete.main(sys.argv[1:])")
        cmd = [sys.executable, "-c", code, prompt, "--model", str(model_dir)]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "lstm")
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()

    from autocomplete.cache import CachedStepModel, ContinuousCache
    from autocomplete.fastpath import NumpyStepModel, export_inference, fast_path_ready
    from autocomplete.keras_step import KerasStepModel

    tmp = None
    if (args.model / "model.keras").exists():
        model_dir, source = args.model, f"trained {args.model}"
        if not fast_path_ready(model_dir):
            export_inference(model_dir)
    else:
        tmp = tempfile.TemporaryDirectory()
        model_dir = random_model_dir(Path(tmp.name) / "lstm")
        source = "random-weight build_model"
    keras_step = KerasStepModel(model_dir)
    fast = NumpyStepModel(model_dir)
    vocab = fast.vocab
    if source.startswith("random"):
        rng = np.random.default_rng(0)
        prompt = " ".join(vocab[i] for i in rng.integers(3, len(vocab), 30))
    else:
        prompt = EMAIL
    ids, info = encode_prompt(prompt, vocab, fast.window)

    fast_c, keras_c = Completer(fast), Completer(keras_step)
    rows = []
    med, p90, comp = timed(lambda: fast_c.complete(prompt, method="greedy", max_words=10),
                           args.runs)
    n_tokens = len(comp.tokens)
    naive = timed(lambda: naive_greedy(keras_step.model, ids, n_tokens), max(5, args.runs // 5))
    rows.append(("naive Keras, whole prefix per token", *naive[:2], n_tokens))
    k = timed(lambda: keras_c.complete(prompt, method="greedy", max_words=10), args.runs)
    rows.append(("KerasStepModel greedy (stateful)", *k[:2], len(k[2].tokens)))
    rows.append(("NumpyStepModel greedy (fast path)", med, p90, n_tokens))
    b = timed(lambda: fast_c.complete(prompt, method="beam", beam=4, max_words=10), args.runs)
    rows.append(("NumpyStepModel beam 4 (fast path)", *b[:2], len(b[2].tokens)))
    assert naive[2] == [fast.vocab.index(t) for t in comp.tokens], "naive and fast disagree"
    # complete --cache: the prompt's hidden states become the cache's keys
    cached_c = Completer(CachedStepModel(fast, ContinuousCache(4.0, 0.1, "tokens")))
    c = timed(lambda: cached_c.complete(prompt, method="greedy", max_words=10), args.runs)
    rows.append(("NumpyStepModel greedy + cache", *c[:2], len(c[2].tokens)))
    c = timed(lambda: cached_c.complete(prompt, method="beam", beam=4, max_words=10), args.runs)
    rows.append(("NumpyStepModel beam 4 + cache", *c[:2], len(c[2].tokens)))

    print(f"model: {source}; units {fast.layers[0].units}, vocab {len(vocab)}, "
          f"prompt {info['prompt_tokens']} tokens, {args.runs} warm runs, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'method':38} {'median ms':>10} {'p90 ms':>8} {'ratio':>8} {'tokens':>7}")
    base = rows[0][1]
    for name, m, p, n in rows:
        print(f"{name:38} {m:10.2f} {p:8.2f} {m / base:8.4f} {n:7d}")
    print(f"target: fast-path greedy p90 <= 2 ms -> {'met' if rows[2][2] <= 2 else 'MISSED'}")
    cold = cold_start(model_dir, prompt)
    print(f"cold start (fresh process, CLI --model, fast path): {cold:.2f} s "
          f"-> {'met' if cold < 1.5 else 'MISSED'} (target < 1.5 s)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
