"""Fast completion engine: the trained model's step in plain numpy.

`export_inference` writes `inference.npz` beside `model.keras` (weights in
Keras layouts, no pickle); `NumpyStepModel` runs one token step from it with
a few float32 numpy calls, so `autocomplete complete` starts in well under a
second and never imports TensorFlow. `load_step_model` picks it whenever the
export is up to date and falls back to the Keras step model otherwise.

Math (as in keras/src/layers/rnn/*.py, float32):

* SimpleRNN: h = act(x W + b + h U)
* LSTM, gates i, f, c, o: z = x W + b + h U; c = f*c + i*act(z_c); h = o*act(c)
* GRU, gates z, r, h, reset_after=True, bias rows (input, recurrent):
  m = h U + b_rec; z, r = sig(x W_zr + b_in + m_zr); hh = act(x W_h + b_in + r*m_h);
  h = z*h + (1 - z)*hh  (reset_after=False: hh = act(x W_h + b + (r*h) U_h))

Speed: the first layer's input projection `embedding @ W + b` is a table
looked up per token (precomputed at load when it fits in TABLE_LIMIT bytes),
the prompt is fed without the output layer (logits only for its last token),
a linear bottleneck before the logits stays two products (h P then W: half
the arithmetic of the folded h (P W) at 256 units and a bottleneck of 128),
and the logits' log-softmax is computed once per step. A step of two or three
rows (a beam search's usual batch) multiplies row by row (`_dot`).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from autocomplete.artifacts import ModelDirError, check_model_dir, read_config
from autocomplete.logprobs import log_softmax, softmax
from autocomplete.model_names import GATES, KERAS_CELL_CLASSES

FORMAT_VERSION = 2  # 2: the bottleneck is kept apart ("projection/kernel", "projection/bias")
READABLE_VERSIONS = (1, 2)  # 1: any bottleneck folded into "logits/kernel"
NPZ_NAME = "inference.npz"
TABLE_LIMIT = 64 * 2**20  # bytes; above this the first layer projects embeddings per step


class FastPathUnsupported(ValueError):
    """The model uses something the numpy engine does not implement (Keras still works)."""


def _dot(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """`x @ w` for a (batch, in) `x`; two or three rows as one matrix-vector product each.

    OpenBLAS's single-precision matrix product is slow for two or three rows: on
    the 2-core EPYC, (3, 128) @ (128, 2854) took 171-191 us against 76-89 us as three
    vector products, (3, 192) @ (192, 768) 77 against 42. For one row, or four and more,
    the matrix product is as fast or faster (eight rows: 188 us against 241).
    """
    if not 2 <= len(x) <= 3:
        return x @ w
    out = np.empty((len(x), w.shape[1]), np.result_type(x, w))
    for i in range(len(x)):
        np.dot(x[i], w, out=out[i])
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exact identity, never overflows (1 / (1 + exp(-x)) warns for x < -88 in float32)
    return np.tanh(x * np.float32(0.5)) * np.float32(0.5) + np.float32(0.5)


def _tanh_sigmoid(x_half: np.ndarray) -> np.ndarray:
    """sigmoid(x) from x / 2 (the columns pre-scaled at load)."""
    t = np.tanh(x_half)
    t *= np.float32(0.5)
    t += np.float32(0.5)
    return t


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:  # Keras 3: relu6(x + 3) / 6
    return np.clip(x * np.float32(1 / 6) + np.float32(0.5), 0, 1)


ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "relu": lambda x: np.maximum(x, np.float32(0)),
    "linear": lambda x: x,
}


# -- export ---------------------------------------------------------------------
def _numpy(variable) -> np.ndarray:
    return np.asarray(variable.numpy(), dtype=np.float32)


def _dense_arrays(layer) -> tuple[np.ndarray, np.ndarray]:
    kernel = _numpy(layer.kernel)
    bias = _numpy(layer.bias) if layer.bias is not None else np.zeros(kernel.shape[1], np.float32)
    return kernel, bias


def _output_layers(model) -> dict[str, np.ndarray]:
    """The arrays from the last recurrent layer's output to the logits.

    "logits/kernel" and "logits/bias", and with a linear bottleneck
    ("projection") before them, its "projection/kernel" and "projection/bias":
    the engine computes (h P + p) W + b, as Keras does.
    """
    try:
        kernel, bias = _dense_arrays(model.get_layer("logits"))
    except ValueError:  # tied embeddings: the word vectors score the output
        embedding = model.get_layer("embedding")
        kernel = np.ascontiguousarray(_numpy(embedding.embeddings).T)
        bias = _numpy(embedding.output_bias)
    arrays = {"logits/kernel": kernel, "logits/bias": bias}
    try:
        projection = model.get_layer("projection")
    except ValueError:
        return arrays
    arrays["projection/kernel"], arrays["projection/bias"] = _dense_arrays(projection)
    return arrays


def export_arrays(model, vocab: list[str], window: int | None) -> dict[str, np.ndarray]:
    """The arrays of `inference.npz` for a built Keras model (layer names of build_model)."""
    rnn_layers = sorted(
        (layer for layer in model.layers if layer.name.startswith("rnn_")),
        key=lambda layer: int(layer.name.split("_")[1]),
    )
    if not rnn_layers:
        raise FastPathUnsupported("no recurrent layers named rnn_1.. in the model")
    kinds = {keras_name: cell for cell, keras_name in KERAS_CELL_CLASSES.items()}
    cell_kind = kinds.get(type(rnn_layers[0].cell).__name__)
    if cell_kind is None:
        raise FastPathUnsupported(f"unsupported cell {type(rnn_layers[0].cell).__name__}")
    emb = model.get_layer("embedding")
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION),
        "cell": np.array(cell_kind),
        "layers": np.array(len(rnn_layers)),
        "window": np.array(window if window else -1),
        "vocab": np.array(vocab),
        "embedding": _numpy(emb.embeddings),
        **_output_layers(model),
    }
    for i, layer in enumerate(rnn_layers, 1):
        cell = layer.cell
        if kinds.get(type(cell).__name__) != cell_kind:
            raise FastPathUnsupported("all recurrent layers must use the same cell")
        config = cell.get_config()
        act, rec_act = config["activation"], config.get("recurrent_activation", "sigmoid")
        for a in (act, rec_act):
            if not isinstance(a, str) or a not in ACTIVATIONS:
                raise FastPathUnsupported(f"activation {a!r} is not in the numpy engine")
        gates = GATES[cell_kind] * cell.units
        reset_after = bool(getattr(cell, "reset_after", False))
        if cell.use_bias:
            bias = _numpy(cell.bias)
        else:
            bias = np.zeros((2, gates) if reset_after else (gates,), np.float32)
        p = f"rnn_{i}/"
        arrays[p + "kernel"] = _numpy(cell.kernel)
        arrays[p + "recurrent_kernel"] = _numpy(cell.recurrent_kernel)
        arrays[p + "bias"] = bias
        arrays[p + "activation"] = np.array(act)
        arrays[p + "recurrent_activation"] = np.array(rec_act)
        arrays[p + "reset_after"] = np.array(reset_after)
    return arrays


def export_inference(model_dir: str | os.PathLike, model=None) -> Path:
    """Write `inference.npz` beside `model.keras` and return its path.

    Pass `model` (the Keras model just saved there) to skip reloading it.
    Written to a temporary name and renamed, so a reader never sees half a file.

    Raises:
        FastPathUnsupported: a layer the numpy engine does not implement; the
            model still works through the Keras step model.
    """
    from autocomplete.artifacts import check_vocab_matches, load_keras_model, read_vocab

    model_dir = Path(model_dir)
    if model is None:
        model = load_keras_model(model_dir)
    vocab = read_vocab(model_dir)
    check_vocab_matches(vocab, model, model_dir)
    window = read_config(model_dir).get("window") if (model_dir / "config.json").exists() else None
    arrays = export_arrays(model, vocab, window)
    out = model_dir / NPZ_NAME
    tmp = model_dir / (NPZ_NAME + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, out)
    return out


# -- numpy engine ---------------------------------------------------------------
class _Layer:
    """One recurrent layer's float32 weights, laid out for a cheap step.

    LSTM gate columns are reordered i, f, o, c so the three sigmoid gates are
    one slice. With a sigmoid recurrent activation the sigmoid gates' columns
    (weights and biases) are pre-scaled by 0.5 -- exact in binary floating
    point -- so sigmoid(x) = 0.5 * tanh(x / 2) + 0.5 is one tanh, and an LSTM
    with tanh/sigmoid takes a single tanh over all four gates.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], i: int, kind: str):
        p = f"rnn_{i}/"
        self.kind = kind
        W = np.asarray(arrays[p + "kernel"], dtype=np.float32)
        U = np.asarray(arrays[p + "recurrent_kernel"], dtype=np.float32)
        bias = np.asarray(arrays[p + "bias"], dtype=np.float32)
        n = self.units = U.shape[0]
        self.reset_after = bool(arrays[p + "reset_after"])
        act = str(arrays[p + "activation"])
        rec = str(arrays[p + "recurrent_activation"])
        self.act = ACTIVATIONS[act]
        self.half = rec == "sigmoid"  # sigmoid gates pre-scaled by 0.5
        self.rec_act = _tanh_sigmoid if self.half else ACTIVATIONS[rec]
        self.fused = kind == "lstm" and self.half and act == "tanh"
        self.n_states = 2 if kind == "lstm" else 1
        if kind == "gru" and self.reset_after:
            b_in, b_rec = bias[0], bias[1]
        else:
            b_in, b_rec = bias, None
        cols = np.arange(W.shape[1])
        n_sig = 0  # leading columns that go through the recurrent activation
        if kind == "lstm":  # Keras i, f, c, o -> i, f, o, c
            cols = np.concatenate([cols[: 2 * n], cols[3 * n :], cols[2 * n : 3 * n]])
            n_sig = 3 * n
        elif kind == "gru":
            n_sig = 2 * n
        scale = np.ones(W.shape[1], np.float32)
        if self.half:
            scale[:n_sig] = 0.5
        self.W = np.ascontiguousarray(W[:, cols] * scale)
        self.U = np.ascontiguousarray(U[:, cols] * scale)
        self.b_in = np.ascontiguousarray(b_in[cols] * scale)
        self.b_rec = None if b_rec is None else np.ascontiguousarray(b_rec[cols] * scale)
        if kind == "gru" and not self.reset_after:
            self.U_zr = np.ascontiguousarray(self.U[:, : 2 * n])
            self.U_h = np.ascontiguousarray(self.U[:, 2 * n :])

    def project(self, x: np.ndarray) -> np.ndarray:
        """Input part of the gates, bias included: (..., in) -> (..., gates)."""
        return x @ self.W + self.b_in

    def step(self, xg: np.ndarray, state: list[np.ndarray]) -> list[np.ndarray]:
        """New state from the projected input `xg` (batch, gates)."""
        h, n = state[0], self.units
        if self.kind == "simple_rnn":
            return [self.act(xg + _dot(h, self.U))]
        if self.kind == "lstm":
            z = xg + _dot(h, self.U)
            if self.fused:
                t = np.tanh(z)
                sig, g = t[:, : 3 * n], t[:, 3 * n :]
                sig *= np.float32(0.5)
                sig += np.float32(0.5)
            else:
                sig, g = self.rec_act(z[:, : 3 * n]), self.act(z[:, 3 * n :])
            c = sig[:, n : 2 * n] * state[1] + sig[:, :n] * g
            return [sig[:, 2 * n :] * self.act(c), c]
        if self.reset_after:
            m = _dot(h, self.U) + self.b_rec
            zr = self.rec_act(xg[:, : 2 * n] + m[:, : 2 * n])
            z, r = zr[:, :n], zr[:, n:]
            hh = self.act(xg[:, 2 * n :] + r * m[:, 2 * n :])
        else:
            zr = self.rec_act(xg[:, : 2 * n] + _dot(h, self.U_zr))
            z, r = zr[:, :n], zr[:, n:]
            hh = self.act(xg[:, 2 * n :] + _dot(r * h, self.U_h))
        return [hh + z * (h - hh)]  # = z*h + (1-z)*hh

    def run(self, xg: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list]:
        """Feed a (T, gates) projected sequence for batch 1; outputs (T, units), last state."""
        out = np.empty((len(xg), self.units), np.float32)
        for t in range(len(xg)):
            state = self.step(xg[t : t + 1], state)
            out[t] = state[0][0]
        return out, state


