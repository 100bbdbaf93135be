"""Train one cell on a corpus and write its model directory.

corpus -> placeholders for private values -> split by email -> vocabulary
(train only) -> windows -> fit with clipping, L2, early stopping, backups and
gradient statistics -> held-out test metrics -> model directory, renamed into
place only when complete.

The windows come from a corpus in memory, or stream from one prepared once as
shards (`--data`, `autocomplete.shards`); the model trains under a
`tf.distribute` strategy (`autocomplete.distribute`), by default one device.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autocomplete import artifacts
from autocomplete.distribute import STRATEGIES
from autocomplete.model_names import CELL_NAMES, GATE_INITS, PRECISIONS
from autocomplete.tokens import PAD_ID, SUBJECT_SEPARATOR

# The default run: a fixed amount of work, the same on any machine. Each setting was
# chosen by the update from which three seeds of a GPU sweep ranked the lecture's
# verbs (need / needed / will) first (BENCHMARKS.md, "Recipe sweep", run on the corpus
# before the current one; the check on the CPU is "Default training").
# The linear bottleneck before the output layer (`projection`) is what lets the cells
# find the time-word cue within a few hundred updates: without it no batch size or rate
# tried held the three verbs in every seed within 600 to 1,600 updates; with it every
# seed did by update 200-350. It also halves the output layer's arithmetic, the
# largest matrix product of a step.
DEFAULT_PROJECTION = 128
# Windows per update, per cell. The gated cells take updates of 16 windows, smaller than
# the 2 cores run fastest: with them, on the built-in corpus before its reintroduced
# projects, the LSTM at Adam 2e-2 carried the reason through held-out templates in three
# seeds of three and the GRU at 1e-2 completed the lecture in three of three, where the
# GRU's updates of 32 at 2e-2 read a time word wrongly in one; on the current corpus the
# GRU's seed 1 read Today as Tomorrow until the GRU saved the average of its weights
# (BENCHMARKS.md, "Which template recall depends on").
DEFAULT_BATCH_SIZES = {"lstm": 16, "gru": 16, "simple_rnn": 64}
# Adam rates per cell; the LSTM's 3e-2 at 16 windows found no reason in one seed of two
# (nor in 2,400 updates).
DEFAULT_LEARNING_RATES = {"lstm": 2e-2, "gru": 1e-2, "simple_rnn": 1e-2}
# Word vectors per cell: the LSTM's recipe with 64 held the lecture's verbs in every
# seed by update 300; with 128 (at 3e-2) one seed needed 350.
DEFAULT_EMBEDDING_DIMS = {"lstm": 64, "gru": 128, "simple_rnn": 128}
# The run's work in optimizer updates, per cell. The LSTM finds its cues late and one
# by one: on an AMD EPYC its seed 0 found the tense by update 1,000, the reason and the
# cross-sentence reason by 1,200 and carried the project name into new sentences only
# from 2,000 (run on past 1,600); at a constant rate a cue found could be lost again (seed 1's tense
# held out: 0.72-1.00 at update 1,000, 0.22-0.36 at 1,200, 0.84-1.00 at 1,400). Its 3,200
# hold the rate for 2,400 and let it fall over the last 800 (`DEFAULT_LR_DECAY`), so the
# run ends settled on what it found (BENCHMARKS.md, "Default training").
# With the GRU's 1,760 three seeds of three completed the lecture on the corpus before the
# current one, and on the current one three of three with the average of the weights saved
# (two without it; with 1,320 one seed of two read Today as Tomorrow). BENCHMARKS.md,
# "Default training", has the times per machine.
DEFAULT_UPDATES = {"lstm": 3200, "gru": 1760, "simple_rnn": 330}
# Share of the run, at its end, over which the rate falls linearly to 0, per cell. The
# GRU, whose saved weights are the average of its last hundred or so updates, holds it.
DEFAULT_LR_DECAY = {"lstm": 0.25, "gru": 0.0, "simple_rnn": 0.0}
# Momentum of the moving average of the weights that is saved (Keras's `use_ema`; 0: the
# last update's weights), per cell. Averaged over its last hundred or so updates, the GRU's
# test perplexity fell from 3.66-3.73 to 3.40-3.44 in three seeds, all three completed the
# lecture (one of three read Today as Tomorrow without it), and held-out template recall
# rose in most kinds and bands; the LSTM's average lost its project name on new sentences
# (BENCHMARKS.md, "Which template recall depends on").
DEFAULT_EMA = {"lstm": 0.0, "gru": 0.99, "simple_rnn": 0.0}
# Adam's decay of its running mean square, per cell (Keras's default 0.999). With 0.999 a
# word's vector goes on moving for dozens of steps after each step that reads it, so words
# read a few dozen times end with vectors as long as the common words', and the GRU lost
# the reason after new cue phrasings built on such words; with 0.99 the drift is about a
# third as long and the GRU kept every cue through held-out templates (BENCHMARKS.md,
# "Which template recall depends on"). The LSTM lost its project name with 0.99.
DEFAULT_BETA_2 = {"lstm": 0.999, "gru": 0.99, "simple_rnn": 0.999}
# Units per cell. The LSTM's 192 make its update about 1.4x cheaper than 256 (its four
# gates are each as wide as the layer), and found the cues no later: at 256 units the one
# seed followed held the verbs from update 600 (BENCHMARKS.md, "Default training").
DEFAULT_UNITS = {"lstm": 192, "gru": 256, "simple_rnn": 256}
# The longest memory time, in steps, that the chrono gate initialisation gives a unit, per
# cell (Tallec & Ollivier take the longest dependency to be learned). The LSTM's 256, its
# training window, start some units on memories past 120 steps: with 120 no seed of five
# carried the project name into new sentences at the aim up to 120 tokens or held every
# kind of cue; with 256 three carried the name and two held every kind (BENCHMARKS.md,
# "The LSTM's 3,200 updates"). The GRU's seed 1 with 256 was no better, so it keeps 120;
# the SimpleRNN has no gates.
DEFAULT_MAX_LAG = {"lstm": 256, "gru": 120, "simple_rnn": 120}
# The options whose default depends on the cell (unset: None), with their tables.
PER_CELL_DEFAULTS = {
    "batch_size": DEFAULT_BATCH_SIZES, "units": DEFAULT_UNITS,
    "embedding_dim": DEFAULT_EMBEDDING_DIMS, "learning_rate": DEFAULT_LEARNING_RATES,
    "lr_decay": DEFAULT_LR_DECAY, "ema": DEFAULT_EMA, "beta_2": DEFAULT_BETA_2,
    "max_lag": DEFAULT_MAX_LAG,
}


def _per_cell(defaults: dict, fmt: str = "") -> str:
    """An option's help sentence naming its default for each cell, from a per-cell table."""
    return "Default: " + ", ".join(f"{v:{fmt}} for {c}" for c, v in defaults.items()) + "."


