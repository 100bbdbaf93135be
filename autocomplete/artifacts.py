"""The trained-model directory: what is in it, how it is written, how it is read.

A model directory (default `models/<cell>/`) holds:

    model.keras     the Keras model (loaded with safe_mode, no pickle)
    vocab.txt       one token per line; line number = token id (line 0 is padding)
    config.json     every hyper-parameter, the corpus fingerprint, library versions
    history.csv     per epoch: loss, xent, perplexity, val_xent, val_perplexity,
                    val_accuracy, updates (and learning_rate with a decay)
    metrics.json    held-out test perplexity, top-1 and top-5 accuracy
    (grad_stats.csv, grad_flow.csv, inference.npz are added by later stages;
    cache.json by `autocomplete tune-cache`, read and written by `autocomplete.cache`)

Training writes into a staging directory beside the target and renames it into
place only when everything is written, so a crash or a kill never leaves a
half-written directory where `complete` would look. A published directory
is private to its owner (mode 0o700, set by `publish`; `make_private_dir`
creates a staging directory that way): a model trained on someone's mail
holds their language. Reading needs no
TensorFlow except `load_keras_model`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from autocomplete.model_names import CELL_NAMES, DEFAULT_CELL, cell_sort_key

MODELS_DIR = Path("models")
REQUIRED = ("model.keras", "vocab.txt", "config.json")
PRIVATE_DIR_MODE = 0o700  # owner only: the files inside need no mode of their own


class ModelDirError(Exception):
    """A model directory that is missing, incomplete or unreadable."""


def default_model_dir(cell: str) -> Path:
    return MODELS_DIR / cell


def staging_dir(out: Path) -> Path:
    """Where a run writes before the atomic rename; also holds resume backups.

    Only the path: create it with `make_private_dir`.
    """
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create `path` (and missing parents) readable by its owner only; tighten it if it exists.

    Only `path` itself gets mode 0o700, which keeps everything written inside
    from other users whatever the files' own modes; parents keep the umask's.
    """
    path = Path(path)
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode goes through the umask, or is unused
    return path


def train_hint(cell: str | None) -> str:
    """The command that trains a model of `cell` (the default cell for None or a non-cell)."""
    return f"autocomplete train --cell {cell if cell in CELL_NAMES else DEFAULT_CELL}"


def _train_into(path: Path, cell: str | None) -> str:
    """The command that trains a model of `cell` into `path`."""
    name = cell if cell in CELL_NAMES else DEFAULT_CELL
    if os.path.abspath(path) == os.path.abspath(default_model_dir(name)):
        return train_hint(name)
    return f"{train_hint(name)} --out {shlex.quote(str(path))}"


def check_model_dir(path: str | os.PathLike, cell: str | None = None) -> Path:
    """Return `path` if it is a complete model directory, else raise ModelDirError."""
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"no trained model in {path}: run `{_train_into(path, cell)}` first")
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if len(missing) == len(REQUIRED) and any(path.iterdir()):  # a folder of something else
        raise ModelDirError(f"{path} is not a model directory (it has no "
                            f"{', '.join(REQUIRED)})")
    if missing:
        if cell is None and "config.json" not in missing:
            cell = _trained_cell(path)
        raise ModelDirError(
            f"{path} is not a complete model directory (missing {', '.join(missing)}): "
            f"run `{_train_into(path, cell)}` again"
        )
    return path


def _trained_cell(path: Path) -> str | None:
    """The cell the model in `path` was trained as, if its config.json says."""
    try:
        return read_config(path).get("cell")
    except ModelDirError:
        return None


def read_config(path: str | os.PathLike) -> dict:
    try:
        config = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise ModelDirError(f"cannot read {Path(path) / 'config.json'}: {e}") from e
    if not isinstance(config, dict):
        raise ModelDirError(f"{Path(path) / 'config.json'} is not a model's settings "
                            "(a JSON object)")
    return config


def split_seed(config: dict) -> int:
    """The seed of the split by email of the model of `config` (its config.json):
    `train --split-seed`, else its `--seed` (older models have only that)."""
    seed = config.get("split_seed")
    return int(config.get("seed", 0) if seed is None else seed)


def uses_subjects(config: dict) -> bool:
    """Whether the model of `config` (its config.json) was trained with subjects
    (`train --subject`): it reads "<subject> xxbody <body>". Older models: no."""
    return bool(config.get("subject", False))


T = TypeVar("T")


