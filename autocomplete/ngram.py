"""Interpolated Kneser-Ney n-gram language model: the baseline to beat.

An order-4 KN model only sees the last three tokens, so it is the natural
yardstick for the recurrent models: whatever they recall beyond that window
is memory the n-gram cannot have.

Definition (plain interpolated KN, one discount d, Chen & Goodman 1998):

    P_k(w | h) = max(c_k(h w) - d, 0) / c_k(h .) + d * N1+(h .) / c_k(h .) * P_{k-1}(w | h')

where h' is h without its first token; c_k is the raw count at the highest
order and the continuation count N1+(. h w) (number of distinct left
neighbours) at lower orders; an unseen h gives P_k = P_{k-1}. The recursion
ends in the continuation unigram interpolated with a uniform distribution
over the whole vocabulary (with `unigram_discount`), so every token,
including ones never seen, has a nonzero probability. Up to that last step
this is exactly `nltk.lm.KneserNeyInterpolated` given the same n-grams
(tests compare them; nltk's own pipeline also appends </s> and counts
n-grams that end on <s>); nltk stops at the bare continuation unigram,
which is `unigram_discount=0` here.

Every sequence is one email, [START_ID, w1, w2, ...]; it is padded on the
left to order-1 START_IDs and n-grams are counted only where they end on a
real token, so [start] is context, never a counted prediction (it keeps
only the uniform floor).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from autocomplete.tokens import PAD_ID, START_ID

FEW_CONTEXTS = 8  # up to this many contexts, `next_probs` looks each up alone (faster)


@dataclass(frozen=True)
class _Level:
    """All contexts of one length k, sorted by their base-V code.

    Context j (code `codes[j]`) is followed by `ids[starts[j]:ends[j]]`, each
    with discounted mass `alpha[...]`, and leaves `gamma[j]` to the lower order.
    Sorted integer codes + searchsorted keep a million contexts in a few MB and
    look a whole batch up at once (a dict of tuples took ~0.5 GB).
    """

    codes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    gamma: np.ndarray
    ids: np.ndarray
    alpha: np.ndarray


@dataclass(frozen=True)
class SparseNext:
    """The next-token distribution after one context: `total * unigram`, plus `probs` at
    `ids` (distinct); `order`: how many of the context's last tokens the model saw."""

    total: float
    ids: np.ndarray
    probs: np.ndarray
    order: int


