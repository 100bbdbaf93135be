"""The numpy fast path: export, parity with Keras, loader choice, no TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_model_dir

from autocomplete.decoding import Completer, encode_prompt
from autocomplete.fastpath import (
    NPZ_NAME,
    FastPathUnsupported,
    NumpyStepModel,
    export_arrays,
    export_inference,
    load_step_model,
)

ROOT = Path(__file__).resolve().parents[1]
CELLS = ("simple_rnn", "lstm", "gru")
PROMPT = "Today due to my current job situation and family condition, I"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Tiny two-layer model directories, one per cell, with inference.npz."""
    root = tmp_path_factory.mktemp("models")
    dirs = {}
    for cell in CELLS:
        dirs[cell] = make_model_dir(root / cell, cell, layers=2)
        export_inference(dirs[cell])
    return dirs


def _keras_logits(model, ids):
    return model(np.asarray(ids, np.int32)[None], training=False).numpy()[0]


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_logits_match_keras_tiny(exported, cell):
    from autocomplete.artifacts import load_keras_model

    model = load_keras_model(exported[cell])
    fast = NumpyStepModel(exported[cell])
    ids, _ = encode_prompt(PROMPT, fast.vocab)
    ref = _keras_logits(model, ids)
    assert np.abs(fast.sequence_logits(ids) - ref).max() < 1e-4
    state, z = fast.initial_state(1), ref - ref.max(-1, keepdims=True)
    ref_logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    for t, tok in enumerate(ids):
        logp, state = fast.step(np.array([tok]), state)
        assert np.abs(logp[0] - ref_logp[t]).max() < 1e-4
    logp, _ = fast.prefill(np.array(ids))
    assert np.abs(logp[0] - ref_logp[-1]).max() < 1e-4


