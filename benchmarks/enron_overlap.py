"""How much of each Enron test set repeats phrases of the training mail?

`enron_quality.py --in-domain` found the 4-gram model ahead of the LSTM on the
held-out mail of the training employees (enron1-3) and behind it on a new
employee (enron4). A 4-gram model predicts a word well exactly where the three
words before it, followed by that word, occurred in training. This prints, for
both test sets, the share of target words whose 4-gram (and 3-gram, 2-gram)
ending in them occurs in the training split that `enron_quality.py` uses.

It also prints how much each email repeats itself, which a cache of the email
so far (`enron_quality.py --cache`) can use: the share of words whose three
preceding words already occurred earlier in the same email, and how often the
word that followed them then is the word that follows now.

    python benchmarks/enron_overlap.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from enron_quality import CORPUS  # noqa: E402 - the same corpus and split

from autocomplete import textprep  # noqa: E402
from autocomplete.tokens import tokenize  # noqa: E402

ORDERS = (2, 3, 4)
CONTEXT = 3  # words of context for the within-email repetition


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    """Every n-gram of an email, the first ones padded with a start mark as the models see it."""
    padded = ["[start]"] * (n - 1) + tokens
    return [tuple(padded[i : i + n]) for i in range(len(tokens))]


def self_repeats(tokens: list[str]) -> tuple[int, int]:
    """(words whose CONTEXT-word context occurred earlier in the email, of them copied right)."""
    last: dict[tuple[str, ...], str] = {}
    seen = right = 0
    for i in range(CONTEXT, len(tokens)):
        context = tuple(tokens[i - CONTEXT : i])
        if context in last:
            seen += 1
            right += last[context] == tokens[i]
        last[context] = tokens[i]
    return seen, right


def main() -> None:
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} is absent")
        return
    from autocomplete.corpus.loaders import load_corpus

    train_df, _ = load_corpus(CORPUS, include=["enron1/*", "enron2/*", "enron3/*"])
    test_df, _ = load_corpus(CORPUS, include=["enron4/*"])
    splits = textprep.split_by_email(train_df, seed=0)  # enron_quality's split (seed 0)
    docs = {name: [tokenize(body) for body in df["body"]]
            for name, df in [("train", splits["train"]), ("enron1-3 held out", splits["test"]),
                             ("enron4 (new employee)", test_df)]}
    seen = {n: {g for toks in docs["train"] for g in ngrams(toks, n)} for n in ORDERS}
    rows = []
    for name in ("enron1-3 held out", "enron4 (new employee)"):
        row = {"test": name, "tokens": sum(len(t) for t in docs[name])}
        for n in ORDERS:
            grams = [g for toks in docs[name] for g in ngrams(toks, n)]
            row[f"{n}-gram seen"] = f"{sum(g in seen[n] for g in grams) / len(grams):.1%}"
        repeats = [self_repeats(toks) for toks in docs[name]]
        again, copied = sum(r[0] for r in repeats), sum(r[1] for r in repeats)
        row[f"{CONTEXT} words seen earlier in the email"] = f"{again / row['tokens']:.1%}"
        row["copy right there"] = f"{copied / again:.1%}"
        rows.append(row)
    print(f"train split: {len(docs['train'])} emails, {sum(len(t) for t in docs['train'])} tokens")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
