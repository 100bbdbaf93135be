"""Train one cell on a corpus and write its model directory.

corpus -> split by email -> vocabulary (train only) -> windows -> fit with
clipping, L2, early stopping, backups and gradient statistics -> held-out test
metrics -> model directory, renamed into place only when complete.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autocomplete import artifacts

# Adam rates per cell. The LSTM gets a higher one: on the built-in corpus it finds the
# time-word -> tense cue only after a plateau, and 2e-2 left that plateau sooner in our
# runs (BENCHMARKS.md); the GRU at 2e-2 learned worse, and SimpleRNN diverges more often.
DEFAULT_LEARNING_RATES = {"lstm": 2e-2, "gru": 1e-2, "simple_rnn": 1e-2}
# The LSTM's rate falls to 0 over the second half of its run: at a constant 2e-2 its
# 8-minute default run on the session-7 corpus climbed out of its best epoch and
# learned neither the tense nor the lecture's "loan." (BENCHMARKS.md, session 7).
DEFAULT_LR_DECAY = {"lstm": 0.5}


@dataclass
class TrainConfig:
    """Every hyper-parameter of a run; written to config.json as is."""

    cell: str = "lstm"
    corpus: str | None = None  # None: the built-in corpus in data/
    out: str | None = None  # None: models/<cell>
    epochs: int = 20  # an upper bound: early stopping or the time budget ends a run first
    batch_size: int = 16  # small batches: more updates per minute at the same tokens/s on a CPU
    units: int = 256
    layers: int = 1
    embedding_dim: int = 128
    window: int = 256  # longer than the longest designed dependency (120 tokens)
    stride: int | None = None  # None: = window, every target once
    max_tokens: int = 8000  # vocabulary cap; the built-in corpus has fewer words
    learning_rate: float | None = None  # None: the cell's DEFAULT_LEARNING_RATES entry
    lr_decay: float | None = None  # share of the run, at its end, where the rate falls to 0
    # (LinearDecay); None: the cell's DEFAULT_LR_DECAY entry, else constant
    optimizer: str = "adam"  # "sgd" shows what clipping does (Adam rescales steps anyway)
    clipnorm: float | None = 1.0
    global_clipnorm: float | None = None
    l2: float = 1e-6  # small: a guard against exploding weights, not a handicap
    dropout: float = 0.0
    activation: str = "tanh"
    gate_init: str = "chrono-full"  # long initial memory for LSTM/GRU gates (model.chrono_init)
    embedding_std: float | None = None  # None: Keras's uniform(-0.05, 0.05) (see build_model)
    precision: str = "auto"  # training arithmetic (model.resolve_precision); saved as float32
    seed: int = 0
    patience: int = 2  # early stopping on val_loss, best weights kept
    time_budget: float | None = 8.0  # minutes of fit: 4 LSTM epochs on 2 cores, ends within 10 min
    grad_stats: bool = True
    grad_every: int | None = None  # None: the callback's default
    max_grad_norm: float | None = None  # stop when the global gradient norm passes it
    tensorboard_dir: str | None = None
    text_column: str | None = None

    def __post_init__(self) -> None:
        if self.learning_rate is None:
            self.learning_rate = DEFAULT_LEARNING_RATES.get(self.cell, 1e-2)
        if self.lr_decay is None:
            self.lr_decay = DEFAULT_LR_DECAY.get(self.cell, 0.0)

    def out_dir(self) -> Path:
        return Path(self.out) if self.out else artifacts.default_model_dir(self.cell)


def load_emails(corpus: str | None, text_column: str | None = None) -> pd.DataFrame:
    """The built-in corpus, or a user's mail through the real-mail loaders."""
    if corpus is None:
        from autocomplete.corpus.builtin import load_builtin

        return load_builtin()
    from autocomplete.corpus.loaders import load_corpus

    df, summary = load_corpus(corpus, text_column=text_column)
    print(summary)
    if len(df) < 10:
        raise ValueError(f"{corpus}: only {len(df)} usable emails after cleaning; need 10 or more")
    return df