def option(default, help: str, **cli):
    """A `TrainConfig` field that is also a `train` command-line option.

    `help` is the option's help text; `cli` holds plain facts the command turns
    into click types: `choices`, `min`/`max` (with `min_open`/`max_open`),
    `path` ("file", "dir" or "exists"), `aliases`, `flag` (the name of an
    off-switch for a boolean that defaults to True, e.g. "--no-grad-stats") and
    `switch` (the name of an on-switch for one that defaults to False, e.g.
    "--keep-numbers").
    """
    return dataclasses.field(default=default, metadata={"help": help, **cli})


@dataclass
class TrainConfig:
    """Every hyper-parameter of a run; written to config.json as is.

    The run's work is fixed, the same on any machine: `updates` optimizer
    updates (or `epochs` whole passes over the training windows), in rounds of
    at most one pass, each scored on validation windows (early stopping may end
    the run sooner). `time_budget` is an optional wall-clock cap, off by
    default. Each field's help text is the `train` command's help for its option.
    """

    cell: str = option("lstm", "Recurrent cell to train.", choices=CELL_NAMES)
    corpus: str | None = option(
        None, "Your own mail (mbox, maildir, folder, CSV, text or archive). "
        "Default: the built-in corpus in data/.", path="exists")
    data: str | None = option(
        None, "A corpus prepared by `autocomplete prepare CORPUS --out DIR`: training streams "
        "its windows from DIR's shards, with DIR's split, vocabulary, window, stride, "
        "--keep-numbers and --subject (instead of --corpus).", path="exists")
    text_column: str | None = option(None, "CSV corpora: the column holding the text.")
    keep_numbers: bool = option(
        False, "Train on the text as written. By default e-mail addresses, URLs, phone "
        "numbers, long numbers and card- or account-like numbers become placeholder tokens "
        "first, so the model cannot learn to complete them.", switch="--keep-numbers")
    subject: bool = option(
        False, "Train on each email's subject, the separator word xxbody, then its body, so "
        "completions can follow the subject (`complete --subject`). Default: the body only.",
        switch="--subject")
    out: str | None = option(None, "Model directory to write. Default: models/<cell>.",
                             path="dir")
    updates: int | None = option(
        None, "Optimizer updates: the run's fixed work, in rounds of at most one pass over the "
        "training windows, each scored on validation windows (early stopping may end it "
        "sooner). " + _per_cell(DEFAULT_UPDATES), min=1)
    epochs: int | None = option(
        None, "Whole passes over the training windows, instead of --updates.", min=1)
    time_budget: float | None = option(
        None, "Optional cap in minutes of training; the run then ends early, maybe before "
        "the long-range cues are learned (0 or unset: no cap).", min=0)
    batch_size: int | None = option(
        None, "Windows per update. " + _per_cell(DEFAULT_BATCH_SIZES), min=1)
    units: int | None = option(
        None, "Units per recurrent layer. " + _per_cell(DEFAULT_UNITS), min=1)
    layers: int = option(1, "Stacked recurrent layers.", min=1)
    embedding_dim: int | None = option(
        None, "Size of the word vectors. " + _per_cell(DEFAULT_EMBEDDING_DIMS), min=1)
    projection: int = option(
        DEFAULT_PROJECTION, "Width of the linear bottleneck between the last recurrent layer "
        "and the output layer (0: none).", min=0)
    window: int = option(256, "Tokens per training window (longest remembered distance; "
                         "the built-in corpus's dependencies reach 200 tokens).", min=2)
    stride: int | None = option(None, "Step between windows cut from long emails. "
                                "Default: the window (every target once).", min=1)
    max_tokens: int = option(8000, "Vocabulary size cap (from the training split only).",
                             min=10)
    learning_rate: float | None = option(
        None, "Adam learning rate. " + _per_cell(DEFAULT_LEARNING_RATES, "g"),
        min=0, min_open=True, aliases=("--lr",))
    lr_decay: float | None = option(
        None, "Share of the run, at its end, over which the learning rate falls linearly to "
        "0 (0: constant): a high rate finds the cues, a falling one settles what was found. "
        + _per_cell(DEFAULT_LR_DECAY, "g"), min=0, max=1)
    optimizer: str = option(
        "adam", "lazy-adam moves a word vector only on the steps that read the word (no L2 "
        "on the word vectors); sgd takes raw gradient steps: the setting where clipping "
        "visibly matters.", choices=("adam", "lazy-adam", "sgd"))
    clipnorm: float | None = option(1.0, "Clip each variable's gradient to this L2 norm.",
                                    min=0, min_open=True)
    global_clipnorm: float | None = option(
        None, "Clip the global gradient norm instead of each variable's.", min=0,
        min_open=True)
    l2: float = option(1e-6, "L2 weight on embedding, kernels and recurrent kernels "
                       "(0 turns it off; small: a guard against exploding weights).", min=0)
    embedding_decay: float = option(
        0.0, "Decoupled weight decay on the word vectors alone (AdamW's: each update "
        "also shrinks them by learning rate x this), so that a rare word's vector stays "
        "short. Off by default: on the built-in corpus 0.1 cost the LSTM its project name "
        "and 1.0 every cue within the default work.", min=0)
    beta_2: float | None = option(
        None, "Adam's decay of its running mean square of each gradient. After a step that "
        "reads a rare word, that word's vector goes on moving while the mean square of its "
        "gradient decays; a lower value shortens that. " + _per_cell(DEFAULT_BETA_2, "g"),
        min=0, max=1, min_open=True, max_open=True)
    ema: float | None = option(
        None, "Keep a moving average of the weights with this momentum (Keras's use_ema); "
        "the rounds are scored, backed up and the model saved with the average (0: off). "
        + _per_cell(DEFAULT_EMA, "g"), min=0, max=1, max_open=True)
    dropout: float = option(0.0, "Dropout on the inputs of the recurrent layers and of the "
                            "output layer.", min=0, max=1, max_open=True)
    word_dropout: float = option(
        0.0, "Share of the input words of the training windows replaced by [UNK] (the "
        "targets kept), so that the model learns to carry a cue through words it does not "
        "know. Off by default: on the built-in corpus 0.1 made the GRU keep the reason further "
        "through new filler and lose the project name in new sentences, and kept the LSTM "
        "from finding the tense within its default work.", min=0, max=1, max_open=True)
    rare_word_dropout: float = option(
        0.0, "Replace each input word read n times in the training windows by [UNK] with "
        "probability A / (A + n), for this A (Kiperwasser & Goldberg, 2016): rare words most "
        "often (0: off; not with --word-dropout or --data).", min=0)
    activation: str = option(
        "tanh", "Recurrent activation; relu on simple_rnn is the exploding-gradient recipe "
        "(on lstm/gru it also gives up cuDNN).", choices=("tanh", "relu"))
    gate_init: str = option(
        "chrono-full", "Initial LSTM/GRU gate biases: memory times drawn from 1 to --max-lag steps "
        "(chrono, Tallec & Ollivier 2018), log-uniformly (chrono-log) or uniformly "
        "(chrono-full), the LSTM input gate closed as in the paper; chrono leaves it half "
        "open; default: Keras's.", choices=GATE_INITS)
    max_lag: int | None = option(
        None, "The longest memory time, in steps, that the chrono gate initialisations draw "
        "from. " + _per_cell(DEFAULT_MAX_LAG), min=2)
    embedding_std: float | None = option(
        None, "Start the word vectors from a normal distribution with this standard "
        "deviation (default: Keras's uniform -0.05..0.05).", min=0, min_open=True)
    embedding_max_norm: float | None = option(
        None, "Keep every word vector at most this long (Keras's MaxNorm constraint), so "
        "that a rare word's vector cannot outgrow the common words' (default: no limit).",
        min=0, min_open=True)
    tie_embeddings: bool = option(
        False, "Score the output with the word vectors themselves (tied embeddings; the "
        "projection, or else the units, as wide as the word vectors).",
        switch="--tie-embeddings")
    precision: str = option(
        "float32", "Training arithmetic. auto: mixed bfloat16 on CPUs with bf16 "
        "instructions. The saved model is float32 either way.",
        choices=(PRECISIONS[0], "auto", *PRECISIONS[1:]))
    seed: int = option(0, "Seed of the split, the initial weights and the window order "
                       "(with --data, the split and windows are DIR's).")
    split_seed: int | None = option(
        None, "Seed of the split by email alone (default: --seed), so that runs with other "
        "--seed values vary the initial weights and the window order over the same split "
        "(with --data, the split is DIR's).")
    strategy: str = option(
        "auto", "tf.distribute strategy. auto: multi-worker when TF_CONFIG names more than "
        "one worker, mirrored with more than one GPU, else one (a single device). "
        "--batch-size stays the global batch.", choices=STRATEGIES)
    patience: int = option(2, "Early-stopping patience in rounds (on validation "
                           "cross-entropy, best weights kept).", min=0)
    grad_stats: bool = option(True, "Record gradient statistics.", flag="--no-grad-stats")
    grad_every: int | None = option(None, "Record gradient statistics every N updates.",
                                    min=1)
    max_grad_norm: float | None = option(
        None, "Stop training when the global gradient norm passes this.", min=0,
        min_open=True)
    tensorboard_dir: str | None = option(
        None, "Also log gradient statistics to TensorBoard here.", path="dir")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value}")
        if self.updates is not None and self.epochs is not None:
            raise ValueError("give the run's work as updates or as epochs, not both")
        if self.updates is None and self.epochs is None:
            self.updates = DEFAULT_UPDATES.get(self.cell, 330)
        for name, defaults in PER_CELL_DEFAULTS.items():  # unset: the cell's default
            if getattr(self, name) is None:
                setattr(self, name, defaults.get(self.cell, defaults["simple_rnn"]))
        if not self.time_budget:
            self.time_budget = None
        if self.corpus and self.data:
            raise ValueError("--corpus and --data exclude each other: --data DIR already "
                             "holds a prepared corpus")
        if self.data and self.split_seed is not None:
            raise ValueError("--split-seed does not apply to --data: DIR holds its split")
        if self.split_seed is None and not self.data:
            self.split_seed = self.seed

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
        raise ValueError(f"{corpus}: only {len(df)} usable emails after cleaning; need 10 or "
                         "more (the summary above says why the others were dropped)")
    return df


