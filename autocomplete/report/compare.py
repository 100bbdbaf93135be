"""Evaluate every trained cell and the n-gram baseline the same way, on the same test split.

`evaluate_models(model_dirs)` rebuilds the held-out test split exactly as
training did (the corpus in each config.json, its seed, `split_by_email`),
checks the corpus fingerprint, and returns a `Results` of plain DataFrames
and dicts. Nothing is written here (see `autocomplete.report.render`).

Definitions (one for every model, so the rows are comparable):

* Perplexity, top-1, top-5: `evaluate.metrics.perplexity_and_accuracy` on the
  test emails, each email scored on its own from `[start]`; a neural model
  sees at most its training window of context, the n-gram its last
  order - 1 tokens. Top-k ranks the target among suggestible tokens (not
  pad, `[UNK]`, `[start]`), ties count against the model, an OOV target
  counts in perplexity and is never correct. For a neural model the same
  numbers come from one forward pass per email (`neural_perplexity_and_accuracy`,
  identical to the per-position definition because the layers are causal).
  The figures `train` wrote to metrics.json are NOT used for these columns:
  they score packed windows (context crosses email boundaries), let ties
  favour the model and keep the special tokens as candidates. They are kept
  in the JSON output as `train_eval_*`.
* Recall by distance: `evaluate.probes` on the test split (all kinds, all bands).
* ExactMatch@1..5 (Smart Compose): `evaluate.metrics.exact_match_at_n`; the
  neural completer is greedy decoding through the step model the app uses
  (`fastpath.load_step_model`), the n-gram's is `metrics.greedy_completer`.
* Latency: median and p90 of one beam-search completion (beam 4, at most 12
  words) of each lecture prompt through `decoding.Completer`, the way
  `autocomplete complete` does it; the n-gram runs through the same search.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from autocomplete import artifacts
from autocomplete.evaluate import PAD_ID, SPECIAL_IDS, START_ID
from autocomplete.evaluate import metrics as em
from autocomplete.evaluate import probes as pr
from autocomplete.model_names import CELL_NAMES

LECTURE_PROMPTS: tuple[str, ...] = (
    "Today due to my current job situation and family condition, I",
    "Yesterday due to my current job situation and family condition, I",
    "Tomorrow due to my current job situation and family condition, I",
    "Today due to my fever, I",
    "Today due to the client visit in Chicago, I",
)
BEAM = 4
MAX_WORDS = 12
EM_N = 5
GRAD_LAG = 50
EM_NUMBERS = tuple(range(1, EM_N + 1))
SUMMARY_COLUMNS = [
    "model", "type", "cell", "parameters", "train_seconds", "epochs", "perplexity", "top1",
    "top5", *[f"em{n}" for n in EM_NUMBERS], "latency_median_ms", "latency_p90_ms",
    "grad_ratio", "grad_lag", "tokens", "engine",
    "train_eval_perplexity", "train_eval_top1", "train_eval_top5",
]


@dataclass(frozen=True)
class Budget:
    """How much of the test split a run uses (None: all of it)."""

    test_emails: int | None  # emails scored for perplexity, accuracy and ExactMatch
    probes_per_cell: int | None  # probes per (kind, band)
    em_cuts: int  # ExactMatch cuts (at most one per eligible email when there are fewer)
    latency_repeats: int


FULL = Budget(test_emails=None, probes_per_cell=None, em_cuts=2000, latency_repeats=5)
QUICK = Budget(test_emails=300, probes_per_cell=20, em_cuts=50, latency_repeats=1)


class CorpusChanged(ValueError):
    """The corpus no longer matches the fingerprint a model was trained on."""


@dataclass
class ModelInfo:
    """A trained model directory and what the report needs from its files."""

    label: str
    cell: str
    path: Path
    config: dict
    metrics: dict
    vocab: list[str]
    history: pd.DataFrame | None


@dataclass
class Results:
    """Everything the report shows; `render` turns it into tables, plots and pages.

    summary: one row per model (neural models first, then the n-gram), columns
        `SUMMARY_COLUMNS` (NaN where a figure does not apply).
    recall: long table model, kind, band, n, recall, top1, chance (kind "all"
        aggregates every kind per band).
    probe_counts: probes per kind (rows) and band (columns).
    completions: prompt, model, text, confidence, one row per pair.
    histories: training history per neural model label.
    grad_flow_dirs: model directories that recorded gradient flow.
    notes: caveats to print with the tables.
    settings: how the run was made (budget, data, definitions).
    """

    summary: pd.DataFrame
    recall: pd.DataFrame
    probe_counts: pd.DataFrame
    completions: pd.DataFrame
    histories: dict[str, pd.DataFrame]
    grad_flow_dirs: dict[str, Path]
    notes: list[str]
    settings: dict
    bands: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return self.summary["model"].tolist()

    def recall_table(self, value: str = "recall", kind: str = "all") -> pd.DataFrame:
        """Rows: models then "chance"; columns: distance bands; cells: `value` (0..1)."""
        sel = self.recall[self.recall["kind"] == kind]
        table = sel.pivot_table(index="model", columns="band", values=value, observed=False,
                                aggfunc="first")
        table = table.reindex(index=self.models, columns=self.bands)
        chance = sel.groupby("band", observed=False)["chance"].mean().reindex(self.bands)
        table.loc["chance"] = chance
        table.columns = [str(c) for c in table.columns]
        table.columns.name = None
        table.index.name = "model"
        return table

    def completion_table(self) -> pd.DataFrame:
        """Rows: prompts (in order); columns: models; cells: the completion text."""
        if self.completions.empty:
            return pd.DataFrame()
        table = self.completions.pivot(index="prompt", columns="model", values="text")
        prompts = list(dict.fromkeys(self.completions["prompt"]))
        cols = [m for m in self.models if m in table.columns]
        table = table.reindex(index=prompts, columns=cols)
        table.columns.name = None
        return table

    def to_dict(self) -> dict:
        """A JSON-ready document (NaN -> None)."""
        counts = self.probe_counts.copy()
        counts.columns = [str(c) for c in counts.columns]
        doc = {
            "settings": self.settings,
            "summary": self.summary.to_dict(orient="records"),
            "recall": self.recall.assign(band=self.recall["band"].astype(str)).to_dict(
                orient="records"
            ),
            "recall_table": {
                str(m): row.to_dict() for m, row in self.recall_table().iterrows()
            },
            "probe_counts": {str(k): row.to_dict() for k, row in counts.iterrows()},
            "completions": self.completions.to_dict(orient="records"),
            "histories": {m: h.to_dict(orient="list") for m, h in self.histories.items()},
            "grad_flow_models": {m: str(p) for m, p in self.grad_flow_dirs.items()},
            "notes": self.notes,
        }
        return _jsonable(doc)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if x is pd.NA or x is None:
        return None
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return str(x)
    return x


# ----------------------------------------------------------------------------- models
def load_model_infos(model_dirs: Mapping[str, Path] | Sequence[Path]) -> list[ModelInfo]:
    """Read config, metrics, vocabulary and history of each directory, cells in lecture order.

    `model_dirs` is {label: dir} (e.g. `artifacts.trained_cells()`) or a list
    of dirs (labelled by their cell). Raises ModelDirError for an incomplete one.
    """
    if not isinstance(model_dirs, Mapping):
        labelled: dict[str, Path] = {}
        for d in model_dirs:
            cell = artifacts.read_config(artifacts.check_model_dir(d)).get("cell", Path(d).name)
            label = cell if cell not in labelled else f"{cell} ({d})"
            labelled[label] = Path(d)
        model_dirs = labelled
    infos = []
    for label, d in model_dirs.items():
        d = artifacts.check_model_dir(d)
        config = artifacts.read_config(d)
        metrics_path = d / "metrics.json"
        metrics = {}
        if metrics_path.is_file():
            import json

            with contextlib.suppress(ValueError, OSError):
                metrics = json.loads(metrics_path.read_text())
        history = None
        if (d / "history.csv").is_file():
            with contextlib.suppress(ValueError, OSError, pd.errors.EmptyDataError):
                history = pd.read_csv(d / "history.csv")
        infos.append(ModelInfo(
            label=str(label), cell=str(config.get("cell", label)), path=d, config=config,
            metrics=metrics, vocab=artifacts.read_vocab(d), history=history,
        ))
    rank = {c: i for i, c in enumerate(CELL_NAMES)}
    return sorted(infos, key=lambda m: (rank.get(m.cell, len(rank)), m.label))


def corpus_label(config: dict) -> str:
    """Where a model's emails came from, for messages."""
    return config.get("corpus") or "the built-in corpus"


