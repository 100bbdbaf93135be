"""The blend: the neural model, a Kneser-Ney n-gram and the cache of the email so far, mixed.

Each part is good where the others are weak: the recurrent model carries the
email's topic and cues a long way, the n-gram remembers rare phrases of the
training mail word for word, and the cache copies what this email already
said. The blend mixes their next-token probabilities (not their logits, so
each part's distribution keeps its meaning):

    p(w) = a_neural p_neural(w) + a_ngram p_ngram(w) + a_cache p_cache(w)

with weights that sum to one. p_cache is the continuous cache's copy
distribution (`ContinuousCache.copy_probs`, its keys and theta as tuned);
before the email holds two tokens it has nothing to copy from, and its weight
is shared out between the other two in proportion to theirs.

The weights depend on the context (`ContextWeights`): on how long a tail of
it the n-gram saw in training (0 to order - 1 tokens: where it saw three, it
knows the phrase; where it saw one, it guesses), on how sure the cache is
(the largest copy probability, in bins at `CONFIDENCE_EDGES`) and, in a
blend with the neural model, on how sure that is (its largest probability,
in the same bins). Each such kind of context gets its own triple, fitted on
the validation tokens of that kind; a kind with too few of them keeps the
triple of the coarser kind it belongs to.

`autocomplete tune MODEL_DIR` fits the n-gram on the model's training split
and the weights on its validation split, and writes them to the model
directory: ngram.npz (`KneserNeyLM.save`) and blend.json (`write_blend`).
`load_blend` reads them back without TensorFlow when the model has a fast path.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from autocomplete.artifacts import ModelDirError, read_tuned, write_json
from autocomplete.cache import CachedStepModel, ContinuousCache
from autocomplete.ngram import KneserNeyLM, SparseNext

BLEND_FILE = "blend.json"  # in a model directory, written by `autocomplete tune`
NGRAM_FILE = "ngram.npz"
PARTS = ("neural", "ngram", "cache")
NGRAM_CONTEXTS = 65_536  # n-gram contexts a completion engine keeps (`KneserNeyLM.sparse_next`)
# bins of the cache's confidence (its largest copy probability) the weights depend on
CONFIDENCE_EDGES = (0.3, 0.7)


@dataclass(frozen=True)
class BlendWeights:
    """The mixture's weights: non-negative, summing to one, neural + ngram > 0."""

    neural: float
    ngram: float
    cache: float

    def __post_init__(self) -> None:
        w = np.array([self.neural, self.ngram, self.cache])
        if (w < 0).any() or not np.isclose(w.sum(), 1.0, atol=1e-6):
            raise ValueError(f"blend weights must be >= 0 and sum to 1, got {tuple(w)}")
        if self.neural + self.ngram <= 0:
            raise ValueError("the neural model and the n-gram cannot both have weight 0")


    def array(self) -> np.ndarray:
        """(3,) the weights in `PARTS` order."""
        return np.array([self.neural, self.ngram, self.cache])


