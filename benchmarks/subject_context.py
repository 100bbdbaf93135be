"""What the subject adds: a model trained with subjects against one trained without.

Both model directories must come from the same corpus and seed (the same split);
one trained with `autocomplete train --subject`, one without. Each is scored on
the same targets: the body tokens of the test split's emails (the subject model
reads the subject and the separator first, and is not scored on them), as
perplexity, next-word top-1 and top-5, over the whole body and over its first
`--first` tokens, where the subject should matter most.

    autocomplete train --cell gru --out models/gru
    autocomplete train --cell gru --subject --out models/gru-subject
    python benchmarks/subject_context.py models/gru-subject models/gru
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from keystrokes import markdown  # noqa: E402


def score(model_dir: Path, emails: int | None, first: int | None) -> dict:
    """Body-token figures of one model on its test split (the first `first` body tokens)."""
    from autocomplete import artifacts, textprep
    from autocomplete.evaluate.blend_tuning import rebuild_splits
    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.evaluate.scoring import neural_perplexity_and_accuracy

    config = artifacts.read_config(model_dir)
    subjects = artifacts.uses_subjects(config)
    test = rebuild_splits(config, parts=["test"])["test"].iloc[:emails]
    lm = KerasLM(model_dir)
    seqs = textprep.encode(textprep.make_vectorizer(lm.vocab),
                           textprep.model_texts(test, subjects))
    starts = [offset + 1 for offset in textprep.body_offsets(test, subjects)]
    if first is not None:  # the body's first tokens only
        seqs = [s[: start + first] for s, start in zip(seqs, starts, strict=True)]
    scores = neural_perplexity_and_accuracy(lm, seqs, starts=starts)
    return {"model": str(model_dir), "subject": subjects, "emails": len(seqs),
            "body tokens": scores["tokens"], "perplexity": round(scores["perplexity"], 3),
            "top-1": f"{scores['top1']:.1%}", "top-5": f"{scores['top5']:.1%}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("with_subject", type=Path, help="a model trained with --subject")
    parser.add_argument("without_subject", type=Path, help="the same run without it")
    parser.add_argument("--emails", type=int, default=None, help="test emails [default: all]")
    parser.add_argument("--first", type=int, default=10,
                        help="also score only the first N body tokens of each email")
    args = parser.parse_args()
    from autocomplete import artifacts

    configs = [artifacts.read_config(d) for d in (args.with_subject, args.without_subject)]
    if [artifacts.uses_subjects(c) for c in configs] != [True, False]:
        parser.error("give a model trained with --subject first, then one trained without")
    if len({(c.get("corpus_sha256"), c.get("seed")) for c in configs}) != 1:
        parser.error("the two models must come from the same corpus and seed (the same split)")
    rows = []
    for part, first in (("whole body", None), (f"first {args.first} body tokens", args.first)):
        for model_dir in (args.with_subject, args.without_subject):
            rows.append({"scored": part, **score(model_dir, args.emails, first)})
    print(markdown(rows))


if __name__ == "__main__":
    main()
