"""How long after reading a cue does each model's state still say which cue it was?

Recall by distance tells whether a model *uses* a cue at the target. This
looks inside: for every probe of the held-out test split (the report's
probes), the model's fast path reads the email up to the target, and its
whole recurrent state (h, and c for an LSTM) is taken k tokens after the
cue word. A linear read-out (ridge regression onto the cue's target, fitted
on two thirds of the probes, scored on the rest) then says whether the cue
is still in the state. A cell that keeps the cue stays near 1.0; one that
lets it go falls to chance. For the LSTM this tells apart a memory that drops
the cue from one that keeps it and does not read it out.

    python benchmarks/state_memory.py models/decay_kd/lstm models/decay_kd/gru
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

OFFSETS = (0, 1, 2, 3, 5, 8, 12, 20, 30)


def readout_accuracy(x: np.ndarray, y: np.ndarray, ridge: float = 1.0) -> float:
    """Held-out accuracy of a ridge read-out of class `y` from features `x`.

    Every third row is held out; features are standardised on the rest.
    """
    test = np.arange(len(y)) % 3 == 0
    mean, std = x[~test].mean(0), x[~test].std(0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(y), 1))])
    onehot = np.eye(y.max() + 1)[y]
    w = np.linalg.solve(z[~test].T @ z[~test] + ridge * np.eye(z.shape[1]),
                        z[~test].T @ onehot[~test])
    return float((np.argmax(z[test] @ w, axis=1) == y[test]).mean())


def states_after_cue(model, probes: pd.DataFrame, offsets: tuple[int, ...]) -> dict:
    """{k: (states k tokens after the cue word, their labels)} over `probes`."""
    labels = pd.factorize(probes["target_id"])[0]
    found: dict[int, tuple[list, list]] = {k: ([], []) for k in offsets}
    for context, cue, label in zip(probes["context"], probes["cue_token"], labels, strict=True):
        state = model.initial_state(1)
        for pos, token in enumerate(context):  # context[cue + 1] is the cue word
            _, state = model.step(np.array([token]), state)
            k = pos - (cue + 1)
            if k in found:
                found[k][0].append(np.concatenate([s[0] for s in state]))
                found[k][1].append(label)
    return {k: (np.array(xs), np.array(ys)) for k, (xs, ys) in found.items() if len(ys) >= 30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="trained model directories")
    parser.add_argument("--kinds", nargs="+", default=["entity", "tense", "reason"])
    parser.add_argument("--per-cell", type=int, default=150, help="probes per kind and band")
    args = parser.parse_args()

    from autocomplete import textprep
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.evaluate.probes import build_probes
    from autocomplete.fastpath import NumpyStepModel

    test = textprep.split_by_email(load_builtin(), seed=0)["test"]
    rows = []
    for path in args.models:
        model = NumpyStepModel(path)
        probes = build_probes(test, model.vocab, max_per_cell=args.per_cell, seed=0)
        for kind in args.kinds:
            subset = probes[probes["kind"] == kind].reset_index(drop=True)
            row = {"model": path, "kind": kind, "probes": len(subset),
                   "chance": round(1 / subset["target_id"].nunique(), 2)}
            for k, (x, y) in states_after_cue(model, subset, OFFSETS).items():
                row[f"+{k}"] = round(readout_accuracy(x, y), 2)
            rows.append(row)
    print("read-out accuracy of the cue from the state, k tokens after the cue word")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
