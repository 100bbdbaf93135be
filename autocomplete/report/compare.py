"""Evaluate every trained cell and the n-gram baseline the same way, on the same test split.

`evaluate_models(model_dirs)` rebuilds the held-out test split exactly as
training did (the corpus in each config.json, its seed, `split_by_email`,
placeholders for private values unless it says `keep_numbers`, the texts of
`textprep.model_texts`: with the subject in front for a model trained with
subjects), checks the corpus fingerprint, and returns a `Results` of plain
DataFrames and dicts. Nothing is written here (see `autocomplete.report.render`).

Definitions (one for every model, so the rows are comparable):

* Every figure is on the body's tokens: a model trained with subjects reads
  each test email's subject and the separator first (and the n-gram of its
  group is fitted on such texts), but neither is scored, ExactMatch cuts only
  the body, and the lecture prompts are completed as emails without a
  subject. So models with and without subjects are scored on the same targets.
* Perplexity, top-1, top-5: `evaluate.metrics.perplexity_and_accuracy` on the
  test emails, each email scored on its own from `[start]`; a neural model
  sees at most its training window of context, the n-gram its last
  order - 1 tokens. Top-k ranks the target among suggestible tokens (not
  pad, `[UNK]`, `[start]`), ties count against the model, an OOV target
  counts in perplexity and is never correct. For a neural model the same
  numbers come from one forward pass per email
  (`evaluate.scoring.neural_perplexity_and_accuracy`, identical to the
  per-position definition because the layers are causal).
  The figures `train` wrote to metrics.json are NOT used for these columns:
  they score packed windows (`evaluate.scoring.evaluate_packed_windows`:
  context crosses email boundaries, ties favour the model, the special tokens
  stay candidates, a subject-trained model's subject tokens are scored). They are kept
  in the JSON output as `train_eval_*`.
* Recall by distance: `evaluate.probes` on the test split (all kinds, all bands):
  the seen-template probes. For the built-in corpus the same probes also run on
  emails built from the held-out template pool only
  (`corpus.generator.heldout_probe_emails`: cue phrasings, entity frames and
  filler parts that never occur in the corpus), so recall there is memory of
  the cue, not of the templates around it.
* ExactMatch@1..5 (Smart Compose): `evaluate.metrics.exact_match_at_n`; the
  neural completer is greedy decoding through the step model the app uses
  (`fastpath.load_step_model`, `evaluate.scoring.step_greedy_completer`), the
  n-gram's is `metrics.greedy_completer`.
* Latency: median and p90 of one beam-search completion (beam width and word
  limit from `decoding_defaults`, as `autocomplete complete` uses them) of each
  lecture prompt through `decoding.Completer`; the n-gram runs through the
  same search (`evaluate.ngram.NgramStepModel`).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from autocomplete import artifacts
from autocomplete.artifacts import split_seed, uses_subjects
from autocomplete.blend import has_blend
from autocomplete.corpus import generator
from autocomplete.corpus.normalize import keeps_numbers, normalize_emails
from autocomplete.decoding_defaults import BEAM, MAX_WORDS
from autocomplete.evaluate import metrics as em
from autocomplete.evaluate import probes as pr
from autocomplete.evaluate.scoring import (
    neural_perplexity_and_accuracy,
    progress_bar,
    step_greedy_completer,
)
from autocomplete.model_names import cell_sort_key

LECTURE_PROMPTS: tuple[str, ...] = (
    "Today due to my current job situation and family condition, I",
    "Yesterday due to my current job situation and family condition, I",
    "Tomorrow due to my current job situation and family condition, I",
    "Today due to my fever, I",
    "Today due to the client visit in Chicago, I",
)
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
    heldout_emails: int  # held-out-template probe emails generated (built-in corpus only)


FULL = Budget(test_emails=None, probes_per_cell=None, em_cuts=2000, latency_repeats=5,
              heldout_emails=generator.DEFAULT_HELDOUT_EMAILS)
QUICK = Budget(test_emails=300, probes_per_cell=20, em_cuts=50, latency_repeats=1,
               heldout_emails=300)


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
        aggregates every kind per band), on the test split (seen templates).
    probe_counts: probes per kind (rows) and band (columns).
    recall_heldout, probe_counts_heldout: the same on the held-out-template
        probes (empty unless the models were trained on the built-in corpus).
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
    recall_heldout: pd.DataFrame = field(default_factory=pd.DataFrame)
    probe_counts_heldout: pd.DataFrame = field(default_factory=pd.DataFrame)

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

    def memory_table(self, value: str = "recall") -> pd.DataFrame:
        """Rows (kind, model), kinds "all" first; columns (band, "seen" | "held-out")."""
        frames = {"seen": self.recall, "held-out": self.recall_heldout}
        parts = []
        for split, frame in frames.items():
            if frame.empty:
                continue
            t = frame.pivot_table(index=["kind", "model"], columns="band", values=value,
                                  observed=False, aggfunc="first")
            t.columns = pd.MultiIndex.from_tuples([(str(b), split) for b in t.columns])
            parts.append(t)
        if not parts:
            return pd.DataFrame()
        table = pd.concat(parts, axis=1)
        kinds = sorted({k for k, _ in table.index}, key=lambda k: (k != "all", k))
        rows = [(k, m) for k in kinds for m in self.models if (k, m) in table.index]
        cols = [(b, split) for b in self.bands for split in frames]
        return table.reindex(index=pd.MultiIndex.from_tuples(rows, names=["kind", "model"]),
                             columns=pd.MultiIndex.from_tuples(cols))

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
            "recall_heldout": self.recall_heldout.assign(
                band=self.recall_heldout["band"].astype(str)).to_dict(orient="records")
            if not self.recall_heldout.empty else [],
            "probe_counts_heldout": {
                str(k): {str(b): v for b, v in row.items()}
                for k, row in self.probe_counts_heldout.iterrows()},
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
    return sorted(infos, key=lambda m: (cell_sort_key(m.cell), m.label))


def corpus_label(config: dict) -> str:
    """Where a model's emails came from, for messages."""
    return config.get("corpus") or "the built-in corpus"