class NumpyStepModel:
    """StepModel on `inference.npz`: numpy float32, no TensorFlow.

    Example:
        >>> m = NumpyStepModel("models/lstm")
        >>> logp, state = m.step(np.array([2], np.int32), m.initial_state(1))
    """

    def __init__(self, model_dir: str | os.PathLike):
        path = Path(model_dir) / NPZ_NAME
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise ModelDirError(f"cannot read {path}: {e}") from e
        self._setup(arrays)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> NumpyStepModel:
        """Build from `export_arrays` output (no file)."""
        self = cls.__new__(cls)
        self._setup(arrays)
        return self

    def _setup(self, arrays: Mapping[str, np.ndarray]) -> None:
        try:
            if int(arrays["format_version"]) not in READABLE_VERSIONS:
                raise ValueError(f"format version {int(arrays['format_version'])}")
            self.cell = str(arrays["cell"])
            self.vocab = [str(t) for t in arrays["vocab"]]
            window = int(arrays["window"])
            self.window = window if window > 0 else None
            kind = self.cell
            self.layers = [_Layer(arrays, i, kind) for i in range(1, int(arrays["layers"]) + 1)]
            emb = np.ascontiguousarray(arrays["embedding"], dtype=np.float32)
            self.dense_W = np.ascontiguousarray(arrays["logits/kernel"], dtype=np.float32)
            self.dense_b = np.ascontiguousarray(arrays["logits/bias"], dtype=np.float32)
            self.proj_W = self.proj_b = None  # the bottleneck, when the model has one
            if "projection/kernel" in arrays:
                self.proj_W = np.ascontiguousarray(arrays["projection/kernel"], np.float32)
                self.proj_b = np.ascontiguousarray(arrays["projection/bias"], np.float32)
        except (KeyError, ValueError) as e:
            raise ModelDirError(f"{NPZ_NAME} is not a fast-path export ({e})") from e
        if not (len(self.vocab) == emb.shape[0] == self.dense_W.shape[1]):
            raise ModelDirError(f"{NPZ_NAME}: vocabulary and weight shapes disagree")
        if self.proj_W is not None and self.proj_W.shape[1] != self.dense_W.shape[0]:
            raise ModelDirError(f"{NPZ_NAME}: the bottleneck and the output layer disagree")
        # the state entry that feeds the logits: the last layer's h (the cache's key)
        self.output_state = sum(layer.n_states for layer in self.layers[:-1])
        first = self.layers[0]
        if emb.shape[0] * first.W.shape[1] * 4 <= TABLE_LIMIT:
            self.table, self.embedding = first.project(emb), None
        else:
            self.table, self.embedding = None, emb

    def _input(self, token_ids: np.ndarray) -> np.ndarray:
        if self.table is not None:
            return self.table[token_ids]
        return self.layers[0].project(self.embedding[token_ids])

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return [
            np.zeros((batch, layer.units), np.float32)
            for layer in self.layers
            for _ in range(layer.n_states)
        ]

    def _split(self, state: list[np.ndarray]) -> list[list[np.ndarray]]:
        out, k = [], 0
        for layer in self.layers:
            out.append(state[k : k + layer.n_states])
            k += layer.n_states
        return out

    def logits(self, h: np.ndarray) -> np.ndarray:
        if self.proj_W is not None:
            h = _dot(h, self.proj_W) + self.proj_b
        logits = _dot(h, self.dense_W)
        logits += self.dense_b
        return logits

    def step(
        self, token_ids: np.ndarray, state: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """(batch,) ids -> ((batch, V) float32 log-probs, new state)."""
        logits, new = self._step_logits(token_ids, state)
        return log_softmax(logits), new

    def step_probs(
        self, token_ids: np.ndarray, state: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`step` with probabilities for log-probabilities (what a mixture adds up)."""
        logits, new = self._step_logits(token_ids, state)
        return softmax(logits), new

    def _step_logits(self, token_ids: np.ndarray, state: list[np.ndarray]
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
        x = self._input(np.asarray(token_ids, dtype=np.intp))
        new: list[np.ndarray] = []
        for li, (layer, s) in enumerate(zip(self.layers, self._split(state), strict=True)):
            s = layer.step(x if li == 0 else layer.project(x), s)
            new.extend(s)
            x = s[0]
        return self.logits(x), new

    def prefill(self, token_ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed a whole prompt (batch 1): logits only for its last token."""
        logp, state, _ = self.prefill_sequence(token_ids)
        return logp, state

    def prefill_sequence(
        self, token_ids: np.ndarray
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """`prefill`, plus the last layer's hidden state after every token (T, units)."""
        x = self._input(np.asarray(token_ids, dtype=np.intp))
        new: list[np.ndarray] = []
        for li, layer in enumerate(self.layers):
            x, s = layer.run(x if li == 0 else layer.project(x), self.initial_state_layer(layer))
            new.extend(s)
        return log_softmax(self.logits(x[-1:])), new, x

    def sequence_logits(self, token_ids: np.ndarray) -> np.ndarray:
        """Logits (T, V) for every position of a 1-D sequence, like `model(ids[None])[0]`."""
        x = self._input(np.asarray(token_ids, dtype=np.intp))
        for li, layer in enumerate(self.layers):
            x, _ = layer.run(x if li == 0 else layer.project(x), self.initial_state_layer(layer))
        return self.logits(x)

    @staticmethod
    def initial_state_layer(layer: _Layer) -> list[np.ndarray]:
        return [np.zeros((1, layer.units), np.float32) for _ in range(layer.n_states)]


def fast_path_ready(model_dir: str | os.PathLike) -> bool:
    """True when `inference.npz` exists and is not older than `model.keras`."""
    model_dir = Path(model_dir)
    try:
        return (model_dir / NPZ_NAME).stat().st_mtime >= (model_dir / "model.keras").stat().st_mtime
    except OSError:
        return False


def load_step_model(model_dir: str | os.PathLike, cell: str | None = None):
    """The fastest step model for a model directory.

    NumpyStepModel when `inference.npz` is up to date (no TensorFlow import),
    else KerasStepModel (imports TensorFlow). An unreadable export falls back
    to Keras too. Raises ModelDirError for a missing or incomplete directory.
    """
    model_dir = check_model_dir(model_dir, cell)
    if fast_path_ready(model_dir):
        try:
            return NumpyStepModel(model_dir)
        except ModelDirError:
            pass
    from autocomplete.keras_step import KerasStepModel

    return KerasStepModel(model_dir)
