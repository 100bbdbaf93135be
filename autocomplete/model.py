"""One builder for the three recurrent language models the lab compares.

Embedding -> recurrent layer(s) -> Dense over the vocabulary (logits). The
cells differ only in the recurrent layer, so the comparison is fair. L2 sits
on the embedding, the kernels and the recurrent kernels; clipping is set on
the optimizer (`clipnorm` per variable or `global_clipnorm`), where Keras
applies it.

LSTM and GRU keep Keras's cuDNN-compatible defaults (tanh/sigmoid, no
recurrent dropout, `reset_after=True` for GRU, no unrolling), so on a GPU they
run on the fused cuDNN kernels. Changing `activation` on them gives that up.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from autocomplete.lazy_adam import LazyAdam
from autocomplete.losses import NextTokenCrossEntropy
from autocomplete.model_names import GATE_INITS, PRECISIONS
from autocomplete.tied_embedding import TiedEmbedding

CELLS = {
    "simple_rnn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def build_model(
    cell: str,
    vocab_size: int,
    *,
    units: int = 256,
    layers: int = 1,
    embedding_dim: int = 128,
    l2: float = 1e-6,
    embedding_l2: float | None = None,
    dropout: float = 0.0,
    activation: str = "tanh",
    recurrent_initializer: str | keras.initializers.Initializer = "orthogonal",
    gate_init: str = "chrono-full",
    embedding_std: float | None = None,
    embedding_max_norm: float | None = None,
    max_lag: int = 120,
    seed: int = 0,
    precision: str = "float32",
    projection: int | None = None,
    tie_embeddings: bool = False,
) -> keras.Model:
    """Build an uncompiled next-token model for `cell` ("simple_rnn", "lstm", "gru").

    Layer names are stable ("embedding", "rnn_1", ..., "logits") because the
    completion engine, the fast-path export and the gradient statistics find
    layers by name. `precision="mixed_bfloat16"` computes in bfloat16 with
    float32 weights (a training speed-up on CPUs with bf16 instructions); a
    last "logits_float32" layer hands float32 logits to the loss and metrics.

    `projection` puts a linear layer of that width between the last recurrent
    layer and the logits, so the output layer (the largest matrix product of a
    training step) works on fewer numbers; the NumPy engine keeps the two
    matrices apart too (one product with the folded matrix would cost more).

    `tie_embeddings=True` scores the output with the word vectors themselves
    (`TiedEmbedding`, layer "embedding" called again in reverse; no "logits"
    layer): the output layer's input, the projection's or else the last
    recurrent layer's, must then be `embedding_dim` wide.

    `embedding_std` starts the word vectors from N(0, std²) instead of Keras's
    uniform(-0.05, 0.05). Words that play the same part nearby (the corpus's
    four project names) get nearly the same updates, so they keep little more
    than their initial differences: from Keras's start the LSTM's name vectors
    end up nearly parallel, from std 0.5 far apart (BENCHMARKS.md, "Word
    vectors"; it did not make the LSTM copy the names).

    `embedding_l2` is the L2 weight on the word vectors alone (default: `l2`); lazy
    Adam needs 0 there, since a penalty's gradient reaches every row on every step.

    `embedding_max_norm` keeps every word vector at most that long (Keras's `MaxNorm`
    constraint, applied after each update), so a rare word cannot grow a vector longer
    than the common words' and push the recurrent state where common words never do.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use {' or '.join(PRECISIONS)}")
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    if gate_init not in GATE_INITS:
        raise ValueError(f"unknown gate_init {gate_init!r}; use one of {', '.join(GATE_INITS)}")
    head_width = projection or units
    if tie_embeddings and head_width != embedding_dim:
        raise ValueError(
            f"tied embeddings need the output layer's input ({head_width}: the projection, "
            f"or else the units) as wide as the word vectors ({embedding_dim})")
    reg = keras.regularizers.L2(l2) if l2 else None
    embedding_l2 = l2 if embedding_l2 is None else embedding_l2
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    init = (keras.initializers.RandomNormal(stddev=embedding_std, seed=seed) if embedding_std
            else "uniform")  # Keras's default
    embedding = (TiedEmbedding if tie_embeddings else keras.layers.Embedding)(
        vocab_size, embedding_dim, embeddings_initializer=init,
        embeddings_regularizer=keras.regularizers.L2(embedding_l2) if embedding_l2 else None,
        embeddings_constraint=(keras.constraints.MaxNorm(embedding_max_norm, axis=1)
                               if embedding_max_norm else None),
        name="embedding", dtype=precision,
    )
    x = embedding(tokens)
    for i in range(1, layers + 1):
        x = CELLS[cell](
            units,
            activation=activation,
            return_sequences=True,
            kernel_regularizer=reg,
            recurrent_regularizer=reg,
            recurrent_initializer=recurrent_initializer,
            dropout=dropout,
            name=f"rnn_{i}",
            dtype=precision,
        )(x)
    if projection:  # a linear bottleneck: the softmax layer works on `projection` numbers
        x = keras.layers.Dense(projection, kernel_regularizer=reg, name="projection",
                               dtype=precision)(x)
    if dropout:  # on the output layer's input too, as in Zaremba et al. (2014)
        x = keras.layers.Dropout(dropout, seed=seed, name="output_dropout", dtype=precision)(x)
    if tie_embeddings:
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(
            vocab_size, kernel_regularizer=reg, name="logits", dtype=precision
        )(x)
    if precision != "float32":
        logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)
    model = keras.Model(tokens, logits, name=f"autocomplete_{cell}")
    if gate_init.startswith("chrono"):
        chrono_init(model, max_lag, seed, close_input=gate_init != "chrono",
                    log_spread=gate_init == "chrono-log")
    return model


