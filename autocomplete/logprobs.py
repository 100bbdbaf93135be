"""Next-token log-probabilities from logits, in numpy: the one log-softmax of the package.

The numpy engine (`fastpath`), the evaluation of a Keras model (`evaluate.keras_lm`,
`evaluate.scoring`) and the cache's tuning all turn logits into log-probabilities
here, so the engines and the scorers agree to the last bit.
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis, in the dtype of `logits`.

    The maximum is subtracted first, so large logits never overflow `exp`.

    Example:

    ```python
    logp = log_softmax(np.array([[1.0, 2.0, 3.0]]))  # np.exp(logp).sum() == 1
    ```
    """
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis, in the dtype of `logits`: `exp(log_softmax)` with
    one `exp` and no `log` (for a mixture, which adds probabilities)."""
    p = logits - logits.max(axis=-1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=-1, keepdims=True)
    return p