# ------------------------------------------------------------------------- metrics
def neural_perplexity_and_accuracy(
    lm, sequences: Sequence[Sequence[int]], max_context: int = 256, token_budget: int = 2048,
    progress: bool = False, desc: str = "perplexity",
) -> dict[str, float]:
    """`metrics.perplexity_and_accuracy` for a `KerasLM`, one forward pass per email.

    The recurrent stack is causal, so the logits at position i of a pass over
    the email equal those of a pass over its first i + 1 ids: positions whose
    context fits in the window are read off one pass; the few later positions
    of emails longer than the window are scored with their cut contexts, as
    the per-position definition does.
    """
    import keras

    seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
    if any((s == PAD_ID).any() for s in seqs):  # the cheap path assumes no padding inside
        return em.perplexity_and_accuracy(lm, sequences, max_context=max_context)
    ctx = min(max_context, int(getattr(lm, "window", None) or max_context))
    cache = getattr(lm, "cache", None)  # a KerasLM with a cache of the email so far
    acc = {"nll": 0.0, "hits1": 0, "hits5": 0, "total": 0}

    def score(logprobs: np.ndarray, targets: np.ndarray) -> None:
        acc["nll"] -= float(logprobs[np.arange(len(targets)), targets].sum())
        ranks = em.target_ranks(logprobs, targets)
        acc["hits1"] += int((ranks < 1).sum())
        acc["hits5"] += int((ranks < 5).sum())
        acc["total"] += len(targets)

    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    batches: list[list[int]] = []
    for i in order:
        width = min(len(seqs[i]) - 1, ctx)
        if width < 1:
            continue
        if batches and (len(batches[-1]) + 1) * width <= token_budget:
            batches[-1].append(i)
        else:
            batches.append([i])
    tails: list[tuple[np.ndarray, int]] = []
    bar = _bar(total=len(order), desc=desc, disable=not progress)
    for batch in batches:
        widths = [min(len(seqs[i]) - 1, ctx) for i in batch]
        x = np.zeros((len(batch), max(widths)), dtype=np.int32)
        for row, (i, w) in enumerate(zip(batch, widths, strict=True)):
            x[row, :w] = seqs[i][:w]
        if cache is None:
            logits = keras.ops.convert_to_numpy(lm.model(x, training=False)).astype(np.float64)
        else:  # the cache needs the hidden states that give the logits
            hidden = keras.ops.convert_to_numpy(lm.features(x, training=False))
            logits = keras.ops.convert_to_numpy(lm.output_layer(hidden)).astype(np.float64)
        rows = np.concatenate([logits[r, :w] for r, w in enumerate(widths)])
        targets = np.concatenate([seqs[i][1 : w + 1] for i, w in zip(batch, widths, strict=True)])
        rows -= rows.max(-1, keepdims=True)
        logp = rows - np.log(np.exp(rows).sum(-1, keepdims=True))
        if cache is not None:
            starts = np.cumsum([0, *widths])
            logp = np.concatenate([
                cache.mix_sequence(logp[starts[r] : starts[r + 1]],
                                   cache.scores(hidden[r, :w], seqs[i][:w]), seqs[i][:w])
                for r, (i, w) in enumerate(zip(batch, widths, strict=True))
            ])
        score(logp.astype(np.float32), targets)
        for i in batch:
            s = seqs[i]
            tails.extend((s[p - ctx : p], int(s[p])) for p in range(ctx + 1, len(s)))
        bar.update(len(batch))
    bar.close()
    for start in range(0, len(tails), 256):
        chunk = tails[start : start + 256]
        logp = np.asarray(lm.next_logprobs([list(c) for c, _ in chunk]))
        score(logp, np.array([t for _, t in chunk], dtype=np.int64))
    if not acc["total"]:
        raise ValueError("no tokens to score")
    total = acc["total"]
    return {"perplexity": float(np.exp(acc["nll"] / total)), "top1": acc["hits1"] / total,
            "top5": acc["hits5"] / total, "tokens": total}


