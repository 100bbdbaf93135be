"""Quality on real mail: train on three Enron employees, test on a fourth.

Trains a cell on enron1-3 (farmer, kaminski, kitchen) of the Enron-Spam ham
mail in ../shared/corpora for a fixed number of updates, fits an interpolated
Kneser-Ney 4-gram on the same training emails and vocabulary, and evaluates
both on enron4 (williams), whom neither saw: perplexity, next-word top-1/top-5
and ExactMatch@1..5. With --in-domain, also on the held-out emails of enron1-3
(the run's own test split), to tell how much of the gap is the new employee.
With --cache, also both models with a cache of the email so far
(`autocomplete.cache`; the neural model with either kind of key), its
settings tuned on enron1-3's validation emails. With --blend, also the blend of the
neural model, the 4-gram and the cache (`autocomplete.blend`), its weights tuned on the
same validation emails, next to the 4-gram with a cache fitted the same way (token keys, no
neural weight): the like-for-like baseline; each with its weights by kind of context and
with the one triple fitted on all contexts (the blend also by kind of context without the
bins of the neural model's confidence).
Skips cleanly when the corpus is absent.

    python benchmarks/enron_quality.py --cell lstm --updates 1520
    python benchmarks/enron_quality.py --eval-only --in-domain --out models/enron-lstm
    python benchmarks/enron_quality.py --eval-only --cache --out models/enron-gru-d25
    python benchmarks/enron_quality.py --eval-only --blend --first-window --em-cuts 0 \
        --out models/enron-lstm
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "enron-spam-ham.tar.gz"
TRAIN_PARTS = ["enron1/*", "enron2/*", "enron3/*"]  # farmer, kaminski, kitchen
TEST_PARTS = ["enron4/*"]  # williams


def load_enron() -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(enron1-3's ham mail, enron4's, the loader's summary); the corpus must exist."""
    from autocomplete.corpus.loaders import load_corpus

    train_df, summary = load_corpus(CORPUS, include=TRAIN_PARTS)
    test_df, _ = load_corpus(CORPUS, include=TEST_PARTS)
    return train_df, test_df, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="lstm", choices=["simple_rnn", "lstm", "gru"])
    parser.add_argument("--updates", type=int, default=1520,
                        help="training work in optimizer updates, the same on any machine "
                             "(1,520: what 30 minutes held for the LSTM of BENCHMARKS' blend)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="an optional wall-clock cap (the run then depends on the machine)")
    parser.add_argument("--out", default="models/enron-lstm")
    parser.add_argument("--max-tokens", type=int, default=8000)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--lr-decay", type=float, default=0.0,
                        help="share of the budget, at its end, where the rate falls to 0")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout on the inputs of the cell and of the output layer")
    parser.add_argument("--word-dropout", type=float, default=0.0,
                        help="see `autocomplete train --help`")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--window", type=int, default=256)
    # the recipe of the Enron tables: batch 16, no bottleneck (not `train`'s defaults)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--projection", type=int, default=0,
                        help="width of the bottleneck before the output layer (0: none)")
    parser.add_argument("--tie-embeddings", action="store_true",
                        help="score the output with the word vectors (needs --projection "
                        "equal to --embedding-dim)")
    parser.add_argument("--gate-init", default="chrono",
                        choices=["chrono", "chrono-full", "default"],
                        help="see `autocomplete train --help`")
    parser.add_argument("--precision", default="auto", help="see `autocomplete train --help`")
    parser.add_argument("--beta-2", type=float, default=None,
                        help="Adam's beta_2 (default: the cell's, see `autocomplete train --help`)")
    parser.add_argument("--ema", type=float, default=None,
                        help="momentum of the saved average of the weights (default: the "
                        "cell's, see `autocomplete train --help`)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initial weights and the window order; the split by "
                        "email (and so the tuning mail) stays seed 0's")
    parser.add_argument("--em-cuts", type=int, default=1000,
                        help="cut points for ExactMatch@1..5 (0: no ExactMatch)")
    parser.add_argument("--first-window", action="store_true",
                        help="score only the first window (256 tokens) of each test email")
    parser.add_argument("--eval-only", action="store_true",
                        help="evaluate the model already in --out instead of training one")
    parser.add_argument("--in-domain", action="store_true",
                        help="also evaluate on the held-out emails of enron1-3 (the test split)")
    parser.add_argument("--cache", action="store_true",
                        help="also score both models with a cache of the email so far")
    parser.add_argument("--blend", action="store_true",
                        help="also score the blend of the neural model, the 4-gram and the cache")
    parser.add_argument("--tune-emails", type=int, default=1000,
                        help="validation emails the cache's and the blend's settings are "
                        "tuned on")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} is absent")
        return

    from autocomplete import artifacts, textprep
    from autocomplete.blend import BlendStepModel, ContextWeights
    from autocomplete.cache import KEYS, ContinuousCache
    from autocomplete.corpus.normalize import keeps_numbers, normalize_emails
    from autocomplete.evaluate import metrics
    from autocomplete.evaluate.blend_lm import BlendLM
    from autocomplete.evaluate.blend_tuning import tune_blend
    from autocomplete.evaluate.cache_tuning import (
        THETAS,
        CachedNgramLM,
        cache_tuning_items,
        tune,
    )
    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.evaluate.ngram import KneserNeyLM
    from autocomplete.evaluate.scoring import neural_perplexity_and_accuracy, step_greedy_completer
    from autocomplete.fastpath import load_step_model
    from autocomplete.train import TrainConfig, train

    train_df, test_df, summary = load_enron()
    print(summary)
    cfg = TrainConfig(cell=args.cell, out=args.out, updates=args.updates,
                      time_budget=args.minutes,
                      max_tokens=args.max_tokens, learning_rate=args.learning_rate,
                      lr_decay=args.lr_decay, dropout=args.dropout, units=args.units,
                      word_dropout=args.word_dropout,
                      embedding_dim=args.embedding_dim, window=args.window,
                      batch_size=args.batch_size, projection=args.projection,
                      tie_embeddings=args.tie_embeddings, gate_init=args.gate_init,
                      precision=args.precision, beta_2=args.beta_2, ema=args.ema,
                      seed=args.seed, split_seed=0)
    started = time.monotonic()
    if args.eval_only:  # the cell and the split seed of the model being evaluated
        out = Path(args.out)
        saved = artifacts.read_config(out)
        cfg = TrainConfig(cell=saved["cell"], seed=saved["seed"],
                          split_seed=artifacts.split_seed(saved))
    else:
        out = train(cfg, emails=train_df, verbose=2)
    train_minutes = (time.monotonic() - started) / 60

    lm = KerasLM(out)
    vectorizer = textprep.make_vectorizer(lm.vocab)
    splits = textprep.split_by_email(train_df, seed=cfg.split_seed)  # the split train() used
    if not keeps_numbers(artifacts.read_config(out)):  # the text as the model was trained on it
        splits = {k: normalize_emails(v)[0] for k, v in splits.items()}
        test_df = normalize_emails(test_df)[0]
    train_seqs = textprep.encode(vectorizer, splits["train"]["body"].tolist())
    ngram = KneserNeyLM(order=4).fit(train_seqs, lm.vocab)
    step = load_step_model(out)
    tests = {"enron4": textprep.encode(vectorizer, test_df["body"].tolist())}
    if args.in_domain:
        tests["enron1-3 held out"] = textprep.encode(vectorizer, splits["test"]["body"].tolist())
    if args.first_window:  # no positions past the window: no cut contexts to score one by one
        tests = {name: [s[: lm.window + 1] for s in seqs] for name, seqs in tests.items()}

    models = [(cfg.cell, lm, step_greedy_completer(step)),
              ("ngram-4", ngram, metrics.greedy_completer(ngram))]
    # tuned on held-out mail of the training employees, never on the test
    val = [np.asarray(s) for s in textprep.encode(
        vectorizer, splits["validation"]["body"].tolist())[: args.tune_emails] if len(s) > 1]
    if args.cache:
        nn_table = tune(cache_tuning_items(lm, val))[1]
        kn_items = ((ngram.next_logprobs([s[: i + 1] for i in range(len(s) - 1)]), None, s)
                    for s in (s[: lm.window + 1] for s in val))
        kn_table = tune(kn_items, thetas={"tokens": THETAS["tokens"]})[1]
        for name, table in [(cfg.cell, nn_table), ("ngram-4", kn_table)]:
            shown = pd.concat([table.head(6), table[table["keys"] == "none"]]).round(4)
            print(f"cache tuning, {name}, {len(val)} validation emails (best 6, and no cache):")
            print(shown.to_string(index=False))

        def best(table: pd.DataFrame, keys: str) -> ContinuousCache:
            row = table[table["keys"] == keys].iloc[0]
            return ContinuousCache(float(row["theta"]), float(row["lam"]), keys)

        for name, model in [
            *[(cfg.cell, KerasLM(out, cache=best(nn_table, keys))) for keys in KEYS],
            ("ngram-4", CachedNgramLM(ngram, best(kn_table, "tokens"))),
        ]:
            c = model.cache
            models.append((f"{name} + cache ({c.keys}, {c.theta:g}, {c.lam:g})", model,
                           metrics.greedy_completer(model)))
    if args.blend:
        fit = tune_blend(lm, ngram, val)
        print(f"blend tuning, {len(val)} validation emails (best per combination of parts):")
        print(fit.table.drop_duplicates("parts").round(4).to_string(index=False))
        for name, (w, c) in [(cfg.cell, fit.blend), ("ngram-4", fit.ngram_cache)]:
            # the weights by kind of context, the same without the bins of the neural
            # model's confidence (where it has them), and the one triple fitted on all
            coarse = [ContextWeights(w.default, w.table, w.edges)] if w.neural_edges else []
            for weights in (w, *coarse, ContextWeights.constant(w.default, ngram.order)):
                models.append((f"{name} blend ({weights.describe()}, cache {c.keys} "
                               f"{c.theta:g})",
                               BlendLM(out, ngram=ngram, weights=weights, cache=c),
                               step_greedy_completer(BlendStepModel(step, ngram, c, weights))))

    rows = []
    for test_name, seqs in tests.items():
        for name, model, completer in models:
            if isinstance(model, KerasLM):
                scores = neural_perplexity_and_accuracy(model, seqs)
            else:
                scores = metrics.perplexity_and_accuracy(model, seqs)
            em = (metrics.exact_match_at_n(completer, seqs, n_cuts=args.em_cuts)
                  if args.em_cuts else {n: float("nan") for n in range(1, 6)})
            rows.append({"test": test_name, "model": name,
                         "perplexity": round(scores["perplexity"], 1),
                         "top-1": f"{scores['top1']:.1%}", "top-5": f"{scores['top5']:.1%}",
                         **{f"EM@{n}": f"{v:.1%}" for n, v in em.items()}})
        print(f"test {test_name}: {len(seqs)} emails, {sum(len(s) - 1 for s in seqs)} tokens")
    how = f"from {out}" if args.eval_only else f"trained {train_minutes:.1f} min"
    print(f"train: enron1-3 ({len(splits['train'])} of {len(train_df)} emails); "
          f"{cfg.cell} {how}, vocabulary {len(lm.vocab)}")
    print(pd.DataFrame(rows).to_string(index=False))

if __name__ == "__main__":
    main()
