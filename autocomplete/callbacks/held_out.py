"""Score held-out data at each epoch end, in place of Keras's per-step metrics."""

from __future__ import annotations

import math
from collections.abc import Callable

import keras


class HeldOutScore(keras.callbacks.Callback):
    """Adds held-out cross-entropy, perplexity and accuracy to each epoch's logs.

    Keras computes compiled metrics on every training step. For a language
    model that is a second softmax and an arg-max over the whole vocabulary at
    every position: on a 2-core CPU the `xent` and `accuracy` metrics made a
    training step of the default LSTM 1.2x slower (1.5x at 128 units;
    benchmarks/train_speed.py). This callback computes the
    figures that matter once per epoch instead, on held-out windows, with the
    same scorer that writes `metrics.json`, so "validation perplexity" has one
    meaning. It also turns the epoch's training `loss` (which holds the L2
    penalty) into `xent` and `perplexity` by subtracting the penalty at the
    epoch's end: the penalty moves little within an epoch, so this is the
    training cross-entropy to about 1e-4 nats.

    Put it first in the callback list: `EarlyStopping`, `CSVLogger` and the
    other callbacks read the logs it writes (`val_xent`, `val_perplexity`,
    `val_accuracy`, `xent`, `perplexity`).

    Args:
        score: callable taking the model and returning a dict with
            `perplexity` and `top1_accuracy` of the held-out data.
        prefix: str, default "val_". Prefix of the held-out keys.

    Example:

    ```python
    score = lambda model: evaluate_windows(model, val_windows)
    model.fit(ds, epochs=5, callbacks=[HeldOutScore(score),
                                       keras.callbacks.EarlyStopping("val_xent")])
    ```
    """

    def __init__(self, score: Callable[[keras.Model], dict], prefix: str = "val_"):
        super().__init__()
        self.score = score
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        result = self.score(self.model)
        xent = math.log(result["perplexity"]) if result["perplexity"] > 0 else math.inf
        logs[f"{self.prefix}xent"] = xent
        logs[f"{self.prefix}perplexity"] = result["perplexity"]
        logs[f"{self.prefix}accuracy"] = result["top1_accuracy"]
        if "loss" in logs:
            penalty = sum(float(keras.ops.convert_to_numpy(x)) for x in self.model.losses)
            logs["xent"] = float(logs["loss"]) - penalty
            logs["perplexity"] = math.exp(min(logs["xent"], 50.0))
