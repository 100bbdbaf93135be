"""A prepared corpus on disk: windows in sharded TFRecord files, streamed by training.

`autocomplete prepare CORPUS --out DIR` cleans and tokenizes a corpus once and
writes DIR (private to its owner, like a model directory: it holds the mail's
language):

    manifest.json        format version, settings, counts per split, shard names,
                         the corpus fingerprint (sha256 over the cleaned bodies),
                         keep_numbers and subject (the text as `train` reads it)
    vocab.txt            the training split's vocabulary (line number = token id)
    train-00000-of-00003.tfrecord, ..., validation-..., test-...

A record is one packed window row: its `window + 1` token ids as a
`tf.train.Example` with one int64 feature, "ids". Rows rather than emails,
because `textprep.make_windows` packs emails best-fit over a whole split,
which needs every email of the split at once: the prepare step has them, a
streaming reader does not. Stored as rows, the windows are exactly the ones
`train --corpus` builds from the same corpus and settings (same split, same
vocabulary, same packing), every record has one length and parses as a
fixed-length feature, and reading needs no re-packing. The price: the window,
stride, vocabulary size and split seed are fixed when DIR is written.

`train_dataset` streams the training rows in the order `train --corpus` draws
them from memory: the same seeded shuffle of every pass, applied to row
numbers, with each batch's rows read from the shard files by offset. Memory
holds the row numbers and offsets, not the rows, so it does not grow with the
corpus's text, and the same seed trains the same model from the shards as
from the corpus. `read_windows` reads a split, or its first rows, into NumPy
arrays for held-out scoring.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd

from autocomplete import artifacts
from autocomplete.textprep import LENGTH_GROUP, group_by_length

FORMAT = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "validation", "test")
DEFAULT_ROWS_PER_SHARD = 4096  # about a million tokens of 256-token windows per file
FEATURE = "ids"


class ShardsError(ValueError):
    """A directory that is not a prepared corpus, or one this version cannot read."""


def write_shards(
    df: pd.DataFrame,
    out: str | os.PathLike,
    *,
    window: int,
    stride: int | None,
    max_tokens: int,
    seed: int,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
    source: str | None = None,
    keep_numbers: bool = False,
    subjects: bool = False,
) -> dict:
    """Split, tokenize and window `df` and write it to `out` as shards; returns the manifest.

    Unless `keep_numbers`, private values become placeholders first
    (`corpus.normalize`), as in `train`; the manifest records the choice and
    the replacements per kind, and the fingerprint of `df` as given. With
    `subjects` the texts are "<subject> xxbody <body>", as `train --subject`
    reads them (`textprep.model_texts`); the manifest's `subject` says so.

    The split, vocabulary and windows come from `textprep.prepare_windows`,
    as in `train --corpus` with the same settings. `out` is written beside
    itself and renamed into place when complete; an existing prepared corpus
    there is replaced, any other non-empty directory is refused.
    """
    from autocomplete.corpus.normalize import normalize_emails
    from autocomplete.textprep import corpus_fingerprint, prepare_windows

    if rows_per_shard < 1:
        raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / MANIFEST).is_file())):
        raise ShardsError(f"{out} exists and is not a prepared corpus; choose another --out")
    text, normalized = (df, {}) if keep_numbers else normalize_emails(df, subjects=subjects)
    data = prepare_windows(text, window=window, stride=stride, max_tokens=max_tokens, seed=seed,
                           subjects=subjects)
    stage = out.parent / f".{out.name}.partial"
    if stage.exists():
        shutil.rmtree(stage)
    artifacts.make_private_dir(stage)
    splits = {}
    for name in SPLITS:
        x, y, w = data["windows"][name]
        rows = (np.concatenate([x, y[:, -1:]], axis=1) if len(x)
                else np.zeros((0, window + 1), np.int32))
        splits[name] = {
            "emails": len(data["splits"][name]),
            "windows": len(rows),
            "tokens": int(w.sum()),
            "shards": _write_split(stage, name, rows, rows_per_shard),
        }
    artifacts.write_vocab(stage / "vocab.txt", data["vocab"])
    manifest = {
        "format": FORMAT,
        "settings": {"window": window, "stride": stride or window, "max_tokens": max_tokens,
                     "seed": seed, "rows_per_shard": rows_per_shard},
        "vocab_size": len(data["vocab"]),
        "corpus": {"sha256": corpus_fingerprint(df), "emails": len(df), "source": source},
        "keep_numbers": keep_numbers,
        "subject": subjects,
        "normalized": dict(normalized),
        "splits": splits,
    }
    artifacts.write_json(stage / MANIFEST, manifest)
    old = out.parent / f".{out.name}.old"
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def _write_split(stage: Path, name: str, rows: np.ndarray, rows_per_shard: int) -> list[str]:
    """Write one split's rows as shards of at most `rows_per_shard`; their file names."""
    import tensorflow as tf

    count = max(1, math.ceil(len(rows) / rows_per_shard))
    names = [f"{name}-{i:05d}-of-{count:05d}.tfrecord" for i in range(count)]
    for i, file_name in enumerate(names):
        with tf.io.TFRecordWriter(str(stage / file_name)) as writer:
            for row in rows[i * rows_per_shard : (i + 1) * rows_per_shard]:
                ids = tf.train.Int64List(value=row.tolist())
                example = tf.train.Example(features=tf.train.Features(
                    feature={FEATURE: tf.train.Feature(int64_list=ids)}))
                writer.write(example.SerializeToString())
    return names


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a prepared corpus; `ShardsError` (one line) when it is not one."""
    path = Path(path)
    hint = f"write it with `autocomplete prepare CORPUS --out {path}`"
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise ShardsError(f"{path} is not a prepared corpus (no {MANIFEST}): {hint}") from None
    except (OSError, ValueError) as e:
        raise ShardsError(f"cannot read {path / MANIFEST}: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ShardsError(f"{path / MANIFEST} has format {found!r}, this version reads "
                          f"{FORMAT}: {hint} again")
    try:
        names = [f for s in SPLITS for f in manifest["splits"][s]["shards"]]
    except (KeyError, TypeError) as e:
        raise ShardsError(f"{path / MANIFEST} lacks {e}: {hint} again") from None
    missing = [f for f in names if not (path / f).is_file()]
    missing += [] if (path / "vocab.txt").is_file() else ["vocab.txt"]
    if missing:
        raise ShardsError(f"{path} is incomplete (missing {', '.join(missing[:3])}): {hint}")
    return manifest


def read_vocab(path: str | os.PathLike) -> list[str]:
    """The vocabulary of a prepared corpus (index = token id)."""
    return artifacts.read_vocab(Path(path) / "vocab.txt")


def _files(path: Path, manifest: dict, split: str) -> list[str]:
    return [str(path / f) for f in manifest["splits"][split]["shards"]]


def _parse(window: int):
    """Batch of serialized rows -> (inputs, targets, weights), as `make_windows` gives."""
    import tensorflow as tf

    spec = {FEATURE: tf.io.FixedLenFeature([window + 1], tf.int64)}

    def parse(serialized):
        rows = tf.cast(tf.io.parse_example(serialized, spec)[FEATURE], tf.int32)
        targets = rows[:, 1:]
        return rows[:, :-1], targets, tf.cast(targets != 0, tf.float32)

    return parse


def read_windows(
    path: str | os.PathLike, split: str, limit: int | None = None, manifest: dict | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, weights) of a split's rows, or of its first `limit` rows, in memory."""
    import tensorflow as tf

    path = Path(path)
    manifest = manifest or read_manifest(path)
    window = manifest["settings"]["window"]
    ds = tf.data.TFRecordDataset(_files(path, manifest, split))
    if limit is not None:
        ds = ds.take(limit)
    try:
        parts = [tuple(t.numpy() for t in batch)
                 for batch in ds.batch(1024).map(_parse(window))]
    except tf.errors.DataLossError:
        raise ShardsError(f"a {split} shard of {path} is cut short or damaged: prepare the "
                          "corpus again") from None
    if not parts:
        return (np.zeros((0, window), np.int32), np.zeros((0, window), np.int32),
                np.zeros((0, window), np.float32))
    x, y, w = (np.concatenate(p) for p in zip(*parts, strict=True))
    return x, y, w


