"""The blend (`autocomplete.blend`) seen through the evaluation protocol (`NextTokenModel`).

`KerasLM` scores a model directory's neural model; `BlendLM` mixes in the
Kneser-Ney n-gram and the cache of the email so far with the blend's weights,
so that perplexity, top-k and recall of the blend come from the same code
that scores the neural model alone (`scoring.neural_perplexity_and_accuracy`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autocomplete.blend import NGRAM_FILE, BlendStepModel, BlendWeights, ContextWeights, read_blend
from autocomplete.cache import ContinuousCache
from autocomplete.evaluate.keras_lm import KerasLM
from autocomplete.ngram import KneserNeyLM


class BlendLM(KerasLM):
    """Next-token log-probabilities of the blend of a model directory's three parts.

    Args:
        model_dir: a directory written by `autocomplete train`.
        ngram, weights, cache: the blend's n-gram, weights and cache settings;
            default: the ones `autocomplete tune` wrote to `model_dir`.
        batch_size: contexts per forward pass.

    Example:

    ```python
    lm = BlendLM("models/lstm")  # after `autocomplete tune models/lstm`
    scores = neural_perplexity_and_accuracy(lm, test_sequences)
    ```
    """

    def __init__(self, model_dir: str | Path, ngram: KneserNeyLM | None = None,
                 weights: BlendWeights | ContextWeights | None = None,
                 cache: ContinuousCache | None = None, batch_size: int = 128):
        super().__init__(model_dir, batch_size)
        if ngram is None or weights is None or cache is None:
            weights, cache, _ = read_blend(model_dir)
            ngram = KneserNeyLM.load(Path(model_dir) / NGRAM_FILE)
        # the step model's mixing, with this object standing in for the neural step model
        self.blend = BlendStepModel(self, ngram, cache, weights, dtype=np.float64)

    @property
    def mixes(self) -> bool:
        return True

    def mix_last(self, logp: np.ndarray, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.blend.predict(logp, hidden[None], np.asarray(ids)[None])

    def mix_sequence(self, logp: np.ndarray, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        blend = self.blend
        ids = np.asarray(ids)
        t = len(ids)
        p_neural = np.exp(np.asarray(logp, dtype=np.float64))
        prefixes = [ids[: i + 1] for i in range(t)]
        p_ngram, orders = blend.ngram.next_probs(prefixes), blend.ngram.context_orders(prefixes)
        if t < 2 or not blend.weights.uses_cache:
            p_cache, seen = None, np.zeros(t, dtype=bool)
        else:  # position i sees the positions before it, each with the id that followed it
            before = np.tril(np.ones((t, t), dtype=bool), -1)[:, : t - 1]
            scores = np.where(before, blend.cache.scores(hidden, ids)[:, : t - 1], -np.inf)
            p_cache, seen = blend.cache.copy_probs(scores, ids[1:], len(self.vocab))
        with np.errstate(divide="ignore"):  # a token no part gives any mass: -inf
            return np.log(blend.blend(p_neural, p_ngram, orders, p_cache, seen))
