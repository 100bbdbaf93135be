"""Kneser-Ney LM: hand-computed values, normalisation, and nltk as the reference."""

from __future__ import annotations

import numpy as np
import pytest

from autocomplete.evaluate import START_ID, NextTokenModel
from autocomplete.evaluate.ngram import KneserNeyLM
from autocomplete.tokens import SPECIALS, tokenize

A, B, C = 3, 4, 5
TINY_VOCAB = ["", "[UNK]", "[start]", "a", "b", "c"]

TEXT = """\
Hi Anna, thanks for the report. I will send the report to the team tomorrow.
Could you send me the slides before the meeting? The meeting is at ten.
Thanks for the slides. I will send the notes to the team after the meeting.
Hi Tom, the report is late because the data was late. Sorry about that.
Could you send the data to Anna? She will check the report tomorrow.
Thanks, I will call you after the meeting tomorrow.
"""


def _corpus() -> tuple[list[list[int]], list[str]]:
    """One sequence per line, [start] + ids, vocab = specials + words by first use."""
    vocab = list(SPECIALS)
    index = {t: i for i, t in enumerate(vocab)}
    seqs = []
    for line in TEXT.splitlines():
        toks = tokenize(line)
        for t in toks:
            index.setdefault(t, len(index))
        seqs.append([START_ID] + [index[t] for t in toks])
    vocab += list(index)[len(SPECIALS) :]
    return seqs, vocab


def test_hand_computed_bigram() -> None:
    # Order 2, d = 0.75 on "a b a b c"; padded: [start] a b a b c, V = 6.
    # Bigrams ending on a real token: ([start] a) (a b) (b a) (a b) (b c).
    # Continuation counts N1+(. w): a: {[start], b} = 2, b: {a} = 1, c: {b} = 1;
    # 4 distinct bigrams, 3 words with N1+ > 0.
    #   P1(a) = (2 - .75)/4 + .75*3/4 * 1/6 = .3125 + .09375 = .40625
    #   P1(b) = P1(c) = .25/4 + .09375 = .15625;  P1(pad|unk|start) = .09375
    # Context a: c(a b) = 2, total 2, 1 type: alpha(b) = 1.25/2, gamma = .75/2
    #   P(b|a) = .625 + .375 * .15625 = .68359375;  P(a|a) = .375 * .40625 = .15234375
    # Context b: c(b a) = c(b c) = 1, total 2, 2 types: alpha = .25/2, gamma = .75
    #   P(a|b) = .125 + .75 * .40625 = .4296875;  P(c|b) = .125 + .75 * .15625 = .2421875
    #   P(b|b) = .75 * .15625 = .1171875
    # Context [start]: alpha(a) = .25, gamma = .75: P(a|[start]) = .25 + .75*.40625 = .5546875
    # Context c (never followed by anything): P(.|c) = P1.
    lm = KneserNeyLM(order=2, discount=0.75).fit([[START_ID, A, B, A, B, C]], TINY_VOCAB)
    expected = {
        (B, (START_ID, A)): 0.68359375,
        (A, (START_ID, A)): 0.15234375,
        (A, (START_ID, A, B)): 0.4296875,
        (C, (START_ID, A, B)): 0.2421875,
        (B, (START_ID, A, B)): 0.1171875,
        (A, (START_ID,)): 0.5546875,
        (A, (START_ID, C)): 0.40625,
        (B, (START_ID, C)): 0.15625,
        (0, (START_ID, C)): 0.09375,
    }
    for (token, context), p in expected.items():
        assert lm.logprob(token, list(context)) == pytest.approx(np.log(p), abs=1e-12)


def test_distributions_sum_to_one_and_are_positive() -> None:
    seqs, vocab = _corpus()
    lm = KneserNeyLM(order=4).fit(seqs, vocab)
    assert isinstance(lm, NextTokenModel)
    contexts = [s[:i] for s in seqs for i in range(1, len(s) + 1)]
    contexts += [[START_ID], [], [START_ID, 1, 1, 1], [START_ID] + [len(vocab) - 1] * 9]
    logp = lm.next_logprobs(contexts)
    assert logp.shape == (len(contexts), len(vocab))
    assert np.all(np.isfinite(logp))
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, atol=1e-12)