@dataclass(frozen=True)
class ContextWeights:
    """Mixture weights by kind of context: one triple per (n-gram order matched, bin of
    the cache's confidence[, bin of the neural model's confidence]).

    `table[k, b]` (orders x bins x 3, in `PARTS` order) applies where the n-gram saw
    the last k tokens of the context (and not k + 1) and the cache's largest copy
    probability falls in bin b of `edges`; `default` is the triple fitted on all
    kinds, which `table` holds wherever a kind had too few tokens to fit its own.
    With `neural_edges`, `neural_table[k, b, c]` (orders x bins x neural bins x 3)
    refines `table[k, b]` by bin c of the neural model's largest probability, and
    holds `table[k, b]` where that had too few tokens; without, it is `table`.
    """

    default: BlendWeights
    table: np.ndarray
    edges: tuple[float, ...] = CONFIDENCE_EDGES
    neural_edges: tuple[float, ...] = ()
    neural_table: np.ndarray | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.table, dtype=np.float64)
        if t.ndim != 3 or t.shape[1:] != (len(self.edges) + 1, 3):
            raise ValueError(f"context weights need a table of orders x {len(self.edges) + 1} "
                             f"x 3, got shape {t.shape}")
        n = (t[:, :, None, :] if self.neural_table is None
             else np.asarray(self.neural_table, dtype=np.float64))
        if n.shape != (len(t), len(self.edges) + 1, len(self.neural_edges) + 1, 3):
            raise ValueError(f"the neural table needs shape {t.shape[:2]} x "
                             f"{len(self.neural_edges) + 1} x 3, got {n.shape}")
        for row in np.concatenate([t.reshape(-1, 3), n.reshape(-1, 3)]):
            BlendWeights(*map(float, row))  # each triple is a valid mixture
        object.__setattr__(self, "table", t)
        object.__setattr__(self, "neural_table", n)

    @classmethod
    def constant(cls, weights: BlendWeights, orders: int,
                 edges: tuple[float, ...] = CONFIDENCE_EDGES) -> ContextWeights:
        """The same `weights` for every kind of context (n-gram orders 0 .. orders - 1)."""
        return cls(weights, np.tile(weights.array(), (orders, len(edges) + 1, 1)), edges)

    @property
    def uses_cache(self) -> bool:
        return bool((self.neural_table[..., 2] > 0).any())

    def rows(self, orders: np.ndarray, confidence: np.ndarray,
             neural_confidence: np.ndarray | None = None) -> np.ndarray:
        """(n, 3) the weights for contexts whose n-gram matched `orders` (n,) tokens, whose
        cache's largest copy probability is `confidence` (n,) and whose neural model's
        largest probability is `neural_confidence` (n,; needed with `neural_edges`)."""
        k = np.minimum(np.asarray(orders), len(self.table) - 1)
        b = np.digitize(confidence, self.edges)
        if not self.neural_edges:
            return self.table[k, b]
        return self.neural_table[k, b, np.digitize(neural_confidence, self.neural_edges)]

    def describe(self) -> str:
        """The default triple, and whether the weights vary by context."""
        w = self.default
        varies = not np.allclose(self.neural_table, w.array())
        return f"{w.neural:g} / {w.ngram:g} / {w.cache:g}{', by context' if varies else ''}"

    def to_json(self) -> dict:
        by = {"edges": list(self.edges), "table": np.round(self.table, 6).tolist()}
        if self.neural_edges:
            by |= {"neural_edges": list(self.neural_edges),
                   "neural_table": np.round(self.neural_table, 6).tolist()}
        return {"weights": asdict(self.default), "by_context": by}

    @classmethod
    def from_json(cls, entry: dict, orders: int) -> ContextWeights:
        """From `to_json`'s entry; one without "by_context" holds one triple for all."""
        default = BlendWeights(**{k: float(entry["weights"][k]) for k in PARTS})
        if "by_context" not in entry:
            return cls.constant(default, orders)
        by = entry["by_context"]
        neural = by.get("neural_table")
        return cls(default, np.array(by["table"], dtype=np.float64),
                   tuple(float(e) for e in by["edges"]),
                   tuple(float(e) for e in by.get("neural_edges", ())),
                   None if neural is None else np.array(neural, dtype=np.float64))