def chrono_init(
    model: keras.Model, max_lag: int = 120, seed: int = 0, close_input: bool = False,
    log_spread: bool = False,
) -> None:
    """Chrono initialisation of the gates (Tallec & Ollivier, ICLR 2018).

    Keras starts an LSTM's forget gate at sigmoid(1) = 0.73 and a GRU's update
    gate at 0.5, so at first a cell keeps a word for only a few steps and the
    gradient from 50 tokens later is ~1e-3 of the one from the next token: the
    gated cells start out as forgetful as a plain RNN and need many epochs to
    discover long-range cues. Chrono sets the "keep" gate bias to log(u),
    u ~ U(1, max_lag - 1), so each unit starts with a memory time between 1
    and `max_lag` steps. `close_input=True`, gate_init "chrono-full" (the
    default), is the paper's version: the LSTM input gate starts at -log(u),
    so the cell state starts as a moving average that does not saturate; with
    a falling rate it gives the best LSTM runs (BENCHMARKS.md, "LSTM recipes").
    gate_init "chrono" leaves the input gate at 0.

    `log_spread=True` (gate_init "chrono-log", input gate closed as in
    chrono-full) draws the memory times log-uniformly instead, log(u) ~
    U(0, log(max_lag - 1)): half the units start with a memory under
    sqrt(max_lag) steps, half above. Drawn uniformly, 90% of the units start
    with memories over 12 steps, so a narrow layer has only a handful of
    units that follow the last few words, and a 128-unit GRU spends its first
    epoch near unigram perplexity (BENCHMARKS.md, "Default training").
    Only initial values change: the layers, their cuDNN kernels and
    their saved form are Keras's own. SimpleRNN has no gate, so it is left as
    it is.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if not isinstance(layer, keras.layers.LSTM | keras.layers.GRU):
            continue
        units = layer.units
        if log_spread:
            keep = rng.uniform(0.0, np.log(max_lag - 1.0), units).astype("float32")
        else:
            keep = np.log(rng.uniform(1.0, max_lag - 1.0, units)).astype("float32")
        bias = np.array(layer.cell.bias.numpy())
        if isinstance(layer, keras.layers.LSTM):  # [input, forget, cell, output]
            bias[units : 2 * units] = keep
            if close_input:
                bias[:units] = -keep
        else:  # GRU, h = z * h_prev + (1 - z) * candidate; bias [z, r, h] (x2 if reset_after)
            bias[..., :units] = 0.0
            bias.reshape(-1, 3 * units)[0, :units] = keep
        layer.cell.bias.assign(bias)


def resolve_precision(precision: str = "auto") -> str:
    """"auto" -> "mixed_bfloat16" on a CPU-only machine with bf16 instructions, else "float32".

    Training defaults to float32, not "auto": whether bfloat16 pays depends on
    the CPU (1.3x faster on an AMD EPYC with AVX512-BF16, 0.93x on an Intel
    Xeon with AVX512-BF16 but no AMX; emulated and slower without bf16
    instructions), and a default that changes the arithmetic with the machine
    would train a different model from the same command.
    """
    if precision != "auto":
        if precision not in PRECISIONS:
            choices = " or ".join(("auto", *PRECISIONS))
            raise ValueError(f"unknown precision {precision!r}; use {choices}")
        return precision
    flags = _cpu_flags()
    if "avx512_bf16" not in flags and "amx_bf16" not in flags:
        return "float32"
    import tensorflow as tf

    return "float32" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def _cpu_flags() -> str:
    """The CPU's feature flags as /proc/cpuinfo lists them ("" where there is none)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def output_layer(model: keras.Model):
    """What turns the output layer's input into logits: the "logits" layer, or with
    tied embeddings the word vectors called in reverse."""
    try:
        return model.get_layer("logits")
    except ValueError:
        embedding = model.get_layer("embedding")
        return lambda x, training=False: embedding(x, reverse=True)


