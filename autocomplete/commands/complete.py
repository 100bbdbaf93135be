"""`autocomplete complete`: finish an email sentence with the trained models.

Uses the numpy fast path whenever a model directory holds an up-to-date
`inference.npz` and then never imports TensorFlow; otherwise loads the Keras
model (TensorFlow imported lazily, start-up logs silenced).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TensorFlow import
# One BLAS thread: the fast path's matrix-vector products are too small to share,
# and on a busy machine waiting for a second thread costs 10-100x in p90 latency.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import math  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from autocomplete.commands.params import GivenPath  # noqa: E402
from autocomplete.decoding_defaults import (  # noqa: E402
    BEAM,
    MAX_WORDS,
    TEMPERATURE,
    TRIM_BEAM,
)
from autocomplete.model_names import CELL_NAMES  # noqa: E402


@click.command("complete")
@click.argument("prompt")
@click.option("--cell", type=click.Choice(CELL_NAMES), default=None,
              help="Complete with this cell's model only (models-dir/<cell>) and print one line.")
@click.option("--model", "model_dir", type=GivenPath(file_okay=False, path_type=Path),
              default=None, help="Complete with the model in this directory and print one line.")
@click.option("--models-dir", type=GivenPath(file_okay=False, path_type=Path),
              default=Path("models"), show_default=True,
              help="Where the trained models are (one sub-directory per cell).")
@click.option("--beam", type=click.IntRange(1, 64), default=None,
              help=f"Beam width of the beam search (1 = greedy).  [default: {BEAM}; "
                   f"{TRIM_BEAM} with --trim]")
@click.option("--greedy", is_flag=True, help="Take the most likely token at each step.")
@click.option("--sample", is_flag=True, help="Sample tokens (see --temperature and --seed).")
@click.option("--temperature", type=click.FloatRange(0, 100, min_open=True), default=None,
              help="With --sample: below 1 is safer, above 1 more varied.  "
                   f"[default: {TEMPERATURE}]")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="With --sample: the same seed gives the same completion.")
@click.option("--max-words", type=click.IntRange(1, 100), default=MAX_WORDS,
              show_default=True,
              help="Stop after this many words (punctuation does not count) if the "
                   "sentence has not ended.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Suggest nothing when the confidence (geometric-mean token "
                   "probability, 0..1) is below this, as Smart Compose does.")
@click.option("--trim", is_flag=True,
              help="Cut the completion (never inside a word) where the characters a writer "
                   "is expected to save by taking it (its probability x its length) are most: "
                   "shorter, surer suggestions for typing.")
@click.option("--cache", "use_cache", is_flag=True,
              help="Also copy what followed the same words earlier in the prompt, with the "
                   "settings `autocomplete tune-cache` wrote to the model's cache.json.")
@click.option("--engine", type=click.Choice(["neural", "blend"]), default=None,
              help="blend: mix the neural model with its n-gram and the cache of the prompt, "
                   "as `autocomplete tune` fitted them; neural: the model alone.  "
                   "[default: blend where the model directory holds one]")
@click.option("--subject", default=None, metavar="TEXT",
              help="The email's subject, for models trained with `train --subject`: the "
                   "completion follows it too. Refused for a model trained without subjects.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (one object, or a list when completing with every cell).")
def complete(prompt: str, cell: str | None, model_dir: Path | None, models_dir: Path,
             beam: int | None, greedy: bool, sample: bool, temperature: float | None,
             seed: int | None, max_words: int, min_confidence: float | None, trim: bool,
             use_cache: bool, engine: str | None, subject: str | None, as_json: bool) -> None:
    """Complete the sentence PROMPT with every trained cell, or with one model.

    \b
    autocomplete complete "Today due to my current job situation and family condition, I"
    autocomplete complete "Thanks for the" --cell lstm --greedy
    autocomplete complete "Hi Mark," --model models/gru --sample --seed 1 --json

    The confidence is the geometric mean of the completion's token
    probabilities. A prompt longer than the model's training window is cut to
    its most recent tokens (a note on stderr; "truncated": true in --json).

    A prompt that ends inside a word ("Please let me kn") has that word
    finished first: the completion starts with the rest of the likeliest
    vocabulary word that begins with the typed letters ("ow if you have any
    questions.";
    "continues_word": true in --json). When the letters are a whole word
    themselves ("let me know"), the model may also go on after it. End the
    prompt with a space to complete after its last word as typed.

    A model directory where `autocomplete tune` wrote a blend answers with it
    (the model mixed with its n-gram and the cache of the prompt) unless
    --engine neural; which engine answered goes to stderr ("engine" in --json).

    A model trained with `train --subject` reads the prompt after the email's
    subject: give it with --subject ("subject" in --json; without it, an email
    with no subject). Models trained without subjects refuse --subject.
    """
    from autocomplete.tokens import tokenize

    if not tokenize(prompt):
        raise click.BadParameter("the prompt is empty: give some text to complete",
                                 param_hint="PROMPT")
    if greedy and sample:
        raise click.UsageError("choose one of --greedy and --sample")
    if cell and model_dir:
        raise click.UsageError("choose one of --cell and --model")
    if not sample and (temperature is not None or seed is not None):
        raise click.UsageError("--temperature and --seed apply only with --sample")
    if use_cache and engine == "blend":
        raise click.UsageError("the blend already holds the cache: --cache goes with "
                               "--engine neural")
    method = "sample" if sample else "greedy" if greedy else "beam"
    options = dict(method=method, beam=beam, max_words=max_words,
                   temperature=temperature or TEMPERATURE, seed=seed, min_confidence=min_confidence,
                   partial_word=True, trim=trim)

    targets = _targets(cell, model_dir, models_dir)
    if subject is not None:
        _check_subjects(targets)
    results, errors = [], []
    for label, path in targets:
        try:
            results.append(_complete_one(prompt, label, path, options, use_cache, engine,
                                         subject))
        except click.ClickException as e:
            if len(targets) == 1:
                raise
            errors.append(e.message)
    single = cell is not None or model_dir is not None
    if as_json:
        click.echo(json.dumps(results[0] if single else results, indent=2))
    elif single:
        click.echo(results[0]["completion"])
        click.echo(f"engine: {_engine_label(results[0])}", err=True)
    elif results:
        _print_table(results)
    if not as_json:
        for r in results:
            _notes(r, min_confidence, single)
    if errors:
        raise click.ClickException("; ".join(errors))


def _targets(cell: str | None, model_dir: Path | None, models_dir: Path) -> list:
    """(cell label or None, directory) of each model to complete with."""
    from autocomplete.artifacts import ModelDirError, find_models

    try:
        return find_models(models_dir, cell=cell, model_dir=model_dir)
    except ModelDirError as e:
        raise click.ClickException(str(e)) from e


def _check_subjects(targets: list) -> None:
    """--subject is refused (one line) when a model to complete with was trained without."""
    from autocomplete.artifacts import ModelDirError, read_config, uses_subjects

    without = []
    for _label, path in targets:
        try:
            if not uses_subjects(read_config(path)):
                without.append(str(path))
        except ModelDirError as e:
            raise click.ClickException(str(e)) from e
    if without:
        raise click.UsageError(
            f"--subject: {', '.join(without)} {'was' if len(without) == 1 else 'were'} trained "
            "without subjects (train --subject); leave --subject out"
            + (" or choose a model with --cell or --model" if len(without) < len(targets)
               else ""))


def _complete_one(prompt: str, label: str | None, path: Path, options: dict,
                  use_cache: bool = False, engine: str | None = None,
                  subject: str | None = None) -> dict:
    """Load the model in `path` and complete; ModelDirError becomes one ClickException line."""
    from autocomplete.artifacts import ModelDirError, read_config, uses_subjects
    from autocomplete.blend import load_completion_model
    from autocomplete.decoding import Completer
    from autocomplete.fastpath import NumpyStepModel

    try:
        model, engine, inner = load_completion_model(path, engine, cache=use_cache, cell=label)
        config = read_config(path)
        label = label or config.get("cell") or path.name
        subjects = uses_subjects(config)
        if subjects:
            subject = subject or ""
        completion = Completer(model, subjects=subjects).complete(prompt, subject=subject,
                                                                  **options)
    except ModelDirError as e:
        raise click.ClickException(str(e)) from e
    except (ValueError, KeyError) as e:  # a directory that loads but is not our model
        raise click.ClickException(f"cannot complete with the model in {path}: {e}") from e
    d = completion.to_dict()
    return {
        "prompt": prompt,
        "subject": subject,  # what the model read before the prompt (None: no subjects)
        "cell": label,
        "model": str(path),
        "completion": d.pop("text"),
        **{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
           for k, v in d.items()},
        "engine": engine,  # what answered: "neural" (with "cache") or "blend"
        "backend": "numpy" if isinstance(inner, NumpyStepModel) else "keras",
        "cache": use_cache,
    }


def _engine_label(r: dict) -> str:
    return r["engine"] + (" + cache" if r["cache"] else "")


def _print_table(results: list[dict]) -> None:
    rows = [("cell", "engine", "completion", "confidence")] + [
        (r["cell"], _engine_label(r), r["completion"] or "(no suggestion)",
         f"{r['confidence']:.3f}" if r["confidence"] is not None else "-")
        for r in results
    ]
    w0, w1, w2 = (max(len(r[i]) for r in rows) for i in range(3))
    for a, b, c, d in rows:
        click.echo(f"{a:<{w0}}  {b:<{w1}}  {c:<{w2}}  {d:>10}".rstrip())


def _notes(r: dict, min_confidence: float | None, single: bool) -> None:
    """One-line notes on stderr, so stdout stays the completion (for scripts)."""
    who = f"{r['cell']}: " if not single else ""
    if r["truncated"]:
        what = "the subject and prompt have" if r["subject"] is not None else "the prompt has"
        click.echo(f"note: {who}{what} {r['prompt_tokens']} tokens; the model reads "
                   f"only the last {r['kept_tokens']} (its training window)", err=True)
    if r["kept_tokens"] and r["unknown_words"] == r["kept_tokens"]:
        click.echo(f"note: {who}no word of the prompt is in the model's vocabulary; "
                   "the completion is a guess", err=True)
    if r["suppressed"]:
        click.echo(f"note: {who}confidence {r['confidence']:.3f} is below --min-confidence "
                   f"{min_confidence}: no suggestion", err=True)
    elif r["reason"]:
        click.echo(f"note: {who}{r['reason']}: no suggestion", err=True)
