"""Adam that moves a word vector only on the steps that read the word (lazy Adam).

Keras's Adam keeps one running mean (m) and mean square (v) per weight and
updates every weight on every step. For a word vector the gradient is zero on
every step whose batch lacks the word, so after one sighting the vector goes
on moving for the next dozens of steps: m decays by 0.9 a step, v by only
0.999, and the step m / sqrt(v) stays large. A word read once thus travels
many steps' worth, and rare words end with vectors as long as the common
words', fitted to the few sentences they were seen in. Lazy Adam (TensorFlow
Addons' `LazyAdam`, the sparse Adam of PyTorch) updates m, v and the weights
of a row only on steps whose gradient for that row is not zero, so a word
moves once per sighting.

Here a row is "read" when any entry of its gradient is non-zero. Only 2-D
weights have rows; the rows of dense kernels all get gradient on every step, so
the word vectors (and a tied embedding's output scores) are the weights where
laziness changes anything.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="autocomplete")
class LazyAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose rows with a zero gradient keep m, v and weights."""

    def update_step(self, gradient, variable, learning_rate) -> None:
        if len(variable.shape) != 2 or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        # dense, with a word's repeats summed (TensorFlow hands an embedding's
        # gradient over as IndexedSlices, one slice per occurrence)
        gradient = ops.cast(ops.add(ops.zeros_like(variable), gradient), dtype)
        step = ops.cast(self.iterations + 1, dtype)
        alpha = (lr * ops.sqrt(1 - ops.power(ops.cast(self.beta_2, dtype), step))
                 / (1 - ops.power(ops.cast(self.beta_1, dtype), step)))
        read = ops.any(ops.not_equal(gradient, 0), axis=-1, keepdims=True)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        new_m = m + (gradient - m) * (1 - self.beta_1)
        new_v = v + (ops.square(gradient) - v) * (1 - self.beta_2)
        self.assign(m, ops.where(read, new_m, m))
        self.assign(v, ops.where(read, new_v, v))
        step_size = alpha * new_m / (ops.sqrt(new_v) + self.epsilon)
        self.assign_sub(variable, ops.where(read, step_size, ops.zeros_like(step_size)))
