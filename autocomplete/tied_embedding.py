"""Word vectors that are also the output layer's weights (tied embeddings).

Press & Wolf (EACL 2017) and Inan et al. (ICLR 2017): a language model whose
output layer scores each word by the dot product with that word's own input
vector learns one vector per word instead of two, so a rare word's output
weights learn from every time it is read as well as predicted. It is also the
plain way to copy: a state that holds a word's vector scores that word highest.

One layer called twice, as KerasHub's `ReversibleEmbedding` is: on token ids it
looks up their vectors; with `reverse=True` on vectors (B, T, dim) it gives
logits (B, T, vocab) = x E^T + b.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="autocomplete")
class TiedEmbedding(keras.layers.Embedding):
    """An `Embedding` that also scores vectors against its own word vectors."""

    def build(self, input_shape=None) -> None:
        super().build(input_shape)
        self.output_bias = self.add_weight(
            shape=(self.input_dim,), initializer="zeros", name="output_bias")

    @property
    def variable_serialization_spec(self) -> dict:
        spec = dict(super().variable_serialization_spec)  # what Embedding saves, by mode
        spec[None] = [*spec[None], "output_bias"]
        return spec

    def call(self, inputs, reverse: bool = False):
        if not reverse:
            return super().call(inputs)
        kernel = ops.cast(ops.transpose(self.embeddings), self.compute_dtype)
        return ops.matmul(inputs, kernel) + ops.cast(self.output_bias, self.compute_dtype)

    def compute_output_spec(self, inputs, reverse: bool = False):
        if not reverse:
            return super().compute_output_spec(inputs)
        return keras.KerasTensor((*inputs.shape[:-1], self.input_dim),
                                 dtype=self.compute_dtype)
