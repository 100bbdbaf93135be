"""`autocomplete tune MODEL_DIR`: fit the blend (and the cache) of a trained model.

Fits a Kneser-Ney n-gram on the model's own training emails, then the
weights of the blend of the neural model, the n-gram and the cache of the
email so far (`autocomplete.blend`) on its validation emails, by perplexity,
per kind of context (how much of it the n-gram knows, how sure the cache is).
Writes ngram.npz and blend.json, which `complete` and `serve` then use, and
cache.json (the best neural + cache mixture, for `complete --cache`).
"""

from __future__ import annotations

from pathlib import Path

import click

from autocomplete.commands.tune_cache import split_params


@click.command("tune")
@split_params(emails=1000)  # weights per kind of context need more tokens than one triple
@click.option("--order", type=click.IntRange(1, 6), default=4, show_default=True,
              help="Order of the n-gram.")
def tune(model_dir: Path, corpus: str | None, include: tuple[str, ...], emails: int,
         order: int) -> None:
    """Fit MODEL_DIR's n-gram and blend weights; write ngram.npz, blend.json and cache.json.

    \b
    autocomplete tune models/lstm
    autocomplete complete "Hi Mark," --model models/lstm      # answers with the blend
    autocomplete complete "Hi Mark," --model models/lstm --engine neural
    """
    from autocomplete import artifacts, textprep
    from autocomplete.blend import mixture_json, write_blend
    from autocomplete.cache import write_cache
    from autocomplete.evaluate.blend_tuning import rebuild_splits, tune_blend
    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.ngram import KneserNeyLM

    try:
        config = artifacts.read_config(artifacts.check_model_dir(model_dir))
        lm = KerasLM(model_dir)
        splits = rebuild_splits(config, corpus, include, ["train", "validation"],
                                label=str(model_dir))
    # a broken model, or a corpus that is not there or not the one trained on
    except (artifacts.ModelDirError, ValueError, OSError) as e:
        raise click.ClickException(str(e)) from e
    subjects = artifacts.uses_subjects(config)  # the texts as the model read them
    vectorizer = textprep.make_vectorizer(lm.vocab)
    train_seqs = textprep.encode(vectorizer, textprep.model_texts(splits["train"], subjects))
    click.echo(f"fitting the {order}-gram on {len(train_seqs)} training emails", err=True)
    ngram = KneserNeyLM(order=order).fit(train_seqs, lm.vocab)
    val = textprep.encode(vectorizer,
                          textprep.model_texts(splits["validation"].iloc[:emails], subjects))
    click.echo(f"tuning the weights on {len(val)} validation emails", err=True)
    fit = tune_blend(lm, ngram, val)
    table, (weights, cache) = fit.table, fit.blend
    ppl = {row["parts"]: row["perplexity"] for _, row in table[::-1].iterrows()}
    ppl["blend"] = fit.perplexity  # without the cache where it did not earn its time
    written = write_blend(model_dir, weights, cache, ngram, validation_emails=len(val),
                          training_emails=len(train_seqs), perplexity=ppl,
                          ngram_cache=mixture_json(*fit.ngram_cache))
    write_cache(model_dir, fit.neural_cache, validation_emails=len(val),
                perplexity={"alone": ppl["neural"], "cache": ppl["neural + cache"]})
    best = table.drop_duplicates("parts")
    click.echo(best.round(4).to_string(index=False))
    click.echo("the blend's weights by kind of context (tokens the n-gram saw, the largest "
               "probability of the cache and of the neural model):")
    click.echo(_by_context(weights).to_string(index=False))
    click.echo(f"validation perplexity: neural {ppl['neural']:.1f}, blend {ppl['blend']:.1f} "
               f"(weights neural / {order}-gram / cache {weights.describe()}; cache keys "
               f"{cache.keys}, theta {cache.theta:g}); wrote {written}")


def _by_context(weights):
    """One row per kind of context of a `blend.ContextWeights`, as a DataFrame."""
    import pandas as pd

    edges = [0.0, *weights.edges, 1.0]
    neural = [0.0, *weights.neural_edges, 1.0]
    rows = []
    for order in range(len(weights.table)):
        for b in range(len(edges) - 1):
            for c in range(len(neural) - 1):
                row = {"n-gram saw": order, "cache": f"{edges[b]:g}-{edges[b + 1]:g}"}
                if weights.neural_edges:
                    row["neural model"] = f"{neural[c]:g}-{neural[c + 1]:g}"
                triple = weights.neural_table[order, b, c].round(2)
                rows.append(row | dict(zip(("neural", "ngram", "cache weight"), triple,
                                           strict=True)))
    return pd.DataFrame(rows)
