"""The model builder: three cells, L2 everywhere, clipping as asked."""

import keras
import numpy as np
import pytest

from autocomplete.model import build_model, compile_model


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_builder_shapes_and_l2(cell):
    model = build_model(cell, 50, units=8, layers=2, embedding_dim=4, l2=1e-3)
    assert [layer.name for layer in model.layers] == [
        "tokens", "embedding", "rnn_1", "rnn_2", "logits"
    ]
    assert model(np.ones((2, 7), "int32")).shape == (2, 7, 50)
    # embedding + (kernel, recurrent kernel) per layer + dense kernel
    assert len(model.losses) == 1 + 2 * 2 + 1
    assert all(float(loss) > 0 for loss in model.losses)
    rnn = model.get_layer("rnn_1")
    assert isinstance(rnn.kernel_regularizer, keras.regularizers.L2)
    assert isinstance(rnn.recurrent_regularizer, keras.regularizers.L2)


def test_no_l2_means_no_penalty():
    assert build_model("gru", 20, units=4, l2=0).losses == []


def test_gated_defaults_stay_cudnn_compatible():
    lstm = build_model("lstm", 20, units=4).get_layer("rnn_1")
    gru = build_model("gru", 20, units=4).get_layer("rnn_1")
    for layer in (lstm, gru):
        assert layer.activation.__name__ == "tanh"
        assert layer.recurrent_activation.__name__ == "sigmoid"
        assert layer.recurrent_dropout == 0 and not layer.unroll and layer.use_bias
    assert gru.reset_after


def test_clipping_configured_as_asked():
    def opt(**kw):
        return compile_model(build_model("lstm", 20, units=4), **kw).optimizer

    assert opt().clipnorm == 1.0 and opt().global_clipnorm is None
    o = opt(clipnorm=None, global_clipnorm=5.0)
    assert o.clipnorm is None and o.global_clipnorm == 5.0
    o = opt(clipnorm=None)
    assert o.clipnorm is None and o.global_clipnorm is None
    with pytest.raises(ValueError):
        opt(clipnorm=1.0, global_clipnorm=1.0)
    assert opt().beta_2 == 0.999 and opt(beta_2=0.99).beta_2 == 0.99
    assert opt(beta_2=0.99, optimizer="lazy-adam").beta_2 == 0.99
    assert not hasattr(opt(optimizer="sgd", beta_2=0.99), "beta_2")


