"""The blend's weights, fitted on held-out mail by perplexity.

`autocomplete.blend` is the engine; here is how its settings are picked.
`rebuild_splits` recovers a model's training and validation emails from its
config.json (the corpus, the split seed, the text as training saw it);
`target_probs` collects, for every validation token, the probability each
part gives it (the cache once per candidate keys and theta) and the kind of
its context; `fit_weights` searches the simplex of mixture weights for the
lowest perplexity, `fit_context_weights` once per kind of context;
`tune_blend` does it all for a Keras model.

Only the probability of each target is kept, so the search over weights is a
few matrix products, however many weights are tried.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from autocomplete.blend import CONFIDENCE_EDGES, BlendWeights, ContextWeights
from autocomplete.cache import ContinuousCache
from autocomplete.evaluate.cache_tuning import THETAS, cache_tuning_items
from autocomplete.ngram import KneserNeyLM
from autocomplete.tokens import PAD_ID

if TYPE_CHECKING:
    from autocomplete.evaluate.keras_lm import KerasLM

STEP = 0.05  # the coarse grid over the simplex; refined to STEP / 5 around its best


def rebuild_splits(config: dict, corpus: str | None = None, include: Sequence[str] = (),
                   parts: Sequence[str] = ("train", "validation", "test"),
                   label: str = "the model") -> dict[str, pd.DataFrame]:
    """The `parts` (train, validation, test) of the split of the model with config.json `config`.

    `corpus` (and `include`) as at training; default the corpus in `config`.
    The text is normalised as training saw it (placeholders unless
    keep_numbers, in the subjects too for a model trained with them; its texts
    are then `textprep.model_texts(part, subjects=True)`). ValueError when the
    corpus is not the one the model
    (called `label` in the message) was trained on: its fingerprint differs.
    """
    from autocomplete import textprep
    from autocomplete.artifacts import split_seed, uses_subjects
    from autocomplete.corpus.normalize import keeps_numbers, normalize_emails

    corpus = corpus or config.get("corpus")
    if corpus is None and config.get("data"):
        raise ValueError(f"{label} was trained on the prepared corpus {config['data']}: give "
                         "--corpus (and --include) as given to `autocomplete prepare`")
    if corpus is None:
        from autocomplete.corpus.builtin import load_builtin

        df = load_builtin()
    else:  # the loaders `autocomplete train` reads a corpus with
        from autocomplete.corpus.loaders import load_corpus

        df, _ = load_corpus(corpus, include=list(include) or None,
                            text_column=config.get("text_column"))
    if textprep.corpus_fingerprint(df) != config.get("corpus_sha256"):
        raise ValueError(
            f"{corpus or 'the built-in corpus'} is not the corpus {label} was trained on "
            "(corpus_sha256 differs), so its split cannot be rebuilt: give --corpus (and "
            "--include) as at training")
    splits = textprep.split_by_email(df, seed=split_seed(config))
    splits = {name: splits[name] for name in parts}
    if not keeps_numbers(config):  # normalising is per email: the same before or after the split
        splits = {name: normalize_emails(part, subjects=uses_subjects(config))[0]
                  for name, part in splits.items()}
    return splits


def candidate_caches(thetas: Mapping[str, Iterable[float]] = THETAS) -> list[ContinuousCache]:
    """The cache settings (keys, theta) the blend may use."""
    return [ContinuousCache(theta, 0.0, keys) for keys, ts in thetas.items() for theta in ts]


@dataclass
class TargetProbs:
    """What the blend's parts said about every validation target.

    neural, ngram (N,): each part's probability of the target; cache (C, N): the
    cache's, once per candidate setting; seen (N,): False where the cache had
    nothing to copy from yet; orders (N,): how much of the context the n-gram
    knew (`KneserNeyLM.context_orders`); confidence (C, N): the cache's largest
    copy probability (0 where not seen); neural_confidence (N,): the neural
    model's largest probability.
    """

    neural: np.ndarray
    ngram: np.ndarray
    cache: np.ndarray
    seen: np.ndarray
    orders: np.ndarray
    confidence: np.ndarray
    neural_confidence: np.ndarray

    def parts(self, c: int) -> np.ndarray:
        """(N, 3) the three parts' probabilities of the targets, the cache's with setting c."""
        return np.stack([self.neural, self.ngram, self.cache[c]], axis=1)


def target_probs(
    items: Iterable[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
    ngram: KneserNeyLM,
    caches: Sequence[ContinuousCache],
) -> TargetProbs:
    """Each part's probability of every target, and the kind of each context.

    `items` as for `cache_tuning.tune`: (the neural model's log-probs (T, V),
    its hidden states (T, H) or None, the ids (T + 1,)) per sequence. Row c
    of the cache's figures is with `caches[c]`.
    """
    got: dict[str, list] = {k: [] for k in ("neural", "ngram", "cache", "seen", "orders",
                                            "confidence", "neural_confidence")}
    for logp, hidden, ids in items:
        ids = np.asarray(ids)
        t = len(ids) - 1
        keep = ids[1:] != PAD_ID
        rows, targets = np.arange(t)[keep], ids[1:][keep]
        prefixes = [ids[: i + 1] for i in rows]
        logp = np.asarray(logp, dtype=np.float64)
        got["neural"].append(np.exp(logp[rows, targets]))
        got["neural_confidence"].append(np.exp(logp[rows].max(axis=1)))
        got["ngram"].append(ngram.next_probs(prefixes)[np.arange(len(rows)), targets])
        got["orders"].append(ngram.context_orders(prefixes))
        before = np.tril(np.ones((t, t), dtype=bool), -1)[:, : t - 1]
        row_cache, row_confidence = [], []
        scores = {}
        s = np.zeros(len(rows), dtype=bool)
        for c in caches:
            if c.keys not in scores:
                scores[c.keys] = np.where(before, c.scores(hidden, ids[:-1])[:, : t - 1], -np.inf)
            copy, s = c.copy_probs(scores[c.keys][rows], ids[1:t], len(ngram.vocab))
            row_cache.append(copy[np.arange(len(rows)), targets])
            row_confidence.append(np.where(s, copy.max(axis=1, initial=0.0), 0.0))
        got["cache"].append(np.array(row_cache).reshape(len(caches), len(rows)))
        got["confidence"].append(np.array(row_confidence).reshape(len(caches), len(rows)))
        got["seen"].append(s)
    if not got["neural"]:
        raise ValueError("no tokens to tune on")
    return TargetProbs(**{k: np.concatenate(v, axis=-1) for k, v in got.items()})


def _simplex(step: float) -> np.ndarray:
    """(G, 3) weights (neural, ngram, cache) on a grid of `step`, neural + ngram > 0."""
    n = round(1 / step)
    grid = [(a, b, n - a - b) for a, b in itertools.product(range(n + 1), repeat=2)
            if a + b <= n and a + b > 0]
    return np.array(grid, dtype=np.float64) / n


def perplexities(weights: np.ndarray, p: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(G,) perplexity of each weight row of `weights` (G, 3) over target probabilities
    `p` (N, 3) (neural, ngram, cache), the cache's weight shared out where not `seen`."""
    w = np.asarray(weights, dtype=np.float64)
    nll = np.zeros(len(w))
    for lo in range(0, len(p), 4096):  # (chunk, G) at a time
        pc, sc = p[lo : lo + 4096], seen[lo : lo + 4096, None]
        w_cache = np.where(sc, w[None, :, 2], 0.0)
        mixed = (pc[:, :1] * w[None, :, 0] + pc[:, 1:2] * w[None, :, 1]
                 + pc[:, 2:] * w_cache) / (w[None, :, 0] + w[None, :, 1] + w_cache)
        with np.errstate(divide="ignore"):
            nll -= np.log(mixed).sum(axis=0)
    return np.exp(nll / max(len(p), 1))


