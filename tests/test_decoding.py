"""Search over step models: a hand-made Markov model, and stateful Keras parity."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_model_dir

from autocomplete.decoding import Completer, encode_prompt, reorder

VOCAB = ["", "[UNK]", "[start]", "a", "b", "c", ".", ",", "x"]
ID = {t: i for i, t in enumerate(VOCAB)}
# next-token probabilities given the previous token (the rest share a small epsilon)
ROWS = {
    "[start]": {"x": 0.9},
    "x": {"a": 0.5, "b": 0.4, "c": 0.05},
    "a": {".": 0.34, "c": 0.33, "b": 0.3},  # greedy: "a ." = 0.5 * 0.34 = 0.17
    "b": {".": 0.9},  # beam: "b ." = 0.4 * 0.9 = 0.36
    "c": {",": 0.6, "c": 0.38},
    ",": {"[UNK]": 0.5, "c": 0.45},  # [UNK] must never be generated
    ".": {"a": 0.9},
}


class MarkovStepModel:
    """A first-order Markov "language model"; the state counts tokens fed per row."""

    def __init__(self, window: int | None = 16, vocab: list[str] = VOCAB,
                 rows: dict[str, dict[str, float]] = ROWS):
        self.vocab, self.window = vocab, window
        index = {t: i for i, t in enumerate(vocab)}
        table = np.full((len(vocab), len(vocab)), 1e-3)
        for prev, nxt in rows.items():
            for tok, p in nxt.items():
                table[index[prev], index[tok]] = p
        self.logp = np.log(table / table.sum(axis=1, keepdims=True))
        self.batches: list[int] = []

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, 1))]

    def step(self, token_ids, state):
        self.batches.append(len(token_ids))
        return self.logp[np.asarray(token_ids)], [state[0] + 1]


def test_beam_finds_the_better_sequence_greedy_misses():
    completer = Completer(MarkovStepModel())
    greedy = completer.complete("x", method="greedy")
    beam = completer.complete("x", method="beam", beam=2)
    assert greedy.tokens == ["a", "."] and beam.tokens == ["b", "."]
    assert beam.text == "b." and beam.confidence > greedy.confidence
    p = np.exp(MarkovStepModel().logp)
    probs = [p[ID["x"], ID["b"]], p[ID["b"], ID["."]]]
    assert beam.token_probs == pytest.approx(probs)
    assert beam.confidence == pytest.approx(np.sqrt(probs[0] * probs[1]))
    assert beam.score == pytest.approx(np.log(beam.confidence))


def test_beam_steps_all_beams_in_one_batched_call():
    model = MarkovStepModel()
    Completer(model).complete("x", method="beam", beam=3)
    prompt_steps = 2  # [start], x
    assert model.batches[:prompt_steps] == [1, 1]
    assert max(model.batches) == 3


def test_stops_after_sentence_end_and_includes_it():
    out = Completer(MarkovStepModel()).complete("x", method="greedy", max_words=10)
    assert out.tokens[-1] == "." and out.text == "a."


def test_max_words_does_not_count_punctuation_and_never_emits_specials():
    out = Completer(MarkovStepModel()).complete("c", method="greedy", max_words=3)
    assert out.tokens == [",", "c", ",", "c", ",", "c"]
    assert "[UNK]" not in out.tokens


def test_min_confidence_suppresses_a_weak_completion():
    completer = Completer(MarkovStepModel())
    weak = completer.complete("x", method="greedy", min_confidence=0.5)
    assert weak.text == "" and weak.tokens == [] and weak.suppressed
    p = np.exp(MarkovStepModel().logp)
    assert weak.confidence == pytest.approx(np.sqrt(p[ID["x"], ID["a"]] * p[ID["a"], ID["."]]))
    shown = completer.complete("x", method="greedy", min_confidence=0.3)
    assert shown.text == "a." and not shown.suppressed


TRIM_VOCAB = ["", "[UNK]", "[start]", "x", "sure", "thing", "elephant", "giraffe", "don",
              "'", "t", "know", "."]
TRIM_ROWS = {
    "[start]": {"x": 0.9},
    "x": {"sure": 0.9, "don": 0.05},
    "sure": {"thing": 0.9},
    "thing": {"elephant": 0.2, "giraffe": 0.19, ".": 0.19, "know": 0.19, "don": 0.19},
    "elephant": {".": 0.99},
    "giraffe": {".": 0.99},
    "don": {"'": 0.3, "know": 0.29, "sure": 0.2, "thing": 0.2},
    "'": {"t": 0.99},
    "t": {"know": 0.2, "elephant": 0.19, "giraffe": 0.19, "sure": 0.19, "thing": 0.19},
    "know": {".": 0.99},
}


def test_trim_keeps_the_prefix_with_the_most_expected_characters_saved():
    completer = Completer(MarkovStepModel(vocab=TRIM_VOCAB, rows=TRIM_ROWS))
    whole = completer.complete("x", method="greedy")
    assert whole.text == "sure thing elephant."
    # P x (characters - 1): "sure" 0.9 x 3, "sure thing" 0.81 x 9 (the most),
    # "sure thing elephant" 0.16 x 18, with "." 0.16 x 19
    trimmed = completer.complete("x", method="greedy", trim=True)
    assert trimmed.text == "sure thing" and trimmed.tokens == ["sure", "thing"]
    assert trimmed.confidence == pytest.approx(np.sqrt(np.prod(whole.token_probs[:2])))
    assert trimmed.token_probs == pytest.approx(whole.token_probs[:2])


def test_trim_may_cut_before_punctuation():
    rows = TRIM_ROWS | {"thing": {",": 0.8, "giraffe": 0.1, "know": 0.1},
                        ",": {"elephant": 0.2, "giraffe": 0.19, "know": 0.19, "don": 0.19,
                              "x": 0.19}}
    completer = Completer(MarkovStepModel(vocab=TRIM_VOCAB + [","], rows=rows))
    assert completer.complete("x", method="greedy").text.startswith("sure thing, elephant")
    # "sure thing" 0.81 x 9 is more than "sure thing," 0.65 x 10
    assert completer.complete("x", method="greedy", trim=True).text == "sure thing"


def test_trim_never_cuts_inside_a_word():
    # expected characters saved: "on" 1 x 1, "on't" 0.3 x 3, "on't know." 0.06 x 9;
    # "don ' t" is one word, so "on" is no place to cut
    completer = Completer(MarkovStepModel(vocab=TRIM_VOCAB, rows=TRIM_ROWS))
    out = completer.complete("x d", method="greedy", partial_word=True, trim=True)
    assert out.text == "on't" and out.continues_word


def test_trimmed_completion_is_greedy_unless_a_beam_is_given():
    completer = Completer(MarkovStepModel())
    assert completer.complete("x").text == "b."  # beam search by default
    assert completer.complete("x", trim=True).text == "a."  # greedy: "a" is likelier than "b"
    assert completer.complete("x", trim=True, beam=2).text == "b."


def test_trimmed_greedy_search_stops_early_with_the_same_result(monkeypatch):
    # random Markov models whose words are likely at first and unsure later: the search
    # may stop once no later cut can beat the best one, and must trim to the same tokens
    vocab = ["", "[UNK]", "[start]", "a", "bb", "ccc", "dddd", "'", "t", "-", "e", ",", "."]
    rng = np.random.default_rng(0)
    runs = []
    for trial in range(40):
        rows = {prev: dict(zip(vocab[3:], rng.dirichlet(np.full(len(vocab) - 3, 0.3)),
                               strict=True)) for prev in vocab[2:]}
        model = MarkovStepModel(vocab=vocab, rows=rows)
        completer = Completer(model)
        prompt = ["a bb", "ccc d", "a - e", "bb '"][trial % 4]
        for watch in (True, False):
            if not watch:
                monkeypatch.setattr("autocomplete.decoding._CutWatch.done",
                                    lambda self: False)
            model.batches.clear()
            out = completer.complete(prompt, trim=True, max_words=12, partial_word=True)
            runs.append((watch, out.tokens, out.token_probs, len(model.batches)))
            monkeypatch.undo()
    early, full = runs[0::2], runs[1::2]
    assert [r[1:3] for r in early] == [r[1:3] for r in full]
    assert all(e[3] <= f[3] for e, f in zip(early, full, strict=True))
    assert sum(e[3] for e in early) < sum(f[3] for f in full)  # it did stop early


def test_long_prompt_keeps_the_most_recent_tokens():
    ids, info = encode_prompt("a b c a b c x", VOCAB, window=4)
    assert ids == [ID[t] for t in "c a b c x".split()][-4:]
    assert info == {"prompt_tokens": 7, "kept_tokens": 4, "unknown_words": 0, "truncated": True,
                    "fragment": ""}
    ids, info = encode_prompt("a b", VOCAB, window=4)
    assert ids == [2, ID["a"], ID["b"]] and not info["truncated"]
    out = Completer(MarkovStepModel(window=4)).complete("a b c a b c x", method="greedy")
    assert out.truncated and out.prompt_tokens == 7 and out.kept_tokens == 4


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_prompt_is_an_error(text):
    with pytest.raises(ValueError, match="empty"):
        Completer(MarkovStepModel()).complete(text)


def test_prompt_of_unknown_words_still_completes_and_says_so():
    ids, info = encode_prompt("Zyzzyva quux", VOCAB)
    assert ids == [2, 1, 1] and info["unknown_words"] == 2
    out = Completer(MarkovStepModel()).complete("Zyzzyva quux", method="greedy")
    assert out.text and out.unknown_words == out.kept_tokens == 2


def test_sampling_is_reproducible_with_a_seed():
    completer = Completer(MarkovStepModel())
    runs = [completer.complete("x", method="sample", temperature=3.0, seed=s).tokens
            for s in range(8)]
    again = [completer.complete("x", method="sample", temperature=3.0, seed=s).tokens
             for s in range(8)]
    assert runs == again and len({tuple(r) for r in runs}) > 1
    cold = completer.complete("x", method="sample", temperature=0.01, seed=1)
    assert cold.tokens == ["a", "."]  # near-zero temperature is greedy


def test_reorder_picks_beam_rows():
    state = [np.arange(6.0).reshape(3, 2), np.arange(3.0)[:, None]]
    out = reorder(state, np.array([2, 2, 0]))
    assert out[0].tolist() == [[4, 5], [4, 5], [0, 1]] and out[1].ravel().tolist() == [2, 2, 0]


# -- stateful Keras step == re-running the whole prefix ------------------------------------
@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {cell: make_model_dir(root / cell, cell) for cell in ("simple_rnn", "lstm", "gru")}


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_keras_step_equals_full_prefix(tiny_dirs, cell):
    from autocomplete.keras_step import KerasStepModel, full_sequence_logits

    model = KerasStepModel(tiny_dirs[cell])
    ids, _ = encode_prompt("Today due to my current job situation, I", model.vocab)
    ref = _log_softmax(full_sequence_logits(model.model, ids))
    state = model.initial_state(1)
    for t, tok in enumerate(ids):
        logp, state = model.step(np.array([tok], np.int32), state)
        np.testing.assert_allclose(logp[0], ref[t], atol=1e-5)
    logp, pre_state = model.prefill(np.array(ids, np.int32))
    np.testing.assert_allclose(logp[0], ref[-1], atol=1e-5)
    for a, b in zip(state, pre_state, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert Completer(model).complete("i need to take a", max_words=3).tokens