def prepare_data(cfg: TrainConfig, df: pd.DataFrame) -> dict:
    """Normalized text, split, vocabulary and windows for a run (deterministic given the
    split seed).

    Unless `cfg.keep_numbers`, private values become placeholders first
    (`corpus.normalize`, in the subjects too with `cfg.subject`); `normalized`
    counts them per kind.
    """
    from autocomplete.corpus.normalize import normalize_emails
    from autocomplete.textprep import prepare_windows

    normalized = {}
    if not cfg.keep_numbers:
        df, normalized = normalize_emails(df, subjects=cfg.subject)
    data = prepare_windows(df, window=cfg.window, stride=cfg.stride,
                           max_tokens=cfg.max_tokens, seed=cfg.split_seed, subjects=cfg.subject)
    return data | {"normalized": dict(normalized)}


def plan_rounds(cfg: TrainConfig, windows: int) -> tuple[int, int]:
    """(rounds, updates per round) for a run over `windows` training windows.

    `epochs` gives that many rounds of one whole pass each; `updates` is split
    into the fewest rounds of at most one pass, all of the same length (the
    total rounded up to a multiple of the rounds).
    """
    per_pass = max(math.ceil(windows / cfg.batch_size), 1)
    if cfg.epochs:
        return cfg.epochs, per_pass
    rounds = math.ceil(cfg.updates / per_pass)
    return rounds, math.ceil(cfg.updates / rounds)


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