def prepare_data(cfg: TrainConfig, df: pd.DataFrame) -> dict:
    """Split, vocabulary and windows for a run (deterministic given the seed)."""
    from autocomplete import textprep

    splits = textprep.split_by_email(df, seed=cfg.seed)
    vocab = textprep.build_vocabulary(splits["train"]["body"].tolist(), cfg.max_tokens)
    vectorizer = textprep.make_vectorizer(vocab)
    data = {"splits": splits, "vocab": vocab, "windows": {}}
    for name, part in splits.items():
        seqs = textprep.encode(vectorizer, part["body"].tolist())
        data["windows"][name] = textprep.make_windows(
            seqs, cfg.window, cfg.stride if name == "train" else None, seed=cfg.seed
        )
    return data


def evaluate_windows(model, arrays, batch_size: int = 64) -> dict:
    """Perplexity, top-1 and top-5 accuracy over the non-padding targets.

    An out-of-vocabulary target counts for perplexity but is never a correct
    prediction (predicting "[UNK]" helps nobody type). Runs in TensorFlow, in
    float32 per token and float64 for the sums, instead of a float64 numpy pass
    over every (token, vocabulary) logit.
    """
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def score(xb, yb):
        logits = tf.cast(model(xb, training=False), tf.float32)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits)
        true = tf.gather(logits, yb, batch_dims=2)
        rank = tf.reduce_sum(tf.cast(logits > true[..., None], tf.int32), -1)  # tokens beating it
        return nll, rank

    x, y, w = arrays
    nll_sum = correct1 = correct5 = 0.0
    count = 0
    for i in range(0, len(x), batch_size):
        yb, mask = y[i : i + batch_size], w[i : i + batch_size] > 0
        nll, rank = (t.numpy() for t in score(x[i : i + batch_size], yb.astype("int32")))
        known = mask & (yb != 1)
        nll_sum += nll[mask].astype(np.float64).sum()
        correct1 += (known & (rank == 0)).sum()
        correct5 += (known & (rank < 5)).sum()
        count += mask.sum()
    return {
        "perplexity": math.exp(nll_sum / max(count, 1)),
        "top1_accuracy": correct1 / max(count, 1),
        "top5_accuracy": correct5 / max(count, 1),
        "tokens": int(count),
    }


