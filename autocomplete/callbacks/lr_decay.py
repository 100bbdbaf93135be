"""Hold the learning rate, then let it fall linearly to zero by the end of the run."""

from __future__ import annotations

import time

import keras


class LinearDecay(keras.callbacks.Callback):
    """Constant learning rate, then a linear fall to zero over the run's last part.

    A run knows when it ends, so it can anneal into that end: a high rate
    early finds the long-range cues (they come after a plateau), a falling
    rate late settles what was found instead of bouncing around it. The run's
    length is the planned number of steps (`epochs` x steps per epoch), so the
    schedule is the same on any machine; a resumed run continues where it
    stopped (the optimizer's iteration count is restored by
    `BackupAndRestore`). With a wall-clock cap (`TimeBudget`) the schedule
    follows whichever end comes first, the planned steps or the cap (a
    resumed run restarts the clock).

    Args:
        fraction: float in (0, 1], the share of the run, at its end, over which
            the rate falls to zero. 0.5 holds it for the first half.
        minutes: float or None, the run's wall-clock cap in minutes, if any.

    Example:

    ```python
    model.fit(ds, epochs=100, callbacks=[TimeBudget(20), LinearDecay(0.5, minutes=20)])
    ```
    """

    def __init__(self, fraction: float, minutes: float | None = None):
        super().__init__()
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.fraction = fraction
        self.seconds = (minutes or 0) * 60
        self.base = None
        self.start = None
        self.step = 0
        self.clock = time.monotonic  # replaceable in tests

    def on_train_begin(self, logs=None):
        self.base = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.start = self.clock()
        self.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def progress(self) -> float:
        """How much of the run is done, from 0 to 1."""
        total = (self.params.get("epochs") or 1) * (self.params.get("steps") or 1)
        done = self.step / total
        if self.seconds:
            done = max(done, (self.clock() - self.start) / self.seconds)
        return done

    def on_train_batch_begin(self, batch, logs=None):
        left = min(max(1.0 - self.progress(), 0.0), 1.0)  # share of the run still to come
        self.model.optimizer.learning_rate = self.base * min(1.0, left / self.fraction)
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # the rate the epoch ended with, into history.csv
            logs["learning_rate"] = float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            )
