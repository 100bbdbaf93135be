"""How many updates does each cell need to discover the long-range cues?

The request sentences of the built-in corpus ("Yesterday due to <reason>,
<filler> I needed to take a <target> ...") are cut out of their emails, so
every window is dense with reason and tense dependencies. Each cell trains on
the training split's sentences with the default recipe (the cell's default
Adam rate unless --lr is given, clipnorm 1.0, batch 16, `build_model`'s
default gate start; 128 units by default, for speed) and, every
`--every` steps, is probed on the validation split's sentences: recall per
kind and distance band, as in the report. The table gives the first step at
which recall reached the threshold in every band. This isolates what the full
corpus dilutes: one dependency target per 56 tokens there, about twice as
many per token here.

    python benchmarks/cue_learning.py --cells gru lstm --minutes 3
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402

from autocomplete.corpus.builtin import load_builtin  # noqa: E402
from autocomplete.tokens import detokenize, tokenize  # noqa: E402


def request_sentences(df: pd.DataFrame) -> pd.DataFrame:
    """One row per request sentence, with its tense and reason deps re-indexed."""
    rows = []
    for e in df.itertuples(index=False):
        toks = tokenize(e.body)
        for t in (d for d in e.deps if d["kind"] == "tense"):
            r = next(d for d in e.deps if d["kind"] == "reason"
                     and t["cue_token"] < d["cue_token"] < t["target_token"])
            end = toks.index(".", r["target_token"]) + 1
            shift = t["cue_token"]
            deps = [dict(d, cue_token=d["cue_token"] - shift,
                         target_token=d["target_token"] - shift) for d in (t, r)]
            rows.append({"id": f"{e.id}-{shift}", "body": detokenize(toks[shift:end]),
                         "deps": deps})
    return pd.DataFrame(rows)


def run(
    cell: str, minutes: float, every: int, threshold: float, units: int, seed: int = 0,
    lr: float | None = None,
) -> dict:
    import keras

    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.evaluate.probes import build_probes, recall_at_distance
    from autocomplete.model import build_model, compile_model
    from autocomplete.textprep import (
        build_vocabulary,
        encode,
        make_dataset,
        make_vectorizer,
        make_windows,
        split_by_email,
    )

    keras.utils.set_random_seed(seed)
    splits = split_by_email(load_builtin(), seed=seed)  # the training run's split
    train, val = request_sentences(splits["train"]), request_sentences(splits["validation"])
    vocab = build_vocabulary(train["body"].tolist())
    windows = make_windows(encode(make_vectorizer(vocab), train["body"].tolist()), 256, seed=seed)
    probes = build_probes(val, vocab, max_per_cell=100, seed=seed)
    model = build_model(cell, len(vocab), units=units, embedding_dim=units // 2, seed=seed)
    from autocomplete.train import DEFAULT_LEARNING_RATES

    compile_model(model, learning_rate=lr or DEFAULT_LEARNING_RATES[cell])
    lm = KerasLM.from_model(model, vocab)

    found: dict[str, int | None] = {"reason": None, "tense": None}
    state = {"step": 0, "start": time.monotonic()}

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            state["step"] += 1
            if state["step"] % every == 0:
                res = recall_at_distance(lm, probes)
                worst = res.groupby(["kind", "band"], observed=True)["correct"].mean()
                worst = worst.groupby(level="kind").min()
                for kind in found:
                    if found[kind] is None and worst.get(kind, 0) >= threshold:
                        found[kind] = state["step"]
                print(f"{cell} step {state['step']}: lowest band recall "
                      + ", ".join(f"{k} {v:.2f}" for k, v in worst.items()), flush=True)
            spent = time.monotonic() - state["start"]
            if spent > minutes * 60 or all(v is not None for v in found.values()):
                self.model.stop_training = True

    model.fit(make_dataset(windows, 16, seed=seed), epochs=1000, callbacks=[Probe()], verbose=0)
    return {"cell": cell, "sentences": len(train), "steps run": state["step"],
            "seconds": round(time.monotonic() - state["start"]),
            f"reason >= {threshold:.2f} at step": found["reason"],
            f"tense >= {threshold:.2f} at step": found["tense"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--minutes", type=float, default=3.0, help="budget per cell")
    parser.add_argument("--every", type=int, default=250, help="probe every N steps")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--units", type=int, default=128, help="embedding gets half")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam rate for every cell (default: each cell's train default)")
    args = parser.parse_args()
    rows = [run(c, args.minutes, args.every, args.threshold, args.units, lr=args.lr)
            for c in args.cells]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