# --------------------------------------------------------------------------- helpers
def _ngram_parameters(lm) -> int:
    """Stored numbers of a fitted KneserNeyLM: unigram + per-context weights + n-gram masses."""
    levels = getattr(lm, "_levels", [])
    return int(len(lm.vocab) + sum(len(lv.gamma) + len(lv.alpha) for lv in levels))


def _grad_ratio(model_dir: Path) -> tuple[float, int | None, bool]:
    """(lag-50/lag-1 gradient-flow ratio, lag used, has flow) of a model directory."""
    from autocomplete.report.gradients import lag_ratio, load_grad_tables, ratio_lag

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


class _Status:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(f"[report {time.monotonic() - self.started:5.0f}s] {msg}", file=sys.stderr,
                  flush=True)


@dataclass(frozen=True)
class _Run:
    """How this run evaluates every model: its budget, prompts and progress output."""

    budget: Budget
    prompts: Sequence[str]
    say: _Status
    progress: bool


@dataclass
class _Evaluation:
    """One model's figures: its summary row, recall-by-distance rows and completions."""

    row: dict
    recall: pd.DataFrame | None
    completions: list[dict]
    recall_heldout: pd.DataFrame | None = None


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
    heldout_probes: pd.DataFrame | None = None  # held-out-template probes (built-in corpus)
    builtin: bool = False  # trained on the built-in corpus
    raw: bool = False  # private values kept (no placeholders)
    subjects: bool = False  # the models read "<subject> xxbody <body>"
    vectorizer: object = None  # the Keras TextVectorization of `vocab`
    starts: list[int] | None = None  # per sequence, the position of its body's first token
    n_cuts: int | None = None  # ExactMatch cuts (None: one per eligible email)
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