# GradientStats draws its sample batches from this many training windows when they
# stream from shards (about 3 MB of 256-token windows): a bounded, seeded sample, since
# the shards' rows are in the packing's seeded random order.
GRAD_SAMPLE_WINDOWS = 1024


@dataclass
class RunData:
    """What a run trains and scores on: a corpus in memory, or a prepared one on disk.

    `windows` holds (inputs, targets, weights) of "validation" and "test", and
    of "train" when the corpus is in memory; `train_sample` is the training
    windows GradientStats draws from (all of them, or the first
    `GRAD_SAMPLE_WINDOWS` of the shards); `normalized` counts the private
    values that became placeholders, per kind.
    """

    vocab: list[str]
    windows: dict[str, tuple]
    train_sample: tuple
    split_emails: dict[str, int]
    corpus_sha256: str
    corpus_emails: int
    normalized: dict
    shards: Path | None = None
    manifest: dict | None = None

    @property
    def train_windows(self) -> int:
        """How many training windows one pass holds."""
        if self.manifest is not None:
            return self.manifest["splits"]["train"]["windows"]
        return len(self.windows["train"][0])

    def train_dataset(self, batch_size: int, seed: int):
        """The training batches: shuffled in memory, or streamed from the shards."""
        if self.shards is not None:
            from autocomplete import shards

            return shards.train_dataset(self.shards, batch_size, seed, manifest=self.manifest)
        from autocomplete.textprep import make_dataset

        return make_dataset(self.windows["train"], batch_size, shuffle=True, seed=seed)


