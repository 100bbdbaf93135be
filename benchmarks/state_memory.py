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

With --align sentence-end, k counts from the token that ends the cue's
sentence (".", "?" or "!"; k = 0 is the state right after reading it), so a
cue lost *at* a sentence boundary shows as a drop between +0 and +1 whatever
the sentence's length. Probes whose target sits in the cue's own sentence
(the reason and the time word) have no such state and are left out.

    python benchmarks/state_memory.py models/decay_kd/lstm models/decay_kd/gru
    python benchmarks/state_memory.py models/recap2/lstm --align sentence-end --kinds entity
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
SENTENCE_OFFSETS = (-1, 0, 1, 2, 3, 5, 8)
SENTENCE_ENDS = (".", "?", "!")


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


def states_after_cue(model, probes: pd.DataFrame, offsets: tuple[int, ...],
                     ends: frozenset[int] | None = None) -> dict:
    """{k: (states k tokens after the cue word, their labels)} over `probes`.

    With `ends` (token ids), k counts from the first of them after the cue
    word instead; probes with none before the target are skipped.
    """
    labels = pd.factorize(probes["target_id"])[0]
    found: dict[int, tuple[list, list]] = {k: ([], []) for k in offsets}
    for context, cue, label in zip(probes["context"], probes["cue_token"], labels, strict=True):
        origin = cue + 1  # context[cue + 1] is the cue word
        if ends is not None:
            # searched from the word after the cue, so k = -1 is never before the cue
            origin = next((i for i in range(cue + 2, len(context)) if context[i] in ends), None)
            if origin is None:
                continue
        state = model.initial_state(1)
        for pos, token in enumerate(context):
            _, state = model.step(np.array([token]), state)
            k = pos - origin
            if k in found:
                found[k][0].append(np.concatenate([s[0] for s in state]))
                found[k][1].append(label)
    return {k: (np.array(xs), np.array(ys)) for k, (xs, ys) in found.items() if len(ys) >= 30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="trained model directories")
    parser.add_argument("--kinds", nargs="+", default=["entity", "tense", "reason"])
    parser.add_argument("--per-cell", type=int, default=150, help="probes per kind and band")
    parser.add_argument("--corpus-file", default=None,
                        help="a generated corpus other than data/emails.jsonl.gz (for models "
                             "trained on an earlier one: `git show <commit>:data/emails.jsonl.gz`)")
    parser.add_argument("--align", choices=["cue", "sentence-end"], default="cue",
                        help="count k from the cue word, or from the end of its sentence")
    args = parser.parse_args()

    from autocomplete import textprep
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.evaluate.probes import build_probes
    from autocomplete.fastpath import NumpyStepModel

    corpus = load_builtin(args.corpus_file) if args.corpus_file else load_builtin()
    test = textprep.split_by_email(corpus, seed=0)["test"]
    rows = []
    for path in args.models:
        model = NumpyStepModel(path)
        probes = build_probes(test, model.vocab, max_per_cell=args.per_cell, seed=0)
        ends = None
        if args.align == "sentence-end":
            ends = frozenset(i for i, t in enumerate(model.vocab) if t in SENTENCE_ENDS)
        for kind in args.kinds:
            subset = probes[probes["kind"] == kind].reset_index(drop=True)
            row = {"model": path, "kind": kind, "probes": len(subset),
                   "chance": round(1 / subset["target_id"].nunique(), 2)}
            offsets = OFFSETS if ends is None else SENTENCE_OFFSETS
            for k, (x, y) in states_after_cue(model, subset, offsets, ends).items():
                row[f"{k:+d}"] = round(readout_accuracy(x, y), 2)
            rows.append(row)
    origin = "the cue word" if ends is None else "the end of the cue's sentence"
    print(f"read-out accuracy of the cue from the state, k tokens after {origin}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
