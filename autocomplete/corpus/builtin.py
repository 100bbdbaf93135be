"""Loader of the built-in generated email corpus (data/emails.jsonl.gz).

The file is produced by `python -m autocomplete.corpus.generator`; see
data/README.md for the fields and the dependency design.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd

BUILTIN_PATH = Path(__file__).resolve().parents[2] / "data" / "emails.jsonl.gz"
COLUMNS = ("id", "topic", "subject", "body", "deps")


def load_builtin(path: str | Path = BUILTIN_PATH) -> pd.DataFrame:
    """Read the corpus into a DataFrame with columns id, topic, subject, body, deps.

    `deps` holds, per email, a list of dicts with kind, cue, target, cue_token,
    target_token and distance (token indices into `tokenize(body)`).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found; create it with "
            "`python -m autocomplete.corpus.generator --seed 0 --out data/emails.jsonl.gz`"
        )
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))
