"""Kept model states (`autocomplete.memo`): typing is answered as afresh, with fewer steps."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_TEXT

from autocomplete.decoding import Completer
from autocomplete.memo import StateMemo
from autocomplete.tokens import START_ID, tokenize


def _entry(nbytes: int) -> tuple[np.ndarray, list[np.ndarray]]:
    return np.zeros((1, nbytes // 8)), []


def test_the_memo_forgets_the_least_recently_used_past_its_budget():
    memo = StateMemo(max_bytes=3 * 800)
    for key in [(1,), (1, 2), (1, 2, 3)]:
        memo.put(key, *_entry(800))
    assert memo.get((1,)) is not None  # (1,) is now the most recently used
    memo.put((9,), *_entry(800))
    assert memo.get((1, 2)) is None and memo.get((1,)) is not None
    assert len(memo) == 3 and memo.bytes == 3 * 800
    memo.put((7,), *_entry(4000))  # larger than the whole budget: not kept
    assert memo.get((7,)) is None and len(memo) == 3
    # the longest kept prefix, no further back than asked
    assert memo.longest((1, 2, 3, 4, 5), back=4)[0] == 3
    assert memo.longest((1, 2, 3, 4, 5), back=1) == (0, None)
    assert memo.longest((1,), back=4)[0] == 1


class _Counting:
    """A step model that counts the rows it steps and the tokens it prefills."""

    def __init__(self, model):
        self.model, self.vocab, self.window = model, model.vocab, model.window
        self.rows = 0

    def initial_state(self, batch):
        return self.model.initial_state(batch)

    def step(self, token_ids, state):
        self.rows += len(token_ids)
        return self.model.step(token_ids, state)

    def prefill(self, token_ids):
        self.rows += len(token_ids)
        return self.model.prefill(token_ids)


@pytest.fixture
def blend(tiny_model_dir):
    from autocomplete.blend import BlendStepModel, BlendWeights
    from autocomplete.cache import ContinuousCache
    from autocomplete.fastpath import export_inference, load_step_model
    from autocomplete.ngram import KneserNeyLM

    model_dir = tiny_model_dir("lstm")
    export_inference(model_dir)
    inner = load_step_model(model_dir)
    index = {t: i for i, t in enumerate(inner.vocab)}
    ngram = KneserNeyLM(order=3).fit([[START_ID] + [index[t] for t in tokenize(TINY_TEXT)]],
                                     inner.vocab)
    return BlendStepModel(inner, ngram, ContinuousCache(theta=1.0, lam=0.0, keys="hidden"),
                          BlendWeights(0.5, 0.3, 0.2))


@pytest.mark.parametrize("method", ["beam", "greedy"])
def test_typing_with_kept_states_gets_the_fresh_answers_in_fewer_steps(blend, method):
    text = "hi mark, thanks for the update on the orion project. i need to take a"
    prompts = [text[:i] for i in range(1, len(text) + 1)]
    fresh, kept = _Counting(blend), _Counting(blend)
    afresh, remembering = Completer(fresh), Completer(kept, remember_mb=8)
    for prompt in prompts:
        a = afresh.complete(prompt, partial_word=True, method=method, max_words=4)
        b = remembering.complete(prompt, partial_word=True, method=method, max_words=4)
        assert (b.text, b.tokens, b.fragment) == (a.text, a.tokens, a.fragment), prompt
        assert b.confidence == pytest.approx(a.confidence, rel=1e-5)
    assert kept.rows < fresh.rows / 3
    assert 0 < remembering.memo.bytes <= 8 * 2**20
    assert afresh.memo is None  # none unless asked for


def test_the_server_keeps_states_unless_told_not_to(tiny_model_dir):
    from autocomplete.fastpath import export_inference
    from autocomplete.serve.app import load_engine

    model_dir = tiny_model_dir("gru")
    export_inference(model_dir)
    assert load_engine(model_dir, warm_up=False).completer.memo is not None
    assert load_engine(model_dir, warm_up=False, remember_mb=0).completer.memo is None
