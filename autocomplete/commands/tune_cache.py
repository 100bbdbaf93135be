"""`autocomplete tune-cache MODEL_DIR`: fit the continuous cache's settings for a model.

The cache (`autocomplete.cache`) lets a model copy what followed the same
context earlier in the email. It has no weights, only three settings (the
kind of key, theta and lam), picked here on the model's own validation
emails (never its training or test emails) and written to `cache.json`,
which `complete --cache` reads.
"""

from __future__ import annotations

from pathlib import Path

import click

from autocomplete.commands.params import GivenPath

# MODEL_DIR and where its validation emails come from: shared with `autocomplete tune`
_SPLIT_PARAMS = (
    click.argument("model_dir", type=GivenPath(exists=True, file_okay=False, path_type=Path)),
    click.option("--corpus", default=None,
                 help="The corpus the model was trained on.  [default: the one in its "
                 "config.json]"),
    click.option("--include", multiple=True, metavar="GLOB",
                 help="Only these paths inside a folder or archive (repeatable), as given to "
                 "`autocomplete prepare --include` for the model's training data."),
)


def split_params(command=None, *, emails: int = 300):
    """Decorate a tuning command with MODEL_DIR, --corpus, --include and --emails (by
    default `emails` validation emails)."""
    def decorate(command):
        command = click.option(
            "--emails", type=click.IntRange(1), default=emails, show_default=True,
            help="Validation emails to tune on (their first window each).")(command)
        for param in reversed(_SPLIT_PARAMS):
            command = param(command)
        return command

    return decorate(command) if command is not None else decorate


@click.command("tune-cache")
@split_params
def tune_cache(model_dir: Path, corpus: str | None, include: tuple[str, ...],
               emails: int) -> None:
    """Pick the cache's keys, theta and lam on MODEL_DIR's validation emails; write cache.json.

    \b
    autocomplete tune-cache models/lstm
    autocomplete complete "Hi Mark," --model models/lstm --cache
    """
    from autocomplete import artifacts, textprep
    from autocomplete.cache import write_cache
    from autocomplete.evaluate.blend_tuning import rebuild_splits
    from autocomplete.evaluate.cache_tuning import cache_tuning_items, tune
    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.evaluate.scoring import progress_bar

    try:
        config = artifacts.read_config(artifacts.check_model_dir(model_dir))
        lm = KerasLM(model_dir)
        val = rebuild_splits(config, corpus, include, ["validation"],
                             label=str(model_dir))["validation"]
    # a broken model, or a corpus that is not there or not the one trained on
    except (artifacts.ModelDirError, ValueError, OSError) as e:
        raise click.ClickException(str(e)) from e
    texts = textprep.model_texts(val.iloc[:emails], artifacts.uses_subjects(config))
    seqs = textprep.encode(textprep.make_vectorizer(lm.vocab), texts)
    bar = progress_bar(total=len(seqs), desc="tuning", disable=False)

    def counted(items):
        for item in items:
            yield item
            bar.update(1)
        bar.close()

    cache, table = tune(counted(cache_tuning_items(lm, seqs)))
    alone = table[table["keys"] == "none"].iloc[0]
    best = table.iloc[0]
    written = write_cache(
        model_dir, cache, validation_emails=len(seqs),
        perplexity={"alone": alone["perplexity"], "cache": best["perplexity"]},
        top1={"alone": alone["top1"], "cache": best["top1"]},
    )
    click.echo(table.head(5).round(4).to_string(index=False))
    click.echo(f"validation perplexity {alone['perplexity']:.1f} -> {best['perplexity']:.1f}, "
               f"top-1 {alone['top1']:.1%} -> {best['top1']:.1%} "
               f"({cache.keys} keys, theta {cache.theta:g}, lam {cache.lam:g}); "
               f"wrote {written}")
    if cache.lam == 0:
        click.echo("note: no cache setting beat the model alone; --cache will change nothing",
                   err=True)