def _group_models(infos: list[ModelInfo], emails: pd.DataFrame | None, strict_corpus: bool,
                  say: _Status) -> tuple[list[_Group], list[str]]:
    """The test split each model was held out from, models grouped by split and vocabulary.

    Returns the groups and the notes on corpus fingerprints; raises
    `CorpusChanged` for a changed corpus when `strict_corpus`.
    """
    from autocomplete import textprep

    notes: list[str] = []
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
        note = _fingerprint_note(m, fingerprints[id(df)], strict_corpus)
        if note:
            notes.append(note)
        seed = split_seed(m.config)
        raw, subjects = keeps_numbers(m.config), uses_subjects(m.config)
        gkey = (id(df), seed, tuple(m.vocab), raw, subjects)
        if gkey not in groups:
            splits = textprep.split_by_email(df, seed=seed)
            if not raw:  # the text as the model was trained on it
                splits = {k: normalize_emails(v, subjects=subjects)[0]
                          for k, v in splits.items()}
            groups[gkey] = _Group(vocab=m.vocab, seed=seed, corpus=corpus_label(m.config),
                                  test_df=splits["test"], train_df=splits["train"],
                                  builtin=m.config.get("corpus") is None, raw=raw,
                                  subjects=subjects)
        groups[gkey].models.append(m)
    if len(groups) > 1:
        notes.append("the models do not share one vocabulary/test split: each is scored with "
                     "its own, next to an n-gram baseline fitted on its own training split; "
                     "compare rows across groups with care.")
    return list(groups.values()), notes


def _fingerprint_note(m: ModelInfo, fingerprint: str, strict_corpus: bool) -> str | None:
    """A note when `m`'s test split cannot be checked or rebuilt; CorpusChanged if strict."""
    want = m.config.get("corpus_sha256")
    if want is None:
        return (f"{m.label}: config.json has no corpus fingerprint; the test split "
                "could not be checked against the one it was held out from.")
    if want == fingerprint:
        return None
    msg = (f"{m.label}: {corpus_label(m.config)} changed since {m.path} was trained "
           "(corpus_sha256 differs), so its test split cannot be rebuilt")
    if strict_corpus:
        raise CorpusChanged(f"{msg}: retrain it (`autocomplete train --cell {m.cell} "
                            f"--out {m.path}`)")
    return msg + "; its figures are on a different split and may be inflated."


def _prepare_group(group: _Group, budget: Budget, say: _Status) -> list[str]:
    """Encode the group's evaluated test emails and build its probes; returns notes."""
    from autocomplete import textprep

    notes = []
    group.vectorizer = textprep.make_vectorizer(group.vocab)
    evaluated = _evaluated_emails(group.test_df, budget)
    say(f"encoding {len(evaluated)} of {len(group.test_df)} test emails "
        f"(seed {group.seed}, {len(group.vocab)} words)")
    group.sequences = textprep.encode(group.vectorizer,
                                      textprep.model_texts(evaluated, group.subjects))
    group.starts = [1 + k for k in textprep.body_offsets(evaluated, group.subjects)]
    if "deps" in group.test_df.columns:
        group.probes = pr.build_probes(group.test_df, group.vocab,
                                       max_per_cell=budget.probes_per_cell, seed=group.seed,
                                       subjects=group.subjects)
    else:
        group.probes = pr.build_probes(group.test_df.assign(deps=None), group.vocab)
        notes.append(f"{group.corpus} has no planted dependencies: no recall-by-distance "
                     "probes (the built-in corpus has them).")
    if group.subjects:
        names = ", ".join(m.label for m in group.models)
        notes.append(f"{names} read each email's subject before its body (trained with "
                     "--subject); every figure is on the body's tokens, as for the others.")
        if group.builtin:
            notes.append(f"{names}: a built-in request email's subject often names what is "
                         "asked for (\"Loan request\", \"Sick day\"), so recall there is not "
                         "memory of the cue alone.")
    if len(group.probes) == 0 and "deps" in group.test_df.columns:
        notes.append("no recall probes in the test split (too few test emails?).")
    if group.builtin:
        say(f"building held-out-template probes from {budget.heldout_emails} emails")
        heldout = pd.DataFrame(generator.heldout_probe_emails(budget.heldout_emails))
        if not group.raw:  # the text as the model was trained on it
            heldout = normalize_emails(heldout, subjects=group.subjects)[0]
        group.heldout_probes = pr.build_probes(heldout, group.vocab,
                                               max_per_cell=budget.probes_per_cell,
                                               seed=group.seed, subjects=group.subjects)
    group.n_cuts = _em_cuts(group.sequences, group.starts, budget)
    return notes


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
    run = _Run(QUICK if quick else FULL, prompts, _Status(progress), progress)
    infos = load_model_infos(model_dirs)
    if not infos:
        raise ValueError("no model directories to compare")
    groups, notes = _group_models(infos, emails, strict_corpus, run.say)
    neural: list[_Evaluation] = []
    ngrams: list[_Evaluation] = []
    in_run_order: list[_Evaluation] = []  # each group's models, then its n-gram
    for group in groups:
        notes += _prepare_group(group, run.budget, run.say)
        models = [_evaluate_neural(m, group, run) for m in group.models]
        models += [_evaluate_blend(m, group, run) for m in group.models if has_blend(m.path)]
        suffix = "" if len(groups) == 1 else f" ({', '.join(m.label for m in group.models)})"
        ngram = _evaluate_ngram(f"ngram-{ngram_order}{suffix}", ngram_order, group, run)
        neural += models
        ngrams.append(ngram)
        in_run_order += [*models, ngram]

    summary = _summary_table([e.row for e in neural + ngrams])  # neural models first
    bands = [pr.band_label(lo, hi) for lo, hi in pr.DEFAULT_BANDS]
    first = groups[0]
    notes += _summary_notes([e.row for e in neural if e.row["type"] == "neural"], quick)
    heldout = [e.recall_heldout for e in in_run_order if e.recall_heldout is not None]
    return Results(
        summary=summary,
        recall=_recall_table([e.recall for e in in_run_order if e.recall is not None], bands),
        probe_counts=(pr.probe_counts(first.probes) if first.probes is not None
                      and len(first.probes) else pd.DataFrame(columns=bands)),
        recall_heldout=_recall_table(heldout, bands) if heldout else pd.DataFrame(),
        probe_counts_heldout=(pr.probe_counts(first.heldout_probes)
                              if first.heldout_probes is not None and len(first.heldout_probes)
                              else pd.DataFrame()),
        completions=pd.DataFrame([c for e in in_run_order for c in e.completions],
                                 columns=["prompt", "model", "text", "confidence"]),
        histories={m.label: m.history for m in infos if m.history is not None},
        grad_flow_dirs={m.label: m.path for m in infos if _grad_ratio(m.path)[2]},
        notes=notes, settings=_settings(groups, summary, run, quick, ngram_order), bands=bands,
    )