def fit_weights(p: np.ndarray, seen: np.ndarray, step: float = STEP,
                allowed: tuple[bool, bool, bool] = (True, True, True)
                ) -> tuple[BlendWeights, float]:
    """The mixture weights of least perplexity over target probabilities `p` (N, 3).

    A grid of `step` over the simplex, then one of step / 5 around its best.
    `allowed`: which parts may have weight (e.g. (True, False, True): the
    neural model and the cache only). Returns the weights and their perplexity.
    """
    mask = np.array(allowed, dtype=bool)
    grid = _simplex(step)
    grid = grid[(grid[:, ~mask] == 0).all(axis=1)]
    best = grid[np.argmin(perplexities(grid, p, seen))]
    fine = _simplex(step / 5)
    fine = fine[(fine[:, ~mask] == 0).all(axis=1) & (np.abs(fine - best) <= step).all(axis=1)]
    ppl = perplexities(fine, p, seen)
    w = fine[np.argmin(ppl)]
    return BlendWeights(*map(float, w)), float(ppl.min())


MIN_TOKENS = 200  # a kind of context with fewer validation tokens keeps the overall weights


def fit_context_weights(p: np.ndarray, seen: np.ndarray, orders: np.ndarray,
                        confidence: np.ndarray, n_orders: int, step: float = STEP,
                        allowed: tuple[bool, bool, bool] = (True, True, True),
                        edges: tuple[float, ...] = CONFIDENCE_EDGES,
                        min_tokens: int = MIN_TOKENS,
                        neural_confidence: np.ndarray | None = None,
                        neural_edges: tuple[float, ...] = ()) -> tuple[ContextWeights, float]:
    """Mixture weights per kind of context (`blend.ContextWeights`), each of least
    perplexity over the targets of its kind; kinds with fewer than `min_tokens`
    targets keep the weights of the coarser kind (the n-gram order and cache bin
    for a bin of the neural model's confidence; all targets for those). Arguments
    as for `fit_weights`, with each target's n-gram order matched `orders` (N,),
    cache `confidence` (N,) and, with `neural_edges`, the neural model's
    `neural_confidence` (N,; only for a mixture that gives it weight). Returns
    the weights and their perplexity over all targets.

    Where the mixture gives the cache no weight, completing does not compute the
    cache, so its confidence counts as 0 (one bin) there too.
    """
    if not allowed[2]:
        confidence = np.zeros(len(p))
    if not allowed[0]:
        neural_edges = ()
    default, _ = fit_weights(p, seen, step, allowed)
    table = np.tile(default.array(), (n_orders, len(edges) + 1, 1))
    fine = np.tile(default.array(), (n_orders, len(edges) + 1, len(neural_edges) + 1, 1))
    bins = np.digitize(confidence, edges)
    nbins = (np.digitize(neural_confidence, neural_edges) if neural_edges
             else np.zeros(len(p), dtype=int))
    k = np.minimum(orders, n_orders - 1)
    for order, b in itertools.product(range(n_orders), range(len(edges) + 1)):
        mask = (k == order) & (bins == b)
        if mask.sum() >= min_tokens:
            table[order, b] = fit_weights(p[mask], seen[mask], step, allowed)[0].array()
        fine[order, b] = table[order, b]
        for c in range(len(neural_edges) + 1 if neural_edges else 0):
            sub = mask & (nbins == c)
            if sub.sum() >= min_tokens:
                fine[order, b, c] = fit_weights(p[sub], seen[sub], step, allowed)[0].array()
    weights = ContextWeights(default, table, edges, tuple(neural_edges),
                             fine if neural_edges else None)
    if allowed[2] and not weights.uses_cache:
        return fit_context_weights(p, seen, orders, confidence, n_orders, step,
                                   (allowed[0], allowed[1], False), edges, min_tokens,
                                   neural_confidence, neural_edges)
    nll = 0.0  # each kind's tokens under its weights
    for order, b, c in itertools.product(range(n_orders), range(len(edges) + 1),
                                         range(len(neural_edges) + 1)):
        mask = (k == order) & (bins == b) & (nbins == c)
        if mask.any():
            nll += mask.sum() * np.log(perplexities(fine[order, b, c][None], p[mask],
                                                    seen[mask])[0])
    return weights, float(np.exp(nll / len(p)))


