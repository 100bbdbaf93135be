"""Training throughput of the default step against the candidates, in tokens per second.

Each variant runs in its own process (the Keras backend and oneDNN are chosen
at import) on the same synthetic batches of 256-token windows, vocabulary
3,000 (the built-in corpus has 3,008 tokens), Adam with clipnorm 1 and L2 1e-6.
The baseline is the step `autocomplete train --cell lstm` took before its
defaults changed: 256 units, embedding 128, per-step `xent` and `accuracy`
metrics, float32. Rounds alternate the order, so that a slow moment of the
shared machine does not fall on one variant only:

    python benchmarks/train_speed.py                  # 3 rounds, 12 timed steps each
    python benchmarks/train_speed.py --rounds 1 --steps 5
    python benchmarks/train_speed.py --quality        # also: held-out perplexity after
                                                      # one epoch, old and new default

`--quality` trains the old and the new default for one epoch each on the
built-in corpus (same windows, same tokens) with `autocomplete train` and
prints their validation and test perplexity (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OLD = {"units": 256, "emb": 128, "metrics": True}
VARIANTS = {  # name -> settings (defaults: the new default step)
    "old default: 256 units, emb 128, per-step metrics": OLD,
    "old default without per-step metrics": OLD | {"metrics": False},
    "old default, XLA (jit_compile)": OLD | {"jit": True},
    "new default: 128 units, emb 64, no per-step metrics": {},
    "new default, XLA (jit_compile)": {"jit": True},
    "new default, Keras on JAX": {"backend": "jax"},
    "new default, batch 32": {"batch": 32},
    "new default, mixed bfloat16": {"precision": "mixed_bfloat16"},
    "new default GRU": {"cell": "gru"},
}
BASELINE = next(iter(VARIANTS))
NEW = "new default: 128 units, emb 64, no per-step metrics"


def child(settings: dict, steps: int) -> None:
    """Time `steps` training steps after a warm-up; print ms per step as JSON."""
    import time

    import keras
    import numpy as np

    from autocomplete.model import build_model, compile_model

    vocab, batch = 3000, settings.get("batch", 16)
    model = build_model(settings.get("cell", "lstm"), vocab, units=settings.get("units", 128),
                        embedding_dim=settings.get("emb", 64),
                        precision=settings.get("precision", "float32"))
    compile_model(model, learning_rate=1e-2)
    if settings.get("metrics") or settings.get("jit"):  # recompile as the variant says
        metrics = [keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="xent"),
                   keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        model.compile(optimizer=model.optimizer, loss=model.loss,
                      weighted_metrics=metrics if settings.get("metrics") else None,
                      jit_compile=bool(settings.get("jit")))
    rng = np.random.default_rng(0)
    x = rng.integers(2, vocab, (batch, 256)).astype("int32")
    y = np.roll(x, -1, axis=1)
    w = np.ones(x.shape, "float32")
    for _ in range(3):
        model.train_on_batch(x, y, sample_weight=w)
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y, sample_weight=w)
    ms = (time.perf_counter() - started) / steps * 1000
    print(json.dumps({"ms": ms, "tokens_per_s": batch * 256 / ms * 1000}))


def available(settings: dict) -> str | None:
    """Why a variant cannot run here (None: it can)."""
    import importlib.util

    if settings.get("backend") == "jax" and importlib.util.find_spec("jax") is None:
        return "jax is not installed"
    if settings.get("precision") == "mixed_bfloat16":
        flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        if "avx512_bf16" not in flags and "amx_bf16" not in flags:
            return "this CPU has no bfloat16 instructions (bfloat16 would be emulated)"
    return None


def speed(rounds: int, steps: int) -> pd.DataFrame:
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    skipped = {name: why for name, s in VARIANTS.items() if (why := available(s))}
    names = [n for n in VARIANTS if n not in skipped]
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            settings = VARIANTS[name]
            env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
                                "KERAS_BACKEND": settings.get("backend", "tensorflow")}
            out = subprocess.run(
                [sys.executable, __file__, "--steps", str(steps), "--child",
                 json.dumps(settings)], env=env, capture_output=True, text=True, check=True,
            ).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
    base = sum(r["tokens_per_s"] for r in runs[BASELINE]) / rounds
    rows = []
    for name in VARIANTS:
        if name in skipped:
            rows.append({"variant": name, "ms per step": "-", "tokens/s": "-",
                         "per round (tokens/s)": f"skipped: {skipped[name]}", "vs baseline": "-"})
            continue
        tps = [r["tokens_per_s"] for r in runs[name]]
        ms = sum(r["ms"] for r in runs[name]) / rounds
        rows.append({"variant": name, "ms per step": round(ms),
                     "tokens/s": round(sum(tps) / rounds),
                     "per round (tokens/s)": " / ".join(f"{t:,.0f}" for t in tps),
                     "vs baseline": f"{sum(tps) / rounds / base:.2f}x"})
    return pd.DataFrame(rows)


def quality() -> pd.DataFrame:
    """One epoch of the old and of the new default on the built-in corpus."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in ((BASELINE, ["--units", "256", "--embedding-dim", "128"]),
                            (NEW, [])):
            out = Path(tmp) / name.split(":")[0].replace(" ", "_")
            subprocess.run([sys.executable, "-m", "autocomplete", "train", "--cell", "lstm",
                            "--epochs", "1", "--no-grad-stats", "--quiet", "--out", str(out),
                            *extra], check=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
            history = pd.read_csv(out / "history.csv")
            metrics = json.loads((out / "metrics.json").read_text())
            rows.append({"model": name, "updates": metrics["updates"],
                         "tokens": f"{metrics['updates'] * 16 * 256:,}",
                         "validation perplexity": round(float(history["val_perplexity"].iloc[-1]),
                                                        3),
                         "test perplexity": round(metrics["perplexity"], 3),
                         "train seconds": metrics["train_seconds"]})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quality", action="store_true",
                        help="also train the old and new default for one epoch each")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child), args.steps)
        return
    print(f"batch 16 x 256 tokens unless named, {args.steps} timed steps per run, "
          f"{args.rounds} rounds")
    print(speed(args.rounds, args.steps).to_string(index=False))
    if args.quality:
        print()
        print(quality().to_string(index=False))


if __name__ == "__main__":
    main()
