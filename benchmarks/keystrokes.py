"""Keystrokes saved: type held-out emails character by character with one suggestion shown.

At each character the engine may show one suggestion (with --min-confidence
and --trim as `autocomplete complete` has them); the simulated writer presses Tab only
when the whole suggestion is exactly what comes next
(`autocomplete.evaluate.keystrokes`). Reports % of characters saved
(accepted characters less one per Tab), suggestions shown per 100
characters, acceptance rate and latency per keystroke (p50/p90), for the
n-gram, the n-gram with a cache of the email so far (token keys: the
like-for-like baseline of the blend), the neural model, the neural model +
cache and the blend, as a markdown table. Each engine's completer keeps the
states of the text it read as `autocomplete serve` does (`REMEMBER_MB`), so
the latency is the server's per keystroke; the last row is the blend
without them (each keystroke computed afresh: the same suggestions, the
cost of a one-off `autocomplete complete`). The model directory needs
`autocomplete tune` run on it; this script runs it when blend.json is missing.

    python benchmarks/keystrokes.py --quick                     # tiny model trained here
    python benchmarks/keystrokes.py --quick --model models/lstm
    python benchmarks/keystrokes.py --model models/lstm --emails 40       # built-in test split
    python benchmarks/keystrokes.py --enron models/enron-lstm --emails 40 # enron4, trained on 1-3

--enron takes a model that `benchmarks/enron_quality.py` trained on enron1-3
and types enron4's mail; it skips cleanly when ../shared/corpora is absent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # as `complete` and `serve` run
    os.environ.setdefault(_var, "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def tiny_model(out: Path) -> Path:
    """A few updates of a small LSTM on the built-in corpus: a pipeline check, not a result."""
    from autocomplete.train import TrainConfig, train

    cfg = TrainConfig(out=str(out), units=16, embedding_dim=16, window=64, updates=40,
                      batch_size=32, max_tokens=2000, grad_stats=False)
    return Path(train(cfg, verbose=0))


def ensure_tuned(model_dir: Path, tune_args: list[str], emails: int) -> None:
    """Run `autocomplete tune` on `model_dir` unless it holds a blend already."""
    from autocomplete.blend import has_blend
    from autocomplete.commands.tune import tune

    if not has_blend(model_dir):
        print(f"tuning the blend of {model_dir} ...", file=sys.stderr)
        tune.main([str(model_dir), "--emails", str(emails), *tune_args], standalone_mode=False)


def engines(model_dir: Path) -> dict:
    """name -> Completer for the n-gram (alone and with its cache), the neural model,
    neural + cache and the blend, each keeping the states it read; and the blend without."""
    from autocomplete.artifacts import read_config
    from autocomplete.blend import NGRAM_FILE, load_blend, load_ngram_cache
    from autocomplete.cache import CachedStepModel, read_cache
    from autocomplete.decoding import Completer
    from autocomplete.decoding_defaults import REMEMBER_MB
    from autocomplete.fastpath import load_step_model
    from autocomplete.ngram import KneserNeyLM, NgramStepModel

    cell = read_config(model_dir).get("cell", "neural")
    inner = load_step_model(model_dir)
    ngram = KneserNeyLM.load(model_dir / NGRAM_FILE)
    models = {
        f"ngram-{ngram.order}": NgramStepModel(ngram),
        # the like-for-like baseline: the same kind of cache, no neural model
        f"ngram-{ngram.order} + cache": load_ngram_cache(model_dir, inner),
        cell: inner,
        f"{cell} + cache": CachedStepModel(inner, read_cache(model_dir)),
        "blend": load_blend(model_dir, inner),
    }
    return {**{name: Completer(model, remember_mb=REMEMBER_MB) for name, model in models.items()},
            "blend, afresh": Completer(load_blend(model_dir, inner))}


def markdown(rows: list[dict]) -> str:
    """A markdown table of `rows` (dicts with the same keys)."""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(r[k]) for k in head) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="model directory (built-in corpus test split unless --enron)")
    parser.add_argument("--enron", type=Path, default=None, metavar="MODEL_DIR",
                        help="a model trained on enron1-3 by enron_quality.py; types enron4")
    parser.add_argument("--quick", action="store_true",
                        help="a few short emails; without --model, a tiny model trained here")
    parser.add_argument("--emails", type=int, default=None,
                        help="held-out emails to type [default: 3 with --quick, else 40]")
    parser.add_argument("--max-chars", type=int, default=None,
                        help="characters typed per email [default: 200 with --quick, else 600]")
    parser.add_argument("--min-confidence", type=float, default=None,
                        help="show no suggestion below this confidence, as `complete` has it")
    parser.add_argument("--trim", action="store_true",
                        help="show each suggestion cut where its expected characters saved "
                        "are most (`complete --trim`)")
    parser.add_argument("--beam", type=int, default=None,
                        help="[default: the decoder's, greedy with --trim]")
    parser.add_argument("--max-words", type=int, default=None, help="[default: the decoder's]")
    parser.add_argument("--only", action="append", default=None, metavar="ENGINE",
                        help="type with this engine only (repeatable), e.g. --only blend "
                        "--only 'ngram-4 + cache' [default: every engine]")
    parser.add_argument("--tune-emails", type=int, default=1000,
                        help="validation emails for `autocomplete tune` when it has to run")
    args = parser.parse_args()
    if args.model and args.enron:
        parser.error("choose one of --model and --enron")
    if not (args.quick or args.model or args.enron):
        parser.error("give --model or --enron (or --quick)")
    emails = args.emails or (3 if args.quick else 40)
    max_chars = args.max_chars or (200 if args.quick else 600)

    from autocomplete.artifacts import read_config
    from autocomplete.corpus.normalize import keeps_numbers, normalize_emails
    from autocomplete.decoding_defaults import BEAM, MAX_WORDS, TRIM_BEAM
    from autocomplete.evaluate.blend_tuning import rebuild_splits
    from autocomplete.evaluate.keystrokes import completer_suggest, keystrokes_saved

    tmp = None
    if args.enron:
        import enron_quality

        if not enron_quality.CORPUS.exists():
            print(f"skipped: {enron_quality.CORPUS} is absent")
            return
        model_dir = args.enron
        tune_args = ["--corpus", str(enron_quality.CORPUS)]
        for part in enron_quality.TRAIN_PARTS:
            tune_args += ["--include", part]
        ensure_tuned(model_dir, tune_args, args.tune_emails)
        test = enron_quality.load_enron()[1]
        if not keeps_numbers(read_config(model_dir)):  # the text as the model was trained on
            test = normalize_emails(test)[0]
        where = "enron4 (trained on enron1-3)"
    else:
        if args.model is None:
            tmp = tempfile.TemporaryDirectory()
            print("training a tiny model on the built-in corpus ...", file=sys.stderr)
            model_dir = tiny_model(Path(tmp.name) / "lstm")
        else:
            model_dir = args.model
        ensure_tuned(model_dir, [], 20 if args.quick else args.tune_emails)
        test = rebuild_splits(read_config(model_dir), parts=["test"])["test"]
        where = "the built-in corpus' test split"
    texts = [body[:max_chars] for body in test["body"].tolist()[:emails]]
    options = {"beam": args.beam or (TRIM_BEAM if args.trim else BEAM),
               "max_words": args.max_words or MAX_WORDS,
               "min_confidence": args.min_confidence, "trim": args.trim}
    rows = []
    chosen = engines(model_dir)
    unknown = sorted(set(args.only or []) - set(chosen))
    if unknown:
        parser.error(f"unknown engine {unknown[0]!r}; the engines: {', '.join(chosen)}")
    for name, completer in chosen.items():
        if args.only and name not in args.only:
            continue
        print(f"typing with {name} ...", file=sys.stderr)
        stats = keystrokes_saved(texts, completer_suggest(completer, **options))
        rows.append({"engine": name, **{k: round(v, 1) for k, v in stats.summary().items()}})
    chars = stats.chars
    print(f"{len(texts)} emails of {where} (first {max_chars} characters each, {chars} in all), "
          f"model {model_dir}{' (tiny, trained here)' if tmp else ''}; beam {options['beam']}, "
          f"max words {options['max_words']}, min confidence {args.min_confidence}"
          f"{', trimmed' if args.trim else ''}")
    print()
    print(markdown(rows))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
