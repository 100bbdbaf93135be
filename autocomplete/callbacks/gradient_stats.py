"""Record gradient statistics during `fit`; stop on NaN/Inf or exploding gradients."""

from __future__ import annotations

import importlib.util
import logging
import math
import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from autocomplete.callbacks.gradient_flow import GradientFlow

logger = logging.getLogger(__name__)

GLOBAL = "(global)"
STATS_COLUMNS = ["step", "epoch", "layer", "statistic", "value"]
FLOW_COLUMNS = ["epoch", "step", "lag", "rows", "value"]
DEFAULT_EVERY = 20


class GradientStats(keras.callbacks.Callback):
    """Records gradient norms, clipping and gradient flow; stops training on NaN/Inf.

    Keras `fit` does not expose its gradients, so every `every` optimizer
    steps and at each epoch end this callback draws a batch from `data`,
    computes the gradient of the compiled loss (cross-entropy plus the L2
    penalties in `model.losses`) with its own `tf.GradientTape`, and records
    the gradient as it is BEFORE clipping. The numbers therefore describe a
    sample batch at the current weights, not the exact batch `fit` just used.

    Recorded each time (rows of `grad_stats.csv`):

    - per variable (layer "rnn_1/lstm_cell/kernel") and per layer ("rnn_1"):
      `grad_norm` (L2), `grad_max_abs` (inf when any value is NaN/Inf),
      `grad_nonfinite` (count of NaN/Inf), `weight_norm`, `update_ratio` and,
      with clipping on, `clipped` (0/1);
    - for the model (layer "(global)"): `loss`, `global_norm`, `grad_max_abs`,
      `grad_nonfinite`, `weight_norm`, `update_ratio`, `interval_steps` and,
      with clipping on, `clipped` and `clipped_fraction`.

    `update_ratio` is ||W_now - W_prev|| / ||W_now|| where W_prev is the
    weights at the previous record, so it covers `interval_steps` optimizer
    steps (not one). `clipped` says whether the optimizer's clipping engages
    on this gradient: with `clipnorm` (Keras clips each variable separately)
    when any variable's norm exceeds it, with `global_clipnorm` when the global
    norm does. `clipped_fraction` is the running fraction of records clipped
    in this `fit`. Without clipping these rows are not written.

    At each epoch end, given a `probe`, it also records the gradient flow
    through time (rows of `grad_flow.csv`: epoch, step, lag, rows, value; see
    `GradientFlow`): the mean over the probe's `rows` of the gradient norm of
    the loss at a row's last real position with respect to the input `lag`
    positions earlier.

    Trouble stops training (`model.stop_training = True`): NaN/Inf in the
    gradients, the weights or the logged loss (the loss is checked after
    every batch, like `TerminateOnNaN`), or a global norm above
    `max_global_norm`. The message names the layer and step and what to try;
    it is printed (verbose > 0), logged and kept in `.stop_reason`. The
    weights of the last healthy record (or of the start of `fit`) are copied
    on the device at each record and put back when stopping, so up to `every`
    steps of training are lost; the optimizer state is not restored.

    Records are buffered and appended to the CSV files at each epoch end and
    when training ends, so a crash keeps all finished epochs. Steps are the
    optimizer's iteration count after the step, so a resumed run continues
    the numbering. The callback reads each batch's logs, which turns off Keras'
    asynchronous callback dispatch (as any per-batch callback does).

    Args:
        data: where sample batches come from: a `tf.data.Dataset` (or other
            re-iterable) of `(x, y)` / `(x, y, sample_weight)` batches, or a
            tuple of arrays `(x, y[, sample_weight])` from which `batch_size`
            rows are drawn at random (all rows, in order, if there are no
            more). A small fixed batch gives comparable numbers over time.
        probe: int array `(B, T)` of held-out token windows, or a tuple
            `(x, y)`, for the gradient flow; default None (no flow).
        every: int, default 20. Record every `every` optimizer steps (plus
            each epoch end). A record costs about half a training step (a
            forward and backward pass on the sample batch, no update), so 20
            adds about 3% to training a 256-unit LSTM on 64 x 256-token
            batches (benchmarks/grad_overhead.py); lower it for finer curves.
        log_dir: str or Path, default None. Directory for `grad_stats.csv` and
            `grad_flow.csv`; None keeps records in memory only (`stats_frame()`).
        tensorboard_dir: str or Path, default None. Also write TensorBoard
            scalars and histograms there; skipped with a warning when the
            tensorboard package is not installed.
        max_global_norm: float, default None. Stop when the global gradient
            norm (before clipping) exceeds it. None: only NaN/Inf stop, since
            clipping may well cope with a large norm.
        max_lag: int, default None. Largest lag of the flow curve; None means
            all positions of the probe.
        batch_size: int, default 64. Rows per sample batch when `data` is arrays.
        verbose: int, default 1. 0: silent, 1: print when stopping,
            2: also a one-line summary per epoch.

    Example:

    ```python
    cb = GradientStats((x[:64], y[:64], w[:64]), probe=x_test[:16], log_dir="run")
    model.fit(train_ds, epochs=5, callbacks=[cb])
    cb.stats_frame().query("statistic == 'global_norm'")
    ```
    """

    def __init__(
        self,
        data,
        probe=None,
        every: int = DEFAULT_EVERY,
        log_dir: str | Path | None = None,
        tensorboard_dir: str | Path | None = None,
        max_global_norm: float | None = None,
        max_lag: int | None = None,
        batch_size: int = 64,
        verbose: int = 1,
        seed: int = 0,
    ):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.data = data
        self.probe = probe
        self.every = int(every)
        self.log_dir = Path(log_dir) if log_dir else None
        self.tensorboard_dir = tensorboard_dir
        self.max_global_norm = max_global_norm
        self.max_lag = max_lag
        self.batch_size = batch_size
        self.verbose = verbose
        self._rng = np.random.default_rng(seed)
        self._iterator = None
        self._writer = None
        self._flow = None
        self._bound_to = None
        self.rows: list[tuple] = []
        self.flow_rows: list[tuple] = []
        self._reset()

    # -- state -------------------------------------------------------------

    def _reset(self):
        self.stop_reason: str | None = None
        self.stopped_step: int | None = None
        self.last_good_step: int | None = None
        self.records = 0
        self.clipped_records = 0
        self._pending: list[tuple] = []
        self._pending_flow: list[tuple] = []
        self._epoch = 0
        self._step = 0
        self._last_record_step: int | None = None
        self._batch_begin = 0

    def _bind(self):
        """Per-model compiled functions and device-side weight snapshot."""
        model = self.model
        if self._bound_to is model:
            return
        self._trainable = list(model.trainable_variables)
        self._all = list(model.weights)
        self._var_names = [v.path for v in self._trainable]
        owner = {}
        for layer in model.layers:
            for v in layer.trainable_variables:
                owner.setdefault(id(v), layer.name)
        self._var_layer = [owner.get(id(v), v.path.split("/")[0]) for v in self._trainable]
        self._layers = list(dict.fromkeys(self._var_layer))
        self._snapshot = [
            tf.Variable(tf.convert_to_tensor(v), trainable=False, name="snapshot")
            for v in self._all
        ]
        trainable_ids = {id(v) for v in self._trainable}
        self._prev = [
            s for v, s in zip(self._all, self._snapshot, strict=True) if id(v) in trainable_ids
        ]
        self._stats_fn = tf.function(self._gradient_stats, reduce_retracing=True)
        self._snap_fn = tf.function(self._take_snapshot)
        self._flow = GradientFlow(model, self.max_lag) if self.probe is not None else None
        self._bound_to = model

    # -- graph functions -----------------------------------------------------

    def _gradient_stats(self, x, y, w):
        model = self.model
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=w, training=True)
        grads = tape.gradient(loss, self._trainable)
        g_sq, g_max, g_bad, w_sq, d_sq, w_bad = [], [], [], [], [], []
        for g, v, prev in zip(grads, self._trainable, self._prev, strict=True):
            wv = tf.cast(tf.convert_to_tensor(v), tf.float32)
            if g is None:
                g = tf.zeros_like(wv)
            g = tf.cast(tf.convert_to_tensor(g), tf.float32)  # IndexedSlices -> dense
            bad = tf.logical_not(tf.math.is_finite(g))
            g_sq.append(tf.reduce_sum(tf.square(g)))
            g_max.append(tf.reduce_max(tf.where(bad, np.inf, tf.abs(g))))
            g_bad.append(tf.reduce_sum(tf.cast(bad, tf.int64)))
            w_sq.append(tf.reduce_sum(tf.square(wv)))
            d_sq.append(tf.reduce_sum(tf.square(wv - tf.cast(prev, tf.float32))))
            w_bad.append(tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(wv)), tf.int64)))
        stats = {
            "loss": tf.cast(loss, tf.float32),
            "g_sq": tf.stack(g_sq), "g_max": tf.stack(g_max), "g_bad": tf.stack(g_bad),
            "w_sq": tf.stack(w_sq), "d_sq": tf.stack(d_sq), "w_bad": tf.stack(w_bad),
        }
        return stats, grads

    def _take_snapshot(self):
        for v, s in zip(self._all, self._snapshot, strict=True):
            s.assign(tf.cast(tf.convert_to_tensor(v), s.dtype))

    # -- measuring -------------------------------------------------------------

    def _next_batch(self):
        data = self.data
        if isinstance(data, (tuple, list)):
            arrays = [np.asarray(a) for a in data]
            n = len(arrays[0])
            if n > self.batch_size:
                idx = np.sort(self._rng.choice(n, self.batch_size, replace=False))
                arrays = [a[idx] for a in arrays]
            return keras.utils.unpack_x_y_sample_weight(tuple(arrays))
        if self._iterator is None:
            source = data.repeat() if isinstance(data, tf.data.Dataset) else data
            self._iterator = iter(source)
        try:
            batch = next(self._iterator)
        except StopIteration:
            self._iterator = iter(data)
            batch = next(self._iterator)
        return keras.utils.unpack_x_y_sample_weight(batch)

    def measure(self, x, y, sample_weight=None) -> dict:
        """Gradient statistics of the compiled loss on one batch at the current weights.

        Returns a dict with scalars `loss`, `global_norm`, `grad_max_abs`,
        `grad_nonfinite`, `weight_norm`, `update_ratio`, `clipped` (None when
        clipping is off) and dicts by variable path (`var_norms`,
        `var_max_abs`, `var_nonfinite`, `weight_norms`, `update_ratios`,
        `clipped_vars`) and by layer name (`layer_norms`, `layer_max_abs`,
        `layer_nonfinite`, `layer_weight_norms`, `layer_update_ratios`,
        `weight_nonfinite`).
        """
        self._bind()
        w = None if sample_weight is None else tf.convert_to_tensor(sample_weight, tf.float32)
        raw, grads = self._stats_fn(tf.convert_to_tensor(x), tf.convert_to_tensor(y), w)
        self._last_grads = grads
        s = {k: np.asarray(v.numpy(), dtype=np.float64) for k, v in raw.items()}
        names, owners = self._var_names, self._var_layer

        def per_var(values) -> dict:
            return dict(zip(names, values.tolist(), strict=True))

        def per_layer(values, reduce) -> dict:
            return {
                layer: float(reduce([v for v, o in zip(values, owners, strict=True) if o == layer]))
                for layer in self._layers
            }

        def ratio(d_sq, w_sq):
            return math.sqrt(d_sq / w_sq) if w_sq > 0 else float("nan")

        layer_g_sq, layer_w_sq = per_layer(s["g_sq"], np.sum), per_layer(s["w_sq"], np.sum)
        layer_d_sq = per_layer(s["d_sq"], np.sum)
        var_norms = per_var(np.sqrt(s["g_sq"]))
        global_norm = math.sqrt(s["g_sq"].sum())
        clipnorm, global_clipnorm = self._clipping()
        clipped_vars = {n: v > clipnorm for n, v in var_norms.items()} if clipnorm else {}
        if clipnorm:
            clipped = any(clipped_vars.values())
        else:
            clipped = bool(global_norm > global_clipnorm) if global_clipnorm else None
        return {
            "loss": float(s["loss"]),
            "global_norm": global_norm,
            "grad_max_abs": float(s["g_max"].max()),
            "grad_nonfinite": int(s["g_bad"].sum()),
            "weight_norm": math.sqrt(s["w_sq"].sum()),
            "update_ratio": ratio(s["d_sq"].sum(), s["w_sq"].sum()),
            "clipped": clipped,
            "var_norms": var_norms,
            "var_max_abs": per_var(s["g_max"]),
            "var_nonfinite": per_var(s["g_bad"].astype(int)),
            "weight_norms": per_var(np.sqrt(s["w_sq"])),
            "update_ratios": {n: ratio(d, w_) for n, d, w_ in
                              zip(names, s["d_sq"], s["w_sq"], strict=True)},
            "clipped_vars": clipped_vars,
            "layer_norms": {k: math.sqrt(v) for k, v in layer_g_sq.items()},
            "layer_max_abs": per_layer(s["g_max"], np.max),
            "layer_nonfinite": {k: int(v) for k, v in per_layer(s["g_bad"], np.sum).items()},
            "layer_weight_norms": {k: math.sqrt(v) for k, v in layer_w_sq.items()},
            "layer_update_ratios": {k: ratio(layer_d_sq[k], layer_w_sq[k]) for k in layer_w_sq},
            "weight_nonfinite": {k: int(v) for k, v in per_layer(s["w_bad"], np.sum).items()},
        }

    def gradient_flow(self, probe=None) -> np.ndarray:
        """Flow curve (index k - 1 holds lag k) on `probe` (default: the callback's)."""
        self._bind()
        flow = self._flow or GradientFlow(self.model, self.max_lag)
        return flow(self.probe if probe is None else probe)

    def _clipping(self) -> tuple[float | None, float | None]:
        """The clip norms as they bound this callback's whole-batch gradient.

        Under a strategy with N replicas Keras clips each replica's gradient of
        1/N of the loss, so a whole-batch gradient like this callback's engages
        the clip at N times the optimizer's norms.
        """
        opt = getattr(self.model, "optimizer", None)
        opt = getattr(opt, "inner_optimizer", opt)  # LossScaleOptimizer
        strategy = getattr(self.model, "distribute_strategy", None)
        replicas = getattr(strategy, "num_replicas_in_sync", 1)
        return tuple(getattr(opt, name, None) * replicas if getattr(opt, name, None) else None
                     for name in ("clipnorm", "global_clipnorm"))

    # -- recording -------------------------------------------------------------

    def _record(self, force_check_loss: float | None = None):
        step = self._step
        x, y, w = self._next_batch()
        m = self.measure(x, y, w)
        previous = self._start if self._last_record_step is None else self._last_record_step
        interval, self._last_record_step = step - previous, step
        self.records += 1
        if m["clipped"]:
            self.clipped_records += 1
        rows = self._pending
        epoch = self._epoch

        def add(layer, stat, value):
            rows.append((step, epoch, layer, stat, float(value)))

        for n in self._var_names:
            add(n, "grad_norm", m["var_norms"][n])
            add(n, "grad_max_abs", m["var_max_abs"][n])
            add(n, "grad_nonfinite", m["var_nonfinite"][n])
            add(n, "weight_norm", m["weight_norms"][n])
            add(n, "update_ratio", m["update_ratios"][n])
            if m["clipped_vars"]:
                add(n, "clipped", m["clipped_vars"][n])
        for lay in self._layers:
            add(lay, "grad_norm", m["layer_norms"][lay])
            add(lay, "grad_max_abs", m["layer_max_abs"][lay])
            add(lay, "grad_nonfinite", m["layer_nonfinite"][lay])
            add(lay, "weight_norm", m["layer_weight_norms"][lay])
            add(lay, "update_ratio", m["layer_update_ratios"][lay])
            if m["clipped"] is not None:
                hit = m["clipped"]
                if m["clipped_vars"]:  # clipnorm: per variable
                    hit = any(m["clipped_vars"][n] for n, o in
                              zip(self._var_names, self._var_layer, strict=True) if o == lay)
                add(lay, "clipped", hit)
        add(GLOBAL, "loss", m["loss"])
        add(GLOBAL, "global_norm", m["global_norm"])
        add(GLOBAL, "grad_max_abs", m["grad_max_abs"])
        add(GLOBAL, "grad_nonfinite", m["grad_nonfinite"])
        add(GLOBAL, "weight_norm", m["weight_norm"])
        add(GLOBAL, "update_ratio", m["update_ratio"])
        add(GLOBAL, "interval_steps", interval)
        if m["clipped"] is not None:
            add(GLOBAL, "clipped", m["clipped"])
            add(GLOBAL, "clipped_fraction", self.clipped_records / self.records)
        self._tensorboard_step(step, m)

        trouble = self._trouble(m, force_check_loss)
        if trouble:
            self._stop(step, trouble)
        else:
            self._snap_fn()
            self.last_good_step = step
        return m

    def _trouble(self, m: dict, logged_loss: float | None) -> str | None:
        """A sentence describing what went wrong, or None when healthy."""
        bad_weights = [k for k, v in m["weight_nonfinite"].items() if v]
        bad_grads = [k for k, v in m["layer_nonfinite"].items() if v]
        if bad_weights:
            return f"non-finite weights (NaN/Inf) in layer {_names(bad_weights)}"
        if bad_grads:
            top = bad_grads[-1]  # nearest the loss: where backpropagation first broke
            n = m["layer_nonfinite"][top]
            also = f"; also in {_names(bad_grads[:-1])}" if len(bad_grads) > 1 else ""
            return f"non-finite gradients (NaN/Inf) in layer {top} ({n} values){also}"
        if not math.isfinite(m["loss"]):
            return f"the loss is {m['loss']}"
        if logged_loss is not None and not math.isfinite(logged_loss):
            return (f"the training loss is {logged_loss} (the sample batch's gradients are "
                    "finite: the trouble is in a training batch)")
        if self.max_global_norm and m["global_norm"] > self.max_global_norm:
            top = max(m["layer_norms"], key=m["layer_norms"].get)
            return (f"the global gradient norm {m['global_norm']:.3g} exceeds "
                    f"max_global_norm={self.max_global_norm:g} (largest in layer {top}: "
                    f"{m['layer_norms'][top]:.3g})")
        return None

    def _stop(self, step: int, trouble: str):
        clipnorm, global_clipnorm = self._clipping()
        if clipnorm or global_clipnorm:
            kind = f"clipnorm={clipnorm:g}" if clipnorm else f"global_clipnorm={global_clipnorm:g}"
            advice = (f"clipping is on ({kind}) but only scales the update: lower "
                      "--learning-rate, or clip harder")
        else:
            advice = "enable clipping with --clipnorm 1.0, or lower --learning-rate"
        if self.last_good_step is not None:
            for v, s in zip(self._all, self._snapshot, strict=True):
                v.assign(tf.cast(s, v.dtype))
            which = "the start of training" if self.records == 1 else "the last healthy record"
            restored = f"restored the weights of step {self.last_good_step} ({which})"
        else:
            restored = "no healthy weights to restore"
        self.stop_reason = (f"step {step} (epoch {self._epoch}): {trouble}; {restored}. "
                            f"Try: {advice}.")
        self.stopped_step = step
        self.model.stop_training = True
        logger.info("GradientStats stopped training at %s", self.stop_reason)
        if self.verbose:
            print(f"\nGradientStats: stopping training at {self.stop_reason}", flush=True)

    def _record_flow(self):
        if self._flow is None:
            return
        curve = self._flow(self.probe)
        for k, (value, rows) in enumerate(zip(curve, self._flow.rows_per_lag, strict=True), 1):
            self._pending_flow.append((self._epoch, self._step, k, int(rows), float(value)))
        if self._writer is not None:
            with self._writer.as_default(step=self._epoch):
                tf.summary.scalar(f"grad_flow/lag_{len(curve)}_over_lag_1", curve[-1] / curve[0])
            with self._writer.as_default():
                for k, value in enumerate(curve, start=1):
                    tf.summary.scalar(f"grad_flow/epoch_{self._epoch}", value, step=k)
        return curve

    def _tensorboard_step(self, step: int, m: dict):
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            tf.summary.scalar("gradients/global_norm", m["global_norm"])
            tf.summary.scalar("gradients/update_ratio", m["update_ratio"])
            if m["clipped"] is not None:
                tf.summary.scalar("gradients/clipped_fraction", self.clipped_records / self.records)
            for lay in self._layers:
                tf.summary.scalar(f"grad_norm/{lay}", m["layer_norms"][lay])
                tf.summary.scalar(f"update_ratio/{lay}", m["layer_update_ratios"][lay])
            for n, g in zip(self._var_names, self._last_grads, strict=True):
                if g is not None and not m["var_nonfinite"][n]:
                    tf.summary.histogram(f"gradients/{n}", tf.convert_to_tensor(g))
        self._writer.flush()

    def _flush(self):
        """Append buffered rows to the CSV files (header only for a new file)."""
        if self.log_dir is None:
            self.rows += self._pending
            self.flow_rows += self._pending_flow
            self._pending, self._pending_flow = [], []
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for rows, columns, name in (
            (self._pending, STATS_COLUMNS, "grad_stats.csv"),
            (self._pending_flow, FLOW_COLUMNS, "grad_flow.csv"),
        ):
            if rows:
                path = self.log_dir / name
                new = not path.exists() or path.stat().st_size == 0
                pd.DataFrame(rows, columns=columns).to_csv(path, mode="a", header=new, index=False)
        self.rows += self._pending
        self.flow_rows += self._pending_flow
        self._pending, self._pending_flow = [], []

    def stats_frame(self) -> pd.DataFrame:
        """Everything recorded by this callback so far, as in `grad_stats.csv`."""
        return pd.DataFrame(self.rows + self._pending, columns=STATS_COLUMNS)

    def flow_frame(self) -> pd.DataFrame:
        """The gradient-flow curves recorded so far, as in `grad_flow.csv`."""
        return pd.DataFrame(self.flow_rows + self._pending_flow, columns=FLOW_COLUMNS)

    # -- Keras hooks -------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._reset()
        self.rows, self.flow_rows = [], []
        self._bind()
        self._step = self._start = int(self.model.optimizer.iterations.numpy())
        if all(np.isfinite(v).all() for v in self.model.get_weights()):
            self._snap_fn()
            self.last_good_step = self._step
        if self.tensorboard_dir and self._writer is None:
            if importlib.util.find_spec("tensorboard") is None:
                warnings.warn("tensorboard is not installed: GradientStats writes CSV only",
                              stacklevel=2)
                self.tensorboard_dir = None
            else:
                self._writer = tf.summary.create_file_writer(str(self.tensorboard_dir))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch

    def on_train_batch_end(self, batch, logs=None):
        if self.stop_reason:
            return
        self._step += batch - self._batch_begin + 1  # >1 with steps_per_execution
        loss = (logs or {}).get("loss")
        loss = float(loss) if loss is not None else None
        if loss is not None and not math.isfinite(loss):
            self._record(force_check_loss=loss)
        else:
            last = self._start if self._last_record_step is None else self._last_record_step
            if self._step // self.every > last // self.every:
                self._record()

    def on_epoch_end(self, epoch, logs=None):
        if not self.stop_reason:
            if self._last_record_step != self._step:
                self._record()
            curve = self._record_flow() if not self.stop_reason else None
            if self.verbose > 1:
                self._summary_line(curve)
        self._flush()

    def on_train_end(self, logs=None):
        self._flush()
        if self._writer is not None:
            self._writer.flush()

    def _summary_line(self, curve):
        norms = [r[4] for r in self.rows + self._pending
                 if r[1] == self._epoch and r[2] == GLOBAL and r[3] == "global_norm"]
        parts = [f"gradients epoch {self._epoch}: global norm median {np.median(norms):.3g}"]
        if self.records and self._clipping() != (None, None):
            parts.append(f"clipped {self.clipped_records / self.records:.0%} of records")
        if curve is not None and len(curve) > 1:
            parts.append(f"flow lag-{len(curve)}/lag-1 {curve[-1] / curve[0]:.2g}")
        print(", ".join(parts), flush=True)


def _names(layers: list[str]) -> str:
    return ", ".join(layers)
