"""Scoring a neural model the protocol's way, fast: one forward pass per email or window.

`metrics` defines the figures on any `NextTokenModel`, one context at a time.
The scorers here compute the same definitions for a Keras model in batches:

* `neural_perplexity_and_accuracy`: `metrics.perplexity_and_accuracy` of a
  `KerasLM`, each email scored on its own from `[start]` (what the report shows).
* `evaluate_packed_windows`: perplexity, top-1 and top-5 over the packed
  training windows of `textprep.make_windows` (context may cross emails, ties
  favour the model, the special tokens stay candidates): the definition of
  the test figures training writes to metrics.json.
* `step_greedy_completer`: `metrics.greedy_completer` through a step model
  (`decoding.StepModel`), for ExactMatch@N of the engine `complete` uses.

Keras and TensorFlow are imported inside the functions that run a model.
"""

from __future__ import annotations

import math
import sys
import time
import weakref
from collections.abc import Callable, Sequence

import numpy as np

from autocomplete.evaluate.metrics import never_generated, perplexity_and_accuracy, target_ranks
from autocomplete.logprobs import log_softmax
from autocomplete.textprep import window_lengths
from autocomplete.tokens import OOV_ID, PAD_ID, START_ID


class _LineProgress:
    """Progress for a log file or a pipe: one line when the work is done, no redraws."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.done = total, desc, 0
        self.started = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n

    def close(self) -> None:
        print(f"{self.desc}: {self.done} of {self.total} in "
              f"{time.monotonic() - self.started:.0f} s", file=sys.stderr, flush=True)


def progress_bar(total: int, desc: str, disable: bool):
    """Progress on stderr (stdout stays for results): on a terminal a tqdm bar that
    vanishes when done; elsewhere (a log file, a pipe) one line at the end."""
    if not disable and not sys.stderr.isatty():
        return _LineProgress(total, desc)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=disable, file=sys.stderr, leave=False,
                dynamic_ncols=True)


def neural_perplexity_and_accuracy(
    lm, sequences: Sequence[Sequence[int]], max_context: int = 256, token_budget: int = 2048,
    progress: bool = False, desc: str = "perplexity", starts: Sequence[int] | None = None,
) -> dict[str, float]:
    """`metrics.perplexity_and_accuracy` for a `KerasLM`, one forward pass per email.

    The recurrent stack is causal, so the logits at position i of a pass over
    the email equal those of a pass over its first i + 1 ids: positions whose
    context fits in the window are read off one pass; the few later positions
    of emails longer than the window are scored with their cut contexts, as
    the per-position definition does. `starts` as there: the position of each
    sequence's first target (default 1).
    """
    import keras

    seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
    if any((s == PAD_ID).any() for s in seqs):  # the cheap path assumes no padding inside
        return perplexity_and_accuracy(lm, sequences, max_context=max_context, starts=starts)
    first = [1] * len(seqs) if starts is None else [max(1, int(s)) for s in starts]
    ctx = min(max_context, int(getattr(lm, "window", None) or max_context))
    mixes = getattr(lm, "mixes", False)  # a cache of the email so far, or the blend
    acc = {"nll": 0.0, "hits1": 0, "hits5": 0, "total": 0}

    def score(logprobs: np.ndarray, targets: np.ndarray) -> None:
        acc["nll"] -= float(logprobs[np.arange(len(targets)), targets].sum())
        ranks = target_ranks(logprobs, targets)
        acc["hits1"] += int((ranks < 1).sum())
        acc["hits5"] += int((ranks < 5).sum())
        acc["total"] += len(targets)

    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    batches: list[list[int]] = []
    for i in order:
        width = min(len(seqs[i]) - 1, ctx)
        if width < 1:
            continue
        if batches and (len(batches[-1]) + 1) * width <= token_budget:
            batches[-1].append(i)
        else:
            batches.append([i])
    tails: list[tuple[np.ndarray, int]] = []
    bar = progress_bar(total=len(order), desc=desc, disable=not progress)
    for batch in batches:
        widths = [min(len(seqs[i]) - 1, ctx) for i in batch]
        x = np.zeros((len(batch), max(widths)), dtype=np.int32)
        for row, (i, w) in enumerate(zip(batch, widths, strict=True)):
            x[row, :w] = seqs[i][:w]
        if not mixes:
            logits = np.asarray(lm.model.predict_on_batch(x), dtype=np.float64)
        else:  # the cache needs the hidden states that give the logits
            hidden = lm.hidden_states(x)
            logits = keras.ops.convert_to_numpy(lm.output_layer(hidden)).astype(np.float64)
        rows = np.concatenate([logits[r, :w] for r, w in enumerate(widths)])
        targets = np.concatenate([seqs[i][1 : w + 1] for i, w in zip(batch, widths, strict=True)])
        # row j of a sequence predicts its position j + 1: scored from its first target on
        scored = np.concatenate([np.arange(1, w + 1) >= first[i]
                                 for i, w in zip(batch, widths, strict=True)])
        logp = log_softmax(rows)
        if mixes:
            bounds = np.cumsum([0, *widths])
            logp = np.concatenate([
                lm.mix_sequence(logp[bounds[r] : bounds[r + 1]], hidden[r, :w], seqs[i][:w])
                for r, (i, w) in enumerate(zip(batch, widths, strict=True))
            ])
        score(logp[scored].astype(np.float32), targets[scored])
        for i in batch:
            s = seqs[i]
            tails.extend((s[p - ctx : p], int(s[p]))
                         for p in range(max(ctx + 1, first[i]), len(s)))
        bar.update(len(batch))
    bar.close()
    for start in range(0, len(tails), 256):
        chunk = tails[start : start + 256]
        logp = np.asarray(lm.next_logprobs([list(c) for c, _ in chunk]))
        score(logp, np.array([t for _, t in chunk], dtype=np.int64))
    if not acc["total"]:
        raise ValueError("no tokens to score")
    total = acc["total"]
    return {"perplexity": float(np.exp(acc["nll"] / total)), "top1": acc["hits1"] / total,
            "top5": acc["hits5"] / total, "tokens": total}


def step_greedy_completer(step_model, max_tokens: int = 5) -> Callable[[list[int]], list[int]]:
    """Greedy completion of token ids through a step model (specials never chosen).

    Same rule as `metrics.greedy_completer`; the context keeps its last
    `window` ids, as `decoding.encode_prompt` does for a typed prompt.
    """
    banned = never_generated(step_model.vocab)
    window = getattr(step_model, "window", None)
    prefill = getattr(step_model, "prefill", None)

    def complete(context: list[int]) -> list[int]:
        ids = np.asarray(list(context)[-window:] if window else list(context), dtype=np.int32)
        if not len(ids):
            ids = np.array([START_ID], dtype=np.int32)
        if prefill is not None:
            logp, state = prefill(ids)
        else:
            state = step_model.initial_state(1)
            for i in range(len(ids)):
                logp, state = step_model.step(ids[i : i + 1], state)
        out: list[int] = []
        while True:
            lp = np.array(logp[0], dtype=np.float64)
            lp[banned] = -np.inf
            out.append(int(np.argmax(lp)))
            if len(out) == max_tokens:
                return out
            logp, state = step_model.step(np.array(out[-1:], dtype=np.int32), state)

    return complete


# One traced scoring function per model: scoring a model every round then traces once,
# not once per call (which also makes TensorFlow warn about retracing).
_SCORERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _scorer(model):
    """(inputs, targets) -> (per-token NLL, rank of the target), compiled once per model."""
    import tensorflow as tf

    if model not in _SCORERS:
        ref = weakref.ref(model)  # a strong one would keep the model alive for ever

        @tf.function(reduce_retracing=True)
        def score(xb, yb):
            logits = tf.cast(ref()(xb, training=False), tf.float32)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits)
            true = tf.gather(logits, yb, batch_dims=2)
            # tokens whose logit beats the target's
            rank = tf.reduce_sum(tf.cast(logits > true[..., None], tf.int32), -1)
            return nll, rank

        _SCORERS[model] = score
    return _SCORERS[model]


# Logits held at once when scoring windows (floats: 128 MB); with the softmax and the ranks
# computed from them a batch takes a few times this, so scoring never needs more memory than a
# training step of a large vocabulary does.
LOGITS_BUDGET = 2**25


def evaluate_packed_windows(model, arrays, batch_size: int | None = None) -> dict:
    """Perplexity, top-1 and top-5 accuracy of a Keras model over packed windows.

    `arrays` is (inputs, targets, weights) from `textprep.make_windows`; the
    targets with weight 0 (padding) are left out. An out-of-vocabulary target
    counts for perplexity but is never a correct prediction (predicting
    "[UNK]" helps nobody type). A target is in the top k when fewer than k
    tokens have a strictly larger logit (ties favour the model). Runs in
    TensorFlow, in float32 per token and float64 for the sums, instead of a
    float64 numpy pass over every (token, vocabulary) logit. `batch_size`
    windows are scored at once: by default as many as keep the logits within
    `LOGITS_BUDGET` floats (at most 64).

    Returns:
        {"perplexity", "top1_accuracy", "top5_accuracy", "tokens"}.

    Example:

    ```python
    scores = evaluate_packed_windows(model, make_windows(test_sequences, window=256))
    ```
    """
    score = _scorer(model)
    x, y, w = arrays
    if batch_size is None:
        per_window = x.shape[1] * int(model.output_shape[-1])  # logits of one window
        batch_size = int(min(64, max(1, LOGITS_BUDGET // per_window)))
    # windows of similar length scored together, each batch cut to its longest window: the
    # columns past it have weight 0 and come after every weighted one
    lengths = window_lengths(w).numpy()
    order = np.argsort(lengths, kind="stable")
    nll_sum = correct1 = correct5 = 0.0
    count = 0
    for i in range(0, len(x), batch_size):
        rows = order[i : i + batch_size]
        width = max(int(lengths[rows[-1]]), 1)
        xb, yb, mask = x[rows, :width], y[rows, :width], w[rows, :width] > 0
        nll, rank = (t.numpy() for t in score(xb, yb.astype("int32")))
        known = mask & (yb != OOV_ID)
        nll_sum += nll[mask].astype(np.float64).sum()
        correct1 += (known & (rank == 0)).sum()
        correct5 += (known & (rank < 5)).sum()
        count += mask.sum()
    return {
        "perplexity": math.exp(nll_sum / max(count, 1)),
        "top1_accuracy": correct1 / max(count, 1),
        "top5_accuracy": correct5 / max(count, 1),
        "tokens": int(count),
    }
