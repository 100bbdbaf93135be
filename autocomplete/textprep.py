"""Text preparation: split by email, vectorize with Keras, cut training windows.

Emails arrive as a pandas DataFrame (one row per email, the text in `body`).
The split is by email, never by window, so held-out figures are honest. The
vocabulary comes from the training split only. Each email becomes
`[start] + token ids`; windows of `window + 1` ids give inputs `w[:-1]` and
next-token targets `w[1:]`. Short emails are packed whole into windows (so a
designed dependency is never cut in two, and every email starts from a fresh
`[start]` as it does when completing); an email longer than a window is cut
into windows `stride` apart. Padding (id 0) gets sample weight 0. Training
batches hold windows of similar length, cut to their longest
(`group_by_length`), so that a step does not compute over padding.

`model_texts` is what a model reads of each email: its body, or with subjects
(`train --subject`) "<subject> xxbody <body>" (`tokens.SUBJECT_SEPARATOR`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from autocomplete.tokens import (
    OOV,
    OOV_ID,
    PAD,
    SPECIAL_IDS,
    START,
    START_ID,
    SUBJECT_SEPARATOR,
    TOKEN_PATTERN_TF,
    subject_prefix,
)


def split_by_email(
    df: pd.DataFrame, seed: int = 0, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> dict[str, pd.DataFrame]:
    """Seeded shuffle of whole emails into train / validation / test."""
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    order = np.random.default_rng(seed).permutation(len(df))
    n_train = int(round(fractions[0] * len(df)))
    n_val = int(round(fractions[1] * len(df)))
    parts = {
        "train": order[:n_train],
        "validation": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    return {name: df.iloc[np.sort(idx)].reset_index(drop=True) for name, idx in parts.items()}


def subjects_of(df: pd.DataFrame) -> list[str]:
    """Each email's subject ("" where there is none, or no `subject` column)."""
    if "subject" not in df.columns:
        return [""] * len(df)
    return [s if isinstance(s, str) else "" for s in df["subject"]]


def model_texts(df: pd.DataFrame, subjects: bool) -> list[str]:
    """The text a model reads of each email of `df` (columns `body`, and `subject`).

    Without `subjects` the body; with it "<subject> xxbody <body>" ("xxbody <body>"
    for an email without a subject), so the subject's tokens, the separator and the
    body's tokens follow each other (`tokens.subject_prefix`).

    Example:
        >>> model_texts(pd.DataFrame({"subject": ["Loan"], "body": ["I need it."]}), True)
        ['Loan xxbody I need it.']
    """
    bodies = df["body"].tolist()
    if not subjects:
        return bodies
    return [f"{subject} {SUBJECT_SEPARATOR} {body}" if subject else f"{SUBJECT_SEPARATOR} {body}"
            for subject, body in zip(subjects_of(df), bodies, strict=True)]


def body_offsets(df: pd.DataFrame, subjects: bool) -> list[int]:
    """Per email, how many tokens come before its body in `model_texts` (0 without subjects).

    Token i of a body is token `offset + i` of the model's text, and id
    `offset + i + 1` of its `encode`d sequence ([start] comes first).
    """
    if not subjects:
        return [0] * len(df)
    return [len(subject_prefix(s)) for s in subjects_of(df)]


