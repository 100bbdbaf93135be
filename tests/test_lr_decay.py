"""LinearDecay: constant rate, then a linear fall to zero at the run's end."""

import keras
import numpy as np
import pytest

from autocomplete.callbacks.lr_decay import LinearDecay


class RecordRate(keras.callbacks.Callback):
    """The rate each batch trains with (runs after LinearDecay set it)."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def fit(callback, epochs=2, batches=10):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    record = RecordRate()
    history = model.fit(np.ones((4 * batches, 3)), np.ones((4 * batches, 1)), batch_size=4,
                        epochs=epochs, verbose=0, callbacks=[callback, record])
    return np.array(record.rates), history.history


def test_step_schedule_holds_then_falls_linearly():
    rates, history = fit(LinearDecay(0.5))  # 20 steps: 10 held, 10 falling
    np.testing.assert_allclose(rates[:11], 0.1, rtol=1e-6)
    np.testing.assert_allclose(rates[10:], 0.1 * np.arange(10, 0, -1) / 10, rtol=1e-5)
    np.testing.assert_allclose(history["learning_rate"], [0.1, 0.01], rtol=1e-5)


def test_time_schedule_follows_the_clock():
    clock = iter(np.arange(0.0, 100.0, 3.0))  # 3 s per call: the budget is 60 s
    decay = LinearDecay(0.25, minutes=1)
    decay.clock = lambda: float(next(clock))
    rates, _ = fit(decay, epochs=1, batches=20)
    # call k (k = 1..20) sees 3k seconds: held until 45 s, zero from 60 s on
    expected = 0.1 * np.clip((60 - 3 * np.arange(1, 21)) / 15, 0, 1)
    np.testing.assert_allclose(rates, expected, atol=1e-7)


def test_fraction_is_checked():
    with pytest.raises(ValueError, match="fraction"):
        LinearDecay(0)


def test_a_distant_cap_leaves_the_step_schedule_alone():
    decay = LinearDecay(0.5, minutes=100)  # the planned steps end long before the cap
    decay.clock = lambda: 0.0
    rates, _ = fit(decay)
    expected, _ = fit(LinearDecay(0.5))
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