def read_tuned(model_dir: str | os.PathLike, name: str, command: str,
               parse: Callable[[dict], T]) -> T:
    """`parse` of the JSON file `name` that `autocomplete <command>` wrote to `model_dir`.

    Raises `ModelDirError`: naming the command to run when the file is missing, and
    in one line when it is unreadable or `parse` rejects it.
    """
    file = Path(model_dir) / name
    if not file.exists():
        raise ModelDirError(
            f"{model_dir} has no {name}: run `autocomplete {command} {model_dir}` first")
    try:
        return parse(json.loads(file.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelDirError(f"cannot read {file}: {e}") from e


def write_json(path: str | os.PathLike, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_vocab(path: str | os.PathLike, vocab: list[str]) -> None:
    Path(path).write_text("\n".join(vocab) + "\n", encoding="utf-8")


def read_vocab(path: str | os.PathLike) -> list[str]:
    """Vocabulary of a model directory (or a vocab.txt path); index = token id."""
    path = Path(path)
    if path.is_dir():
        path = path / "vocab.txt"
    try:
        vocab = path.read_text(encoding="utf-8").split("\n")[:-1]
    except (OSError, UnicodeDecodeError) as e:
        raise ModelDirError(f"cannot read vocabulary {path}: {e}") from e
    if len(vocab) < 3 or vocab[0] != "" or vocab[1] != "[UNK]" or vocab[2] != "[start]":
        raise ModelDirError(f"{path} is not a vocabulary written by autocomplete")
    return vocab


def load_keras_model(path: str | os.PathLike):
    """Load `model.keras` safely (no lambdas, no pickle); clear error if corrupt."""
    import keras  # heavy: only here

    import autocomplete.tied_embedding  # noqa: F401  (registers the layer for loading)

    path = check_model_dir(path)
    try:
        return keras.saving.load_model(path / "model.keras", compile=False, safe_mode=True)
    except Exception as e:  # a corrupt zip, a wrong file: one clear line, not a traceback
        raise ModelDirError(
            f"{path / 'model.keras'} cannot be loaded ({type(e).__name__}): "
            f"retrain with `autocomplete train --out {path}`"
        ) from e


def check_vocab_matches(vocab: list[str], model, model_dir: str | os.PathLike) -> None:
    """ModelDirError unless `vocab` has one token per word vector of `model`."""
    rows = model.get_layer("embedding").input_dim
    if len(vocab) != rows:
        raise ModelDirError(
            f"{Path(model_dir) / 'vocab.txt'} has {len(vocab):,} tokens and model.keras "
            f"{rows:,} word vectors: they are not from the same run; retrain with "
            f"`{_train_into(Path(model_dir), _trained_cell(Path(model_dir)))}`")


class OutputDirError(ValueError):
    """An output path that a model may not replace (a file, or a folder of something else)."""


def check_replaceable(out: str | os.PathLike) -> None:
    """Raise `OutputDirError` unless a new model may take `out`'s place.

    It may when `out` does not exist, is an empty folder, or holds a model
    (one of its files): a folder of anything else, the user's mail for
    instance, is never replaced.
    """
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise OutputDirError(f"{out} exists and is not a folder; choose another --out")
    if any(out.iterdir()) and not any((out / name).is_file() for name in REQUIRED):
        raise OutputDirError(f"{out} exists and does not hold a model, so training would "
                             "replace what it holds; choose another --out")


def publish(staging: Path, out: Path) -> Path:
    """Atomically move a finished staging directory to `out`, replacing any old model.

    The directory is made private (0o700) before the rename, whatever created
    it, so the published model is readable by its owner only from its first
    moment at `out`. `out` must be free for it (`check_replaceable`).
    """
    staging, out = Path(staging), Path(out)
    check_replaceable(out)
    for name in REQUIRED:
        if not (staging / name).is_file():
            raise ModelDirError(f"refusing to publish {staging}: {name} is missing")
    os.chmod(staging, PRIVATE_DIR_MODE)
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    if old.exists():
        shutil.rmtree(old)
    return out


def trained_cells(models_dir: str | os.PathLike = MODELS_DIR) -> dict[str, Path]:
    """Complete model directories under `models_dir`, by cell name in config.json.

    `models_dir/<cell>` (where `train` writes by default) wins over any other
    directory of that cell, such as `models/enron-lstm`; among the others, the
    first in name order.
    """
    found: dict[str, Path] = {}
    root = Path(models_dir)
    if not root.is_dir():
        return found
    candidates: list[tuple[str, Path]] = []
    for sub in sorted(root.iterdir()):
        if sub.name.startswith(".") or not sub.is_dir():
            continue
        try:
            check_model_dir(sub)
            candidates.append((read_config(sub).get("cell", sub.name), sub))
        except ModelDirError:
            continue
    for cell, sub in sorted(candidates, key=lambda c: c[1].name != c[0]):  # stable sort
        found.setdefault(cell, sub)
    return found


def find_models(
    models_dir: str | os.PathLike = MODELS_DIR,
    *,
    cell: str | None = None,
    model_dir: str | os.PathLike | None = None,
    first: str | None = None,
) -> list[tuple[str | None, Path]]:
    """(cell, directory) of each model to use, as `complete` and `serve` choose them.

    `model_dir`: that directory only (with `cell` as given, None when not).
    `cell`: `models_dir/<cell>`, or another directory of that cell under
    `models_dir` when that one does not exist (`trained_cells`). Neither: every
    trained cell under `models_dir`, in `model_names.CELL_NAMES` order with
    `first` (if given) moved to the front. Only that last case checks the
    directories; raises ModelDirError when it finds none.

    Example:

    ```python
    find_models("models")  # [("simple_rnn", Path("models/simple_rnn")), ("lstm", ...), ...]
    ```
    """
    if model_dir is not None:
        return [(cell, Path(model_dir))]
    if cell is not None:
        path = Path(models_dir) / cell
        if not path.exists():
            path = trained_cells(models_dir).get(cell, path)
        return [(cell, path)]
    found = trained_cells(models_dir)
    if not found:
        raise ModelDirError(f"no trained models in {models_dir}: run `{train_hint(None)}` "
                            "first (or pass --model DIR)")
    return sorted(found.items(), key=lambda item: cell_sort_key(item[0], first))
