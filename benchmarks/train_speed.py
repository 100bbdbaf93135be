"""Training throughput of the default step against the candidates, in tokens per second.

Each variant runs in its own process (the Keras backend and oneDNN are chosen
at import) on synthetic batches, vocabulary 3,000 (the built-in corpus has
about 3,160), Adam with clipnorm 1 and L2 1e-6. The baseline is the step
`autocomplete train --cell lstm` took before the defaults changed: 256 units,
embedding 128, 16 windows of 256 tokens, per-step `xent` and `accuracy`
metrics, float32, TensorFlow's fused cross-entropy kernel and malloc as the
CPU allocator (today's default step uses `autocomplete.losses` and the BFC
allocator that `autocomplete` turns on). Tokens per second count real tokens:
a step's positions times the share of positions that hold a token (not
padding) when the built-in corpus's training split is packed into windows of
that length (75% at 256 tokens, 98.5% at 384). A step whose batch is grouped by
length (`textprep.group_by_length`, today's default) holds the same tokens in
fewer positions: its timed steps are cut to the widths of a pass's grouped
batches (evenly spaced quantiles of them). Rounds alternate the order, so that a slow
moment of the shared machine does not fall on one variant only:

    python benchmarks/train_speed.py                  # 2 rounds, 6 timed steps each
    python benchmarks/train_speed.py --rounds 1 --steps 4
    python benchmarks/train_speed.py --only "default GRU: the same, 16 windows"  # and the baseline
    python benchmarks/train_speed.py --quality        # also: held-out perplexity after
                                                      # the same tokens, earlier and new default

`--quality` trains the earlier default LSTM and today's for one pass each over
the built-in corpus's training windows (the same training tokens) with
`autocomplete train` and prints their validation and test perplexity.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TensorFlow import
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OLD = {"units": 256, "emb": 128, "window": 256, "batch": 16, "metrics": True,
       "loss": "keras", "allocator": "malloc"}
NEW = {"units": 256, "emb": 128, "window": 256, "proj": 128, "loss": "keras",
       "allocator": "malloc"}
NOW = {"loss": "ours", "allocator": "bfc"}  # what `autocomplete train` uses today
VARIANTS = {  # name -> settings
    "earlier default: 256 units, emb 128, 16 x 256, per-step metrics": OLD,
    "the same without per-step metrics": OLD | {"metrics": False},
    "earlier default, XLA (jit_compile)": OLD | {"jit": True},
    "earlier default, Keras on JAX": OLD | {"metrics": False, "backend": "jax"},
    "earlier default, mixed bfloat16": OLD | {"metrics": False, "precision": "mixed_bfloat16"},
    "16 x 256, projection 128": NEW | {"batch": 16},
    "LSTM 32 x 256, projection 128": NEW | {"batch": 32},
    "LSTM 64 x 256, projection 128": NEW | {"batch": 64},
    "LSTM 64 x 256, emb 64, projection 128": NEW | {"batch": 64, "emb": 64},
    "the same, BFC allocator": NEW | {"batch": 64, "emb": 64, "allocator": "bfc"},
    "LSTM: the same, BFC allocator, cheaper loss kernel": NEW | {"batch": 64, "emb": 64} | NOW,
    "LSTM: the same, batches grouped by length": NEW | {"batch": 64, "emb": 64} | NOW
    | {"grouped": True},
    "LSTM: the same, 192 units": NEW | {"batch": 64, "emb": 64, "units": 192} | NOW
    | {"grouped": True},
    "LSTM: the same, 32 windows": NEW | {"batch": 32, "emb": 64, "units": 192} | NOW
    | {"grouped": True},
    "default LSTM: the same, 16 windows": NEW | {"batch": 16, "emb": 64, "units": 192} | NOW
    | {"grouped": True},
    "LSTM 64 x 256, emb 64, Keras on JAX (ungrouped)": NEW | {"batch": 64, "emb": 64,
                                                        "backend": "jax"},
    "LSTM 64 x 256, no projection": NEW | {"batch": 64, "proj": None},
    "narrow: 128 units, emb 64, 16 x 384": {"units": 128, "emb": 64, "window": 384,
                                            "batch": 16, "loss": "keras", "allocator": "malloc"},
    "GRU 64 x 256, projection 128": NEW | {"batch": 64, "cell": "gru"},
    "GRU: the same, BFC allocator, cheaper loss kernel": NEW | {"batch": 64, "cell": "gru"} | NOW,
    "GRU: the same, batches grouped by length": NEW | {"batch": 64, "cell": "gru"} | NOW
    | {"grouped": True},
    "default GRU: the same, 16 windows": NEW | {"batch": 16, "cell": "gru"} | NOW
    | {"grouped": True},
}
BASELINE = next(iter(VARIANTS))


def child(settings: dict, steps: int) -> None:
    """Time `steps` training steps after a warm-up; print ms per step as JSON."""
    import time

    import keras
    import numpy as np

    from autocomplete.model import build_model, compile_model

    vocab, batch, window = 3000, settings["batch"], settings["window"]
    model = build_model(settings.get("cell", "lstm"), vocab, units=settings["units"],
                        embedding_dim=settings["emb"], projection=settings.get("proj"),
                        precision=settings.get("precision", "float32"))
    compile_model(model, learning_rate=1e-2)
    loss = model.loss
    if settings.get("loss") == "keras":  # TensorFlow's fused kernel, as before
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight")
    if settings.get("metrics") or settings.get("jit") or loss is not model.loss:
        metrics = [keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="xent"),
                   keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        model.compile(optimizer=model.optimizer, loss=loss,
                      weighted_metrics=metrics if settings.get("metrics") else None,
                      jit_compile=bool(settings.get("jit")))
    rng = np.random.default_rng(0)
    x = rng.integers(2, vocab, (batch, window)).astype("int32")
    y = np.roll(x, -1, axis=1)
    w = np.ones(x.shape, "float32")
    widths = settings.get("widths") or [window] * steps  # batches grouped by length: theirs
    for width in (window, *widths[:2]):  # warm-up, and the traces of a second width
        model.train_on_batch(x[:, :width], y[:, :width], sample_weight=w[:, :width])
    started = time.perf_counter()
    for width in widths:
        model.train_on_batch(x[:, :width], y[:, :width], sample_weight=w[:, :width])
    ms = (time.perf_counter() - started) / len(widths) * 1000
    print(json.dumps({"ms": ms}))


def corpus_windows(shapes: set[tuple[int, int]], steps: int) -> dict[tuple[int, int], dict]:
    """Per (window length, batch size), on the built-in corpus's training split: the share
    of positions that hold a token, and the widths of `steps` batches grouped by length
    (the quantiles of one pass's widths, so that a few steps cost what a pass's average
    step does)."""
    import numpy as np

    from autocomplete import textprep
    from autocomplete.train import load_emails

    train = textprep.split_by_email(load_emails(None), seed=0)["train"]["body"].tolist()
    vocab = textprep.build_vocabulary(train)
    seqs = textprep.encode(textprep.make_vectorizer(vocab), train)
    out = {}
    for window, batch in sorted(shapes):
        arrays = textprep.make_windows(seqs, window)
        widths = [b[0].shape[1] for b in textprep.make_dataset(arrays, batch)]
        quantiles = np.quantile(widths, (np.arange(steps) + 0.5) / steps, method="nearest")
        out[window, batch] = {"share": float(arrays[2].mean()),
                              "widths": [int(q) for q in quantiles]}
    return out


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


def real_tokens(settings: dict, corpus: dict) -> float:
    """Tokens (not padding) in a step of these settings: the same whether or not its batch
    is grouped by length, which cuts padding only."""
    return (settings["batch"] * settings["window"]
            * corpus[settings["window"], settings["batch"]]["share"])


def speed(rounds: int, steps: int, only: list[str] | None = None) -> pd.DataFrame:
    """ms per step and real tokens per second of each variant (those of `only` and the
    baseline, when `only` is given), against the baseline's."""
    chosen = {name: s for name, s in VARIANTS.items()
              if not only or name == BASELINE or name in only}
    runs: dict[str, list[dict]] = {name: [] for name in chosen}
    skipped = {name: why for name, s in chosen.items() if (why := available(s))}
    corpus = corpus_windows({(s["window"], s["batch"]) for s in chosen.values()}, steps)
    names = [n for n in chosen if n not in skipped]
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            settings = VARIANTS[name]
            child_settings = settings | (
                {"widths": corpus[settings["window"], settings["batch"]]["widths"]}
                if settings.get("grouped")
                else {})
            env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
                                "KERAS_BACKEND": settings.get("backend", "tensorflow"),
                                "TF_CPU_ALLOCATOR_USE_BFC": str(
                                    settings.get("allocator") == "bfc").lower()}
            out = subprocess.run(
                [sys.executable, __file__, "--steps", str(steps), "--child",
                 json.dumps(child_settings)], env=env, capture_output=True, text=True,
                check=True,
            ).stdout
            run = json.loads(out.strip().splitlines()[-1])
            run["tokens_per_s"] = real_tokens(settings, corpus) / run["ms"] * 1000
            runs[name].append(run)
    base = sum(r["tokens_per_s"] for r in runs[BASELINE]) / rounds
    rows = []
    for name in chosen:
        if name in skipped:
            rows.append({"variant": name, "ms per step": "-", "real tokens per step": "-",
                         "tokens/s": "-",
                         "per round (tokens/s)": f"skipped: {skipped[name]}", "vs baseline": "-"})
            continue
        tps = [r["tokens_per_s"] for r in runs[name]]
        ms = sum(r["ms"] for r in runs[name]) / rounds
        rows.append({"variant": name, "ms per step": round(ms),
                     "real tokens per step": round(real_tokens(VARIANTS[name], corpus)),
                     "tokens/s": round(sum(tps) / rounds),
                     "per round (tokens/s)": " / ".join(f"{t:,.0f}" for t in tps),
                     "vs baseline": f"{sum(tps) / rounds / base:.2f}x"})
    return pd.DataFrame(rows)


