"""A trained Keras model seen through the evaluation protocol (`NextTokenModel`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autocomplete import artifacts
from autocomplete.cache import ContinuousCache
from autocomplete.logprobs import log_softmax


class KerasLM:
    """Next-token log-probabilities of a model directory, for many contexts at once.

    Contexts are sorted by length and right-padded in batches: the recurrent
    layers are causal, so padding after a context cannot change the hidden
    state at its last token. Only that state goes through the output layer,
    so memory stays at batch x vocabulary, not batch x length x vocabulary.

    Args:
        model_dir: a directory written by `autocomplete train`.
        batch_size: contexts per forward pass.
        cache: mix in a cache of the context, keyed by its hidden states or
            its tokens (`autocomplete.cache`); None scores the model alone.

    Example:

    ```python
    lm = KerasLM("models/lstm")
    logp = lm.next_logprobs([[2, 17, 40]])  # (1, len(lm.vocab))
    ```
    """

    def __init__(self, model_dir: str | Path, batch_size: int = 128,
                 cache: ContinuousCache | None = None):
        self.model_dir = Path(model_dir)
        self.cache = cache
        self._bind(
            artifacts.load_keras_model(model_dir),  # whole sequences, for perplexity
            artifacts.read_vocab(model_dir),
            int(artifacts.read_config(model_dir).get("window", 256)),
            batch_size,
        )

    @classmethod
    def from_model(cls, model, vocab: list[str], window: int = 256, batch_size: int = 128):
        """Score with a model in memory (e.g. during training) instead of a directory."""
        lm = cls.__new__(cls)
        lm.model_dir = None
        lm.cache = None
        lm._bind(model, vocab, window, batch_size)
        return lm

    def _bind(self, model, vocab: list[str], window: int, batch_size: int) -> None:
        import keras

        self.model = model
        from autocomplete.model import output_layer, output_layer_input

        self.output_layer = output_layer(model)
        self.features = keras.Model(model.input, output_layer_input(model))
        self.vocab = vocab
        self.window = window
        self.batch_size = batch_size

    def next_logprobs(self, contexts: list[list[int]]) -> np.ndarray:
        out = np.empty((len(contexts), len(self.vocab)), dtype=np.float32)
        contexts = [list(c)[-self.window :] for c in contexts]
        order = np.argsort([len(c) for c in contexts], kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            lengths = np.array([len(contexts[i]) for i in idx])
            batch = np.zeros((len(idx), lengths.max()), dtype=np.int32)
            for row, i in enumerate(idx):
                batch[row, : lengths[row]] = contexts[i]
            hidden = self.hidden_states(batch)
            last_h = hidden[np.arange(len(idx)), lengths - 1]
            last = log_softmax(np.asarray(self.output_layer(last_h), dtype=np.float64))
            if self.mixes:
                for row, length in enumerate(lengths):
                    last[row] = self.mix_last(last[row : row + 1], hidden[row, :length],
                                              batch[row, :length])[0]
            out[idx] = last
        return out

    def hidden_states(self, ids: np.ndarray) -> np.ndarray:
        """The states (B, T, H) that the output layer reads, after each of `ids` (B, T).

        Through `predict_on_batch`, a traced function: run eagerly, the recurrent
        loop costs 2.5x (192-unit LSTM) to 7x (tiny GRU) as much per batch here.
        """
        return np.asarray(self.features.predict_on_batch(ids), dtype=np.float32)

    @property
    def mixes(self) -> bool:
        """Whether the model's own log-probs are mixed with something (here: a cache)."""
        return self.cache is not None

    def mix_last(self, logp: np.ndarray, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """(1, V) log-probs after context `ids` (T,) from the model's own `logp` (1, V) at
        its last position and the hidden states (T, H) after each id."""
        if self.cache is None:
            return logp
        # earlier positions, each with the id after it
        return self.cache.mix(logp, self.cache.last_scores(hidden, ids), ids[1:])

    def mix_sequence(self, logp: np.ndarray, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """(T, V) log-probs after each position of `ids` (T,), from the model's own
        `logp` (T, V) and hidden states (T, H)."""
        if self.cache is None:
            return np.asarray(logp, dtype=np.float64)
        return self.cache.mix_sequence(logp, self.cache.scores(hidden, ids), ids)

