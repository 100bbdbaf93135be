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

`autocomplete tune MODEL_DIR` fits the n-gram on the model's training split
and the weights on its validation split, and writes them to the model
directory: ngram.npz (`KneserNeyLM.save`) and blend.json (`write_blend`).
`load_blend` reads them back without TensorFlow when the model has a fast path.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from autocomplete.artifacts import ModelDirError, read_tuned, write_json
from autocomplete.cache import CachedStepModel, ContinuousCache
from autocomplete.memo import StateMemo
from autocomplete.ngram import KneserNeyLM

BLEND_FILE = "blend.json"  # in a model directory, written by `autocomplete tune`
NGRAM_FILE = "ngram.npz"
PARTS = ("neural", "ngram", "cache")
NGRAM_MEMO_BYTES = 16 * 2**20  # n-gram rows a completion engine keeps for contexts met again


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


def mix(weights: BlendWeights, p_neural: np.ndarray, p_ngram: np.ndarray,
        p_cache: np.ndarray | None, seen: np.ndarray) -> np.ndarray:
    """(n, V) blended probabilities from each part's (n, V); `seen` (n,): the cache has
    something to copy from (where not, its weight goes to the other two; `p_cache` may be
    None where no row has)."""
    dtype = p_neural.dtype  # float32 parts mix in float32
    if not seen.any():  # two parts: scalar weights, the same numbers as the general case
        both = weights.neural + weights.ngram
        out = p_neural * dtype.type(weights.neural / both)
        out += p_ngram * dtype.type(weights.ngram / both)
        return out
    w_cache = np.where(seen, weights.cache, 0.0)[:, None]
    total = weights.neural + weights.ngram + w_cache
    out = p_neural * (weights.neural / total).astype(dtype)
    out += p_ngram * (weights.ngram / total).astype(dtype)
    out += p_cache * (w_cache / total).astype(dtype)
    return out


class BlendStepModel(CachedStepModel):
    """A step model (`decoding.StepModel`) that answers with the blend of its three parts.

    Args:
        model: the neural step model (`NumpyStepModel` or `KerasStepModel`).
        ngram: a fitted `KneserNeyLM` over the same vocabulary.
        cache: the cache's keys and theta (its lam is not used: `weights.cache` is).
        weights: the mixture weights.
        dtype: the arithmetic of the mixture. float32 (the default, for completing)
            is several times cheaper per step than float64, which the evaluation
            (`evaluate.blend_lm`) uses so that no probability underflows.

    A completion engine meets the same n-gram contexts again and again (each
    keystroke searches from nearly the same text), so it keeps the n-gram's
    rows of the contexts it met last, within `NGRAM_MEMO_BYTES`.

    Example:

    ```python
    completer = Completer(load_blend("models/lstm", load_step_model("models/lstm")))
    ```
    """

    def __init__(self, model, ngram: KneserNeyLM, cache: ContinuousCache,
                 weights: BlendWeights, dtype=np.float32):
        super().__init__(model, cache)
        if list(ngram.vocab) != list(self.vocab):
            raise ValueError("the n-gram's vocabulary is not the model's")
        self.ngram, self.weights, self.dtype = ngram, weights, np.dtype(dtype)
        self.keeps_hidden = cache.keys == "hidden" and weights.cache > 0
        self.width = ngram.order - 1
        self._ngram_rows = StateMemo(NGRAM_MEMO_BYTES)  # thread-safe: serve shares the model

    def ngram_probs(self, tails: np.ndarray) -> np.ndarray:
        """(n, V) n-gram probabilities after each row of `tails` (n, up to order - 1 ids),
        from the rows kept for contexts met before where it can."""
        keys = [tuple(row) for row in tails.tolist()]
        kept = [self._ngram_rows.get(k) for k in keys]
        missing = [i for i, entry in enumerate(kept) if entry is None]
        if missing:
            fresh = self.ngram.next_probs(tails[missing], dtype=self.dtype)
            for i, row in zip(missing, fresh, strict=True):
                kept[i] = (row.copy(), [])  # a copy: a view would keep the whole batch alive
                self._ngram_rows.put(keys[i], *kept[i])
        return np.stack([entry[0] for entry in kept])

    def predict(self, logp: np.ndarray, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """(n, V) blended log-probs after contexts `ids` (n, T) (the `CachedStepModel` hook
        the step and prefill call); `logp` is the neural model's."""
        ids = np.asarray(ids)
        t = ids.shape[1]
        p = np.exp(np.asarray(logp, dtype=self.dtype))
        p_ngram = self.ngram_probs(ids[:, max(t - self.width, 0):])
        if t < 2 or self.weights.cache == 0:  # no cache in this step
            p_cache, seen = None, np.zeros(len(ids), dtype=bool)
        else:
            p_cache, seen = self.cache.copy_probs(self.last_scores(hidden, ids), ids[:, 1:],
                                                  len(self.vocab))
        p = mix(self.weights, p, p_ngram, p_cache, seen)
        with np.errstate(divide="ignore"):  # a token no part gives any mass: -inf
            return np.log(p, out=p)


def has_blend(model_dir: str | os.PathLike) -> bool:
    """Whether `autocomplete tune` wrote a blend to `model_dir`."""
    return (Path(model_dir) / BLEND_FILE).exists()


def read_blend(model_dir: str | os.PathLike) -> tuple[BlendWeights, ContinuousCache, dict]:
    """The weights, the cache's settings and the whole blend.json of `model_dir`.

    Raises `ModelDirError` (with the command to run) when there is none or it is unreadable.
    """
    def parse(data: dict) -> tuple[BlendWeights, ContinuousCache, dict]:
        return (*_mixture(data), data)

    return read_tuned(model_dir, BLEND_FILE, "tune", parse)


def _mixture(entry: dict) -> tuple[BlendWeights, ContinuousCache]:
    """The weights and cache settings of a blend.json entry ({"weights", "cache"})."""
    weights = BlendWeights(**{k: float(entry["weights"][k]) for k in PARTS})
    c = entry["cache"]
    return weights, ContinuousCache(float(c["theta"]), 0.0, c["keys"])


def _blend_of(model_dir: str | os.PathLike, model, weights: BlendWeights,
              cache: ContinuousCache) -> BlendStepModel:
    """`model` mixed with `model_dir`'s n-gram; ModelDirError when ngram.npz is unusable."""
    try:
        ngram = KneserNeyLM.load(Path(model_dir) / NGRAM_FILE)
        return BlendStepModel(model, ngram, cache, weights)
    except ValueError as e:
        raise ModelDirError(f"cannot load the blend of {model_dir}: {e} "
                            f"(run `autocomplete tune {model_dir}` again)") from e


def write_blend(model_dir: str | os.PathLike, weights: BlendWeights, cache: ContinuousCache,
                ngram: KneserNeyLM, **details) -> Path:
    """Write ngram.npz and blend.json (the weights, the cache's keys and theta, `details`)."""
    model_dir = Path(model_dir)
    ngram.save(model_dir / NGRAM_FILE)
    file = model_dir / BLEND_FILE
    write_json(file, {"weights": asdict(weights),
                      "cache": {"keys": cache.keys, "theta": cache.theta},
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
    return _blend_of(model_dir, model, *_mixture(data["ngram_cache"]))


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