def quality() -> pd.DataFrame:
    """One epoch of the earlier default LSTM and of today's on the built-in corpus."""
    from autocomplete.train import TrainConfig

    now = TrainConfig(cell="lstm")  # today's defaults, as `autocomplete train` takes them
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = ["--batch-size", "16", "--projection", "0", "--embedding-dim", "128",
               "--learning-rate", "2e-2", "--units", "256"]
        for name, extra in (("earlier default: 256 units, 16 x 256, emb 128, no projection, "
                             "Adam 2e-2", old),
                            (f"default: {now.units} units, {now.batch_size} x {now.window}, "
                             f"emb {now.embedding_dim}, projection {now.projection}, "
                             f"Adam {now.learning_rate:g}", [])):
            out = Path(tmp) / name.split(":")[0].replace(" ", "_")
            subprocess.run([sys.executable, "-m", "autocomplete", "train", "--cell", "lstm",
                            "--epochs", "1", "--no-grad-stats", "--quiet", "--out", str(out),
                            *extra], check=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
            history = pd.read_csv(out / "history.csv")
            metrics = json.loads((out / "metrics.json").read_text())
            rows.append({"model": name, "updates": metrics["updates"],
                         "validation perplexity": round(float(history["val_perplexity"].iloc[-1]),
                                                        3),
                         "test perplexity": round(metrics["perplexity"], 3),
                         "train seconds": metrics["train_seconds"]})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quality", action="store_true",
                        help="also train the earlier and today's default LSTM one epoch each")
    parser.add_argument("--only", action="append", default=None, metavar="VARIANT",
                        help="time this variant and the baseline only (repeatable)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = sorted(set(args.only or []) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; the variants: {', '.join(VARIANTS)}")
    if args.child:
        child(json.loads(args.child), args.steps)
        return
    print(f"{args.steps} timed steps per run, {args.rounds} rounds")
    print(speed(args.rounds, args.steps, args.only).to_string(index=False))
    if args.quality:
        print()
        print(quality().to_string(index=False))


if __name__ == "__main__":
    main()