def library_versions() -> dict:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def train(
    cfg: TrainConfig,
    resume: bool = False,
    verbose: int | str = "auto",
    emails: pd.DataFrame | None = None,
    callbacks: list | None = None,
) -> Path:
    """Run training as configured and publish the model directory; returns its path.

    Args:
        cfg: the run's hyper-parameters.
        resume: continue an interrupted run of the same configuration.
        verbose: Keras `fit` verbosity ("auto" shows the progress bar).
        emails: a DataFrame of emails to use instead of loading `cfg.corpus`.
        callbacks: extra Keras callbacks.
    """
    import keras

    from autocomplete.callbacks.lr_decay import LinearDecay
    from autocomplete.callbacks.perplexity import PerplexityLogger
    from autocomplete.callbacks.time_budget import TimeBudget
    from autocomplete.model import as_float32, build_model, compile_model, resolve_precision
    from autocomplete.textprep import corpus_fingerprint, make_dataset

    out = cfg.out_dir()
    stage = artifacts.staging_dir(out)
    if stage.exists() and not resume:
        shutil.rmtree(stage)
    stage.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(cfg.seed)
    df = emails if emails is not None else load_emails(cfg.corpus, cfg.text_column)
    data = prepare_data(cfg, df)
    vocab = data["vocab"]
    train_w, val_w = data["windows"]["train"], data["windows"]["validation"]

    precision = resolve_precision(cfg.precision)
    arch = dict(
        cell=cfg.cell, vocab_size=len(vocab), units=cfg.units, layers=cfg.layers,
        embedding_dim=cfg.embedding_dim, l2=cfg.l2, dropout=cfg.dropout,
        activation=cfg.activation, gate_init=cfg.gate_init, seed=cfg.seed,
        embedding_std=cfg.embedding_std,
    )
    model = build_model(**arch, precision=precision)
    compile_model(
        model, learning_rate=cfg.learning_rate, clipnorm=cfg.clipnorm,
        global_clipnorm=cfg.global_clipnorm, optimizer=cfg.optimizer,
    )
    train_ds = make_dataset(train_w, cfg.batch_size, shuffle=True, seed=cfg.seed)
    val_ds = make_dataset(val_w, cfg.batch_size, shuffle=False)

    budget = TimeBudget(cfg.time_budget)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=cfg.patience, restore_best_weights=True
    )
    callbacks = [
        keras.callbacks.BackupAndRestore(str(stage / "backup"), delete_checkpoint=True),
        budget,
        *([LinearDecay(cfg.lr_decay, cfg.time_budget)] if cfg.lr_decay else []),
        keras.callbacks.TerminateOnNaN(),
        stopper,
        PerplexityLogger(),
        keras.callbacks.CSVLogger(str(stage / "history.csv"), append=resume),
        *(callbacks or []),
    ]
    grad_cb = None
    if cfg.grad_stats:
        grad_cb = _gradient_stats(cfg, model, train_w, data["windows"]["test"], stage)
        callbacks.insert(1, grad_cb)

    started = time.monotonic()
    model.fit(
        train_ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=callbacks,
        verbose=verbose, shuffle=False,  # the dataset shuffles itself
    )
    seconds = time.monotonic() - started
    if grad_cb is not None and getattr(grad_cb, "stop_reason", None):
        print(f"training stopped by gradient statistics: {grad_cb.stop_reason}")

    if precision != "float32":
        model = as_float32(model, **arch)  # what is saved, completed with and tested
    metrics = evaluate_windows(model, data["windows"]["test"])
    history = pd.read_csv(stage / "history.csv")
    metrics.update(
        train_seconds=round(seconds, 1),
        epochs_run=int(len(history)),
        parameters=int(model.count_params()),
        stopped_by_time_budget=budget.spent,
        # early stopping restores the best epoch's weights (1-based, as Keras prints it);
        # the gradient-flow summaries read this epoch's curve
        kept_epoch=int(stopper.best_epoch) + 1 if stopper.best_weights is not None
        else int(len(history)),
        split_emails={k: len(v) for k, v in data["splits"].items()},
    )
    model.save(stage / "model.keras")
    artifacts.write_vocab(stage / "vocab.txt", vocab)
    config = dataclasses.asdict(cfg) | {
        "out": str(out),
        "vocab_size": len(vocab),
        "precision_used": precision,
        "corpus_sha256": corpus_fingerprint(df),
        "corpus_emails": len(df),
        "versions": library_versions(),
    }
    artifacts.write_json(stage / "config.json", config)
    artifacts.write_json(stage / "metrics.json", metrics)
    _export_fast_path(stage, model)
    shutil.rmtree(stage / "backup", ignore_errors=True)
    return artifacts.publish(stage, out)


def _gradient_stats(cfg: TrainConfig, model, train_w, test_w, stage: Path):
    """The gradient-statistics callback on a train sample and a held-out probe."""
    from autocomplete.callbacks.gradient_stats import GradientStats

    probe = test_w[0][: min(len(test_w[0]), 16)]
    kwargs = {"every": cfg.grad_every} if cfg.grad_every else {}
    return GradientStats(
        train_w, probe=probe, log_dir=str(stage), batch_size=cfg.batch_size, seed=cfg.seed,
        tensorboard_dir=cfg.tensorboard_dir, max_global_norm=cfg.max_grad_norm, **kwargs,
    )


def _export_fast_path(stage: Path, model) -> None:
    """Write the TensorFlow-free inference file beside model.keras."""
    from autocomplete.fastpath import export_inference

    export_inference(stage, model)


def read_metrics(model_dir: str | Path) -> dict:
    return json.loads((Path(model_dir) / "metrics.json").read_text())
