"""The continuous cache under the evaluation protocol: its settings, and any model with it.

`autocomplete.cache` is the cache itself (an engine: numpy only, used by
`complete --cache`). What needs evaluation lives here: `tune` picks the
cache's keys, theta and lam on held-out mail by perplexity,
`cache_tuning_items` feeds it a Keras model's log-probs and hidden states, and
`CachedNgramLM` gives any `NextTokenModel` (the n-gram baseline) a cache of
its context, so it is scored like a cached neural model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from autocomplete.cache import ContinuousCache
from autocomplete.evaluate import NextTokenModel
from autocomplete.evaluate.metrics import target_ranks
from autocomplete.logprobs import log_softmax
from autocomplete.tokens import PAD_ID

if TYPE_CHECKING:
    from autocomplete.evaluate.keras_lm import KerasLM

# theta grids: hidden-state dot products (units in (-1, 1)) run to tens, shared suffixes to 3
THETAS = {"hidden": (0.02, 0.05, 0.1, 0.2, 0.5), "tokens": (0.5, 1.0, 2.0, 4.0, 8.0)}
LAMS = (0.05, 0.1, 0.2, 0.3, 0.5)


def tune(
    items: Iterable[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
    thetas: Mapping[str, Iterable[float]] = THETAS,
    lams: Iterable[float] = LAMS,
) -> tuple[ContinuousCache, pd.DataFrame]:
    """Grid-search keys, theta and lam on held-out sequences; the lowest perplexity wins.

    `items` yields (logp (T, V), hidden (T, H) or None, ids (T + 1,)) per
    sequence: the model's log-probs after each of the first T ids, the hidden
    states that gave them (None for a model without, with keys "tokens"
    only), and the ids with the last target. `thetas` maps each kind of key
    to try to its theta grid. The table has a row for the model alone
    (keys "none", lam 0), which wins when no cache setting beat it. Top-1 is
    reported as the protocol defines it (`metrics.target_ranks`). Perplexity
    picks, as in Grave et al., because it scores the whole distribution and
    not only its peak.

    Example:

    ```python
    cache, table = tune(cache_tuning_items(KerasLM("models/lstm"), validation_sequences))
    ```
    """
    grid = [ContinuousCache(0.0, 0.0)] + [
        ContinuousCache(theta, lam, keys) for keys, ts in thetas.items() for theta in ts
        for lam in lams
    ]
    totals = {cache: [0.0, 0] for cache in grid}
    n = 0
    for logp, hidden, ids in items:
        ids = np.asarray(ids)
        keep = ids[1:] != PAD_ID
        targets = ids[1:][keep]
        rows = np.arange(len(targets))
        n += len(targets)
        scores = {keys: ContinuousCache(keys=keys).scores(hidden, ids[:-1]) for keys in thetas}
        for cache in grid:
            mixed = cache.mix_sequence(logp, scores.get(cache.keys, np.zeros((0, 0))),
                                       ids[:-1])[keep]
            acc = totals[cache]
            acc[0] -= float(mixed[rows, targets].sum())
            acc[1] += int((target_ranks(mixed, targets) < 1).sum())
    if not n:
        raise ValueError("no tokens to tune on")
    table = pd.DataFrame(
        [{"keys": c.keys if c.lam else "none", "theta": c.theta, "lam": c.lam,
          "perplexity": np.exp(nll / n), "top1": hits / n} for c, (nll, hits) in totals.items()]
    ).sort_values("perplexity", kind="stable", ignore_index=True)
    best = table.iloc[0]
    keys = best["keys"] if best["keys"] != "none" else "hidden"
    return ContinuousCache(float(best["theta"]), float(best["lam"]), keys), table


def cache_tuning_items(
    lm: KerasLM, sequences: Sequence[Sequence[int]], batch_size: int = 32
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(log-probs, hidden states, ids) of each sequence's first window, for `tune`.

    The first window is what a single forward pass gives; it holds most of an
    email's tokens, and tuning needs no more than a fair sample of them.
    """
    seqs = [np.asarray(s)[: lm.window + 1] for s in sequences if len(s) > 1]
    for start in range(0, len(seqs), batch_size):
        chunk = seqs[start : start + batch_size]
        x = np.zeros((len(chunk), max(len(s) - 1 for s in chunk)), dtype=np.int32)
        for row, s in enumerate(chunk):
            x[row, : len(s) - 1] = s[:-1]
        hidden = lm.hidden_states(x)
        logits = np.asarray(lm.output_layer(hidden), dtype=np.float64)
        for row, s in enumerate(chunk):
            yield log_softmax(logits[row, : len(s) - 1]), hidden[row, : len(s) - 1], s


class CachedNgramLM:
    """A `NextTokenModel` with a token-level cache over its context (`cache.suffix_scores`).

    Args:
        model: any `NextTokenModel` (the Kneser-Ney baseline).
        cache: a cache with keys="tokens".
        max_context: the cache sees the last `max_context` ids of a context,
            as a neural model with that window does.

    Example:

    ```python
    lm = CachedNgramLM(KneserNeyLM(order=4).fit(train, vocab), ContinuousCache(2.0, 0.2, "tokens"))
    ```
    """

    def __init__(self, model: NextTokenModel, cache: ContinuousCache, max_context: int = 256):
        if cache.keys != "tokens":
            raise ValueError("an n-gram model has no hidden states: use keys='tokens'")
        self.model, self.cache, self.max_context = model, cache, max_context
        self.vocab = model.vocab

    def next_logprobs(self, contexts: list[list[int]]) -> np.ndarray:
        base = np.asarray(self.model.next_logprobs(contexts), dtype=np.float64)
        out = np.empty_like(base)
        for row, context in enumerate(contexts):
            ids = np.asarray(list(context)[-self.max_context :])
            scores = self.cache.last_scores(None, ids)
            out[row] = self.cache.mix(base[row : row + 1], scores, ids[1:])[0]
        return out
