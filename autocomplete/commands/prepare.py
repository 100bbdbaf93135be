"""`autocomplete prepare PATH`: load and clean a mail corpus, and show what training would see.

Run it before `train --corpus PATH` to check that the format was recognised, how much mail
survived cleaning (and why the rest did not), how many e-mail addresses, URLs, phone numbers and
long numbers became placeholders, and what the emails look like to training.
"""

from __future__ import annotations

import statistics
import time

import click
import pandas as pd

from autocomplete.tokens import tokenize


def corpus_stats(bodies: list[str]) -> list[tuple[str, str]]:
    """Rows for the summary table: words, distinct tokens, median words per email."""
    words = []
    vocab: set[str] = set()
    for body in bodies:
        tokens = tokenize(body)
        vocab.update(tokens)
        words.append(sum(1 for t in tokens if t[0].isalnum()))
    median = statistics.median(words) if words else 0
    return [("words", f"{sum(words):,}"), ("distinct tokens", f"{len(vocab):,}"),
            ("median words per email", f"{median:g}")]


def _example(row: pd.Series, width: int) -> str:
    body = row["body"]
    if len(body) > width:
        body = body[:width].rsplit(" ", 1)[0] + " ..."
    subject = row["subject"] or "(no subject)"
    return f"--- {row['id']}\nSubject: {subject}\n{body}"


@click.command("prepare")
@click.argument("path", type=click.Path(path_type=str))
@click.option("--text-column", default=None, help="CSV corpora: the column holding the text.")
@click.option("--min-words", type=click.IntRange(0), default=0, show_default=True,
              help="Drop cleaned emails shorter than this many words.")
@click.option("--show", type=click.IntRange(0), default=2, show_default=True,
              help="Print this many cleaned example emails.")
@click.option("--include", multiple=True, metavar="GLOB",
              help="Only these paths inside a folder or archive (repeatable), e.g. 'enron1/*'.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Stop after this many kept emails.")
@click.option("--width", type=click.IntRange(20), default=400, show_default=True,
              help="Characters of each example to print.")
@click.option("--keep-numbers", is_flag=True,
              help="Show the text as `train --keep-numbers` sees it: e-mail addresses, URLs, "
                   "phone numbers and long numbers as written, not placeholders.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def prepare(path: str, text_column: str | None, min_words: int, show: int,
            include: tuple[str, ...], limit: int | None, width: int, keep_numbers: bool,
            progress: bool) -> None:
    """Load and clean the mail at PATH and summarise it.

    PATH: an mbox, a maildir or folder of messages (.eml, Enron `1.`, Enron-Spam .txt), a CSV,
    a plain text file (one email per blank-line-separated block), or a .zip/.tar.gz/.tgz of
    any of these.
    """
    from autocomplete.corpus.loaders import load_corpus
    from autocomplete.corpus.normalize import kinds, normalize_emails

    start = time.perf_counter()
    try:
        df, summary = load_corpus(path, text_column=text_column, min_words=min_words,
                                  include=list(include) or None, limit=limit,
                                  progress=progress)
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from err
    except (ValueError, OSError) as err:
        raise click.ClickException(f"{path}: {err}" if path not in str(err) else str(err)) \
            from err
    if summary.messages == 0:
        raise click.ClickException(f"{path}: no email found ({summary.format_label()})")
    replaced = []
    if not keep_numbers:
        df, counts = normalize_emails(df)
        replaced = [(f"replaced: {kind}", f"{counts[kind]:,}") for kind in kinds()]
    seconds = time.perf_counter() - start
    extra = replaced + corpus_stats(df["body"].tolist()) + [("seconds", f"{seconds:.1f}")]
    click.echo(summary.table(extra))
    if show and len(df):
        n = min(show, len(df))
        picks = df.sample(n=n, random_state=0) if len(df) > n else df
        click.echo("")
        click.echo("\n\n".join(_example(row, width) for _, row in picks.iterrows()))
