"""Score and back up each round with the moving average of the weights, and resume from it."""

from __future__ import annotations

import keras


class SwapAverageWeights(keras.callbacks.SwapEMAWeights):
    """Keras's `SwapEMAWeights(swap_on_epoch=True)` for runs that resume from a round's backup.

    At each round's end the average goes into the model (for the callbacks after
    this one: the held-out score, early stopping, the backup) and the last
    weights into the optimizer's average slots; at the next round's start they
    swap back. A backup is written in the first state, so a resumed run, whose
    first round is not round 0, starts by swapping back too; Keras's callback
    would train on from the average and keep the last weights as the average.
    """

    def __init__(self):
        super().__init__(swap_on_epoch=True)
        self._first_round = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_round and epoch > 0:  # restored from a backup taken at a round's end
            self._ema_weights_in_model = True
        self._first_round = False
        super().on_epoch_begin(epoch, logs)