def corpus_fingerprint(df: pd.DataFrame) -> str:
    """sha256 over the email bodies, so config.json says what a model saw."""
    h = hashlib.sha256()
    for body in df["body"]:
        h.update(body.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _standardize(text):
    import tensorflow as tf

    text = tf.strings.lower(text, encoding="utf-8")
    return tf.strings.regex_replace(text, TOKEN_PATTERN_TF, r" \1 ")


def make_vectorizer(vocab: list[str]):
    """A Keras TextVectorization over a fixed vocabulary (index = token id)."""
    import keras

    if vocab[:3] != [PAD, OOV, START]:
        raise ValueError("vocabulary must start with '', '[UNK]', '[start]'")
    return keras.layers.TextVectorization(
        standardize=_standardize, split="whitespace", output_mode="int", vocabulary=vocab[2:]
    )


def build_vocabulary(train_texts: list[str], max_tokens: int = 8000) -> list[str]:
    """Adapt TextVectorization on the training texts; put [start] at id 2."""
    import keras
    import tensorflow as tf

    adapter = keras.layers.TextVectorization(
        max_tokens=max_tokens - 1, standardize=_standardize, split="whitespace"
    )
    adapter.adapt(tf.data.Dataset.from_tensor_slices(list(train_texts)).batch(512))
    learned = [str(t) for t in adapter.get_vocabulary()[2:]]
    return [PAD, OOV, START] + learned


def encode(vectorizer, texts: list[str], batch_size: int = 512) -> list[np.ndarray]:
    """Token ids of each text, with the start-of-email id in front."""
    out: list[np.ndarray] = []
    texts = list(texts)
    for i in range(0, len(texts), batch_size):
        ragged = vectorizer(texts[i : i + batch_size])
        for row in np.asarray(ragged):
            ids = row[row != 0].astype(np.int32)
            out.append(np.concatenate([[START_ID], ids]).astype(np.int32))
    return out


def make_windows(
    sequences: list[np.ndarray], window: int = 256, stride: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pack email sequences into (inputs, targets, weights), each (n, window).

    Whole emails are packed best-fit into windows of `window + 1` ids (so
    little is padding and no email is cut); an email longer than that is cut
    into windows `stride` apart (default `window`, i.e. every target once).
    Windows come out in a seeded random order.
    """
    stride = stride or window
    if not 0 < stride <= window:
        raise ValueError(f"stride must be in 1..window ({window}), got {stride}")
    size = window + 1
    rows: list[list[np.ndarray]] = []
    # bins[c] holds the rows with exactly c free slots: best fit is the
    # smallest c >= the email's length.
    bins: list[list[int]] = [[] for _ in range(size + 1)]
    for i in sorted(range(len(sequences)), key=lambda i: -len(sequences[i])):
        seq = sequences[i]
        if len(seq) < 2:
            continue
        if len(seq) > size:
            for start in range(0, len(seq) - 1, stride):
                rows.append([seq[start : start + size]])
                if start + size >= len(seq):
                    break
            continue
        free = next((c for c in range(len(seq), size + 1) if bins[c]), None)
        if free is None:
            rows.append([])
            row, free = len(rows) - 1, size
        else:
            row = bins[free].pop()
        rows[row].append(seq)
        if free - len(seq) > 1:
            bins[free - len(seq)].append(row)
    rng = np.random.default_rng(seed)
    padded = np.zeros((len(rows), size), dtype=np.int32)
    for r, k in enumerate(rng.permutation(len(rows))):
        parts = rows[k]
        joined = np.concatenate([parts[j] for j in rng.permutation(len(parts))])
        padded[r, : len(joined)] = joined
    x, y = padded[:, :-1], padded[:, 1:]
    return x, y, (y != 0).astype(np.float32)


def prepare_windows(
    df: pd.DataFrame, *, window: int, stride: int | None, max_tokens: int, seed: int,
    subjects: bool = False,
) -> dict:
    """Split by email, vocabulary of the training split, and windows of each split.

    The emails' texts are `model_texts(df, subjects)`.

    Returns {"splits": DataFrames by split, "vocab": list, "windows": (x, y, w) by
    split}; only the training split uses `stride` (held-out windows never
    overlap). Deterministic given `seed`: `train --corpus` and `prepare --out`
    both call it, so the same corpus and settings give the same vocabulary
    and windows.
    """
    splits = split_by_email(df, seed=seed)
    vocab = build_vocabulary(model_texts(splits["train"], subjects), max_tokens)
    vectorizer = make_vectorizer(vocab)
    windows = {}
    for name, part in splits.items():
        seqs = encode(vectorizer, model_texts(part, subjects))
        windows[name] = make_windows(seqs, window, stride if name == "train" else None,
                                     seed=seed)
    return {"splits": splits, "vocab": vocab, "windows": windows}


# Batches are formed within groups of this many batches' worth of shuffled windows, sorted by
# length, so that a batch's windows are of similar length and the batch is cut to its longest:
# at 256 tokens a quarter of the positions of a random batch are padding, of a grouped one 3-4%
# (the built-in corpus), and a step costs about in proportion to its positions.
LENGTH_GROUP = 8


def window_lengths(weights):
    """Each window's length without its trailing padding: 1 + its last weighted position."""
    import tensorflow as tf

    positions = tf.range(1, tf.shape(weights)[1] + 1)
    return tf.reduce_max(tf.where(weights > 0, positions, 0), axis=1)


def group_by_length(
    ds, batch_size: int, seed: int = 0, group: int = LENGTH_GROUP, shuffle: bool = True
):
    """Batches of `batch_size` windows of similar length, each cut to its longest window.

    `ds` yields blocks of `batch_size * group` windows (inputs, targets,
    weights) in training order; each block is sorted by length (stably),
    split into batches, and each batch loses the columns past its longest
    window: their targets all have weight 0 and come after every weighted
    one, so in a causal model the batch's loss and gradients are the ones
    the full-width batch gives. With `shuffle` the batches of a block
    go out in a seeded shuffled order, so that an update's length does not
    follow a cycle.
    """
    import tensorflow as tf

    def split(x, y, w):
        lengths = window_lengths(w)
        order = tf.argsort(lengths, stable=True)
        x, y, w, lengths = (tf.gather(a, order) for a in (x, y, w, lengths))
        rows = tf.shape(x)[0]

        def batch(start):
            end = tf.minimum(start + batch_size, rows)
            width = tf.maximum(lengths[end - 1], 1)  # sorted: the last is the longest
            return x[start:end, :width], y[start:end, :width], w[start:end, :width]

        starts = tf.range(0, rows, batch_size, dtype=tf.int32)
        return tf.data.Dataset.from_tensor_slices(starts).map(batch)

    ds = ds.flat_map(split)
    return ds.shuffle(group, seed=seed, reshuffle_each_iteration=True) if shuffle else ds


def make_dataset(
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
):
    """tf.data pipeline over windows: shuffle, batch by length (`group_by_length`), prefetch.

    Batches have `batch_size` windows (the last of a pass fewer) and as many
    positions as their longest window; one pass is ceil(windows / batch_size)
    batches.
    """
    import tensorflow as tf

    count = len(arrays[0])
    ds = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    ds = group_by_length(ds.batch(batch_size * LENGTH_GROUP), batch_size, seed,
                         shuffle=shuffle)
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


def drop_words(ds, rate: float | np.ndarray, seed: int = 0, keep: Sequence[int] = ()):
    """Word dropout on training batches: each input id (never a special one, nor one of
    `keep`, such as the subject separator's) becomes `[UNK]` with probability `rate`; the
    targets stay.

    A model then cannot lean on the exact words between a cue and its target, and
    learns to carry the cue through words it does not know. The draws are
    stateless, from `seed` and the batch's position in `ds` (apply it after
    `repeat`, so that every batch of a run has its own), so the same run drops
    the same words. `ds` yields (inputs, targets, weights); rate 0 returns it as is.
    `rate` may also be one probability per vocabulary id (`rare_word_rates`).
    """
    if np.ndim(rate) == 0 and not rate:
        return ds
    import tensorflow as tf

    per_id = tf.constant(rate, tf.float32) if np.ndim(rate) else None

    def drop(step, batch):
        x, y, w = batch
        u = tf.random.stateless_uniform(tf.shape(x), seed=tf.stack([tf.constant(seed, tf.int64),
                                                                    step]))
        threshold = rate if per_id is None else tf.gather(per_id, x)
        kept = (u >= threshold) | (x <= max(SPECIAL_IDS))
        for i in keep:
            kept |= x == i
        return tf.where(kept, x, tf.cast(OOV_ID, x.dtype)), y, w

    return ds.enumerate().map(drop)


def rare_word_rates(inputs: np.ndarray, vocab_size: int, alpha: float) -> np.ndarray:
    """Per-id word-dropout probabilities alpha / (alpha + n) for a word read n times in
    `inputs` (Kiperwasser & Goldberg, 2016): the rarer a word, the more often training
    reads `[UNK]` in its place, so its vector learns from fewer sightings and the cells
    learn to carry a cue past words they hardly know."""
    counts = np.bincount(np.asarray(inputs).ravel(), minlength=vocab_size)[:vocab_size]
    return (alpha / (alpha + counts)).astype("float32")