def output_layer_input(model: keras.Model):
    """The symbolic tensor that the output layer reads (for a features-only model)."""
    try:
        return model.get_layer("logits").input
    except ValueError:
        pass
    for name in ("output_dropout", "projection"):
        try:
            return model.get_layer(name).output
        except ValueError:
            continue
    rnn = [layer for layer in model.layers if layer.name.startswith("rnn_")]
    return max(rnn, key=lambda layer: int(layer.name.split("_")[1])).output


def as_float32(model: keras.Model, **build_kwargs) -> keras.Model:
    """A float32 copy of a model trained in mixed precision (same weights, no cast layer).

    `build_kwargs` are the `build_model` arguments it was built with; the saved
    artifact is always float32, so completion and the fast path never see bf16.
    """
    copy = build_model(**(build_kwargs | {"precision": "float32"}))
    copy.set_weights(model.get_weights())
    return copy


def compile_model(
    model: keras.Model,
    *,
    learning_rate: float = 2e-3,
    clipnorm: float | None = 1.0,
    global_clipnorm: float | None = None,
    optimizer: str = "adam",
    embedding_decay: float = 0.0,
    ema_momentum: float = 0.0,
    beta_2: float = 0.999,
) -> keras.Model:
    """Compile with Adam, lazy Adam or plain SGD and the chosen clipping (None: off).

    "lazy-adam" (`autocomplete.lazy_adam`) moves a word vector only on the steps
    that read the word; build the model with `embedding_l2=0` for it.

    `embedding_decay` is a decoupled weight decay (AdamW's: each update also takes
    learning rate x decay x the weight) on the word vectors alone. Adam moves a rare
    word's vector as far per sighting as a common word's, so a word seen a few dozen
    times can end with a vector as long as any, fitted to the few sentences it was
    seen in; the decay shrinks the vectors that the gradients do not keep up.

    `beta_2` is Adam's decay of its running mean square (Keras's 0.999 by default).

    `ema_momentum` keeps a moving average of the weights (Keras's `use_ema`), which
    `fit` writes into the model at its end.

    Adam divides each step by a running gradient scale, so a gradient spike
    moves the weights little even unclipped; with SGD the step is the gradient
    itself, which is where clipping visibly saves a run (the lab's exploding
    recipe uses `optimizer="sgd"`).

    The loss is the cross-entropy averaged over real tokens (padding has sample
    weight 0 and is left out of the mean) plus the L2 penalties, with the
    cheaper kernel of `autocomplete.losses`. No metric is
    compiled: a per-step perplexity or accuracy computes a second softmax and
    an arg-max over the vocabulary at every position, which made a CPU training
    step of the default LSTM 1.2x slower (benchmarks/train_speed.py).
    `callbacks.HeldOutScore` scores held-out data once per epoch instead.
    """
    if clipnorm and global_clipnorm:
        raise ValueError("use clipnorm or global_clipnorm, not both")
    optimizers = {"adam": keras.optimizers.Adam, "lazy-adam": LazyAdam,
                  "sgd": keras.optimizers.SGD}
    if optimizer not in optimizers:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {', '.join(optimizers)}")
    opt = optimizers[optimizer](
        learning_rate=learning_rate,
        **({} if optimizer == "sgd" else {"beta_2": beta_2}),
        clipnorm=clipnorm or None,
        global_clipnorm=global_clipnorm or None,
        weight_decay=embedding_decay or None,
        use_ema=bool(ema_momentum),
        ema_momentum=ema_momentum or 0.99,
    )
    if embedding_decay:
        embedding = model.get_layer("embedding").embeddings
        opt.exclude_from_weight_decay(
            var_list=[v for v in model.trainable_variables if v is not embedding])
    model.compile(optimizer=opt, loss=NextTokenCrossEntropy())
    return model