class RowReader:
    """Random access to a split's serialized rows, by row number across its shard files.

    A TFRecord file is a run of records, each its length (8 bytes), a check
    of the length (4), the data and a check of the data (4): one pass over
    the headers finds every row's offset, and a row is then one `pread`.
    """

    _fds: list[int] | None = None  # opened on the first read

    def __init__(self, files: list[str], rows: int) -> None:
        offsets, lengths, owners = [], [], []
        for number, file in enumerate(files):
            size, position = os.path.getsize(file), 0
            with open(file, "rb") as f:
                while position < size:
                    header = f.read(12)
                    if len(header) < 12:
                        raise ShardsError(f"{file} is cut short: prepare the corpus again")
                    (length,) = struct.unpack("<Q", header[:8])
                    offsets.append(position + 12)
                    lengths.append(length)
                    position += 16 + length
                    f.seek(position)
            if position != size:
                raise ShardsError(f"{file} is cut short: prepare the corpus again")
            owners += [number] * (len(offsets) - len(owners))
        if len(offsets) != rows:
            raise ShardsError(f"the shards hold {len(offsets)} rows where the manifest says "
                              f"{rows}: prepare the corpus again")
        self.files = files
        self.offsets = np.array(offsets, np.int64)
        self.lengths = np.array(lengths, np.int64)
        self.owners = np.array(owners, np.int32)

    def read(self, rows) -> np.ndarray:
        """The serialized rows numbered `rows` (a vector), in that order."""
        if self._fds is None:
            self._fds = [os.open(file, os.O_RDONLY) for file in self.files]
        rows = np.asarray(rows)
        return np.array([os.pread(self._fds[self.owners[r]], int(self.lengths[r]),
                                  int(self.offsets[r])) for r in rows], dtype=object)

    def __del__(self) -> None:
        for fd in self._fds or ():
            os.close(fd)


