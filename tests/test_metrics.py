"""Metrics on models and completers whose outputs are known in advance."""

from __future__ import annotations

import numpy as np
import pytest

from autocomplete.evaluate import OOV_ID, PAD_ID, START_ID
from autocomplete.evaluate.metrics import (
    NEVER,
    exact_match_at_n,
    greedy_completer,
    latency_ms,
    perplexity_and_accuracy,
    target_ranks,
)
from autocomplete.evaluate.ngram import KneserNeyLM

VOCAB = ["", "[UNK]", "[start]", "a", "b", "c", "d", "e", "f", "g"]
V = len(VOCAB)


class TableModel:
    """Next token depends on the last token only, through a fixed table of logprobs."""

    def __init__(self, table: np.ndarray) -> None:
        self.vocab = VOCAB
        self.table = table
        self.seen: list[list[int]] = []

    def next_logprobs(self, contexts: list[list[int]]) -> np.ndarray:
        self.seen += [list(c) for c in contexts]
        return self.table[[c[-1] for c in contexts]]


def cycle_model(p_right: float = 0.5) -> TableModel:
    """After token t it gives t+1 (wrapping over 3..9) probability p_right, rest uniform."""
    table = np.full((V, V), (1 - p_right) / (V - 1))
    for t in range(V):
        table[t, 3 + (t - 2) % 7] = p_right
    return TableModel(np.log(table))


def test_target_ranks_excludes_specials_and_ties_lose() -> None:
    probs = np.array(
        [
            [0.0, 0.4, 0.2, 0.2, 0.1, 0.1],  # [UNK], [start] >= 3, but are not candidates
            [0.0, 0.0, 0.0, 0.4, 0.4, 0.2],  # tie with token 4
            [0.0, 0.5, 0.0, 0.3, 0.1, 0.1],  # target [UNK]: never right
        ]
    )
    with np.errstate(divide="ignore"):
        ranks = target_ranks(np.log(probs), np.array([3, 3, OOV_ID]))
    assert ranks.tolist() == [0, 1, NEVER]


def test_perplexity_and_accuracy_on_known_model() -> None:
    model = cycle_model(0.5)
    # 3 -> 4 -> 5 right (after [start] the model expects 3), then 9 wrong, then pad
    seqs = [[START_ID, 3, 4, 5, 9, PAD_ID, PAD_ID], [START_ID, 3]]
    out = perplexity_and_accuracy(model, seqs, batch_size=2)
    # targets: 3 4 5 9 | 3 -> four right (p=.5), one wrong (p=.5/9)
    expected_ppl = np.exp(-(4 * np.log(0.5) + np.log(0.5 / 9)) / 5)
    assert out["tokens"] == 5
    assert out["perplexity"] == pytest.approx(expected_ppl)
    assert out["top1"] == pytest.approx(4 / 5)
    assert out["top5"] == pytest.approx(4 / 5)  # 9: behind 6, tied with 5 others -> rank 6
    assert all(c[0] == START_ID for c in model.seen)


def test_oov_target_counts_for_perplexity_but_is_never_correct() -> None:
    table = np.full((V, V), 1.0 / V)
    table[:, OOV_ID] = 0.9
    table /= table.sum(axis=1, keepdims=True)
    model = TableModel(np.log(table))
    out = perplexity_and_accuracy(model, [[START_ID, OOV_ID, OOV_ID]])
    assert out["tokens"] == 2
    assert out["perplexity"] == pytest.approx(1 / table[0, OOV_ID])
    assert out["top1"] == 0.0 and out["top5"] == 0.0


def test_long_contexts_are_truncated() -> None:
    model = cycle_model()
    seq = [START_ID] + [3 + i % 7 for i in range(20)]
    perplexity_and_accuracy(model, [seq], max_context=4)
    assert max(len(c) for c in model.seen) == 4
    assert model.seen[-1] == seq[-5:-1]


