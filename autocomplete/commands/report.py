"""`autocomplete report` (alias `compare`): SimpleRNN vs LSTM vs GRU vs an n-gram.

A thin command: `autocomplete.report.compare` evaluates, `autocomplete.report.render`
writes compare.md, compare.html and the PNGs. With `--train` it first trains
the cells that are missing, each with `train`'s defaults for its cell (the work
and width differ by cell: `autocomplete train --help`; `--budget` adds an optional
wall-clock cap).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TensorFlow import

import contextlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from autocomplete.commands.params import GivenPath  # noqa: E402
from autocomplete.model_names import CELL_NAMES  # noqa: E402

SHARED = ("corpus", "text_column", "seed", "max_tokens")  # what fixes the split and vocabulary
DEFAULTS = {"corpus": None, "text_column": None, "seed": 0, "max_tokens": 8000}


def shared_options(models: dict[str, Path]) -> dict:
    """Corpus, seed and vocabulary size of the trained models, so new cells share their split."""
    from autocomplete import artifacts

    for path in models.values():
        try:
            config = artifacts.read_config(path)
        except artifacts.ModelDirError:
            continue
        return {k: config.get(k, DEFAULTS[k]) for k in SHARED}
    return dict(DEFAULTS)


def train_command(cell: str, models_dir: Path, budget: float | None, shared: dict) -> str:
    """The `autocomplete train` line that trains `cell` the way `report --train` would."""
    parts = [f"autocomplete train --cell {cell} --out {models_dir / cell}"]
    if budget:
        parts.append(f"--time-budget {budget:g}")
    for key in SHARED:
        if shared.get(key) != DEFAULTS[key]:
            parts.append(f"--{key.replace('_', '-')} {shared[key]}")
    return " ".join(parts)


def report_command(models_dir: Path, budget: float | None) -> str:
    default = models_dir == Path("models")
    return "autocomplete report --train" + ("" if default else f" --models-dir {models_dir}") + (
        f" --budget {budget:g}" if budget else "")


def _train_missing(missing: list[str], models_dir: Path, budget: float | None, shared: dict,
                   quiet: bool) -> None:
    from autocomplete import artifacts
    from autocomplete.train import TrainConfig, train

    for cell in missing:
        out = models_dir / cell
        if out.is_dir():
            try:
                other = artifacts.read_config(artifacts.check_model_dir(out)).get("cell")
            except artifacts.ModelDirError:
                other = None
            if other not in (None, cell):
                raise click.ClickException(
                    f"{out} holds a {other} model: move it, or use another --models-dir")
        cap = f", capped at {budget:g} min" if budget else ""
        click.echo(f"training {cell} with the default work{cap} -> {out}", err=True)
        cfg = TrainConfig(cell=cell, out=str(out), time_budget=budget,
                          **shared)
        try:
            # --json: keep stdout for the document (a user corpus prints a loading summary)
            with contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext():
                train(cfg, verbose=0 if quiet else 2)
        except KeyboardInterrupt:
            again = train_command(cell, models_dir, budget, shared)
            click.echo(f"\ninterrupted: continue with `{again} --resume`, then run the report "
                       "again", err=True)
            sys.exit(130)
        except (ValueError, OSError) as e:
            raise click.ClickException(f"training {cell} failed: {e}") from e


@click.command("report")
@click.option("--models-dir", type=GivenPath(file_okay=False, path_type=Path),
              default=Path("models"), show_default=True,
              help="Where the trained models are (one sub-directory per cell).")
@click.option("--out", type=GivenPath(file_okay=False, path_type=Path),
              default=Path("reports"), show_default=True,
              help="Directory for compare.md, compare.html and the PNG plots.")
@click.option("--train", "train_missing", is_flag=True,
              help="First train the cells missing from --models-dir (simple_rnn, lstm, gru), "
                   "each with `train`'s defaults for its cell (see `autocomplete train --help`).")
@click.option("--budget", type=click.FloatRange(0, min_open=True), default=None,
              help="With --train: an optional cap in minutes of training per missing cell "
                   "(a capped run may end before the long-range cues are learned).")
@click.option("--ngram-order", type=click.IntRange(3, 5), default=4, show_default=True,
              help="Order of the Kneser-Ney n-gram baseline.")
@click.option("--quick", is_flag=True,
              help="Small, fast run: a few hundred test emails and held-out-template "
                   "emails, at most 20 probes per kind and band, 50 ExactMatch cuts, one "
                   "latency repeat. Writes every file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print everything as one JSON document instead of the tables.")
@click.option("--allow-corpus-change", is_flag=True,
              help="Go on (with a note) when the corpus no longer matches the fingerprint "
                   "in a model's config.json, instead of stopping.")
def report(models_dir: Path, out: Path, train_missing: bool, budget: float | None,
           ngram_order: int,
           quick: bool, as_json: bool, allow_corpus_change: bool) -> None:
    """Compare the trained cells and an n-gram baseline on the held-out test split.

    Test perplexity, top-1/top-5, recall by distance, ExactMatch@1..5,
    completion latency, parameters, training time and gradient flow, plus the
    lecture's sentence completed by every model. On the built-in corpus, recall
    by kind and band also on held-out-template probes, beside the test split's
    ("seen / held-out"): memory of the cue apart from memorized templates.
    Prints the tables and writes compare.md, a self-contained compare.html and
    the plots into --out.

    \b
    Example:
      autocomplete report                      # the models in models/
      autocomplete report --train              # train missing cells first
      autocomplete report --quick --json > report.json
    """
    from autocomplete import artifacts

    found = artifacts.trained_cells(models_dir)
    cells = {c: found[c] for c in CELL_NAMES if c in found}
    missing = [c for c in CELL_NAMES if c not in cells]
    shared = shared_options(cells)
    if missing and train_missing:
        _train_missing(missing, models_dir, budget, shared, quiet=as_json)
        found = artifacts.trained_cells(models_dir)
        cells = {c: found[c] for c in CELL_NAMES if c in found}
        missing = [c for c in CELL_NAMES if c not in cells]
    hint = "\n".join(f"  {train_command(c, models_dir, budget, shared)}" for c in missing)
    if not cells:
        raise click.ClickException(
            f"no trained models in {models_dir}/ (missing: {', '.join(missing)}). Train them "
            f"with `{report_command(models_dir, budget)}`, "
            f"or one by one:\n{hint}")
    if missing:
        click.echo(f"missing cells: {', '.join(missing)} (going on with "
                   f"{', '.join(cells)}). Train them with `{report_command(models_dir, budget)}`"
                   f", or one by one:\n{hint}", err=True)

    from autocomplete.report.compare import CorpusChanged, evaluate_models
    from autocomplete.report.render import terminal_report, write_report

    try:
        results = evaluate_models(cells, quick=quick, ngram_order=ngram_order,
                                  strict_corpus=not allow_corpus_change, progress=True)
    except (CorpusChanged, artifacts.ModelDirError, ValueError, OSError) as e:
        raise click.ClickException(str(e)) from e
    if missing:
        results.notes.insert(0, f"not trained, so not compared: {', '.join(missing)} "
                                f"(`{report_command(models_dir, budget)}` trains them).")
    try:
        files = write_report(results, out)
    except OSError as e:
        raise click.ClickException(f"cannot write the report into {out}: {e}") from e

    if as_json:
        doc = results.to_dict()
        doc["missing_cells"] = missing
        doc["files"] = {k: str(p) for k, p in files.items()}
        click.echo(json.dumps(doc, indent=2, allow_nan=False))
        return
    click.echo(terminal_report(results))
    click.echo("")
    click.echo("wrote " + ", ".join(str(p) for p in files.values()))
