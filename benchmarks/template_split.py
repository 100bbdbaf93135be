"""Which template does a model's long-range recall depend on: the filler or the frames?

Held-out-template probes change two things at once: the filler between cue and
target and the sentences around them (cue phrasings, the project-news and the
cross-sentence frames). This script generates probe emails with their parts
taken from the training and the held-out pool apart, and prints recall by kind
and distance band for each combination (cue frames / target frames / filler):

* train / train / train: new emails from the corpus' own templates;
* train / train / held out: only the filler is new;
* held out / held out / train: only the sentences around cue and target are new;
* held out / train / train: only the sentences that state a cue are new (the cue
  phrasings, the project's introduction, the cross-sentence reason);
* train / held out / train: only the sentences that ask for the target are new
  (the project-news target sentence, the cross-sentence request);
* held out / held out / held out: the report's held-out-template probes.

    python benchmarks/template_split.py models/lstm models/gru --emails 1500

With `--shrink-rare N` the tables are those of each model with the word vectors of
the words seen fewer than N times in its training split multiplied by `--shrink`
(in memory; the directory is not changed): a diagnosis of whether rare words'
vectors, not the frames themselves, disturb what the model remembers.

    python benchmarks/template_split.py models/gru --shrink-rare 100 --shrink 0.3
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

COMBINATIONS = (  # (cue frames, target frames, filler)
    ("train", "train", "train"), ("train", "train", "heldout"),
    ("heldout", "heldout", "train"), ("heldout", "train", "train"),
    ("train", "heldout", "train"), ("heldout", "heldout", "heldout"),
)
SEED = 7  # not the corpus' seed: new emails even from the training pool


def recall_table(lm, frames: str, filler: str, emails: int, raw: bool,
                 targets: str | None = None) -> pd.DataFrame:
    """Recall by kind (rows) and band (columns) of `lm` on probe emails whose cue frames
    come from pool `frames`, target frames from `targets` (default: `frames`) and filler
    from `filler` (`raw`: the model was trained on the text with its numbers)."""
    from autocomplete.corpus import generator
    from autocomplete.corpus.normalize import normalize_emails
    from autocomplete.evaluate import probes as pr

    df = pd.DataFrame(generator.heldout_probe_emails(emails, SEED, frames=frames,
                                                     filler=filler, targets=targets))
    if not raw:  # the text as the model was trained on it
        df = normalize_emails(df)[0]
    summary = pr.summarize_recall(pr.recall_at_distance(lm, pr.build_probes(df, lm.vocab)))
    summary = summary[summary["kind"] != "all"]
    return summary.pivot(index="kind", columns="band", values="recall")


def shrink_rare(lm, model_dir: str, below: int, factor: float) -> int:
    """Scale the word vectors of `lm` seen fewer than `below` times (but at least once) in
    its training split of the built-in corpus by `factor`; return how many were scaled."""
    import numpy as np

    from autocomplete import textprep
    from autocomplete.artifacts import read_config
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.corpus.normalize import keeps_numbers, normalize_emails

    config = read_config(model_dir)
    subjects = bool(config.get("subject"))
    df = load_builtin()
    if not keeps_numbers(config):  # as `train` does: placeholders first, then the split
        df = normalize_emails(df, subjects=subjects)[0]
    seed = config.get("split_seed")
    seed = config.get("seed", 0) if seed is None else seed  # as `train` resolves it
    train = textprep.split_by_email(df, seed=seed)["train"]
    ids = textprep.encode(textprep.make_vectorizer(lm.vocab),
                          textprep.model_texts(train, subjects))
    counts = np.bincount(np.concatenate(ids), minlength=len(lm.vocab))
    rare = [i for i, (word, n) in enumerate(zip(lm.vocab, counts, strict=True))
            if 0 < n < below and not word.startswith("[")]
    vectors = lm.model.get_layer("embedding").embeddings
    table = vectors.numpy()
    table[rare] *= factor
    vectors.assign(table)
    return len(rare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model directories trained on the "
                        "built-in corpus")
    parser.add_argument("--emails", type=int, default=1500,
                        help="probe emails per combination [default: 1500]")
    parser.add_argument("--shrink-rare", type=int, default=0, metavar="N",
                        help="scale the word vectors of words seen fewer than N times in "
                        "the model's training split first [default: 0, none]")
    parser.add_argument("--shrink", type=float, default=0.3,
                        help="the factor for --shrink-rare [default: 0.3]")
    args = parser.parse_args()

    from autocomplete.artifacts import read_config
    from autocomplete.corpus.normalize import keeps_numbers
    from autocomplete.corpus.summary import KINDS
    from autocomplete.evaluate.keras_lm import KerasLM

    for path in args.models:
        lm = KerasLM(path)
        raw = keeps_numbers(read_config(path))
        if args.shrink_rare:
            n = shrink_rare(lm, path, args.shrink_rare, args.shrink)
            print(f"{path}: {n} word vectors (seen fewer than {args.shrink_rare} times in "
                  f"training) scaled by {args.shrink}")
        rows = []
        for frames, targets, filler in COMBINATIONS:
            table = recall_table(lm, frames, filler, args.emails, raw, targets)
            for kind, recall in table.iterrows():
                rows.append([kind, frames, targets, filler, *(f"{r:.2f}" for r in recall)])
        head = ["kind", "cue frames", "target frames", "filler", *table.columns]
        print(f"{path}: recall by distance band, {args.emails} probe emails per combination\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for row in sorted(rows, key=lambda r: (KINDS.index(r[0]),
                                               COMBINATIONS.index(tuple(r[1:4])))):
            print("| " + " | ".join(row) + " |")
        print()


if __name__ == "__main__":
    main()
