"""How saturated is each trained model's recurrent state on held-out mail?

An LSTM's memory is its cell state c, read out through tanh(c). Where |c| is
large, tanh(c) sits at +-1: the unit outputs only its output gate, and the
gradient through tanh is near zero, so it can neither show nor learn what it
holds. A GRU's state is a running average, bounded by 1 by construction. This
script runs each model's fast path over the first tokens of held-out emails
and prints, per model, the median |state| and the share of saturated units
(|tanh(c)| > 0.96 for the LSTM's cell, |h| > 0.96 for the others).

    python benchmarks/cell_state.py models/decay/lstm models/budget20/gru
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SATURATED = 0.96  # tanh(1.95): the slope there is below 0.08


def states(model, seqs: list[np.ndarray], max_len: int) -> np.ndarray:
    """(positions, units) of the last layer's memory: c for an LSTM, h otherwise."""
    out = []
    for seq in seqs:
        state = model.initial_state(1)
        for token in seq[:max_len]:
            _, state = model.step(np.array([token]), state)
            out.append(state[-1][0].copy())  # LSTM states are [h, c]: c is last
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model directories")
    parser.add_argument("--emails", type=int, default=40, help="held-out emails to run")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per email")
    args = parser.parse_args()

    from autocomplete import textprep
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.fastpath import NumpyStepModel

    test = textprep.split_by_email(load_builtin(), seed=0)["test"].head(args.emails)
    rows = []
    for path in args.models:
        model = NumpyStepModel(path)
        seqs = textprep.encode(textprep.make_vectorizer(model.vocab), test["body"].tolist())
        s = np.abs(states(model, seqs, args.tokens))
        read = np.tanh(s) if model.cell == "lstm" else s
        rows.append({"model": path, "cell": model.cell, "state": "c" if model.cell == "lstm"
                     else "h", "median |state|": round(float(np.median(s)), 2),
                     "max |state|": round(float(s.max()), 1),
                     "saturated units": f"{(read > SATURATED).mean():.1%}"})
    print(f"{len(test)} held-out emails, first {args.tokens} tokens each")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
