"""Long-range recall probes: does the model still remember a cue k tokens back?

The built-in corpus plants dependencies in each email: a cue word (a reason,
in the same sentence or an earlier one, a time word that fixes the tense, a
named entity) and, `distance` tokens
later, a target word that only the cue determines. A probe feeds the email up
to just before the target and asks whether the model prefers the right target
over the targets of the other cues of the same kind. Binned by distance, this
shows how far back each architecture remembers: a vanishing gradient shows
up as recall falling to chance with distance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from autocomplete.evaluate import NextTokenModel
from autocomplete.evaluate.metrics import target_ranks
from autocomplete.tokens import OOV_ID, START_ID, subject_prefix, tokenize

# The built-in corpus balances its dependencies over these bands; 121-200 is as
# far as one reaches inside an email (bodies stay under 250 tokens, training
# windows hold 256).
DEFAULT_BANDS: tuple[tuple[int, int], ...] = (
    (1, 10), (11, 30), (31, 60), (61, 120), (121, 200),
)
PROBE_COLUMNS = [
    "email_id",
    "kind",
    "band",
    "distance",
    "cue",
    "target",
    "target_id",
    "alternatives",
    "context",
    "chance",
    "cue_token",
    "target_token",
]


def band_label(low: int, high: int) -> str:
    """Label of the band of distances low..high inclusive, e.g. "1-10"."""
    return f"{low}-{high}"


def build_probes(
    test_df: pd.DataFrame,
    vocab: list[str],
    bands: Sequence[tuple[int, int]] = DEFAULT_BANDS,
    max_per_cell: int | None = None,
    seed: int = 0,
    subjects: bool = False,
) -> pd.DataFrame:
    """One probe per dependency of the given emails whose distance falls in a band.

    `context` is [start] + ids of the email's tokens before the target, as the
    model reads them: the body's, or with `subjects` (a model trained with
    them) the subject's, the separator's and the body's (`textprep.model_texts`).
    `cue_token` and `target_token` are positions in those tokens (the `deps`
    positions in the body, moved past the subject), so the cue's key token
    sits at context[cue_token + 1] and the target is the token after the
    context. `alternatives` are the
    ids of the other distinct in-vocabulary targets of the same kind in these
    rows; `chance` is the recall of guessing among target and alternatives.
    Skipped, with counts in `.attrs["skipped"]`: OOV targets, distances
    outside every band, and probes with no alternative (nothing to compare).
    `max_per_cell` samples at most that many probes per (kind, band).
    `band` is an ordered categorical in the order of `bands`.
    """
    index = {tok: i for i, tok in enumerate(vocab)}
    labels = [band_label(lo, hi) for lo, hi in bands]
    skipped = {"oov_target": 0, "out_of_band": 0, "no_alternatives": 0}

    deps = [(row, dep) for row in test_df.itertuples(index=False) for dep in _deps(row.deps)]
    targets_of_kind: dict[str, set[int]] = {}
    for _, dep in deps:
        tid = index.get(dep["target"].lower(), OOV_ID)
        if tid != OOV_ID:
            targets_of_kind.setdefault(dep["kind"], set()).add(tid)

    records = []
    tokens_of: dict[object, tuple[int, list[str]]] = {}  # id: (tokens before the body, all)
    for row, dep in deps:
        if row.id not in tokens_of:
            subject = getattr(row, "subject", "")
            before = subject_prefix(subject if isinstance(subject, str) else "") \
                if subjects else []
            tokens_of[row.id] = (len(before), before + tokenize(row.body))
        offset, tokens = tokens_of[row.id]
        cue_at, target_at = offset + int(dep["cue_token"]), offset + int(dep["target_token"])
        _check(row.id, dep, tokens, cue_at, target_at)
        distance = target_at - cue_at
        band = _band_of(distance, bands, labels)
        target_id = index.get(tokens[target_at], OOV_ID)
        alternatives = sorted(targets_of_kind.get(dep["kind"], set()) - {target_id})
        if target_id == OOV_ID:
            skipped["oov_target"] += 1
        elif band is None:
            skipped["out_of_band"] += 1
        elif not alternatives:
            skipped["no_alternatives"] += 1
        else:
            records.append(
                {
                    "email_id": row.id,
                    "kind": dep["kind"],
                    "band": band,
                    "distance": distance,
                    "cue": dep["cue"],
                    "target": dep["target"],
                    "target_id": target_id,
                    "alternatives": alternatives,
                    "context": [START_ID] + [index.get(t, OOV_ID) for t in tokens[:target_at]],
                    "chance": 1.0 / (1 + len(alternatives)),
                    "cue_token": cue_at,
                    "target_token": target_at,
                }
            )

    probes = pd.DataFrame.from_records(records, columns=PROBE_COLUMNS)
    if max_per_cell is not None and len(probes):
        shuffled = probes.sample(frac=1.0, random_state=seed)
        probes = shuffled.groupby(["kind", "band"]).head(max_per_cell).sort_index()
    probes = probes.reset_index(drop=True)
    probes["band"] = pd.Categorical(probes["band"], categories=labels, ordered=True)
    probes.attrs["skipped"] = skipped
    return probes


def _band_of(distance: int, bands: Sequence[tuple[int, int]], labels: list[str]) -> str | None:
    """Label of the first band holding `distance`, None if none does."""
    for (low, high), label in zip(bands, labels, strict=True):
        if low <= distance <= high:
            return label
    return None


def _deps(value: object) -> list[dict]:
    """An email's dependency list; a missing cell (None / NaN) has none."""
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else []


