"""After how many updates does a training recipe find the long-range cues?

The default run of `autocomplete train` is 1,600 updates of 16 windows of up to 256
tokens for the LSTM, 1,760 of 16 for the GRU. Whether a cell learns the time-word -> tense cue
within a given number of updates depends on the recipe and, a lot, on the random seed:
each cue is found suddenly, after a plateau. This sweep
trains one recipe per process on the default training windows and, every
`--every` updates, probes the validation split (recall per kind and distance
band, as in the report) and the lecture's prompt (P(need / needed / will) after
"Today / Yesterday / Tomorrow due to my current job situation and family
condition, I").

Two steps, because the training needs only Keras and so runs on any backend,
for example on a lent GPU machine that has JAX but no TensorFlow:

    python benchmarks/recipe_sweep.py export sweep.npz          # here (TensorFlow)
    KERAS_BACKEND=jax python benchmarks/recipe_sweep.py run sweep.npz lstm_lr2e2 \\
        '{"lr": 0.02, "seed": 1}' --steps 1800 >> sweep.jsonl  # one process per recipe
    python benchmarks/recipe_sweep.py table sweep.jsonl

A recipe is a JSON object over: cell, units, emb, layers, dropout, lr, batch,
gate, clipnorm, gclip, l2, precision, seed (defaults: the `train` defaults for
an LSTM at 1e-2, in float32), and decay / decay_steps: the rate is held, then
falls linearly to 0 over the last `decay` fraction of `decay_steps` updates, as
`train --lr-decay` does over a time budget (decay 0: constant).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

if TYPE_CHECKING:  # keras is imported where it is used: its backend comes from the environment
    import keras

KINDS = ("tense", "reason", "entity")
BANDS = ("1-10", "11-30", "31-60", "61-120")  # the bands its tables show (the probes add 121-200)
LECTURE = "{} due to my current job situation and family condition, I"
RECIPE = dict(cell="lstm", units=256, emb=128, layers=1, dropout=0.0, lr=1e-2, batch=16,
              gate="chrono", clipnorm=1.0, gclip=None, l2=1e-6, precision="float32", seed=0,
              decay=0.0, decay_steps=0, proj=None)


def export(path: str, per_cell: int, corpus: str | None = None) -> None:
    """Training windows, validation windows and probes of the default run, as arrays.

    `corpus`: a generated corpus file (generator output) instead of data/emails.jsonl.gz,
    to compare corpus designs.
    """
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.evaluate.probes import build_probes
    from autocomplete.tokens import START_ID, tokenize
    from autocomplete.train import TrainConfig, load_emails, prepare_data

    data = prepare_data(TrainConfig(), load_builtin(corpus) if corpus else load_emails(None))
    vocab = data["vocab"]
    index = {t: i for i, t in enumerate(vocab)}
    probes = build_probes(data["splits"]["validation"], vocab, max_per_cell=per_cell, seed=0)
    probes.to_json(f"{path}.probes.json", orient="records")  # read back by `run`
    lecture = [[START_ID] + [index[t] for t in tokenize(LECTURE.format(w))]
               for w in ("Today", "Yesterday", "Tomorrow")]
    x, y, w = data["windows"]["train"]
    vx, vy, vw = data["windows"]["validation"]
    np.savez_compressed(
        path, x=x, y=y, w=w, vx=vx, vy=vy, vw=vw, vocab=np.array(vocab), lecture=np.array(lecture),
        lecture_targets=np.array([index["need"], index["needed"], index["will"]]),
    )
    print(f"wrote {path}: {len(x)} training windows, {len(probes)} probes")


def hold_then_decay(
    lr: float, total: int, fraction: float
) -> keras.optimizers.schedules.LearningRateSchedule:
    """A Keras schedule: `lr`, then linear to 0 over the last `fraction` of `total` steps."""
    import keras

    class _Schedule(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            left = keras.ops.cast(total, "float32") - keras.ops.cast(step, "float32")
            return lr * keras.ops.clip(left / (fraction * total), 0.0, 1.0)

        def get_config(self) -> dict:
            return {"lr": lr, "total": total, "fraction": fraction}

    return _Schedule()


def run(path: str, name: str, recipe: dict, steps: int, every: int, deadline: float) -> None:
    """Train one recipe; print one JSON line per probe point."""
    import keras
    import pandas as pd

    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.evaluate.probes import recall_at_distance
    from autocomplete.model import build_model, compile_model

    r = RECIPE | recipe
    d = np.load(path)
    x, y, w = d["x"], d["y"], d["w"].astype("float32")
    keras.utils.set_random_seed(r["seed"])
    model = build_model(r["cell"], len(d["vocab"]), units=r["units"], embedding_dim=r["emb"],
                        layers=r["layers"], dropout=r["dropout"], l2=r["l2"], gate_init=r["gate"],
                        seed=r["seed"], precision=r["precision"],
                        projection=r["proj"])
    lr = hold_then_decay(r["lr"], r["decay_steps"], r["decay"]) if r["decay"] else r["lr"]
    compile_model(model, learning_rate=lr, clipnorm=r["clipnorm"], global_clipnorm=r["gclip"])
    lm = KerasLM.from_model(model, d["vocab"].tolist())
    probes = pd.read_json(f"{path}.probes.json", orient="records")

    def probe() -> dict:
        res = recall_at_distance(lm, probes)
        recall = res.groupby(["kind", "band"])["correct"].mean()
        out = {f"{k}{b}": round(float(recall.get((k, band), float("nan"))), 2)
               for k in KINDS for b, band in enumerate(BANDS)}
        p = np.exp(lm.next_logprobs(d["lecture"].tolist()))
        out["lecture"] = p[:, d["lecture_targets"]].round(3).tolist()
        return out

    rng = np.random.default_rng(r["seed"])
    order = np.concatenate([rng.permutation(len(x))
                            for _ in range(steps * r["batch"] // len(x) + 2)])
    start, step = time.monotonic(), 0
    while step < steps and time.monotonic() - start < deadline:
        idx = order[step * r["batch"] : (step + every) * r["batch"]]
        model.fit(x[idx], y[idx], sample_weight=w[idx], batch_size=r["batch"], epochs=1,
                  verbose=0, shuffle=False)
        step += every
        ev = model.evaluate(d["vx"], d["vy"], sample_weight=d["vw"].astype("float32"),
                            batch_size=64, verbose=0, return_dict=True)
        # the compiled loss holds the L2 penalty: take it off for the cross-entropy
        xent = ev["loss"] - sum(float(keras.ops.convert_to_numpy(v)) for v in model.losses)
        print(json.dumps({"name": name, "recipe": r, "step": step,
                          "seconds": round(time.monotonic() - start, 1),
                          "epoch": round(step * r["batch"] / len(x), 2),
                          "val_perplexity": round(float(np.exp(xent)), 3), **probe()}),
              flush=True)


def table(path: str, threshold: float) -> None:
    """First step at which each cue's recall reached `threshold` in every band."""
    import pandas as pd

    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    out = []
    for name, group in pd.DataFrame(rows).groupby("name", sort=False):
        first = {}
        for k in KINDS:
            hit = group[group[[f"{k}{b}" for b in range(4)]].min(axis=1) >= threshold]
            first[f"{k} at step"] = int(hit["step"].iloc[0]) if len(hit) else None
        last = group.iloc[-1]
        out.append({"recipe": name, "steps run": int(last["step"]), **first,
                    "val perplexity": last["val_perplexity"]})
    print(pd.DataFrame(out).to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("export")
    p.add_argument("path")
    p.add_argument("--per-cell", type=int, default=150, help="probes per kind and band")
    p.add_argument("--corpus", default=None, help="a generated corpus file (default: data/)")
    p = sub.add_parser("run")
    p.add_argument("path")
    p.add_argument("name")
    p.add_argument("recipe", help="JSON object overriding the default recipe")
    p.add_argument("--steps", type=int, default=1800)
    p.add_argument("--every", type=int, default=150)
    p.add_argument("--deadline", type=float, default=1e9, help="seconds")
    p = sub.add_parser("table")
    p.add_argument("path")
    p.add_argument("--threshold", type=float, default=0.9)
    a = parser.parse_args()
    if a.cmd == "export":
        export(a.path, a.per_cell, a.corpus)
    elif a.cmd == "run":
        run(a.path, a.name, json.loads(a.recipe), a.steps, a.every, a.deadline)
    else:
        table(a.path, a.threshold)


if __name__ == "__main__":
    main()
