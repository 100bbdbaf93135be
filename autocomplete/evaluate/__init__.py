"""Model-agnostic evaluation: the interface every language model offers.

The n-gram baseline and the neural models are compared through one small
protocol, so perplexity, accuracy, ExactMatch@N and the long-range probes
are computed the same way for all of them. Nothing here imports TensorFlow.

Modules: `ngram` (Kneser-Ney baseline), `metrics` (perplexity, accuracy,
ExactMatch@N, latency), `probes` (recall as a function of distance).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

PAD_ID = 0  # vocab[0] == "" (padding; never a prediction target)
OOV_ID = 1  # vocab[1] == "[UNK]"
START_ID = 2  # vocab[2] == "[start]": first id of every email's sequence
SPECIAL_IDS = (PAD_ID, OOV_ID, START_ID)


@runtime_checkable
class NextTokenModel(Protocol):
    """A word-level language model seen only through next-token distributions.

    `vocab[i]` is the token with id i (ids 0-2 are the specials above).
    `next_logprobs` takes a batch of contexts (token ids; each normally starts
    with START_ID, a context cut on the left to a maximum length may not;
    lengths may differ) and returns an array of shape
    (len(contexts), len(vocab)) of natural-log probabilities of the next token.
    """

    vocab: list[str]

    def next_logprobs(self, contexts: list[list[int]]) -> np.ndarray: ...