def step_greedy_completer(step_model, max_tokens: int = EM_N) -> Callable[[list[int]], list[int]]:
    """Greedy completion of token ids through a step model (specials never chosen).

    Same rule as `metrics.greedy_completer`; the context keeps its last
    `window` ids, as `decoding.encode_prompt` does for a typed prompt.
    """
    banned = list(SPECIAL_IDS)
    window = getattr(step_model, "window", None)
    prefill = getattr(step_model, "prefill", None)

    def complete(context: list[int]) -> list[int]:
        ids = np.asarray(list(context)[-window:] if window else list(context), dtype=np.int32)
        if not len(ids):
            ids = np.array([START_ID], dtype=np.int32)
        if prefill is not None:
            logp, state = prefill(ids)
        else:
            state = step_model.initial_state(1)
            for i in range(len(ids)):
                logp, state = step_model.step(ids[i : i + 1], state)
        out: list[int] = []
        while True:
            lp = np.array(logp[0], dtype=np.float64)
            lp[banned] = -np.inf
            out.append(int(np.argmax(lp)))
            if len(out) == max_tokens:
                return out
            logp, state = step_model.step(np.array(out[-1:], dtype=np.int32), state)

    return complete


class NgramStepModel:
    """A fitted `KneserNeyLM` as a decoding step model: the state is the last order-1 ids.

    Lets the n-gram complete prompts through the same `decoding.Completer`
    (beam search, stopping rules) as the neural models.
    """

    def __init__(self, lm) -> None:
        self.lm = lm
        self.vocab = list(lm.vocab)
        self.window = None
        self.width = max(lm.order - 1, 0)

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return [np.full((batch, self.width), START_ID, dtype=np.int64)]

    def step(self, token_ids: np.ndarray, state: list[np.ndarray]
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        ids = np.asarray(token_ids, dtype=np.int64).reshape(-1, 1)
        ctx = np.concatenate([state[0], ids], axis=1)[:, _keep_last(self.width)]
        return self.lm.next_logprobs(ctx.tolist()).astype(np.float32), [ctx]


def _keep_last(width: int) -> slice:
    """The slice that keeps the last `width` columns (none when width is 0)."""
    return slice(1, None) if width else slice(0, 0)


def _ngram_parameters(lm) -> int:
    """Stored numbers of a fitted KneserNeyLM: unigram + per-context weights + n-gram masses."""
    levels = getattr(lm, "_levels", [])
    return int(len(lm.vocab) + sum(len(lv.gamma) + len(lv.alpha) for lv in levels))


def _grad_ratio(model_dir: Path) -> tuple[float, int | None, bool]:
    """(lag-50/lag-1 gradient-flow ratio, lag used, has flow) of a model directory."""
    from autocomplete.commands.gradients import lag_ratio, load_grad_tables, ratio_lag

    try:
        _, flow = load_grad_tables(model_dir)
    except artifacts.ModelDirError:
        return float("nan"), None, False
    if flow.empty:
        return float("nan"), None, False
    return lag_ratio(flow, GRAD_LAG), ratio_lag(flow, GRAD_LAG), True


def _batch_for(vocab_size: int, length: int, cap: int = 128, memory: float = 2.5e8) -> int:
    """Rows per forward pass so that the (rows, length, vocab) logits stay near `memory` bytes.

    Full-sequence logits are materialised (float32, then float64), ~12 bytes a number.
    """
    return int(max(4, min(cap, memory // (12 * vocab_size * max(length, 1)))))


# ----------------------------------------------------------------------- progress
def _bar(total: int, desc: str, disable: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=disable, file=sys.stderr, leave=False,
                dynamic_ncols=True)


class _Status:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(f"[report {time.monotonic() - self.started:5.0f}s] {msg}", file=sys.stderr,
                  flush=True)


# ----------------------------------------------------------------------------- data
@dataclass
class _Group:
    """Models that share a test split and a vocabulary, with their data and baseline."""

    vocab: list[str]
    seed: int
    corpus: str
    test_df: pd.DataFrame
    train_df: pd.DataFrame
    sequences: list[np.ndarray] = field(default_factory=list)
    probes: pd.DataFrame | None = None
    models: list[ModelInfo] = field(default_factory=list)


def _load_emails(config: dict) -> pd.DataFrame:
    from autocomplete import train

    # a user corpus prints a loading summary: keep stdout clean for --json
    with contextlib.redirect_stdout(sys.stderr):
        return train.load_emails(config.get("corpus"), config.get("text_column"))


def _evaluated_emails(test_df: pd.DataFrame, budget: Budget) -> pd.DataFrame:
    if budget.test_emails is None or len(test_df) <= budget.test_emails:
        return test_df
    return test_df.iloc[: budget.test_emails]


# ------------------------------------------------------------------------- evaluate
def evaluate_models(
    model_dirs: Mapping[str, Path] | Sequence[Path],
    *,
    quick: bool = False,
    emails: pd.DataFrame | None = None,
    ngram_order: int = 4,
    strict_corpus: bool = True,
    prompts: Sequence[str] = LECTURE_PROMPTS,
    progress: bool = True,
) -> Results:
    """Evaluate each model directory and an n-gram baseline on the held-out test split.

    Args:
        model_dirs: {label: directory} (e.g. `artifacts.trained_cells()`) or directories.
        quick: a small, fast run (`QUICK`: few hundred test emails, <= 20
            probes per kind and band, 50 ExactMatch cuts, one latency repeat).
        emails: the corpus to split instead of loading each config's corpus
            (it must be the one the models were trained on).
        ngram_order: order of the interpolated Kneser-Ney baseline.
        strict_corpus: raise `CorpusChanged` when the corpus fingerprint
            differs from config.json's; False only notes it.
        prompts: prompts completed side by side (and timed for latency).
        progress: status lines and progress bars on stderr.

    Raises:
        CorpusChanged, ModelDirError, ValueError.
    """
    from autocomplete import textprep
    from autocomplete.evaluate.ngram import KneserNeyLM

    budget = QUICK if quick else FULL
    say = _Status(progress)
    infos = load_model_infos(model_dirs)
    if not infos:
        raise ValueError("no model directories to compare")
    notes: list[str] = []

    # -- data: the test split each model was held out from, grouped by vocabulary
    corpora: dict[tuple, pd.DataFrame] = {}
    fingerprints: dict[int, str] = {}
    groups: dict[tuple, _Group] = {}
    for m in infos:
        ckey = (m.config.get("corpus"), m.config.get("text_column"))
        if emails is not None:
            df = emails
        elif ckey not in corpora:
            say(f"loading {corpus_label(m.config)}")
            df = corpora[ckey] = _load_emails(m.config)
        else:
            df = corpora[ckey]
        if id(df) not in fingerprints:
            fingerprints[id(df)] = textprep.corpus_fingerprint(df)
        want = m.config.get("corpus_sha256")
        if want is None:
            notes.append(f"{m.label}: config.json has no corpus fingerprint; the test split "
                         "could not be checked against the one it was held out from.")
        elif want != fingerprints[id(df)]:
            msg = (f"{m.label}: {corpus_label(m.config)} changed since {m.path} was trained "
                   "(corpus_sha256 differs), so its test split cannot be rebuilt")
            if strict_corpus:
                raise CorpusChanged(f"{msg}: retrain it (`autocomplete train --cell {m.cell} "
                                    f"--out {m.path}`)")
            notes.append(msg + "; its figures are on a different split and may be inflated.")
        seed = int(m.config.get("seed", 0))
        gkey = (id(df), seed, tuple(m.vocab))
        if gkey not in groups:
            splits = textprep.split_by_email(df, seed=seed)
            groups[gkey] = _Group(vocab=m.vocab, seed=seed, corpus=corpus_label(m.config),
                                  test_df=splits["test"], train_df=splits["train"])
        groups[gkey].models.append(m)
    if len(groups) > 1:
        notes.append("the models do not share one vocabulary/test split: each is scored with "
                     "its own, next to an n-gram baseline fitted on its own training split; "
                     "compare rows across groups with care.")

    summary_rows: list[dict] = []
    recall_frames: list[pd.DataFrame] = []
    completion_rows: list[dict] = []
    ngram_rows: list[dict] = []
    first_group = next(iter(groups.values()))
    for group in groups.values():
        vectorizer = textprep.make_vectorizer(group.vocab)
        evaluated = _evaluated_emails(group.test_df, budget)
        say(f"encoding {len(evaluated)} of {len(group.test_df)} test emails "
            f"(seed {group.seed}, {len(group.vocab)} words)")
        group.sequences = textprep.encode(vectorizer, evaluated["body"].tolist())
        if "deps" in group.test_df.columns:
            group.probes = pr.build_probes(group.test_df, group.vocab,
                                           max_per_cell=budget.probes_per_cell, seed=group.seed)
        else:
            group.probes = pr.build_probes(group.test_df.assign(deps=None), group.vocab)
            notes.append(f"{group.corpus} has no planted dependencies: no recall-by-distance "
                         "probes (the built-in corpus has them).")
        if len(group.probes) == 0 and "deps" in group.test_df.columns:
            notes.append("no recall probes in the test split (too few test emails?).")
        n_cuts = _em_cuts(group.sequences, budget)

        for m in group.models:
            summary_rows.append(_evaluate_neural(m, group, n_cuts, budget, prompts, say,
                                                 progress, recall_frames, completion_rows))

        suffix = "" if len(groups) == 1 else f" ({', '.join(m.label for m in group.models)})"
        label = f"ngram-{ngram_order}{suffix}"
        say(f"{label}: fitting Kneser-Ney on {len(group.train_df)} training emails")
        started = time.monotonic()
        train_seqs = textprep.encode(vectorizer, group.train_df["body"].tolist())
        ngram = KneserNeyLM(order=ngram_order).fit(train_seqs, group.vocab)
        fit_seconds = time.monotonic() - started
        ngram_rows.append(_evaluate_ngram(label, ngram, fit_seconds, group, n_cuts, budget,
                                          prompts, say, progress, recall_frames,
                                          completion_rows))

    summary = pd.DataFrame(summary_rows + ngram_rows).reindex(columns=SUMMARY_COLUMNS)
    for col in ("parameters", "epochs", "grad_lag", "tokens"):  # counts stay integers
        summary[col] = pd.to_numeric(summary[col]).round().astype("Int64")
    bands = [pr.band_label(lo, hi) for lo, hi in pr.DEFAULT_BANDS]
    recall_cols = ["model", "kind", "band", "n", "recall", "top1", "chance"]
    recall = (pd.concat(recall_frames, ignore_index=True) if recall_frames
              else pd.DataFrame(columns=recall_cols))
    recall["band"] = pd.Categorical(recall["band"].astype(str), categories=bands, ordered=True)
    counts = (pr.probe_counts(first_group.probes) if first_group.probes is not None
              and len(first_group.probes) else pd.DataFrame(columns=bands))
    no_flow = [r["model"] for r in summary_rows if not np.isfinite(r["grad_ratio"])]
    if no_flow:
        notes.append(f"gradient ratio n/a for {', '.join(no_flow)}: no gradient-flow records "
                     "(trained with --no-grad-stats, or the records are missing).")
    short = {int(r["grad_lag"]) for r in summary_rows
             if r["grad_lag"] is not None and r["grad_lag"] != GRAD_LAG}
    if short:
        notes.append(f"the gradient-flow probe was shorter than {GRAD_LAG} positions: the ratio "
                     f"uses lag {', '.join(map(str, sorted(short)))} instead of {GRAD_LAG}.")
    slow = [r["model"] for r in summary_rows if r["engine"] != "numpy fast path"]
    if slow:
        notes.append(f"latency of {', '.join(slow)} measured through the Keras step model: the "
                     "directory has no up-to-date inference.npz, so `autocomplete complete` "
                     "would be as slow (retraining writes it).")
    if quick:
        notes.append(f"quick run: at most {QUICK.test_emails} test emails, "
                     f"{QUICK.probes_per_cell} probes per kind and band, {QUICK.em_cuts} "
                     "ExactMatch cuts, one latency repeat; the figures are noisy.")
    settings = {
        "quick": quick,
        "ngram_order": ngram_order,
        "corpus": first_group.corpus,
        "seed": first_group.seed,
        "test_emails": len(first_group.test_df),
        "evaluated_test_emails": len(first_group.sequences),
        "tokens_scored": int(summary["tokens"].iloc[0]) if len(summary) else 0,
        "probes": int(len(first_group.probes)) if first_group.probes is not None else 0,
        "probe_skipped": dict(first_group.probes.attrs.get("skipped", {}))
        if first_group.probes is not None else {},
        "exact_match_cuts": _em_cuts(first_group.sequences, budget),
        "latency_repeats": budget.latency_repeats,
        "decoding": {"method": "beam", "beam": BEAM, "max_words": MAX_WORDS},
        "prompts": list(prompts),
        "models": {m.label: str(m.path) for g in groups.values() for m in g.models},
    }
    return Results(
        summary=summary, recall=recall[recall_cols], probe_counts=counts,
        completions=pd.DataFrame(completion_rows,
                                 columns=["prompt", "model", "text", "confidence"]),
        histories={m.label: m.history for m in infos if m.history is not None},
        grad_flow_dirs={m.label: m.path for m in infos if _grad_ratio(m.path)[2]},
        notes=notes, settings=settings, bands=bands,
    )


def _em_cuts(sequences: Sequence[np.ndarray], budget: Budget) -> int | None:
    """None (one cut per eligible email) when there are at most `budget.em_cuts` of them."""
    eligible = sum(1 for s in sequences if len(s) - EM_N >= 2)
    return None if eligible <= budget.em_cuts else budget.em_cuts


def _exact_match(completer, group: _Group, n_cuts: int | None, desc: str,
                 progress: bool) -> dict[int, float]:
    eligible = sum(1 for s in group.sequences if len(s) - EM_N >= 2)
    if not eligible:
        return {n: float("nan") for n in EM_NUMBERS}
    bar = _bar(total=n_cuts or eligible, desc=desc, disable=not progress)

    def counted(context: list[int]) -> list[int]:
        bar.update(1)
        return completer(context)

    try:
        return em.exact_match_at_n(counted, group.sequences, n_max=EM_N, n_cuts=n_cuts,
                                   seed=group.seed)
    finally:
        bar.close()


def _recall(label: str, lm, group: _Group) -> pd.DataFrame | None:
    if group.probes is None or not len(group.probes):
        return None
    summary = pr.summarize_recall(pr.recall_at_distance(lm, group.probes))
    summary.insert(0, "model", label)
    summary["band"] = summary["band"].astype(str)
    return summary


def _completions(label: str, completer, prompts: Sequence[str], repeats: int,
                 rows: list[dict]) -> dict[str, float]:
    for prompt in prompts:
        c = completer.complete(prompt, method="beam", beam=BEAM, max_words=MAX_WORDS)
        rows.append({"prompt": prompt, "model": label, "text": c.text,
                     "confidence": c.confidence})
    return em.latency_ms(
        lambda p: completer.complete(p, method="beam", beam=BEAM, max_words=MAX_WORDS),
        list(prompts), repeats=repeats,
    )


def _evaluate_neural(m: ModelInfo, group: _Group, n_cuts, budget: Budget, prompts, say,
                     progress: bool, recall_frames: list, completion_rows: list) -> dict:
    from autocomplete.decoding import Completer
    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.fastpath import NumpyStepModel, load_step_model

    say(f"{m.label}: perplexity and accuracy on {len(group.sequences)} test emails")
    window = int(m.config.get("window", 256))
    lm = KerasLM(m.path, batch_size=_batch_for(len(m.vocab), window))
    scores = neural_perplexity_and_accuracy(
        lm, group.sequences, token_budget=_batch_for(len(m.vocab), 1, cap=8192),
        progress=progress, desc=f"{m.label} perplexity")
    say(f"{m.label}: recall by distance ({len(group.probes) if group.probes is not None else 0}"
        " probes)")
    frame = _recall(m.label, lm, group)
    if frame is not None:
        recall_frames.append(frame)
    step = load_step_model(m.path)
    say(f"{m.label}: ExactMatch@1..{EM_N} and completions")
    exact = _exact_match(step_greedy_completer(step), group, n_cuts, f"{m.label} ExactMatch",
                         progress)
    latency = _completions(m.label, Completer(step), prompts, budget.latency_repeats,
                           completion_rows)
    ratio, lag, _ = _grad_ratio(m.path)
    metrics = m.metrics
    return {
        "model": m.label, "type": "neural", "cell": m.cell,
        "parameters": metrics.get("parameters", lm.model.count_params()),
        "train_seconds": metrics.get("train_seconds", float("nan")),
        "epochs": metrics.get("epochs_run", len(m.history) if m.history is not None else None),
        "perplexity": scores["perplexity"], "top1": scores["top1"], "top5": scores["top5"],
        **{f"em{n}": exact[n] for n in EM_NUMBERS},
        "latency_median_ms": latency["median"], "latency_p90_ms": latency["p90"],
        "grad_ratio": ratio, "grad_lag": lag, "tokens": scores["tokens"],
        "engine": "numpy fast path" if isinstance(step, NumpyStepModel) else "keras",
        "train_eval_perplexity": metrics.get("perplexity", float("nan")),
        "train_eval_top1": metrics.get("top1_accuracy", float("nan")),
        "train_eval_top5": metrics.get("top5_accuracy", float("nan")),
    }


def _evaluate_ngram(label: str, ngram, fit_seconds: float, group: _Group, n_cuts,
                    budget: Budget, prompts, say, progress: bool, recall_frames: list,
                    completion_rows: list) -> dict:
    from autocomplete.decoding import Completer

    say(f"{label}: perplexity, recall, ExactMatch and completions")
    scores = em.perplexity_and_accuracy(ngram, group.sequences)
    frame = _recall(label, ngram, group)
    if frame is not None:
        recall_frames.append(frame)
    exact = _exact_match(em.greedy_completer(ngram, EM_N), group, n_cuts,
                         f"{label} ExactMatch", progress)
    latency = _completions(label, Completer(NgramStepModel(ngram)), prompts,
                           budget.latency_repeats, completion_rows)
    return {
        "model": label, "type": "n-gram", "cell": f"kneser-ney order {ngram.order}",
        "parameters": _ngram_parameters(ngram), "train_seconds": fit_seconds, "epochs": None,
        "perplexity": scores["perplexity"], "top1": scores["top1"], "top5": scores["top5"],
        **{f"em{n}": exact[n] for n in EM_NUMBERS},
        "latency_median_ms": latency["median"], "latency_p90_ms": latency["p90"],
        "grad_ratio": float("nan"), "grad_lag": None, "tokens": scores["tokens"],
        "engine": "numpy",
        "train_eval_perplexity": float("nan"), "train_eval_top1": float("nan"),
        "train_eval_top5": float("nan"),
    }
