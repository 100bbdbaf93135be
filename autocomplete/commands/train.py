"""`autocomplete train`: train one cell and write models/<cell>/.

The options are `TrainConfig`'s fields, with its defaults and help texts, so
the two never disagree; only --no-clip, --resume and --quiet are the command's own.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys

import click

from autocomplete.commands.params import FiniteFloat, GivenPath


def _click_type(field: dataclasses.Field):
    """The click type of a `TrainConfig` field, from its annotation and metadata."""
    meta, annotation = field.metadata, str(field.type)  # "int", "float | None", ...
    if "choices" in meta:
        return click.Choice(meta["choices"])
    if "path" in meta:
        return GivenPath(exists=meta["path"] == "exists", file_okay=meta["path"] != "dir")
    bounds = {k: meta[k] for k in ("min", "max", "min_open", "max_open") if k in meta}
    if annotation.startswith("int"):
        return click.IntRange(**bounds) if bounds else int
    if annotation.startswith("float"):
        return FiniteFloat(**bounds)
    return str


def config_options(command, names: tuple[str, ...] | None = None):
    """Decorate `command` with one click option per `TrainConfig` field (or per field named)."""
    from autocomplete.train import TrainConfig

    for field in reversed(dataclasses.fields(TrainConfig)):
        if names is not None and field.name not in names:
            continue
        meta = field.metadata
        if "flag" in meta:  # a boolean that defaults to on: only its off-switch is an option
            command = click.option(meta["flag"], field.name, flag_value=False, default=True,
                                   help=f"Do not: {meta['help'][0].lower()}{meta['help'][1:]}"
                                   )(command)
            continue
        if "switch" in meta:  # a boolean that defaults to off: its on-switch
            command = click.option(meta["switch"], field.name, is_flag=True,
                                   help=meta["help"])(command)
            continue
        command = click.option(
            "--" + field.name.replace("_", "-"), *meta.get("aliases", ()), field.name,
            type=_click_type(field), default=field.default,
            show_default=field.default is not None, help=meta["help"],
        )(command)
    return command


def _settings_from_data(opts: dict) -> None:
    """With --data, take the window, stride, vocabulary size, --keep-numbers and --subject
    from DIR.

    Options given on the command line stay as given (training then refuses a
    contradiction with DIR); the defaults give way to DIR's settings.
    """
    from autocomplete.shards import ShardsError, read_manifest

    try:
        manifest = read_manifest(opts["data"])
    except ShardsError as e:
        raise click.UsageError(str(e)) from e
    settings = manifest["settings"] | {"keep_numbers": manifest.get("keep_numbers", False),
                                       "subject": manifest.get("subject", False)}
    ctx = click.get_current_context()
    for name in ("window", "stride", "max_tokens", "keep_numbers", "subject"):
        if ctx.get_parameter_source(name) in (None, click.core.ParameterSource.DEFAULT):
            opts[name] = settings[name]


def _resume_command() -> str:
    """The command line of this run as given (options left at their defaults left out),
    with --resume."""
    ctx = click.get_current_context()
    words = ["autocomplete", "train"]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if source in (None, click.core.ParameterSource.DEFAULT) or param.name == "resume":
            continue
        if param.is_flag:  # each switch here has one name, and it was given
            words.append(param.opts[0])
        else:
            words += [param.opts[0], str(ctx.params[param.name])]
    return shlex.join([*words, "--resume"])


@click.command("train")
@config_options
@click.option("--no-clip", is_flag=True, help="Turn gradient clipping off (to watch it explode).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from its last finished round.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def train(**opts) -> None:
    """Train a model on the built-in corpus (or --corpus) and write its directory.

    The run's work is fixed (--updates, or --epochs over the training windows), so the same
    command and seed do the same work on a fast or a slow machine, and train the same model
    on the same machine; it prints its estimated duration after its first updates. The directory
    (default models/<cell>/) gets model.keras, vocab.txt, config.json,
    history.csv, metrics.json and the gradient statistics. It appears only
    when training has finished with finite weights, and replaces only an old
    model or an empty folder (never a folder of anything else); an
    interrupted run continues with --resume.

    With --data DIR (from `autocomplete prepare CORPUS --out DIR`) the
    training windows stream from DIR's shards. Under a multi-worker strategy
    (TF_CONFIG) run the same command on every worker; the chief writes the
    directory.

    \b
    Example:
      autocomplete train --cell lstm
      autocomplete train --cell simple_rnn --no-clip --activation relu --lr 0.01
      autocomplete train --data prepared/ --strategy multi-worker
    """
    from autocomplete.train import TrainConfig
    from autocomplete.train import train as run_training

    if opts.pop("no_clip"):
        if opts["global_clipnorm"]:
            raise click.UsageError("--no-clip and --global-clipnorm contradict each other")
        opts["clipnorm"] = None
    elif opts["global_clipnorm"]:
        opts["clipnorm"] = None
    resume, quiet = opts.pop("resume"), opts.pop("quiet")
    if opts["data"] and not opts["corpus"]:  # both: TrainConfig refuses them below
        _settings_from_data(opts)
    try:
        cfg = TrainConfig(**opts)
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    # a progress bar on a terminal; one line per epoch in a log file or pipe
    verbose = 0 if quiet else ("auto" if sys.stdout.isatty() else 2)
    try:
        out = run_training(cfg, resume=resume, verbose=verbose)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: continue with `{_resume_command()}`", err=True)
        sys.exit(130)
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from e
    except Exception as e:
        import tensorflow as tf  # already loaded by training; only its error class is needed

        if not isinstance(e, tf.errors.ResourceExhaustedError):  # out of memory
            raise
        raise click.ClickException(
            f"out of memory with --batch-size {cfg.batch_size} and --window {cfg.window}; "
            "try a smaller batch or window"
        ) from e
    if out is None:
        click.echo(f"worker done: the chief writes {cfg.out_dir()}")
        return
    from autocomplete.train import read_metrics

    m = read_metrics(out)
    click.echo(
        f"saved {out}: test perplexity {m['perplexity']:.2f}, top-1 {m['top1_accuracy']:.1%}, "
        f"top-5 {m['top5_accuracy']:.1%} ({m['epochs_run']} rounds, "
        f"{m.get('updates', 0):,} updates, {m['train_seconds']:.0f} s)"
    )
    if m.get("stopped_by_time_budget"):
        click.echo(
            f"note: the --time-budget cap ended training after {m.get('updates', 0):,} of "
            f"{m.get('updates_planned', 0):,} planned updates; the model may not have learned "
            "the long-range cues yet", err=True,
        )
