"""The continuous cache: it copies what followed the same context earlier, and nothing else."""

import numpy as np
import pytest

from autocomplete.cache import ContinuousCache, hidden_scores, suffix_scores
from autocomplete.evaluate import metrics as em
from autocomplete.evaluate.cache_tuning import CachedNgramLM, tune
from autocomplete.evaluate.ngram import KneserNeyLM
from autocomplete.evaluate.scoring import neural_perplexity_and_accuracy

VOCAB = ["", "[UNK]", "[start]", "a", "b", "c", "x", "y", "z", "."]
# "a b c x . y z . a b c" -> what follows the second "a b c"? The first time it was "x".
IDS = np.array([2, 3, 4, 5, 6, 9, 7, 8, 9, 3, 4, 5])


def _uniform(t: int) -> np.ndarray:
    return np.full((t, len(VOCAB)), -np.log(len(VOCAB)))


def test_the_cache_copies_the_word_that_followed_the_same_context():
    logp = ContinuousCache(theta=2.0, lam=0.5).mix_sequence(
        _uniform(len(IDS)), suffix_scores(IDS), IDS)
    assert np.allclose(np.exp(logp).sum(axis=1), 1.0)
    assert logp[-1].argmax() == VOCAB.index("x")
    assert np.allclose(logp[0], _uniform(1)[0])  # nothing read yet: the model alone


def test_the_cache_sees_only_earlier_positions():
    # position t may not see what followed t itself, or any later position
    scores = suffix_scores(IDS)
    logp = ContinuousCache(theta=1.0, lam=0.9).mix_sequence(_uniform(len(IDS)), scores, IDS)
    for t in range(len(IDS)):
        in_cache = set(IDS[1 : t + 1].tolist())
        boosted = {w for w in range(len(VOCAB)) if logp[t, w] > _uniform(1)[0, w] + 1e-9}
        assert boosted <= in_cache


def test_lam_zero_is_the_model_and_bad_settings_are_refused():
    logp = np.log(np.random.default_rng(0).dirichlet(np.ones(len(VOCAB)), len(IDS)))
    assert np.allclose(ContinuousCache(1.0, 0.0).mix_sequence(logp, suffix_scores(IDS), IDS),
                       logp)
    with pytest.raises(ValueError, match="lam"):
        ContinuousCache(1.0, 1.0)
    with pytest.raises(ValueError, match="theta"):
        ContinuousCache(-1.0, 0.2)
    with pytest.raises(ValueError, match="keys"):
        ContinuousCache(1.0, 0.2, keys="words")


def test_suffix_scores_count_the_shared_trailing_tokens():
    scores = suffix_scores(IDS, order=3)
    assert scores[11, 3] == 3  # "a b c" ends both
    assert scores[10, 2] == 2  # ". a b" and "[start] a b" share "a b"
    assert scores[11, 8] == 0  # "c" and "z"
    assert scores[11, 11] == 3


def test_hidden_scores_are_dot_products():
    h = np.random.default_rng(1).normal(size=(5, 4))
    assert np.allclose(hidden_scores(h), h @ h.T)


def test_tune_picks_the_lowest_perplexity_and_reports_the_model_alone():
    seqs = [np.tile([3, 4, 5, 6], 6), np.tile([7, 8, 9], 8)]
    rng = np.random.default_rng(4)
    items = [(_uniform(len(s) - 1), rng.normal(size=(len(s) - 1, 4)), s) for s in seqs]
    cache, table = tune(items, thetas={"hidden": [0.5], "tokens": [0.5, 2.0]}, lams=[0.2, 0.6])
    assert len(table) == 1 + 3 * 2
    alone = table[table["keys"] == "none"].iloc[0]
    assert alone["perplexity"] == pytest.approx(len(VOCAB))
    assert (cache.keys, cache.theta, cache.lam) == tuple(table.iloc[0][["keys", "theta", "lam"]])
    # repeating text: exact token keys beat random hidden states, and more cache is better
    assert (cache.keys, cache.lam) == ("tokens", 0.6)
    assert table["perplexity"].min() < alone["perplexity"]


def test_cached_ngram_lm_copies_from_its_context():
    train = [[2, 3, 4, 5, 7, 9], [2, 3, 4, 5, 7, 9], [2, 6, 8, 9]]
    kn = KneserNeyLM(order=3).fit(train, VOCAB)
    context = [2, 6, 3, 4, 5, 6, 9, 3, 4, 5]  # here "a b c" was followed by "x"
    assert kn.next_logprobs([context])[0].argmax() == VOCAB.index("y")
    with pytest.raises(ValueError, match="tokens"):
        CachedNgramLM(kn, ContinuousCache(theta=2.0, lam=0.5))
    cached = CachedNgramLM(kn, ContinuousCache(theta=2.0, lam=0.5, keys="tokens"))
    assert cached.next_logprobs([context])[0].argmax() == VOCAB.index("x")
    assert np.exp(cached.next_logprobs([context])).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("keys", ["hidden", "tokens"])
