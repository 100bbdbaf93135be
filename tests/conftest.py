"""Shared fixtures: tiny model directories that load like trained ones."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from autocomplete.tokens import SPECIALS, tokenize  # noqa: E402

TINY_TEXT = (
    "today due to my current job situation and family condition, i need to take a loan. "
    "yesterday due to my fever, i needed to take a sick day. "
    "tomorrow due to the client visit in chicago, i will need to take a flight. "
    "hi mark, thanks for the update on the orion project. best regards, anna"
)


def make_model_dir(path: Path, cell: str = "lstm", units: int = 8, layers: int = 1,
                   seed: int = 0, subject: bool = False, favour: str | None = None) -> Path:
    """An untrained but complete model directory, the way `train` writes one.

    `subject`: as `train --subject` writes it (the separator in the vocabulary,
    `subject: true` in config.json); otherwise config.json has no `subject`, as
    models trained before subjects existed. `favour`: a token the output layer
    gives almost all the probability, after any context.
    """
    import keras

    from autocomplete.artifacts import write_json, write_vocab
    from autocomplete.model import build_model
    from autocomplete.tokens import SUBJECT_SEPARATOR

    keras.utils.set_random_seed(seed)
    words = set(tokenize(TINY_TEXT)) | ({SUBJECT_SEPARATOR} if subject else set())
    vocab = list(SPECIALS) + sorted(words)
    model = build_model(cell, len(vocab), units=units, layers=layers, embedding_dim=8)
    if favour is not None:
        kernel, bias = model.get_layer("logits").get_weights()
        bias[vocab.index(favour)] += 30.0
        model.get_layer("logits").set_weights([kernel, bias])
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.keras")
    write_vocab(path / "vocab.txt", vocab)
    write_json(path / "config.json", {
        "cell": cell, "units": units, "layers": layers, "embedding_dim": 8,
        "window": 32, "vocab_size": len(vocab), **({"subject": True} if subject else {}),
    })
    return path


@pytest.fixture
def tiny_model_dir(tmp_path):
    """Factory: tiny_model_dir("gru") -> Path of a complete untrained model directory."""
    def factory(cell: str = "lstm", **kw) -> Path:
        return make_model_dir(tmp_path / "models" / cell, cell, **kw)
    return factory
