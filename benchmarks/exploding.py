"""Exploding gradients: the same SimpleRNN run without and with gradient clipping.

Plain SGD (whose step is the raw gradient, unlike Adam's rescaled one), a ReLU
SimpleRNN and a high learning rate, on the first 3,000 built-in emails, for a
short budget each. Prints the global gradient norm (first, largest, last
recorded) and the loss per epoch, read from the GradientStats tables.

    python benchmarks/exploding.py                 # lr 0.1, 0.6 minutes per run
    python benchmarks/exploding.py --lr 0.1 --minutes 0.6 --emails 3000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from autocomplete.corpus.builtin import load_builtin  # noqa: E402
from autocomplete.train import TrainConfig, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--minutes", type=float, default=0.6)
    parser.add_argument("--emails", type=int, default=3000)
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--optimizer", default="sgd")
    args = parser.parse_args()
    emails = load_builtin().head(args.emails)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, clip in [("no clipping", None), ("clipnorm 1.0", 1.0)]:
            cfg = TrainConfig(
                cell="simple_rnn", out=str(Path(tmp) / name.replace(" ", "_")),
                activation=args.activation, optimizer=args.optimizer, clipnorm=clip,
                learning_rate=args.lr, time_budget=args.minutes, epochs=3, grad_every=5,
            )
            started = time.monotonic()
            out = train(cfg, emails=emails, verbose=0)
            stats = pd.read_csv(out / "grad_stats.csv")
            norm = stats[(stats.layer == "(global)") & (stats.statistic == "global_norm")].value
            loss = pd.read_csv(out / "history.csv")["loss"].tolist()
            rows.append({
                "run": name, "first norm": f"{norm.iloc[0]:.3g}", "max norm": f"{norm.max():.3g}",
                "last norm": f"{norm.iloc[-1]:.3g}",
                "loss per epoch": ", ".join(f"{v:.3g}" for v in loss),
                "seconds": round(time.monotonic() - started),
            })
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