def test_cached_keras_lm_matches_the_per_position_definition(tiny_model_dir, keys):
    from autocomplete.evaluate.keras_lm import KerasLM

    cache = ContinuousCache(theta=0.5, lam=0.3, keys=keys)
    lm = KerasLM(tiny_model_dir("gru"), cache=cache)  # window 32: long ones take the cut path
    rng = np.random.default_rng(0)
    seqs = [np.concatenate([[2], rng.integers(3, len(lm.vocab), n)]) for n in (3, 31, 45)]
    fast = neural_perplexity_and_accuracy(lm, seqs, token_budget=40)
    slow = em.perplexity_and_accuracy(lm, seqs)
    assert fast["perplexity"] == pytest.approx(slow["perplexity"], rel=1e-4)
    lm.cache = None
    alone = neural_perplexity_and_accuracy(lm, seqs, token_budget=40)
    assert alone["perplexity"] != pytest.approx(fast["perplexity"], rel=1e-4)


def test_the_last_row_shortcut_matches_suffix_scores():
    from autocomplete.cache import _last_suffix_scores

    ids = np.random.default_rng(2).integers(3, 6, 40)
    for t in (1, 2, 5, 40):
        assert np.array_equal(_last_suffix_scores(ids[:t], 3), suffix_scores(ids[:t])[-1, : t - 1])


@pytest.mark.parametrize("cell,keys,engine", [
    ("lstm", "hidden", "numpy"), ("gru", "hidden", "keras"), ("gru", "tokens", "numpy")])
def test_the_cached_step_model_predicts_what_the_evaluation_scores(tiny_model_dir, cell, keys,
                                                                    engine):
    from autocomplete.cache import CachedStepModel
    from autocomplete.decoding import Completer
    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.fastpath import NumpyStepModel, export_inference, load_step_model

    cache = ContinuousCache(theta=0.5, lam=0.4, keys=keys)
    model_dir = tiny_model_dir(cell)  # window 32: the cache keeps the last 32 positions
    if engine == "numpy":
        export_inference(model_dir)
    lm = KerasLM(model_dir, cache=cache)
    inner = load_step_model(model_dir)
    assert isinstance(inner, NumpyStepModel) == (engine == "numpy")
    step = CachedStepModel(inner, cache)
    context = np.concatenate([[2], np.random.default_rng(3).integers(3, len(lm.vocab), 40)])
    state = step.initial_state(1)
    for t in range(len(context)):
        logp, state = step.step(context[t : t + 1], state)
        if t + 1 in (1, 5, 32):  # contexts that fit the window, as the completer feeds them
            expected = lm.next_logprobs([list(context[: t + 1])])[0]
            assert np.allclose(logp[0], expected, atol=1e-4)
    assert state[-1].shape[1] == 32  # capped at the window
    # the hidden states are carried only as the keys of the cache
    assert state[-2].shape[1] == (32 if keys == "hidden" else 0)
    # a prompt in one pass (the fast path's prefill_sequence) = the same prompt step by step
    prompt = context[:20]
    state = step.initial_state(1)
    for t in range(len(prompt)):
        stepped, state = step.step(prompt[t : t + 1], state)
    once, once_state = step.prefill(prompt)
    assert np.allclose(once, stepped, atol=1e-5)
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(once_state, state, strict=True))
    assert Completer(step).complete("a b c", method="beam", beam=3, max_words=3).tokens


def test_tune_cache_writes_what_complete_cache_reads(tiny_model_dir):
    import json

    from click.testing import CliRunner

    from autocomplete.cli import cli
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.textprep import corpus_fingerprint

    model_dir = tiny_model_dir("gru")
    runner = CliRunner()
    missing = runner.invoke(cli, ["complete", "need to take a", "--model", str(model_dir),
                                  "--cache"])
    assert missing.exit_code != 0 and "autocomplete tune-cache" in missing.output

    config = json.loads((model_dir / "config.json").read_text())
    wrong = runner.invoke(cli, ["tune-cache", str(model_dir), "--emails", "4"])
    assert wrong.exit_code != 0 and "not the corpus" in wrong.output  # no fingerprint
    absent = runner.invoke(cli, ["tune-cache", str(model_dir), "--corpus",
                                 str(model_dir / "nowhere.mbox")])
    assert absent.exit_code == 1 and "Traceback" not in absent.output
    assert absent.output.startswith("Error: ") and "nowhere.mbox" in absent.output
    (model_dir / "config.json").write_text(json.dumps(config | {"data": "/prepared/mail"}))
    prepared = runner.invoke(cli, ["tune", str(model_dir)])
    assert prepared.exit_code == 1
    assert "trained on the prepared corpus /prepared/mail: give --corpus" in prepared.output

    config.update(corpus=None, corpus_sha256=corpus_fingerprint(load_builtin()), seed=0)
    (model_dir / "config.json").write_text(json.dumps(config))
    tuned = runner.invoke(cli, ["tune-cache", str(model_dir), "--emails", "4"])
    assert tuned.exit_code == 0, tuned.output
    saved = json.loads((model_dir / "cache.json").read_text())
    assert saved["validation_emails"] == 4 and 0 <= saved["lam"] < 1
    assert saved["keys"] in ("hidden", "tokens")
    assert saved["perplexity"]["cache"] <= saved["perplexity"]["alone"]

    done = runner.invoke(cli, ["complete", "need to take a", "--model", str(model_dir),
                               "--cache", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["cache"] is True