def row_weights(weights: BlendWeights | np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(n, 3) each row's weights: `weights` (one triple or (n, 3)) with the cache's share
    given to the other two in proportion where `seen` (n,) is False (nothing to copy)."""
    w = weights.array() if isinstance(weights, BlendWeights) else np.asarray(weights)
    w = np.array(np.broadcast_to(w, (len(seen), 3)), dtype=np.float64)
    w[:, 2] = np.where(seen, w[:, 2], 0.0)
    return w / w.sum(axis=1, keepdims=True)


def mix(weights: BlendWeights | np.ndarray, p_neural: np.ndarray, p_ngram: np.ndarray,
        p_cache: np.ndarray | None, seen: np.ndarray) -> np.ndarray:
    """(n, V) blended probabilities from each part's (n, V); `weights`: one triple for
    every row or (n, 3), one per row; `seen` (n,): the cache has something to copy
    from (where not, its weight goes to the other two; `p_cache` may be None where no
    row has)."""
    dtype = p_neural.dtype  # float32 parts mix in float32
    w = row_weights(weights, seen).astype(dtype)
    out = p_neural * w[:, :1]
    out += p_ngram * w[:, 1:2]
    if seen.any():
        out += p_cache * w[:, 2:]
    return out


class BlendStepModel(CachedStepModel):
    """A step model (`decoding.StepModel`) that answers with the blend of its three parts.

    Args:
        model: the neural step model (`NumpyStepModel` or `KerasStepModel`).
        ngram: a fitted `KneserNeyLM` over the same vocabulary.
        cache: the cache's keys and theta (its lam is not used: the weights' share is).
        weights: the mixture weights: one triple for every context, or `ContextWeights`.
        dtype: the arithmetic of the mixture. float32 (the default, for completing)
            is several times cheaper per step than float64, which the evaluation
            (`evaluate.blend_lm`) uses so that no probability underflows.

    A step never builds the n-gram's dense rows: a row is the n-gram's unigram
    times a scalar plus a few words (`KneserNeyLM.sparse_next`), so the mixture
    adds the unigram in the same pass as the neural part and the rest at those
    words. A completion engine meets the same contexts again and again (each
    keystroke searches from nearly the same text), so it keeps the sparse parts
    of the last `NGRAM_CONTEXTS` contexts.

    Example:

    ```python
    completer = Completer(load_blend("models/lstm", load_step_model("models/lstm")))
    ```
    """

    def __init__(self, model, ngram: KneserNeyLM, cache: ContinuousCache,
                 weights: BlendWeights | ContextWeights, dtype=np.float32):
        super().__init__(model, cache)
        if list(ngram.vocab) != list(self.vocab):
            raise ValueError("the n-gram's vocabulary is not the model's")
        if isinstance(weights, BlendWeights):
            weights = ContextWeights.constant(weights, ngram.order)
        self.ngram, self.weights, self.dtype = ngram, weights, np.dtype(dtype)
        self.keeps_hidden = cache.keys == "hidden" and weights.uses_cache
        self.width = ngram.order - 1
        if not weights.uses_cache:  # the n-gram's context is all a step needs of the ids
            self.keeps_ids = max(self.width, 1)
        self.unigram = ngram.unigram.astype(self.dtype)
        # the weights of a step without the cache (orders x neural bins x 3): those of
        # confidence 0, the cache's share given to the other two
        table = weights.neural_table[:, int(np.digitize(0.0, weights.edges))]
        flat = table.reshape(-1, 3)
        self._without_cache = row_weights(flat, np.zeros(len(flat), bool)).reshape(table.shape)
        # thread-safe, as `serve` shares the model between threads
        self.ngram_next = functools.lru_cache(maxsize=NGRAM_CONTEXTS)(self._ngram_part)

    def blend(self, p_neural: np.ndarray, p_ngram: np.ndarray, orders: np.ndarray,
              p_cache: np.ndarray | None, seen: np.ndarray) -> np.ndarray:
        """(n, V) the parts' probabilities mixed with the weights of each row's kind of
        context (`orders`: the n-gram's `context_orders`; the cache's confidence is
        read from `p_cache`, the neural model's from `p_neural`)."""
        neural = p_neural.max(axis=1) if self.weights.neural_edges else None
        return mix(self.weights.rows(orders, self._confidence(p_cache, seen), neural),
                   p_neural, p_ngram, p_cache, seen)

    def _ngram_part(self, context: tuple[int, ...]) -> SparseNext:
        """The n-gram's `sparse_next` after `context`, its probabilities in the mixture's dtype."""
        part = self.ngram.sparse_next(context)
        return SparseNext(part.total, part.ids, part.probs.astype(self.dtype), part.order)

    def step(self, token_ids: np.ndarray, state: list[np.ndarray]
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`CachedStepModel.step`, with the neural model's probabilities where it gives them
        (`step_probs`: no log-probabilities to take `exp` of again)."""
        step_probs = getattr(self.model, "step_probs", None)
        if step_probs is None or self.dtype != np.float32:
            return super().step(token_ids, state)
        *inner, hidden, ids = state
        token_ids = np.asarray(token_ids)
        p, inner = step_probs(token_ids, inner)
        hidden, ids = self.extend(token_ids, inner, hidden, ids)
        return self.mix_probs(p, hidden, ids), [*inner, hidden, ids]

    def predict(self, logp: np.ndarray, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """(n, V) blended log-probs after contexts `ids` (n, T) (the `CachedStepModel` hook
        the step and prefill call); `logp` is the neural model's."""
        return self.mix_probs(np.exp(np.asarray(logp, dtype=self.dtype)), hidden, ids)

    def mix_probs(self, p: np.ndarray, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """`predict` from the neural model's probabilities `p` (n, V; mixed in place): the
        same sums as `blend` with the n-gram's dense rows, its part added sparsely."""
        ids = np.asarray(ids)
        t = ids.shape[1]
        p = np.asarray(p, dtype=self.dtype)
        parts = [self.ngram_next(tuple(row)) for row in ids[:, max(t - self.width, 0):].tolist()]
        orders = np.array([part.order for part in parts])
        neural = p.max(axis=1) if self.weights.neural_edges else None
        if t < 2 or not self.weights.uses_cache:  # no cache in this step
            p_cache, seen = None, np.zeros(len(ids), dtype=bool)
            w = self._without_cache[np.minimum(orders, len(self._without_cache) - 1),
                                    0 if neural is None else
                                    np.digitize(neural, self.weights.neural_edges)]
        else:
            p_cache, seen = self.cache.copy_probs(self.last_scores(hidden, ids), ids[:, 1:],
                                                  len(self.vocab))
            w = row_weights(self.weights.rows(orders, self._confidence(p_cache, seen), neural),
                            seen)
        p *= w[:, :1].astype(self.dtype)
        scale = w[:, 1] * np.array([part.total for part in parts])
        p += scale[:, None].astype(self.dtype) * self.unigram
        for row, part, weight in zip(p, parts, w[:, 1].astype(self.dtype), strict=True):
            row[part.ids] += part.probs * weight
        if seen.any():
            p += p_cache * w[:, 2:].astype(self.dtype)
        with np.errstate(divide="ignore"):  # a token no part gives any mass: -inf
            return np.log(p, out=p)

    @staticmethod
    def _confidence(p_cache: np.ndarray | None, seen: np.ndarray) -> np.ndarray:
        """(n,) the cache's largest copy probability (0 where it has nothing to copy)."""
        if p_cache is None:
            return np.zeros(len(seen))
        return np.where(seen, p_cache.max(axis=1), 0.0)


def has_blend(model_dir: str | os.PathLike) -> bool:
    """Whether `autocomplete tune` wrote a blend to `model_dir`."""
    return (Path(model_dir) / BLEND_FILE).exists()


def read_blend(model_dir: str | os.PathLike) -> tuple[ContextWeights, ContinuousCache, dict]:
    """The weights, the cache's settings and the whole blend.json of `model_dir`.

    Raises `ModelDirError` (with the command to run) when there is none or it is unreadable.
    """
    def parse(data: dict) -> tuple[ContextWeights, ContinuousCache, dict]:
        return (*_mixture(data, int(data["ngram"]["order"])), data)

    return read_tuned(model_dir, BLEND_FILE, "tune", parse)


def _mixture(entry: dict, orders: int) -> tuple[ContextWeights, ContinuousCache]:
    """The weights and cache settings of a blend.json entry ({"weights", "by_context",
    "cache"}) of an n-gram of `orders` - 1 tokens of context."""
    c = entry["cache"]
    return ContextWeights.from_json(entry, orders), ContinuousCache(float(c["theta"]), 0.0,
                                                                    c["keys"])


def _blend_of(model_dir: str | os.PathLike, model, weights: ContextWeights,
              cache: ContinuousCache) -> BlendStepModel:
    """`model` mixed with `model_dir`'s n-gram; ModelDirError when ngram.npz is unusable."""
    try:
        ngram = KneserNeyLM.load(Path(model_dir) / NGRAM_FILE)
        return BlendStepModel(model, ngram, cache, weights)
    except ValueError as e:
        raise ModelDirError(f"cannot load the blend of {model_dir}: {e} "
                            f"(run `autocomplete tune {model_dir}` again)") from e


def mixture_json(weights: ContextWeights, cache: ContinuousCache) -> dict:
    """A blend.json entry: the weights (by context) and the cache's keys and theta."""
    return {**weights.to_json(), "cache": {"keys": cache.keys, "theta": cache.theta}}


def write_blend(model_dir: str | os.PathLike, weights: BlendWeights | ContextWeights,
                cache: ContinuousCache, ngram: KneserNeyLM, **details) -> Path:
    """Write ngram.npz and blend.json (the weights, the cache's keys and theta, `details`)."""
    if isinstance(weights, BlendWeights):
        weights = ContextWeights.constant(weights, ngram.order)
    model_dir = Path(model_dir)
    ngram.save(model_dir / NGRAM_FILE)
    file = model_dir / BLEND_FILE
    write_json(file, {**mixture_json(weights, cache),
                      "ngram": {"file": NGRAM_FILE, "order": ngram.order,
                                "discount": ngram.discount},
                      **details})
    return file


def load_blend(model_dir: str | os.PathLike, model) -> BlendStepModel:
    """The blend of `model_dir` around its loaded neural step model `model`.

    Raises `ModelDirError` when blend.json or ngram.npz is missing or unreadable.
    """
    weights, cache, _ = read_blend(model_dir)
    return _blend_of(model_dir, model, weights, cache)


def load_ngram_cache(model_dir: str | os.PathLike, model) -> BlendStepModel:
    """The n-gram with its cache of the email so far (token keys), as `autocomplete tune`
    fitted it: the baseline the blend is measured against. `model` is the neural step
    model, which it runs but gives no weight.

    Raises `ModelDirError` when the blend was tuned before the baseline was recorded.
    """
    _, _, data = read_blend(model_dir)
    if "ngram_cache" not in data:
        raise ModelDirError(f"{model_dir}/{BLEND_FILE} has no n-gram + cache baseline "
                            f"(run `autocomplete tune {model_dir}` again)")
    return _blend_of(model_dir, model, *_mixture(data["ngram_cache"],
                                                 int(data["ngram"]["order"])))


ENGINES = ("neural", "blend")


def load_completion_model(model_dir: str | os.PathLike, engine: str | None = None, *,
                          cache: bool = False, cell: str | None = None) -> tuple:
    """(step model, engine name, the neural step model inside) for completing with `model_dir`.

    `engine` "blend" answers with the blend (blend.json must be there),
    "neural" with the neural model alone, or with its cache when `cache`
    (cache.json must be there); None picks the blend when the directory
    holds one and `cache` is not asked for, else the neural model. Raises
    `ModelDirError` for what is missing, ValueError for a bad combination.
    """
    from autocomplete.fastpath import load_step_model

    if engine not in (None, *ENGINES):
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "blend" and cache:
        raise ValueError("the blend already holds the cache: ask for the cache only with "
                         "the neural engine")
    if engine is None:
        engine = "blend" if has_blend(model_dir) and not cache else "neural"
    inner = load_step_model(model_dir, cell)
    if engine == "blend":
        return load_blend(model_dir, inner), engine, inner
    if cache:
        from autocomplete.cache import read_cache

        return CachedStepModel(inner, read_cache(model_dir)), engine, inner
    return inner, engine, inner
