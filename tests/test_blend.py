"""The blend (neural model + n-gram + cache), its tuning, its use, and keystrokes saved."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from autocomplete.blend import BlendStepModel, BlendWeights, mix
from autocomplete.cache import ContinuousCache, suffix_scores
from autocomplete.evaluate.blend_tuning import fit_weights, perplexities
from autocomplete.evaluate.keystrokes import insertion, keystrokes_saved, simulate, typing_text
from autocomplete.ngram import KneserNeyLM
from autocomplete.tokens import START_ID, split_fragment, tokenize


def _fit_ngram(vocab: list[str]) -> KneserNeyLM:
    from tests.conftest import TINY_TEXT

    index = {t: i for i, t in enumerate(vocab)}
    ids = [START_ID] + [index[t] for t in tokenize(TINY_TEXT)]
    return KneserNeyLM(order=3).fit([ids, ids[:20]], vocab)


def test_the_blend_is_the_weighted_mix_of_its_parts(tiny_model_dir):
    from autocomplete.fastpath import export_inference, load_step_model

    model_dir = tiny_model_dir("lstm")
    export_inference(model_dir)
    inner = load_step_model(model_dir)
    ngram = _fit_ngram(inner.vocab)
    cache = ContinuousCache(theta=1.0, lam=0.0, keys="tokens")
    weights = BlendWeights(0.5, 0.3, 0.2)
    blend = BlendStepModel(inner, ngram, cache, weights)
    context = np.array([START_ID, 5, 6, 7, 5, 6, 9, 5, 6])
    state, inner_state = blend.initial_state(1), inner.initial_state(1)
    for t in range(len(context)):
        logp, state = blend.step(context[t : t + 1], state)
        inner_logp, inner_state = inner.step(context[t : t + 1], inner_state)
        p = np.exp(logp[0])
        assert p.sum() == pytest.approx(1.0)
        p_neural = np.exp(inner_logp[0].astype(np.float64))
        p_ngram = ngram.next_probs([context[: t + 1]])[0]
        if t == 0:  # nothing to copy yet: the other two in proportion
            assert np.allclose(p, (0.5 * p_neural + 0.3 * p_ngram) / 0.8, atol=1e-6)
            continue
        ids = context[: t + 1]
        scores = suffix_scores(ids)[-1:, : t]
        p_cache = cache.copy_probs(scores, ids[1:], len(p))[0][0]
        assert np.allclose(p, 0.5 * p_neural + 0.3 * p_ngram + 0.2 * p_cache, atol=1e-6)
    once, _ = blend.prefill(context)  # a prompt in one pass = step by step
    assert np.allclose(once, logp, atol=1e-5)
    # mixing probabilities: a word only the n-gram knows keeps its n-gram share
    assert np.allclose(mix(weights, np.zeros((1, 3)), np.array([[0, 1.0, 0]]), np.zeros((1, 3)),
                           np.array([False])), [[0, 0.375, 0]])
    with pytest.raises(ValueError, match="sum to 1"):
        BlendWeights(0.5, 0.5, 0.5)


def test_the_blend_scores_whole_emails_as_it_answers_each_context(tiny_model_dir):
    """One pass over an email gives the blend's log-probs at every position, the same as
    the blend asked after each prefix, and the same as the engine completions use."""
    from autocomplete.evaluate import metrics
    from autocomplete.evaluate.blend_lm import BlendLM
    from autocomplete.evaluate.scoring import neural_perplexity_and_accuracy
    from autocomplete.fastpath import export_inference, load_step_model

    model_dir = tiny_model_dir("lstm")
    export_inference(model_dir)
    for keys in ("tokens", "hidden"):
        probe = BlendLM(model_dir, ngram=_fit_ngram(load_step_model(model_dir).vocab),
                        weights=BlendWeights(0.5, 0.3, 0.2),
                        cache=ContinuousCache(theta=1.0, lam=0.0, keys=keys))
        seqs = [[START_ID, 5, 6, 7, 5, 6, 9, 5, 6, 7], [START_ID, 8, 9, 8, 9, 8]]
        whole = neural_perplexity_and_accuracy(probe, seqs)
        per_context = metrics.perplexity_and_accuracy(probe, seqs)
        assert whole["tokens"] == per_context["tokens"] == 14
        assert whole["perplexity"] == pytest.approx(per_context["perplexity"], rel=1e-5)
        assert whole["top1"] == per_context["top1"]
        step = BlendStepModel(load_step_model(model_dir), probe.blend.ngram, probe.blend.cache,
                              probe.blend.weights)
        logp, _ = step.prefill(np.array(seqs[0][:7]))
        assert np.allclose(logp[0], probe.next_logprobs([seqs[0][:7]])[0], atol=1e-4)
    neural_only = BlendLM(model_dir, ngram=probe.blend.ngram, weights=BlendWeights(1.0, 0, 0),
                          cache=ContinuousCache(theta=1.0, lam=0.0, keys="tokens"))
    from autocomplete.evaluate.keras_lm import KerasLM

    assert neural_perplexity_and_accuracy(neural_only, seqs)["perplexity"] == pytest.approx(
        neural_perplexity_and_accuracy(KerasLM(model_dir), seqs)["perplexity"], rel=1e-5)


def test_ngram_save_load_round_trip(tmp_path):
    vocab = ["", "[UNK]", "[start]", "a", "b", "c", "."]
    lm = KneserNeyLM(order=4, discount=0.7).fit([[2, 3, 4, 5, 6], [2, 3, 3, 4, 6, 5]], vocab)
    back = KneserNeyLM.load(lm.save(tmp_path / "ngram.npz"))
    contexts = [[2], [2, 3, 4], [5, 5, 5, 5], [2, 6, 1]]
    assert np.array_equal(lm.next_probs(contexts), back.next_probs(contexts))
    assert (back.order, back.discount, back.vocab) == (4, 0.7, vocab)
    (tmp_path / "bad.npz").write_text("not an archive")
    with pytest.raises(ValueError, match="not a saved n-gram"):
        KneserNeyLM.load(tmp_path / "bad.npz")


def test_fit_weights_finds_the_mixture_of_least_perplexity():
    rng = np.random.default_rng(0)
    # the n-gram is right on half the tokens, the cache on the other half
    n = 400
    half = np.arange(n) < n // 2
    p = np.stack([np.full(n, 0.05), np.where(half, 0.9, 0.01), np.where(half, 0.01, 0.9)], 1)
    seen = np.ones(n, dtype=bool)
    weights, ppl = fit_weights(p, seen)
    grid = rng.dirichlet(np.ones(3), 300)
    assert ppl <= perplexities(grid, p, seen).min() + 1e-9
    assert weights.ngram == pytest.approx(weights.cache, abs=0.02) and weights.neural < 0.05
    alone, ppl_alone = fit_weights(p, seen, allowed=(True, False, False))
    assert (alone.neural, ppl_alone) == (1.0, pytest.approx(20.0))


def test_context_weights_pick_a_triple_by_ngram_order_and_cache_confidence(tmp_path):
    from autocomplete.blend import ContextWeights

    table = np.tile([0.5, 0.3, 0.2], (3, 3, 1))
    table[2, 0] = [0.1, 0.9, 0.0]  # the n-gram knows two tokens, the cache is unsure
    table[0, 2] = [0.2, 0.0, 0.8]  # the n-gram knows nothing, the cache is sure
    w = ContextWeights(BlendWeights(0.5, 0.3, 0.2), table, edges=(0.3, 0.7))
    rows = w.rows(np.array([2, 0, 1, 5]), np.array([0.1, 0.9, 0.5, 0.1]))
    assert np.allclose(rows, [[0.1, 0.9, 0], [0.2, 0, 0.8], [0.5, 0.3, 0.2], [0.1, 0.9, 0]])
    back = ContextWeights.from_json(json.loads(json.dumps(w.to_json())), orders=3)
    assert np.array_equal(back.table, w.table) and back.default == w.default
    old = {"weights": {"neural": 0.5, "ngram": 0.3, "cache": 0.2}}  # one triple for all
    assert np.array_equal(ContextWeights.from_json(old, orders=3).table,
                          np.tile([0.5, 0.3, 0.2], (3, 3, 1)))
    assert w.describe() == "0.5 / 0.3 / 0.2, by context" and w.uses_cache
    with pytest.raises(ValueError, match="sum to 1"):
        ContextWeights(w.default, np.full((3, 3, 3), 0.5))
    # one triple for all mixes the same numbers as the triple itself
    rng = np.random.default_rng(0)
    parts = [rng.dirichlet(np.ones(5), 4) for _ in range(3)]
    seen = np.array([True, False, True, True])
    one = ContextWeights.constant(w.default, 3).rows(np.array([0, 1, 2, 2]), np.zeros(4))
    assert np.array_equal(mix(one, *parts, seen), mix(w.default, *parts, seen))


def test_context_weights_refine_by_the_neural_models_confidence():
    from autocomplete.blend import ContextWeights

    table = np.tile([0.5, 0.3, 0.2], (3, 3, 1))
    fine = np.tile(table[:, :, None, :], (1, 1, 2, 1))
    fine[1, 0, 1] = [0.9, 0.1, 0.0]  # the n-gram saw one token, the neural model is sure
    w = ContextWeights(BlendWeights(0.5, 0.3, 0.2), table, (0.3, 0.7), (0.5,), fine)
    rows = w.rows(np.array([1, 1, 2]), np.zeros(3), np.array([0.2, 0.8, 0.8]))
    assert np.allclose(rows, [[0.5, 0.3, 0.2], [0.9, 0.1, 0.0], [0.5, 0.3, 0.2]])
    back = ContextWeights.from_json(json.loads(json.dumps(w.to_json())), orders=3)
    assert back.neural_edges == (0.5,) and np.array_equal(back.neural_table, w.neural_table)
    with pytest.raises(ValueError, match="neural table"):
        ContextWeights(w.default, table, (0.3, 0.7), (0.5,), fine[:, :, :1])
    with pytest.raises(ValueError, match="sum to 1"):
        ContextWeights(w.default, table, (0.3, 0.7), (0.5,), np.full((3, 3, 2, 3), 0.5))
    # without neural bins the neural model's confidence is not needed
    assert np.array_equal(ContextWeights(w.default, table).rows(np.array([1]), np.zeros(1)),
                          [[0.5, 0.3, 0.2]])


def test_weights_by_the_neural_models_confidence_fit_each_bin():
    from autocomplete.evaluate.blend_tuning import fit_context_weights

    # the neural model is right where it is sure, the n-gram elsewhere
    n = 4000
    sure = np.arange(n) % 2 == 0
    p = np.stack([np.where(sure, 0.9, 0.01), np.where(sure, 0.05, 0.5), np.full(n, 0.1)], 1)
    seen, orders, confidence = np.ones(n, dtype=bool), np.full(n, 2), np.zeros(n)
    neural_conf = np.where(sure, 0.95, 0.1)
    plain, ppl_plain = fit_context_weights(p, seen, orders, confidence, n_orders=4)
    by, ppl_by = fit_context_weights(p, seen, orders, confidence, n_orders=4,
                                     neural_confidence=neural_conf, neural_edges=(0.3, 0.7))
    assert ppl_by < ppl_plain
    assert by.neural_table[2, 0, 2, 0] > 0.8 and by.neural_table[2, 0, 0, 1] > 0.8
    assert np.allclose(by.neural_table[2, 0, 1], by.table[2, 0])  # no tokens: the coarser kind
    assert np.allclose(by.table, plain.table)
    # a mixture without the neural model is never binned by it
    base, _ = fit_context_weights(p, seen, orders, confidence, n_orders=4,
                                  allowed=(False, True, True), neural_confidence=neural_conf,
                                  neural_edges=(0.3, 0.7))
    assert base.neural_edges == ()


def _lstm_ngram_and_context(tiny_model_dir):
    """A tiny LSTM's numpy step model, an n-gram over its vocabulary, and an encoded context."""
    from autocomplete.fastpath import export_inference, load_step_model

    model_dir = tiny_model_dir("lstm")
    export_inference(model_dir)
    inner = load_step_model(model_dir)
    index = {w: i for i, w in enumerate(inner.vocab)}
    context = np.array([START_ID] + [index[w] for w in tokenize("thanks for the update")])
    return inner, _fit_ngram(inner.vocab), context


