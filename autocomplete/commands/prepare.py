"""`autocomplete prepare PATH`: load and clean a mail corpus, and show what training would see.

Run it before `train --corpus PATH` to check that the format was recognised, how much mail
survived cleaning (and why the rest did not), how many e-mail addresses, URLs, phone numbers and
long numbers became placeholders, and what the emails look like to training. With `--out DIR` it
also writes the corpus as training sees it there, tokenized, as sharded TFRecord files
(`autocomplete.shards`), for `train --data DIR`.
"""

from __future__ import annotations

import functools
import statistics
import time
from pathlib import Path

import click
import pandas as pd

from autocomplete.commands.params import GivenPath
from autocomplete.commands.train import config_options
from autocomplete.shards import DEFAULT_ROWS_PER_SHARD
from autocomplete.tokens import tokenize
from autocomplete.train import TrainConfig


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
            ("median words per email", f"{median:,.1f}".removesuffix(".0"))]


def _example(row: pd.Series, width: int) -> str:
    body = row["body"]
    if len(body) > width:
        body = body[:width].rsplit(" ", 1)[0] + " ..."
    subject = row["subject"] or "(no subject)"
    return f"--- {row['id']}\nSubject: {subject}\n{body}"


@click.command("prepare")
@click.argument("path", type=GivenPath(path_type=str))
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
@click.option("--subject", "subjects", is_flag=True,
              help="With --out: write each email as `train --subject` reads it: its subject, "
                   "the separator word xxbody, then its body.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option("--out", type=GivenPath(file_okay=False, path_type=str), default=None,
              help="Also write the split, vocabulary and windows here as TFRecord shards, "
              "for `train --data DIR`.")
@functools.partial(config_options, names=("window", "stride", "max_tokens"))
@click.option("--seed", type=int, default=TrainConfig.__dataclass_fields__["seed"].default,
              show_default=True, help="With --out: seed of the split and of the window order "
              "(as `train --seed`).")
@click.option("--shard-windows", type=click.IntRange(1), default=DEFAULT_ROWS_PER_SHARD,
              show_default=True, help="With --out: windows per shard file.")
def prepare(path: str, text_column: str | None, min_words: int, show: int,
            include: tuple[str, ...], limit: int | None, width: int, keep_numbers: bool,
            subjects: bool, progress: bool, out: str | None, window: int, stride: int | None,
            max_tokens: int, seed: int, shard_windows: int) -> None:
    """Load and clean the mail at PATH and summarise it; with --out, write it as shards.

    PATH: an mbox, a maildir or folder of messages (.eml, Enron `1.`, Enron-Spam .txt), a CSV
    or TSV, a JSON Lines file, a plain text file (one email per blank-line-separated block),
    or a .zip/.tar.gz/.tgz of any of these.

    With --out DIR, DIR gets the split by email, the vocabulary and the windows of
    `train --corpus PATH` with the same --window, --stride, --max-tokens, --seed,
    --keep-numbers and --subject, once: `train --data DIR` then streams them (and takes
    --keep-numbers and --subject from DIR).

    \b
    Example:
      autocomplete prepare mail.mbox --out prepared/ && autocomplete train --data prepared/
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
        msg, name = str(err), Path(path).name
        if msg.startswith(name + ":"):  # the loader names a top-level file by its name
            msg = msg[len(name) + 1 :].lstrip()
        raise click.ClickException(msg if path in msg else f"{path}: {msg}") from err
    if summary.messages == 0:
        raise click.ClickException(f"{path}: no email found ({summary.format_label()})")
    replaced, raw = [], df
    if not keep_numbers:
        df, counts = normalize_emails(df, subjects=subjects)
        replaced = [(f"replaced: {kind}", f"{counts[kind]:,}") for kind in kinds()]
    seconds = time.perf_counter() - start
    extra = replaced + corpus_stats(df["body"].tolist()) + [("seconds", f"{seconds:.1f}")]
    click.echo(summary.table(extra))
    if not len(df):
        raise click.ClickException(f"{path}: no usable email: every message was dropped "
                                   "(the reasons above)")
    if out is not None:
        # as written: the shards record its fingerprint and make the placeholders themselves
        _write(raw, out, path, window=window, stride=stride, max_tokens=max_tokens, seed=seed,
               rows_per_shard=shard_windows, keep_numbers=keep_numbers, subjects=subjects)
        return
    if show and len(df):
        n = min(show, len(df))
        picks = df.sample(n=n, random_state=0) if len(df) > n else df
        click.echo("")
        click.echo("\n\n".join(_example(row, width) for _, row in picks.iterrows()))


def _write(df: pd.DataFrame, out: str, path: str, **settings) -> None:
    """Write the shards of `df` to `out` and say what is there."""
    from autocomplete.shards import write_shards

    if len(df) < 10:
        raise click.ClickException(f"{path}: only {len(df)} usable emails after cleaning; "
                                   "need 10 or more")
    try:
        manifest = write_shards(df, out, source=path, **settings)
    except (ValueError, OSError) as err:
        raise click.ClickException(str(err)) from err
    rows = [f"{name}: {s['emails']:,} emails, {s['windows']:,} windows, {s['tokens']:,} "
            f"tokens, {len(s['shards'])} shard{'s' * (len(s['shards']) != 1)}"
            for name, s in manifest["splits"].items()]
    click.echo(f"\nwrote {out} (vocabulary {manifest['vocab_size']:,} tokens, window "
               f"{manifest['settings']['window']}):\n  " + "\n  ".join(rows))
