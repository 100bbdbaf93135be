"""KerasLM reads the next-token distribution at each context's own last token."""

import numpy as np

from autocomplete.artifacts import load_keras_model
from autocomplete.evaluate.keras_lm import KerasLM


def test_next_logprobs_match_full_model(tiny_model_dir):
    path = tiny_model_dir("lstm")
    lm, model = KerasLM(path, batch_size=2), load_keras_model(path)
    contexts = [[2, 5, 6, 7], [2, 9], [2, 3, 4, 5, 6, 7, 8]]  # mixed lengths share a batch
    got = lm.next_logprobs(contexts)
    for context, row in zip(contexts, got, strict=True):
        logits = np.asarray(model(np.array([context])), dtype=np.float64)[0, -1]
        expected = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        np.testing.assert_allclose(row, expected, atol=1e-5)
    assert np.allclose(np.exp(got).sum(-1), 1, atol=1e-4)


def test_from_model_scores_like_the_directory(tiny_model_dir):
    path = tiny_model_dir("gru")
    from_dir = KerasLM(path)
    in_memory = KerasLM.from_model(load_keras_model(path), from_dir.vocab, from_dir.window)
    contexts = [[2, 5, 6], [2, 9, 3, 4]]
    np.testing.assert_allclose(
        in_memory.next_logprobs(contexts), from_dir.next_logprobs(contexts), atol=1e-6
    )
