"""Gradient flow through time: how much the last prediction feels each earlier input."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class GradientFlow:
    """Norm of the gradient of the last position's loss w.r.t. the input at each earlier position.

    Each probe row is a token window (token id 0 is padding, as in the
    project's vocabularies). The model reads `row[:-1]`, and the loss is the
    cross-entropy of its prediction at the row's last real position `p` (the
    last one whose target is not padding, so right-padded windows work)
    against its target. The gradient is taken with respect to the embedding
    output (the input of the recurrent stack), and "lag k" is position
    `p - k`. The value at lag k is the mean, over the rows long enough to have
    that lag (`rows_per_lag`), of the per-row norm ||d loss_b / d e_{b, p_b - k}||:
    each row's own gradient, not the gradient of the batch mean.

    A falling curve means vanishing gradients: a tanh SimpleRNN whose units
    saturate falls off geometrically with the lag, LSTM and GRU much less once
    trained. At initialization the picture can differ (an orthogonal
    SimpleRNN fed Keras's tiny initial embeddings is nearly linear and barely
    decays, while a fresh GRU with its update gate at 0.5 halves the gradient
    each step), so compare the curves of trained models.

    The model must have a layer named "embedding" whose output feeds the rest
    of the model, and output logits (or probabilities when the compiled loss
    says `from_logits=False`) over the vocabulary at every position.

    Args:
        model: a built Keras model with an "embedding" layer.
        max_lag: int, default None. Largest lag to report; None means every
            earlier position of the longest row.

    Example:

    ```python
    flow = GradientFlow(model, max_lag=50)
    curve = flow(x_test[:16])    # numpy, curve[k - 1] is the value at lag k
    curve[49] / curve[0]         # lag-50 over lag-1 ratio
    ```
    """

    def __init__(self, model, max_lag: int | None = None):
        self.model = model
        self.max_lag = max_lag
        self.embedding = model.get_layer("embedding")
        self.from_logits = bool(getattr(getattr(model, "loss", None), "from_logits", True))
        self._rest = self._rest_of_model()
        self._fn = tf.function(self._per_position_norms, reduce_retracing=True)

    def _rest_of_model(self):
        """A callable from the embedding output to the model output."""
        import keras

        try:
            return keras.Model(self.embedding.output, self.model.output)
        except Exception:  # not a functional graph, or tied embeddings: the layer chain
            from autocomplete.model import output_layer

            layers = list(self.model.layers)
            after = layers[layers.index(self.embedding) + 1 :]
            if "logits" not in [layer.name for layer in after]:  # the word vectors score
                last = len(after) - (after[-1].name == "logits_float32")
                after.insert(last, output_layer(self.model))

            def chain(x, training=False):
                for layer in after:
                    x = layer(x, training=training)
                return x

            return chain

    def _per_position_norms(self, x, target, last):
        with tf.GradientTape() as tape:
            e = self.embedding(x)
            tape.watch(e)
            out = tf.gather(self._rest(e, training=False), last, batch_dims=1)  # (B, vocab)
            losses = tf.keras.losses.sparse_categorical_crossentropy(
                target, tf.cast(out, tf.float32), from_logits=self.from_logits
            )
            total = tf.reduce_sum(losses)  # each row gets its own gradient
        grad = tf.cast(tape.gradient(total, e), tf.float32)
        return tf.norm(grad, axis=-1)  # (B, T): per row and input position

    def __call__(self, probe) -> np.ndarray:
        """Flow curve for `probe`: array of length L, index k - 1 holds lag k.

        `probe` is token windows `(B, T)` or a tuple `(x, y)` of inputs and
        next-token targets. Sets `rows_per_lag`, the rows averaged at each lag.
        """
        if isinstance(probe, (tuple, list)):
            x, y = np.asarray(probe[0]), np.asarray(probe[1])
        else:
            probe = np.asarray(probe)
            x, y = probe[:, :-1], probe[:, 1:]
        if x.ndim != 2 or x.shape != y.shape:
            raise ValueError(f"probe must be token ids (batch, time), got {np.shape(probe)}")
        real = y != 0
        last = np.where(real.any(axis=1), x.shape[1] - 1 - np.argmax(real[:, ::-1], axis=1), 0)
        keep = last >= 1  # at least one earlier position
        if not keep.any():
            raise ValueError("probe rows need at least two real (non-padding) targets")
        x, y, last = x[keep], y[keep], last[keep]
        target = y[np.arange(len(y)), last]
        norms = self._fn(tf.constant(x, tf.int32), tf.constant(target, tf.int32),
                         tf.constant(last, tf.int32)).numpy()
        width = int(last.max())
        total, rows = np.zeros(width), np.zeros(width, dtype=int)
        for row, p in zip(norms, last, strict=True):
            total[:p] += row[:p][::-1]  # lag k = 1..p is position p - k
            rows[:p] += 1
        if self.max_lag:
            total, rows = total[: self.max_lag], rows[: self.max_lag]
        self.rows_per_lag = rows
        return total / rows