# the blend keeps the cache only where it lowers validation perplexity by this share at least:
# completing computes the cache at every step (on the built-in corpus a blend with a cache
# weight of 0.01 in one kind of context and 0.01% lower perplexity had p90 14.0 ms a keystroke,
# 9.4 ms without it: BENCHMARKS.md, "Keystrokes saved")
CACHE_MIN_GAIN = 0.01

# the combinations of parts `tune_blend` fits: which of (neural, ngram, cache) may have weight
MIXTURES = {"neural": (True, False, False), "ngram": (False, True, False),
            "neural + ngram": (True, True, False), "neural + cache": (True, False, True),
            "ngram + cache": (False, True, True), "blend": (True, True, True)}


@dataclass
class BlendFit:
    """What `tune_blend` found: the blend, the baseline and the neural model's cache."""

    blend: tuple[ContextWeights, ContinuousCache]
    ngram_cache: tuple[ContextWeights, ContinuousCache]  # the baseline: no neural weight
    neural_cache: ContinuousCache  # the best neural + cache mixture, lam = the cache's weight
    table: pd.DataFrame  # validation perplexity per combination of parts and cache, best first
    perplexity: float  # the blend's validation perplexity


def tune_blend(
    lm: KerasLM, ngram: KneserNeyLM, sequences: Sequence[Sequence[int]],
    thetas: Mapping[str, Iterable[float]] = THETAS, step: float = STEP,
    neural_edges: tuple[float, ...] = CONFIDENCE_EDGES,
) -> BlendFit:
    """Fit the blend on held-out `sequences` (their first window each).

    Every combination of parts is fitted with each candidate cache setting;
    those that mix the n-gram with another part get weights by kind of
    context (`fit_context_weights`; those with the neural model also by its
    confidence, in bins at `neural_edges`, () for none), the others one
    triple. The table's
    neural / ngram / cache columns are the weights fitted on all contexts, its
    perplexity that of the weights used. The "ngram + cache" rows are the
    n-gram with a cache keyed by tokens only: the same memory of the email so
    far without the neural model, the baseline the blend is measured against.
    The blend is fitted without the cache where the cache lowers its perplexity
    by less than `CACHE_MIN_GAIN`, unless the blend would then be worse than the
    "ngram + cache" baseline.
    """
    caches = candidate_caches(thetas)
    probs = target_probs(cache_tuning_items(lm, sequences), ngram, caches)
    rows, best = [], {}
    for c_index, c in enumerate(caches):
        p = probs.parts(c_index)
        for name, allowed in MIXTURES.items():
            if not allowed[2] and c_index:  # the cache's settings do not matter
                continue
            if name == "ngram + cache" and c.keys != "tokens":  # no neural states in it
                continue
            if allowed[1] and sum(allowed) > 1:
                weights, ppl = fit_context_weights(
                    p, probs.seen, probs.orders, probs.confidence[c_index], ngram.order, step,
                    allowed, neural_confidence=probs.neural_confidence,
                    neural_edges=neural_edges)
                default = weights.default
            else:
                default, ppl = fit_weights(p, probs.seen, step, allowed)
                weights = ContextWeights.constant(default, ngram.order)
            rows.append({"parts": name, "neural": default.neural, "ngram": default.ngram,
                         "cache": default.cache, "keys": c.keys if allowed[2] else "",
                         "theta": c.theta if allowed[2] else np.nan, "perplexity": ppl})
            if name not in best or ppl < best[name][1]:
                best[name] = (weights, ppl, c)
    table = pd.DataFrame(rows).sort_values("perplexity", kind="stable", ignore_index=True)
    no_cache = best["neural + ngram"][1]
    if no_cache <= best["blend"][1] * (1 + CACHE_MIN_GAIN) and no_cache <= best["ngram + cache"][1]:
        # the cache does not earn its time per step, and the blend without it still
        # beats its baseline, the n-gram with the cache
        best["blend"] = best["neural + ngram"]
    (blend_w, blend_ppl, blend_c), (base_w, _, base_c) = best["blend"], best["ngram + cache"]
    cache_w, _, cache_c = best["neural + cache"]
    lam = min(cache_w.default.cache, 0.99)
    return BlendFit(blend=(blend_w, blend_c), ngram_cache=(base_w, base_c),
                    neural_cache=ContinuousCache(cache_c.theta, lam, cache_c.keys), table=table,
                    perplexity=blend_ppl)