class KneserNeyLM:
    """Interpolated Kneser-Ney LM implementing `NextTokenModel`.

    After `fit`, level k (contexts of length k, 1 <= k < order) holds each
    seen context's next ids, their discounted mass alpha and the lower-order
    weight gamma, so a batch of full next-token distributions is a few
    vectorised numpy operations per order.
    """

    def __init__(
        self, order: int = 4, discount: float = 0.75, *, unigram_discount: float | None = None
    ) -> None:
        if order < 1:
            raise ValueError("order must be >= 1")
        for d in (discount, unigram_discount):
            if d is not None and not 0.0 <= d <= 1.0:
                raise ValueError("discounts must lie in [0, 1] for probabilities to sum to 1")
        self.order = order
        self.discount = discount
        self.unigram_discount = discount if unigram_discount is None else unigram_discount
        self.vocab: list[str] = []
        self._unigram = np.zeros(0)
        self._levels: list[_Level] = []  # index k-1 holds contexts of length k

    # ------------------------------------------------------------------ fit
    def fit(self, sequences: Iterable[Sequence[int]], vocab: list[str]) -> KneserNeyLM:
        """Count n-grams of `sequences` and build the tables.

        Each sequence is one email's ids (< len(vocab); OOV already 1), with or
        without its leading START_ID; PAD_ID entries are dropped.
        """
        self.vocab = list(vocab)
        v = len(self.vocab)
        if v ** (self.order - 1) >= 2**63:
            raise ValueError("vocab too large for this order: context codes overflow int64")
        grams = self._top_grams(sequences)
        if grams.size and (grams.min() < 0 or grams.max() >= v):
            raise ValueError(f"token ids must lie in [0, {v}); map OOV words to 1 first")

        # Highest order: raw counts. Lower orders: continuation counts, i.e. how
        # many distinct (k+1)-grams end in the k-gram.
        rows, counts = _unique_rows(grams)
        tables: list[tuple[np.ndarray, np.ndarray]] = [(rows, counts)]
        for _ in range(self.order - 1):
            rows, counts = _unique_rows(rows[:, 1:])
            tables.append((rows, counts))
        tables.reverse()  # tables[k-1]: k-grams

        uni_rows, uni_counts = tables[0]
        d1 = self.unigram_discount
        unigram = np.zeros(v)
        total = uni_counts.sum()
        if total:
            unigram[uni_rows[:, 0]] = np.maximum(uni_counts - d1, 0.0) / total
            unigram += d1 * len(uni_counts) / total / v
        else:  # no data: uniform
            unigram += 1.0 / v
        self._unigram = unigram
        self._levels = [self._level(rows, counts) for rows, counts in tables[1:]]
        return self

    def _top_grams(self, sequences: Iterable[Sequence[int]]) -> np.ndarray:
        """All order-grams that end on a real token, as an (n, order) int array."""
        n = self.order
        chunks: list[np.ndarray] = []
        for seq in sequences:
            body = np.asarray(seq, dtype=np.int64)
            if body.size and body[0] == START_ID:
                body = body[1:]
            body = body[body != PAD_ID]
            if not body.size:
                continue
            padded = np.concatenate([np.full(n - 1, START_ID, dtype=np.int64), body])
            windows = np.lib.stride_tricks.sliding_window_view(padded, n)
            chunks.append(windows)
        if not chunks:
            return np.zeros((0, n), dtype=np.int64)
        return np.concatenate(chunks)

    def _level(self, rows: np.ndarray, counts: np.ndarray) -> _Level:
        """Group lexicographically sorted k-grams by context into a `_Level`."""
        d = self.discount
        ctx = rows[:, :-1]
        new = np.ones(len(rows), dtype=bool)
        new[1:] = np.any(ctx[1:] != ctx[:-1], axis=1)
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(rows)).astype(np.int64)
        if len(rows):
            totals = np.add.reduceat(counts, starts).astype(np.float64)
        else:
            totals = np.zeros(0)
        return _Level(
            codes=self._codes(ctx[starts]),
            starts=starts,
            ends=ends,
            gamma=d * (ends - starts) / totals,
            ids=np.ascontiguousarray(rows[:, -1]),
            alpha=np.maximum(counts - d, 0.0) / np.repeat(totals, ends - starts),
        )

    def _codes(self, ctx: np.ndarray) -> np.ndarray:
        """Base-V integer code of each context row; keeps lexicographic order."""
        powers = len(self.vocab) ** np.arange(ctx.shape[1] - 1, -1, -1, dtype=np.int64)
        return ctx.astype(np.int64) @ powers

    # ------------------------------------------------------------ predict
    def next_probs(self, contexts: Sequence[Sequence[int]], dtype=np.float64) -> np.ndarray:
        """(len(contexts), len(vocab)) next-token probabilities; rows sum to 1.

        `dtype` float32 halves the dense pass (what the completion engine asks for)."""
        if not self.vocab:
            raise RuntimeError("fit the model first")
        tails = self._tails(contexts)
        if tails.size and (tails.min() < 0 or tails.max() >= len(self.vocab)):
            raise ValueError("context ids must lie in [0, len(vocab))")
        n = len(tails)
        if n <= FEW_CONTEXTS:
            return self._next_probs_each(tails, np.dtype(dtype))
        # P_k = gamma_k P_{k-1} + alpha_k unrolls to (prod of the gammas) * unigram plus each
        # level's alphas times the gammas above it: one dense pass over (n, V), not one per level
        found = []
        for _, level, pos, hit in self._lookup(tails):
            # unseen context: alpha = 0, gamma = 1 (defer wholly to the lower order)
            found.append((level, pos, hit, np.where(hit, level.gamma[pos], 1.0)))
        total = np.ones(n)
        for *_, gamma in found:
            total *= gamma
        unigram = self._unigram if dtype == np.float64 else self._unigram.astype(dtype)
        probs = total.astype(dtype)[:, None] * unigram[None, :]
        scale = np.ones(n)
        for level, pos, hit, gamma in reversed(found):
            batch_rows, groups = np.flatnonzero(hit), pos[hit]
            lengths = level.ends[groups] - level.starts[groups]
            offsets = np.cumsum(lengths) - lengths
            flat = np.arange(lengths.sum()) + np.repeat(level.starts[groups] - offsets, lengths)
            rows = np.repeat(batch_rows, lengths)
            probs[rows, level.ids[flat]] += level.alpha[flat] * scale[rows]
            scale = scale * gamma
        return probs

    def _next_probs_each(self, tails: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """`next_probs` one context at a time: the same sums in the same order, with
        scalar lookups, for the few contexts of a completion step."""
        unigram = self._unigram.astype(dtype, copy=False)
        probs = np.empty((len(tails), len(self.vocab)), dtype)
        for row, tail in zip(probs, tails.tolist(), strict=True):
            found, total, _ = self._find(tail)
            np.multiply(unigram, dtype.type(total), out=row)
            scale = 1.0
            for level, j in reversed(found):
                start, end = level.starts[j], level.ends[j]
                row[level.ids[start:end]] += level.alpha[start:end] * scale
                scale *= level.gamma[j]
        return probs

    def _find(self, tail: Sequence[int]) -> tuple[list[tuple[_Level, int]], float, int]:
        """The levels where a tail of order - 1 ids was seen as a context, lowest first, as
        (level, its index there); the product of their gammas; the highest order seen."""
        width, v = len(tail), len(self.vocab)
        found, total, order = [], 1.0, 0
        for k, level in enumerate(self._levels, start=1):
            code = 0
            for token in tail[width - k :]:
                code = code * v + token
            j = int(level.codes.searchsorted(code))
            if j < len(level.codes) and level.codes[j] == code:
                found.append((level, j))
                total *= level.gamma[j]
                order = k
        return found, total, order

    @property
    def unigram(self) -> np.ndarray:
        """(V,) the last level of the interpolation: what an unseen context gets."""
        return self._unigram

    def sparse_next(self, context: Sequence[int]) -> SparseNext:
        """`next_probs` of one context as `total` x the unigram plus `probs` at `ids` (the
        few words the context was seen with), and `context_orders`' order: a mixture can
        then add the dense part in one product and the rest at a few ids."""
        found, total, order = self._find(_tail(context, self.order - 1))
        ids, probs, scale = [], [], 1.0
        for level, j in reversed(found):
            start, end = level.starts[j], level.ends[j]
            ids.append(level.ids[start:end])
            probs.append(level.alpha[start:end] * scale)
            scale *= level.gamma[j]
        if not ids:
            return SparseNext(total, np.zeros(0, np.int64), np.zeros(0), order)
        if len(ids) == 1:  # one level: its ids are distinct
            return SparseNext(total, ids[0], probs[0], order)
        # a word seen after several of the context's tails: one entry, the levels' sum
        summed = np.bincount(np.concatenate(ids), np.concatenate(probs),
                             minlength=len(self.vocab))
        ids = np.flatnonzero(summed)
        return SparseNext(total, ids, summed[ids], order)

    def context_orders(self, contexts: Sequence[Sequence[int]]) -> np.ndarray:
        """(len(contexts),) how many of each context's last tokens (0 to order - 1) the
        n-gram saw as a context in training: how much of the context it knows."""
        tails = self._tails(contexts)
        orders = np.zeros(len(tails), dtype=np.int64)
        for k, _, _, hit in self._lookup(tails):
            orders[hit] = k
        return orders

    def _tails(self, contexts: Sequence[Sequence[int]]) -> np.ndarray:
        """(n, order - 1) the last ids of each context, left-padded with START_ID."""
        width = self.order - 1
        return np.array([_tail(c, width) for c in contexts],
                        dtype=np.int64).reshape(len(contexts), width)

    def _lookup(self, tails: np.ndarray):
        """Per level k with contexts, lowest first: (k, the level, each tail's position in
        it, whether its last k ids are a context there)."""
        width = tails.shape[1]
        for k, level in enumerate(self._levels, start=1):
            if not len(level.codes):
                continue
            codes = self._codes(tails[:, width - k :])
            pos = np.minimum(np.searchsorted(level.codes, codes), len(level.codes) - 1)
            yield k, level, pos, level.codes[pos] == codes

    def next_logprobs(self, contexts: list[list[int]]) -> np.ndarray:
        """Natural-log next-token probabilities (the `NextTokenModel` protocol)."""
        with np.errstate(divide="ignore"):  # only reachable with unigram_discount=0
            return np.log(self.next_probs(contexts))

    def logprob(self, token: int, context: Sequence[int]) -> float:
        """Natural-log probability of `token` after `context`."""
        return float(self.next_logprobs([list(context)])[0, token])

    # ---------------------------------------------------------- save / load
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted tables to an .npz (numpy arrays only, no pickle); `load` reads it.

        A 4-gram of a few hundred thousand tokens takes a few MB; loading it
        needs neither TensorFlow nor the training mail.
        """
        if not self.vocab:
            raise RuntimeError("fit the model first")
        arrays = {"vocab": np.array(self.vocab, dtype=str), "unigram": self._unigram,
                  "settings": np.array([self.order, self.discount, self.unigram_discount])}
        for k, level in enumerate(self._levels, start=1):
            for f in fields(_Level):
                arrays[f"level{k}_{f.name}"] = getattr(level, f.name)
        path = Path(path)
        with open(path, "wb") as out:  # a file object: savez would append .npz to the name
            np.savez_compressed(out, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> KneserNeyLM:
        """The model `save` wrote; ValueError when the file is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                order, discount, unigram_discount = data["settings"].tolist()
                lm = cls(int(order), float(discount), unigram_discount=float(unigram_discount))
                lm.vocab = data["vocab"].tolist()
                lm._unigram = data["unigram"]
                lm._levels = [
                    _Level(**{f.name: data[f"level{k}_{f.name}"] for f in fields(_Level)})
                    for k in range(1, lm.order)
                ]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path} is not a saved n-gram model: {e}") from e
        return lm


class NgramStepModel:
    """A fitted `KneserNeyLM` as a decoding step model: the state is the last order-1 ids.

    Lets the n-gram complete prompts through the same `decoding.Completer`
    (beam search, stopping rules) as the neural models.

    Example:

    ```python
    Completer(NgramStepModel(KneserNeyLM(order=4).fit(train, vocab))).complete("Thanks for")
    ```
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


def _tail(context: Sequence[int], width: int) -> tuple[int, ...]:
    """Last `width` ids of the context, left-padded with START_ID."""
    tail = tuple(context[-width:]) if width else ()
    return (START_ID,) * (width - len(tail)) + tail


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in lexicographic order, with how often each occurs."""
    if not len(rows):
        return rows, np.zeros(0, dtype=np.int64)
    order = np.lexsort(rows.T[::-1])
    rows = rows[order]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(rows)))
    return rows[starts], counts
