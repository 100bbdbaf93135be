"""Model-agnostic evaluation: the interface every language model offers.

The n-gram baseline and the neural models are compared through one small
protocol, so perplexity, accuracy, ExactMatch@N and the long-range probes
are computed the same way for all of them.

Modules: `ngram` (Kneser-Ney baseline), `metrics` (perplexity, accuracy,
ExactMatch@N, latency), `probes` (recall as a function of distance),
`keras_lm` (a trained model as a `NextTokenModel`), `scoring` (the same
figures for a Keras model, one forward pass per email or window),
`cache_tuning` (the cache's settings, picked on held-out mail). Only
`keras_lm` and `scoring` import Keras or TensorFlow, inside the functions that
run a model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

# the special tokens' ids, defined in `autocomplete.tokens`; here as part of the protocol
from autocomplete.tokens import OOV_ID, PAD_ID, SPECIAL_IDS, START_ID

__all__ = ["OOV_ID", "PAD_ID", "SPECIAL_IDS", "START_ID", "NextTokenModel"]


@runtime_checkable
class NextTokenModel(Protocol):
    """A word-level language model seen only through next-token distributions.

    `vocab[i]` is the token with id i (ids 0-2 are the specials, `SPECIAL_IDS`).
    `next_logprobs` takes a batch of contexts (token ids; each normally starts
    with START_ID, a context cut on the left to a maximum length may not;
    lengths may differ) and returns an array of shape
    (len(contexts), len(vocab)) of natural-log probabilities of the next token.
    """

    vocab: list[str]

    def next_logprobs(self, contexts: list[list[int]]) -> np.ndarray: ...
