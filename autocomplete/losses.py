"""The training loss: next-token cross-entropy from logits, cheap on the CPU.

The loss is Keras's sparse categorical cross-entropy from logits; only its
TensorFlow kernel differs. TensorFlow's fused
`sparse_softmax_cross_entropy_with_logits` computes the loss and its whole
gradient in the forward pass with single-pass kernels, and for the default
step (64 x 256 positions by a vocabulary of 3,000, 49 M logits) it took about
a third of the output layer's time on the 2-core CPU (BENCHMARKS.md,
"Training speed"). Here the forward pass exponentiates the
logits once and keeps them; the backward pass scales them by the incoming
gradient over their sum and subtracts it at each target. Same loss, same
gradient (to float32 rounding). Other backends get Keras's own function.
"""

from __future__ import annotations

import keras


def _tf_cross_entropy():
    import tensorflow as tf

    @tf.custom_gradient
    def cross_entropy(logits, labels):
        """Per-position -log softmax(logits)[label]; logits (..., V), labels (...)."""
        top = tf.stop_gradient(tf.reduce_max(logits, axis=-1, keepdims=True))
        exp = tf.exp(logits - top)
        total = tf.reduce_sum(exp, axis=-1)
        picked = tf.gather(logits, labels, batch_dims=labels.shape.rank)
        loss = tf.math.log(total) + top[..., 0] - picked

        def grad(upstream):
            flat = tf.reshape(exp * (upstream / total)[..., None], [-1, tf.shape(exp)[-1]])
            rows = tf.range(tf.shape(flat)[0])
            where = tf.stack([rows, tf.reshape(labels, [-1])], axis=1)
            flat = tf.tensor_scatter_nd_sub(flat, where, tf.reshape(upstream, [-1]))
            return tf.reshape(flat, tf.shape(logits)), None

        return loss, grad

    return cross_entropy


@keras.saving.register_keras_serializable(package="autocomplete")
class NextTokenCrossEntropy(keras.losses.Loss):
    """Sparse categorical cross-entropy from logits (float32), averaged by sample weight."""

    from_logits = True  # read by callbacks that score with the compiled loss

    def __init__(self, name: str = "next_token_cross_entropy",
                 reduction: str = "mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._fn = (_tf_cross_entropy() if keras.backend.backend() == "tensorflow"
                    else None)

    def call(self, y_true, y_pred):
        logits = keras.ops.cast(y_pred, "float32")
        labels = keras.ops.cast(y_true, "int32")
        if self._fn is None:
            return keras.ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        return self._fn(logits, labels)
