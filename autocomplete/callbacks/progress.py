"""Count optimizer updates against the plan and estimate how long the run takes."""

from __future__ import annotations

import time

import keras


class UpdateProgress(keras.callbacks.Callback):
    """Prints the run's planned work and its estimated duration, then updates done.

    A run is defined by its work (rounds x updates per round: Keras's epochs x
    steps per epoch), not by wall time, so the same command does the same work
    on a fast or a slow machine.
    After `estimate_after` updates (fewer in a run of under 10 x that many; the
    first update, which traces the graph, is not timed) it prints one line:
    the planned updates and the time they will take at the rate measured so
    far. At each epoch end it adds `updates`
    (done so far) to the logs and prints "updates done / planned".

    Args:
        estimate_after: int, default 20. Updates to time before estimating.
        print_fn: callable, default `print`. Where the lines go.

    Example:

    ```python
    model.fit(ds, epochs=5, callbacks=[UpdateProgress()])
    # planned: 5 rounds x 497 updates = 2,485 updates; about 25 min 3 s to go at 605 ms ...
    ```
    """

    def __init__(self, estimate_after: int = 20, print_fn=print):
        super().__init__()
        self.estimate_after = estimate_after
        self.print_fn = print_fn
        self.planned = 0
        self.done = 0
        self.seconds_per_update: float | None = None
        self._timer_start = None
        self._timed = 0

    def on_train_begin(self, logs=None):
        epochs, steps = self.params.get("epochs") or 0, self.params.get("steps") or 0
        self.planned = epochs * steps
        self.done = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self._timer_start, self._timed = None, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.seconds_per_update is not None:
            return
        if self._timer_start is None:  # the first update traces the graph: not timed
            self._timer_start = time.monotonic()
            return
        self._timed += 1
        if self._timed >= min(self.estimate_after, max(self.planned // 10, 1)):
            self.seconds_per_update = (time.monotonic() - self._timer_start) / self._timed
            left = max(self.planned - self.done, 0) * self.seconds_per_update
            epochs, steps = self.params.get("epochs"), self.params.get("steps")
            plan = (f"{epochs} rounds x {steps:,} updates = {self.planned:,} updates"
                    if steps else "updates planned: unknown (no epoch length)")
            self.print_fn(
                f"\nplanned: {plan}; about {_minutes(left)} to go at "
                f"{self.seconds_per_update * 1000:.0f} ms per update"
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["updates"] = self.done
        if self.planned:
            self.print_fn(f"updates {self.done:,} / {self.planned:,}")


def _minutes(seconds: float) -> str:
    """'45 s', '8 min 10 s'."""
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"
