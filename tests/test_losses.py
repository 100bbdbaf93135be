"""The training loss's cheaper kernel is Keras's cross-entropy: same loss, same gradient."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from autocomplete.losses import NextTokenCrossEntropy  # noqa: E402


@pytest.mark.parametrize("scale", [1.0, 60.0])  # 60: logits whose exp overflows float32
def test_loss_and_gradient_equal_keras(scale):
    rng = np.random.default_rng(0)
    logits = tf.Variable(rng.normal(0, scale, (3, 7, 11)).astype("float32"))
    labels = tf.constant(rng.integers(0, 11, (3, 7)).astype("int32"))
    weights = tf.constant((rng.random((3, 7)) > 0.3).astype("float32"))
    keras_loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight")
    results = []
    for loss_fn in (NextTokenCrossEntropy(), keras_loss):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, logits, sample_weight=weights)
        results.append((float(loss), tape.gradient(loss, logits).numpy()))
    (ours, g_ours), (theirs, g_theirs) = results
    assert np.isfinite(ours)
    assert ours == pytest.approx(theirs, rel=1e-6)
    np.testing.assert_allclose(g_ours, g_theirs, atol=1e-7)
    assert np.all(g_ours[weights.numpy() == 0] == 0)  # padding gets no gradient


def test_compiled_model_trains_as_with_keras_loss():
    from autocomplete.model import build_model, compile_model

    x = np.tile(np.arange(2, 18, dtype="int32"), (4, 1))
    y = np.roll(x, -1, axis=1)
    ours = compile_model(build_model("gru", 20, units=8, embedding_dim=4), learning_rate=1e-2)
    assert isinstance(ours.loss, NextTokenCrossEntropy)
    theirs = compile_model(build_model("gru", 20, units=8, embedding_dim=4), learning_rate=1e-2)
    theirs.set_weights(ours.get_weights())
    theirs.compile(optimizer=theirs.optimizer, loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"))
    curves = [[float(m.train_on_batch(x, y)) for _ in range(20)] for m in (ours, theirs)]
    np.testing.assert_allclose(curves[0], curves[1], rtol=1e-4)
    assert curves[0][-1] < curves[0][0] - 0.2