def test_the_blend_mixes_each_context_with_the_weights_of_its_kind(tiny_model_dir):
    from autocomplete.blend import ContextWeights

    inner, ngram, context = _lstm_ngram_and_context(tiny_model_dir)
    table = np.tile([0.6, 0.4, 0.0], (3, 3, 1))
    table[2] = [0.1, 0.9, 0.0]  # trust the n-gram where it knows both last tokens
    weights = ContextWeights(BlendWeights(0.6, 0.4, 0.0), table)
    blend = BlendStepModel(inner, ngram, ContinuousCache(1.0, 0.0, "tokens"), weights)
    known = ngram.context_orders([context[:t] for t in range(1, len(context) + 1)])
    assert {1, 2} <= set(known.tolist())  # contexts of both kinds
    for t in range(1, len(context) + 1):
        logp, _ = blend.prefill(context[:t])
        inner_logp, _ = inner.prefill(context[:t])
        order = int(ngram.context_orders([context[:t]])[0])
        a, b, _ = table[order, 0]
        expected = a * np.exp(inner_logp[0].astype(np.float64)) + b * ngram.next_probs(
            [context[:t]])[0]
        assert np.allclose(np.exp(logp[0]), expected, atol=1e-6)
    assert blend.ngram_next(tuple(context[-2:])).order == known[-1]  # kept with its order
    # step by step (the neural model's probabilities, the n-gram's sparse part): the same
    state, inner_state = blend.initial_state(1), inner.initial_state(1)
    for t in range(len(context)):
        logp, state = blend.step(context[t : t + 1], state)
        inner_logp, inner_state = inner.step(context[t : t + 1], inner_state)
        a, b, _ = table[known[t], 0]
        expected = a * np.exp(inner_logp[0].astype(np.float64)) + b * ngram.next_probs(
            [context[: t + 1]])[0]
        assert np.allclose(np.exp(logp[0]), expected, atol=1e-6)
    assert state[-1].shape == (1, ngram.order - 1)  # without a cache: the n-gram's context