def load_data(cfg: TrainConfig, emails: pd.DataFrame | None = None) -> RunData:
    """The run's data: `cfg.data`'s shards, or `emails` / `cfg.corpus` / the built-in corpus."""
    if cfg.data:
        return _shards_data(cfg)
    from autocomplete.textprep import corpus_fingerprint

    df = emails if emails is not None else load_emails(cfg.corpus, cfg.text_column)
    data = prepare_data(cfg, df)
    return RunData(
        vocab=data["vocab"], windows=data["windows"], train_sample=data["windows"]["train"],
        split_emails={k: len(v) for k, v in data["splits"].items()},
        corpus_sha256=corpus_fingerprint(df), corpus_emails=len(df),
        normalized=data["normalized"],
    )


def _shards_data(cfg: TrainConfig) -> RunData:
    """A prepared corpus: its settings must be the run's; held-out windows read whole."""
    from autocomplete import shards

    path = Path(cfg.data)
    manifest = shards.read_manifest(path)
    settings = manifest["settings"]
    asked = {"window": cfg.window, "stride": cfg.stride or cfg.window,
             "max_tokens": cfg.max_tokens}
    wrong = [f"--{k.replace('_', '-')} {v} (it has {settings[k]})" for k, v in asked.items()
             if settings[k] != v]
    for key in ("keep_numbers", "subject"):
        if manifest.get(key, False) != getattr(cfg, key):
            wrong.append(f"--{key.replace('_', '-')}" + (
                " (it was prepared without)" if getattr(cfg, key)
                else " missing (it was prepared with it)"))
    if wrong:
        raise ValueError(f"{path} was prepared with other settings: {', '.join(wrong)}; "
                         "leave them out or prepare it again")
    splits = manifest["splits"]
    return RunData(
        vocab=shards.read_vocab(path),
        windows={name: shards.read_windows(path, name, manifest=manifest)
                 for name in ("validation", "test")},
        train_sample=shards.read_windows(path, "train", GRAD_SAMPLE_WINDOWS, manifest),
        split_emails={k: v["emails"] for k, v in splits.items()},
        corpus_sha256=manifest["corpus"]["sha256"], corpus_emails=manifest["corpus"]["emails"],
        normalized=manifest.get("normalized", {}), shards=path, manifest=manifest,
    )