def test_short_contexts_are_padded_with_start() -> None:
    seqs, vocab = _corpus()
    lm = KneserNeyLM(order=4).fit(seqs, vocab)
    a, b, c = lm.next_logprobs([[START_ID], [START_ID] * 3, []])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    # only the last order-1 tokens matter
    s = seqs[0]
    np.testing.assert_array_equal(*lm.next_logprobs([s[:6], s[3:6]]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_few_contexts_get_the_same_numbers_as_many(dtype) -> None:
    """Up to FEW_CONTEXTS contexts are looked up one at a time: the same sums, same order."""
    from autocomplete.ngram import FEW_CONTEXTS

    seqs, vocab = _corpus()
    lm = KneserNeyLM(order=4).fit(seqs, vocab)
    contexts = [s[:i] for s in seqs for i in range(1, len(s) + 1)]
    contexts += [[START_ID], [], [START_ID, 1, 1, 1], [len(vocab) - 1] * 5]  # unseen ones
    assert len(contexts) > FEW_CONTEXTS
    many = lm.next_probs(contexts, dtype=dtype)
    assert many.dtype == dtype
    few = np.concatenate([lm.next_probs(contexts[i : i + FEW_CONTEXTS], dtype=dtype)
                          for i in range(0, len(contexts), FEW_CONTEXTS)])
    np.testing.assert_array_equal(few, many)


def test_a_context_in_sparse_form_is_its_dense_row() -> None:
    """total x unigram plus the few seen words is `next_probs`' row; the order is
    `context_orders`' (unseen contexts: the unigram alone, order 0)."""
    seqs, vocab = _corpus()
    lm = KneserNeyLM(order=4).fit(seqs, vocab)
    contexts = [s[:i] for s in seqs[:20] for i in range(1, len(s) + 1)]
    contexts += [[START_ID], [], [START_ID, 1, 1, 1], [len(vocab) - 1] * 5]
    orders = lm.context_orders(contexts)
    for context, row, order in zip(contexts, lm.next_probs(contexts), orders, strict=True):
        part = lm.sparse_next(context)
        dense = part.total * lm.unigram
        dense[part.ids] += part.probs
        np.testing.assert_allclose(dense, row, rtol=1e-12, atol=1e-15)
        assert part.order == order and len(set(part.ids.tolist())) == len(part.ids)
        assert (part.ids.size == 0) == (order == 0)  # never seen: the unigram alone
    assert 0 in orders


def test_rejects_ids_outside_vocab() -> None:
    with pytest.raises(ValueError):
        KneserNeyLM(order=2).fit([[START_ID, 7]], TINY_VOCAB)


# --------------------------------------------------------------------- nltk
# nltk.lm.KneserNeyInterpolated is the reference. To compare like with like we
# hand it exactly the n-grams our model counts (every n-gram of order 1..4 that
# ends on a real token of the [start]-padded sequence, no </s>), score with
# `unmasked_score` on the same padded context, and note where the two differ:
# nltk's recursion ends in the bare continuation unigram N1+(. w) / N1+(. .),
# ours interpolates that with a uniform distribution over the vocabulary.
# So (1) with unigram_discount=0 both must agree on every (context, word); and
# (2) with the default, nltk with its unigram swapped for ours must agree.


def _nltk_model(seqs: list[list[int]], vocab: list[str], order: int, discount: float):
    """nltk's model on the token strings of exactly the n-grams ours counts."""
    lm_mod = pytest.importorskip("nltk.lm")
    texts = []
    for ids in seqs:
        padded = [vocab[i] for i in [START_ID] * (order - 2) + ids]  # ids start with [start]
        grams = []
        for end in range(order - 1, len(padded)):
            grams += [tuple(padded[end - k + 1 : end + 1]) for k in range(1, order + 1)]
        texts.append(grams)
    lm = lm_mod.KneserNeyInterpolated(order, discount=discount)
    lm.fit(texts, vocabulary_text=vocab)
    return lm


def _contexts(seqs: list[list[int]], order: int) -> list[list[int]]:
    """Every context in the corpus, padded, plus a few unseen ones."""
    width = order - 1
    out = {tuple(([START_ID] * width + s[:i])[-width:]) for s in seqs for i in range(1, len(s))}
    out |= {(START_ID, 5, 3), (7, 7, 7), (1, 2, 3)}
    return [list(c) for c in sorted(out)]


@pytest.mark.parametrize("order", [2, 3, 4])
def test_matches_nltk_with_bare_continuation_unigram(order: int) -> None:
    seqs, vocab = _corpus()
    d = 0.75
    ours = KneserNeyLM(order=order, discount=d, unigram_discount=0.0).fit(seqs, vocab)
    ref = _nltk_model(seqs, vocab, order, d)
    contexts = _contexts(seqs, order)
    probs = ours.next_probs(contexts)
    words = range(len(vocab))
    for ctx, row in zip(contexts, probs, strict=True):
        expected = [ref.unmasked_score(vocab[w], tuple(vocab[i] for i in ctx)) for w in words]
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-9, err_msg=str(ctx))
    # with a bare unigram, words never seen after anything have probability 0
    assert probs[:, 0].max() == 0.0 and probs[:, START_ID].max() == 0.0


def test_matches_nltk_with_uniform_floor() -> None:
    seqs, vocab = _corpus()
    order, d = 4, 0.75
    ours = KneserNeyLM(order=order, discount=d).fit(seqs, vocab)
    ref = _nltk_model(seqs, vocab, order, d)
    est = ref.estimator
    words = range(len(vocab))
    cont = {w: est._continuation_counts(w) for w in vocab}
    total = next(t for _, t in cont.values())
    types = sum(c > 0 for c, _ in cont.values())

    def unigram_with_floor(word: str) -> float:
        return max(cont[word][0] - d, 0) / total + d * types / total / len(vocab)

    est.unigram_score = unigram_with_floor
    contexts = _contexts(seqs, order)
    probs = ours.next_probs(contexts)
    for ctx, row in zip(contexts, probs, strict=True):
        expected = [ref.unmasked_score(vocab[w], tuple(vocab[i] for i in ctx)) for w in words]
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-9, err_msg=str(ctx))
    assert probs.min() > 0


def test_context_orders_say_how_much_of_each_context_was_seen():
    vocab = ["", "[UNK]", "[start]", "a", "b", "c", "."]
    lm = KneserNeyLM(order=4).fit([[2, 3, 4, 5, 6], [2, 3, 3, 4, 6, 5]], vocab)
    contexts = [[2, 3, 4], [5, 5, 5, 5], [2, 6, 1], [4, 5], [6, 6, 3], []]
    # seen: (a b) -> c; only "c" of "c c c"; nothing of ". [UNK]"; "b c"; "a" after ". ."
    assert lm.context_orders(contexts).tolist() == [3, 1, 0, 2, 1, 3]
