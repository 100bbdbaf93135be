"""Partial words: a prompt that ends inside a word has that word finished first."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import make_model_dir

from autocomplete.decoding import Completer, encode_prompt
from autocomplete.tokens import split_fragment

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("beam", "greedy", "sample")

VOCAB = ["", "[UNK]", "[start]", "please", "let", "me", "know", "knowledge", "if", "you", ".",
         ",", "thanks", "for", "kite"]
ID = {t: i for i, t in enumerate(VOCAB)}
# next-token probabilities given the previous token (the rest share a small epsilon)
ROWS = {
    "[start]": {"please": 0.6, "thanks": 0.3},
    "please": {"let": 0.9},
    "let": {"me": 0.9},
    "me": {"if": 0.5, "know": 0.2, "knowledge": 0.02},  # "kn": "know", not the likelier "if"
    "know": {"if": 0.9},
    "knowledge": {".": 0.9},
    "if": {"you": 0.9},
    "you": {".": 0.9},
    "thanks": {"for": 0.6, ",": 0.3},
    "for": {"knowledge": 0.6, "know": 0.01},  # "for know": "knowledge" wins
    ",": {"please": 0.9},
    ".": {"please": 0.9},
}


class MarkovStepModel:
    """A first-order Markov "language model" that records the batches it steps."""

    def __init__(self):
        self.vocab, self.window = VOCAB, 16
        table = np.full((len(VOCAB), len(VOCAB)), 1e-3)
        for prev, nxt in ROWS.items():
            for tok, p in nxt.items():
                table[ID[prev], ID[tok]] = p
        self.p = table / table.sum(axis=1, keepdims=True)
        self.logp = np.log(self.p)
        self.batches: list[int] = []

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, 1))]

    def step(self, token_ids, state):
        self.batches.append(len(token_ids))
        return self.logp[np.asarray(token_ids)], state


def complete(text: str, method: str = "beam", model=None, **kw):
    return Completer(model or MarkovStepModel()).complete(
        text, method=method, seed=0, partial_word=True, **kw)


@pytest.mark.parametrize("text,tokens,fragment", [
    ("Please let me kn", ["please", "let", "me"], "kn"),
    ("Please let me KN", ["please", "let", "me"], "kn"),
    ("Please let me know", ["please", "let", "me"], "know"),
    ("Please let me know ", ["please", "let", "me", "know"], ""),
    ("Thanks,", ["thanks", ","], ""),
    ("Thanks.\n", ["thanks", "."], ""),
    ("Kn", [], "kn"),
    ("don't", ["don", "'"], "t"),
    ("at 10", ["at"], "10"),
    ("x_", ["x", "_"], ""),
])
def test_split_fragment(text, tokens, fragment):
    assert split_fragment(text) == (tokens, fragment)


def test_encode_prompt_leaves_the_fragment_out():
    ids, info = encode_prompt("Please let me kn", VOCAB, partial_word=True)
    assert ids == [2, ID["please"], ID["let"], ID["me"]]
    assert info == {"prompt_tokens": 4, "kept_tokens": 3, "unknown_words": 0,
                    "truncated": False, "fragment": "kn"}
    ids, info = encode_prompt("Please let me kn", VOCAB)  # off: "kn" is an unknown word
    assert ids[-1] == 1 and info["unknown_words"] == 1 and info["fragment"] == ""


def test_prompts_are_read_with_the_characters_training_mail_has():
    """Curly quotes (phones, word processors), decomposed letters and zero-width spaces are
    normalized as the training mail was, in the text, the fragment and the subject."""
    vocab = ["", "[UNK]", "[start]", "i", "'", "m", "sorry", "grüße", "köln", "---"]
    typed, plain = encode_prompt("I\u2019m sorry", vocab), encode_prompt("I'm sorry", vocab)
    assert typed == plain and plain[1]["unknown_words"] == 0
    assert encode_prompt("k\u00f6ln\u200b", vocab) == encode_prompt("köln", vocab)
    ids, info = encode_prompt("sorry Gru\u0308", vocab, partial_word=True)
    assert info["fragment"] == "grü"
    ids, _ = encode_prompt("sorry", vocab, subject="I\u2019m", partial_word=True)
    assert ids[1:4] == [3, 4, 5]


@pytest.mark.parametrize("method", METHODS)
def test_fragment_is_finished_with_the_rest_of_the_word(method):
    out = complete("Please let me kn", method)
    assert out.text == "ow if you." and out.continues_word
    assert out.tokens == ["know", "if", "you", "."] and out.fragment == "kn"
    assert out.reason is None and out.unknown_words == 0
    assert out.prompt_tokens == 4 and out.kept_tokens == 3


@pytest.mark.parametrize("method", METHODS)
def test_upper_case_fragment_keeps_the_typed_letters(method):
    for text in ("Please let me Kn", "PLEASE LET ME KN"):
        out = complete(text, method)
        assert out.text == "ow if you." and out.continues_word  # only the rest, lower-case


def test_first_token_probability_is_given_the_typed_letters():
    model = MarkovStepModel()
    out = complete("Please let me kn", model=model)
    p = model.p[ID["me"]]
    assert out.token_probs[0] == pytest.approx(p[ID["know"]] / (p[ID["know"]] +
                                                                 p[ID["knowledge"]]))
    assert out.token_probs[1:] == pytest.approx([model.p[ID["know"], ID["if"]],
                                                 model.p[ID["if"], ID["you"]],
                                                 model.p[ID["you"], ID["."]]])
    assert out.confidence == pytest.approx(np.exp(np.mean(np.log(out.token_probs))))


@pytest.mark.parametrize("method", ["beam", "greedy"])
def test_the_likeliest_word_is_finished_before_a_predictable_tail(method):
    # after "for", "k" is more likely "know" than "kite"; whatever follows "know" is a
    # guess, while "kite" always ends the sentence, so ranked by mean log-prob alone
    # "kite." would beat every "know ..."
    model = MarkovStepModel()
    model.p[:] = 1 / len(VOCAB)
    model.p[ID["for"]] = np.where(np.isin(VOCAB, ["know", "kite"]), 0.45, 0.3 / 13)
    model.p[ID["for"], ID["kite"]] = 0.25
    model.p[ID["kite"]] = np.where(np.arange(len(VOCAB)) == ID["."], 0.99, 0.01 / 14)
    model.logp = np.log(model.p)
    out = complete("Thanks for k", method, model=model)
    assert out.tokens[0] == "know" and out.text.startswith("now")


@pytest.mark.parametrize("method", METHODS)
def test_no_word_starts_with_the_fragment(method):
    model = MarkovStepModel()
    out = complete("Please let me xq", method, model=model)
    assert out.text == "" and out.tokens == [] and out.token_probs == []
    assert not out.continues_word and not out.suppressed
    assert out.reason == "no word in the vocabulary starts with 'xq'"
    assert out.confidence == 0.0 and model.batches == []  # the model is not even run


@pytest.mark.parametrize("method", METHODS)
def test_a_whole_word_fragment_may_stay_as_typed(method):
    # "know" is a word and "knowledge" starts with it: the search picks; here "know" stays
    out = complete("Please let me know", method)
    assert out.tokens == ["know", "if", "you", "."]
    assert out.text == "if you." and not out.continues_word  # spaced like any completion
    assert out.fragment == "know"


@pytest.mark.parametrize("method", METHODS)
def test_a_whole_word_fragment_may_be_extended(method):
    out = complete("Thanks for know", method)
    assert out.tokens == ["knowledge", "."]
    assert out.text == "ledge." and out.continues_word


@pytest.mark.parametrize("text", ["Thanks,", "Please let me know ", "Please let me know.",
                                  "Thanks for\n"])
@pytest.mark.parametrize("method", METHODS)
def test_whitespace_or_punctuation_at_the_end_completes_after_the_last_word(text, method):
    on = complete(text, method)
    off = Completer(MarkovStepModel()).complete(text, method=method, seed=0)
    assert on.tokens == off.tokens and on.text == off.text
    assert on.fragment == "" and not on.continues_word


def test_default_reads_every_word_as_complete():
    out = Completer(MarkovStepModel()).complete("Please let me kn", method="greedy")
    assert out.unknown_words == 1 and out.fragment == "" and not out.continues_word


def test_the_finished_word_does_not_count_towards_max_words():
    out = complete("Please let me kn", max_words=1)
    assert out.tokens == ["know", "if"] and out.text == "ow if"


def test_min_confidence_still_applies():
    out = complete("Please let me kn", min_confidence=0.99)
    assert out.suppressed and out.text == "" and out.tokens == []
    assert not out.continues_word and "min_confidence" in out.reason
    shown = complete("Please let me kn", min_confidence=0.5)
    assert not shown.suppressed and shown.text == "ow if you."


def test_a_prompt_of_only_a_fragment():
    out = complete("Thank", "greedy")
    assert out.tokens[0] == "thanks" and out.text.startswith("s ") and out.continues_word
    assert out.prompt_tokens == 1 and out.kept_tokens == 0


# -- a tiny Keras model: the numpy fast path and the Keras step model agree -----------------
@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from autocomplete.fastpath import NumpyStepModel, export_inference
    from autocomplete.keras_step import KerasStepModel

    d = make_model_dir(tmp_path_factory.mktemp("partial") / "gru", "gru")
    export_inference(d)
    return {"numpy": Completer(NumpyStepModel(d)), "keras": Completer(KerasStepModel(d))}


@pytest.mark.parametrize("method", METHODS)
def test_tiny_model_finishes_the_only_word_that_fits(engines, method):
    # the tiny vocabulary has one word that starts with "upd": "update"
    for engine in engines.values():
        for text in ("Thanks for the upd", "Hi Mark, thanks for the UPD"):
            out = engine.complete(text, method=method, seed=3, max_words=4, partial_word=True)
            assert out.tokens[0] == "update" and out.continues_word
            assert out.text.startswith("ate") and out.token_probs[0] == pytest.approx(1.0)


@pytest.mark.parametrize("method", METHODS)
def test_tiny_model_engines_agree(engines, method):
    # "ne": need or needed; "to": to, today or tomorrow (a whole word that others extend);
    # "the": a whole word that nothing extends
    for text in ("Thanks for the upd", "Yesterday due to my current job situation, I ne",
                 "Hi Mark, thanks for the update on the orion project. Due to",
                 "Hi Mark, thanks for the", "Thanks,"):
        fast, slow = (engines[k].complete(text, method=method, beam=3, seed=1, max_words=5,
                                          partial_word=True) for k in ("numpy", "keras"))
        assert fast.tokens == slow.tokens and fast.text == slow.text
        assert fast.continues_word == slow.continues_word
        assert fast.confidence == pytest.approx(slow.confidence, rel=1e-4)


def test_tiny_model_without_a_matching_word(engines):
    for engine in engines.values():
        out = engine.complete("Please let me kn", partial_word=True)
        assert out.text == "" and out.reason == "no word in the vocabulary starts with 'kn'"


# -- the page ---------------------------------------------------------------------------
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="no node to run the page's script")
def test_page_glues_a_word_continuation():
    html = (ROOT / "autocomplete" / "serve" / "static" / "index.html").read_text()
    present = re.search(r"^function present\(.*?^}$", html, re.S | re.M).group(0)
    cases = [
        ["Please let me Kn", "ow if i can help.", True],  # no space; "i" alone is "I"
        ["Please let me know", "if you have any questions.", False],
        ["Thanks", ", anna", False],
        ["H", "i mark, thanks.", True],  # the word's own "i" stays lower-case
        ["Hello. Tha", "nks for the update.", True],  # mid-word: not capitalised
    ]
    script = (present + f"\nconsole.log(JSON.stringify({json.dumps(cases)}"
              ".map(([t, c, w]) => present(t, c, w))));")
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["ow if I can help.", " if you have any questions.",
                                      ", anna", "i mark, thanks.", "nks for the update."]