def test_kn_perplexity_matches_direct_sum() -> None:
    seqs = [[START_ID, 3, 4, 5, 3, 4, 6], [START_ID, 4, 5, 3, 4, 1, 7]]
    lm = KneserNeyLM(order=3).fit(seqs, VOCAB)
    direct = [lm.logprob(s[i], s[:i]) for s in seqs for i in range(1, len(s))]
    out = perplexity_and_accuracy(lm, seqs, batch_size=3)
    assert out["perplexity"] == pytest.approx(np.exp(-np.mean(direct)))


# ----------------------------------------------------------------- ExactMatch
SEQS = [
    [START_ID, 3, 4, 5, 6, 7, 8, 9, 3, 4],
    [START_ID, 9, 8, 7, 6, 5, 4, 3, 3, 3, 3, 3, 3],
    [START_ID, 5, 5, 5, 5, 5, 6, PAD_ID, PAD_ID],
    [START_ID, 3, 4],  # too short for N = 5: never cut
]


def truth_of(context: list[int]) -> list[int]:
    """The true continuation: find the sequence the context was cut from."""
    for seq in SEQS:
        clean = [t for t in seq if t != PAD_ID]
        if clean[: len(context)] == context:
            return clean[len(context) :]
    raise AssertionError(context)


def test_exact_match_truth_is_perfect() -> None:
    contexts: list[list[int]] = []

    def oracle(context: list[int]) -> list[int]:
        contexts.append(context)
        return truth_of(context)

    assert exact_match_at_n(oracle, SEQS, n_cuts=50) == {n: 1.0 for n in range(1, 6)}
    assert len(contexts) == 50
    for ctx in contexts:  # [start] + >= 1 token of context, >= 5 true tokens left
        assert ctx[0] == START_ID and len(ctx) >= 2
        assert len(truth_of(ctx)) >= 5 and PAD_ID not in truth_of(ctx)


def test_exact_match_two_right_then_wrong() -> None:
    def two_right(context: list[int]) -> list[int]:
        return truth_of(context)[:2] + [OOV_ID] * 3

    assert exact_match_at_n(two_right, SEQS) == {1: 1.0, 2: 1.0, 3: 0.0, 4: 0.0, 5: 0.0}
    short = exact_match_at_n(lambda c: truth_of(c)[:3], SEQS, n_cuts=20, seed=1)
    assert short == {1: 1.0, 2: 1.0, 3: 1.0, 4: 0.0, 5: 0.0}


def test_exact_match_empty_completion_is_zero() -> None:
    assert exact_match_at_n(lambda c: [], SEQS, n_max=3) == {1: 0.0, 2: 0.0, 3: 0.0}


def test_exact_match_is_seeded() -> None:
    def half(context: list[int]) -> list[int]:  # right only after an odd-length context
        return truth_of(context) if len(context) % 2 else []

    a = exact_match_at_n(half, SEQS, n_cuts=40, seed=7)
    assert a == exact_match_at_n(half, SEQS, n_cuts=40, seed=7)
    assert 0.0 < a[1] < 1.0
    with pytest.raises(ValueError):
        exact_match_at_n(half, [[START_ID, 3, 4]], n_max=5)


def test_greedy_completer_follows_argmax_and_skips_specials() -> None:
    model = cycle_model(0.5)
    complete = greedy_completer(model, max_tokens=5)
    assert complete([START_ID, 8]) == [9, 3, 4, 5, 6]
    # a model that loves [UNK] still never suggests it
    table = np.log(np.full((V, V), 0.05))
    table[:, OOV_ID] = 0.0
    table[:, 6] = -0.5
    assert greedy_completer(TableModel(table), max_tokens=3)([START_ID]) == [6, 6, 6]
    em = exact_match_at_n(greedy_completer(model), [[START_ID] + [3 + i % 7 for i in range(30)]])
    assert em == {n: 1.0 for n in range(1, 6)}


def test_latency_ms_reports_median_and_p90() -> None:
    calls: list[int] = []
    out = latency_ms(calls.append, [1, 2, 3], repeats=2)
    assert len(calls) == 1 + 6  # one warm-up
    assert set(out) == {"median", "p90"}
    assert 0.0 <= out["median"] <= out["p90"]