def train(
    cfg: TrainConfig,
    resume: bool = False,
    verbose: int | str = "auto",
    emails: pd.DataFrame | None = None,
    callbacks: list | None = None,
) -> Path | None:
    """Run training as configured and publish the model directory; returns its path.

    The directory is published only when training ended with finite weights
    and a finite loss; otherwise `NonFiniteTrainingError` is raised and an
    existing model directory at `cfg.out` is left as it was. Under a
    multi-worker strategy every worker trains, and only the chief publishes:
    the others return None (see `autocomplete.distribute`).

    Args:
        cfg: the run's hyper-parameters.
        resume: continue an interrupted run of the same configuration.
        verbose: Keras `fit` verbosity: "auto" (a progress bar), 2 (one line
            per epoch, for logs) or 0.
        emails: a DataFrame of emails to use instead of loading `cfg.corpus`.
        callbacks: extra Keras callbacks.
    """
    from autocomplete import distribute

    # first: a multi-worker strategy must configure TensorFlow before anything runs
    strategy = distribute.make_strategy(cfg.strategy)
    import keras

    from autocomplete.callbacks.average_weights import SwapAverageWeights
    from autocomplete.callbacks.held_out import HeldOutScore
    from autocomplete.callbacks.lr_decay import LinearDecay
    from autocomplete.callbacks.progress import UpdateProgress
    from autocomplete.callbacks.round_backup import RoundBackup
    from autocomplete.callbacks.time_budget import TimeBudget
    from autocomplete.evaluate.scoring import evaluate_packed_windows
    from autocomplete.model import as_float32, build_model, compile_model, resolve_precision
    from autocomplete.textprep import drop_words, rare_word_rates

    replicas = strategy.num_replicas_in_sync
    if cfg.batch_size % replicas:
        raise ValueError(f"--batch-size {cfg.batch_size} does not split over {replicas} "
                         "replicas; use a multiple of it (it is the global batch)")
    if cfg.time_budget and distribute.workers(strategy) > 1:
        raise ValueError("--time-budget needs a single worker: workers whose clocks end the "
                         "run at different updates would wait for each other forever")
    chief = distribute.is_chief(strategy)
    if not chief:
        verbose = 0
    keras.utils.set_random_seed(cfg.seed)
    out = cfg.out_dir()
    artifacts.check_replaceable(out)  # before the work, not after it
    data = load_data(cfg, emails)
    stage = distribute.stage_dir(out, strategy)
    if stage.exists() and not resume:
        shutil.rmtree(stage)
    artifacts.make_private_dir(stage)  # it holds the user's language
    _check_resumable(stage, cfg, data.corpus_sha256)
    vocab = data.vocab
    val_w, test_w = data.windows["validation"], data.windows["test"]

    precision = resolve_precision(cfg.precision)
    arch = dict(
        cell=cfg.cell, vocab_size=len(vocab), units=cfg.units, layers=cfg.layers,
        embedding_dim=cfg.embedding_dim, l2=cfg.l2, dropout=cfg.dropout,
        # a penalty's gradient reaches every word vector on every step: none for lazy Adam
        embedding_l2=0.0 if cfg.optimizer == "lazy-adam" else None,
        activation=cfg.activation, gate_init=cfg.gate_init, max_lag=cfg.max_lag, seed=cfg.seed,
        embedding_std=cfg.embedding_std, embedding_max_norm=cfg.embedding_max_norm,
        projection=cfg.projection or None,
        tie_embeddings=cfg.tie_embeddings,
    )
    with strategy.scope():
        model = build_model(**arch, precision=precision)
        compile_model(
            model, learning_rate=cfg.learning_rate,
            clipnorm=distribute.replica_clipnorm(cfg.clipnorm, strategy),
            global_clipnorm=distribute.replica_clipnorm(cfg.global_clipnorm, strategy),
            optimizer=cfg.optimizer, embedding_decay=cfg.embedding_decay,
            ema_momentum=cfg.ema, beta_2=cfg.beta_2,
        )
    distribute.build_for_fit(model, strategy, [a[: cfg.batch_size // replicas]
                                               for a in data.train_sample])
    rounds, steps = plan_rounds(cfg, data.train_windows)
    # repeated: a round may end inside a pass, and the next one goes on from there
    separator = [vocab.index(SUBJECT_SEPARATOR)] if SUBJECT_SEPARATOR in vocab else []
    drop_rate = cfg.word_dropout
    if cfg.rare_word_dropout:
        if data.shards is not None or cfg.word_dropout:
            raise ValueError("--rare-word-dropout needs the corpus in memory (not --data) and "
                             "excludes --word-dropout")
        drop_rate = rare_word_rates(data.windows["train"][0], len(vocab), cfg.rare_word_dropout)
    train_ds = distribute.shard_by_data(drop_words(
        data.train_dataset(cfg.batch_size, cfg.seed).repeat(), drop_rate, cfg.seed,
        keep=separator))

    budget = TimeBudget(cfg.time_budget)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_xent", mode="min", patience=cfg.patience, restore_best_weights=True
    )
    progress = UpdateProgress(print_fn=_print_now if verbose else _silent)
    history_csv = str(stage / "history.csv")
    backup = RoundBackup(str(stage / "backup"), steps, history=history_csv)
    callbacks = [
        # first: early stopping, the CSV log and the others read the logs it writes
        HeldOutScore(lambda m: evaluate_packed_windows(m, val_w)),
        backup,
        progress,
        budget,
        *([LinearDecay(cfg.lr_decay, cfg.time_budget)] if cfg.lr_decay else []),
        keras.callbacks.TerminateOnNaN(),
        stopper,
        keras.callbacks.CSVLogger(history_csv, append=resume),
        *(callbacks or []),
        backup.saver(),  # last: a saved round has its log written
    ]
    if cfg.ema:  # first: every other callback sees the averaged weights at a round's end
        callbacks.insert(0, SwapAverageWeights())
    grad_cb = None
    if cfg.grad_stats:
        grad_cb = _gradient_stats(cfg, model, data.train_sample, test_w, stage)
        callbacks.insert(2, grad_cb)

    started = time.monotonic()
    fit = model.fit(
        train_ds, epochs=rounds, steps_per_epoch=steps, callbacks=callbacks, verbose=verbose,
        shuffle=False,  # the dataset shuffles itself
    )
    seconds = time.monotonic() - started
    if grad_cb is not None and getattr(grad_cb, "stop_reason", None):
        print(f"training stopped by gradient statistics: {grad_cb.stop_reason}")
    _check_finite(model, fit.history, stage)

    if precision != "float32":
        model = as_float32(model, **arch)  # what is saved, completed with and tested
    metrics = evaluate_packed_windows(model, test_w)
    history = pd.read_csv(history_csv)
    metrics.update(
        train_seconds=round(seconds, 1),
        epochs_run=int(len(history)),
        updates=progress.done,
        updates_planned=progress.planned,
        parameters=int(model.count_params()),
        stopped_by_time_budget=budget.spent,
        # early stopping restores the best epoch's weights (1-based, as Keras prints it);
        # the gradient-flow summaries read this epoch's curve
        kept_epoch=int(stopper.best_epoch) + 1 if stopper.best_weights is not None
        else int(len(history)),
        split_emails=data.split_emails,
    )
    model.save(stage / "model.keras")
    artifacts.write_vocab(stage / "vocab.txt", vocab)
    config = dataclasses.asdict(cfg) | {
        # absolute: `tune` and `report` rebuild the split from any working directory
        **{k: os.path.abspath(v) for k in ("corpus", "data") if (v := getattr(cfg, k))},
        "out": str(out),
        "vocab_size": len(vocab),
        "precision_used": precision,
        "corpus_sha256": data.corpus_sha256,
        "corpus_emails": data.corpus_emails,
        "normalized": data.normalized,
        "versions": library_versions(),
        **({"data_seed": data.manifest["settings"]["seed"]} if data.manifest else {}),
        **({"replicas": replicas} if replicas > 1 else {}),
    }
    artifacts.write_json(stage / "config.json", config)
    artifacts.write_json(stage / "metrics.json", metrics)
    _export_fast_path(stage, model)
    shutil.rmtree(stage / "backup", ignore_errors=True)
    (stage / "run.json").unlink(missing_ok=True)  # config.json says it all now
    if not chief:  # it wrote what the chief wrote (saving may need every worker), then drops it
        shutil.rmtree(stage, ignore_errors=True)
        return None
    return artifacts.publish(stage, out)


