"""Next-token and completion metrics, computed through `NextTokenModel` only.

One definition for every model (neural models that compute these faster
themselves must match it):

* Targets are every position after [start] of each sequence (or from a
  given start on: the body's tokens of a subject-trained model's sequences);
  PAD_ID positions are skipped, so padding is never predicted.
* Perplexity = exp(mean negative log-probability of the target). An OOV
  target counts: the model is scored on the probability it gives "[UNK]".
* Top-k accuracy ranks the target among the candidates an app could
  suggest: every token except pad, "[UNK]" and "[start]" (`SPECIAL_IDS`).
  rank = number of other candidates whose log-probability is >= the
  target's (ties count against the model); correct iff rank < k. A special
  target (in practice OOV) is never correct, but stays in the denominator.
* ExactMatch@N (Smart Compose, Chen et al. KDD 2019): cut an email at a
  random token boundary, complete, and count a hit when the first N
  completion tokens equal the true next N tokens. Tokens, not words: a
  punctuation token is one of the N, so this is a little stricter than
  matching words only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from autocomplete.evaluate import NextTokenModel
from autocomplete.tokens import PAD_ID, SPECIAL_IDS, START_ID, SUBJECT_SEPARATOR

NEVER = np.iinfo(np.int64).max  # the rank of a target that can never be right


def target_ranks(logprobs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Rank of each target among the non-special tokens (0 = top-1; ties lose).

    `logprobs` is (batch, vocab); special targets get rank NEVER.
    """
    logprobs = np.asarray(logprobs)
    targets = np.asarray(targets, dtype=np.int64)
    rows = np.arange(len(targets))
    target_lp = logprobs[rows, targets]
    candidates = np.ones(logprobs.shape[1], dtype=bool)
    candidates[list(SPECIAL_IDS)] = False
    ranks = (logprobs[:, candidates] >= target_lp[:, None]).sum(axis=1) - 1
    return np.where(candidates[targets], ranks, NEVER)


def never_generated(vocab: Sequence[str]) -> list[int]:
    """Ids a completer of ids never picks: the specials, and the subject separator when
    the vocabulary holds it (a subject-trained model's)."""
    return list(SPECIAL_IDS) + [i for i, t in enumerate(vocab) if t == SUBJECT_SEPARATOR]


def _positions(
    sequences: Sequence[Sequence[int]], max_context: int, starts: Sequence[int] | None = None
) -> Iterator[tuple[list[int], int]]:
    """(context, target) for every non-pad position after [start] (from `starts[k]` on
    in sequence k)."""
    for k, seq in enumerate(sequences):
        seq = list(seq)
        for i in range(1 if starts is None else max(1, starts[k]), len(seq)):
            if seq[i] != PAD_ID:
                yield seq[max(0, i - max_context) : i], seq[i]


def perplexity_and_accuracy(
    model: NextTokenModel,
    sequences: Sequence[Sequence[int]],
    max_context: int = 256,
    batch_size: int = 512,
    starts: Sequence[int] | None = None,
) -> dict[str, float]:
    """Perplexity, top-1 and top-5 accuracy of next-token prediction.

    Contexts longer than `max_context` keep their last `max_context` ids
    (so [start] falls off). `starts[k]`: the position of sequence k's first
    target (default 1, the token after [start]; `textprep.body_offsets` + 1
    scores the body's tokens only). Returns perplexity, top1, top5 and tokens
    (the number of positions scored).
    """
    nll = 0.0
    hits1 = hits5 = total = 0

    def score(batch: list[tuple[list[int], int]]) -> None:
        nonlocal nll, hits1, hits5, total
        logprobs = model.next_logprobs([c for c, _ in batch])
        targets = np.array([t for _, t in batch])
        nll -= float(logprobs[np.arange(len(batch)), targets].sum())
        ranks = target_ranks(logprobs, targets)
        hits1 += int((ranks < 1).sum())
        hits5 += int((ranks < 5).sum())
        total += len(batch)

    batch: list[tuple[list[int], int]] = []
    for item in _positions(sequences, max_context, starts):
        batch.append(item)
        if len(batch) == batch_size:
            score(batch)
            batch = []
    if batch:
        score(batch)
    if not total:
        raise ValueError("no tokens to score")
    return {
        "perplexity": float(np.exp(nll / total)),
        "top1": hits1 / total,
        "top5": hits5 / total,
        "tokens": total,
    }


