"""The saved Keras model as a step model: one token per call, state carried along.

Reuses the model's own trained layers (the embedding, each recurrent layer's
cell, the logits Dense), so it matches `model(prefix)` exactly; the numpy fast
path (`autocomplete.fastpath`) is checked against it. The step and the prompt
prefill are tf.functions with fixed dtypes and a free batch/time dimension,
so they are traced once per process. Imports TensorFlow: use it only when
there is no up-to-date `inference.npz`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before the first TensorFlow import

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from autocomplete.artifacts import (  # noqa: E402
    check_vocab_matches,
    load_keras_model,
    read_config,
    read_vocab,
)


def _quiet_tf():
    import absl.logging
    import tensorflow as tf

    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel("ERROR")
    return tf


def recurrent_layers(model) -> list:
    """The model's recurrent layers rnn_1, rnn_2, ... in order."""
    layers = [layer for layer in model.layers if layer.name.startswith("rnn_")]
    return sorted(layers, key=lambda layer: int(layer.name.split("_")[1]))


def output_head(model):
    """The layers from the last recurrent layer's output to the logits, as one callable."""
    from autocomplete.model import output_layer

    layers = [layer for layer in model.layers if layer.name == "projection"]
    layers.append(output_layer(model))

    def head(x):
        for layer in layers:
            x = layer(x)
        return x

    return head


def full_sequence_logits(model, ids) -> np.ndarray:
    """Logits (T, V) of `model` run on the whole prefix `ids` (T,): the naive way."""
    x = np.asarray(ids, dtype=np.int32).reshape(1, -1)
    return model(x, training=False).numpy()[0]


class KerasStepModel:
    """StepModel over a saved Keras model directory (or an in-memory model).

    Example:
        >>> m = KerasStepModel("models/lstm")
        >>> logp, state = m.step(np.array([2], np.int32), m.initial_state(1))
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, *, model=None,
                 vocab: list[str] | None = None, window: int | None = None):
        tf = _quiet_tf()
        import keras

        if model is None:
            model_dir = Path(model_dir)
            model = load_keras_model(model_dir)
            vocab = read_vocab(model_dir)
            check_vocab_matches(vocab, model, model_dir)
            window = read_config(model_dir).get("window")
        self.model = model
        self.vocab = list(vocab) if vocab is not None else None
        self.window = window
        emb = model.get_layer("embedding")
        head = output_head(model)
        cells = [layer.cell for layer in recurrent_layers(model)]
        self.cell = type(cells[0]).__name__
        self._sizes = [len(c.state_size) if isinstance(c.state_size, (list, tuple)) else 1
                       for c in cells]
        self._units = [c.units for c in cells]
        self.output_state = sum(self._sizes[:-1])  # the last layer's h: it feeds the logits
        # Wrappers that run a trained cell over a sequence and return its state.
        seq_layers = [keras.layers.RNN(c, return_sequences=True, return_state=True)
                      for c in cells]
        state_spec = [tf.TensorSpec((None, u), tf.float32)
                      for u, n in zip(self._units, self._sizes, strict=True) for _ in range(n)]

        def split(states):
            out, k = [], 0
            for n in self._sizes:
                out.append(list(states[k : k + n]))
                k += n
            return out

        @tf.function(input_signature=[tf.TensorSpec((None,), tf.int32), state_spec])
        def step(ids, states):
            x = emb(ids)
            new = []
            for cell, s in zip(cells, split(states), strict=True):
                x, s = cell(x, s, training=False)
                new.extend(s)
            return tf.nn.log_softmax(head(x)), new

        @tf.function(input_signature=[tf.TensorSpec((1, None), tf.int32)])
        def prefill(ids):
            x = emb(ids)
            new = []
            for rnn in seq_layers:
                x, *s = rnn(x, training=False)
                new.extend(s)
            return tf.nn.log_softmax(head(x[:, -1])), new

        self._step, self._prefill = step, prefill

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, u), np.float32)
                for u, n in zip(self._units, self._sizes, strict=True) for _ in range(n)]

    def step(self, token_ids: np.ndarray, state: list[np.ndarray]
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        """(batch,) ids -> ((batch, V) log-probs, new state), as numpy arrays."""
        logp, new = self._step(np.asarray(token_ids, np.int32), [np.asarray(s) for s in state])
        return logp.numpy(), [s.numpy() for s in new]

    def prefill(self, token_ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed a whole prompt (batch 1) in one call; log-probs of the next token."""
        logp, new = self._prefill(np.asarray(token_ids, np.int32).reshape(1, -1))
        return logp.numpy(), [s.numpy() for s in new]