def test_the_blend_reads_the_neural_models_confidence_from_its_probabilities(tiny_model_dir):
    from autocomplete.blend import ContextWeights

    inner, ngram, context = _lstm_ngram_and_context(tiny_model_dir)
    table = np.tile([0.5, 0.5, 0.0], (3, 3, 1))
    fine = np.tile([0.5, 0.5, 0.0], (3, 3, 2, 1))
    fine[:, :, 1] = [0.9, 0.1, 0.0]  # the neural model's largest probability is over edge
    tops = [float(np.exp(inner.prefill(context[:t])[0][0].max()))
            for t in range(1, len(context) + 1)]
    edge = float(np.median(tops))
    assert min(tops) < edge <= max(tops)  # contexts on both sides of it
    weights = ContextWeights(BlendWeights(0.5, 0.5, 0.0), table, neural_edges=(edge,),
                             neural_table=fine)
    blend = BlendStepModel(inner, ngram, ContinuousCache(1.0, 0.0, "tokens"), weights)
    for t, top in zip(range(1, len(context) + 1), tops, strict=True):
        logp, _ = blend.prefill(context[:t])
        a = 0.9 if top >= edge else 0.5
        expected = (a * np.exp(inner.prefill(context[:t])[0][0].astype(np.float64))
                    + (1 - a) * ngram.next_probs([context[:t]])[0])
        assert np.allclose(np.exp(logp[0]), expected, atol=1e-6)


