"""Text preparation: split by email, vectorize with Keras, cut training windows.

Emails arrive as a pandas DataFrame (one row per email, the text in `body`).
The split is by email, never by window, so held-out figures are honest. The
vocabulary comes from the training split only. Each email becomes
`[start] + token ids`; windows of `window + 1` ids give inputs `w[:-1]` and
next-token targets `w[1:]`. Short emails are packed whole into windows (so a
designed dependency is never cut in two); an email longer than a window is cut
into windows `stride` apart. Padding (id 0) gets sample weight 0.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from autocomplete.tokens import OOV, PAD, START, TOKEN_PATTERN_TF

START_ID = 2


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

    Emails are shuffled (seeded) before packing so windows mix topics; an email
    longer than `window + 1` ids is cut into windows `stride` apart (default
    `window`, i.e. every target once).
    """
    stride = stride or window
    if not 0 < stride <= window:
        raise ValueError(f"stride must be in 1..window ({window}), got {stride}")
    size = window + 1
    rows: list[np.ndarray] = []
    buf: list[np.ndarray] = []
    used = 0

    def flush() -> None:
        nonlocal buf, used
        if used > 1:
            rows.append(np.concatenate(buf))
        buf, used = [], 0

    for i in np.random.default_rng(seed).permutation(len(sequences)):
        seq = sequences[i]
        if len(seq) < 2:
            continue
        if len(seq) > size:
            flush()
            for start in range(0, len(seq) - 1, stride):
                rows.append(seq[start : start + size])
                if start + size >= len(seq):
                    break
            continue
        if used + len(seq) > size:
            flush()
        buf.append(seq)
        used += len(seq)
    flush()
    padded = np.zeros((len(rows), size), dtype=np.int32)
    for r, row in enumerate(rows):
        padded[r, : len(row)] = row
    x, y = padded[:, :-1], padded[:, 1:]
    return x, y, (y != 0).astype(np.float32)


def make_dataset(
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
):
    """tf.data pipeline over windows: shuffle, batch, prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle:
        ds = ds.shuffle(len(arrays[0]), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
