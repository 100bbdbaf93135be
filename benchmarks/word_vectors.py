"""How far apart are the word vectors of interchangeable words in each trained model?

The built-in corpus's four project names play the same part in every sentence
they appear in ("the Atlas project", "the Orion project"), so the gradients
of their word vectors agree except through the one dependency that tells them
apart: the later repetition of the same name. Vectors that drift together
until they are nearly parallel leave a recurrent cell little to store. This
prints, per model, the mean pairwise cosine and distance of the vectors of
each word group (the project names, the three time words, the four reason
targets) and, for scale, of 200 random pairs of frequent words.

    python benchmarks/word_vectors.py models/decay_kd/lstm models/budget20/gru
"""

from __future__ import annotations

import argparse
import sys
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from autocomplete.corpus.generator import PROJECTS, REASON_TARGETS, TENSES  # noqa: E402

GROUPS = {
    "project names": PROJECTS,
    "time words": tuple(TENSES),
    "reason targets": REASON_TARGETS,
}


def spread(vectors: np.ndarray, pairs: list[tuple[int, int]]) -> tuple[float, float, float]:
    """(mean cosine, mean distance, mean norm) over index pairs into `vectors`."""
    a, b = vectors[[i for i, _ in pairs]], vectors[[j for _, j in pairs]]
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cos = (a * b).sum(axis=1) / (na * nb)
    return float(cos.mean()), float(np.linalg.norm(a - b, axis=1).mean()), float(
        np.concatenate([na, nb]).mean())


def measure(model_dir: str, seed: int = 0) -> list[dict]:
    """One row per word group (and the random baseline) for the model in `model_dir`."""
    z = np.load(Path(model_dir) / "inference.npz")
    vocab, emb = z["vocab"].tolist(), z["embedding"].astype("float64")
    index = {t: i for i, t in enumerate(vocab)}
    rows = []
    for name, words in GROUPS.items():
        ids = [index[w] for w in words if w in index]
        cos, dist, norm = spread(emb, list(combinations(ids, 2)))
        rows.append({"model": model_dir, "words": name, "cosine": cos, "distance": dist,
                     "norm": norm})
    rng = np.random.default_rng(seed)
    frequent = np.arange(3, min(len(vocab), 1000))  # ids are by frequency after the specials
    pairs = [tuple(rng.choice(frequent, 2, replace=False)) for _ in range(200)]
    cos, dist, norm = spread(emb, pairs)
    rows.append({"model": model_dir, "words": "random frequent pairs", "cosine": cos,
                 "distance": dist, "norm": norm})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="trained model directories")
    args = parser.parse_args()
    table = pd.DataFrame([row for m in args.models for row in measure(m)])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
