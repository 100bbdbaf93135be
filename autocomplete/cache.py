"""A cache of the text already read: the model copies what followed the same context before.

A recurrent cell keeps the email so far in one state vector. The gates let it
carry a cue a long way, but not copy back, word for word, a line it read 80
tokens ago, and real mail repeats itself: names, notices, the same line in
every row of a schedule. In the Enron benchmark's new employee, 22% of the
words have a 3-word context that already occurred earlier in the same email,
and the word that followed it then is the right one 81% of the time
(`benchmarks/enron_overlap.py`).

The continuous cache (Grave, Joulin and Usunier, ICLR 2017) adds that memory
without training. Each earlier position i of the context is kept with a key
k_i and the id that followed it, x_{i+1}, and the next-token distribution
becomes

    p(w) = (1 - lam) * p_model(w) + lam * sum_{i: x_{i+1} = w} softmax_i(theta * k_t . k_i)

The keys are either the model's own hidden states (`hidden_scores`, as in
the paper) or the position's last few tokens, compared by how many of them
two positions share (`suffix_scores`). Every model has tokens, the n-gram
baseline included, so both kinds of model can get the same memory and be
compared fairly. The keys, theta and lam are picked on held-out mail
(`autocomplete.evaluate.cache_tuning.tune`, run by `autocomplete tune-cache`)
and kept in the model directory's cache.json (`write_cache`, `read_cache`).
The cache holds only the context the model is given, so nothing outside the
email leaks in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autocomplete.artifacts import read_tuned, write_json

KEYS = ("hidden", "tokens")
CACHE_FILE = "cache.json"  # in a model directory, written by `autocomplete tune-cache`


@dataclass(frozen=True)
class ContinuousCache:
    """Mixes a model's next-token log-probs with a copy distribution over the context.

    Args:
        theta: sharpness of the attention over earlier positions (softmax
            temperature 1/theta on the key similarities).
        lam: weight of the cache in the mixture, in [0, 1).
        keys: "hidden" compares positions by the model's hidden states
            (Grave et al.); "tokens" by their last `order` tokens, which any
            model has, the n-gram baseline included.
        order: trailing tokens per key, for keys="tokens".

    Example:

    ```python
    cache = ContinuousCache(theta=0.1, lam=0.2)
    logp = cache.mix_sequence(model_logp, cache.scores(hidden, ids), ids)
    ```
    """

    theta: float = 0.1
    lam: float = 0.2
    keys: str = "hidden"
    order: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.lam < 1.0:
            raise ValueError(f"lam must lie in [0, 1), got {self.lam}")
        if self.theta < 0:
            raise ValueError(f"theta must be >= 0, got {self.theta}")
        if self.keys not in KEYS:
            raise ValueError(f"keys must be one of {', '.join(KEYS)}, got {self.keys!r}")

    def scores(self, hidden: np.ndarray | None, ids: np.ndarray) -> np.ndarray:
        """(T, T) key similarities of the T positions of a context."""
        if self.keys == "tokens":
            return suffix_scores(ids, self.order)
        return hidden_scores(hidden)

    def last_scores(self, hidden: np.ndarray | None, ids: np.ndarray) -> np.ndarray:
        """(1, T - 1): the last position against the earlier ones (a `scores` row, cheaper)."""
        if self.keys == "tokens":
            return _last_suffix_scores(np.asarray(ids), self.order)[None, :]
        h = np.asarray(hidden, dtype=np.float64)
        return (h[:-1] @ h[-1])[None, :]

    def mix(self, logp: np.ndarray, scores: np.ndarray, values: np.ndarray) -> np.ndarray:
        """(n, V) log-probs of n queries mixed with the cache.

        `scores` (n, m) is the similarity of each query to m earlier positions,
        -inf where a position is not visible to the query; `values` (m,), or
        (n, m) when each query has its own, is the id that followed each position.
        A query that sees no position keeps the model's distribution.
        """
        logp = np.asarray(logp, dtype=np.float64)
        if np.shape(scores)[1] == 0 or self.lam == 0.0:
            return logp
        copy, seen = self.copy_probs(scores, values, logp.shape[1])
        lam = np.where(seen, self.lam, 0.0)[:, None]
        with np.errstate(divide="ignore"):  # log 0 = -inf: no cache, or a word not in it
            # in log space, so a word the model gives e^-800 keeps a finite log-prob
            return np.logaddexp(np.log1p(-lam) + logp, np.log(lam) + np.log(copy))

    def copy_probs(self, scores: np.ndarray, values: np.ndarray, vocab_size: int
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The cache's own distribution: (n, V) copy probabilities, and (n,) True
        where a query saw some position (a query that saw none gets zeros).

        Arguments as for `mix`.
        """
        scores = np.asarray(scores, dtype=np.float64)
        visible = np.isfinite(scores)
        seen = visible.any(axis=1)
        z = np.where(visible, self.theta * scores, -np.inf)
        z -= np.where(seen, z.max(axis=1, initial=-np.inf, where=visible), 0.0)[:, None]
        weights = np.where(visible, np.exp(z), 0.0)
        weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
        n = len(scores)
        # p_cache[q, w] = sum of q's weights on positions followed by w: one bincount
        flat = (np.arange(n)[:, None] * vocab_size + np.atleast_2d(values)).ravel()
        copy = np.bincount(flat, weights.ravel(), minlength=n * vocab_size)
        return copy.reshape(n, vocab_size), seen

    def mix_sequence(self, logp: np.ndarray, scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Log-probs after each position of a context `ids` (T,); the model's are `logp` (T, V).

        `scores` (T, T) compares every position with every other; position t
        sees the positions before it, each with the id that followed it.
        """
        if self.lam == 0.0:
            return np.asarray(logp, dtype=np.float64)
        ids = np.asarray(ids)
        t = len(ids)
        before = np.tril(np.ones((t, t), dtype=bool), -1)[:, : t - 1]
        return self.mix(logp, np.where(before, scores[:, : t - 1], -np.inf), ids[1:])


def hidden_scores(hidden: np.ndarray) -> np.ndarray:
    """(T, T) dot products of a neural model's hidden states: its keys."""
    hidden = np.asarray(hidden, dtype=np.float64)
    return hidden @ hidden.T


def suffix_scores(ids: np.ndarray, order: int = 3) -> np.ndarray:
    """(T, T) number of tokens, up to `order`, that the contexts ending at two positions share.

    2 where the last two tokens agree but not the third, 0 where the last
    tokens differ. Positions that share nothing still get weight exp(0), so
    where no earlier context matches, the copy distribution is the email's
    own word counts (a unigram cache).
    """
    ids = np.asarray(ids)
    t = len(ids)
    out = np.zeros((t, t))
    run = np.ones((t, t), dtype=bool)
    for k in range(order):
        shifted = np.concatenate([np.full(min(k, t), -1), ids[: max(t - k, 0)]])
        valid = shifted >= 0
        run &= (shifted[:, None] == shifted[None, :]) & valid[:, None] & valid[None, :]
        out += run
    return out


def _last_suffix_scores(ids: np.ndarray, order: int) -> np.ndarray:
    """The last row of `suffix_scores(ids)` without the rest: (T - 1,) for the earlier positions."""
    t = len(ids)
    out = np.zeros(t - 1)
    run = np.ones(t - 1, dtype=bool)
    for k in range(min(order, t)):
        earlier = np.arange(t - 1) - k  # position i's k-th token back
        run &= (earlier >= 0) & (ids[np.maximum(earlier, 0)] == ids[t - 1 - k])
        out += run
    return out


def read_cache(model_dir: str | os.PathLike) -> ContinuousCache:
    """The `ContinuousCache` that `autocomplete tune-cache` wrote to `model_dir`/cache.json.

    Raises `ModelDirError` (with the command to run) when there is none or it is unreadable.
    """
    return read_tuned(model_dir, CACHE_FILE, "tune-cache", lambda data: ContinuousCache(
        float(data["theta"]), float(data["lam"]), data.get("keys", "hidden")))


def write_cache(model_dir: str | os.PathLike, cache: ContinuousCache, **details) -> Path:
    """Write `cache`'s settings, and `details` (how they were picked), to `model_dir`/cache.json.

    `read_cache` reads the settings back; the details are for people.
    """
    file = Path(model_dir) / CACHE_FILE
    write_json(file, {"keys": cache.keys, "theta": cache.theta, "lam": cache.lam, **details})
    return file


class CachedStepModel:
    """A step model (`decoding.StepModel`) whose predictions also copy from the text read so far.

    The state carries, besides the model's own, the ids read so far and (when
    the cache's keys are hidden states) the hidden state after each. Like the
    evaluation, the cache holds at most the model's `window` positions. A
    prompt goes through the model in one pass when it offers
    `prefill_sequence` (the NumPy fast path does).

    Args:
        model: a step model with `output_state`, the index of the state entry
            that feeds the logits (`NumpyStepModel`, `KerasStepModel`).
        cache: the mixture's settings.

    Example:

    ```python
    completer = Completer(CachedStepModel(load_step_model("models/gru"), cache))
    ```
    """

    def __init__(self, model, cache: ContinuousCache):
        self.model, self.cache = model, cache
        self.vocab, self.window = model.vocab, getattr(model, "window", None)
        self.cell = getattr(model, "cell", None)
        # the hidden states are the keys only of a cache that counts; else the state
        # carries none (copying them at every step costs more than the rest of a beam's step)
        self.keeps_hidden = cache.keys == "hidden" and cache.lam > 0
        # how many of the ids read a step keeps in the state: the cache's window
        self.keeps_ids = self.window

    def initial_state(self, batch: int) -> list[np.ndarray]:
        inner = self.model.initial_state(batch)
        units = inner[self.model.output_state].shape[1]
        return [*inner, np.zeros((batch, 0, units), np.float32), np.zeros((batch, 0), np.int64)]

    def prefill(self, token_ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed a whole prompt (batch 1) in one pass when the model can return every state."""
        ids = np.asarray(token_ids, dtype=np.int64)
        run = getattr(self.model, "prefill_sequence", None)
        if run is None:  # step through it, collecting each state
            state = self.initial_state(1)
            for i in range(len(ids)):
                logp, state = self.step(ids[i : i + 1], state)
            return logp, state
        logp, inner, hidden = run(ids)
        if self.window:
            hidden, ids = hidden[-self.window :], ids[-self.window :]
        hidden = np.asarray(hidden if self.keeps_hidden else hidden[:0], dtype=np.float32)
        logp = np.asarray(logp, dtype=np.float64)
        return self.predict(logp, hidden[None], ids[None]), [*inner, hidden[None], ids[None]]

    def step(
        self, token_ids: np.ndarray, state: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        *inner, hidden, ids = state
        token_ids = np.asarray(token_ids)
        logp, inner = self.model.step(token_ids, inner)
        hidden, ids = self.extend(token_ids, inner, hidden, ids)
        return self.predict(logp, hidden, ids), [*inner, hidden, ids]

    def extend(self, token_ids: np.ndarray, inner: list[np.ndarray], hidden: np.ndarray,
               ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The hidden states and ids read, with this step's (`inner`: the model's new state)."""
        if self.keeps_hidden:
            h = np.asarray(inner[self.model.output_state], dtype=np.float32)
            hidden = np.concatenate([hidden, h[:, None, :]], axis=1)
        ids = np.concatenate([ids, token_ids[:, None].astype(np.int64)], axis=1)
        if self.keeps_ids and ids.shape[1] > self.keeps_ids:
            hidden, ids = hidden[:, -self.keeps_ids :], ids[:, -self.keeps_ids :]
        return hidden, ids

    def predict(self, logp: np.ndarray, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """(n, V) log-probs after n contexts `ids` (n, T), from the model's `logp` (n, V)
        and the hidden states (n, T, H) after each id: the model mixed with the cache."""
        logp = np.asarray(logp, dtype=np.float64)
        if ids.shape[1] < 2 or self.cache.lam == 0:
            return logp
        return self.cache.mix(logp, self.last_scores(hidden, ids), ids[:, 1:])

    def last_scores(self, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """(n, T - 1): each context's last position against its earlier ones."""
        return np.concatenate([self.cache.last_scores(hidden[b], ids[b])
                               for b in range(len(ids))])