def _randomize(model, seed=0):
    """Weights of trained-like scale, so parity is tested on saturating gates too."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        fan_in = w.shape[0] if len(w.shape) == 2 else 4
        w.assign(rng.normal(0, 1.5 / np.sqrt(fan_in), w.shape).astype("float32"))


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_logits_match_keras_256_units_5000_tokens(cell):
    import keras

    from autocomplete.model import build_model

    keras.utils.set_random_seed(1)
    vocab = ["", "[UNK]", "[start]"] + [f"w{i}" for i in range(4997)]
    model = build_model(cell, len(vocab), units=256)
    _randomize(model)
    fast = NumpyStepModel.from_arrays(export_arrays(model, vocab, window=256))
    ids = np.random.default_rng(2).integers(3, len(vocab), size=(3, 12)).astype(np.int32)
    ref = model(ids, training=False).numpy()
    assert np.abs(ref).max() > 1  # not trivially small logits
    assert np.abs(fast.sequence_logits(ids[0]) - ref[0]).max() < 1e-4
    state = fast.initial_state(3)  # a batch of three, step by step
    for t in range(ids.shape[1]):
        logp, state = fast.step(ids[:, t], state)
    z = ref[:, -1] - ref[:, -1].max(-1, keepdims=True)
    assert np.abs(logp - (z - np.log(np.exp(z).sum(-1, keepdims=True)))).max() < 1e-4


@pytest.mark.parametrize("cell,kw", [
    ("simple_rnn", {"activation": "relu"}),
    ("gru", {"reset_after": False}),
    ("lstm", {"projection": 6}),  # the bottleneck, kept apart from the output matrix
    ("gru", {"projection": 6, "layers": 2}),
    ("lstm", {"projection": 8, "tie_embeddings": True}),  # the word vectors score the output
])
def test_variants_match_keras(cell, kw):
    import keras

    from autocomplete.model import build_model

    keras.utils.set_random_seed(3)
    if "reset_after" in kw:  # not what build_model makes, but a Keras GRU all the same
        tokens = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(40, 8, name="embedding")(tokens)
        x = keras.layers.GRU(16, return_sequences=True, name="rnn_1", **kw)(x)
        model = keras.Model(tokens, keras.layers.Dense(40, name="logits")(x))
    else:
        model = build_model(cell, 40, units=16, embedding_dim=8, **kw)
    _randomize(model)
    vocab = ["", "[UNK]", "[start]"] + [f"w{i}" for i in range(37)]
    fast = NumpyStepModel.from_arrays(export_arrays(model, vocab, window=None))
    ids = np.arange(2, 20, dtype=np.int32)
    assert np.abs(fast.sequence_logits(ids) - _keras_logits(model, ids)).max() < 1e-4
    assert fast.window is None


def test_an_export_with_the_bottleneck_folded_in_still_loads():
    """Format 1 folded the bottleneck into the output matrix: h (P W) + (p W + b)."""
    from autocomplete.model import build_model

    model = build_model("lstm", 40, units=16, embedding_dim=8, projection=6)
    _randomize(model)
    vocab = ["", "[UNK]", "[start]"] + [f"w{i}" for i in range(37)]
    arrays = export_arrays(model, vocab, window=None)
    assert arrays["projection/kernel"].shape == (16, 6)
    P, p = arrays.pop("projection/kernel"), arrays.pop("projection/bias")
    W, b = arrays["logits/kernel"], arrays["logits/bias"]
    folded = {**arrays, "format_version": np.array(1), "logits/kernel": P @ W,
              "logits/bias": p @ W + b}
    ids = np.arange(2, 20, dtype=np.int32)
    expected = NumpyStepModel.from_arrays(export_arrays(model, vocab, None)).sequence_logits(ids)
    assert np.abs(NumpyStepModel.from_arrays(folded).sequence_logits(ids) - expected).max() < 1e-4


def test_unsupported_activation_is_refused():
    from autocomplete.model import build_model

    model = build_model("simple_rnn", 20, units=4, embedding_dim=4, activation="softplus")
    with pytest.raises(FastPathUnsupported, match="softplus"):
        export_arrays(model, ["", "[UNK]", "[start]"] + list("abcdefghijklmnopq"), 8)


def test_export_is_plain_npz(exported):
    from autocomplete.artifacts import read_vocab

    with np.load(exported["lstm"] / NPZ_NAME, allow_pickle=False) as npz:
        assert str(npz["cell"]) == "lstm" and int(npz["layers"]) == 2
        assert int(npz["window"]) == 32
        assert [str(t) for t in npz["vocab"]] == read_vocab(exported["lstm"])
        assert npz["rnn_1/bias"].shape == (4 * 8,)
    with np.load(exported["gru"] / NPZ_NAME, allow_pickle=False) as npz:
        assert npz["rnn_1/bias"].shape == (2, 3 * 8)  # reset_after: input and recurrent rows


def test_loader_prefers_an_up_to_date_export(tmp_path):
    from autocomplete.keras_step import KerasStepModel

    d = make_model_dir(tmp_path / "gru", "gru")
    assert isinstance(load_step_model(d), KerasStepModel)  # no export yet
    npz = export_inference(d)
    assert isinstance(load_step_model(d), NumpyStepModel)
    later = npz.stat().st_mtime + 10
    os.utime(d / "model.keras", (later, later))  # retrained after the export
    assert isinstance(load_step_model(d), KerasStepModel)
    os.utime(npz, (later + 1, later + 1))
    npz.write_bytes(b"not a zip")
    os.utime(npz, (later + 1, later + 1))
    assert isinstance(load_step_model(d), KerasStepModel)  # unreadable export: fall back


def test_fast_path_never_imports_tensorflow(exported):
    code = (
        "import sys\n"
        "from autocomplete.fastpath import load_step_model, NumpyStepModel\n"
        "from autocomplete.decoding import Completer\n"
        "m = load_step_model(sys.argv[1])\n"
        "assert isinstance(m, NumpyStepModel)\n"
        "c = Completer(m).complete('i need to take a', max_words=4)\n"
        "assert c.tokens\n"
        "bad = [k for k in sys.modules if k.split('.')[0] in ('tensorflow', 'keras')]\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, str(exported["lstm"])], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_numpy_and_keras_complete_alike(exported):
    from autocomplete.keras_step import KerasStepModel

    fast = Completer(NumpyStepModel(exported["gru"])).complete(PROMPT, beam=3)
    slow = Completer(KerasStepModel(exported["gru"])).complete(PROMPT, beam=3)
    assert fast.tokens == slow.tokens
    assert fast.confidence == pytest.approx(slow.confidence, rel=1e-4)


def test_the_engine_knows_every_cell():
    from autocomplete.model import CELLS
    from autocomplete.model_names import CELL_NAMES, GATES, KERAS_CELL_CLASSES

    assert set(CELLS) == set(GATES) == set(KERAS_CELL_CLASSES) == set(CELL_NAMES)
    for cell, layer in CELLS.items():
        assert type(layer(2).cell).__name__ == KERAS_CELL_CLASSES[cell]


@pytest.mark.parametrize("kw", [{"projection": 6}, {"projection": 8, "tie_embeddings": True}])
def test_keras_step_engine_runs_through_the_bottleneck(kw):
    """The TensorFlow step engine applies the projection before the logits, as the model does."""
    import keras

    from autocomplete.keras_step import KerasStepModel
    from autocomplete.model import build_model

    keras.utils.set_random_seed(4)
    model = build_model("lstm", 40, units=16, embedding_dim=8, **kw)
    _randomize(model)
    vocab = ["", "[UNK]", "[start]"] + [f"w{i}" for i in range(37)]
    engine = KerasStepModel(model=model, vocab=vocab, window=None)
    ids = np.arange(2, 12, dtype=np.int32)
    ref = _keras_logits(model, ids)[-1]
    logp, _ = engine.prefill(ids)
    z = ref - ref.max()
    assert np.abs(np.asarray(logp).reshape(-1) - (z - np.log(np.exp(z).sum()))).max() < 1e-4