def test_weights_by_kind_of_context_fit_each_kind():
    from autocomplete.evaluate.blend_tuning import fit_context_weights

    # where the n-gram knows 3 tokens of context it is right, where it knows 1 the cache is
    n = 2000
    orders = np.where(np.arange(n) < n // 2, 3, 1)
    p = np.stack([np.full(n, 0.2), np.where(orders == 3, 0.9, 0.01),
                  np.where(orders == 1, 0.9, 0.01)], 1)
    seen, confidence = np.ones(n, dtype=bool), np.full(n, 0.5)
    weights, ppl = fit_context_weights(p, seen, orders, confidence, n_orders=4)
    _, ppl_one = fit_weights(p, seen)
    assert ppl < ppl_one
    assert weights.table[3, 1, 1] > 0.8 and weights.table[1, 1, 2] > 0.8
    # kinds with too few tokens keep the weights fitted on all
    assert np.allclose(weights.table[0], weights.default.array())
    assert np.allclose(weights.table[3, 0], weights.default.array())
    # a mixture without the cache: completing computes no cache, so one bin of confidence
    no_cache, _ = fit_context_weights(p, seen, orders, confidence, n_orders=4,
                                      allowed=(True, True, False))
    assert no_cache.table[3, 0, 1] > 0.8 and not no_cache.uses_cache


@pytest.fixture
def tuned_model(tiny_model_dir):
    from autocomplete.cli import cli
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.fastpath import export_inference
    from autocomplete.textprep import corpus_fingerprint

    model_dir = tiny_model_dir("gru")
    export_inference(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config.update(corpus=None, corpus_sha256=corpus_fingerprint(load_builtin()), seed=0)
    (model_dir / "config.json").write_text(json.dumps(config))
    result = CliRunner().invoke(cli, ["tune", str(model_dir), "--emails", "4", "--order", "3"])
    assert result.exit_code == 0, result.output
    return model_dir


def test_tune_writes_the_blend_that_complete_uses_and_names(tuned_model):
    from autocomplete.blend import read_blend
    from autocomplete.cache import read_cache
    from autocomplete.cli import cli

    weights, cache, saved = read_blend(tuned_model)
    assert saved["validation_emails"] == 4 and saved["ngram"]["order"] == 3
    assert saved["perplexity"]["blend"] <= saved["perplexity"]["neural"] + 1e-9
    assert weights.table.sum(axis=-1) == pytest.approx(1.0)  # a mixture for every context
    assert weights.neural_table.shape[2] == len(weights.neural_edges) + 1 == 3  # by its confidence
    # the cache is in the blend only where it lowers perplexity enough to pay for its time,
    # or where the blend would lose to its baseline (the n-gram with a cache) without it
    from autocomplete.evaluate.blend_tuning import CACHE_MIN_GAIN

    ppl = saved["perplexity"]
    assert weights.uses_cache == (ppl["neural + ngram"] > min(ppl["blend"] * (1 + CACHE_MIN_GAIN),
                                                              ppl["ngram + cache"]))
    assert read_cache(tuned_model).keys in ("hidden", "tokens")  # tune also writes cache.json
    # and the baseline: the n-gram with a cache keyed by tokens, no weight on the neural model
    from autocomplete.blend import load_ngram_cache
    from autocomplete.fastpath import load_step_model

    baseline = load_ngram_cache(tuned_model, load_step_model(tuned_model))
    assert (baseline.weights.table[..., 0] == 0).all() and baseline.cache.keys == "tokens"
    assert baseline.weights.neural_edges == ()  # no neural model, no bins of its confidence
    assert saved["perplexity"]["blend"] <= saved["perplexity"]["ngram + cache"] + 1e-9

    runner = CliRunner()
    prompt = ["complete", "thanks for the", "--model", str(tuned_model)]
    blend = json.loads(runner.invoke(cli, [*prompt, "--json"]).stdout)
    assert blend["engine"] == "blend" and blend["backend"] == "numpy"
    neural = json.loads(runner.invoke(cli, [*prompt, "--json", "--engine", "neural"]).stdout)
    assert neural["engine"] == "neural"
    plain = runner.invoke(cli, prompt)
    assert plain.exit_code == 0 and "engine: blend" in plain.stderr
    assert plain.stdout.strip() == blend["completion"].strip()
    both = runner.invoke(cli, [*prompt, "--engine", "blend", "--cache"])
    assert both.exit_code == 2 and "Traceback" not in both.output
    (tuned_model / "ngram.npz").unlink()
    broken = runner.invoke(cli, prompt)
    assert broken.exit_code == 1 and "autocomplete tune" in broken.output
    assert "Traceback" not in broken.output


def test_serve_answers_with_the_blend_and_says_so(tuned_model):
    from starlette.testclient import TestClient

    from autocomplete.serve.app import create_app, load_engines

    for engine in ("blend", "neural"):
        engines = load_engines(model_dir=tuned_model, engine=engine)
        with TestClient(create_app(engines)) as client:
            r = client.post("/v1/complete", json={"text": "thanks for the upd"})
            assert r.status_code == 200 and r.json()["engine"] == engine
            assert client.get("/healthz").json()["engines"] == {"gru": engine}


TEXT = typing_text("Hi Mark,\nthanks for the update. Best regards, Anna")


def _oracle(prompt: str) -> list[str]:
    """Always the rest of the word being typed and the next word: exactly right."""
    tokens = tokenize(TEXT)
    before, _ = split_fragment(prompt)
    return tokens[len(before) : len(before) + 2]


def test_a_writer_who_is_always_suggested_the_right_words_saves_all_but_the_tabs():
    stats = simulate(TEXT, _oracle)
    assert TEXT == "hi mark, thanks for the update. best regards, anna"
    # the first character is typed; from then on every suggestion is taken
    assert stats.accepted_chars == len(TEXT) - 1
    assert stats.saved == len(TEXT) - 1 - stats.tabs
    # "hi mark" | "," | " thanks for" | " the" | " update" | "." | " best regards" | "," | " anna":
    # a whole word just accepted is the word being typed, so the next takes one new word
    assert stats.tabs == stats.shown == 9
    assert stats.summary()["accepted %"] == 100


def test_wrong_suggestions_save_nothing():
    def wrong(prompt: str) -> list[str]:
        before, fragment = split_fragment(prompt)
        return [fragment + "zz", "the"] if fragment else ["zebra"]

    stats = simulate(TEXT, wrong)
    assert stats.saved == stats.tabs == stats.accepted_chars == 0
    assert stats.shown == len(TEXT) - 1 and len(stats.latencies_ms) == len(TEXT) - 1
    assert keystrokes_saved(["Hi Mark,", "Thanks"], wrong).chars == len("hi mark,thanks")


def test_insertion_is_what_the_suggestion_adds_to_the_typed_text():
    assert insertion("let me kn", ["know", "if"]) == "ow if"
    assert insertion("let me know", ["know", "if"]) == " if"
    assert insertion("thanks ", ["for", "the"]) == "for the"
    assert insertion("thanks", ["thanks", ",", "mark"]) == ", mark"
    assert insertion("i don", ["don", "'", "t"]) == "'t"
    assert insertion("hi", []) == ""
