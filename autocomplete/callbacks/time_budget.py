"""Stop training when a wall-clock budget is spent."""

from __future__ import annotations

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the first batch after `minutes` of wall time ran out.

    The check runs after every batch, so a budget usually ends mid-epoch; Keras
    then still runs validation and the epoch-end callbacks (early stopping,
    backups) for that partial epoch. The comparison of cells in the report gives each cell the
    same budget this way.

    Args:
        minutes: float, the budget in minutes. None or 0 means no limit.

    Example:

    ```python
    model.fit(ds, epochs=100, callbacks=[TimeBudget(minutes=20)])
    ```
    """

    def __init__(self, minutes: float | None):
        super().__init__()
        self.seconds = (minutes or 0) * 60
        self.start = None
        self.spent = False

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds and time.monotonic() - self.start > self.seconds:
            self.spent = True
            self.model.stop_training = True