def _check(email_id: object, dep: dict, tokens: list[str], cue_at: int, target_at: int) -> None:
    """Fail loudly when the corpus' token indices do not match its text."""
    if not 0 <= cue_at < target_at < len(tokens):
        raise ValueError(f"email {email_id}: bad cue/target positions in {dep}")
    if tokens[target_at] != dep["target"].lower():
        raise ValueError(
            f"email {email_id}: token {target_at} is {tokens[target_at]!r}, "
            f"not the target {dep['target']!r}"
        )
    if "distance" in dep and int(dep["distance"]) != target_at - cue_at:
        raise ValueError(f"email {email_id}: distance disagrees with positions in {dep}")


def probe_counts(probes: pd.DataFrame) -> pd.DataFrame:
    """Number of probes per kind (rows) and distance band (columns)."""
    return pd.crosstab(probes["kind"], probes["band"], dropna=False)


def recall_at_distance(
    model: NextTokenModel, probes: pd.DataFrame, batch_size: int = 256
) -> pd.DataFrame:
    """Score each probe; adds target_logprob, best_alternative_logprob, correct, top1.

    correct: the target's log-probability is strictly above every
    alternative's (a tie is a miss). top1: the target outranks every other
    suggestible token, same rule as `metrics.target_ranks`.
    """
    target_lp = np.zeros(len(probes))
    best_alt = np.zeros(len(probes))
    ranks = np.zeros(len(probes), dtype=np.int64)
    contexts = probes["context"].tolist()
    targets = probes["target_id"].to_numpy(dtype=np.int64)
    alternatives = probes["alternatives"].tolist()
    for start in range(0, len(probes), batch_size):
        stop = min(start + batch_size, len(probes))
        logprobs = np.asarray(model.next_logprobs(contexts[start:stop]))
        rows = np.arange(stop - start)
        target_lp[start:stop] = logprobs[rows, targets[start:stop]]
        best_alt[start:stop] = [
            logprobs[r, alts].max() if len(alts) else -np.inf
            for r, alts in zip(rows, alternatives[start:stop], strict=True)
        ]
        ranks[start:stop] = target_ranks(logprobs, targets[start:stop])
    results = probes.copy()
    results["target_logprob"] = target_lp
    results["best_alternative_logprob"] = best_alt
    results["correct"] = target_lp > best_alt
    results["top1"] = ranks == 0
    return results


def summarize_recall(results: pd.DataFrame) -> pd.DataFrame:
    """n, recall, top1 and chance per (kind, band), plus kind "all" per band."""
    cols = {"n": ("correct", "size"), "recall": ("correct", "mean"), "top1": ("top1", "mean")}
    cols["chance"] = ("chance", "mean")
    by_kind = results.groupby(["kind", "band"], observed=True).agg(**cols).reset_index()
    overall = results.groupby("band", observed=True).agg(**cols).reset_index()
    overall.insert(0, "kind", "all")
    summary = pd.concat([by_kind, overall], ignore_index=True)
    summary["band"] = pd.Categorical(
        summary["band"].astype(str), categories=_band_order(results["band"]), ordered=True
    )
    return summary[["kind", "band", "n", "recall", "top1", "chance"]]


def _band_order(bands: pd.Series) -> list[str]:
    """Band labels from shortest to longest distance ("1-10" before "11-30")."""
    if isinstance(bands.dtype, pd.CategoricalDtype):
        return [str(b) for b in bands.cat.categories]
    return sorted({str(b) for b in bands}, key=lambda lab: int(lab.split("-")[0]))