def _summary_table(rows: list[dict]) -> pd.DataFrame:
    """One row per model, `SUMMARY_COLUMNS`, counts as nullable integers."""
    summary = pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)
    for col in ("parameters", "epochs", "grad_lag", "tokens"):  # counts stay integers
        summary[col] = pd.to_numeric(summary[col]).round().astype("Int64")
    return summary


def _recall_table(frames: list[pd.DataFrame], bands: list[str]) -> pd.DataFrame:
    """Every model's recall-by-distance rows in one table, bands as ordered categories."""
    columns = ["model", "kind", "band", "n", "recall", "top1", "chance"]
    recall = (pd.concat(frames, ignore_index=True) if frames
              else pd.DataFrame(columns=columns))
    recall["band"] = pd.Categorical(recall["band"].astype(str), categories=bands, ordered=True)
    return recall[columns]


def _summary_notes(neural_rows: list[dict], quick: bool) -> list[str]:
    """Caveats on the neural models' figures (gradient flow, engine) and on a quick run."""
    notes = []
    no_flow = [r["model"] for r in neural_rows if not np.isfinite(r["grad_ratio"])]
    if no_flow:
        notes.append(f"gradient ratio n/a for {', '.join(no_flow)}: no gradient-flow records "
                     "(trained with --no-grad-stats, or the records are missing).")
    short = {int(r["grad_lag"]) for r in neural_rows
             if r["grad_lag"] is not None and r["grad_lag"] != GRAD_LAG}
    if short:
        notes.append(f"the gradient-flow probe was shorter than {GRAD_LAG} positions: the ratio "
                     f"uses lag {', '.join(map(str, sorted(short)))} instead of {GRAD_LAG}.")
    slow = [r["model"] for r in neural_rows if r["engine"] != "numpy fast path"]
    if slow:
        notes.append(f"latency of {', '.join(slow)} measured through the Keras step model: the "
                     "directory has no up-to-date inference.npz, so `autocomplete complete` "
                     "would be as slow (retraining writes it).")
    if quick:
        notes.append(f"quick run: at most {QUICK.test_emails} test emails, "
                     f"{QUICK.probes_per_cell} probes per kind and band, {QUICK.em_cuts} "
                     "ExactMatch cuts, one latency repeat; the figures are noisy.")
    return notes