def exact_match_at_n(
    completer: Callable[[list[int]], Sequence[int]],
    sequences: Sequence[Sequence[int]],
    n_max: int = 5,
    n_cuts: int | None = None,
    seed: int = 0,
    starts: Sequence[int] | None = None,
) -> dict[int, float]:
    """ExactMatch@N for N = 1..n_max: share of cuts whose completion starts right.

    A cut keeps [start] plus at least one token as context and leaves at least
    `n_max` true tokens after it, so every N is measured on the same cuts.
    With `starts` (as for `perplexity_and_accuracy`) the context holds at
    least the token at `starts[k]` of sequence k, so only the body is cut.
    `n_cuts=None` takes one random cut per eligible sequence; a number takes
    that many, visiting the eligible sequences in a seeded random order (again
    and again if needed). A completion shorter than N misses at N.
    """
    rng = np.random.default_rng(seed)
    seqs = [[t for t in s if t != PAD_ID] for s in sequences]
    first = [2] * len(seqs) if starts is None else [max(1, s) + 1 for s in starts]
    # context = seq[:cut] with first <= cut (2: [start] and a token), len(seq) - cut >= n_max
    eligible = [i for i, s in enumerate(seqs) if len(s) - n_max >= first[i]]
    if not eligible:
        raise ValueError(f"no sequence has a context token and {n_max} tokens after it")
    if n_cuts is None:
        order = eligible
    else:
        reps = -(-n_cuts // len(eligible))
        order = np.concatenate([rng.permutation(eligible) for _ in range(reps)])[:n_cuts]
    hits = np.zeros(n_max + 1)
    for i in order:
        seq = seqs[i]
        cut = int(rng.integers(first[i], len(seq) - n_max + 1))
        truth = seq[cut : cut + n_max]
        guess = [int(t) for t in completer(seq[:cut])]
        for n in range(1, n_max + 1):
            hits[n] += guess[:n] == truth[:n]  # a short guess fails the length test
    return {n: float(hits[n] / len(order)) for n in range(1, n_max + 1)}


def greedy_completer(
    model: NextTokenModel, max_tokens: int = 5
) -> Callable[[list[int]], list[int]]:
    """Completer that appends the most likely non-special token `max_tokens` times
    (never the subject separator either)."""
    banned = never_generated(model.vocab)

    def complete(context: list[int]) -> list[int]:
        ctx = list(context) or [START_ID]
        out: list[int] = []
        for _ in range(max_tokens):
            logprobs = np.array(model.next_logprobs([ctx])[0], dtype=np.float64)
            logprobs[banned] = -np.inf
            out.append(int(np.argmax(logprobs)))
            ctx.append(out[-1])
        return out

    return complete


def latency_ms(
    fn: Callable[[Any], Any], inputs: Sequence[Any], repeats: int = 3
) -> dict[str, float]:
    """Median and 90th-percentile wall time of one `fn(input)` call, in ms.

    One untimed warm-up call first, so one-off costs (tracing, caches) do
    not pollute what a user would feel on every keystroke.
    """
    if not inputs:
        raise ValueError("need at least one input")
    fn(inputs[0])
    times = []
    for _ in range(repeats):
        for x in inputs:
            start = time.perf_counter()
            fn(x)
            times.append((time.perf_counter() - start) * 1000.0)
    return {"median": float(np.median(times)), "p90": float(np.percentile(times, 90))}