# What an interrupted run's weights and windows depend on: --resume needs the same.
RUN_SETTINGS = ("cell", "units", "layers", "embedding_dim", "projection", "window", "stride",
                "max_tokens", "text_column", "keep_numbers", "subject", "batch_size", "seed",
                "split_seed", "optimizer", "beta_2", "ema", "precision", "dropout", "word_dropout",
                "rare_word_dropout", "tie_embeddings")


def _check_resumable(stage: Path, cfg: TrainConfig, corpus_sha256: str) -> None:
    """Record the run's settings in `stage`; ValueError if an interrupted run there had others.

    Keras would otherwise fail to load the backup with a message that prints
    whole weight arrays.
    """
    now = {k: getattr(cfg, k) for k in RUN_SETTINGS} | {"corpus_sha256": corpus_sha256}
    marker = stage / "run.json"
    if marker.is_file():
        before = json.loads(marker.read_text())
        # a setting the marker lacks (written before it was checked) is taken as it is now
        changed = [k for k in now if before.get(k, now[k]) != now[k]]
        if changed:
            what = ", ".join(
                "the corpus" if k == "corpus_sha256" else f"--{k.replace('_', '-')} "
                f"{before.get(k)} (now {now[k]})" for k in changed)
            raise ValueError(f"the interrupted run in {stage} had other settings: {what}; "
                             "resume it with them, or leave out --resume to start over")
    artifacts.write_json(marker, now)