def test_embedding_decay_shrinks_only_the_word_vectors():
    """A word absent from the batch shrinks by lr x decay; every other weight moves as without."""
    x = np.array([[1, 2, 3, 4]], "int32")
    y = np.array([[2, 3, 4, 5]], "int32")

    def step(decay):
        keras.utils.set_random_seed(0)
        model = compile_model(build_model("gru", 20, units=4, embedding_dim=4, l2=0),
                              learning_rate=0.1, embedding_decay=decay)
        before = [v.numpy().copy() for v in model.trainable_variables]
        model.train_on_batch(x, y)
        return before, [v.numpy() for v in model.trainable_variables]

    before, plain = step(0.0)
    _, decayed = step(0.5)
    unseen = 10  # never in x: no gradient, so Adam leaves it and only the decay moves it
    np.testing.assert_allclose(plain[0][unseen], before[0][unseen])
    np.testing.assert_allclose(decayed[0][unseen], before[0][unseen] * (1 - 0.1 * 0.5),
                               rtol=1e-6)
    assert not np.allclose(decayed[0][1:5], plain[0][1:5])
    for a, b in zip(plain[1:], decayed[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_embedding_max_norm_caps_every_word_vector():
    """After an update no word vector is longer than the cap; without it some are."""
    x = np.array([[1, 2, 3, 4]], "int32")
    y = np.array([[2, 3, 4, 5]], "int32")

    def trained(cap):
        keras.utils.set_random_seed(0)
        model = build_model("lstm", 20, units=4, embedding_dim=4, l2=0,
                            embedding_std=1.0, embedding_max_norm=cap)
        compile_model(model, learning_rate=0.1)
        model.train_on_batch(x, y)
        return np.linalg.norm(model.get_layer("embedding").embeddings.numpy(), axis=1)

    free = trained(None)
    assert (free > 1.0).sum() > 5  # N(0, 1) vectors in 4 dimensions: about 2 long
    # the same first update, then every vector longer than the cap scaled back to it
    np.testing.assert_allclose(trained(1.0), np.minimum(free, 1.0), rtol=1e-5)


def test_lazy_adam_moves_a_word_vector_only_when_the_word_is_read():
    """Keras's Adam keeps moving a word's vector after its batch; lazy Adam does not."""
    first = np.array([[1, 2, 3, 2, 4]], "int32")  # word 2 read twice: its slices summed
    later = np.array([[5, 6, 7, 6, 8]], "int32")

    def vectors(optimizer):
        keras.utils.set_random_seed(0)
        model = build_model("gru", 20, units=4, embedding_dim=4, embedding_l2=0)
        compile_model(model, learning_rate=0.01, optimizer=optimizer, clipnorm=None)
        table = model.get_layer("embedding").embeddings
        start = table.numpy().copy()
        model.train_on_batch(first[:, :-1], first[:, 1:])
        after_first = table.numpy().copy()
        model.train_on_batch(later[:, :-1], later[:, 1:])
        return start, after_first, table.numpy()

    start, lazy_first, lazy_later = vectors("lazy-adam")
    _, adam_first, adam_later = vectors("adam")
    # the first update is Adam's (a step of the learning rate in each read entry), with
    # the two slices of word 2 summed before they are squared
    np.testing.assert_allclose(lazy_first[[1, 3]], adam_first[[1, 3]], atol=1e-6)
    np.testing.assert_allclose(np.abs(lazy_first - start)[1:4], 0.01, rtol=1e-2)
    np.testing.assert_array_equal(lazy_first[4:], start[4:])
    unread = [1, 2, 3, 4, 15]  # read by the first batch alone, or by neither
    np.testing.assert_array_equal(lazy_later[unread], lazy_first[unread])
    assert np.abs(adam_later[[1, 3]] - adam_first[[1, 3]]).min() > 5e-3  # 0.9 x its step
    assert np.abs(lazy_later[5:8] - lazy_first[5:8]).min() > 1e-3  # the later words move


def test_lazy_adam_model_has_no_penalty_on_word_vectors():
    model = build_model("gru", 20, units=4, l2=1e-3, embedding_l2=0)
    assert model.get_layer("embedding").embeddings_regularizer is None
    assert model.get_layer("rnn_1").kernel_regularizer is not None


def test_unknown_cell():
    with pytest.raises(ValueError, match="unknown cell"):
        build_model("transformer", 10)


def test_chrono_init_gives_gates_long_memory():
    units, max_lag = 16, 120
    lstm = build_model("lstm", 20, units=units, max_lag=max_lag, gate_init="chrono")
    bias = lstm.get_layer("rnn_1").cell.bias.numpy()
    forget, inputs = bias[units : 2 * units], bias[:units]
    assert (forget >= 0).all() and (forget <= np.log(max_lag)).all() and forget.std() > 0.3
    np.testing.assert_allclose(inputs, 0.0)  # input gate left at Keras's default
    gru = build_model("gru", 20, units=units, max_lag=max_lag, gate_init="chrono")
    # update gate: h = z * h_prev + (1 - z) * candidate
    z = gru.get_layer("rnn_1").cell.bias.numpy()[0, :units]
    assert (z >= 0).all() and z.mean() > 2.0


def test_chrono_memory_times_reach_max_lag():
    units = 512
    for max_lag in (120, 256):
        bias = build_model("lstm", 20, units=units, max_lag=max_lag).get_layer("rnn_1").cell.bias
        forget = bias.numpy()[units : 2 * units]
        assert forget.max() <= np.log(max_lag - 1) + 1e-6
        # uniform over 1..max_lag-1: about half the units above the middle
        assert 0.4 < (forget > np.log(max_lag / 2)).mean() < 0.6


def test_chrono_full_closes_the_lstm_input_gate():
    units = 16
    lstm = build_model("lstm", 20, units=units, gate_init="chrono-full").get_layer("rnn_1")
    bias = lstm.cell.bias.numpy()
    np.testing.assert_allclose(bias[:units], -bias[units : 2 * units])  # input = 1 - forget
    assert (bias[:units] <= 0).all() and bias[:units].std() > 0.3


def test_chrono_log_spreads_memory_times_log_uniformly():
    units, max_lag = 512, 120
    for cell in ("lstm", "gru"):
        spread = build_model(cell, 20, units=units, max_lag=max_lag, gate_init="chrono-log")
        flat = build_model(cell, 20, units=units, max_lag=max_lag, gate_init="chrono-full")
        bias = {n: m.get_layer("rnn_1").cell.bias.numpy() for n, m in
                (("spread", spread), ("flat", flat))}
        if cell == "lstm":
            keep = {n: b[units : 2 * units] for n, b in bias.items()}
            np.testing.assert_allclose(bias["spread"][:units], -keep["spread"])  # input closed
        else:
            keep = {n: b[0, :units] for n, b in bias.items()}
        half = np.log(np.sqrt(max_lag - 1))  # log-uniform: half the memories below sqrt(lag)
        assert (keep["spread"] >= 0).all() and (keep["spread"] <= np.log(max_lag)).all()
        assert 0.4 < (keep["spread"] < half).mean() < 0.6
        assert (keep["flat"] < half).mean() < 0.15  # uniform: few short memories


def test_default_gate_init_is_keras():
    lstm = build_model("lstm", 20, units=4, gate_init="default").get_layer("rnn_1")
    np.testing.assert_allclose(lstm.cell.bias.numpy()[4:8], 1.0)  # unit_forget_bias
    with pytest.raises(ValueError, match="gate_init"):
        build_model("lstm", 20, units=4, gate_init="warm")


def test_embedding_std_starts_word_vectors_from_a_wider_normal():
    keras_default = build_model("lstm", 400, units=8, embedding_dim=64)
    wide = build_model("lstm", 400, units=8, embedding_dim=64, embedding_std=0.5, seed=1)
    small = keras_default.get_layer("embedding").embeddings.numpy()
    vectors = wide.get_layer("embedding").embeddings.numpy()
    assert np.abs(small).max() <= 0.05  # Keras's uniform(-0.05, 0.05)
    assert abs(vectors.std() - 0.5) < 0.02
    assert np.abs(vectors).max() > 1.0  # a normal, not a uniform, start
    again = build_model("lstm", 400, units=8, embedding_dim=64, embedding_std=0.5, seed=1)
    np.testing.assert_array_equal(again.get_layer("embedding").embeddings.numpy(), vectors)


def test_dropout_on_cell_inputs_and_output_only_while_training():
    model = build_model("lstm", 20, units=8, embedding_dim=4, dropout=0.5)
    assert model.get_layer("rnn_1").dropout == 0.5
    assert model.get_layer("output_dropout").rate == 0.5
    plain = build_model("lstm", 20, units=8, embedding_dim=4)
    assert "output_dropout" not in [layer.name for layer in plain.layers]
    plain.set_weights(model.get_weights())  # no extra weights: the fast path reads the same
    ids = np.arange(2, 12, dtype="int32").reshape(2, 5)
    np.testing.assert_allclose(model(ids), plain(ids), rtol=1e-5, atol=1e-6)  # inference: off
    assert not np.allclose(model(ids, training=True), plain(ids))


def test_tied_embeddings_score_the_output_with_the_word_vectors(tmp_path):
    from autocomplete.artifacts import load_keras_model
    from autocomplete.fastpath import export_arrays

    model = build_model("gru", 30, units=8, embedding_dim=6, projection=6, seed=2,
                        tie_embeddings=True)
    assert "logits" not in [layer.name for layer in model.layers]
    embedding = model.get_layer("embedding")
    embedding.output_bias.assign(np.linspace(-1, 1, 30))
    arrays = export_arrays(model, [f"w{i}" for i in range(30)], None)
    np.testing.assert_array_equal(arrays["logits/kernel"], embedding.embeddings.numpy().T)
    np.testing.assert_array_equal(arrays["logits/bias"], np.linspace(-1, 1, 30).astype("float32"))
    untied = build_model("gru", 30, units=8, embedding_dim=6, projection=6, seed=2)
    assert untied.count_params() - model.count_params() == 6 * 30  # the output matrix
    ids = np.array([[2, 5, 7, 9]], "int32")
    model.save(tmp_path / "model.keras")
    (tmp_path / "vocab.txt").write_text("")
    (tmp_path / "config.json").write_text("{}")
    again = load_keras_model(tmp_path)
    np.testing.assert_allclose(again(ids), model(ids), rtol=1e-6)
    mixed = build_model("gru", 30, units=8, embedding_dim=6, projection=6, seed=2,
                        tie_embeddings=True, precision="mixed_bfloat16")
    mixed.set_weights(model.get_weights())
    np.testing.assert_allclose(mixed(ids), model(ids), atol=0.05)
    with pytest.raises(ValueError, match="as wide as the word vectors"):
        build_model("lstm", 30, units=8, embedding_dim=6, projection=4, tie_embeddings=True)
    build_model("lstm", 30, units=6, embedding_dim=6, tie_embeddings=True)  # no projection


def test_mixed_bfloat16_computes_in_bf16_and_hands_float32_logits():
    model = build_model("lstm", 20, units=8, embedding_dim=4, precision="mixed_bfloat16")
    assert model.get_layer("rnn_1").compute_dtype == "bfloat16"
    assert model.get_layer("rnn_1").cell.kernel.dtype == "float32"  # weights stay float32
    assert model.layers[-1].name == "logits_float32"
    assert keras.backend.standardize_dtype(model(np.ones((2, 5), "int32")).dtype) == "float32"
    with pytest.raises(ValueError, match="unknown precision"):
        build_model("lstm", 20, units=4, precision="float16")


def test_as_float32_keeps_the_weights_and_drops_the_cast():
    from autocomplete.model import as_float32

    kw = dict(cell="gru", vocab_size=30, units=8, embedding_dim=4, seed=3)
    mixed = build_model(**kw, precision="mixed_bfloat16")
    mixed.get_layer("logits").bias.assign(np.linspace(-1, 1, 30))  # not the initial weights
    plain = as_float32(mixed, **kw)
    assert [layer.name for layer in plain.layers][-1] == "logits"
    assert plain.get_layer("rnn_1").compute_dtype == "float32"
    for a, b in zip(mixed.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    ids = np.array([[2, 5, 7, 9]], "int32")
    # bf16 keeps ~3 significant digits: the two agree to that, not exactly
    np.testing.assert_allclose(mixed(ids), plain(ids), atol=0.05)


def test_resolve_precision(monkeypatch):
    import tensorflow as tf

    from autocomplete import model as m

    assert m.resolve_precision("float32") == "float32"
    assert m.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError, match="unknown precision"):
        m.resolve_precision("half")
    monkeypatch.setattr(m, "_cpu_flags", lambda: "flags : fpu sse avx2 avx512f")
    assert m.resolve_precision("auto") == "float32"  # bf16 would be emulated: slower
    monkeypatch.setattr(m, "_cpu_flags", lambda: "flags : fpu avx512f avx512_bf16")
    gpu = bool(tf.config.list_physical_devices("GPU"))
    assert m.resolve_precision("auto") == ("float32" if gpu else "mixed_bfloat16")