def _settings(groups: list[_Group], summary: pd.DataFrame, run: _Run, quick: bool,
              ngram_order: int) -> dict:
    """How the run was made: budget, data (of the first group), decoding, prompts, models."""
    first = groups[0]
    return {
        "quick": quick,
        "ngram_order": ngram_order,
        "corpus": first.corpus,
        "seed": first.seed,
        "test_emails": len(first.test_df),
        "evaluated_test_emails": len(first.sequences),
        "tokens_scored": int(summary["tokens"].iloc[0]) if len(summary) else 0,
        "probes": int(len(first.probes)) if first.probes is not None else 0,
        "probe_skipped": dict(first.probes.attrs.get("skipped", {}))
        if first.probes is not None else {},
        "heldout_probes": int(len(first.heldout_probes))
        if first.heldout_probes is not None else 0,
        "heldout_emails": run.budget.heldout_emails if first.heldout_probes is not None else 0,
        "exact_match_cuts": first.n_cuts,
        "latency_repeats": run.budget.latency_repeats,
        "decoding": {"method": "beam", "beam": BEAM, "max_words": MAX_WORDS},
        "prompts": list(run.prompts),
        "models": {m.label: str(m.path) for g in groups for m in g.models},
    }


def _eligible(sequences: Sequence[np.ndarray], starts: Sequence[int]) -> int:
    """Emails that have a body token of context and EM_N tokens after it."""
    return sum(1 for s, first in zip(sequences, starts, strict=True)
               if len(s) - EM_N >= first + 1)


def _em_cuts(sequences: Sequence[np.ndarray], starts: Sequence[int],
             budget: Budget) -> int | None:
    """None (one cut per eligible email) when there are at most `budget.em_cuts` of them."""
    eligible = _eligible(sequences, starts)
    return None if eligible <= budget.em_cuts else budget.em_cuts


def _exact_match(completer, group: _Group, desc: str, progress: bool) -> dict[int, float]:
    eligible = _eligible(group.sequences, group.starts)
    if not eligible:
        return {n: float("nan") for n in EM_NUMBERS}
    bar = progress_bar(total=group.n_cuts or eligible, desc=desc, disable=not progress)

    def counted(context: list[int]) -> list[int]:
        bar.update(1)
        return completer(context)

    try:
        return em.exact_match_at_n(counted, group.sequences, n_max=EM_N, n_cuts=group.n_cuts,
                                   seed=group.seed, starts=group.starts)
    finally:
        bar.close()


def _recall(label: str, lm, probes: pd.DataFrame | None) -> pd.DataFrame | None:
    """`label`'s recall by kind and band on the probes (None without probes)."""
    if probes is None or not len(probes):
        return None
    summary = pr.summarize_recall(pr.recall_at_distance(lm, probes))
    summary.insert(0, "model", label)
    summary["band"] = summary["band"].astype(str)
    return summary


def _completions(label: str, completer, prompts: Sequence[str],
                 repeats: int) -> tuple[list[dict], dict[str, float]]:
    """Each prompt's beam-search completion (rows) and the latency of one completion."""
    def complete(prompt: str):
        return completer.complete(prompt, method="beam", beam=BEAM, max_words=MAX_WORDS)

    rows = []
    for prompt in prompts:
        c = complete(prompt)
        rows.append({"prompt": prompt, "model": label, "text": c.text,
                     "confidence": c.confidence})
    return rows, em.latency_ms(complete, list(prompts), repeats=repeats)


def _scored(label: str, lm_class, m: ModelInfo, group: _Group, run: _Run):
    """(the model directory read as `lm_class`, its perplexity and accuracy on the test emails)."""
    run.say(f"{label}: perplexity and accuracy on {len(group.sequences)} test emails")
    window = int(m.config.get("window", 256))
    lm = lm_class(m.path, batch_size=_batch_for(len(m.vocab), window))
    scores = neural_perplexity_and_accuracy(
        lm, group.sequences, token_budget=_batch_for(len(m.vocab), 1, cap=8192),
        progress=run.progress, desc=f"{label} perplexity", starts=group.starts)
    return lm, scores


