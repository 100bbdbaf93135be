"""Perplexity in the training logs."""

from __future__ import annotations

import math

import keras


class PerplexityLogger(keras.callbacks.Callback):
    """Adds `perplexity` and `val_perplexity` (exp of the `xent` metric) to epoch logs.

    Perplexity is computed from the pure cross-entropy metric `xent`, not from
    `loss`, because `loss` also holds the L2 penalty. Put it before
    `CSVLogger` in the callback list so the CSV gets the new columns.

    Example:

    ```python
    csv = keras.callbacks.CSVLogger("history.csv")
    model.fit(ds, validation_data=val, callbacks=[PerplexityLogger(), csv])
    ```
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix in ("", "val_"):
            xent = logs.get(f"{prefix}xent")
            if xent is not None:
                logs[f"{prefix}perplexity"] = math.exp(min(float(xent), 50.0))
