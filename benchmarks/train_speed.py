"""Training step time of the default model: oneDNN off/on, float32 and mixed bfloat16.

Each variant runs in its own process (oneDNN is chosen when TensorFlow is
imported) on the same synthetic batches: the default LSTM (or --cell), batch
16 x 256 tokens, vocabulary 3,000, the `train` command's optimizer and metrics.
The first variant, float32 with oneDNN off (what `autocomplete train` did before
session 4), is the baseline; the rounds alternate the order so that a slow
moment of the shared machine does not fall on one variant only:

    python benchmarks/train_speed.py                 # 3 rounds, 30 timed steps each
    python benchmarks/train_speed.py --cell gru --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = [  # (name, TF_ENABLE_ONEDNN_OPTS, precision)
    ("float32, oneDNN off", "0", "float32"),
    ("float32, oneDNN on", "1", "float32"),
    ("mixed_bfloat16, oneDNN on", "1", "mixed_bfloat16"),
]


def child(cell: str, precision: str, batch: int, steps: int) -> None:
    """Time `steps` training steps after a warm-up; print ms per step as JSON."""
    import time

    import numpy as np

    from autocomplete.model import build_model, compile_model

    vocab = 3000
    model = build_model(cell, vocab, precision=precision)
    compile_model(model, learning_rate=1e-2)
    rng = np.random.default_rng(0)
    x = rng.integers(2, vocab, (batch, 256))
    y = np.roll(x, -1, axis=1)
    w = np.ones(x.shape, "float32")
    for _ in range(3):
        model.train_on_batch(x, y, sample_weight=w)
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y, sample_weight=w)
    print(json.dumps({"ms": (time.perf_counter() - started) / steps * 1000}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="lstm", choices=["simple_rnn", "lstm", "gru"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.cell, args.child, args.batch_size, args.steps)
        return
    times: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    for r in range(args.rounds):
        for name, onednn, precision in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
            env = os.environ | {"TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3",
                                "PYTHONPATH": str(ROOT)}
            out = subprocess.run(
                [sys.executable, __file__, "--cell", args.cell, "--batch-size",
                 str(args.batch_size), "--steps", str(args.steps), "--child", precision],
                env=env, capture_output=True, text=True, check=True,
            ).stdout
            times[name].append(json.loads(out.strip().splitlines()[-1])["ms"])
    base = sum(times[VARIANTS[0][0]]) / args.rounds
    rows = [{"variant": name, "ms per step (mean)": round(sum(t) / len(t)),
             "per round": " / ".join(f"{v:.0f}" for v in t),
             "speed-up": f"{base / (sum(t) / len(t)):.2f}x"} for name, t in times.items()]
    print(f"{args.cell}, batch {args.batch_size} x 256 tokens, {args.steps} steps per run")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