def _completed(label: str, step, group: _Group, run: _Run) -> tuple[dict, list, dict]:
    """ExactMatch, the prompts' completions and their latency, through step model `step`."""
    from autocomplete.decoding import Completer

    run.say(f"{label}: ExactMatch@1..{EM_N} and completions")
    exact = _exact_match(step_greedy_completer(step, EM_N), group, f"{label} ExactMatch",
                         run.progress)
    completions, latency = _completions(label, Completer(step, subjects=group.subjects),
                                        run.prompts, run.budget.latency_repeats)
    return exact, completions, latency


def _evaluate_neural(m: ModelInfo, group: _Group, run: _Run) -> _Evaluation:
    """Perplexity, recall, ExactMatch, completions and latency of one trained model."""
    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.fastpath import load_step_model

    lm, scores = _scored(m.label, KerasLM, m, group, run)
    run.say(f"{m.label}: recall by distance "
            f"({len(group.probes) if group.probes is not None else 0} probes, "
            f"{len(group.heldout_probes) if group.heldout_probes is not None else 0} "
            "held-out-template probes)")
    recall = _recall(m.label, lm, group.probes)
    recall_heldout = _recall(m.label, lm, group.heldout_probes)
    step = load_step_model(m.path)
    exact, completions, latency = _completed(m.label, step, group, run)
    row = _neural_row(m, lm.model.count_params(), step, scores, exact, latency)
    return _Evaluation(row, recall, completions, recall_heldout)


def _evaluate_blend(m: ModelInfo, group: _Group, run: _Run) -> _Evaluation:
    """Perplexity, ExactMatch, completions and latency of a tuned model's blend
    (`autocomplete tune`: the neural model, its n-gram and the cache, mixed)."""
    from autocomplete.blend import load_blend
    from autocomplete.evaluate.blend_lm import BlendLM
    from autocomplete.fastpath import load_step_model

    label = f"{m.label} + blend"
    lm, scores = _scored(label, BlendLM, m, group, run)
    step = load_blend(m.path, load_step_model(m.path))
    exact, completions, latency = _completed(label, step, group, run)
    row = _neural_row(m, lm.model.count_params(), step.model, scores, exact, latency)
    row.update(model=label, type="blend",
               cell=f"{m.cell} + {lm.blend.ngram.order}-gram + cache "
                    f"({lm.blend.weights.describe()})",
               parameters=row["parameters"] + _ngram_parameters(lm.blend.ngram),
               grad_ratio=float("nan"), grad_lag=None)
    return _Evaluation(row, None, completions, None)


def _neural_row(m: ModelInfo, parameters: int, step, scores: dict, exact: dict,
                latency: dict) -> dict:
    """The summary row of a trained model (its training figures from metrics.json)."""
    from autocomplete.fastpath import NumpyStepModel

    ratio, lag, _ = _grad_ratio(m.path)
    metrics = m.metrics
    return {
        "model": m.label, "type": "neural", "cell": m.cell,
        "parameters": metrics.get("parameters", parameters),
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


def _evaluate_ngram(label: str, order: int, group: _Group, run: _Run) -> _Evaluation:
    """Fit the Kneser-Ney baseline on the group's training emails and evaluate it."""
    from autocomplete import textprep
    from autocomplete.decoding import Completer
    from autocomplete.evaluate.ngram import KneserNeyLM, NgramStepModel

    run.say(f"{label}: fitting Kneser-Ney on {len(group.train_df)} training emails")
    started = time.monotonic()
    train_seqs = textprep.encode(group.vectorizer,
                                 textprep.model_texts(group.train_df, group.subjects))
    ngram = KneserNeyLM(order=order).fit(train_seqs, group.vocab)
    fit_seconds = time.monotonic() - started

    run.say(f"{label}: perplexity, recall, ExactMatch and completions")
    scores = em.perplexity_and_accuracy(ngram, group.sequences, starts=group.starts)
    recall = _recall(label, ngram, group.probes)
    recall_heldout = _recall(label, ngram, group.heldout_probes)
    exact = _exact_match(em.greedy_completer(ngram, EM_N), group, f"{label} ExactMatch",
                         run.progress)
    completer = Completer(NgramStepModel(ngram), subjects=group.subjects)
    completions, latency = _completions(label, completer, run.prompts,
                                        run.budget.latency_repeats)
    row = {
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
    return _Evaluation(row, recall, completions, recall_heldout)
