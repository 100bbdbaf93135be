"""Two worker processes on this machine train the model one process trains.

Both workers run `autocomplete train --data DIR --strategy multi-worker` (through
benchmarks/local_cluster.py: 127.0.0.1, free ports, one TF_CONFIG each, killed on failure
or after 45 s); the chief publishes, the other worker leaves nothing behind; the chief's
weights are compared with those of one process trained with the same global batch.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from autocomplete import artifacts, shards
from autocomplete.train import TrainConfig, train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from local_cluster import run_workers  # noqa: E402

WINDOW = 19  # rows of 20 ids: two emails of 10 ids each, no padding


def equal_emails(n: int = 50) -> pd.DataFrame:
    """Emails of exactly 9 tokens ([start] + 9 = 10 ids), so every window row is full."""
    rng = random.Random(0)
    bodies = [f"hi {rng.choice(['mark', 'anna'])}, {rng.choice(['today', 'monday', 'friday'])}"
              f" i {rng.choice(['need', 'want'])} a {rng.choice(['loan', 'break', 'flight'])}."
              for _ in range(n)]
    return pd.DataFrame({"id": [f"e{i}" for i in range(n)], "subject": "", "body": bodies,
                         "deps": [[] for _ in range(n)]})


# SGD keeps a difference in gradients a difference of the same size in the weights (Adam
# divides by a running gradient scale, which magnifies float noise in near-zero gradients),
# and no clipping: an engaged clip differs by design (the mean of clipped shares against
# the clipped mean). L2 is large enough that a penalty counted once per worker would show.
SETTINGS = dict(cell="lstm", units=8, embedding_dim=8, projection=0, window=WINDOW,
                batch_size=4, epochs=2, optimizer="sgd", learning_rate=0.5, clipnorm=None,
                l2=1e-3, grad_stats=False, patience=10, seed=0)


def _one_process(tmp_path, data: Path, name: str, **kw) -> list[np.ndarray]:
    cfg = TrainConfig(**(SETTINGS | kw), data=str(data), out=str(tmp_path / name),
                      strategy="one")
    return artifacts.load_keras_model(train(cfg, verbose=0)).get_weights()


def test_two_workers_train_what_one_process_trains(tmp_path):
    data = tmp_path / "prepared"
    manifest = shards.write_shards(equal_emails(), data, window=WINDOW, stride=None,
                                   max_tokens=8000, seed=0)
    train_split = manifest["splits"]["train"]
    # the premise of an exact comparison: each replica's half of a batch holds as many real
    # tokens as the other, so the mean of the replicas' token means is the batch's mean
    assert train_split["tokens"] == train_split["windows"] * WINDOW == 20 * WINDOW

    out = tmp_path / "two"
    args = ["--data", str(data), "--out", str(out), "--cell", "lstm", "--units", "8",
            "--embedding-dim", "8", "--projection", "0", "--batch-size", "4", "--epochs", "2",
            "--optimizer", "sgd", "--lr", "0.5", "--no-clip", "--l2", "1e-3",
            "--no-grad-stats", "--patience", "10", "--seed", "0", "--quiet"]
    chief, worker = run_workers(args, workers=2, timeout=45, threads=1)
    assert "saved " in chief.output and "worker done" in worker.output
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left
    config = artifacts.read_config(out)
    assert (config["strategy"], config["replicas"], config["batch_size"]) == \
        ("multi-worker", 2, 4)

    one = _one_process(tmp_path, data, "one")
    two = artifacts.load_keras_model(out).get_weights()
    # One process sums a batch's gradient at once; two workers sum their halves and add
    # them: float32 rounding in another order, about 1e-7 of a gradient per update, times
    # the rate (0.5) over 10 updates stays below 1e-5 (measured: 3e-8). A wrong
    # distribution moves the weights by about the rate times a gradient: measured, the L2
    # penalty counted twice ends 5e-3 away, another global batch (2) 0.2 away; each
    # worker on all the data or on its half only is another global batch.
    for x, y in zip(one, two, strict=True):
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-5)
    other = _one_process(tmp_path, data, "other", batch_size=2)
    assert max(np.abs(x - y).max() for x, y in zip(one, other, strict=True)) > 1e-3