def train_dataset(
    path: str | os.PathLike,
    batch_size: int,
    seed: int = 0,
    manifest: dict | None = None,
):
    """The training rows as a `tf.data.Dataset` of (inputs, targets, weights) batches.

    The batches are those `textprep.make_dataset` gives for the same rows in
    memory with the same seed: the same shuffle (of row numbers here, of
    rows there), reshuffled each pass, the same batching: blocks of rows are
    read from the shards (`RowReader`), parsed, and grouped into batches by
    length (`textprep.group_by_length`). Memory holds the row numbers and the
    rows' offsets, the blocks in flight and the prefetched batches, not the
    corpus. The dataset's length is known (rows /
    batch size, rounded up), so progress and the learning-rate decay see the
    planned updates.
    """
    import tensorflow as tf

    path = Path(path)
    manifest = manifest or read_manifest(path)
    rows = manifest["splits"]["train"]["windows"]
    reader = RowReader(_files(path, manifest, "train"), rows)

    def read(numbers):
        serialized = tf.py_function(reader.read, [numbers], tf.string)
        serialized.set_shape([None])
        return serialized

    ds = tf.data.Dataset.range(rows)
    ds = ds.shuffle(max(rows, 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size * LENGTH_GROUP).map(read)
    ds = ds.map(_parse(manifest["settings"]["window"]), num_parallel_calls=tf.data.AUTOTUNE)
    ds = group_by_length(ds, batch_size, seed)
    ds = ds.apply(tf.data.experimental.assert_cardinality(math.ceil(rows / batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)