class NonFiniteTrainingError(ValueError):
    """Training produced a NaN or infinite loss or weight; nothing was published."""


def _check_finite(model, history: dict, stage: Path) -> None:
    """Raise `NonFiniteTrainingError` (and drop the staging directory) on NaN/Inf.

    A loss that went non-finite at any epoch, or a weight that is non-finite
    now, means the run diverged: its directory must never replace a model.
    """
    bad = [k for k, values in history.items() if k in ("loss", "xent", "val_xent")
           and any(not math.isfinite(float(v)) for v in values)]
    weights = [w.path for w in model.weights
               if not np.isfinite(np.asarray(w.numpy(), dtype=np.float64)).all()]
    if bad or weights:
        shutil.rmtree(stage, ignore_errors=True)
        what = (f"non-finite weights in {', '.join(weights[:3])}" if weights
                else f"the {bad[0]} became non-finite")
        raise NonFiniteTrainingError(
            f"training diverged ({what}); nothing was saved. Try a lower --learning-rate "
            "or turn clipping on (--clipnorm)"
        )


def _print_now(*args) -> None:
    """Print and flush: a log file (stdout not a terminal) gets each line as it happens."""
    print(*args, flush=True)


def _silent(*_args) -> None:
    """A print function that prints nothing."""


def _gradient_stats(cfg: TrainConfig, model, train_w, test_w, stage: Path):
    """The gradient-statistics callback on a train sample and a held-out probe."""
    from autocomplete.callbacks.gradient_stats import GradientStats

    probe = test_w[0][: min(len(test_w[0]), 16)]
    if not ((probe[:, 1:] != PAD_ID).sum(axis=1) >= 2).any():  # a flow needs two targets a row
        print("gradient flow not recorded: the held-out emails are under two words long")
        probe = None
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
